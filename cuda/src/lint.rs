//! The PTX lint: refuses any instruction through which the GPU could give
//! other bits than the repops definition (docs/repops.md § 9).
//!
//! An allowlist: an instruction that touches a floating-point type (any of
//! `f16`, `bf16`, `tf32`, `f32`, `f64`, the fp8 and packed types) passes
//! only in one of these forms, everything else with a float type is
//! refused:
//!
//! - `add`, `sub`, `mul`, `div`, `fma`, `sqrt` with exactly `.rn` and
//!   `.f32` or `.f64` (no `.ftz`, `.sat`, `.approx`, `.full`, other roundings);
//! - `setp.<cmp>[.<bool op>].f32|f64` (an IEEE comparison; no `.ftz`);
//! - `selp`, `mov`, `ld`, `st` of `.f32`/`.f64` (moves, no arithmetic);
//! - `cvt` to f32 or f64 with `.rn` from an integer or a wider float,
//!   `cvt.f64.f32` (exact), `cvt.rzi.f32.f32` (trunc), and float to integer
//!   with `.rzi`.
//!
//! Besides, with or without a float type: any `.ftz`, `.approx`, `.sat`,
//! `.satfinite`, `.relu` modifier; tensor-core instructions (`mma`, `wmma`,
//! `wgmma`); and atomics or reductions on a float type. Lines are split at
//! `;` and inline-assembly braces, so every instruction on a line is read.

/// One refused instruction.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finding {
    /// The 1-based line in the PTX.
    pub line: usize,
    /// The instruction as written.
    pub instruction: String,
    /// Why it is refused.
    pub reason: &'static str,
}

impl std::fmt::Display for Finding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "line {}: `{}`: {}",
            self.line, self.instruction, self.reason
        )
    }
}

const INT_TYPES: &[&str] = &[
    "s8", "s16", "s32", "s64", "u8", "u16", "u32", "u64", "b8", "b16", "b32", "b64", "pred",
];
const ROUNDED: &[&str] = &["add", "sub", "mul", "div", "fma", "sqrt"];
const MOVES: &[&str] = &["selp", "mov", "ld", "st"];
const NEVER: &[&str] = &["ftz", "approx", "sat", "satfinite", "relu", "full"];
const TENSOR_CORE: &[&str] = &["mma", "wmma", "wgmma"];

/// Whether a modifier names a floating-point type (`f32`, `bf16x2`, `tf32`,
/// `e4m3x2`, …).
fn is_float_type(modifier: &str) -> bool {
    let base = modifier.trim_end_matches("x2").trim_end_matches("x4");
    matches!(
        base,
        "tf32" | "e4m3" | "e5m2" | "e2m3" | "e3m2" | "e2m1" | "ue8m0"
    ) || base
        .strip_prefix("bf")
        .or_else(|| base.strip_prefix('f'))
        .is_some_and(|digits| !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()))
}

/// Every refused instruction of `ptx`; empty when it passes.
pub fn lint(ptx: &str) -> Vec<Finding> {
    let mut findings = Vec::new();
    for (index, raw) in ptx.lines().enumerate() {
        let code = raw.split("//").next().unwrap_or_default();
        for piece in code.split([';', '{', '}']) {
            let Some(instruction) = instruction(piece) else {
                continue;
            };
            let opcode = instruction.split_whitespace().next().unwrap_or_default();
            if let Some(reason) = refusal(opcode) {
                findings.push(Finding {
                    line: index + 1,
                    instruction: instruction.to_owned(),
                    reason,
                });
            }
        }
    }
    findings
}

/// The instruction in a piece of a PTX line, without its label and
/// predicate guard: `None` for directives, declarations and blanks.
fn instruction(piece: &str) -> Option<&str> {
    let mut line = piece.trim();
    // A label before an instruction (`$L__BB0_2: add…`).
    if let Some((label, rest)) = line.split_once(':')
        && !label.contains(char::is_whitespace)
    {
        line = rest.trim();
    }
    if line.is_empty() || line.starts_with('.') {
        return None;
    }
    let line = match line.strip_prefix('@') {
        // `@%p1 bra …` / `@!%p1 …`: drop the guard.
        Some(guarded) => guarded.split_once(char::is_whitespace)?.1.trim(),
        None => line,
    };
    Some(line)
}

