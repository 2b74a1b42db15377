// Sums over a middle block of axes (reduce.cc). Arguments as norm.h's: float32 element offsets into the heap and sizes.
#pragma once

// y[o, i] = scale * sum_m x[o, m, i] for x seen as [OUTER, MID, INNER] (a Sum or Mean over a
// block of consecutive axes that are not the innermost).
enum SumArg { S_X, S_Y, S_OUTER, S_MID, S_INNER, S_SCALE, S_ARGS };

void sumMiddle(float* heap, const double* args);
