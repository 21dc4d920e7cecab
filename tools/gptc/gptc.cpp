//===- gptc.cpp - the gpt compiler driver ---------------------------------===//
//
// gptc --config model.json --emit=mlir|artifact --target=cpu|vulkan
//      [--print-ir-after-all] [-o FILE]
//
// Builds the model's module with the frontend, runs the default pipeline and
// writes the result. Exit status: 0 on success, 1 on a user error (bad
// config, unsupported option), 2 when a pass fails.
//
//===----------------------------------------------------------------------===//
#include "dialects/gpt/GPTAttributes.h"
#include "dialects/gpt/GPTDialect.h"
#include "frontend/GPTBuilder.h"
#include "passes/Passes.h"
#include "target/ArtifactEmitter.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/IR/Verifier.h"
#include "mlir/Pass/PassManager.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/InitLLVM.h"

#include "llvm/Support/raw_ostream.h"
#include <unistd.h>

namespace cl = llvm::cl;

namespace {
constexpr const char *kCompilerVersion = "gptc 0.3 (artifact format 1)";

enum class Emit { MLIR, Kernels, Artifact };
enum class Target { CPU, Vulkan };

cl::OptionCategory category("gptc options");

cl::opt<std::string>
    configPath("config",
               cl::desc("Model config JSON (vocab_size, context_length, "
                        "n_layer, n_head, d_model, d_ff, layernorm_eps, "
                        "tie_embeddings)"),
               cl::value_desc("file"), cl::cat(category));
cl::opt<std::string>
    preset("preset",
           cl::desc("Use a built-in config instead of --config: gpt2-124m"),
           cl::value_desc("name"), cl::cat(category));
cl::opt<Emit>
    emit("emit", cl::desc("What to write"), cl::init(Emit::MLIR),
         cl::values(clEnumValN(Emit::MLIR, "mlir",
                               "the gpt module after fusion (and, unless "
                               "--no-training, autodiff and the optimizer)"),
                    clEnumValN(Emit::Kernels, "kernels",
                               "the module after kernel selection and memory "
                               "planning (gpt.kernel / gpt.plan attributes)"),
                    clEnumValN(Emit::Artifact, "artifact",
                               "the compiled artifact the runtime loads")),
         cl::cat(category));
cl::opt<Target> target("target",
                       cl::desc("Backend the artifact is compiled for"),
                       cl::init(Target::CPU),
                       cl::values(clEnumValN(Target::CPU, "cpu", "CPU kernels"),
                                  clEnumValN(Target::Vulkan, "vulkan",
                                             "Vulkan compute shaders")),
                       cl::cat(category));
cl::opt<bool>
    printIRAfterAll("print-ir-after-all",
                    cl::desc("Print the module after every pass (to stderr)"),
                    cl::init(false), cl::cat(category));
cl::opt<bool> noTraining(
    "no-training",
    cl::desc("Only forward and loss: no train_grad / apply_optimizer"),
    cl::init(false), cl::cat(category));
cl::opt<bool> generation(
    "generation",
    cl::desc("Emit @prefill and @decode (paged KV-cache generation); the "
             "default, kept for compatibility"),
    cl::init(false), cl::cat(category));
cl::opt<bool> noGeneration(
    "no-generation",
    cl::desc("Do not emit @prefill and @decode (training-only artifact)"),
    cl::init(false), cl::cat(category));
cl::opt<bool> dataParallel(
    "data-parallel",
    cl::desc("Average @train_grad's gradients over the ranks of an MPI job "
             "(gpt.all_reduce in buckets; a no-op in a single process)"),
    cl::init(false), cl::cat(category));
cl::opt<double>
    bucketMiB("bucket-mb",
              cl::desc("With --data-parallel: smallest gradient bucket in MiB "
                       "(default 25)"),
              cl::init(25.0), cl::cat(category));
cl::opt<bool> reportMemory(
    "report-memory",
    cl::desc("Print the planned arena sizes of each function (stderr)"),
    cl::init(false), cl::cat(category));
cl::opt<bool>
    noFusion("no-fusion",
             cl::desc("Skip the pipeline: print the frontend's module"),
             cl::init(false), cl::cat(category));
cl::opt<std::string> outputPath("o", cl::desc("Output file ('-' = stdout)"),
                                cl::value_desc("file"), cl::init("-"),
                                cl::cat(category));

int userError(const llvm::Twine &message) {
  llvm::errs() << "gptc: error: " << message << "\n";
  return 1;
}
} // namespace

