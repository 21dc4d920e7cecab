//===- Metrics.cpp --------------------------------------------------------===//
#include "runtime/train/Metrics.h"

#include "runtime/io/FileIO.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <stdexcept>

namespace gpt::train {
namespace fs = std::filesystem;

namespace {
// JSON cannot hold NaN/inf: write them as null.
nlohmann::ordered_json num(double v) {
  if (!std::isfinite(v))
    return nullptr;
  return v;
}
double getNum(const nlohmann::json &j, const char *key) {
  if (!j.contains(key) || j[key].is_null())
    return NAN;
  return j[key].get<double>();
}
} // namespace

std::string StepMetrics::toJsonLine() const {
  nlohmann::ordered_json j;
  j["step"] = step;
  j["loss"] = num(loss);
  j["lr"] = num(lr);
  j["grad_norm"] = num(gradNorm);
  j["tokens_per_s"] = num(std::round(tokensPerSecond * 10) / 10);
  j["elapsed_s"] = num(std::round(elapsedSeconds * 1000) / 1000);
  if (valLoss)
    j["val_loss"] = num(*valLoss);
  return j.dump();
}

StepMetrics StepMetrics::fromJsonLine(const std::string &line,
                                      const std::string &where) {
  try {
    auto j = nlohmann::json::parse(line);
    StepMetrics m;
    m.step = j.at("step").get<std::int64_t>();
    m.loss = getNum(j, "loss");
    m.lr = getNum(j, "lr");
    m.gradNorm = getNum(j, "grad_norm");
    m.tokensPerSecond = getNum(j, "tokens_per_s");
    m.elapsedSeconds = getNum(j, "elapsed_s");
    if (j.contains("val_loss"))
      m.valLoss = getNum(j, "val_loss");
    return m;
  } catch (const nlohmann::json::exception &e) {
    throw std::runtime_error(where + ": bad metrics line: " + e.what());
  }
}

std::vector<StepMetrics> readMetrics(const fs::path &path) {
  std::vector<StepMetrics> out;
  if (!fs::exists(path))
    return out;
  std::ifstream in(path);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);)
    lines.push_back(std::move(line));
  size_t last = lines.size();
  while (last > 0 && lines[last - 1].empty())
    --last;
  for (size_t i = 0; i < last; ++i) {
    if (lines[i].empty())
      continue;
    try {
      out.push_back(StepMetrics::fromJsonLine(
          lines[i], path.string() + ":" + std::to_string(i + 1)));
    } catch (const std::runtime_error &) {
      // A torn final line (the process died mid-append) is dropped; a bad
      // line anywhere else is corruption and an error.
      if (i + 1 != last)
        throw;
    }
  }
  return out;
}

MetricsLog::MetricsLog(fs::path path, std::optional<std::int64_t> keepUpTo)
    : path_(std::move(path)) {
  if (keepUpTo) {
    for (const StepMetrics &m : readMetrics(path_))
      if (m.step <= *keepUpTo)
        all_.push_back(m);
  }
  std::string text;
  for (const StepMetrics &m : all_)
    text += m.toJsonLine() + "\n";
  io::writeFileAtomic(path_, text);
}

void MetricsLog::append(const StepMetrics &m) {
  all_.push_back(m);
  std::ofstream out(path_, std::ios::app);
  out << m.toJsonLine() << "\n";
  out.flush();
  if (!out)
    throw std::runtime_error(path_.string() + ": cannot append metrics");
}

std::vector<double> niceTicks(double lo, double hi, int count) {
  if (!(hi > lo))
    hi = lo + 1;
  double range = hi - lo;
  double rough = range / std::max(1, count);
  double mag = std::pow(10.0, std::floor(std::log10(rough)));
  double step = mag;
  for (double f : {1.0, 2.0, 2.5, 5.0, 10.0})
    if (f * mag >= rough) {
      step = f * mag;
      break;
    }
  std::vector<double> ticks;
  // Outward: the first tick at or below lo, the last at or above hi.
  const double first = std::floor(lo / step + 1e-9);
  const double last = std::ceil(hi / step - 1e-9);
  for (double k = first; k <= last + 1e-9; k += 1) {
    double t = k * step;
    ticks.push_back(std::abs(t) < step * 1e-9 ? 0.0 : t);
  }
  return ticks;
}

namespace {
std::string fmt(double v) {
  char buf[32];
  if (std::abs(v) >= 10000 || (std::abs(v) < 0.01 && v != 0))
    std::snprintf(buf, sizeof buf, "%.3g", v);
  else
    std::snprintf(buf, sizeof buf, "%.4g", v);
  return buf;
}
std::string esc(const std::string &s) {
  std::string o;
  for (char c : s) {
    if (c == '<')
      o += "&lt;";
    else if (c == '>')
      o += "&gt;";
    else if (c == '&')
      o += "&amp;";
    else if (c == '"')
      o += "&quot;";
    else
      o += c;
  }
  return o;
}
} // namespace

