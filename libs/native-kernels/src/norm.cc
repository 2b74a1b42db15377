// Training-mode normalisation on float32 NHWC tensors in a caller's buffer, forward and backward,
// written in place (no oneDNN: its 2.6 has no group normalisation, and one hand-written pair of
// loops serves both norms). The tensor is seen as [N, P, C] with C split into G groups of C/G
// channels; statistics are per (n, group) over P pixels x C/G channels:
//   group norm [n, h, w, c]:  N = n, P = h*w, G = groups
//   batch norm [n, h, w, c]:  N = 1, P = n*h*w, G = c
// y = relu?(scale[c] * (x - mean) * rstd + offset[c]), rstd = 1/sqrt(variance + eps), variance
// biased (PyTorch's and tfjs's normalisation). All loops run over C innermost (contiguous, SIMD);
// work is split into pixel chunks of each sample across OpenMP threads, chunk sums go to doubles.
#include "norm.h"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "parallel.h"
#include "vector_clones.h"

namespace {

// s1[c] += sum(x - shift[c]), s2[c] += sum((x - shift[c])^2) over pixels [0, np).
VECTOR_CLONES void momentSums(const float* x, int64_t np, int64_t C, const float* shift, double* s1, double* s2, float* a, float* b) {
  for (int64_t p0 = 0; p0 < np; p0 += BLOCK) {
    const int64_t p1 = std::min(np, p0 + BLOCK);
    std::fill(a, a + C, 0.f);
    std::fill(b, b + C, 0.f);
    for (int64_t p = p0; p < p1; p++) {
      const float* row = x + p * C;
      for (int64_t c = 0; c < C; c++) {
        const float v = row[c] - shift[c];
        a[c] += v;
        b[c] += v * v;
      }
    }
    for (int64_t c = 0; c < C; c++) {
      s1[c] += a[c];
      s2[c] += b[c];
    }
  }
}

VECTOR_CLONES void affine(const float* x, float* y, int64_t np, int64_t C, const float* A, const float* B, bool relu) {
  for (int64_t p = 0; p < np; p++) {
    const float* xr = x + p * C;
    float* yr = y + p * C;
    if (relu) {
      for (int64_t c = 0; c < C; c++) yr[c] = std::max(0.f, A[c] * xr[c] + B[c]);
    } else {
      for (int64_t c = 0; c < C; c++) yr[c] = A[c] * xr[c] + B[c];
    }
  }
}

// s1[c] += sum(g), s2[c] += sum(g * (x - mu[c])), g = dy masked by y > 0 when y is given.
VECTOR_CLONES void gradSums(const float* dy, const float* x, const float* y, int64_t np, int64_t C, const float* mu, double* s1, double* s2, float* a, float* b) {
  for (int64_t p0 = 0; p0 < np; p0 += BLOCK) {
    const int64_t p1 = std::min(np, p0 + BLOCK);
    std::fill(a, a + C, 0.f);
    std::fill(b, b + C, 0.f);
    for (int64_t p = p0; p < p1; p++) {
      const float* dr = dy + p * C;
      const float* xr = x + p * C;
      if (y) {
        const float* yr = y + p * C;
        for (int64_t c = 0; c < C; c++) {
          const float g = yr[c] > 0.f ? dr[c] : 0.f;
          a[c] += g;
          b[c] += g * (xr[c] - mu[c]);
        }
      } else {
        for (int64_t c = 0; c < C; c++) {
          a[c] += dr[c];
          b[c] += dr[c] * (xr[c] - mu[c]);
        }
      }
    }
    for (int64_t c = 0; c < C; c++) {
      s1[c] += a[c];
      s2[c] += b[c];
    }
  }
}

// dx = A[c] * g + B[c] * x + K[c], g = dy masked by y > 0 when y is given.
VECTOR_CLONES void gradApply(const float* dy, const float* x, const float* y, float* dx, int64_t np, int64_t C, const float* A, const float* B, const float* K) {
  for (int64_t p = 0; p < np; p++) {
    const float* dr = dy + p * C;
    const float* xr = x + p * C;
    float* out = dx + p * C;
    if (y) {
      const float* yr = y + p * C;
      for (int64_t c = 0; c < C; c++) out[c] = A[c] * (yr[c] > 0.f ? dr[c] : 0.f) + B[c] * xr[c] + K[c];
    } else {
      for (int64_t c = 0; c < C; c++) out[c] = A[c] * dr[c] + B[c] * xr[c] + K[c];
    }
  }
}

struct Split {
  int64_t N, P, C, G, chunks;
  // Enough chunks to keep every thread busy, none under a few blocks.
  Split(int64_t n, int64_t p, int64_t c, int64_t g) : N(n), P(p), C(c), G(g) {
    const int64_t threads = omp_get_max_threads();
    const int64_t want = (2 * threads + N - 1) / N;
    chunks = std::max<int64_t>(1, std::min(want, P / (4 * BLOCK)));
  }
  int64_t items() const { return N * chunks; }
  bool parallel() const { return N * P * C >= PARALLEL_MIN; }
  int64_t begin(int64_t item) const { return P * (item % chunks) / chunks; }
  int64_t end(int64_t item) const { return P * (item % chunks + 1) / chunks; }
  int64_t sample(int64_t item) const { return item / chunks; }
  const float* at(const float* t, int64_t item) const { return t + (sample(item) * P + begin(item)) * C; }
  float* at(float* t, int64_t item) const { return t + (sample(item) * P + begin(item)) * C; }
};

}  // namespace

