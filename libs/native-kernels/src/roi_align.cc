// RoIAlign forward and backward on NHWC float32 tensors in the wasm heap (roi_align.h): the same
// sample points and weights as libs/tfjs-runtime's JS kernel (mmcv roi_align, average pooling), with
// the channel loop vectorised and the RoIs (forward) or channel blocks (backward) over the threads.
#include "roi_align.h"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <vector>

namespace {

struct Corner {
  int64_t offset;  // pixel index n*H*W + y*W + x
  float weight;
};

struct Geometry {
  int64_t n, h, w, c, size, sampling;
  float scale;
  bool aligned;
};

// Every RoI's level and the levels' maps (read forward, written backward).
struct Levels {
  const int32_t* of;
  int64_t count;
  float* maps[RA_MAX_LEVELS];
  Geometry g[RA_MAX_LEVELS];
  int64_t rois, size, c;

  int level(int64_t r) const { return of[r]; }
};

Levels levelsOf(float* heap, const double* args) {
  auto at = [&](int a) { return static_cast<int64_t>(args[a]); };
  Levels ls{};
  ls.of = reinterpret_cast<const int32_t*>(heap + at(RA_LEVELS));
  ls.count = at(RA_LEVELS_COUNT);
  ls.rois = at(RA_R);
  ls.size = at(RA_SIZE);
  ls.c = at(RA_C);
  for (int64_t l = 0; l < ls.count; l++) {
    const int base = RA_LEVEL0 + static_cast<int>(l) * RAL_ARGS;
    ls.maps[l] = at(base + RAL_MAP) < 0 ? nullptr : heap + at(base + RAL_MAP);
    ls.g[l] = {at(RA_N), at(base + RAL_H), at(base + RAL_W), ls.c, ls.size, at(RA_SAMPLING), static_cast<float>(args[base + RAL_SCALE]), args[RA_ALIGNED] != 0};
  }
  // A level outside the maps, or without one, pools nothing (its bins stay 0; backward: not
  // computed), like a RoI of a batch index outside.
  return ls;
}

// One coordinate of a bilinear sample (mmcv's rules): the two neighbouring cells and the weight of
// the upper one; outside when beyond one cell past the map.
struct Axis {
  int64_t lo, hi;
  float frac;
  bool inside;
};

Axis axisSample(float v, int64_t size) {
  if (v < -1 || v > size) return {0, 0, 0, false};
  if (v <= 0) v = 0;
  int64_t lo = static_cast<int64_t>(std::floor(v)), hi;
  if (lo >= size - 1) {
    lo = hi = size - 1;
    v = static_cast<float>(lo);
  } else {
    hi = lo + 1;
  }
  return {lo, hi, v - lo, true};
}

// The corners of every sample of bin (i, j) of RoI r, appended to `out` (cleared first).
void binCorners(const Geometry& g, const float* roi, int64_t i, int64_t j, std::vector<Corner>& out) {
  out.clear();
  const float nf = roi[0];
  const int64_t n = static_cast<int64_t>(nf);
  if (!(nf == std::floor(nf)) || n < 0 || n >= g.n) return;
  const float shift = g.aligned ? 0.5f : 0.0f;
  const float x1 = roi[1] * g.scale - shift;
  const float y1 = roi[2] * g.scale - shift;
  float rw = roi[3] * g.scale - shift - x1;
  float rh = roi[4] * g.scale - shift - y1;
  if (!g.aligned) {
    rw = std::max(rw, 1.0f);
    rh = std::max(rh, 1.0f);
  }
  const float bw = rw / g.size;
  const float bh = rh / g.size;
  const int64_t gh = g.sampling > 0 ? g.sampling : std::max<int64_t>(1, static_cast<int64_t>(std::ceil(rh / g.size)));
  const int64_t gw = g.sampling > 0 ? g.sampling : std::max<int64_t>(1, static_cast<int64_t>(std::ceil(rw / g.size)));
  const float inv = 1.0f / static_cast<float>(gh * gw);
  const int64_t base = n * g.h * g.w;
  for (int64_t iy = 0; iy < gh; iy++) {
    const Axis y = axisSample(y1 + i * bh + ((iy + 0.5f) * bh) / gh, g.h);
    if (!y.inside) continue;
    for (int64_t ix = 0; ix < gw; ix++) {
      const Axis x = axisSample(x1 + j * bw + ((ix + 0.5f) * bw) / gw, g.w);
      if (!x.inside) continue;
      const float hy = 1 - y.frac, hx = 1 - x.frac;
      out.push_back({base + y.lo * g.w + x.lo, hy * hx * inv});
      out.push_back({base + y.lo * g.w + x.hi, hy * x.frac * inv});
      out.push_back({base + y.hi * g.w + x.lo, y.frac * hx * inv});
      out.push_back({base + y.hi * g.w + x.hi, y.frac * x.frac * inv});
    }
  }
}

}  // namespace

