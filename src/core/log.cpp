#include "pairpose/core/log.hpp"

#include <cstdio>
#include <vector>

#include "pairpose/core/mpi.hpp"

namespace pairpose {

Logger::Logger(MPI_Comm comm, LogLevel level) : comm_(comm), rank_(mpi::comm_rank(comm)), level_(level) {}

void Logger::write(const std::string& line) const {
  std::fprintf(stderr, "%s\n", line.c_str());
  std::fflush(stderr);
}

double wall_seconds() {
  using namespace std::chrono;
  return duration<double>(steady_clock::now().time_since_epoch()).count();
}

namespace {
std::string format_duration(double s) {
  if (s < 60) return fmt::format("{:.1f} s", s);
  if (s < 3600) return fmt::format("{:.0f} min {:02.0f} s", std::floor(s / 60), std::fmod(s, 60));
  return fmt::format("{:.0f} h {:02.0f} min", std::floor(s / 3600), std::fmod(s, 3600) / 60);
}
} // namespace

Progress::Progress(const Logger& log, std::string what, std::int64_t total, double interval_s)
    : log_(log), what_(std::move(what)), total_(total), interval_(interval_s),
      start_(std::chrono::steady_clock::now()), last_(start_) {}

void Progress::advance(std::int64_t n) {
  done_ += n;
  const auto now = std::chrono::steady_clock::now();
  const double since = std::chrono::duration<double>(now - last_).count();
  if (since < interval_ || done_ >= total_) return;
  last_ = now;
  const double elapsed = std::chrono::duration<double>(now - start_).count();
  const double rate = done_ / std::max(elapsed, 1e-9);
  const double eta = (total_ - done_) / std::max(rate, 1e-9);
  log_.info("{}: {}/{} ({:.0f}%), {:.1f}/s, {} left", what_, done_, total_,
            100.0 * done_ / std::max<std::int64_t>(total_, 1), rate, format_duration(eta));
}

void Progress::finish() {
  if (finished_) return;
  finished_ = true;
  const double elapsed =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  log_.info("{}: {} done in {} ({:.1f}/s per rank)", what_, done_, format_duration(elapsed),
            done_ / std::max(elapsed, 1e-9));
}

TimerOutput::Scope::Scope(TimerOutput& t, std::string name)
    : timers_(t), name_(std::move(name)), start_(std::chrono::steady_clock::now()) {}

TimerOutput::Scope::~Scope() {
  timers_.add(name_, std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count());
}

double TimerOutput::seconds(const std::string& name) const {
  auto it = seconds_.find(name);
  return it == seconds_.end() ? 0.0 : it->second;
}

void TimerOutput::summary(const Logger& log) const {
  // Rank 0's section names define the table; every rank reduces the same list.
  std::string names;
  for (const auto& [name, s] : seconds_) names += name + '\n';
  names = mpi::broadcast_string(names, 0, comm_);
  std::vector<std::string> list;
  for (size_t pos = 0; pos < names.size();) {
    const size_t nl = names.find('\n', pos);
    list.push_back(names.substr(pos, nl - pos));
    pos = nl + 1;
  }
  if (list.empty()) return;
  log.info("{:<28} {:>10} {:>10}", "timer (wall s)", "min rank", "max rank");
  for (const auto& name : list) {
    const double mine = seconds(name);
    const double lo = mpi::all_min(mine, comm_), hi = mpi::all_max(mine, comm_);
    log.info("{:<28} {:>10.3f} {:>10.3f}", name, lo, hi);
  }
}

} // namespace pairpose
