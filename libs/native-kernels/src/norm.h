// Training-mode group / batch normalisation on NHWC float32 tensors in place (norm.cc).
// Arguments: a Float64Array of float32 element offsets into the heap (-1: absent) and sizes.
#pragma once

// y = relu?(scale * (x - mean) / sqrt(variance + eps) + offset); writes y [N, P, C] and the
// batch statistics mean, variance [N, G].
enum NormForwardArg { NF_X, NF_SCALE, NF_OFFSET, NF_Y, NF_MEAN, NF_VARIANCE, NF_N, NF_P, NF_C, NF_G, NF_EPS, NF_RELU, NF_ARGS };
// dx, dscale, doffset from dy, x, the forward's y (relu: given; else -1), scale, mean, variance.
enum NormBackwardArg { NB_DY, NB_X, NB_Y, NB_SCALE, NB_MEAN, NB_VARIANCE, NB_DX, NB_DSCALE, NB_DOFFSET, NB_N, NB_P, NB_C, NB_G, NB_EPS, NB_ARGS };

void normForward(float* heap, const double* args);
void normBackward(float* heap, const double* args);
