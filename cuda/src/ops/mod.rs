//! One repop on a device: which kernel, with which parameters, over which
//! grid. Written once for every [`Device`], so the emulated runs test this
//! dispatch along with the kernels.

mod attention;
mod conv;
mod norm;

pub(crate) use crate::device::{Device, Launch, Param, words_of};
use crate::error::{Error, Result};
use vtrain_proof_of_learning::repops::{Direct, Op};

/// Threads per block of the one-dimensional kernels.
pub(crate) const BLOCK: u32 = 256;
/// Blocks of a grid-stride launch: enough to fill any current GPU several
/// times over; beyond it threads loop.
pub(crate) const MAX_BLOCKS: u32 = 65_535;

/// Buffers a launch reads besides its inputs, kept alive until the step is
/// downloaded.
pub(crate) type OpOutputScratch<D> = Vec<<D as Device>::Buffer>;

/// The kernels of `kernels/elementwise.cu` and `kernels/gemm.cu`.
const MLP_KERNELS: &[&str] = &[
    "vtk_gather",
    "vtk_relu",
    "vtk_relu_grad",
    "vtk_add",
    "vtk_log_softmax",
    "vtk_xent_grad",
    "vtk_bias_grad",
    "vtk_sgd_velocity",
    "vtk_sgd_weight",
    "vtk_adam_first_moment",
    "vtk_adam_second_moment",
    "vtk_adam_weight",
    "vtk_gemm",
];

/// Every kernel the source defines, by its (unmangled) name, in source order.
pub fn kernels() -> Vec<&'static str> {
    [
        MLP_KERNELS,
        conv::KERNELS,
        norm::KERNELS,
        attention::KERNELS,
        QUALIFY_KERNELS,
    ]
    .concat()
}

/// The kernel of `kernels/qualify.cu` (the device qualification's).
const QUALIFY_KERNELS: &[&str] = &["vtk_primitive"];

/// The GEMM's output tile and thread block (kernels/gemm.cu).
const GEMM_TILE: usize = 64;

/// The output of one op and the scratch buffers its launches read, which
/// must outlive them (the caller keeps them until the step is downloaded).
pub struct OpOutput<B> {
    /// The op's output tensor.
    pub out: B,
    /// Buffers the launches read besides the inputs (a batch's row list).
    pub scratch: Vec<B>,
}

/// A short name for an op, for errors.
pub fn op_name(op: &Op) -> String {
    op.name()
}

/// Whether the backend has a kernel for `op`.
pub fn supports(op: &Op) -> bool {
    conv::supports(op)
        || norm::supports(op)
        || attention::supports(op)
        || matches!(
            op,
            Op::Schedule { .. }
                | Op::Gather { .. }
                | Op::Relu
                | Op::ReluGrad
                | Op::Add
                | Op::LogSoftmax { .. }
                | Op::XentGrad { .. }
                | Op::BiasGrad { .. }
                | Op::SgdVelocity { .. }
                | Op::SgdWeight
                | Op::AdamFirstMoment(_)
                | Op::AdamSecondMoment(_)
                | Op::AdamWeight(_)
                | Op::Linear { .. }
                | Op::WeightGrad { .. }
                | Op::InputGrad { .. }
        )
}

/// A size as a kernel's 32-bit count.
pub(crate) fn count(n: usize) -> Result<u32> {
    u32::try_from(n).map_err(|_| {
        Error::TooLarge(format!(
            "a tensor of {n} elements exceeds the kernels' 2^32 limit"
        ))
    })
}

