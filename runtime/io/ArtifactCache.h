//===- ArtifactCache.h ------------------------------------------*- C++ -*-===//
//
// Getting a compiled artifact for a model config without linking the
// compiler: run `gptc --config C --emit=artifact --target=T -o OUT` as a
// subprocess and cache the result under
//   $XDG_CACHE_HOME/gpt/artifacts (else ~/.cache/gpt/artifacts)
// keyed by a hash of the config JSON and `gptc --version`'s output.
//
// gptc is found through $GPT_GPTC, else next to the running `gpt` binary,
// else on PATH.
#pragma once

#include "schema/ModelConfig.h"

#include <filesystem>
#include <functional>
#include <string>
#include <vector>

namespace gpt::io {

/// Path of the gptc to use ("" when none is found). `selfExe` is the path of
/// the running binary (for "next to gpt").
std::filesystem::path findGptc(const std::filesystem::path &selfExe);

/// The cache directory (created on demand by compileArtifact).
std::filesystem::path artifactCacheDir();

/// Returns the cached artifact for `config`, `target` ("cpu" or "vulkan")
/// and extra gptc flags (e.g. --data-parallel; part of the cache key),
/// compiling it on a miss. Throws std::runtime_error with gptc's output
/// when compilation fails.
std::filesystem::path
compileArtifact(const ModelConfig &config, const std::filesystem::path &selfExe,
                const std::function<void(const std::string &)> &log = {},
                const std::string &target = "cpu",
                const std::vector<std::string> &gptcFlags = {});

/// Runs argv (argv[0] is the program path), capturing stdout+stderr.
/// Returns the exit status (-1 when it could not start or was killed).
int runProcess(const std::vector<std::string> &argv, std::string &output);

/// The path of the running executable (/proc/self/exe), or argv0.
std::filesystem::path selfExecutable(const char *argv0);

} // namespace gpt::io