std::string lossCurveSvg(const std::vector<CurvePoint> &train,
                         const std::vector<CurvePoint> &val,
                         const std::string &title) {
  const double W = 720, H = 440, left = 70, right = 20, top = 40, bottom = 60;
  const double pw = W - left - right, ph = H - top - bottom;
  double x0 = 0, x1 = 1, y0 = INFINITY, y1 = -INFINITY;
  for (const auto *pts : {&train, &val})
    for (const CurvePoint &p : *pts) {
      if (!std::isfinite(p.loss))
        continue;
      x1 = std::max(x1, p.step);
      y0 = std::min(y0, p.loss);
      y1 = std::max(y1, p.loss);
    }
  if (!std::isfinite(y0)) {
    y0 = 0;
    y1 = 1;
  }
  if (y1 - y0 < 1e-6) {
    y0 -= 0.5;
    y1 += 0.5;
  }
  std::vector<double> xt = niceTicks(x0, x1, 8), yt = niceTicks(y0, y1, 6);
  // The axes span the outermost ticks.
  x0 = std::min(x0, xt.front());
  y0 = std::min(y0, yt.front());
  y1 = std::max(y1, yt.back());
  x1 = std::max(x1, xt.back());
  auto sx = [&](double x) { return left + (x - x0) / (x1 - x0) * pw; };
  auto sy = [&](double y) { return top + (1 - (y - y0) / (y1 - y0)) * ph; };

  std::ostringstream s;
  s.setf(std::ios::fixed);
  s.precision(2);
  s << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << W
    << "\" height=\"" << H << "\" viewBox=\"0 0 " << W << " " << H
    << "\" font-family=\"sans-serif\" font-size=\"12\">\n";
  s << "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n";
  s << "<text x=\"" << W / 2 << "\" y=\"22\" text-anchor=\"middle\" "
    << "font-size=\"15\">" << esc(title) << "</text>\n";
  // Grid and ticks.
  for (double t : yt) {
    double y = sy(t);
    s << "<line x1=\"" << left << "\" y1=\"" << y << "\" x2=\"" << left + pw
      << "\" y2=\"" << y << "\" stroke=\"#e5e5e5\"/>\n";
    s << "<line x1=\"" << left - 5 << "\" y1=\"" << y << "\" x2=\"" << left
      << "\" y2=\"" << y << "\" stroke=\"black\"/>\n";
    s << "<text x=\"" << left - 8 << "\" y=\"" << y + 4
      << "\" text-anchor=\"end\">" << fmt(t) << "</text>\n";
  }
  for (double t : xt) {
    double x = sx(t);
    s << "<line x1=\"" << x << "\" y1=\"" << top << "\" x2=\"" << x
      << "\" y2=\"" << top + ph << "\" stroke=\"#e5e5e5\"/>\n";
    s << "<line x1=\"" << x << "\" y1=\"" << top + ph << "\" x2=\"" << x
      << "\" y2=\"" << top + ph + 5 << "\" stroke=\"black\"/>\n";
    s << "<text x=\"" << x << "\" y=\"" << top + ph + 20
      << "\" text-anchor=\"middle\">" << fmt(t) << "</text>\n";
  }
  // Axes.
  s << "<line x1=\"" << left << "\" y1=\"" << top << "\" x2=\"" << left
    << "\" y2=\"" << top + ph << "\" stroke=\"black\"/>\n";
  s << "<line x1=\"" << left << "\" y1=\"" << top + ph << "\" x2=\""
    << left + pw << "\" y2=\"" << top + ph << "\" stroke=\"black\"/>\n";
  s << "<text x=\"" << left + pw / 2 << "\" y=\"" << H - 15
    << "\" text-anchor=\"middle\">step</text>\n";
  s << "<text x=\"18\" y=\"" << top + ph / 2
    << "\" text-anchor=\"middle\" transform=\"rotate(-90 18 " << top + ph / 2
    << ")\">loss (nats/token)</text>\n";
  auto polyline = [&](const std::vector<CurvePoint> &pts, const char *color,
                      const char *cls) {
    if (pts.empty())
      return;
    s << "<polyline class=\"" << cls << "\" fill=\"none\" stroke=\"" << color
      << "\" stroke-width=\"1.5\" points=\"";
    for (const CurvePoint &p : pts)
      if (std::isfinite(p.loss))
        s << sx(p.step) << "," << sy(p.loss) << " ";
    s << "\"/>\n";
    if (pts.size() < 40)
      for (const CurvePoint &p : pts)
        if (std::isfinite(p.loss))
          s << "<circle cx=\"" << sx(p.step) << "\" cy=\"" << sy(p.loss)
            << "\" r=\"2.5\" fill=\"" << color << "\"/>\n";
  };
  polyline(train, "#1f77b4", "train");
  polyline(val, "#ff7f0e", "val");
  // Legend.
  double lx = left + pw - 150, ly = top + 10;
  s << "<rect x=\"" << lx << "\" y=\"" << ly << "\" width=\"140\" "
    << "height=\"44\" fill=\"white\" stroke=\"#999\"/>\n";
  s << "<line x1=\"" << lx + 8 << "\" y1=\"" << ly + 14 << "\" x2=\"" << lx + 32
    << "\" y2=\"" << ly + 14 << "\" stroke=\"#1f77b4\" stroke-width=\"2\"/>\n";
  s << "<text x=\"" << lx + 38 << "\" y=\"" << ly + 18
    << "\">train loss</text>\n";
  s << "<line x1=\"" << lx + 8 << "\" y1=\"" << ly + 32 << "\" x2=\"" << lx + 32
    << "\" y2=\"" << ly + 32 << "\" stroke=\"#ff7f0e\" stroke-width=\"2\"/>\n";
  s << "<text x=\"" << lx + 38 << "\" y=\"" << ly + 36
    << "\">validation loss</text>\n";
  s << "</svg>\n";
  return s.str();
}

void writeLossCurve(const fs::path &path,
                    const std::vector<StepMetrics> &metrics,
                    const std::string &title) {
  std::vector<CurvePoint> train, val;
  for (const StepMetrics &m : metrics) {
    train.push_back({static_cast<double>(m.step), m.loss});
    if (m.valLoss)
      val.push_back({static_cast<double>(m.step), *m.valLoss});
  }
  io::writeFileAtomic(path, lossCurveSvg(train, val, title));
}

} // namespace gpt::train
