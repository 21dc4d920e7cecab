#version 460
#include "common.glsl"
// 128 x 128 tiles, 8 x 8 per thread, for products with many tiles (see
// matmul_tile.glsl).
#define TM 128
#define TN 128
#define BK 16
#define RM 8
#define RN 8
#include "matmul_tile.glsl"