/// Runs `op` on `inputs` (device buffers, in the op's input order) into a
/// new buffer of `len` elements.
pub fn run_op<D: Device>(
    device: &D,
    op: &Op,
    inputs: &[&D::Buffer],
    len: usize,
) -> Result<OpOutput<D::Buffer>> {
    let n = count(len)?;
    check_shapes(device, op, inputs, len)?;
    let at = |slot: usize| Param::Ptr(device.address(inputs[slot]));
    let linear = Launch::linear(len, BLOCK, MAX_BLOCKS);
    let mut scratch = Vec::new();
    let out = match *op {
        Op::Schedule { .. } => {
            // No inputs: four scalars of the step's constants, the same
            // program as the reference's, on the host.
            let values: Vec<f32> = (0..len).map(|e| op.element(&mut Direct, &[], e)).collect();
            return Ok(OpOutput {
                out: device.upload(&values)?,
                scratch,
            });
        }
        _ => device.alloc(len)?,
    };
    if conv::launch(device, op, inputs, &out, len, &mut scratch)?
        || norm::launch(device, op, inputs, &out, len, &mut scratch)?
        || attention::launch(device, op, inputs, &out, len, &mut scratch)?
    {
        return Ok(OpOutput { out, scratch });
    }
    let o = Param::Ptr(device.address(&out));
    match *op {
        Op::Schedule { .. } => unreachable!("handled above"),
        Op::Gather {
            ref rows,
            width,
            start,
            len: columns,
        } => {
            let rows = device.upload(&words_of(rows))?;
            let params = [
                at(0),
                Param::Ptr(device.address(&rows)),
                Param::U32(count(width)?),
                Param::U32(count(start)?),
                Param::U32(count(columns)?),
                Param::U32(n),
                o,
            ];
            device.launch("vtk_gather", linear, &params)?;
            scratch.push(rows);
        }
        Op::Relu => device.launch("vtk_relu", linear, &[at(0), Param::U32(n), o])?,
        Op::ReluGrad => {
            device.launch("vtk_relu_grad", linear, &[at(0), at(1), Param::U32(n), o])?
        }
        Op::Add => device.launch("vtk_add", linear, &[at(0), at(1), Param::U32(n), o])?,
        Op::LogSoftmax { rows, classes } => device.launch(
            "vtk_log_softmax",
            Launch::linear(rows, BLOCK, MAX_BLOCKS),
            &[
                at(0),
                Param::U32(count(rows)?),
                Param::U32(count(classes)?),
                o,
            ],
        )?,
        Op::XentGrad { rows, classes } => device.launch(
            "vtk_xent_grad",
            linear,
            &[
                at(0),
                at(1),
                Param::U32(count(rows)?),
                Param::U32(count(classes)?),
                o,
            ],
        )?,
        Op::BiasGrad { m, o: columns } => device.launch(
            "vtk_bias_grad",
            Launch::linear(columns, BLOCK, MAX_BLOCKS),
            &[at(0), Param::U32(count(m)?), Param::U32(count(columns)?), o],
        )?,
        Op::SgdVelocity {
            momentum,
            weight_decay,
        } => device.launch(
            "vtk_sgd_velocity",
            linear,
            &[
                at(1),
                at(2),
                at(3),
                Param::F32(momentum),
                Param::F32(weight_decay),
                Param::U32(n),
                o,
            ],
        )?,
        Op::SgdWeight => device.launch(
            "vtk_sgd_weight",
            linear,
            &[at(0), at(1), at(2), Param::U32(n), o],
        )?,
        Op::AdamFirstMoment(p) => device.launch(
            "vtk_adam_first_moment",
            linear,
            &[at(2), at(3), Param::F32(p.beta1), Param::U32(n), o],
        )?,
        Op::AdamSecondMoment(p) => device.launch(
            "vtk_adam_second_moment",
            linear,
            &[at(2), at(4), Param::F32(p.beta2), Param::U32(n), o],
        )?,
        Op::AdamWeight(p) => device.launch(
            "vtk_adam_weight",
            linear,
            &[
                at(0),
                at(1),
                at(2),
                at(3),
                Param::F32(p.eps),
                Param::F32(p.weight_decay),
                Param::U32(n),
                o,
            ],
        )?,
        // Z = b + A·Wᵀ: A [m,k] row-major, B(k,j) = W[j,k].
        Op::Linear { m, k, n: columns } => gemm(
            device,
            (m, columns, k),
            (at(0), k, 1),
            (at(1), 1, k),
            Some(at(2)),
            o,
        )?,
        // dW[o,k] = Σ_i dZ[i,o]·A[i,k]: A'(o,i) = dZ[i,o], B(i,k) = A[i,k].
        Op::WeightGrad { m, o: outs, k } => gemm(
            device,
            (outs, k, m),
            (at(0), 1, outs),
            (at(1), k, 1),
            None,
            o,
        )?,
        // dA[i,k] = Σ_o dZ[i,o]·W[o,k].
        Op::InputGrad { m, o: outs, k } => gemm(
            device,
            (m, k, outs),
            (at(0), outs, 1),
            (at(1), k, 1),
            None,
            o,
        )?,
        _ => return Err(Error::UnsupportedOp(op_name(op))),
    }
    Ok(OpOutput { out, scratch })
}

