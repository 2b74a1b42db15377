// Max pooling's gradient on float32 NHWC tensors in place on the heap (pool.cc).
#pragma once

// dx [N, H, W, C] (overwritten) from x [N, H, W, C] and dy [N, OH, OW, C]: each output's gradient
// goes to the first maximum of its window in row-major order (PyTorch's and tfjs's choice), windows
// KH x KW at stride SH x SW from padding PT, PL (positions outside the input never win).
enum MaxPoolGradArg { MP_X, MP_DY, MP_DX, MP_N, MP_H, MP_W, MP_C, MP_OH, MP_OW, MP_KH, MP_KW, MP_SH, MP_SW, MP_PT, MP_PL, MP_ARGS };

void maxPoolGrad(float* heap, const double* args);
