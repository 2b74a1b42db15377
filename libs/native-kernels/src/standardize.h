// Weight standardisation (standardize.cc). Arguments as norm.h's: float32 element offsets into the heap and sizes.
#pragma once

// Weight standardisation of a filter seen as [K, O] (per column o): y = (w - mean) / (std + eps),
// std unbiased (mmcv conv_ws_2d); writes y [K, O], mean [O], std [O].
enum StandardizeForwardArg { WF_W, WF_Y, WF_MEAN, WF_STD, WF_K, WF_O, WF_EPS, WF_ARGS };
// dw from dy, w and the forward's mean and std.
enum StandardizeBackwardArg { WB_DY, WB_W, WB_MEAN, WB_STD, WB_DW, WB_K, WB_O, WB_EPS, WB_ARGS };

void standardizeForward(float* heap, const double* args);
void standardizeBackward(float* heap, const double* args);