/// Refuses a launch whose buffers do not fit the op: the wrong number of
/// inputs, or an input or output of another length than the op's shape
/// gives (the convolution family checks its own, `conv::launch`). A kernel
/// trusts its sizes, so a mismatch would read or write out of bounds on the
/// GPU without an error.
fn check_shapes<D: Device>(device: &D, op: &Op, inputs: &[&D::Buffer], len: usize) -> Result<()> {
    let refuse = |reason: String| Error::Launch {
        device: device.describe(),
        kernel: op.name(),
        reason,
    };
    if inputs.len() != op.arity() {
        return Err(refuse(format!(
            "{} inputs, the op reads {}",
            inputs.len(),
            op.arity()
        )));
    }
    if let Op::Gather {
        ref rows,
        width,
        start,
        len: columns,
    } = *op
    {
        let data = device.len(inputs[0]);
        let fits =
            start + columns <= width && rows.iter().all(|&r| (r as usize + 1) * width <= data);
        if !fits {
            return Err(refuse(format!(
                "columns {start}..{} of rows of {width} do not fit a dataset of {data} values",
                start + columns
            )));
        }
    }
    let Some((want_len, want_inputs)) = expected_shapes(op, len) else {
        return Ok(());
    };
    if len != want_len {
        return Err(refuse(format!(
            "an output of {len} elements, the op's shape gives {want_len}"
        )));
    }
    for (slot, (buffer, want)) in inputs.iter().zip(want_inputs).enumerate() {
        let have = device.len(buffer);
        let fits = match want {
            Want::Exactly(n) => have == n,
            Want::AtLeast(n) => have >= n,
        };
        if !fits {
            return Err(refuse(format!(
                "input {slot} holds {have} elements, the op's shape reads {want}"
            )));
        }
    }
    Ok(())
}

/// The length an input must have.
#[derive(Clone, Copy, Debug)]
enum Want {
    Exactly(usize),
    AtLeast(usize),
}

impl std::fmt::Display for Want {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Exactly(n) => write!(f, "{n}"),
            Self::AtLeast(n) => write!(f, "at least {n}"),
        }
    }
}