/// Why an opcode (`add.rn.f32`) is refused, if it is.
fn refusal(opcode: &str) -> Option<&'static str> {
    let mut parts = opcode.split('.');
    let base = parts.next().unwrap_or_default();
    let modifiers: Vec<&str> = parts.collect();
    let floats: Vec<&str> = modifiers
        .iter()
        .copied()
        .filter(|m| is_float_type(m))
        .collect();
    if let Some(bad) = modifiers.iter().find(|m| NEVER.contains(m)) {
        return Some(match *bad {
            "ftz" => "flushes subnormals to zero",
            "approx" | "full" => "approximate, not correctly rounded",
            _ => "saturates or clamps (a NaN becomes a number)",
        });
    }
    if TENSOR_CORE.contains(&base) {
        return Some("tensor cores reorder and may round sums differently");
    }
    if floats.is_empty() {
        return None;
    }
    let exact_types = floats.iter().all(|t| *t == "f32" || *t == "f64");
    if !exact_types {
        return Some("a floating-point type other than f32 and f64");
    }
    match base {
        "atom" | "red" => Some("a float atomic sums in the scheduler's order"),
        _ if ROUNDED.contains(&base) => {
            (modifiers.len() != 2 || modifiers[0] != "rn")
                .then_some("float arithmetic other than `.rn.f32`/`.rn.f64` may be contracted, approximated or rounded otherwise")
        }
        "setp" => None,
        _ if MOVES.contains(&base) => None,
        "cvt" => cvt_refusal(&modifiers),
        _ => Some("a float instruction outside the allowlist (e.g. min, max, neg, abs, ex2, testp)"),
    }
}

