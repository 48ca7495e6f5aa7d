//! The PTX lint: refuses any instruction through which the GPU could give
//! other bits than the repops definition (docs/gpu.md § The PTX lint).
//!
//! - float `add`, `sub`, `mul`, `fma`, `mad`, `div`, `sqrt`, `rcp` without
//!   `.rn` (an unsuffixed `add.f32` may be contracted by the assembler into
//!   an fma; `div.full` and `.approx` are not correctly rounded);
//! - any `.ftz` (flushes subnormals) and any `.approx`;
//! - the approximate-only transcendentals `ex2`, `lg2`, `sin`, `cos`,
//!   `tanh`, `rsqrt`;
//! - float `min`/`max` (their NaN rules are not repops' `max`);
//! - float atomics and reductions (`atom`, `red` on a float type): their
//!   order is the scheduler's;
//! - tensor-core instructions (`mma`, `wmma`, `wgmma`);
//! - a `cvt` to a float from an integer or a wider float without `.rn`.

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

const FLOAT_TYPES: &[&str] = &["f16", "f16x2", "bf16", "bf16x2", "f32", "f64"];
const INT_TYPES: &[&str] = &["s8", "s16", "s32", "s64", "u8", "u16", "u32", "u64"];
const ROUNDED: &[&str] = &["add", "sub", "mul", "fma", "mad", "div", "sqrt", "rcp"];
const APPROXIMATE_ONLY: &[&str] = &["ex2", "lg2", "sin", "cos", "tanh", "rsqrt"];
const TENSOR_CORE: &[&str] = &["mma", "wmma", "wgmma"];

/// Every refused instruction of `ptx`; empty when it passes.
pub fn lint(ptx: &str) -> Vec<Finding> {
    let mut findings = Vec::new();
    for (index, raw) in ptx.lines().enumerate() {
        let Some(instruction) = instruction(raw) else {
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
    findings
}

/// The instruction on a PTX line, without its predicate guard and `;`:
/// `None` for directives, labels, braces, comments and blank lines.
fn instruction(raw: &str) -> Option<&str> {
    let line = raw.split("//").next().unwrap_or_default().trim();
    let line = line.trim_end_matches(';').trim();
    if line.is_empty() || line.starts_with('.') || line.starts_with('{') || line.starts_with('}') {
        return None;
    }
    if line.ends_with(':') {
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
    let has = |m: &str| modifiers.contains(&m);
    let float = modifiers.iter().any(|m| FLOAT_TYPES.contains(m));
    if has("ftz") {
        return Some("flushes subnormals to zero");
    }
    if has("approx") {
        return Some("approximate, not correctly rounded");
    }
    if has("full") {
        return Some("div.full is not correctly rounded");
    }
    if APPROXIMATE_ONLY.contains(&base) {
        return Some("exists only approximate in PTX; repops computes it from primitives");
    }
    if TENSOR_CORE.contains(&base) {
        return Some("tensor cores reorder and may round sums differently");
    }
    if (base == "atom" || base == "red") && float {
        return Some("a float atomic sums in the scheduler's order");
    }
    if (base == "min" || base == "max") && float {
        return Some("PTX min/max NaN rules differ from repops' max/min");
    }
    if ROUNDED.contains(&base) && float && !has("rn") {
        return Some("float arithmetic without .rn may be contracted or approximated");
    }
    if base == "cvt" {
        return cvt_refusal(&modifiers);
    }
    None
}

/// `cvt.<rounding>.<to>.<from>`: to a float from an integer or from a wider
/// float, the rounding must be `.rn`.
fn cvt_refusal(modifiers: &[&str]) -> Option<&'static str> {
    let types: Vec<&str> = modifiers
        .iter()
        .copied()
        .filter(|m| FLOAT_TYPES.contains(m) || INT_TYPES.contains(m))
        .collect();
    let [to, from] = types[..] else {
        return None;
    };
    let width = |t: &str| -> u32 {
        t.trim_start_matches(|c: char| c.is_ascii_alphabetic())
            .trim_end_matches("x2")
            .parse()
            .unwrap_or(0)
    };
    let rounds =
        INT_TYPES.contains(&from) || (FLOAT_TYPES.contains(&from) && width(from) > width(to));
    if FLOAT_TYPES.contains(&to) && rounds && !modifiers.contains(&"rn") {
        return Some("a rounding conversion to float other than round-to-nearest");
    }
    None
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
            "\tneg.f32 %f2, %f1;",
            "\t.reg .f32 %f<8>;",
            "// add.f32 in a comment",
            "$L__BB0_2:",
            "\tbar.sync \t0;",
        ] {
            assert!(!refused(good), "{good} should pass: {:?}", lint(good));
        }
    }
}