bool roiAlignArgsOk(const double* args, size_t nargs, size_t) {
  if (nargs < RA_LEVEL0) return false;
  const double count = args[RA_LEVELS_COUNT];
  return count >= 1 && count <= RA_MAX_LEVELS && nargs == RA_LEVEL0 + RAL_ARGS * static_cast<size_t>(count);
}

void roiAlignForward(float* heap, const double* args) {
  const Levels ls = levelsOf(heap, args);
  const float* rois = heap + static_cast<int64_t>(args[RA_ROIS]);
  float* y = heap + static_cast<int64_t>(args[RA_POOLED]);
  const int64_t c = ls.c, size = ls.size;
#pragma omp parallel if (ls.rois * size * size * c >= 32768)
  {
    std::vector<Corner> corners;
#pragma omp for schedule(dynamic, 8)
    for (int64_t r = 0; r < ls.rois; r++) {
      const int l = ls.level(r);
      const bool valid = l >= 0 && l < ls.count && ls.maps[l] != nullptr;
      for (int64_t i = 0; i < size; i++) {
        for (int64_t j = 0; j < size; j++) {
          float* out = y + ((r * size + i) * size + j) * c;
          std::memset(out, 0, sizeof(float) * c);
          if (!valid) continue;
          binCorners(ls.g[l], rois + 5 * r, i, j, corners);
          const float* x = ls.maps[l];
          for (const Corner& k : corners) {
            if (k.weight == 0) continue;
            const float wt = k.weight;
            const float* src = x + k.offset * c;
#pragma omp simd
            for (int64_t ch = 0; ch < c; ch++) out[ch] += wt * src[ch];
          }
        }
      }
    }
  }
}

void roiAlignBackward(float* heap, const double* args) {
  const Levels ls = levelsOf(heap, args);
  const float* dy = heap + static_cast<int64_t>(args[RA_POOLED]);
  const float* rois = heap + static_cast<int64_t>(args[RA_ROIS]);
  const int64_t c = ls.c, size = ls.size;
  for (int64_t l = 0; l < ls.count; l++) {
    if (ls.maps[l] != nullptr) std::memset(ls.maps[l], 0, sizeof(float) * ls.g[l].n * ls.g[l].h * ls.g[l].w * c);
  }
  // Scatter-add: threads own disjoint channel ranges (no two write the same float).
  const int64_t threads = omp_get_max_threads();
  const int64_t parts = (c >= 16 && ls.rois * size * size * c >= 32768) ? std::min<int64_t>(threads, c / 8) : 1;
#pragma omp parallel for num_threads(parts) schedule(static) if (parts > 1)
  for (int64_t part = 0; part < parts; part++) {
    const int64_t c0 = c * part / parts, c1 = c * (part + 1) / parts;
    std::vector<Corner> corners;
    for (int64_t r = 0; r < ls.rois; r++) {
      const int l = ls.level(r);
      if (l < 0 || l >= ls.count || ls.maps[l] == nullptr) continue;
      float* dx = ls.maps[l];
      for (int64_t i = 0; i < size; i++) {
        for (int64_t j = 0; j < size; j++) {
          const float* d = dy + ((r * size + i) * size + j) * c;
          binCorners(ls.g[l], rois + 5 * r, i, j, corners);
          for (const Corner& k : corners) {
            if (k.weight == 0) continue;
            const float wt = k.weight;
            float* dst = dx + k.offset * c;
#pragma omp simd
            for (int64_t ch = c0; ch < c1; ch++) dst[ch] += wt * d[ch];
          }
        }
      }
    }
  }
}
