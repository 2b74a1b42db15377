// The sampling half of a deformable convolution (Dai et al. 2017; mmcv DeformConv2d's
// deformable_im2col and its gradients) on NHWC float32 tensors in the wasm heap: every output
// pixel reads the input bilinearly at its k x k kernel positions moved by learned offsets, into
// columns [N, HO, WO, K*K, C] (the filter's row order, ky, kx, c); the convolution itself is then a
// matmul. Arguments: a Float64Array of float32 element offsets into the heap and sizes. Forward:
// X = x [N, H, W, C], OFFSET = offset [N, HO, WO, 2 * GROUPS * K * K] (mmcv's channel order,
// (g * K² + t) * 2 + {0: dy, 1: dx}), COLS = columns. Gradients: COLS = the columns' gradient;
// the input's gradient overwrites DX [N, H, W, C], the offsets' DOFFSET (shaped as OFFSET).
#pragma once

enum DeformArg { DF_X, DF_OFFSET, DF_COLS, DF_DX, DF_DOFFSET, DF_N, DF_H, DF_W, DF_C, DF_HO, DF_WO, DF_K, DF_STRIDE, DF_PAD, DF_DILATION, DF_GROUPS, DF_ARGS };

void deformSampleForward(float* heap, const double* args);
void deformSampleInputGrad(float* heap, const double* args);
void deformSampleOffsetGrad(float* heap, const double* args);
