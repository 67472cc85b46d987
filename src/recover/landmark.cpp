// landmark_initialise: the spectral step on L landmarks, then every other particle placed by
// linear least squares on its landmark pairs.
#include <algorithm>
#include <chrono>
#include <cmath>

#include "pairpose/core/mpi.hpp"
#include "spectral_internal.hpp"

namespace pairpose::recover {

namespace {

using detail::RowMatrix;

/// One particle–landmark equation ⟨vec R_particle, vec R_landmark⟩ = 1 + 2·cos d, weight w.
struct Equation {
  std::int64_t particle;
  std::int64_t landmark; ///< position in the landmark list
  double distance;
  double weight;
};

/// Every landmark–landmark pair of every rank as (position a, position b, distance) triples,
/// identical on every rank.
std::vector<double> gather_landmark_pairs(const PairSet& local,
                                          const std::vector<std::int32_t>& position,
                                          MPI_Comm comm) {
  std::vector<double> mine;
  for (std::int64_t p = 0; p < local.size(); ++p) {
    const std::int32_t a = position[local.i[p]], b = position[local.j[p]];
    if (a >= 0 && b >= 0 && local.weight[p] > 0)
      mine.insert(mine.end(), {double(a), double(b), local.distance[p]});
  }
  const int n_ranks = mpi::comm_size(comm);
  const int count = static_cast<int>(mine.size());
  std::vector<int> counts(n_ranks), displs(n_ranks, 0);
  mpi::check(MPI_Allgather(&count, 1, MPI_INT, counts.data(), 1, MPI_INT, comm), "MPI_Allgather");
  for (int r = 1; r < n_ranks; ++r)
    displs[r] = displs[r - 1] + counts[r - 1];
  std::vector<double> all(static_cast<std::size_t>(displs.back() + counts.back()));
  mpi::check(MPI_Allgatherv(mine.data(), count, MPI_DOUBLE, all.data(), counts.data(),
                            displs.data(), MPI_DOUBLE, comm),
             "MPI_Allgatherv");
  return all;
}

/// Rotations (stacked row-major vec, L × 9) of the landmarks from their pairs (rank-local,
/// identical on every rank).
RowMatrix landmark_rotations(const std::vector<double>& triples, std::int64_t n_landmarks,
                             const SpectralOptions& opt, SpectralReport& report) {
  const std::int64_t n_pairs = static_cast<std::int64_t>(triples.size() / 3);
  const double fraction = n_pairs / (0.5 * double(n_landmarks) * double(n_landmarks - 1));
  PAIRPOSE_CHECK(n_pairs > 0, "landmark initialisation: the pair set has no pair between two of "
                              "the "
                                  << n_landmarks << " landmarks (see landmark_indices)");
  Eigen::MatrixXd s = Eigen::MatrixXd::Zero(n_landmarks, n_landmarks);
  s.diagonal().setConstant(3.0);
  for (std::int64_t p = 0; p < n_pairs; ++p) {
    const auto a = static_cast<std::int64_t>(triples[3 * p]);
    const auto b = static_cast<std::int64_t>(triples[3 * p + 1]);
    s(a, b) = s(b, a) = detail::gram_entry(triples[3 * p + 2]) / fraction;
  }
  const detail::BlockOperator apply = [&s](const RowMatrix& x, RowMatrix& y) { y = s * x; };
  const detail::EigenPairs eig = detail::top_eigenpairs(apply, n_landmarks, opt, MPI_COMM_SELF);
  const auto eigen_done = std::chrono::steady_clock::now();
  const RowMatrix y = detail::scaled_embedding(eig);
  std::vector<std::int64_t> sample;
  if (opt.n_rounding_sample > 0 && opt.n_rounding_sample < n_landmarks) {
    Rng rng(opt.seed, stream_init, (std::uint64_t(1) << 62) - 2);
    sample = sample_indices(n_landmarks, opt.n_rounding_sample, rng);
  }
  const detail::Rounding rounding = detail::find_rounding(y, sample, opt);
  report.seconds_rounding =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - eigen_done).count();
  RowMatrix v = y * rounding.t;
  for (std::int64_t l = 0; l < n_landmarks; ++l) {
    const Eigen::Matrix3d m =
        Eigen::Map<const Eigen::Matrix<double, 3, 3, Eigen::RowMajor>>(&v(l, 0));
    const Eigen::Matrix3d r = detail::nearest_rotation(m);
    for (int a = 0; a < 3; ++a)
      for (int b = 0; b < 3; ++b)
        v(l, 3 * a + b) = r(a, b);
  }
  report.eigenvalues = eig.values;
  report.n_eigen_iterations = eig.n_iterations;
  report.eigen_converged = eig.converged;
  report.eigen_residual = eig.residual;
  report.residual = rounding.residual;
  report.best_restart = rounding.best_restart;
  report.n_rounding_iterations = rounding.n_iterations;
  report.pair_fraction = fraction;
  return v;
}

/// The particle–landmark equations of this rank's particles, sorted by (particle, landmark) so
/// that the sums below do not depend on the rank count.
std::vector<Equation> gather_equations(const PairSet& local,
                                       const std::vector<std::int32_t>& position, MPI_Comm comm) {
  const int n_ranks = mpi::comm_size(comm);
  const auto equation = [&](std::int64_t p, Equation& e) {
    const std::int64_t i = local.i[p], j = local.j[p];
    const bool li = position[i] >= 0, lj = position[j] >= 0;
    if (li == lj || !(local.weight[p] > 0)) return false;
    e = {li ? j : i, li ? position[i] : position[j], local.distance[p], local.weight[p]};
    return true;
  };
  // Counted first, then written straight into the send buffer (one copy of the equations; peak
  // memory of the million-particle case).
  std::vector<int> send_counts(n_ranks, 0), recv_counts(n_ranks), sdispl(n_ranks, 0),
      rdispl(n_ranks, 0);
  Equation e{};
  for (std::int64_t p = 0; p < local.size(); ++p)
    if (equation(p, e)) ++send_counts[block_owner(e.particle, local.n_particles, n_ranks)];
  for (int r = 1; r < n_ranks; ++r)
    sdispl[r] = sdispl[r - 1] + send_counts[r - 1];
  std::vector<Equation> send(static_cast<std::size_t>(sdispl.back() + send_counts.back()));
  std::vector<int> cursor(sdispl);
  for (std::int64_t p = 0; p < local.size(); ++p)
    if (equation(p, e)) send[cursor[block_owner(e.particle, local.n_particles, n_ranks)]++] = e;
  mpi::check(MPI_Alltoall(send_counts.data(), 1, MPI_INT, recv_counts.data(), 1, MPI_INT, comm),
             "MPI_Alltoall");
  for (int r = 1; r < n_ranks; ++r)
    rdispl[r] = rdispl[r - 1] + recv_counts[r - 1];
  std::vector<Equation> recv(static_cast<std::size_t>(rdispl.back() + recv_counts.back()));
  MPI_Datatype type;
  MPI_Type_contiguous(sizeof(Equation), MPI_BYTE, &type);
  MPI_Type_commit(&type);
  const int code = MPI_Alltoallv(send.data(), send_counts.data(), sdispl.data(), type, recv.data(),
                                 recv_counts.data(), rdispl.data(), type, comm);
  MPI_Type_free(&type);
  mpi::check(code, "MPI_Alltoallv");
  std::vector<Equation>().swap(send);
  std::sort(recv.begin(), recv.end(), [](const Equation& a, const Equation& b) {
    return a.particle != b.particle ? a.particle < b.particle : a.landmark < b.landmark;
  });
  return recv;
}

/// Least-squares vec(R) from the equations [begin, end) of one particle; false when singular.
bool place(const Equation* begin, const Equation* end, const RowMatrix& v, geometry::Quat& q) {
  if (end - begin < 9) return false;
  detail::Mat9 a = detail::Mat9::Zero();
  Eigen::Matrix<double, 9, 1> b = Eigen::Matrix<double, 9, 1>::Zero();
  for (const Equation* e = begin; e != end; ++e) {
    const Eigen::Matrix<double, 9, 1> vl = v.row(e->landmark).transpose();
    a.selfadjointView<Eigen::Lower>().rankUpdate(vl, e->weight);
    b += e->weight * detail::gram_entry(e->distance) * vl;
  }
  a = a.selfadjointView<Eigen::Lower>();
  Eigen::LLT<detail::Mat9> llt(a);
  if (llt.info() != Eigen::Success) return false;
  const Eigen::Matrix<double, 9, 1> l_diag = llt.matrixL().toDenseMatrix().diagonal();
  if (l_diag.minCoeff() <= 1e-6 * l_diag.maxCoeff()) return false;
  const Eigen::Matrix<double, 1, 9> x = llt.solve(b).transpose();
  q = detail::quaternion_of_vec(x);
  return true;
}

std::int64_t median_of_histogram(const std::vector<std::int64_t>& histogram) {
  std::int64_t total = 0, seen = 0;
  for (auto h : histogram)
    total += h;
  for (std::size_t c = 0; c < histogram.size(); ++c)
    if ((seen += histogram[c]) * 2 >= total && total > 0) return static_cast<std::int64_t>(c);
  return 0;
}

std::vector<std::int64_t> allgather_indices(const std::vector<std::int64_t>& mine, MPI_Comm comm) {
  const int n_ranks = mpi::comm_size(comm);
  const int count = static_cast<int>(mine.size());
  std::vector<int> counts(n_ranks), displs(n_ranks, 0);
  mpi::check(MPI_Allgather(&count, 1, MPI_INT, counts.data(), 1, MPI_INT, comm), "MPI_Allgather");
  for (int r = 1; r < n_ranks; ++r)
    displs[r] = displs[r - 1] + counts[r - 1];
  std::vector<std::int64_t> all(static_cast<std::size_t>(displs.back() + counts.back()));
  mpi::check(MPI_Allgatherv(mine.data(), count, MPI_INT64_T, all.data(), counts.data(),
                            displs.data(), MPI_INT64_T, comm),
             "MPI_Allgatherv");
  return all;
}

} // namespace

