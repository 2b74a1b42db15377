// Deformable im2col forward and backward (deform.h): the same sample rule as libs/tfjs-runtime's JS
// kernel (mmcv's deformable_im2col_bilinear: a sample strictly inside (-1, H) x (-1, W) reads its
// in-map corners, anything else reads 0), channel loops vectorised, output pixels (forward, offset
// gradient) or channel blocks (input gradient) over the threads. The two gradients are separate
// calls: tfjs asks for each input's gradient on its own.
#include "deform.h"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>

namespace {

struct Geometry {
  int64_t n, h, w, c, ho, wo, k, stride, pad, dilation, groups;
  // Derived: taps, channels per group, offset channels per pixel, output pixels.
  int64_t kk, cg, oc, pixels;
};

Geometry geometryOf(const double* args) {
  auto at = [&](DeformArg a) { return static_cast<int64_t>(args[a]); };
  Geometry g{at(DF_N), at(DF_H), at(DF_W), at(DF_C), at(DF_HO), at(DF_WO), at(DF_K), at(DF_STRIDE), at(DF_PAD), at(DF_DILATION), at(DF_GROUPS), 0, 0, 0, 0};
  g.kk = g.k * g.k;
  g.cg = g.c / g.groups;
  g.oc = 2 * g.groups * g.kk;
  g.pixels = g.n * g.ho * g.wo;
  return g;
}

// One sample: its four corners' pixel indices (-1 when outside the map) and bilinear fractions.
struct Sample {
  int64_t corner[4];  // (y0, x0), (y0, x1), (y1, x0), (y1, x1)
  float ly, lx;
  bool inside;
};

// Sample t of output pixel p (n * HO * WO + oy * WO + ox) in group gi.
inline Sample sampleAt(const Geometry& g, const float* offset, int64_t p, int64_t gi, int64_t t) {
  const int64_t b = p / (g.ho * g.wo), oy = (p / g.wo) % g.ho, ox = p % g.wo;
  const float* off = offset + p * g.oc + (gi * g.kk + t) * 2;
  const int64_t ky = t / g.k, kx = t % g.k;
  const float y = static_cast<float>(oy * g.stride - g.pad + ky * g.dilation) + off[0];
  const float x = static_cast<float>(ox * g.stride - g.pad + kx * g.dilation) + off[1];
  Sample s{{-1, -1, -1, -1}, 0, 0, false};
  if (!(y > -1 && x > -1 && y < g.h && x < g.w)) return s;
  s.inside = true;
  const int64_t y0 = static_cast<int64_t>(std::floor(y)), x0 = static_cast<int64_t>(std::floor(x));
  s.ly = y - static_cast<float>(y0);
  s.lx = x - static_cast<float>(x0);
  for (int corner = 0; corner < 4; corner++) {
    const int64_t cy = y0 + (corner >> 1), cx = x0 + (corner & 1);
    s.corner[corner] = (cy >= 0 && cy < g.h && cx >= 0 && cx < g.w) ? (b * g.h + cy) * g.w + cx : -1;
  }
  return s;
}

inline void weightsOf(const Sample& s, float wt[4]) {
  const float hy = 1 - s.ly, hx = 1 - s.lx;
  wt[0] = hy * hx;
  wt[1] = hy * s.lx;
  wt[2] = s.ly * hx;
  wt[3] = s.ly * s.lx;
}

}  // namespace

void deformSampleForward(float* heap, const double* args) {
  const Geometry g = geometryOf(args);
  const float* x = heap + static_cast<int64_t>(args[DF_X]);
  const float* offset = heap + static_cast<int64_t>(args[DF_OFFSET]);
  float* cols = heap + static_cast<int64_t>(args[DF_COLS]);
  const int64_t kk = g.kk, cg = g.cg;
#pragma omp parallel for schedule(static) if (g.pixels * kk * g.c >= 32768)
  for (int64_t p = 0; p < g.pixels; p++) {
    for (int64_t t = 0; t < kk; t++) {
      float* out = cols + (p * kk + t) * g.c;
      for (int64_t gi = 0; gi < g.groups; gi++) {
        float* dst = out + gi * cg;
        std::memset(dst, 0, sizeof(float) * cg);
        const Sample s = sampleAt(g, offset, p, gi, t);
        if (!s.inside) continue;
        float wt[4];
        weightsOf(s, wt);
        for (int corner = 0; corner < 4; corner++) {
          if (s.corner[corner] < 0) continue;
          const float w = wt[corner];
          const float* src = x + s.corner[corner] * g.c + gi * cg;
#pragma omp simd
          for (int64_t ci = 0; ci < cg; ci++) dst[ci] += w * src[ci];
        }
      }
    }
  }
}