void normForward(float* heap, const double* args) {
  auto off = [&](NormForwardArg a) { return static_cast<int64_t>(args[a]); };
  const Split s(off(NF_N), off(NF_P), off(NF_C), off(NF_G));
  const int64_t C = s.C, G = s.G, cg = C / G, P = s.P;
  const float eps = static_cast<float>(args[NF_EPS]);
  const bool relu = args[NF_RELU] != 0;
  const float* x = heap + off(NF_X);
  const float* scale = off(NF_SCALE) >= 0 ? heap + off(NF_SCALE) : nullptr;
  const float* offset = off(NF_OFFSET) >= 0 ? heap + off(NF_OFFSET) : nullptr;
  float* y = heap + off(NF_Y);
  float* mean = heap + off(NF_MEAN);
  float* variance = heap + off(NF_VARIANCE);

  // Per-channel sums of x - x[n, 0, c] (shifted: no cancellation when |mean| >> std).
  std::vector<double> sums(s.items() * 2 * C, 0.0);
#pragma omp parallel if (s.parallel())
  {
    std::vector<float> scratch(2 * C);
#pragma omp for schedule(static)
    for (int64_t i = 0; i < s.items(); i++) {
      momentSums(s.at(x, i), s.end(i) - s.begin(i), C, x + s.sample(i) * P * C, &sums[i * 2 * C], &sums[i * 2 * C + C], scratch.data(), scratch.data() + C);
    }
  }
  std::vector<float> A(s.N * C), B(s.N * C);
  for (int64_t n = 0; n < s.N; n++) {
    const float* shift = x + n * P * C;
    for (int64_t g = 0; g < G; g++) {
      // Channel means and squared deviations, then the group's by the parallel-variance rule.
      double m = 0, m2 = 0;
      std::vector<double> cm(cg), cm2(cg);
      for (int64_t j = 0; j < cg; j++) {
        const int64_t c = g * cg + j;
        double s1 = 0, s2 = 0;
        for (int64_t k = 0; k < s.chunks; k++) {
          s1 += sums[(n * s.chunks + k) * 2 * C + c];
          s2 += sums[(n * s.chunks + k) * 2 * C + C + c];
        }
        cm[j] = shift[c] + s1 / P;
        cm2[j] = std::max(0.0, s2 - s1 * s1 / P);
        m += cm[j];
      }
      m /= cg;
      for (int64_t j = 0; j < cg; j++) m2 += cm2[j] + P * (cm[j] - m) * (cm[j] - m);
      const double var = m2 / (static_cast<double>(P) * cg);
      mean[n * G + g] = static_cast<float>(m);
      variance[n * G + g] = static_cast<float>(var);
      const double rstd = 1.0 / std::sqrt(static_cast<double>(static_cast<float>(var)) + eps);
      for (int64_t j = 0; j < cg; j++) {
        const int64_t c = g * cg + j;
        const double a = (scale ? scale[c] : 1.0) * rstd;
        A[n * C + c] = static_cast<float>(a);
        B[n * C + c] = static_cast<float>((offset ? offset[c] : 0.0) - m * a);
      }
    }
  }
#pragma omp parallel for schedule(static) if (s.parallel())
  for (int64_t i = 0; i < s.items(); i++) {
    affine(s.at(x, i), s.at(y, i), s.end(i) - s.begin(i), C, &A[s.sample(i) * C], &B[s.sample(i) * C], relu);
  }
}

