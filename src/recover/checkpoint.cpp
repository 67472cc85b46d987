// Checkpoint files of the refinement solver: a small binary format, written by rank 0 through a
// temporary name and a rename. Layout (little-endian host order, this machine's doubles):
//   "PPRCKPT1", u64 options fingerprint, i64 N, u64 pair hash, then the SolverState fields in
//   declaration order (vectors as an i64 length followed by the elements), then "END!".
#include <cstring>
#include <fstream>
#include <memory>

#include "pairpose/core/error.hpp"
#include "pairpose/core/files.hpp"
#include "pairpose/core/mpi.hpp"
#include "pairpose/core/partition.hpp"
#include "pairpose/recover/solver.hpp"

namespace pairpose::recover {

namespace {

constexpr char magic[9] = "PPRCKPT1";
constexpr char trailer[5] = "END!";

class Writer {
public:
  explicit Writer(std::ofstream& out) : out_(out) {}
  template <class T> void pod(const T& x) {
    out_.write(reinterpret_cast<const char*>(&x), sizeof x);
  }
  template <class T> void vec(const std::vector<T>& v) {
    pod(static_cast<std::int64_t>(v.size()));
    out_.write(reinterpret_cast<const char*>(v.data()),
               static_cast<std::streamsize>(v.size() * sizeof(T)));
  }

private:
  std::ofstream& out_;
};

class Reader {
public:
  Reader(std::ifstream& in, std::string path) : in_(in), path_(std::move(path)) {}
  template <class T> T pod() {
    T x{};
    in_.read(reinterpret_cast<char*>(&x), sizeof x);
    PAIRPOSE_CHECK(in_.good(), "checkpoint " << path_ << " is truncated");
    return x;
  }
  template <class T> std::vector<T> vec() {
    const auto n = pod<std::int64_t>();
    PAIRPOSE_CHECK(n >= 0 && n < (std::int64_t(1) << 40),
                   "checkpoint " << path_ << " is corrupt (vector length " << n << ")");
    std::vector<T> v(static_cast<std::size_t>(n));
    in_.read(reinterpret_cast<char*>(v.data()), static_cast<std::streamsize>(n * sizeof(T)));
    PAIRPOSE_CHECK(in_.good(), "checkpoint " << path_ << " is truncated");
    return v;
  }

private:
  std::ifstream& in_;
  std::string path_;
};

} // namespace

namespace {

/// Rank-local parts of the write (rank 0 only touches the file).
struct BlockLayout {
  std::vector<int> counts, offsets;
  int rank = 0;
  BlockLayout(std::int64_t n, MPI_Comm comm) : rank(mpi::comm_rank(comm)) {
    const int n_ranks = mpi::comm_size(comm);
    counts.resize(n_ranks);
    offsets.assign(n_ranks + 1, 0);
    for (int r = 0; r < n_ranks; ++r) {
      counts[r] = static_cast<int>(4 * split_block(n, n_ranks, r).size());
      offsets[r + 1] = offsets[r] + counts[r];
    }
  }
};

void write_state(Writer& w, std::ofstream& out, const CheckpointIdentity& id, const SolverState& st,
                 const BlockLayout& layout, MPI_Comm comm) {
  const bool root = layout.rank == 0;
  std::vector<double> full(root ? static_cast<std::size_t>(layout.offsets.back()) : 0);
  const auto block_vector = [&](const std::vector<double>& block) {
    PAIRPOSE_CHECK(static_cast<int>(block.size()) == layout.counts[layout.rank],
                   "checkpoint: optimiser vector of the wrong size");
    mpi::check(MPI_Gatherv(block.data(), static_cast<int>(block.size()), MPI_DOUBLE, full.data(),
                           layout.counts.data(), layout.offsets.data(), MPI_DOUBLE, 0, comm),
               "MPI_Gatherv (checkpoint)");
    if (root) w.vec(full);
  };
  if (root) {
    out.write(magic, 8);
    w.pod(id.options), w.pod(id.n_particles), w.pod(id.pair_hash);
    w.pod(st.restart), w.pod(st.iteration), w.pod(st.total_iterations);
    w.pod(static_cast<std::int8_t>(st.started)), w.pod(static_cast<std::int8_t>(st.converged));
    w.vec(st.q);
    w.pod(st.grad0_norm), w.pod(st.last_loss), w.pod(st.n_small_changes), w.pod(st.step);
    w.pod(static_cast<std::int64_t>(st.s.size()));
  }
  for (std::size_t k = 0; k < st.s.size(); ++k)
    block_vector(st.s[k]), block_vector(st.y[k]);
  if (root) w.vec(st.rho);
  block_vector(st.m), block_vector(st.v);
  if (root) {
    w.pod(st.best_loss), w.pod(st.best_restart);
    w.vec(st.best_q);
    w.vec(st.history);
    out.write(trailer, 4);
    out.flush();
  }
}

} // namespace

void write_checkpoint(const std::string& path, const CheckpointIdentity& id, const SolverState& st,
                      MPI_Comm comm) {
  const BlockLayout layout(id.n_particles, comm);
  std::unique_ptr<OutputFile> file;
  std::ofstream out;
  std::string problem;
  if (layout.rank == 0) {
    make_parent_folders(path);
    file = std::make_unique<OutputFile>(path);
    out.open(file->temporary(), std::ios::binary | std::ios::trunc);
    if (!out.good()) problem = "cannot write checkpoint " + file->temporary();
  }
  mpi::agree_or_throw(problem, comm);
  Writer w(out);
  write_state(w, out, id, st, layout, comm);
  if (layout.rank == 0) {
    if (!out.good()) problem = "writing checkpoint " + file->temporary() + " failed";
    out.close();
    if (problem.empty()) file->commit();
  }
  mpi::agree_or_throw(problem, comm);
}

namespace {

SolverState read_state(const std::string& path, const CheckpointIdentity& expected,
                       const BlockLayout& layout) {
  std::ifstream in(path, std::ios::binary);
  PAIRPOSE_CHECK(in.good(), "cannot open checkpoint " << path << " to resume");
  char head[8];
  in.read(head, 8);
  PAIRPOSE_CHECK(in.good() && std::memcmp(head, magic, 8) == 0,
                 path << " is not a pairpose recover checkpoint");
  Reader r(in, path);
  const CheckpointIdentity id{r.pod<std::uint64_t>(), r.pod<std::int64_t>(),
                              r.pod<std::uint64_t>()};
  PAIRPOSE_CHECK(id.n_particles == expected.n_particles && id.pair_hash == expected.pair_hash,
                 "checkpoint " << path << " belongs to another dataset (" << id.n_particles
                               << " particles, pair-set hash " << std::hex << id.pair_hash
                               << "; this run: " << std::dec << expected.n_particles
                               << " particles, hash " << std::hex << expected.pair_hash << std::dec
                               << "): refusing to resume; remove it or set recover.resume = false");
  PAIRPOSE_CHECK(id.options == expected.options,
                 "checkpoint " << path
                               << " was written with other recover settings (method, tolerances, "
                                  "restarts, initialisation or weights): refusing to resume; "
                                  "remove it or set recover.resume = false");
  const auto block_vector = [&] {
    const std::vector<double> full = r.vec<double>();
    PAIRPOSE_CHECK(static_cast<int>(full.size()) == layout.offsets.back(),
                   "checkpoint " << path << " is corrupt (vector of " << full.size()
                                 << " values, expected " << layout.offsets.back() << ")");
    const auto first = full.begin() + layout.offsets[layout.rank];
    return std::vector<double>(first, first + layout.counts[layout.rank]);
  };
  SolverState st;
  st.restart = r.pod<std::int64_t>(), st.iteration = r.pod<std::int64_t>();
  st.total_iterations = r.pod<std::int64_t>();
  st.started = r.pod<std::int8_t>() != 0, st.converged = r.pod<std::int8_t>() != 0;
  st.q = r.vec<double>();
  PAIRPOSE_CHECK(st.q.empty() || static_cast<int>(st.q.size()) == layout.offsets.back(),
                 "checkpoint " << path << " holds " << st.q.size() / 4 << " quaternions");
  st.grad0_norm = r.pod<double>(), st.last_loss = r.pod<double>();
  st.n_small_changes = r.pod<int>(), st.step = r.pod<double>();
  const auto n_pairs = r.pod<std::int64_t>();
  PAIRPOSE_CHECK(n_pairs >= 0 && n_pairs < 1000, "checkpoint " << path << " is corrupt");
  for (std::int64_t k = 0; k < n_pairs; ++k) {
    st.s.push_back(block_vector());
    st.y.push_back(block_vector());
  }
  st.rho = r.vec<double>();
  st.m = block_vector(), st.v = block_vector();
  st.best_loss = r.pod<double>(), st.best_restart = r.pod<std::int64_t>();
  st.best_q = r.vec<double>();
  st.history = r.vec<HistoryEntry>();
  char tail[4];
  in.read(tail, 4);
  PAIRPOSE_CHECK(in.good() && std::memcmp(tail, trailer, 4) == 0,
                 "checkpoint " << path << " is truncated");
  return st;
}

} // namespace

SolverState read_checkpoint(const std::string& path, const CheckpointIdentity& expected,
                            MPI_Comm comm) {
  const BlockLayout layout(expected.n_particles, comm);
  std::string problem;
  SolverState st;
  try {
    st = read_state(path, expected, layout);
  } catch (const Error& e) {
    problem = e.what();
  }
  mpi::agree_or_throw(problem, comm);
  return st;
}

} // namespace pairpose::recover
