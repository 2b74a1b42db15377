// RoIAlign (mmcv roi_align, aligned or not, average pooling, adaptive or fixed sampling) on NHWC
// float32 tensors in the heap, forward and backward (roi_align.cc). Arguments: a Float64Array of
// float32 element offsets into the heap and sizes. Forward: X = x [N, H, W, C], ROIS = rois [R, 5]
// (batch index, x1, y1, x2, y2 in input pixels), Y = y [R, SIZE, SIZE, C]. Backward: X = dy
// [R, SIZE, SIZE, C], ROIS, Y = dx [N, H, W, C] (overwritten).
#pragma once

enum RoiAlignArg { RA_X, RA_ROIS, RA_Y, RA_N, RA_H, RA_W, RA_C, RA_R, RA_SIZE, RA_SAMPLING, RA_SCALE, RA_ALIGNED, RA_ARGS };

void roiAlignForward(float* heap, const double* args);
void roiAlignBackward(float* heap, const double* args);
