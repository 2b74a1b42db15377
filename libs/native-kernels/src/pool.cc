// Max pooling's gradient. The wasm backend's MaxPoolGrad recomputes each input pixel's windows and
// took ~110 ms for the ResNet stem's pool of a batch of 8 at 128x128 (as long as all of the step's
// weight standardisation); here each output's window is scanned once with channels innermost
// (vectorised compare and select) and its gradient added at the winner. Images over threads: their
// dx are disjoint.
#include "pool.h"

#include <omp.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <vector>

#include "vector_clones.h"

namespace {

struct Pool {
  int64_t h, w, c, oh, ow, kh, kw, sh, sw, pt, pl;
};

// One image: best[c] / where[c] hold the running maximum and its pixel for each channel.
VECTOR_CLONES void image(const Pool& p, const float* x, const float* dy, float* dx, float* best, int32_t* where) {
  std::memset(dx, 0, sizeof(float) * p.h * p.w * p.c);
  for (int64_t oy = 0; oy < p.oh; oy++) {
    const int64_t y0 = std::max<int64_t>(0, oy * p.sh - p.pt), y1 = std::min(p.h, oy * p.sh - p.pt + p.kh);
    for (int64_t ox = 0; ox < p.ow; ox++) {
      const int64_t x0 = std::max<int64_t>(0, ox * p.sw - p.pl), x1 = std::min(p.w, ox * p.sw - p.pl + p.kw);
      if (y0 >= y1 || x0 >= x1) continue;
      const int32_t first = static_cast<int32_t>(y0 * p.w + x0);
      const float* row = x + first * p.c;
      for (int64_t ch = 0; ch < p.c; ch++) {
        best[ch] = row[ch];
        where[ch] = first;
      }
      for (int64_t y = y0; y < y1; y++) {
        for (int64_t xx = x0; xx < x1; xx++) {
          const int32_t pix = static_cast<int32_t>(y * p.w + xx);
          const float* v = x + pix * p.c;
          for (int64_t ch = 0; ch < p.c; ch++) {
            const bool more = v[ch] > best[ch];  // strictly: the first maximum wins ties
            best[ch] = more ? v[ch] : best[ch];
            where[ch] = more ? pix : where[ch];
          }
        }
      }
      const float* g = dy + (oy * p.ow + ox) * p.c;
      for (int64_t ch = 0; ch < p.c; ch++) dx[where[ch] * p.c + ch] += g[ch];
    }
  }
}

}  // namespace

void maxPoolGrad(float* heap, const double* a) {
  auto at = [&](MaxPoolGradArg i) { return static_cast<int64_t>(a[i]); };
  const Pool p{at(MP_H), at(MP_W), at(MP_C), at(MP_OH), at(MP_OW), at(MP_KH), at(MP_KW), at(MP_SH), at(MP_SW), at(MP_PT), at(MP_PL)};
  const int64_t n = at(MP_N);
  const float* x = heap + at(MP_X);
  const float* dy = heap + at(MP_DY);
  float* dx = heap + at(MP_DX);
#pragma omp parallel if (n > 1)
  {
    std::vector<float> best(p.c);
    std::vector<int32_t> where(p.c);
#pragma omp for schedule(static)
    for (int64_t i = 0; i < n; i++) {
      image(p, x + i * p.h * p.w * p.c, dy + i * p.oh * p.ow * p.c, dx + i * p.h * p.w * p.c, best.data(), where.data());
    }
  }
}
