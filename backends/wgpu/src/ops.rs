//! Lowering of validated ops to kernels: which WGSL body, the prelude (dtypes and op
//! constants), the parameter header and the invocation count. The operand views are passed
//! through unchanged (core's canonical forms, see `accel_core::op`).

use crate::prelude::{f32_lit, prelude};
use accel_core::op::{Activation, BinaryOp, EpilogueDesc, MatmulDesc, ReduceOp, UnaryOp};
use accel_core::{DType, Op, View};
use accel_kernels::wgsl::{self, TiledConfig};
use std::fmt::Write;

/// One kernel launch: its full WGSL source, header words, extra words (after the views) and
/// the number of invocations (one per output element, or per row), or for kernels with their
/// own workgroup shape the workgroup grid itself.
pub(crate) struct Kernel {
    pub(crate) source: String,
    pub(crate) header: [u32; wgsl::HEADER_WORDS],
    pub(crate) extra: Vec<u32>,
    pub(crate) invocations: usize,
    pub(crate) groups: Option<[u32; 3]>,
    /// A second pass `(words, kernel)`: this kernel writes `words` words of partial results
    /// into a scratch buffer bound as its output, and `kernel` reads them as input 0 and
    /// writes the op's output (two-pass reductions).
    pub(crate) then: Option<(usize, Box<Kernel>)>,
}

/// How ops are lowered on one device.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Lowering {
    /// Float matmuls use the tiled kernel where it applies (off: always the generic one).
    pub(crate) tiled_matmul: bool,
    /// The tiled matmul's shape on this device (`None`: no shape fits the adapter).
    pub(crate) tile: Option<TiledConfig>,
    /// Matmul operands a and b whose rows the tiled kernel may load as 4 adjacent words
    /// (see [`vec4_rows`]; the shape's own conditions are checked at lowering).
    pub(crate) vec4: [bool; 2],
    /// Forward float convolutions use the implicit-GEMM or depthwise kernel where one applies
    /// (off: always the generic one).
    pub(crate) fast_conv: bool,
    /// The adapter's workgroups per grid dimension.
    pub(crate) max_groups: u32,
    /// WGSL's packed 4x8-bit dot products are available (int8 matmuls use the tiled kernel).
    pub(crate) dot4: bool,
}

fn unary_expr(op: UnaryOp, int: bool) -> String {
    if int {
        return match op {
            UnaryOp::Neg => "-x",
            UnaryOp::Abs => "abs(x)",
            UnaryOp::Square => "x * x",
            _ => "max(x, 0)",
        }
        .into();
    }
    match op {
        UnaryOp::Neg => "-x".into(),
        UnaryOp::Abs => "abs(x)".into(),
        UnaryOp::Square => "x * x".into(),
        UnaryOp::Relu => "fmax_(x, 0.0)".into(),
        UnaryOp::Sqrt => "sqrt(x)".into(),
        UnaryOp::Rsqrt => "1.0 / sqrt(x)".into(),
        UnaryOp::Recip => "1.0 / x".into(),
        UnaryOp::Exp => "exp(x)".into(),
        UnaryOp::Log => "log(x)".into(),
        UnaryOp::Tanh => "tanh_(x)".into(),
        UnaryOp::Sigmoid => "sigmoid_(x)".into(),
        UnaryOp::Gelu => "gelu_(x)".into(),
        UnaryOp::Silu => "x * sigmoid_(x)".into(),
        UnaryOp::Sin => "sin_(x)".into(),
        UnaryOp::Cos => "cos_(x)".into(),
        UnaryOp::Clamp { min, max } => format!("fmin_(fmax_(x, {}), {})", f32_lit(min), f32_lit(max)),
    }
}

fn binary_expr(op: BinaryOp, int: bool) -> &'static str {
    match (op, int) {
        (BinaryOp::Add, _) => "a + b",
        (BinaryOp::Sub, _) => "a - b",
        (BinaryOp::Mul, _) => "a * b",
        (BinaryOp::Div, _) => "a / b",
        (BinaryOp::Max, true) => "max(a, b)",
        (BinaryOp::Min, true) => "min(a, b)",
        (BinaryOp::Max, false) => "fmax_(a, b)",
        (BinaryOp::Min, false) => "fmin_(a, b)",
        (BinaryOp::Pow, _) => "pow_(a, b)",
    }
}

