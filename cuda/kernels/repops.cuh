// The repops primitives (docs/repops.md § Primitives) as CUDA device
// functions. Every float operation is an explicit round-to-nearest intrinsic,
// so the PTX holds `add.rn.f32`, `fma.rn.f32`, `div.rn.f32`, `sqrt.rn.f32`
// and nothing the assembler may contract, approximate or flush: the program
// is compiled with --fmad=false --ftz=false --prec-div=true --prec-sqrt=true,
// and the PTX lint (src/lint.rs) refuses anything else.
//
// This file is also compiled as C++ on the CPU (emu/emu.h maps each
// intrinsic to its correctly rounded C++ operation), so the kernels' index
// arithmetic and programs are tested against the reference evaluator on
// machines without a GPU.

#define VT_CANONICAL_NAN 0x7FC00000u

// Sizes and indices: element counts fit in 32 bits (the executor checks),
// products of two of them do not, so index arithmetic is 64-bit.
typedef unsigned int vt_u32;
typedef unsigned long long vt_u64;

__device__ __forceinline__ bool vt_is_nan(float x) { return x != x; }

// On the bits: a compiler that treats NaN payloads as unspecified (LLVM,
// so NVVM) may fold `isnan(x) ? NaN : x` into `x`; integer selects keep
// their bits.
__device__ __forceinline__ float vt_canon(float x) {
  const vt_u32 bits = __float_as_uint(x);
  return __uint_as_float((bits & 0x7FFFFFFFu) > 0x7F800000u ? VT_CANONICAL_NAN : bits);
}

__device__ __forceinline__ float vt_add(float a, float b) { return vt_canon(__fadd_rn(a, b)); }
__device__ __forceinline__ float vt_sub(float a, float b) { return vt_canon(__fsub_rn(a, b)); }
__device__ __forceinline__ float vt_mul(float a, float b) { return vt_canon(__fmul_rn(a, b)); }
__device__ __forceinline__ float vt_div(float a, float b) { return vt_canon(__fdiv_rn(a, b)); }
__device__ __forceinline__ float vt_fma(float a, float b, float c) {
  return vt_canon(__fmaf_rn(a, b, c));
}
__device__ __forceinline__ float vt_sqrt(float a) { return vt_canon(__fsqrt_rn(a)); }

// One link of an accumulation chain whose end is canonicalised (the CPU's
// `fma_link`/`add_link`): a NaN anywhere gives a NaN at the end either way.
__device__ __forceinline__ float vt_fma_link(float a, float b, float c) {
  return __fmaf_rn(a, b, c);
}
__device__ __forceinline__ float vt_add_link(float a, float b) { return __fadd_rn(a, b); }

// `a > b ? c : d` and `a == b ? c : d` (ordered: false on a NaN). On the
// GPU as one compare and one select in inline PTX, because the compiler
// may otherwise turn `z > 0 ? z : 0` into a `max.f32`, whose rules for NaN
// and signed zeros are PTX's, not repops' (the lint refuses float max).
#ifdef __CUDA_ARCH__
__device__ __forceinline__ float vt_select_gt(float a, float b, float c, float d) {
  float r;
  asm("{\n\t.reg .pred p;\n\tsetp.gt.f32 p, %1, %2;\n\tselp.f32 %0, %3, %4, p;\n\t}"
      : "=f"(r)
      : "f"(a), "f"(b), "f"(c), "f"(d));
  return r;
}
__device__ __forceinline__ float vt_select_eq(float a, float b, float c, float d) {
  float r;
  asm("{\n\t.reg .pred p;\n\tsetp.eq.f32 p, %1, %2;\n\tselp.f32 %0, %3, %4, p;\n\t}"
      : "=f"(r)
      : "f"(a), "f"(b), "f"(c), "f"(d));
  return r;
}
#else
__device__ __forceinline__ float vt_select_gt(float a, float b, float c, float d) {
  return a > b ? c : d;
}
__device__ __forceinline__ float vt_select_eq(float a, float b, float c, float d) {
  return a == b ? c : d;
}
#endif

// max(a, b) = b > a ? b : canon(a); equal operands keep a (so max(-0, +0) = -0).
// (canon of the selection is the same: b is no NaN when b > a.)
__device__ __forceinline__ float vt_max(float a, float b) {
  return vt_canon(vt_select_gt(b, a, b, a));
}
__device__ __forceinline__ float vt_min(float a, float b) {
  return vt_canon(vt_select_gt(a, b, b, a));
}
__device__ __forceinline__ float vt_sel_gt(float a, float b, float c, float d) {
  return vt_canon(vt_select_gt(a, b, c, d));
}
__device__ __forceinline__ float vt_sel_eq(float a, float b, float c, float d) {
  return vt_canon(vt_select_eq(a, b, c, d));
}