void normBackward(float* heap, const double* args) {
  auto off = [&](NormBackwardArg a) { return static_cast<int64_t>(args[a]); };
  const Split s(off(NB_N), off(NB_P), off(NB_C), off(NB_G));
  const int64_t C = s.C, G = s.G, cg = C / G, P = s.P;
  const float eps = static_cast<float>(args[NB_EPS]);
  const float* dy = heap + off(NB_DY);
  const float* x = heap + off(NB_X);
  const float* y = off(NB_Y) >= 0 ? heap + off(NB_Y) : nullptr;
  const float* scale = off(NB_SCALE) >= 0 ? heap + off(NB_SCALE) : nullptr;
  const float* mean = heap + off(NB_MEAN);
  const float* variance = heap + off(NB_VARIANCE);
  float* dx = heap + off(NB_DX);
  float* dscale = off(NB_DSCALE) >= 0 ? heap + off(NB_DSCALE) : nullptr;
  float* doffset = off(NB_DOFFSET) >= 0 ? heap + off(NB_DOFFSET) : nullptr;

  std::vector<float> mu(s.N * C);
  std::vector<double> rstd(s.N * G);
  for (int64_t n = 0; n < s.N; n++) {
    for (int64_t g = 0; g < G; g++) rstd[n * G + g] = 1.0 / std::sqrt(static_cast<double>(variance[n * G + g]) + eps);
    for (int64_t c = 0; c < C; c++) mu[n * C + c] = mean[n * G + c / cg];
  }
  std::vector<double> sums(s.items() * 2 * C, 0.0);
#pragma omp parallel if (s.parallel())
  {
    std::vector<float> scratch(2 * C);
#pragma omp for schedule(static)
    for (int64_t i = 0; i < s.items(); i++) {
      const int64_t first = s.sample(i) * P + s.begin(i);
      gradSums(dy + first * C, x + first * C, y ? y + first * C : nullptr, s.end(i) - s.begin(i), C, &mu[s.sample(i) * C], &sums[i * 2 * C],
               &sums[i * 2 * C + C], scratch.data(), scratch.data() + C);
    }
  }
  // Per (n, c): S1 = sum g, S2 = sum g (x - mu). With xhat = (x - mu) r, over a group of K values:
  //   dscale[c] = sum_n r S2,  doffset[c] = sum_n S1,
  //   dx = r (scale g - mean(scale g) - xhat mean(scale g xhat)) = A g + B x + K.
  std::vector<double> ds(C, 0.0), db(C, 0.0);
  std::vector<float> A(s.N * C), B(s.N * C), K(s.N * C);
  const double count = static_cast<double>(P) * cg;
  for (int64_t n = 0; n < s.N; n++) {
    for (int64_t g = 0; g < G; g++) {
      const double r = rstd[n * G + g], m = mean[n * G + g];
      double sg = 0, sgx = 0;
      for (int64_t j = 0; j < cg; j++) {
        const int64_t c = g * cg + j;
        double s1 = 0, s2 = 0;
        for (int64_t k = 0; k < s.chunks; k++) {
          s1 += sums[(n * s.chunks + k) * 2 * C + c];
          s2 += sums[(n * s.chunks + k) * 2 * C + C + c];
        }
        const double gamma = scale ? scale[c] : 1.0;
        ds[c] += r * s2;
        db[c] += s1;
        sg += gamma * s1;
        sgx += gamma * r * s2;
      }
      const double m1 = sg / count, m2 = sgx / count;
      for (int64_t j = 0; j < cg; j++) {
        const int64_t c = g * cg + j;
        A[n * C + c] = static_cast<float>(r * (scale ? scale[c] : 1.0));
        B[n * C + c] = static_cast<float>(-r * r * m2);
        K[n * C + c] = static_cast<float>(-r * m1 + r * r * m2 * m);
      }
    }
  }
  if (dscale) for (int64_t c = 0; c < C; c++) dscale[c] = static_cast<float>(ds[c]);
  if (doffset) for (int64_t c = 0; c < C; c++) doffset[c] = static_cast<float>(db[c]);
#pragma omp parallel for schedule(static) if (s.parallel())
  for (int64_t i = 0; i < s.items(); i++) {
    const int64_t first = s.sample(i) * P + s.begin(i), n = s.sample(i);
    gradApply(dy + first * C, x + first * C, y ? y + first * C : nullptr, dx + first * C, s.end(i) - s.begin(i), C, &A[n * C], &B[n * C], &K[n * C]);
  }
}
