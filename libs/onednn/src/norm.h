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

// Weight standardisation of a filter seen as [K, O] (per column o): y = (w - mean) / (std + eps),
// std unbiased (mmcv conv_ws_2d); writes y [K, O], mean [O], std [O].
enum StandardizeForwardArg { WF_W, WF_Y, WF_MEAN, WF_STD, WF_K, WF_O, WF_EPS, WF_ARGS };
// dw from dy, w and the forward's mean and std.
enum StandardizeBackwardArg { WB_DY, WB_W, WB_MEAN, WB_STD, WB_DW, WB_K, WB_O, WB_EPS, WB_ARGS };

void standardizeForward(float* heap, const double* args);
void standardizeBackward(float* heap, const double* args);

// y[o, i] = scale * sum_m x[o, m, i] for x seen as [OUTER, MID, INNER] (a Sum or Mean over a
// block of consecutive axes that are not the innermost).
enum SumArg { S_X, S_Y, S_OUTER, S_MID, S_INNER, S_SCALE, S_ARGS };

void sumMiddle(float* heap, const double* args);
