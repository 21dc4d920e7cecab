#include "tokenizer/FileIO.h"

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <stdexcept>
#include <unistd.h>

namespace gpt::io {

std::string readFile(const std::filesystem::path &path) {
  std::ifstream in(path, std::ios::binary);
  if (!in)
    throw std::runtime_error(path.string() +
                             ": cannot open: " + std::strerror(errno));
  std::string data;
  in.seekg(0, std::ios::end);
  std::streamoff size = in.tellg();
  if (size < 0)
    throw std::runtime_error(path.string() + ": cannot read");
  data.resize(static_cast<std::size_t>(size));
  in.seekg(0);
  in.read(data.data(), size);
  if (!in)
    throw std::runtime_error(path.string() + ": read error");
  return data;
}

std::filesystem::path tempPathFor(const std::filesystem::path &path) {
  static std::atomic<unsigned> counter{0};
  std::filesystem::path tmp = path;
  tmp += ".tmp." + std::to_string(::getpid()) + "." + std::to_string(counter++);
  return tmp;
}

void writeFileAtomic(const std::filesystem::path &path,
                     std::string_view content) {
  std::filesystem::path tmp = tempPathFor(path);
  std::FILE *f = std::fopen(tmp.c_str(), "wb");
  if (!f)
    throw std::runtime_error(tmp.string() +
                             ": cannot create: " + std::strerror(errno));
  bool ok = std::fwrite(content.data(), 1, content.size(), f) == content.size();
  ok = (std::fflush(f) == 0) && ok;
  ok = (::fsync(fileno(f)) == 0) && ok;
  ok = (std::fclose(f) == 0) && ok;
  if (!ok) {
    std::remove(tmp.c_str());
    throw std::runtime_error(path.string() + ": write failed");
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) {
    std::remove(tmp.c_str());
    throw std::runtime_error(path.string() +
                             ": rename failed: " + ec.message());
  }
}

} // namespace gpt::io
