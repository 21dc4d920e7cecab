// Deterministic reductions over a workgroup of 128 threads, in
// workgroup-uniform control flow. Two forms of one source:
//   default        a fixed shared-memory tree (every device);
//   GPT_SUBGROUP   (the shader's `_sg` variant, picked by the host when the
//                  device has subgroup arithmetic with a subgroup size >= 4,
//                  a power of two and <= 128, so 128 threads fill whole
//                  subgroups) subgroupAdd / subgroupMax per subgroup, then
//                  the gl_NumSubgroups partials combined in subgroup order
//                  from shared memory.
// Both give every thread the same result, and the same result on every run
// on a device.
#ifdef GPT_SUBGROUP
shared float wgRedA[32]; // one per subgroup (size >= 4)
shared float wgRedB[32];
#else
shared float wgRedA[128];
shared float wgRedB[128];
#endif

// The sum of v over the workgroup.
float wgSum(float v) {
#ifdef GPT_SUBGROUP
  float s = subgroupAdd(v);
  if (gl_SubgroupInvocationID == 0)
    wgRedA[gl_SubgroupID] = s;
  barrier();
  float r = 0.0;
  for (uint i = 0; i < gl_NumSubgroups; ++i)
    r += wgRedA[i];
#else
  uint t = gl_LocalInvocationID.x;
  wgRedA[t] = v;
  barrier();
  for (uint k = 64; k > 0; k >>= 1) {
    if (t < k)
      wgRedA[t] += wgRedA[t + k];
    barrier();
  }
  float r = wgRedA[0];
#endif
  barrier();
  return r;
}

// Merges every thread's online softmax pair (m, s) (common.glsl's osmPush)
// into the workgroup's, returned in m and s.
void wgMerge(inout float m, inout float s) {
#ifdef GPT_SUBGROUP
  float sm = subgroupMax(m);
  float ss = subgroupAdd(m <= NEG_HALF ? 0.0 : s * exp(m - sm));
  if (gl_SubgroupInvocationID == 0) {
    wgRedA[gl_SubgroupID] = sm;
    wgRedB[gl_SubgroupID] = ss;
  }
  barrier();
  m = NEG_BIG;
  s = 0.0;
  for (uint i = 0; i < gl_NumSubgroups; ++i)
    osmMerge(m, s, wgRedA[i], wgRedB[i]);
#else
  uint t = gl_LocalInvocationID.x;
  wgRedA[t] = m;
  wgRedB[t] = s;
  barrier();
  for (uint k = 64; k > 0; k >>= 1) {
    if (t < k) {
      float mm = wgRedA[t], ss = wgRedB[t];
      osmMerge(mm, ss, wgRedA[t + k], wgRedB[t + k]);
      wgRedA[t] = mm;
      wgRedB[t] = ss;
    }
    barrier();
  }
  m = wgRedA[0];
  s = wgRedB[0];
#endif
  barrier();
}
