//===- ArtifactEmitter.h - planned gpt module -> artifact bytes -*- C++ -*-===//
#ifndef GPT_TARGET_ARTIFACTEMITTER_H
#define GPT_TARGET_ARTIFACTEMITTER_H

#include "mlir/IR/BuiltinOps.h"

#include <string>

namespace mlir::gpt {
/// Serializes a module that went through --gpt-lower-to-kernels and
/// --gpt-plan-memory into the artifact format of docs/artifact.md. `@loss`
/// is exported as `eval_loss`. Emits a diagnostic and fails on anything the
/// format cannot express.
LogicalResult emitArtifact(ModuleOp module, StringRef compilerVersion,
                           std::string &bytes);
} // namespace mlir::gpt

#endif
