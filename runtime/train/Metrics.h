//===- Metrics.h ------------------------------------------------*- C++ -*-===//
//
// Training metrics: metrics.jsonl (one JSON object per line) and a loss
// curve drawn as SVG (train and validation loss against the step).
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace gpt::train {

struct StepMetrics {
  std::int64_t step = 0; // 1-based: the number of optimizer steps done
  double loss = 0;
  double lr = 0;
  double gradNorm = 0;
  double tokensPerSecond = 0;
  double elapsedSeconds = 0;
  std::optional<double> valLoss;

  std::string toJsonLine() const; // no trailing newline
  /// Parses one line; throws std::runtime_error naming `where` on failure.
  static StepMetrics fromJsonLine(const std::string &line,
                                  const std::string &where);
};

/// Reads metrics.jsonl (a missing file is empty).
std::vector<StepMetrics> readMetrics(const std::filesystem::path &path);

/// Appends lines to metrics.jsonl. On resume, `keepUpToStep` drops lines of
/// steps that the checkpoint does not include (written after it by the
/// interrupted run); the file is rewritten atomically first.
class MetricsLog {
public:
  MetricsLog(std::filesystem::path path,
             std::optional<std::int64_t> keepUpToStep);
  void append(const StepMetrics &m);
  const std::vector<StepMetrics> &all() const { return all_; }
  const std::filesystem::path &path() const { return path_; }

private:
  std::filesystem::path path_;
  std::vector<StepMetrics> all_;
};

struct CurvePoint {
  double step, loss;
};

/// An SVG line chart: train (blue) and validation (orange) loss over steps,
/// axes with ticks and labels, a legend and the title.
std::string lossCurveSvg(const std::vector<CurvePoint> &train,
                         const std::vector<CurvePoint> &val,
                         const std::string &title);

/// Builds the curves from metrics and writes them atomically.
void writeLossCurve(const std::filesystem::path &path,
                    const std::vector<StepMetrics> &metrics,
                    const std::string &title);

/// "Nice" axis ticks (steps of 1, 2, 2.5 or 5 times a power of ten, about
/// `count` of them) from the last one <= lo to the first one >= hi.
std::vector<double> niceTicks(double lo, double hi, int count);

} // namespace gpt::train
