// The device qualification's known-answer kernel: each primitive of
// docs/repops.md § Primitives (and the exp and log programs) on operand
// tuples chosen where a device could go wrong (subnormals, products whose
// fused and unfused sums differ, quotients and roots near a rounding tie,
// NaN payloads, signed zeros), compared with the CPU by the caller.
//
// opcodes[i] is an `Opcode` value (1 add … 12 getexp), or 13 for exp and
// 14 for log; operands[4i..4i+4] its operands.

extern "C" __global__ void vtk_primitive(const vt_u32* __restrict__ opcodes,
                                         const float* __restrict__ operands, vt_u32 n,
                                         float* __restrict__ out) {
  VT_FOR_EACH(i, n) {
    const float a = operands[4 * i], b = operands[4 * i + 1], c = operands[4 * i + 2],
                d = operands[4 * i + 3];
    float r;
    switch (opcodes[i]) {
      case 1: r = vt_add(a, b); break;
      case 2: r = vt_sub(a, b); break;
      case 3: r = vt_mul(a, b); break;
      case 4: r = vt_div(a, b); break;
      case 5: r = vt_fma(a, b, c); break;
      case 6: r = vt_sqrt(a); break;
      case 7: r = vt_max(a, b); break;
      case 8: r = vt_min(a, b); break;
      case 9: r = vt_sel_gt(a, b, c, d); break;
      case 10: r = vt_sel_eq(a, b, c, d); break;
      case 11: r = vt_ldexp(a, b); break;
      case 12: r = vt_getexp(a); break;
      case 13: r = vt_exp(a); break;
      case 14: r = vt_log(a); break;
      default: r = __uint_as_float(0x7FBADBADu); break;  // no such opcode: a NaN no primitive returns
    }
    out[i] = r;
  }
}