pub(crate) fn assemble(head: &str, bodies: &[&str]) -> String {
    let mut s = String::with_capacity(8192);
    s.push_str(head);
    s.push_str(wgsl::COMMON);
    for b in bodies {
        s.push_str(b);
    }
    s
}

/// `ioff(v, i)`, the element offset of logical index `i` in view slot `v`: the view's base plus
/// `i` when every operand is dense (row-major, no gaps: no per-dimension division), else the
/// general strided walk `voff`.
fn offsets(dense: bool) -> &'static str {
    if dense {
        "fn ioff(v: u32, i: u32) -> u32 { return vbase(v) + i; }\n"
    } else {
        "fn ioff(v: u32, i: u32) -> u32 { return voff(v, i); }\n"
    }
}

fn elementwise(head: String, apply: String, n: usize, dense: bool) -> Kernel {
    let head = head + offsets(dense) + &apply;
    let mut header = [0; wgsl::HEADER_WORDS];
    header[0] = n as u32;
    Kernel {
        source: assemble(&head, &[wgsl::ELEMENTWISE]),
        header,
        extra: Vec::new(),
        invocations: n,
        groups: None,
        then: None,
    }
}

/// The epilogue's constants and bias/residual accessors; `first` is the first epilogue slot.
pub(crate) fn epilogue_head(e: &EpilogueDesc, acc: DType, int: bool, transposed: bool) -> (String, Vec<u32>, [u32; 4]) {
    let mut s = String::new();
    let (bias_slot, res_slot) = (2, if e.bias { 3 } else { 2 });
    let _ = writeln!(s, "const INT_MATH: bool = {int};\nconst TRANSPOSED: bool = {transposed};");
    let _ = writeln!(s, "const HAS_BIAS: bool = {};\nconst HAS_RES: bool = {};", e.bias, e.residual);
    for (name, on, slot, arg) in [("bias", e.bias, bias_slot, "c"), ("res", e.residual, res_slot, "lin")] {
        if on {
            let _ = writeln!(s, "fn {name}_f({arg}: u32) -> f32 {{ return ldf{slot}(voff({slot}u, {arg})); }}");
            let _ = writeln!(s, "fn {name}_i({arg}: u32) -> i32 {{ return ldi{slot}(voff({slot}u, {arg})); }}");
        } else {
            let _ = writeln!(s, "fn {name}_f({arg}: u32) -> f32 {{ return 0.0; }}");
            let _ = writeln!(s, "fn {name}_i({arg}: u32) -> i32 {{ return 0; }}");
        }
    }
    let (act, lo, hi) = match e.activation {
        Activation::None => (0, 0.0, 0.0),
        Activation::Relu => (1, 0.0, 0.0),
        Activation::Gelu => (2, 0.0, 0.0),
        Activation::Silu => (3, 0.0, 0.0),
        Activation::Clamp { min, max } => (4, min, max),
    };
    let _ = writeln!(s, "const ACT: u32 = {act}u;\nconst REQ: bool = {};", e.requant.is_some());
    let _ = acc;
    let (scales, zp, per_channel) = match &e.requant {
        Some(r) => (r.scales.iter().map(|v| v.to_bits()).collect(), r.zero_point, r.scales.len() > 1),
        None => (Vec::new(), 0, false),
    };
    (s, scales, [lo.to_bits(), hi.to_bits(), zp as u32, per_channel as u32])
}

/// The grid `dims` as workgroup counts, when every dimension is inside the adapter's limit.
pub(crate) fn fits(dims: [usize; 3], low: Lowering) -> Option<[u32; 3]> {
    if dims.iter().any(|&g| g == 0 || g > low.max_groups as usize) {
        return None;
    }
    Some(dims.map(|g| g as u32))
}

/// The int8 tiled kernel's grid for `d`, when it applies: packed dot products, 0 < k <=
/// TILED_MAX_K, and a grid inside the adapter's per-dimension limit.
fn int8_grid(d: &MatmulDesc, low: Lowering) -> Option<[u32; 3]> {
    if !low.tiled_matmul || !low.dot4 || d.k == 0 || d.k > wgsl::TILED_MAX_K {
        return None;
    }
    fits([d.n.div_ceil(wgsl::TILED_TILE), d.m.div_ceil(wgsl::TILED_TILE), d.batch_count()], low)
}

