//===- FileIO.cpp ---------------------------------------------------------===//
#include "runtime/io/FileIO.h"

#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <sys/stat.h>
#include <unistd.h>
#include <vector>

namespace gpt::io {
namespace fs = std::filesystem;

namespace {
[[noreturn]] void fail(const fs::path &path, const std::string &what) {
  throw std::runtime_error(path.string() + ": " + what + ": " +
                           std::strerror(errno));
}
} // namespace

void syncDirectory(const fs::path &dir) {
  int fd = ::open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY);
  if (fd < 0)
    return;
  ::fsync(fd);
  ::close(fd);
}

void writeFileAtomic(const fs::path &path, std::string_view bytes) {
  fs::path dir = path.parent_path();
  std::string tmpl = (dir.empty() ? fs::path(".") : dir).string() + "/." +
                     path.filename().string() + ".tmp.XXXXXX";
  std::vector<char> name(tmpl.begin(), tmpl.end());
  name.push_back('\0');
  int fd = ::mkstemp(name.data());
  if (fd < 0)
    fail(path, "cannot create a temporary file");
  fs::path tmp(name.data());
  auto cleanup = [&] {
    ::close(fd);
    ::unlink(tmp.c_str());
  };
  const char *p = bytes.data();
  std::size_t left = bytes.size();
  while (left > 0) {
    ssize_t n = ::write(fd, p, left);
    if (n < 0) {
      if (errno == EINTR)
        continue;
      int e = errno;
      cleanup();
      errno = e;
      fail(path, "write failed");
    }
    p += n;
    left -= static_cast<std::size_t>(n);
  }
  if (::fchmod(fd, 0644) != 0 || ::fsync(fd) != 0) {
    int e = errno;
    cleanup();
    errno = e;
    fail(path, "fsync failed");
  }
  if (::close(fd) != 0) {
    int e = errno;
    ::unlink(tmp.c_str());
    errno = e;
    fail(path, "close failed");
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    int e = errno;
    ::unlink(tmp.c_str());
    errno = e;
    fail(path, "rename failed");
  }
  syncDirectory(dir);
}

std::string readFile(const fs::path &path) {
  std::ifstream in(path, std::ios::binary);
  if (!in)
    fail(path, "cannot open");
  std::ostringstream ss;
  ss << in.rdbuf();
  if (in.bad())
    fail(path, "read failed");
  return ss.str();
}

fs::path tempPathFor(const fs::path &path) {
  static std::atomic<unsigned> counter{0};
  fs::path tmp = path;
  tmp += ".tmp." + std::to_string(::getpid()) + "." + std::to_string(counter++);
  return tmp;
}

std::string fnv1a64Hex(std::string_view bytes) {
  std::uint64_t h = 0xcbf29ce484222325ull;
  for (unsigned char c : bytes) {
    h ^= c;
    h *= 0x100000001b3ull;
  }
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(h));
  return buf;
}

} // namespace gpt::io
