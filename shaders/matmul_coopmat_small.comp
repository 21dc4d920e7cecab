#version 460
#include "common.glsl"
// 64 x 64 tiles on cooperative matrices, for products with few 128 x 128
// tiles (see matmul_coopmat.glsl).
#define TM 64
#define TN 64
#define BK 32
#include "matmul_coopmat.glsl"
