#version 460
#include "common.glsl"
// paged_attention: causal attention of q over the paged KV cache, keys read
// in place through the block table (see attention_fwd.glsl).
#define PAGED
#include "attention_fwd.glsl"