/// The output length and the input lengths of `op` (given its output's
/// `len` where the op is element-wise); `None` for the convolution family
/// and the schedule and gather, checked elsewhere.
fn expected_shapes(op: &Op, len: usize) -> Option<(usize, Vec<Want>)> {
    use Want::Exactly as E;
    let same = |count: usize| vec![E(len); count];
    let attention = |g: &vtrain_proof_of_learning::repops::AttentionGeometry| {
        (g.scores(), g.activations(), g.batch * g.heads * g.seq)
    };
    Some(match *op {
        Op::Relu | Op::Gelu => (len, same(1)),
        Op::ReluGrad | Op::Add | Op::GeluGrad => (len, same(2)),
        Op::LogSoftmax { rows, classes } => (rows * classes, vec![E(rows * classes)]),
        Op::XentGrad { rows, classes } => (rows * classes, vec![E(rows * classes), E(rows)]),
        Op::BiasGrad { m, o } => (o, vec![E(m * o)]),
        Op::SgdVelocity { .. } => (len, [vec![E(4)], same(3)].concat()),
        Op::SgdWeight => (len, [vec![E(4)], same(2)].concat()),
        Op::AdamWeight(_) => (len, [vec![E(4)], same(3)].concat()),
        Op::AdamFirstMoment(_) | Op::AdamSecondMoment(_) => (len, [vec![E(4)], same(4)].concat()),
        Op::Linear { m, k, n } => (m * n, vec![E(m * k), E(n * k), E(n)]),
        Op::WeightGrad { m, o, k } => (o * k, vec![E(m * o), E(m * k)]),
        Op::InputGrad { m, o, k } => (m * k, vec![E(m * o), E(o * k)]),
        Op::LayerNormStats(ref g) => (2 * g.rows, vec![E(g.rows * g.width)]),
        Op::LayerNorm(ref g) => (
            g.rows * g.width,
            vec![E(g.rows * g.width), E(2 * g.rows), E(g.width), E(g.width)],
        ),
        Op::LayerNormInputGrad(ref g) => (
            g.rows * g.width,
            vec![
                E(g.rows * g.width),
                E(2 * g.rows),
                E(g.width),
                E(g.rows * g.width),
            ],
        ),
        Op::LayerNormWeightGrad(ref g) => (
            g.width,
            vec![E(g.rows * g.width), E(2 * g.rows), E(g.rows * g.width)],
        ),
        Op::GradSquareSum { len: n, chained } => (
            1,
            if chained {
                vec![E(1), E(n)]
            } else {
                vec![E(n)]
            },
        ),
        Op::ClipScale { .. } => (1, vec![E(1)]),
        Op::ClipGrad => (len, vec![E(len), E(1)]),
        Op::Embed(ref g) => (
            g.batch * g.seq * g.dim,
            vec![
                E(g.batch * g.seq),
                E(g.vocab * g.dim),
                Want::AtLeast(g.seq * g.dim),
            ],
        ),
        Op::EmbedGrad(ref g) => (
            g.vocab * g.dim,
            vec![E(g.batch * g.seq), E(g.batch * g.seq * g.dim)],
        ),
        Op::AttnScores(ref g) | Op::AttnProbsGrad(ref g) => {
            let (s, a, _) = attention(g);
            (s, vec![E(a), E(a)])
        }
        Op::AttnSoftmaxStats(ref g) => {
            let (s, _, r) = attention(g);
            (2 * r, vec![E(s)])
        }
        Op::AttnSoftmax(ref g) => {
            let (s, _, r) = attention(g);
            (s, vec![E(s), E(2 * r)])
        }
        Op::AttnContext(ref g)
        | Op::AttnValueGrad(ref g)
        | Op::AttnQueryGrad(ref g)
        | Op::AttnKeyGrad(ref g) => {
            let (s, a, _) = attention(g);
            (a, vec![E(s), E(a)])
        }
        Op::AttnSoftmaxDot(ref g) => {
            let (s, _, r) = attention(g);
            (r, vec![E(s), E(s)])
        }
        Op::AttnSoftmaxGrad(ref g) => {
            let (s, _, r) = attention(g);
            (s, vec![E(s), E(s), E(r)])
        }
        _ => return None,
    })
}

/// `C[m×n] = init + A·B` with A(i,k) at `a + i·rs + k·cs`, B likewise, init
/// the bias (a `[n]` buffer) or +0.
pub(crate) fn gemm<D: Device>(
    device: &D,
    (m, n, k): (usize, usize, usize),
    (a, a_rs, a_cs): (Param, usize, usize),
    (b, b_rs, b_cs): (Param, usize, usize),
    bias: Option<Param>,
    c: Param,
) -> Result<()> {
    // Rows of tiles go on grid.y, which CUDA limits to 65,535 blocks.
    let row_tiles = m.div_ceil(GEMM_TILE).max(1);
    if row_tiles > 65_535 {
        return Err(Error::TooLarge(format!(
            "a matrix product of {m} rows exceeds the GPU grid's 65,535 tiles of {GEMM_TILE}"
        )));
    }
    let shape = Launch {
        grid: [count(n.div_ceil(GEMM_TILE).max(1))?, count(row_tiles)?, 1],
        block: [16, 16, 1],
    };
    let params = [
        Param::U32(count(m)?),
        Param::U32(count(n)?),
        Param::U32(count(k)?),
        a,
        Param::U32(count(a_rs)?),
        Param::U32(count(a_cs)?),
        b,
        Param::U32(count(b_rs)?),
        Param::U32(count(b_cs)?),
        bias.unwrap_or(Param::Ptr(0)),
        Param::U32(u32::from(bias.is_some())),
        c,
    ];
    device.launch("vtk_gemm", shape, &params)
}