int main(int argc, char **argv) {
  llvm::InitLLVM init(argc, argv);
  mlir::registerPassManagerCLOptions();
  cl::SetVersionPrinter(
      [](llvm::raw_ostream &os) { os << kCompilerVersion << "\n"; });
  cl::HideUnrelatedOptions(category);
  cl::ParseCommandLineOptions(
      argc, argv,
      "gptc: compile a GPT model config into the gpt dialect and, later, a "
      "runtime artifact\n\n"
      "  gptc --config model.json --emit=mlir --target=cpu -o model.mlir\n");

  if (configPath.empty() == preset.empty())
    return userError("give exactly one of --config FILE or --preset NAME");

  gpt::ModelConfig config;
  std::string error;
  if (!preset.empty()) {
    if (!gpt::tryPresetModelConfig(preset, config, error))
      return userError(error);
  } else if (!gpt::tryLoadModelConfig(configPath, config, error)) {
    return userError(error);
  }

  mlir::MLIRContext context;
  context.loadDialect<mlir::gpt::GPTDialect, mlir::func::FuncDialect,
                      mlir::arith::ArithDialect>();
  gpt::FrontendOptions frontendOptions;
  if (generation && noGeneration)
    return userError("--generation and --no-generation contradict each other");
  frontendOptions.generation = !noGeneration;
  mlir::OwningOpRef<mlir::ModuleOp> module =
      gpt::buildGPTModule(context, config, frontendOptions);
  if (failed(mlir::verify(*module)))
    return userError("the frontend produced an invalid module (a bug)");
  const mlir::gpt::CompileTarget compileTarget =
      target == Target::CPU ? mlir::gpt::CompileTarget::Cpu
                            : mlir::gpt::CompileTarget::Vulkan;
  mlir::gpt::setTarget(*module, mlir::gpt::targetName(compileTarget));

  if (!noFusion) {
    mlir::PassManager pm(&context);
    if (failed(mlir::applyPassManagerCLOptions(pm)))
      return userError("bad pass manager options");
    if (printIRAfterAll) {
      context.disableMultithreading();
      pm.enableIRPrinting(
          /*shouldPrintBeforePass=*/[](mlir::Pass *,
                                       mlir::Operation *) { return false; },
          /*shouldPrintAfterPass=*/
          [](mlir::Pass *, mlir::Operation *) { return true; },
          /*printModuleScope=*/true, /*printAfterOnlyOnChange=*/false);
    }
    mlir::gpt::PipelineOptions options;
    options.training = !noTraining;
    options.lower = emit != Emit::MLIR;
    options.target = compileTarget;
    if (dataParallel) {
      if (noTraining)
        return userError("--data-parallel needs training (drop --no-training)");
      if (!(bucketMiB > 0) || bucketMiB > 1024 * 1024)
        return userError("--bucket-mb must be in (0, 1048576]");
      options.dataParallelBucketBytes =
          std::max<int64_t>(1, static_cast<int64_t>(bucketMiB * 1048576.0));
    }
    mlir::gpt::buildPipeline(pm, options);
    if (failed(pm.run(*module))) {
      llvm::errs() << "gptc: error: the compilation pipeline failed\n";
      return 2;
    }
    if (reportMemory)
      for (auto fn : module->getOps<mlir::func::FuncOp>())
        if (auto sizes = mlir::gpt::getArenaSizes(fn))
          llvm::errs() << "memory plan: @" << fn.getName() << ": static arena "
                       << sizes->staticBytes << " bytes, token arena "
                       << sizes->tokenBytesPerToken << " bytes per token\n";
  }

  std::string bytes;
  if (emit == Emit::Artifact) {
    if (noFusion)
      return userError("--emit=artifact needs the pipeline (drop --no-fusion)");
    if (failed(mlir::gpt::emitArtifact(*module, kCompilerVersion, bytes))) {
      llvm::errs() << "gptc: error: artifact emission failed\n";
      return 2;
    }
  }
  if (emit != Emit::Artifact) {
    llvm::raw_string_ostream os(bytes);
    module->print(os);
    os << "\n";
  }
  if (outputPath == "-") {
    llvm::outs() << bytes;
    return 0;
  }
  // Written to a temporary file and renamed: never a half-written output.
  std::string temp = outputPath + ".tmp." + std::to_string(::getpid());
  {
    std::error_code ec;
    llvm::raw_fd_ostream out(temp, ec);
    if (ec)
      return userError("cannot write '" + temp + "': " + ec.message());
    out << bytes;
    out.close();
    if (out.has_error()) {
      llvm::sys::fs::remove(temp);
      return userError("cannot write '" + temp + "'");
    }
  }
  if (std::error_code ec = llvm::sys::fs::rename(temp, outputPath)) {
    llvm::sys::fs::remove(temp);
    return userError("cannot rename to '" + outputPath + "': " + ec.message());
  }
  return 0;
}
