#version 460
#include "common.glsl"
// 64 x 64 tiles, 4 x 4 per thread (see matmul_tile.glsl).
#define TM 64
#define TN 64
#define BK 16
#define RM 4
#define RN 4
#include "matmul_tile.glsl"
