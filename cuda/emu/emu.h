// The CUDA subset vtrain's kernels use, on the CPU: each intrinsic as the
// correctly rounded C++ operation it names, the thread hierarchy as
// variables the launcher (emu.cpp) sets, __syncthreads as a barrier among
// the OS threads that run one block. Compiled with -ffp-contract=off and
// without fast-math on x86-64 (SSE arithmetic, no flush-to-zero), so the
// C++ operations round exactly as the PTX `.rn` instructions do.
#pragma once
#include <cmath>
#include <cstdint>
#include <cstring>

struct dim3 {
  unsigned int x = 1, y = 1, z = 1;
};

// The block being run: one block at a time (emu.cpp serialises launches),
// so the block's coordinates and `__shared__` arrays (function statics) are
// process-wide; each OS thread of the block has its own threadIdx.
extern dim3 blockIdx, blockDim, gridDim;
extern thread_local dim3 threadIdx;
void vt_emu_syncthreads();

#define __global__
#define __device__ static
#define __forceinline__ inline
#define __shared__ static
#define __syncthreads() vt_emu_syncthreads()

template <typename To, typename From>
inline To vt_emu_bits(From from) {
  static_assert(sizeof(To) == sizeof(From), "bit casts keep the width");
  To to;
  std::memcpy(&to, &from, sizeof(to));
  return to;
}

inline float __uint_as_float(unsigned int x) { return vt_emu_bits<float>(x); }
inline unsigned int __float_as_uint(float x) { return vt_emu_bits<unsigned int>(x); }
inline double __longlong_as_double(long long x) { return vt_emu_bits<double>(x); }
inline long long __double_as_longlong(double x) { return vt_emu_bits<long long>(x); }

inline float __fadd_rn(float a, float b) { return a + b; }
inline float __fsub_rn(float a, float b) { return a - b; }
inline float __fmul_rn(float a, float b) { return a * b; }
inline float __fdiv_rn(float a, float b) { return a / b; }
inline float __fmaf_rn(float a, float b, float c) { return std::fma(a, b, c); }
inline float __fsqrt_rn(float a) { return std::sqrt(a); }
inline double __dadd_rn(double a, double b) { return a + b; }
inline double __dmul_rn(double a, double b) { return a * b; }
inline float __double2float_rn(double a) { return static_cast<float>(a); }
using std::truncf;