// a·2^k for k truncated to [-512, 512] (NaN: 0), through one exact f64
// product and one rounding to f32 (subnormal results included).
__device__ __forceinline__ float vt_ldexp(float a, float k) {
  float kk = 0.0f;
  if (!vt_is_nan(k)) {
    kk = vt_select_gt(-512.0f, k, -512.0f, vt_select_gt(k, 512.0f, 512.0f, k));
    kk = truncf(kk);
  }
  double biased = __dadd_rn((double)kk, 1023.0 + 4503599627370496.0);
  // The shift on an unsigned value: shifting the signed bits out of range
  // is undefined in C++17 (NVRTC's dialect).
  double scale = __longlong_as_double((long long)((vt_u64)__double_as_longlong(biased) << 52));
  return vt_canon(__double2float_rn(__dmul_rn((double)a, scale)));
}

// The unbiased binary exponent of a as a float (of its f64 widening, so
// subnormals have their true exponent); ±inf: +inf; 0: -inf; NaN: NaN.
__device__ __forceinline__ float vt_getexp(float a) {
  if (vt_is_nan(a)) return __uint_as_float(VT_CANONICAL_NAN);
  if (a == __uint_as_float(0x7F800000u) || a == __uint_as_float(0xFF800000u))
    return __uint_as_float(0x7F800000u);
  if (a == 0.0f) return __uint_as_float(0xFF800000u);
  vt_u64 bits = (vt_u64)__double_as_longlong((double)a) & 0x7FFFFFFFFFFFFFFFull;
  return (float)((int)(bits >> 52) - 1023);
}

// exp as docs/repops.md § exp: clamp, range reduction by k·ln2 in two
// parts, a degree-7 Taylor polynomial in Horner form, then ldexp.
__device__ __forceinline__ float vt_exp(float x) {
  x = vt_max(x, -104.0f);
  x = vt_min(x, 89.0f);
  const float magic = 12582912.0f;
  float t = vt_mul(x, __uint_as_float(0x3FB8AA3Bu));
  t = vt_add(t, magic);
  float k = vt_sub(t, magic);
  float r = vt_fma(k, -__uint_as_float(0x3F317200u), x);
  r = vt_fma(k, -__uint_as_float(0x35BFBE8Eu), r);
  float p = __uint_as_float(0x39500D01u);
  p = vt_fma(p, r, __uint_as_float(0x3AB60B61u));
  p = vt_fma(p, r, __uint_as_float(0x3C088889u));
  p = vt_fma(p, r, __uint_as_float(0x3D2AAAABu));
  p = vt_fma(p, r, __uint_as_float(0x3E2AAAABu));
  p = vt_fma(p, r, 0.5f);
  p = vt_fma(p, r, 1.0f);
  p = vt_fma(p, r, 1.0f);
  return vt_ldexp(p, k);
}

// log as docs/repops.md § log: s = m·2^e with m in [1/√2·…, √2], then
// ln m = 2·atanh(z) with z = (m − 1)/(m + 1), a series in z².
__device__ __forceinline__ float vt_log(float s) {
  float e = vt_getexp(s);
  float neg_e = vt_mul(e, -1.0f);
  float m = vt_ldexp(s, neg_e);
  const float sqrt2 = __uint_as_float(0x3FB504F3u);
  float m_half = vt_mul(m, 0.5f);
  float e_plus = vt_add(e, 1.0f);
  float reduced = vt_sel_gt(m, sqrt2, m_half, m);
  e = vt_sel_gt(m, sqrt2, e_plus, e);
  float f = vt_sub(reduced, 1.0f);
  float d = vt_add(f, 2.0f);
  float z = vt_div(f, d);
  float w = vt_mul(z, z);
  float q = __uint_as_float(0x3DBA2E8Cu);
  q = vt_fma(q, w, __uint_as_float(0x3DE38E39u));
  q = vt_fma(q, w, __uint_as_float(0x3E124925u));
  q = vt_fma(q, w, __uint_as_float(0x3E4CCCCDu));
  q = vt_fma(q, w, __uint_as_float(0x3EAAAAABu));
  q = vt_fma(q, w, 1.0f);
  float z2 = vt_add(z, z);
  float ln_m = vt_mul(z2, q);
  float y = vt_fma(e, __uint_as_float(0x35BFBE8Eu), ln_m);
  return vt_fma(e, __uint_as_float(0x3F317200u), y);
}

// The grid-stride loop over n elements: every kernel below is correct for
// any grid and block size (the executor picks them; the tests vary them).
#define VT_FOR_EACH(e, n)                                                  \
  for (vt_u64 e = (vt_u64)blockIdx.x * blockDim.x + threadIdx.x; e < (n); \
       e += (vt_u64)gridDim.x * blockDim.x)