/// The tiled kernel's shape and grid for `d`, when it applies: float math, a shape for the
/// adapter, 0 < k <= its `max_k`, and a grid inside the adapter's per-dimension limit.
fn tiled_grid(d: &MatmulDesc, low: Lowering) -> Option<(TiledConfig, [u32; 3])> {
    let tile = low.tile.filter(|t| low.tiled_matmul && !d.is_int8() && d.k > 0 && d.k <= t.max_k())?;
    Some((tile, fits(tile.grid(d.m, d.n, d.batch_count()), low)?))
}

/// True when a matmul operand's rows can be read as 4 adjacent f32 words starting on a
/// 16-byte boundary: f32, unit stride along the row, and an offset and every other stride
/// that are multiples of 4 elements. The row length must also be a multiple of 4, which the
/// lowering checks (k for a, n for b).
pub(crate) fn vec4_rows(view: &View, dtype: DType) -> bool {
    let strides = view.strides();
    dtype == DType::F32
        && strides.last() == Some(&1)
        && view.offset().is_multiple_of(4)
        && strides[..strides.len() - 1].iter().all(|s| s.is_multiple_of(4))
}

/// The tiled kernel's prelude and body for `d` under `tile`.
fn tiled_body(d: &MatmulDesc, tile: &TiledConfig, low: Lowering) -> String {
    tile.prelude(low.vec4[0] && d.k.is_multiple_of(4), low.vec4[1] && d.n.is_multiple_of(4)) + wgsl::MATMUL_TILED
}

fn matmul(d: &MatmulDesc, low: Lowering) -> Kernel {
    let int = d.is_int8();
    let mut dtypes = vec![d.dtype, d.b_dtype];
    let acc = if int { DType::I32 } else { d.dtype };
    dtypes.extend(std::iter::repeat_n(acc, d.epilogue.bias as usize + d.epilogue.residual as usize));
    let (epi, scales, e) = epilogue_head(&d.epilogue, acc, int, false);
    let head = prelude(&dtypes, d.out_dtype) + &epi;
    let n = d.batch_count() * d.m * d.n;
    let mut header = [0; wgsl::HEADER_WORDS];
    header[0] = n as u32;
    header[1] = d.k as u32;
    header[2] = d.alpha.to_bits();
    header[3] = d.beta.to_bits();
    header[4] = d.zero_points.0 as u32;
    header[5] = d.zero_points.1 as u32;
    header[6..10].copy_from_slice(&e);
    header[10] = d.m as u32;
    header[11] = d.n as u32;
    let mut extra = vec![0];
    extra.extend(scales);
    if int && let Some(groups) = int8_grid(d, low) {
        let consts = int8_consts(d.dtype, d.b_dtype, d.zero_points.0, d.zero_points.1);
        let source = assemble(&(head + &consts), &[wgsl::EPILOGUE, wgsl::INT8, wgsl::MATMUL_INT8]);
        return Kernel { source, header, extra, invocations: n, groups: Some(groups), then: None };
    }
    let tiled = tiled_grid(d, low);
    let body = tiled.as_ref().map_or(wgsl::MATMUL.to_string(), |(t, _)| tiled_body(d, t, low));
    let groups = tiled.map(|(_, g)| g);
    Kernel { source: assemble(&head, &[wgsl::EPILOGUE, &body]), header, extra, invocations: n, groups, then: None }
}

/// The int8 tiled kernels' constants (see `matmul_int8.wgsl`) for a product of `a` (rows,
/// zero point `za`) and `b` (columns, zero point `zb`): operand signedness, which operand of a
/// mixed u8 x i8 pair is flipped into i8 range, and whether the row sums of a and the column
/// sums of b have nonzero coefficients (zero points, flips).
pub(crate) fn int8_consts(a: DType, b: DType, za: i32, zb: i32) -> String {
    let (a_u8, b_u8) = (a == DType::U8, b == DType::U8);
    let (flip_a, flip_b) = (a_u8 && !b_u8, b_u8 && !a_u8);
    let row_coef = i64::from(flip_b) * 128 != i64::from(zb);
    let col_coef = i64::from(flip_a) * 128 != i64::from(za);
    format!(
        "const A_U8: bool = {a_u8};\nconst B_U8: bool = {b_u8};\nconst FLIP_A: bool = {flip_a};\n\
         const FLIP_B: bool = {flip_b};\nconst ROW_COEF: bool = {row_coef};\nconst COL_COEF: bool = {col_coef};\n"
    )
}

