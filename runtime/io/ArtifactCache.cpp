//===- ArtifactCache.cpp --------------------------------------------------===//
#include "runtime/io/ArtifactCache.h"

#include "runtime/io/FileIO.h"

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <stdexcept>
#include <sys/wait.h>
#include <unistd.h>

namespace gpt::io {
namespace fs = std::filesystem;

fs::path selfExecutable(const char *argv0) {
  std::error_code ec;
  fs::path p = fs::read_symlink("/proc/self/exe", ec);
  if (!ec)
    return p;
  return argv0 ? fs::absolute(argv0) : fs::path();
}

fs::path findGptc(const fs::path &selfExe) {
  if (const char *env = std::getenv("GPT_GPTC"); env && *env)
    return env;
  if (!selfExe.empty()) {
    fs::path sibling = selfExe.parent_path() / "gptc";
    if (::access(sibling.c_str(), X_OK) == 0)
      return sibling;
  }
  if (const char *path = std::getenv("PATH")) {
    std::string p = path;
    std::size_t pos = 0;
    while (pos <= p.size()) {
      std::size_t end = p.find(':', pos);
      if (end == std::string::npos)
        end = p.size();
      fs::path cand = fs::path(p.substr(pos, end - pos)) / "gptc";
      if (end > pos && ::access(cand.c_str(), X_OK) == 0)
        return cand;
      pos = end + 1;
    }
  }
  return {};
}

fs::path artifactCacheDir() {
  if (const char *x = std::getenv("XDG_CACHE_HOME"); x && *x)
    return fs::path(x) / "gpt" / "artifacts";
  if (const char *h = std::getenv("HOME"); h && *h)
    return fs::path(h) / ".cache" / "gpt" / "artifacts";
  return fs::temp_directory_path() / "gpt-artifacts";
}

int runProcess(const std::vector<std::string> &argv, std::string &output) {
  output.clear();
  int pipefd[2];
  if (::pipe(pipefd) != 0)
    return -1;
  pid_t pid = ::fork();
  if (pid < 0) {
    ::close(pipefd[0]);
    ::close(pipefd[1]);
    return -1;
  }
  if (pid == 0) {
    ::dup2(pipefd[1], 1);
    ::dup2(pipefd[1], 2);
    ::close(pipefd[0]);
    ::close(pipefd[1]);
    int devnull = ::open("/dev/null", O_RDONLY);
    if (devnull >= 0)
      ::dup2(devnull, 0);
    std::vector<char *> args;
    for (const std::string &a : argv)
      args.push_back(const_cast<char *>(a.c_str()));
    args.push_back(nullptr);
    ::execvp(args[0], args.data());
    std::string msg = std::string("cannot run ") + argv[0] + ": " +
                      std::strerror(errno) + "\n";
    (void)!::write(2, msg.data(), msg.size());
    ::_exit(127);
  }
  ::close(pipefd[1]);
  char buf[4096];
  while (true) {
    ssize_t n = ::read(pipefd[0], buf, sizeof buf);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      break;
    output.append(buf, static_cast<std::size_t>(n));
  }
  ::close(pipefd[0]);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

fs::path compileArtifact(const ModelConfig &config, const fs::path &selfExe,
                         const std::function<void(const std::string &)> &log,
                         const std::string &target,
                         const std::vector<std::string> &gptcFlags) {
  fs::path gptc = findGptc(selfExe);
  if (gptc.empty())
    throw std::runtime_error(
        "cannot find the compiler gptc (looked in $GPT_GPTC, next to " +
        selfExe.string() + " and on PATH); build it, or pass --artifact FILE");
  std::string version;
  if (runProcess({gptc.string(), "--version"}, version) != 0) {
    // No usable --version: identify the compiler by its binary instead.
    std::error_code ec;
    version = gptc.string() + ":" + std::to_string(fs::file_size(gptc, ec)) +
              ":" +
              std::to_string(
                  fs::last_write_time(gptc, ec).time_since_epoch().count());
  }
  const std::string configJson = modelConfigToJson(config);
  std::string flags;
  for (const std::string &f : gptcFlags)
    flags += "\n" + f;
  const std::string key =
      fnv1a64Hex(configJson + "\n--target=" + target + flags + "\n" + version);
  const fs::path dir = artifactCacheDir();
  const fs::path cached = dir / (key + ".gptart");
  if (fs::exists(cached))
    return cached;
  fs::create_directories(dir);
  const fs::path cfg =
      dir / ("." + key + ".config.json." + std::to_string(::getpid()));
  const fs::path tmp =
      dir / ("." + key + ".gptart." + std::to_string(::getpid()));
  writeFileAtomic(cfg, configJson);
  if (log)
    log("compiling the model with " + gptc.string() + " (cached as " +
        cached.string() + ")");
  std::string out;
  std::vector<std::string> argv = {
      gptc.string(),        "--config", cfg.string(), "--emit=artifact",
      "--target=" + target, "-o",       tmp.string()};
  argv.insert(argv.end(), gptcFlags.begin(), gptcFlags.end());
  int rc = runProcess(argv, out);
  std::error_code ec;
  fs::remove(cfg, ec);
  if (rc != 0 || !fs::exists(tmp)) {
    fs::remove(tmp, ec);
    throw std::runtime_error(gptc.string() + " failed (exit " +
                             std::to_string(rc) + ") compiling the model:\n" +
                             out);
  }
  fs::rename(tmp, cached);
  return cached;
}

} // namespace gpt::io