/// `cvt.<rounding>.<to>.<from>` with a float on either side.
fn cvt_refusal(modifiers: &[&str]) -> Option<&'static str> {
    let types: Vec<&str> = modifiers
        .iter()
        .copied()
        .filter(|m| is_float_type(m) || INT_TYPES.contains(m))
        .collect();
    let rounding: Vec<&str> = modifiers
        .iter()
        .copied()
        .filter(|m| !is_float_type(m) && !INT_TYPES.contains(m))
        .collect();
    let allowed = match (types.as_slice(), rounding.as_slice()) {
        // Exact widening.
        (["f64", "f32"], []) => true,
        // Narrowing, or from an integer: round to nearest.
        (["f32", "f64"], ["rn"]) => true,
        (["f32" | "f64", from], ["rn"]) if INT_TYPES.contains(from) => true,
        // trunc, and float to integer toward zero.
        (["f32", "f32"], ["rzi"]) | (["f64", "f64"], ["rzi"]) => true,
        ([to, "f32" | "f64"], ["rzi"]) if INT_TYPES.contains(to) => true,
        _ => false,
    };
    (!allowed)
        .then_some("a float conversion outside the allowlist (rounding other than the text's)")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(line: &str) -> bool {
        !lint(line).is_empty()
    }

    #[test]
    fn refuses_what_could_change_the_bits() {
        for bad in [
            "\tadd.f32 \t%f3, %f1, %f2;",
            "\tsub.f32 %f3, %f1, %f2;",
            "\tmul.f32 %f3, %f1, %f2;",
            "\tfma.rz.f32 %f4, %f1, %f2, %f3;",
            "\tmad.f32 %f4, %f1, %f2, %f3;",
            "\tadd.rn.ftz.f32 %f3, %f1, %f2;",
            "\tdiv.approx.f32 %f3, %f1, %f2;",
            "\tdiv.full.f32 %f3, %f1, %f2;",
            "\tsqrt.approx.f32 %f2, %f1;",
            "\tex2.approx.ftz.f32 %f2, %f1;",
            "\tlg2.approx.f32 %f2, %f1;",
            "\trcp.approx.f64 %fd2, %fd1;",
            "\tatom.global.add.f32 %f2, [%rd1], %f1;",
            "\tred.global.add.f32 [%rd1], %f1;",
            "\tmax.f32 %f3, %f1, %f2;",
            "\tmin.NaN.f32 %f3, %f1, %f2;",
            "\tmma.sync.aligned.m16n8k8.row.col.f32.tf32.tf32.f32 {%f1}, {%r1}, {%r2}, {%f2};",
            "\tcvt.rz.f32.f64 %f1, %fd1;",
            "\tcvt.rm.f32.s32 %f1, %r1;",
            "\t@%p1 add.f32 %f3, %f1, %f2;",
            "\t@!%p2 mul.f64 %fd3, %fd1, %fd2;",
            "\tfma.rn.sat.f32 %f4, %f1, %f2, %f3;",
            "\tadd.rn.relu.f32 %f3, %f1, %f2;",
            "\tcvt.sat.f32.f32 %f2, %f1;",
            "\tcvt.rna.tf32.f32 %r1, %f1;",
            "\tcvt.rn.f16.f32 %rs1, %f1;",
            "\tadd.rn.f16 %rs3, %rs1, %rs2;",
            "\tneg.f32 %f2, %f1;",
            "\tabs.f32 %f2, %f1;",
            "\ttestp.notanumber.f32 %p1, %f1;",
            "\tcopysign.f32 %f3, %f1, %f2;",
            "\t{ .reg .pred p; add.f32 %f3, %f1, %f2; }",
            "\tmov.f32 %f1, %f2; mul.f32 %f3, %f1, %f2;",
            "$L__BB0_2: add.f32 %f3, %f1, %f2;",
            "\tcvt.rni.f32.f32 %f2, %f1;",
            "\tcvt.rzi.f32.f64 %f2, %fd1;",
        ] {
            assert!(refused(bad), "{bad} should be refused");
        }
    }

    #[test]
    fn passes_the_exact_instructions() {
        for good in [
            "\tadd.rn.f32 \t%f3, %f1, %f2;",
            "\tfma.rn.f32 %f4, %f1, %f2, %f3;",
            "\tdiv.rn.f32 %f3, %f1, %f2;",
            "\tsqrt.rn.f32 %f2, %f1;",
            "\tmul.rn.f64 %fd3, %fd1, %fd2;",
            "\tadd.s64 %rd3, %rd1, %rd2;",
            "\tmul.wide.u32 %rd1, %r1, 4;",
            "\tmul.lo.s32 %r3, %r1, %r2;",
            "\tmax.u32 %r3, %r1, %r2;",
            "\tatom.global.add.u32 %r2, [%rd1], 1;",
            "\tcvt.rn.f32.f64 %f1, %fd1;",
            "\tcvt.f64.f32 %fd1, %f1;",
            "\tcvt.rzi.f32.f32 %f2, %f1;",
            "\tcvt.rn.f32.u32 %f1, %r1;",
            "\tcvt.rzi.s32.f32 %r1, %f1;",
            "\tsetp.gt.f32 %p1, %f1, %f2;",
            "\tselp.f32 %f3, %f1, %f2, %p1;",
            "\t.reg .f32 %f<8>;",
            "\t{\n\t.reg .pred p;",
            "\tsetp.gt.f32 p, %f1, %f2;",
            "\tselp.f32 %f3, %f4, %f5, p;",
            "\tld.global.nc.f32 %f1, [%rd1];",
            "\tst.global.f32 [%rd1], %f1;",
            "\tmov.b32 %f1, %r1;",
            "\tcvt.rzi.u64.f32 %rd1, %f1;",
            "\tsetp.nan.f32 %p1, %f1, %f1;",
            "// add.f32 in a comment",
            "$L__BB0_2:",
            "\tbar.sync \t0;",
        ] {
            assert!(!refused(good), "{good} should pass: {:?}", lint(good));
        }
    }
}
