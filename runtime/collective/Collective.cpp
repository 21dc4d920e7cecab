//===- Collective.cpp - SingleProcess and finding the MPI plugin ----------===//
#include "runtime/collective/Collective.h"

#include <cstdio>
#include <cstdlib>
#include <dlfcn.h>
#include <filesystem>

namespace gpt::collective {

Reduction reductionByName(const std::string &name) {
  if (name == "sum")
    return Reduction::Sum;
  if (name == "mean")
    return Reduction::Mean;
  throw CollectiveError("unknown reduction '" + name +
                        "' (expected sum or mean)");
}

void SingleProcess::abort(const std::string &why) {
  std::fprintf(stderr, "%s\n", why.c_str());
  std::exit(1);
}

bool launchedByMpi() {
  for (const char *var : {"OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_SIZE"})
    if (const char *v = std::getenv(var); v && *v)
      return true;
  return false;
}

std::unique_ptr<Collective> fromEnvironment(const std::string &selfExe,
                                            const Options &options) {
  if (!launchedByMpi())
    return std::make_unique<SingleProcess>();
  namespace fs = std::filesystem;
  std::vector<fs::path> candidates;
  if (const char *env = std::getenv("GPT_MPI_PLUGIN"); env && *env)
    candidates.push_back(env);
  if (!selfExe.empty()) {
    fs::path dir = fs::path(selfExe).parent_path();
    candidates.push_back(dir / kPluginFile);
    candidates.push_back(dir.parent_path() / "lib" / kPluginFile);
  }
  std::string tried;
  for (const fs::path &p : candidates) {
    if (!fs::exists(p)) {
      tried += "\n  " + p.string() + " (absent)";
      continue;
    }
    // RTLD_GLOBAL: Open MPI's own components resolve libmpi's symbols.
    void *handle = ::dlopen(p.c_str(), RTLD_NOW | RTLD_GLOBAL);
    if (!handle) {
      tried += "\n  " + p.string() + ": " + ::dlerror();
      continue;
    }
    auto create = reinterpret_cast<CreateFn>(::dlsym(handle, kPluginEntry));
    if (!create) {
      tried += "\n  " + p.string() + ": no " + kPluginEntry;
      continue;
    }
    std::string error;
    Collective *c = create(&options, &error);
    if (!c)
      throw CollectiveError("cannot start MPI: " + error);
    return std::unique_ptr<Collective>(c);
  }
  throw CollectiveError(
      "this process was started by mpirun, but gpt's MPI support (" +
      std::string(kPluginFile) +
      ") cannot be loaded; build with -DGPT_WITH_MPI=ON and Open MPI "
      "installed (libopenmpi-dev). Tried:" +
      tried);
}

} // namespace gpt::collective
