// Vector loops: an AVX2+FMA clone chosen at load time where the CPU has it (the addon is built at
// install and runs anywhere: no -march=native).
#pragma once

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define VECTOR_CLONES __attribute__((target_clones("arch=haswell", "default")))
#else
#define VECTOR_CLONES
#endif
