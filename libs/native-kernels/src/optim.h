// The optimiser's per-step work on float32 tensors in place on the heap (optim.cc).
// Arguments: a Float64Array of float32 element offsets into the heap and scalars.
#pragma once

#include <cstdint>

// One AdamW step of one parameter tensor (PyTorch 1.13's AdamW, Loshchilov & Hutter 2019), with
// the gradient multiplied by GRAD_SCALE (global-norm clipping) first:
//   p' = p * (1 - lr * wd);  m' = b1 m + (1 - b1) g;  v' = b2 v + (1 - b2) g^2
//   p' -= (lr / BC1) * m' / (sqrt(v') / sqrt(BC2) + eps),  BC1 = 1 - b1^t, BC2 = 1 - b2^t
// reading P, M, V, G and writing P_OUT, M_OUT, V_OUT (SIZE elements each).
enum AdamWArg { AW_P, AW_M, AW_V, AW_G, AW_P_OUT, AW_M_OUT, AW_V_OUT, AW_SIZE, AW_LR, AW_BETA1, AW_BETA2, AW_EPS, AW_WD, AW_GRAD_SCALE, AW_BC1, AW_BC2, AW_ARGS };

void adamwStep(float* heap, const double* args);

// The sum of squares of COUNT tensors (global-norm gradient clipping): offsets and sizes at
// OFFSETS and SIZES (float64 arrays inside the argument array), the total to OUT (one float32).
enum SquaredNormArg { SN_OUT, SN_COUNT, SN_LIST, SN_ARGS_MIN };

void squaredNorm(float* heap, const double* args);
