#include "pairpose/pairs/pair_io.hpp"

#include <cmath>
#include <fmt/format.h>

#include "pairpose/core/error.hpp"
#include "pairpose/core/mpi.hpp"
#include "pairpose/pairs/pair_sampler.hpp"

namespace pairpose::pairs {

void write_pairs(io::Dataset& ds, const PairSet& pairs,
                 const std::map<std::string, std::string>& attributes) {
  MPI_Comm comm = ds.comm();
  PAIRPOSE_CHECK(pairs.n_particles == ds.n_particles(),
                 ds.path() << ": pair set for " << pairs.n_particles << " particles, dataset has "
                           << ds.n_particles());
  const std::int64_t m = pairs.size();
  std::vector<std::int64_t> index(static_cast<std::size_t>(2 * m));
  for (std::int64_t e = 0; e < m; ++e)
    index[2 * e] = pairs.i[e], index[2 * e + 1] = pairs.j[e];
  std::vector<std::int64_t> counts(static_cast<std::size_t>(pairs.rows.size()), 0);
  for (std::int64_t e = 0; e < m; ++e)
    ++counts[pairs.i[e] - pairs.rows.begin];
  const std::uint64_t hash = pair_set_hash(pairs, comm);
  const std::int64_t n_total = total_pairs(pairs, comm);
  ds.start_group("pairs");
  ds.write_rows("pairs/index", m, 2, index.data());
  std::vector<std::int64_t>().swap(index);
  ds.write_rows("pairs/distance", m, 1, pairs.distance.data());
  if (mpi::all_sum(static_cast<std::int64_t>(pairs.inplane.size()), comm) > 0) {
    mpi::agree_or_throw(static_cast<std::int64_t>(pairs.inplane.size()) == m
                            ? std::string()
                            : fmt::format("{}: {} in-plane angles for {} pairs", ds.path(),
                                          pairs.inplane.size(), m),
                        comm);
    ds.write_rows("pairs/inplane", m, 1, pairs.inplane.data());
  }
  ds.write_rows("pairs/counts", pairs.rows.size(), 1, counts.data());
  ds.set_attribute("pairs", "n_particles", std::to_string(pairs.n_particles));
  ds.set_attribute("pairs", "n_pairs", std::to_string(n_total));
  ds.set_attribute("pairs", "hash", fmt::format("{:016x}", hash));
  for (const auto& [key, value] : attributes)
    ds.set_attribute("pairs", key, value);
}

PairSet read_pairs(const io::Dataset& ds) {
  MPI_Comm comm = ds.comm();
  PAIRPOSE_CHECK(ds.has("pairs/index") && ds.has("pairs/distance") && ds.has("pairs/counts"),
                 ds.path() << ": no complete pair set (/pairs); run `pairpose pairs` first");
  PairSet out;
  out.n_particles = ds.n_particles();
  out.rows = ds.block();
  const std::int64_t n_rows = ds.n_rows("pairs/index");
  PAIRPOSE_CHECK(ds.n_rows("pairs/counts") == out.n_particles &&
                     ds.n_rows("pairs/distance") == n_rows && ds.n_cols("pairs/index") == 2,
                 ds.path() << ": /pairs arrays disagree (counts " << ds.n_rows("pairs/counts")
                           << " rows for " << out.n_particles << " particles, index " << n_rows
                           << " × " << ds.n_cols("pairs/index") << ", distance "
                           << ds.n_rows("pairs/distance") << " rows)");
  const auto counts = ds.read_rows<std::int64_t>("pairs/counts", out.rows);
  std::int64_t local = 0;
  for (std::int64_t c : counts.data) {
    PAIRPOSE_CHECK(c >= 0, ds.path() << ": negative entry in /pairs/counts");
    local += c;
  }
  std::int64_t first = 0;
  MPI_Exscan(&local, &first, 1, MPI_INT64_T, MPI_SUM, comm);
  if (mpi::comm_rank(comm) == 0) first = 0;
  const std::int64_t total = mpi::all_sum(local, comm);
  PAIRPOSE_CHECK(total == n_rows, ds.path() << ": /pairs/counts sums to " << total
                                            << " pairs but /pairs/index has " << n_rows);
  const Block mine{first, first + local};
  const auto index = ds.read_rows<std::int64_t>("pairs/index", mine);
  out.i.resize(static_cast<std::size_t>(local));
  out.j.resize(static_cast<std::size_t>(local));
  for (std::int64_t e = 0; e < local; ++e)
    out.i[e] = index.at(e, 0), out.j[e] = index.at(e, 1);
  out.distance = ds.read_rows<double>("pairs/distance", mine).data;
  out.weight.assign(static_cast<std::size_t>(local), 1.0);
  if (ds.has("pairs/inplane")) {
    PAIRPOSE_CHECK(ds.n_rows("pairs/inplane") == n_rows,
                   ds.path() << ": /pairs/inplane has " << ds.n_rows("pairs/inplane")
                             << " rows for " << n_rows << " pairs");
    out.inplane = ds.read_rows<double>("pairs/inplane", mine).data;
    for (std::int64_t e = 0; e < local; ++e)
      PAIRPOSE_CHECK(std::isfinite(out.inplane[e]),
                     ds.path() << ": /pairs/inplane row " << first + e << " is not finite");
  }
  return out;
}

} // namespace pairpose::pairs
