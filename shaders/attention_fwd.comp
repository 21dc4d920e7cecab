#version 460
#include "common.glsl"
// attention / attention_qkv forward (see attention_fwd.glsl).
#include "attention_fwd.glsl"