std::vector<geometry::Quat> landmark_initialise(const PairSet& local, MPI_Comm comm,
                                                const SpectralOptions& opt,
                                                SpectralReport* report) {
  const auto start = std::chrono::steady_clock::now();
  const std::int64_t n = local.n_particles;
  PAIRPOSE_CHECK(local.rows == split_block(n, comm),
                 "landmark initialisation: the pair set's rows are not this rank's block");
  const std::vector<std::int64_t> landmarks = landmark_indices(n, opt.n_landmarks, opt.seed);
  detail::validate_pairs(local, comm);
  std::vector<std::int32_t> position(static_cast<std::size_t>(n), -1);
  for (std::size_t l = 0; l < landmarks.size(); ++l)
    position[landmarks[l]] = static_cast<std::int32_t>(l);

  SpectralReport rep;
  const auto gather_start = std::chrono::steady_clock::now();
  const RowMatrix v =
      landmark_rotations(gather_landmark_pairs(local, position, comm), opt.n_landmarks, opt, rep);
  const auto placement_start = std::chrono::steady_clock::now();
  rep.seconds_eigen =
      std::chrono::duration<double>(placement_start - gather_start).count() - rep.seconds_rounding;
  const std::vector<Equation> equations = gather_equations(local, position, comm);

  std::vector<geometry::Quat> q(static_cast<std::size_t>(n));
  std::vector<std::int64_t> unplaced, histogram(opt.n_landmarks + 1, 0);
  const Equation* e = equations.data();
  const Equation* const end = e + equations.size();
  for (std::int64_t i = local.rows.begin; i < local.rows.end; ++i) {
    const Equation* first = e;
    while (e != end && e->particle == i)
      ++e;
    if (position[i] >= 0) {
      q[i] = detail::quaternion_of_vec(v.row(position[i]));
      continue;
    }
    histogram[std::min<std::int64_t>(e - first, opt.n_landmarks)] += 1;
    if (!place(first, e, v, q[i])) {
      unplaced.push_back(i);
      Rng rng(opt.seed, stream_init, static_cast<std::uint64_t>(i));
      q[i] = geometry::random_rotation(rng);
    }
  }
  detail::allgather_rows(q, local.rows, comm);
  mpi::all_sum_inplace(histogram.data(), static_cast<std::int64_t>(histogram.size()), comm);

  std::vector<std::int64_t> unplaced_all = allgather_indices(unplaced, comm);
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  mpi::broadcast(&seconds, 1, 0, comm);
  if (report) {
    *report = rep;
    report->unplaced = std::move(unplaced_all);
    report->median_landmark_pairs = median_of_histogram(histogram);
    report->seconds = seconds;
    report->seconds_placement =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - placement_start).count();
  }
  return q;
}

} // namespace pairpose::recover
