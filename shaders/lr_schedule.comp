#version 460
#include "common.glsl"
// lr_schedule (one thread): linear warm-up to lr over `warmup` steps, cosine
// decay to min_lr at total_steps, min_lr after. hp = [lr, min_lr, warmup,
// total_steps, ...]. 0.5 (1 + cos(pi q)) = cos(pi q / 2)^2 is evaluated by
// a Taylor polynomial: Vulkan only promises 2^-11 absolute for cos().
layout(local_size_x = 1) in;
layout(push_constant) uniform Push {
  I32 step;
  F32 hp;
  F32 lr;
} p;

// cos(a) for a in [0, pi/2]; the omitted terms are below 1e-12.
float cosHalfPi(float a) {
  float a2 = a * a;
  float c = 1.0;
  for (int k = 16; k >= 2; k -= 2)
    c = 1.0 - a2 / float(k * (k - 1)) * c;
  return c;
}

void main() {
  // The step is an exact int32; differences from warmup and total are taken
  // in integers first so they stay exact past 2^24 steps.
  int step = max(p.step.v[0], 0);
  float lr = p.hp.v[0], minLr = p.hp.v[1], warmup = p.hp.v[2],
        total = p.hp.v[3];
  float sinceWarmup = float(step - int(warmup)) - fract(warmup);
  float toTotal = float(step - int(total)) - fract(total);
  float out_;
  if (sinceWarmup < 0.0) {
    out_ = lr * (float(step) + 1.0) / warmup;
  } else if (toTotal >= 0.0) {
    out_ = minLr;
  } else {
    float q = sinceWarmup / (total - warmup);
    float c = cosHalfPi(1.5707963267948966 * q);
    out_ = minLr + (lr - minLr) * (c * c);
  }
  p.lr.v[0] = out_;
}
