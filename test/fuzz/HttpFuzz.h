//===- HttpFuzz.h -----------------------------------------------*- C++ -*-===//
//
// The request path the HTTP fuzz target and its ctest replay run: raw
// bytes -> Beast's request parser with the server's limits -> the head
// checks and router (checkRequestHead) -> the OpenAI protocol parser for
// generation routes. Any input must end in a route or a typed refusal
// (ApiError, a Beast parse error); anything else is a finding.
#pragma once

#include "runtime/serve/HttpRouting.h"
#include "runtime/serve/HttpServer.h"
#include "runtime/serve/Protocol.h"

#include <boost/asio/buffer.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>

#include <string_view>

namespace gpt::serve::fuzz {

inline void checkRawRequest(std::string_view bytes) {
  namespace http = boost::beast::http;
  HttpOptions o;
  o.maxBodyBytes = 1 << 16;
  o.maxHeaderBytes = 4096;
  o.maxHeaders = 32;
  http::request_parser<http::string_body> parser;
  parser.header_limit(static_cast<std::uint32_t>(o.maxHeaderBytes));
  parser.body_limit(o.maxBodyBytes);
  parser.eager(true);
  boost::beast::error_code ec;
  size_t at = 0;
  while (at < bytes.size() && !parser.is_done()) {
    size_t used = parser.put(
        boost::asio::buffer(bytes.data() + at, bytes.size() - at), ec);
    at += used;
    if (ec || used == 0)
      break;
  }
  if (!parser.is_header_done())
    return;
  try {
    std::optional<std::uint64_t> length;
    if (auto cl = parser.content_length())
      length = *cl;
    Route r = checkRequestHead(parser.get(), length, o);
    if (r.status == 0 && r.kind == RouteKind::Generate && parser.is_done())
      parseGenerationRequest(r.endpoint, parser.get().body());
  } catch (const ApiError &) {
  }
}

} // namespace gpt::serve::fuzz
