#include "standardize.h"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "parallel.h"
#include "vector_clones.h"

// Weight standardisation (mmcv conv_ws_2d), forward and backward, in a caller's buffer.
// w is [K, O] (tfjs's filter [kh, kw, ci/groups, co] with K = kh*kw*ci/groups), standardised per
// column: y = (w - mean) / (std + eps), std unbiased. Columns are split across threads; rows run
// over the column block contiguously.

namespace {

struct Columns {
  int64_t K, O, blocks;
  explicit Columns(int64_t k, int64_t o) : K(k), O(o) {
    blocks = K * O < PARALLEL_MIN ? 1 : std::max<int64_t>(1, std::min<int64_t>(omp_get_max_threads(), O / 16));
  }
  int64_t begin(int64_t b) const { return O * b / blocks; }
  int64_t end(int64_t b) const { return O * (b + 1) / blocks; }
};

VECTOR_CLONES void wsForwardBlock(const float* w, float* y, float* mean, float* stdOut, int64_t K, int64_t O, int64_t o0, int64_t o1, float eps) {
  const int64_t n = o1 - o0;
  std::vector<double> s(n, 0.0), q(n, 0.0);
  for (int64_t k = 0; k < K; k++)
    for (int64_t j = 0; j < n; j++) s[j] += w[k * O + o0 + j];
  for (int64_t j = 0; j < n; j++) s[j] /= K;
  for (int64_t k = 0; k < K; k++)
    for (int64_t j = 0; j < n; j++) {
      const double d = w[k * O + o0 + j] - s[j];
      q[j] += d * d;
    }
  std::vector<float> a(n), b(n);
  for (int64_t j = 0; j < n; j++) {
    const double sd = K > 1 ? std::sqrt(q[j] / (K - 1)) : 0.0;
    mean[o0 + j] = static_cast<float>(s[j]);
    stdOut[o0 + j] = static_cast<float>(sd);
    a[j] = static_cast<float>(1.0 / (sd + eps));
    b[j] = static_cast<float>(-s[j] / (sd + eps));
  }
  for (int64_t k = 0; k < K; k++)
    for (int64_t j = 0; j < n; j++) y[k * O + o0 + j] = a[j] * w[k * O + o0 + j] + b[j];
}

// With d = std + eps: dw = (g - mean(g)) / d - (w - mean) * sum(g (w - mean)) / (d^2 std (K - 1)).
VECTOR_CLONES void wsBackwardBlock(const float* g, const float* w, const float* mean, const float* stdIn, float* dw, int64_t K, int64_t O, int64_t o0, int64_t o1, float eps) {
  const int64_t n = o1 - o0;
  std::vector<double> sg(n, 0.0), sgw(n, 0.0);
  for (int64_t k = 0; k < K; k++)
    for (int64_t j = 0; j < n; j++) {
      const double gi = g[k * O + o0 + j];
      sg[j] += gi;
      sgw[j] += gi * (w[k * O + o0 + j] - mean[o0 + j]);
    }
  std::vector<float> a(n), b(n), c(n);
  for (int64_t j = 0; j < n; j++) {
    const double sd = stdIn[o0 + j], d = sd + eps;
    const double t = sd > 0 && K > 1 ? sgw[j] / (d * d * sd * (K - 1)) : 0.0;
    a[j] = static_cast<float>(1.0 / d);
    b[j] = static_cast<float>(-t);
    c[j] = static_cast<float>(-sg[j] / K / d + t * mean[o0 + j]);
  }
  for (int64_t k = 0; k < K; k++)
    for (int64_t j = 0; j < n; j++) dw[k * O + o0 + j] = a[j] * g[k * O + o0 + j] + b[j] * w[k * O + o0 + j] + c[j];
}

}  // namespace

void standardizeForward(float* heap, const double* args) {
  auto off = [&](StandardizeForwardArg a) { return static_cast<int64_t>(args[a]); };
  const Columns cols(off(WF_K), off(WF_O));
  const float eps = static_cast<float>(args[WF_EPS]);
#pragma omp parallel for schedule(static) if (cols.blocks > 1)
  for (int64_t b = 0; b < cols.blocks; b++) {
    wsForwardBlock(heap + off(WF_W), heap + off(WF_Y), heap + off(WF_MEAN), heap + off(WF_STD), cols.K, cols.O, cols.begin(b), cols.end(b), eps);
  }
}

void standardizeBackward(float* heap, const double* args) {
  auto off = [&](StandardizeBackwardArg a) { return static_cast<int64_t>(args[a]); };
  const Columns cols(off(WB_K), off(WB_O));
  const float eps = static_cast<float>(args[WB_EPS]);
#pragma omp parallel for schedule(static) if (cols.blocks > 1)
  for (int64_t b = 0; b < cols.blocks; b++) {
    wsBackwardBlock(heap + off(WB_DY), heap + off(WB_W), heap + off(WB_MEAN), heap + off(WB_STD), heap + off(WB_DW), cols.K, cols.O, cols.begin(b), cols.end(b), eps);
  }
}