/// True when softmax runs a 64-lane workgroup per row rather than one lane: rows of 128 or
/// more when there are too few rows to fill a device (under 2,048), and every row longer than
/// 8,192, whose three passes would spend a lane's loop budget (llvmpipe cuts a shader's loops
/// off after 65,535 trips in total: one lane per 1M-element row returned wrong results). Many
/// moderate rows stay one per lane, which measured 1.4x faster on lavapipe at 4096 x 4096.
fn softmax_wide(rows: usize, len: usize) -> bool {
    len >= 128 && (rows < 2048 || len > 8192)
}

/// Elements one workgroup of a two-pass reduction takes at least (64 per lane).
const REDUCE_SEGMENT: usize = 4096;
/// Most segments per output (the merge pass reads one 3-word record each).
const REDUCE_MAX_SEGMENTS: usize = 1024;
/// Most elements one workgroup reduces: 16,384 loop trips per lane. llvmpipe cuts a loop off
/// after 65,535 trips, which silently truncated one-pass sums past 4.2M elements per output.
const REDUCE_MAX_RUN: usize = 64 * 16384;

/// Workgroups sharing each output of a reduction over runs of `inner` elements: 1 (one pass)
/// unless the runs are too long for one workgroup's loop bound, or there are too few outputs
/// to fill a device and the runs are long; then enough segments of at least
/// `REDUCE_SEGMENT` elements (two passes).
fn reduce_segments(outputs: usize, inner: usize) -> usize {
    let bound = inner.div_ceil(REDUCE_MAX_RUN);
    let fill = if outputs >= 64 { 1 } else { inner.div_ceil(REDUCE_SEGMENT) };
    bound.max(fill).clamp(1, REDUCE_MAX_SEGMENTS)
}

/// Loop trips one invocation of `kernel` (lowered from `op`) runs at most, for the kernels
/// whose trips grow with the shape (`out_numel`, `inner` as for [`lower`]): the generic matmul and
/// convolution (one per reduction term, more per input channel for the window loops) and
/// softmax (three passes over a row). `None` for kernels whose loops the lowering bounds
/// already (tiled, two-pass reductions, elementwise).
pub(crate) fn loop_trips(op: &Op, kernel: &Kernel, out_numel: usize, inner: usize) -> Option<usize> {
    // The outer loop over chunks of 4,096 (common.wgsl's CHUNK) adds its own trips.
    let chunks = |n: usize| n / 4096 + 1;
    match op {
        Op::Matmul(d) if kernel.groups.is_none() => Some(d.k + chunks(d.k) + 1),
        Op::Conv(d) | Op::ConvTranspose(d) if kernel.groups.is_none() => {
            // Per input channel: its loop, the row loop and each row's column loop with their
            // exits (measured on llvmpipe: 6 trips per channel for a 1x1 window).
            let per_channel = 3 + d.kernel[0] * (2 + d.kernel[1]);
            Some(d.in_per_group() * per_channel + chunks(d.in_per_group()) + 16)
        }
        Op::Softmax(_) if inner > 0 => {
            // A workgroup per row: each lane a 64th of the row, plus two 63-step combines.
            let wide = softmax_wide(out_numel / inner, inner);
            let per_lane = if wide { inner.div_ceil(64) + 42 } else { inner };
            Some(3 * (per_lane + chunks(per_lane)))
        }
        _ => None,
    }
}