// The offsets' gradient: d(sample)/dy and /dx from the corner values (outside corners read 0),
// summed over the group's channels against the columns' gradient. Pixels are independent.
void deformSampleOffsetGrad(float* heap, const double* args) {
  const Geometry g = geometryOf(args);
  const float* x = heap + static_cast<int64_t>(args[DF_X]);
  const float* offset = heap + static_cast<int64_t>(args[DF_OFFSET]);
  const float* dcols = heap + static_cast<int64_t>(args[DF_COLS]);
  float* doffset = heap + static_cast<int64_t>(args[DF_DOFFSET]);
  const int64_t kk = g.kk, cg = g.cg;
#pragma omp parallel for schedule(static) if (g.pixels * kk * g.c >= 32768)
  for (int64_t p = 0; p < g.pixels; p++) {
    float* doff = doffset + p * g.oc;
    for (int64_t gi = 0; gi < g.groups; gi++) {
      for (int64_t t = 0; t < kk; t++) {
        const Sample s = sampleAt(g, offset, p, gi, t);
        float gy = 0, gx = 0;
        if (s.inside) {
          const float* d = dcols + (p * kk + t) * g.c + gi * cg;
          const float* v[4];
          for (int corner = 0; corner < 4; corner++) v[corner] = s.corner[corner] >= 0 ? x + s.corner[corner] * g.c + gi * cg : nullptr;
          const float hy = 1 - s.ly, hx = 1 - s.lx;
          // Per corner, its weight's derivative in y and x: (y0,x0) -hx,-hy; (y0,x1) -lx,hy; (y1,x0) hx,-ly; (y1,x1) lx,ly.
          const float wy[4] = {-hx, -s.lx, hx, s.lx};
          const float wx[4] = {-hy, hy, -s.ly, s.ly};
          for (int corner = 0; corner < 4; corner++) {
            if (!v[corner]) continue;
            const float* vc = v[corner];
            float dot = 0;
#pragma omp simd reduction(+ : dot)
            for (int64_t ci = 0; ci < cg; ci++) dot += d[ci] * vc[ci];
            gy += wy[corner] * dot;
            gx += wx[corner] * dot;
          }
        }
        doff[(gi * kk + t) * 2] = gy;
        doff[(gi * kk + t) * 2 + 1] = gx;
      }
    }
  }
}

// The input's gradient: a scatter-add; threads own disjoint channel ranges (no two write the same float).
void deformSampleInputGrad(float* heap, const double* args) {
  const Geometry g = geometryOf(args);
  const float* offset = heap + static_cast<int64_t>(args[DF_OFFSET]);
  const float* dcols = heap + static_cast<int64_t>(args[DF_COLS]);
  float* dx = heap + static_cast<int64_t>(args[DF_DX]);
  const int64_t kk = g.kk, cg = g.cg;
  std::memset(dx, 0, sizeof(float) * g.n * g.h * g.w * g.c);
  const int64_t threads = omp_get_max_threads();
  const int64_t parts = (g.c >= 16 && g.pixels * kk * g.c >= 32768) ? std::min<int64_t>(threads, g.c / 8) : 1;
#pragma omp parallel for num_threads(parts) schedule(static) if (parts > 1)
  for (int64_t part = 0; part < parts; part++) {
    const int64_t c0 = g.c * part / parts, c1 = g.c * (part + 1) / parts;
    for (int64_t p = 0; p < g.pixels; p++) {
      for (int64_t gi = 0; gi < g.groups; gi++) {
        const int64_t lo = std::max(c0, gi * cg), hi = std::min(c1, (gi + 1) * cg);
        if (lo >= hi) continue;
        for (int64_t t = 0; t < kk; t++) {
          const Sample s = sampleAt(g, offset, p, gi, t);
          if (!s.inside) continue;
          float wt[4];
          weightsOf(s, wt);
          const float* d = dcols + (p * kk + t) * g.c;
          for (int corner = 0; corner < 4; corner++) {
            if (s.corner[corner] < 0) continue;
            const float w = wt[corner];
            float* dst = dx + s.corner[corner] * g.c;
#pragma omp simd
            for (int64_t ci = lo; ci < hi; ci++) dst[ci] += w * d[ci];
          }
        }
      }
    }
  }
}
