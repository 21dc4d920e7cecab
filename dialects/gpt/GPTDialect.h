//===- GPTDialect.h - the gpt dialect ---------------------------*- C++ -*-===//
#ifndef GPT_DIALECTS_GPT_GPTDIALECT_H
#define GPT_DIALECTS_GPT_GPTDIALECT_H

#include "mlir/IR/Dialect.h"

#include "dialects/gpt/GPTDialect.h.inc"

#endif
