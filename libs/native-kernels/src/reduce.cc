#include "reduce.h"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "parallel.h"
#include "vector_clones.h"

// Sums over a middle block of axes.
// x seen as [OUTER, MID, INNER]: y[o, i] = scale * sum_m x[o, m, i]. The wasm backend reduces
// only innermost axes and transposes first otherwise (a full copy); this reads x once, in order.

namespace {

VECTOR_CLONES void rowSums(const float* x, int64_t rows, int64_t C, double* acc, float* block) {
  for (int64_t r0 = 0; r0 < rows; r0 += BLOCK) {
    const int64_t r1 = std::min(rows, r0 + BLOCK);
    std::fill(block, block + C, 0.f);
    for (int64_t r = r0; r < r1; r++) {
      const float* row = x + r * C;
      for (int64_t c = 0; c < C; c++) block[c] += row[c];
    }
    for (int64_t c = 0; c < C; c++) acc[c] += block[c];
  }
}

}  // namespace

void sumMiddle(float* heap, const double* args) {
  auto at = [&](SumArg a) { return static_cast<int64_t>(args[a]); };
  const int64_t outer = at(S_OUTER), mid = at(S_MID), inner = at(S_INNER);
  const double scale = args[S_SCALE];
  const float* x = heap + at(S_X);
  float* y = heap + at(S_Y);
  const int64_t threads = omp_get_max_threads();
  const bool parallel = outer * mid * inner >= PARALLEL_MIN;
  const int64_t chunks = parallel ? std::max<int64_t>(1, std::min((2 * threads + outer - 1) / outer, mid / (4 * BLOCK))) : 1;
  std::vector<double> acc(outer * chunks * inner, 0.0);
#pragma omp parallel if (parallel)
  {
    std::vector<float> block(inner);
#pragma omp for schedule(static)
    for (int64_t i = 0; i < outer * chunks; i++) {
      const int64_t o = i / chunks, k = i % chunks;
      const int64_t m0 = mid * k / chunks, m1 = mid * (k + 1) / chunks;
      rowSums(x + (o * mid + m0) * inner, m1 - m0, inner, &acc[i * inner], block.data());
    }
  }
  for (int64_t o = 0; o < outer; o++)
    for (int64_t c = 0; c < inner; c++) {
      double s = 0;
      for (int64_t k = 0; k < chunks; k++) s += acc[(o * chunks + k) * inner + c];
      y[o * inner + c] = static_cast<float>(s * scale);
    }
}
