//===- WebAssets.h ----------------------------------------------*- C++ -*-===//
//
// The chat page (web/index.html, chat.js, chat.css), embedded in the binary
// at build time (web/embed.cmake): served at GET / without any network
// access or Node at run time.
#pragma once

#include <cstddef>
#include <string>

namespace gpt::serve {

struct WebAsset {
  const char *path;        ///< "/index.html", "/chat.js", "/chat.css"
  const char *contentType; ///< with charset
  const char *data;
  size_t size;
};

/// The asset served at `path` ("/" is /index.html), or nullptr.
const WebAsset *findWebAsset(const std::string &path);

} // namespace gpt::serve
