#pragma once
/// @file log.hpp
/// Rank-0 logging, progress lines with rate and ETA, and a per-stage timer summary.
///
///     Logger log(comm);
///     log.info("read {} particles", n);            // printed by rank 0 only
///     Progress progress(log, "projecting", n_local); // rate and ETA from rank 0's share
///     for (...) progress.advance();
///     TimerOutput timers(comm);
///     { auto t = timers.scope("project"); ... }     // summary(log) prints min/max over ranks
#include <chrono>
#include <cstdint>
#include <fmt/format.h>
#include <map>
#include <mpi.h>
#include <string>

namespace pairpose {

enum class LogLevel { quiet = 0, info = 1, debug = 2 };

/// Writes to standard error; info and debug only on rank 0 of its communicator.
class Logger {
public:
  explicit Logger(MPI_Comm comm, LogLevel level = LogLevel::info);
  MPI_Comm comm() const { return comm_; }
  bool is_root() const { return rank_ == 0; }
  void set_level(LogLevel level) { level_ = level; }
  LogLevel level() const { return level_; }

  template <class... Args> void info(fmt::format_string<Args...> f, Args&&... args) const {
    if (rank_ == 0 && level_ >= LogLevel::info) write(fmt::format(f, std::forward<Args>(args)...));
  }
  template <class... Args> void debug(fmt::format_string<Args...> f, Args&&... args) const {
    if (rank_ == 0 && level_ >= LogLevel::debug)
      write(fmt::format(f, std::forward<Args>(args)...));
  }
  /// Printed by rank 0 whatever the level (warnings are never silenced).
  template <class... Args> void warn(fmt::format_string<Args...> f, Args&&... args) const {
    if (rank_ == 0) write("warning: " + fmt::format(f, std::forward<Args>(args)...));
  }
  void write(const std::string& line) const;

private:
  MPI_Comm comm_;
  int rank_ = 0;
  LogLevel level_;
};

/// A progress line for a long loop: at most one line every `interval` seconds, with the count,
/// the rate and the estimated time left. Counts are this rank's; rank 0 prints.
class Progress {
public:
  Progress(const Logger& log, std::string what, std::int64_t total, double interval_s = 10.0);
  void advance(std::int64_t n = 1);
  /// Prints the final line (count, elapsed, rate).
  void finish();

private:
  const Logger& log_;
  std::string what_;
  std::int64_t total_;
  std::int64_t done_ = 0;
  double interval_;
  std::chrono::steady_clock::time_point start_, last_;
  bool finished_ = false;
};

/// Wall-clock time per named section, summed over calls. summary() reduces over the ranks and
/// prints min and max per section.
class TimerOutput {
public:
  explicit TimerOutput(MPI_Comm comm) : comm_(comm) {}
  class Scope {
  public:
    Scope(TimerOutput& t, std::string name);
    ~Scope();
    Scope(const Scope&) = delete;
    Scope& operator=(const Scope&) = delete;

  private:
    TimerOutput& timers_;
    std::string name_;
    std::chrono::steady_clock::time_point start_;
  };
  Scope scope(std::string name) { return Scope(*this, std::move(name)); }
  void add(const std::string& name, double seconds) { seconds_[name] += seconds; }
  /// Seconds recorded on this rank under `name` (0 when absent).
  double seconds(const std::string& name) const;
  /// Collective: prints one line per section, in the order sections were first added on rank 0.
  void summary(const Logger& log) const;

private:
  MPI_Comm comm_;
  std::map<std::string, double> seconds_;
};

/// Seconds since an arbitrary start, monotonic.
double wall_seconds();

} // namespace pairpose
