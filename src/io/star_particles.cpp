// Particle STAR files: RELION 3.1 (optics + particles) and the older single-table form.
#include <charconv>
#include <cmath>
#include <filesystem>
#include <map>
#include <optional>

#include <fmt/format.h>
#include <iterator>

#include "pairpose/core/error.hpp"
#include "pairpose/core/files.hpp"
#include "pairpose/geometry/rotation.hpp"
#include "pairpose/io/mrc.hpp"
#include "pairpose/io/star.hpp"

namespace pairpose::io {

namespace {

/// The particle table of a file: data_particles when there is an optics table; otherwise
/// data_particles, data_images, data_ or the only loop of the file.
const StarTable& particle_table(const StarFile& file, const StarTable* optics) {
  if (optics) return file.require("particles");
  for (const char* name : {"particles", "images", ""})
    if (const StarTable* t = file.find(name)) return *t;
  const StarTable* only = nullptr;
  int n_loops = 0;
  for (const auto& t : file.tables)
    if (t.is_loop() && t.name() != "optics") ++n_loops, only = &t;
  PAIRPOSE_CHECK(n_loops == 1, file.path << ": no particle table (expected data_particles, "
                                         << "data_images, data_ or a single loop block)");
  return *only;
}

/// A column found in the particle table or, failing that, in the optics table (read through the
/// particle's optics group).
class Columns {
public:
  Columns(const StarTable& parts, const StarTable* optics) : parts_(parts), optics_(optics) {
    if (!optics_) return;
    const int og = optics_->require_column("rlnOpticsGroup");
    std::map<std::int64_t, std::int64_t> row_of;
    for (std::int64_t r = 0; r < optics_->n_rows(); ++r)
      PAIRPOSE_CHECK(row_of.emplace(optics_->integer(r, og), r).second,
                     optics_->where(r, og) << ": duplicate optics group");
    const int pg = parts_.require_column("rlnOpticsGroup");
    group_.resize(static_cast<size_t>(parts_.n_rows()));
    optics_row_.resize(group_.size());
    for (std::int64_t i = 0; i < parts_.n_rows(); ++i) {
      group_[i] = static_cast<int>(parts_.integer(i, pg));
      const auto it = row_of.find(group_[i]);
      PAIRPOSE_CHECK(it != row_of.end(), parts_.where(i, pg) << ": optics group " << group_[i]
                                                             << " is not in data_optics");
      optics_row_[i] = it->second;
    }
  }

  struct Ref {
    const StarTable* table = nullptr;
    int column = -1;
    bool optics = false;
  };

