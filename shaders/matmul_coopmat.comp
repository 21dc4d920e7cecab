#version 460
#include "common.glsl"
// 128 x 128 tiles on cooperative matrices (see matmul_coopmat.glsl).
#define TM 128
#define TN 128
#define BK 32
#include "matmul_coopmat.glsl"
