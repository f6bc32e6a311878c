//! Matmul conformance: one case table run for f32, f16, bf16, i8×i8 and u8×i8 (with zero
//! points) on every device.
//!
//! `a` is `[batch.., m, k]`, `b` is `[batch.., k, n]` after their views. A case with `out`
//! calls `matmul_into` on a pre-filled output seen through `out`'s views and compares the
//! whole output storage (skipped elements must keep their contents). The int8 path has no
//! alpha/beta, so int8 dtypes run every case with alpha = 1, beta = 0.

use crate::spec;
use accel::ops::{self, MatmulOptions};
use accel::{DType, Device, OpKind};
use accel_tests::ViewStep::{Broadcast, Permute, Transpose};
use accel_tests::{
    CheckError, Domain, FLOAT_DTYPES, INT8_DTYPES, In, Rng, Suite, Tolerance, check_against_reference,
    int8_zero_points, mac_label, slice,
};

struct Case {
    name: &'static str,
    a: In,
    b: In,
    alpha: f32,
    beta: f32,
    out: Option<In>,
}

const fn case(name: &'static str, a: In, b: In) -> Case {
    Case { name, a, b, alpha: 1.0, beta: 0.0, out: None }
}

impl Case {
    const fn alpha_beta(mut self, alpha: f32, beta: f32) -> Case {
        self.alpha = alpha;
        self.beta = beta;
        self
    }
    const fn into(mut self, out: In) -> Case {
        self.out = Some(out);
        self
    }
}

const CASES: &[Case] = &[
    // Empty and unit shapes.
    case("m0_0x5x3", In::c(&[0, 5]), In::c(&[5, 3])),
    case("n0_4x5x0", In::c(&[4, 5]), In::c(&[5, 0])),
    case("k0_4x0x3", In::c(&[4, 0]), In::c(&[0, 3])),
    case("k0_into_beta", In::c(&[4, 0]), In::c(&[0, 3])).alpha_beta(1.0, 0.5).into(In::c(&[4, 3])),
    case("one_1x1x1", In::c(&[1, 1]), In::c(&[1, 1])),
    case("row_1x17x9", In::c(&[1, 17]), In::c(&[17, 9])),
    case("col_9x17x1", In::c(&[9, 17]), In::c(&[17, 1])),
    // Primes, tall/skinny, kernel tails.
    case("prime_7x13x17", In::c(&[7, 13]), In::c(&[13, 17])),
    case("tall_513x3x5", In::c(&[513, 3]), In::c(&[3, 5])),
    case("skinny_3x5x700", In::c(&[3, 5]), In::c(&[5, 700])),
    case("deep_3x700x5", In::c(&[3, 700]), In::c(&[700, 5])),
    case("tails_67x131x97", In::c(&[67, 131]), In::c(&[131, 97])),
    // One past typical cache-block sizes (64/256) on every axis.
    case("block_tails_65x257x257", In::c(&[65, 257]), In::c(&[257, 257])),
    // Non-contiguous operands.
    case("a_transposed_7x13x17", In::v(&[13, 7], &[Transpose(0, 1)]), In::c(&[13, 17])),
    case("b_transposed_7x13x17", In::c(&[7, 13]), In::v(&[17, 13], &[Transpose(0, 1)])),
    case("both_transposed_7x13x17", In::v(&[13, 7], &[Transpose(0, 1)]), In::v(&[17, 13], &[Transpose(0, 1)])),
    case("a_sliced_step_7x13x17", In::v(&[14, 39], &[slice(0, 0, 14, 2), slice(1, 1, 39, 3)]), In::c(&[13, 17])),
    case("b_sliced_offset_7x13x17", In::c(&[7, 13]), In::v(&[20, 40], &[slice(0, 3, 16, 1), slice(1, 5, 22, 1)])),
    // Batches and broadcast batch dims.
    case("batch_3x7x13x17", In::c(&[3, 7, 13]), In::c(&[3, 13, 17])),
    case("batch_broadcast_2x1_vs_3", In::c(&[2, 1, 5, 6]), In::c(&[3, 6, 4])),
    case("batch_b_matrix_4x5x6x7", In::c(&[4, 5, 6]), In::c(&[6, 7])),
    case("batch_a_stride0_3x5x6x7", In::v(&[5, 6], &[Broadcast(&[3, 5, 6])]), In::c(&[3, 6, 7])),
    case(
        "batch_permuted_3x7x13x17",
        In::v(&[7, 3, 13], &[Permute(&[1, 0, 2])]),
        In::v(&[17, 3, 13], &[Permute(&[1, 2, 0])]),
    ),
    // Scaling and caller-owned outputs.
    case("alpha_half_7x13x17", In::c(&[7, 13]), In::c(&[13, 17])).alpha_beta(0.5, 0.0),
    case("into_beta_strided_7x13x17", In::c(&[7, 13]), In::c(&[13, 17]))
        .alpha_beta(1.5, -0.75)
        .into(In::v(&[14, 34], &[slice(0, 0, 14, 2), slice(1, 1, 34, 2)])),
    case("into_transposed_out_7x13x17", In::c(&[7, 13]), In::c(&[13, 17]))
        .alpha_beta(1.0, 0.5)
        .into(In::v(&[17, 7], &[Transpose(0, 1)])),
    case("into_batch_beta1_2x5x6x3", In::c(&[2, 5, 6]), In::c(&[2, 6, 3])).alpha_beta(1.0, 1.0).into(In::c(&[2, 5, 3])),
    // One large case.
    case("large_256x256x256", In::c(&[256, 256]), In::c(&[256, 256])),
];

/// Adds every case × dtype for `device`.
pub(crate) fn add(suite: &mut Suite, device: &Device) {
    for case in CASES {
        for dtype in FLOAT_DTYPES.into_iter().chain(INT8_DTYPES) {
            let s = spec("matmul", "matmul", mac_label(dtype), case.name, OpKind::Matmul, dtype);
            suite.add(device, s, move |dev, seed| run(case, dtype, dev, seed));
        }
    }
}

fn run(case: &'static Case, dtype: DType, device: &Device, seed: u64) -> Result<(), CheckError> {
    let mut rng = Rng::new(seed);
    let int8 = dtype.is_int8();
    let domain = if int8 { Domain::Full } else { Domain::Standard };
    let a = case.a.generate(&mut rng, dtype, domain);
    let b = case.b.generate(&mut rng, if int8 { DType::I8 } else { dtype }, domain);
    let out_dtype = if int8 { DType::I32 } else { dtype };
    let prev = case.out.map(|o| o.generate(&mut rng, out_dtype, Domain::Standard));
    let (alpha, beta, zp) = if int8 { (1.0, 0.0, int8_zero_points(dtype)) } else { (case.alpha, case.beta, (0, 0)) };
    let k = case.a.logical_shape().last().copied().unwrap_or(0);
    let tol = Tolerance::reduction(out_dtype, k).with_device_bound(
        device,
        OpKind::Matmul,
        dtype,
        k,
        domain.max_product(dtype),
    );
    check_against_reference(device, tol, |dev| {
        let (_, a) = case.a.realize(dev, &a)?;
        let (_, b) = case.b.realize(dev, &b)?;
        let opts = MatmulOptions::new().alpha(alpha).beta(beta).zero_points(zp.0, zp.1);
        match (&case.out, &prev) {
            (Some(spec), Some(prev)) => {
                let (storage, mut out) = spec.realize(dev, prev)?;
                ops::matmul_into(&a, &b, &opts, &mut out)?;
                Ok(storage)
            }
            _ => ops::matmul_with(&a, &b, &opts),
        }
    })
}