  /// Where `label` is, or an empty optional.
  std::optional<Ref> find(const std::string& label) const {
    if (int c = parts_.find_column(label); c >= 0) return Ref{&parts_, c, false};
    if (optics_)
      if (int c = optics_->find_column(label); c >= 0) return Ref{optics_, c, true};
    return std::nullopt;
  }
  Ref require(const std::string& label) const {
    auto r = find(label);
    PAIRPOSE_CHECK(r, parts_.source()
                          << ": block 'data_" << parts_.name() << "'"
                          << (optics_ ? " (nor data_optics)" : "") << " has no column _" << label);
    return *r;
  }
  std::int64_t row(const Ref& ref, std::int64_t i) const {
    if (!ref.optics) return i;
    // Messages may name particle 0 of an empty table: no optics row then.
    return i >= 0 && i < static_cast<std::int64_t>(optics_row_.size())
               ? optics_row_[static_cast<size_t>(i)]
               : 0;
  }
  double real(const Ref& ref, std::int64_t i) const {
    return ref.table->real(row(ref, i), ref.column);
  }
  std::string where(const Ref& ref, std::int64_t i) const {
    return ref.table->where(row(ref, i), ref.column);
  }
  int group(std::int64_t i) const { return optics_ ? group_[static_cast<size_t>(i)] : 1; }

private:
  const StarTable& parts_;
  const StarTable* optics_;
  std::vector<int> group_;
  std::vector<std::int64_t> optics_row_;
};

/// One value shared by every particle (pixel size, image size); throws naming both places
/// when two particles disagree.
double common_value(const Columns& cols, const Columns::Ref& ref, std::int64_t n,
                    const char* what) {
  const double first = cols.real(ref, 0);
  for (std::int64_t i = 1; i < n; ++i) {
    const double v = cols.real(ref, i);
    PAIRPOSE_CHECK(std::abs(v - first) <= 1e-6 * std::abs(first),
                   cols.where(ref, i)
                       << ": " << what << " " << v << " differs from " << first << " at "
                       << cols.where(ref, 0) << "; pairpose needs one value for all particles");
  }
  return first;
}

double pixel_size_of(const Columns& cols, std::int64_t n, const ParticleStarOptions& options) {
  if (options.pixel_size > 0) return options.pixel_size;
  if (n == 0) return 0;
  if (auto ref = cols.find("rlnImagePixelSize")) return common_value(cols, *ref, n, "pixel size");
  auto det = cols.find("rlnDetectorPixelSize");
  auto mag = cols.find("rlnMagnification");
  if (det && mag) {
    const double d = common_value(cols, *det, n, "detector pixel size");
    const double m = common_value(cols, *mag, n, "magnification");
    PAIRPOSE_CHECK(m > 0, cols.where(*mag, 0) << ": magnification must be positive");
    return d * 1e4 / m; // µm → Å
  }
  return 0;
}

/// Splits `N@stack` and resolves the stack against `root`. Consecutive particles usually share a
/// stack, so the last resolution is cached in `last` (stack name as written → resolved path).
ImageRef parse_image_name(const StarTable& t, std::int64_t row, int column, const std::string& root,
                          std::pair<std::string, std::string>& last) {
  const std::string_view name = t.view(row, column);
  const auto at = name.find('@');
  PAIRPOSE_CHECK(at != std::string_view::npos && at > 0 && at + 1 < name.size(),
                 t.where(row, column)
                     << ": image name '" << name << "' is not of the form N@stack");
  std::int64_t index = 0;
  const auto [end, ec] = std::from_chars(name.data(), name.data() + at, index);
  PAIRPOSE_CHECK(ec == std::errc() && end == name.data() + at,
                 t.where(row, column) << ": image index in '" << name << "' is not an integer");
  PAIRPOSE_CHECK(index >= 1, t.where(row, column) << ": image index in '" << name
                                                  << "' must be ≥ 1 (RELION counts from 1)");
  const std::string_view stack = name.substr(at + 1);
  if (stack != last.first) last = {std::string(stack), join_path(root, std::string(stack))};
  return {last.second, index};
}

void read_angles(const Columns& cols, ParticleStar& out, bool required) {
  const char* labels[3] = {"rlnAngleRot", "rlnAngleTilt", "rlnAnglePsi"};
  int n_found = 0;
  for (const char* l : labels)
    n_found += cols.find(l) ? 1 : 0;
  if (n_found == 0 && !required) return;
  Columns::Ref ref[3];
  for (int k = 0; k < 3; ++k)
    ref[k] = cols.require(labels[k]);
  out.has_angles = true;
  for (std::size_t i = 0; i < out.particles.size(); ++i) {
    const auto r = static_cast<std::int64_t>(i);
    out.particles[i].orientation = geometry::euler_to_quaternion(
        cols.real(ref[0], r), cols.real(ref[1], r), cols.real(ref[2], r));
  }
}

void read_shifts(const Columns& cols, ParticleStar& out) {
  double scale = 1; // Å per unit of the columns
  auto x = cols.find("rlnOriginXAngst"), y = cols.find("rlnOriginYAngst");
  if (!x && !y) {
    x = cols.find("rlnOriginX"), y = cols.find("rlnOriginY");
    if (!x && !y) return;
    PAIRPOSE_CHECK(out.pixel_size > 0, (x ? cols.where(*x, 0) : cols.where(*y, 0))
                                           << ": shifts in pixels but the file gives no pixel "
                                           << "size (rlnImagePixelSize or rlnDetectorPixelSize "
                                           << "and rlnMagnification); pass one explicitly");
    scale = out.pixel_size;
  }
  for (std::size_t i = 0; i < out.particles.size(); ++i) {
    const auto r = static_cast<std::int64_t>(i);
    if (x) out.particles[i].shift_x = scale * cols.real(*x, r);
    if (y) out.particles[i].shift_y = scale * cols.real(*y, r);
  }
}

void read_ctf(const Columns& cols, ParticleStar& out) {
  if (!cols.find("rlnDefocusU")) return;
  const auto u = cols.require("rlnDefocusU"), v = cols.require("rlnDefocusV");
  const auto angle = cols.require("rlnDefocusAngle"), kv = cols.require("rlnVoltage");
  const auto cs = cols.require("rlnSphericalAberration");
  const auto q0 = cols.require("rlnAmplitudeContrast");
  const auto bfactor = cols.find("rlnCtfBfactor"), phase = cols.find("rlnPhaseShift");
  for (std::size_t i = 0; i < out.particles.size(); ++i) {
    const auto r = static_cast<std::int64_t>(i);
    Particle& p = out.particles[i];
    p.has_ctf = true;
    p.ctf.defocus_u = cols.real(u, r);
    p.ctf.defocus_v = cols.real(v, r);
    p.ctf.defocus_angle = cols.real(angle, r);
    p.ctf.voltage = cols.real(kv, r);
    p.ctf.spherical_aberration = cols.real(cs, r);
    p.ctf.amplitude_contrast = cols.real(q0, r);
    p.ctf.bfactor = bfactor ? cols.real(*bfactor, r) : 0.0;
    p.ctf.phase_shift = phase ? cols.real(*phase, r) : 0.0;
  }
}

std::int64_t image_size_of(const Columns& cols, const ParticleStar& out) {
  const auto n = static_cast<std::int64_t>(out.particles.size());
  if (n == 0) return 0;
  if (auto ref = cols.find("rlnImageSize")) {
    const double size = common_value(cols, *ref, n, "image size");
    PAIRPOSE_CHECK(size >= 1 && size <= 65536 && size == std::floor(size),
                   cols.where(*ref, 0) << ": image size " << size
                                       << " is not a whole number of pixels in [1, 65536]");
    return static_cast<std::int64_t>(size);
  }
  if (file_exists(out.images[0].stack)) return read_mrc_header(out.images[0].stack).nx;
  return 0;
}

} // namespace

ParticleStar read_particles_star(const std::string& path, const ParticleStarOptions& options) {
  return particles_from_star(read_star(path), options);
}

ParticleStar particles_from_star(const StarFile& file, const ParticleStarOptions& options) {
  const std::string& path = file.path;
  const StarTable* optics = file.find("optics");
  const StarTable& parts = particle_table(file, optics);
  PAIRPOSE_CHECK(parts.is_loop(), path << ": block 'data_" << parts.name() << "' is not a loop");
  const Columns cols(parts, optics);
  const std::int64_t n = parts.n_rows();

  ParticleStar out;
  out.relion31 = optics != nullptr;
  out.particles.resize(static_cast<size_t>(n));
  out.images.resize(static_cast<size_t>(n));
  out.optics_groups.resize(static_cast<size_t>(n));
  const std::string root = options.image_root.empty() ? parent_folder(path) : options.image_root;
  const int name_col = parts.require_column("rlnImageName");
  std::pair<std::string, std::string> last_stack;
  for (std::int64_t i = 0; i < n; ++i) {
    out.images[static_cast<size_t>(i)] = parse_image_name(parts, i, name_col, root, last_stack);
    out.optics_groups[static_cast<size_t>(i)] = cols.group(i);
  }
  out.pixel_size = pixel_size_of(cols, n, options);
  read_angles(cols, out, options.require_angles);
  read_shifts(cols, out);
  read_ctf(cols, out);
  out.image_size = image_size_of(cols, out);
  return out;
}

// --- writing ---------------------------------------------------------------------------------

namespace {

/// `stack` relative to `folder` when it lies below it, else absolute.
std::string relative_name(const std::string& stack, const std::string& folder) {
  namespace fs = std::filesystem;
  const fs::path p = fs::absolute(stack).lexically_normal();
  const fs::path base = fs::absolute(folder.empty() ? "." : folder).lexically_normal();
  const fs::path rel = p.lexically_relative(base);
  if (rel.empty() || *rel.begin() == "..") return p.string();
  return rel.string();
}

StarTable optics_table(const ParticleStar& star) {
  CtfParams ref; // RELION's defaults when no particle has a CTF
  const Particle* first = nullptr;
  for (std::size_t i = 0; i < star.particles.size(); ++i) {
    const Particle& p = star.particles[i];
    if (!p.has_ctf) continue;
    if (!first) first = &p, ref = p.ctf;
    PAIRPOSE_CHECK(p.ctf.voltage == ref.voltage &&
                       p.ctf.spherical_aberration == ref.spherical_aberration &&
                       p.ctf.amplitude_contrast == ref.amplitude_contrast,
                   "write_particles_star: particle " << i << " has voltage/Cs/amplitude contrast "
                                                     << "different from the first particle with "
                                                     << "a CTF; pairpose writes one optics group");
  }
  StarTable t("optics", true);
  for (const char* c :
       {"rlnOpticsGroup", "rlnOpticsGroupName", "rlnAmplitudeContrast", "rlnSphericalAberration",
        "rlnVoltage", "rlnImagePixelSize", "rlnImageSize", "rlnImageDimensionality"})
    t.add_column(c);
  t.add_row({"1", "opticsGroup1", fmt::format("{:.6f}", ref.amplitude_contrast),
             fmt::format("{:.6f}", ref.spherical_aberration), fmt::format("{:.6f}", ref.voltage),
             fmt::format("{:.6f}", star.pixel_size), std::to_string(star.image_size), "2"});
  return t;
}

/// Which optional CTF columns the particles need.
struct CtfColumns {
  bool ctf = false, bfactor = false, phase = false;
};

CtfColumns ctf_columns(const ParticleStar& star) {
  CtfColumns c;
  for (const auto& p : star.particles) {
    c.ctf = c.ctf || p.has_ctf;
    c.bfactor = c.bfactor || (p.has_ctf && p.ctf.bfactor != 0);
    c.phase = c.phase || (p.has_ctf && p.ctf.phase_shift != 0);
  }
  return c;
}

StarTable particles_header(const ParticleStar& star, const CtfColumns& cc) {
  StarTable t("particles", true);
  for (const char* c : {"rlnImageName", "rlnAngleRot", "rlnAngleTilt", "rlnAnglePsi",
                        "rlnOriginXAngst", "rlnOriginYAngst"})
    t.add_column(c);
  if (cc.ctf)
    for (const char* c : {"rlnDefocusU", "rlnDefocusV", "rlnDefocusAngle"})
      t.add_column(c);
  if (cc.bfactor) t.add_column("rlnCtfBfactor");
  if (cc.phase) t.add_column("rlnPhaseShift");
  t.add_column("rlnOpticsGroup");
  for (const auto& e : star.extra) {
    PAIRPOSE_CHECK(e.values.size() == star.particles.size(),
                   "write_particles_star: extra column _" << e.label << " has " << e.values.size()
                                                          << " values for " << star.particles.size()
                                                          << " particles");
    t.add_column(e.label);
  }
  return t;
}

StarTable particles_table(const ParticleStar& star, const std::string& folder) {
  const CtfColumns cc = ctf_columns(star);
  StarTable t = particles_header(star, cc);
  std::string stack, name; // the last stack and its name relative to `folder`
  fmt::memory_buffer buf;
  auto push = [&](const auto&... args) {
    buf.clear();
    fmt::format_to(std::back_inserter(buf), args...);
    t.push_value(buf.data(), buf.size());
  };
  for (std::size_t i = 0; i < star.particles.size(); ++i) {
    const Particle& p = star.particles[i];
    const auto& img = star.images[i];
    PAIRPOSE_CHECK(cc.ctf == p.has_ctf, "write_particles_star: particle "
                                            << i << (p.has_ctf ? " has" : " has no")
                                            << " CTF, unlike others");
    PAIRPOSE_CHECK(img.index >= 1, "write_particles_star: particle " << i << ": image index "
                                                                     << img.index << " < 1");
    if (img.stack != stack) stack = img.stack, name = relative_name(stack, folder);
    const geometry::Vec3 e = geometry::quaternion_to_euler(p.orientation);
    t.begin_row();
    push("{:06d}@{}", img.index, name);
    for (double v : {e[0], e[1], e[2], p.shift_x, p.shift_y})
      push("{:.6f}", v);
    if (cc.ctf)
      for (double v : {p.ctf.defocus_u, p.ctf.defocus_v, p.ctf.defocus_angle})
        push("{:.6f}", v);
    if (cc.bfactor) push("{:.6f}", p.ctf.bfactor);
    if (cc.phase) push("{:.6f}", p.ctf.phase_shift);
    push("1");
    for (const auto& c : star.extra)
      t.push_value(c.values[i].data(), c.values[i].size());
    t.end_row();
  }
  return t;
}

} // namespace

void write_particles_star(const std::string& path, const ParticleStar& star,
                          const std::string& provenance) {
  PAIRPOSE_CHECK(star.images.size() == star.particles.size(),
                 "write_particles_star " << path << ": " << star.images.size()
                                         << " image names for " << star.particles.size()
                                         << " particles");
  PAIRPOSE_CHECK(star.pixel_size > 0 && star.image_size > 0,
                 "write_particles_star " << path << ": pixel size (" << star.pixel_size
                                         << " Å) and image size (" << star.image_size
                                         << " px) must be positive");
  write_star(path, {optics_table(star), particles_table(star, parent_folder(path))}, provenance);
}

} // namespace pairpose::io
