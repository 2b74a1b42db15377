// Tuning shared by the hand-written loops (norm.cc, standardize.cc, reduce.cc).
#pragma once

#include <cstdint>

// Rows summed in float before the running sum in double: float keeps the inner loop SIMD, the
// double keeps long sums exact enough.
inline constexpr int64_t BLOCK = 64;
// Below this many elements a loop runs on the calling thread: waking the OpenMP team costs more
// (and on a busy machine a parallel region waits for a descheduled thread).
inline constexpr int64_t PARALLEL_MIN = 1 << 15;
