// The optimiser's element-wise work as one pass per tensor. tfjs composes an Adam step from ~10
// element-wise kernels per variable (each a pass over the tensor and a kernel dispatch) and the
// global gradient norm from two more per gradient; a detector has ~150-400 variables.
#include "optim.h"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstdint>

#include "vector_clones.h"

namespace {

// Below this many elements a loop runs on the calling thread (waking the team costs more).
constexpr int64_t PARALLEL_MIN = 1 << 16;

struct AdamW {
  float decay, b1, b2, eps, scale, stepSize, rsqrtBc2;
};

VECTOR_CLONES void adamwRange(const AdamW& k, const float* p, const float* m, const float* v, const float* g,
                              float* po, float* mo, float* vo, int64_t n) {
  const float c1 = 1.f - k.b1, c2 = 1.f - k.b2;
  for (int64_t i = 0; i < n; i++) {
    const float gi = g[i] * k.scale;
    const float mi = k.b1 * m[i] + c1 * gi;
    const float vi = k.b2 * v[i] + c2 * gi * gi;
    mo[i] = mi;
    vo[i] = vi;
    po[i] = p[i] * k.decay - k.stepSize * mi / (std::sqrt(vi) * k.rsqrtBc2 + k.eps);
  }
}

VECTOR_CLONES float sumSquares(const float* x, int64_t n) {
  // Blocks of 256 in float, blocks summed in double: exact enough for a norm of millions of terms.
  double total = 0;
  for (int64_t i0 = 0; i0 < n; i0 += 256) {
    const int64_t i1 = std::min(n, i0 + 256);
    float s = 0;
    for (int64_t i = i0; i < i1; i++) s += x[i] * x[i];
    total += s;
  }
  return static_cast<float>(total);
}

}  // namespace

void adamwStep(float* heap, const double* a) {
  auto at = [&](AdamWArg i) { return heap + static_cast<int64_t>(a[i]); };
  const int64_t n = static_cast<int64_t>(a[AW_SIZE]);
  const double lr = a[AW_LR];
  const AdamW k{
      static_cast<float>(1.0 - lr * a[AW_WD]), static_cast<float>(a[AW_BETA1]), static_cast<float>(a[AW_BETA2]),
      static_cast<float>(a[AW_EPS]),           static_cast<float>(a[AW_GRAD_SCALE]),
      static_cast<float>(lr / a[AW_BC1]),      static_cast<float>(1.0 / std::sqrt(a[AW_BC2])),
  };
  const float *p = at(AW_P), *m = at(AW_M), *v = at(AW_V), *g = at(AW_G);
  float *po = at(AW_P_OUT), *mo = at(AW_M_OUT), *vo = at(AW_V_OUT);
  if (n < PARALLEL_MIN) return adamwRange(k, p, m, v, g, po, mo, vo, n);
#pragma omp parallel
  {
    const int64_t t = omp_get_thread_num(), nt = omp_get_num_threads();
    const int64_t i0 = n * t / nt, i1 = n * (t + 1) / nt;
    adamwRange(k, p + i0, m + i0, v + i0, g + i0, po + i0, mo + i0, vo + i0, i1 - i0);
  }
}

void squaredNorm(float* heap, const double* a) {
  const int64_t count = static_cast<int64_t>(a[SN_COUNT]);
  const double* list = a + SN_LIST;  // offset, size pairs
  double total = 0;
  // Tensors are spread over the threads whole: most are small, and one parallel region in all.
#pragma omp parallel for reduction(+ : total) schedule(dynamic, 1)
  for (int64_t i = 0; i < count; i++) {
    total += sumSquares(heap + static_cast<int64_t>(list[2 * i]), static_cast<int64_t>(list[2 * i + 1]));
  }
  heap[static_cast<int64_t>(a[SN_OUT])] = static_cast<float>(total);
}
