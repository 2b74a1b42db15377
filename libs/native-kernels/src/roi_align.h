// Multi-level RoIAlign (mmcv roi_align, aligned or not, average pooling, adaptive or fixed
// sampling; torchvision's MultiScaleRoIAlign when there are several levels) on NHWC float32 tensors
// in the heap, forward and backward (roi_align.cc). Arguments: a Float64Array of float32 element
// offsets into the heap and sizes. ROIS = rois [R, 5] (batch index, x1, y1, x2, y2 in input
// pixels); LEVELS = int32 [R], the level each RoI pools from; POOLED =
// [R, SIZE, SIZE, C] in RoI order (forward: written; backward: dy, read); then LEVELS_COUNT
// groups of RAL_ARGS: the level's map [N, H, W, C] (forward: read; backward: its dx, overwritten;
// -1: none, its RoIs pool zeros / its gradient is not computed), H, W and the level's spatial scale.
#pragma once

#include <cstddef>

enum RoiAlignArg { RA_ROIS, RA_LEVELS, RA_POOLED, RA_N, RA_C, RA_R, RA_SIZE, RA_SAMPLING, RA_ALIGNED, RA_LEVELS_COUNT, RA_LEVEL0 };
enum RoiAlignLevelArg { RAL_MAP, RAL_H, RAL_W, RAL_SCALE, RAL_ARGS };
constexpr int RA_MAX_LEVELS = 8;

// The argument count matches LEVELS_COUNT (1..RA_MAX_LEVELS).
bool roiAlignArgsOk(const double* args, size_t nargs, size_t);
void roiAlignForward(float* heap, const double* args);
void roiAlignBackward(float* heap, const double* args);