/// The kernel for `op`; `out_numel` is the output's element count, `inner` the length of the
/// reduced run (reduce) or row (softmax), and `dense` true when every operand view is dense
/// (row-major without gaps), so elementwise, reduce and softmax kernels index linearly.
/// `None` for ops this backend does not know.
pub(crate) fn lower(op: &Op, out_numel: usize, inner: usize, dense: bool, low: Lowering) -> Option<Kernel> {
    Some(match op {
        Op::Unary(d) => {
            let int = !d.dtype.is_float();
            let apply = if int {
                format!(
                    "fn apply(i: u32, oe: u32) {{ let x = ldi0(ioff(0u, i)); sti(oe, {}); }}\n",
                    unary_expr(d.op, true)
                )
            } else {
                format!(
                    "fn apply(i: u32, oe: u32) {{ let x = ldf0(ioff(0u, i)); stf(oe, {}); }}\n",
                    unary_expr(d.op, false)
                )
            };
            elementwise(prelude(&[d.dtype], d.dtype), apply, out_numel, dense)
        }
        Op::Binary(d) => {
            let (l, s) = if d.dtype.is_float() { ("ldf", "stf") } else { ("ldi", "sti") };
            let apply = format!(
                "fn apply(i: u32, oe: u32) {{ let a = {l}0(ioff(0u, i)); let b = {l}1(ioff(1u, i)); {s}(oe, {}); }}\n",
                binary_expr(d.op, !d.dtype.is_float())
            );
            elementwise(prelude(&[d.dtype, d.dtype], d.dtype), apply, out_numel, dense)
        }
        Op::Cast(d) => {
            let body = match (d.from.is_float(), d.to.is_float()) {
                (true, true) => "stf(oe, ldf0(e));",
                (true, false) => "sti(oe, f2i(ldf0(e), OUT_LO, OUT_HI));",
                (false, true) => match d.to {
                    DType::F16 => "stf(oe, i2f(ldi0(e), 11u));",
                    DType::BF16 => "stf(oe, i2f(ldi0(e), 8u));",
                    _ => "stf(oe, i2f(ldi0(e), 24u));",
                },
                (false, false) => "sti(oe, clamp(ldi0(e), OUT_LO, OUT_HI));",
            };
            let apply = format!("fn apply(i: u32, oe: u32) {{ let e = ioff(0u, i); {body} }}\n");
            elementwise(prelude(&[d.from], d.to), apply, out_numel, dense)
        }
        Op::Reduce(d) => {
            let red = match d.op {
                ReduceOp::Sum => 0,
                ReduceOp::Max => 1,
                ReduceOp::Min => 2,
                ReduceOp::Mean => 3,
            };
            let int = !d.dtype.is_float();
            let head = |pass: u32| {
                prelude(&[d.dtype], d.out_dtype)
                    + &format!("const RED: u32 = {red}u;\nconst INT_MATH: bool = {int};\nconst PASS: u32 = {pass}u;\n")
                    + offsets(dense)
            };
            let segments = reduce_segments(out_numel, inner);
            let mut header = [0; wgsl::HEADER_WORDS];
            header[0] = out_numel as u32;
            header[1] = inner as u32;
            header[2] = segments as u32;
            // One 64-lane workgroup per output, or per segment of an output and then per output.
            let pass = |p: u32, workgroups: usize| Kernel {
                source: assemble(&head(p), &[wgsl::REDUCE]),
                header,
                extra: Vec::new(),
                invocations: workgroups * 64,
                groups: None,
                then: None,
            };
            if segments == 1 {
                pass(0, out_numel)
            } else {
                let merge = pass(2, out_numel);
                Kernel { then: Some((out_numel * segments * 3, Box::new(merge))), ..pass(1, out_numel * segments) }
            }
        }
        Op::Softmax(d) => {
            let rows = out_numel.checked_div(inner).unwrap_or(0);
            let head = prelude(&[d.dtype], d.dtype) + &format!("const LOG: bool = {};\n", d.log) + offsets(dense);
            let mut header = [0; wgsl::HEADER_WORDS];
            header[0] = rows as u32;
            header[1] = inner as u32;
            // A workgroup per row shares each row's passes (see `softmax_wide`), or a lane each.
            let (body, invocations) =
                if softmax_wide(rows, inner) { (wgsl::SOFTMAX_ROWS, rows * 64) } else { (wgsl::SOFTMAX, rows) };
            Kernel {
                source: assemble(&head, &[body]),
                header,
                extra: Vec::new(),
                invocations,
                groups: None,
                then: None,
            }
        }
        Op::Matmul(d) => matmul(d, low),
        Op::Conv(d) => crate::conv::conv(d, false, low),
        Op::ConvTranspose(d) => crate::conv::conv(d, true, low),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use accel_core::op::EpilogueDesc;

    fn desc(batch: usize, m: usize, k: usize, n: usize, dtype: DType) -> MatmulDesc {
        MatmulDesc {
            batch: vec![batch],
            m,
            n,
            k,
            dtype,
            b_dtype: dtype,
            out_dtype: dtype,
            alpha: 1.0,
            beta: 0.0,
            zero_points: (0, 0),
            epilogue: EpilogueDesc::default(),
        }
    }

    fn low(tile: TiledConfig) -> Lowering {
        Lowering {
            tiled_matmul: true,
            tile: Some(tile),
            vec4: [true; 2],
            fast_conv: true,
            max_groups: 65535,
            dot4: true,
        }
    }

    #[test]
    fn the_grid_and_the_k_bound_follow_the_shape() {
        for t in TiledConfig::CANDIDATES {
            let (tm, tn) = (t.tile_m() as usize, t.tile_n() as usize);
            let d = desc(3, tm + 1, t.max_k(), 2 * tn, DType::F32);
            assert_eq!(tiled_grid(&d, low(t)), Some((t, [2, 2, 3])), "{}", t.name());
            assert_eq!(tiled_grid(&desc(3, 4, t.max_k() + 1, 4, DType::F32), low(t)), None, "{}", t.name());
            let k = matmul(&d, low(t));
            assert_eq!(k.groups, Some([2, 2, 3]));
            assert!(k.source.contains(&format!("const TM: u32 = {tm}u;")), "{}", t.name());
        }
        let d = desc(1, 8, 8, 8, DType::F32);
        assert_eq!(tiled_grid(&d, Lowering { tile: None, ..low(TiledConfig::DEFAULT) }), None);
        assert_eq!(tiled_grid(&d, Lowering { tiled_matmul: false, ..low(TiledConfig::DEFAULT) }), None);
        assert_eq!(tiled_grid(&desc(1, 8, 8, 8, DType::I8), low(TiledConfig::DEFAULT)), None);
        assert_eq!(tiled_grid(&d, Lowering { max_groups: 0, ..low(TiledConfig::DEFAULT) }), None);
    }

    #[test]
    fn rows_load_as_words_only_when_whole_and_aligned() {
        let v = |shape: &[usize], strides: &[usize], offset| {
            View::from_parts("t", shape.to_vec(), strides.to_vec(), offset, 1 << 20).unwrap()
        };
        assert!(vec4_rows(&v(&[2, 8, 12], &[96, 12, 1], 0), DType::F32));
        assert!(vec4_rows(&v(&[2, 8, 12], &[0, 12, 1], 8), DType::F32), "broadcast batch");
        assert!(!vec4_rows(&v(&[8, 12], &[12, 1], 0), DType::F16));
        assert!(!vec4_rows(&v(&[8, 12], &[12, 1], 2), DType::F32), "offset");
        assert!(!vec4_rows(&v(&[8, 12], &[13, 1], 0), DType::F32), "row stride");
        assert!(!vec4_rows(&v(&[8, 12], &[1, 8], 0), DType::F32), "transposed");
        // k or n not a multiple of 4: the prelude turns the word loads off.
        let d = desc(1, 8, 6, 10, DType::F32);
        let src = matmul(&d, low(TiledConfig::DEFAULT)).source;
        assert!(src.contains("const VEC_A: bool = false;") && src.contains("const VEC_B: bool = false;"));
        let src = matmul(&desc(1, 8, 8, 12, DType::F32), low(TiledConfig::DEFAULT)).source;
        assert!(src.contains("const VEC_A: bool = true;") && src.contains("const VEC_B: bool = true;"));
    }

    #[test]
    fn reductions_split_runs_for_few_outputs_and_for_the_loop_bound() {
        // Enough outputs and short runs: one pass.
        assert_eq!(reduce_segments(64, 1 << 20), 1);
        assert_eq!(reduce_segments(1, 4096), 1);
        // Few outputs: segments of 4,096 elements, at most 1,024 of them.
        assert_eq!(reduce_segments(1, 4097), 2);
        assert_eq!(reduce_segments(3, 1 << 22), 1024);
        assert_eq!(reduce_segments(1, 1 << 30), 1024);
        // Many outputs over runs past one workgroup's 16,384 trips per lane: split anyway.
        assert_eq!(reduce_segments(64, (1 << 20) + 1), 2);
        assert_eq!(reduce_segments(4096, 1 << 23), 8);
    }

    #[test]
    fn softmax_shares_long_or_few_rows_among_a_workgroup() {
        assert!(!softmax_wide(3, 127));
        assert!(softmax_wide(5, 128));
        assert!(!softmax_wide(4096, 4096));
        assert!(softmax_wide(4096, 8193));
        assert!(softmax_wide(2, 1 << 20));
    }
}
