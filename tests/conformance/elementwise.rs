//! Elementwise conformance: every unary op × dtype it accepts, every binary op × dtype it
//! accepts, and casts for every (from, to) dtype pair, on every device.
//!
//! Data: floats in `[-2, 2)` (positive `[0.25, 4)` for sqrt/rsqrt/log/recip and pow bases),
//! integers over their whole range (integer arithmetic wraps by contract, so wrapping is
//! tested, exactly). `special` cases mix in NaN, ±inf, ±0, rounding ties and out-of-range
//! values; they skip the float ops whose NaN/−inf behaviour the contract leaves open
//! (relu, clamp, gelu, silu, binary max/min). Casts are compared exactly.

use crate::spec;
use accel::ops::{self, BinaryOp, UnaryOp};
use accel::{DType, Device, OpKind, Tensor};
use accel_tests::ViewStep::{Broadcast, Permute, Transpose};
use accel_tests::{CheckError, Domain, In, Rng, Suite, Tolerance, check_against_reference, slice};

/// Where the result goes.
#[derive(Clone, Copy)]
enum Out {
    /// A new tensor.
    New,
    /// `*_into` with the (first) input's own view as the output; compares its storage.
    InPlace,
    /// `*_into` a pre-filled output seen through these views; compares its storage.
    Into(In),
}

struct UCase {
    name: &'static str,
    x: In,
    special: bool,
    out: Out,
}

const fn u(name: &'static str, x: In) -> UCase {
    UCase { name, x, special: false, out: Out::New }
}

const UNARY: &[UCase] = &[
    u("empty_0x5", In::c(&[0, 5])),
    u("rank0", In::c(&[])),
    u("one", In::c(&[1])),
    u("prime_7x13x17", In::c(&[7, 13, 17])),
    u("transposed_13x7", In::v(&[7, 13], &[Transpose(0, 1)])),
    u("sliced_step_20x10", In::v(&[20, 30], &[slice(1, 1, 30, 3)])),
    u("broadcast_stride0_5x7", In::v(&[1, 7], &[Broadcast(&[5, 7])])),
    u("permuted_6x4x5", In::v(&[4, 5, 6], &[Permute(&[2, 0, 1])])),
    UCase { out: Out::InPlace, ..u("inplace_9x11", In::c(&[9, 11])) },
    UCase { out: Out::InPlace, ..u("inplace_strided_10x7", In::v(&[10, 14], &[slice(1, 0, 14, 2)])) },
    UCase {
        out: Out::Into(In::v(&[14, 20], &[slice(0, 0, 14, 2), slice(1, 1, 20, 2)])),
        ..u("into_strided_7x10", In::c(&[7, 10]))
    },
    UCase { special: true, ..u("specials_256", In::c(&[256])) },
    u("large_256x1024", In::c(&[256, 1024])),
];

struct BCase {
    name: &'static str,
    a: In,
    b: In,
    /// `b` is the very tensor `a` (both operands share one buffer and view).
    same: bool,
    special: bool,
    out: Out,
}

const fn b(name: &'static str, a: In, b: In) -> BCase {
    BCase { name, a, b, same: false, special: false, out: Out::New }
}

const BINARY: &[BCase] = &[
    b("same_shape_7x13", In::c(&[7, 13]), In::c(&[7, 13])),
    b("empty_0x3", In::c(&[0, 3]), In::c(&[3])),
    b("scalar_rank0_rhs", In::c(&[7, 13]), In::c(&[])),
    b("scalar_one_lhs", In::c(&[1]), In::c(&[5, 6])),
    b("row_broadcast_7x13", In::c(&[7, 13]), In::c(&[13])),
    b("column_broadcast_7x13", In::c(&[7, 13]), In::c(&[7, 1])),
    b("outer_7x1_1x13", In::c(&[7, 1]), In::c(&[1, 13])),
    b("rank_mismatch_2x3x4x5", In::c(&[2, 3, 4, 5]), In::c(&[4, 1])),
    b("transposed_and_sliced_7x13", In::v(&[13, 7], &[Transpose(0, 1)]), In::v(&[7, 40], &[slice(1, 1, 40, 3)])),
    b("stride0_input_7x13", In::v(&[1, 13], &[Broadcast(&[7, 13])]), In::c(&[7, 13])),
    BCase { same: true, ..b("self_operand_9x9", In::c(&[9, 9]), In::c(&[9, 9])) },
    BCase { out: Out::InPlace, ..b("into_alias_lhs_7x13", In::c(&[7, 13]), In::c(&[13])) },
    BCase {
        out: Out::Into(In::v(&[14, 26], &[slice(0, 1, 14, 2), slice(1, 0, 26, 2)])),
        ..b("into_strided_7x13", In::c(&[7, 13]), In::c(&[7, 1]))
    },
    BCase { special: true, ..b("specials_16x16", In::c(&[16, 16]), In::c(&[16, 16])) },
    b("large_512x512", In::c(&[512, 512]), In::c(&[512])),
];

struct CCase {
    name: &'static str,
    x: In,
    domain: Domain,
    out: Out,
}

const fn c(name: &'static str, x: In, domain: Domain) -> CCase {
    CCase { name, x, domain, out: Out::New }
}

const CAST: &[CCase] = &[
    c("empty_0x4", In::c(&[0, 4]), Domain::Special),
    c("specials_7x13", In::c(&[7, 13]), Domain::Special),
    c("transposed_specials_13x7", In::v(&[7, 13], &[Transpose(0, 1)]), Domain::Special),
    c("stride0_5x9", In::v(&[1, 9], &[Broadcast(&[5, 9])]), Domain::Full),
    CCase {
        out: Out::Into(In::v(&[8, 22], &[slice(0, 0, 8, 2), slice(1, 0, 22, 2)])),
        ..c("into_strided_4x11", In::c(&[4, 11]), Domain::Special)
    },
    c("large_256x1024", In::c(&[256, 1024]), Domain::Full),
];

/// Adds every unary, binary and cast case for `device`.
pub(crate) fn add(suite: &mut Suite, device: &Device) {
    for &op in &UnaryOp::ALL {
        for dtype in DType::ALL.into_iter().filter(|d| op.accepts(*d)) {
            for case in UNARY {
                if case.special && dtype.is_float() && !float_special_ok_unary(op) {
                    continue;
                }
                let s = spec("unary", &format!("unary.{}", op.name()), dtype.name(), case.name, OpKind::Unary, dtype);
                suite.add(device, s, move |dev, seed| run_unary(case, op, dtype, dev, seed));
            }
        }
    }
    for &op in &BinaryOp::ALL {
        for dtype in DType::ALL.into_iter().filter(|d| op.accepts(*d)) {
            for case in BINARY {
                if case.special && dtype.is_float() && matches!(op, BinaryOp::Max | BinaryOp::Min) {
                    continue;
                }
                let s =
                    spec("binary", &format!("binary.{}", op.name()), dtype.name(), case.name, OpKind::Binary, dtype);
                suite.add(device, s, move |dev, seed| run_binary(case, op, dtype, dev, seed));
            }
        }
    }
    for from in DType::ALL {
        for to in DType::ALL {
            for case in CAST {
                let s = spec("cast", "cast", format!("{from}->{to}"), case.name, OpKind::Cast, from);
                suite.add(device, s, move |dev, seed| run_cast(case, from, to, dev, seed));
            }
        }
    }
}

/// Float unary ops whose results on NaN/±inf the contract pins down.
fn float_special_ok_unary(op: UnaryOp) -> bool {
    !matches!(op, UnaryOp::Relu | UnaryOp::Clamp { .. } | UnaryOp::Gelu | UnaryOp::Silu)
}

fn unary_domain(op: UnaryOp, dtype: DType, special: bool) -> Domain {
    match (special, dtype.is_float(), op) {
        (true, _, _) => Domain::Special,
        (false, false, _) => Domain::Full,
        (false, true, UnaryOp::Sqrt | UnaryOp::Rsqrt | UnaryOp::Log | UnaryOp::Recip) => Domain::Positive,
        (false, true, _) => Domain::Standard,
    }
}

/// Uploads `x` (storage and view), runs `f` into a new tensor or per `out`, returns what to
/// compare: the new tensor, or the whole storage written into.
fn with_out(
    dev: &Device,
    out: Out,
    prev: Option<&accel_tests::HostTensor>,
    input: (Tensor, Tensor),
    new: impl FnOnce(&Tensor) -> accel::Result<Tensor>,
    into: impl FnOnce(&Tensor, &mut Tensor) -> accel::Result<()>,
) -> accel::Result<Tensor> {
    let (storage, x) = input;
    match (out, prev) {
        (Out::InPlace, _) => {
            let mut target = x.clone();
            into(&x, &mut target)?;
            Ok(storage)
        }
        (Out::Into(spec), Some(prev)) => {
            let (out_storage, mut target) = spec.realize(dev, prev)?;
            into(&x, &mut target)?;
            Ok(out_storage)
        }
        _ => new(&x),
    }
}

fn out_data(out: Out, rng: &mut Rng, dtype: DType) -> Option<accel_tests::HostTensor> {
    match out {
        Out::Into(spec) => Some(spec.generate(rng, dtype, Domain::Standard)),
        _ => None,
    }
}

fn run_unary(case: &'static UCase, op: UnaryOp, dtype: DType, device: &Device, seed: u64) -> Result<(), CheckError> {
    let mut rng = Rng::new(seed);
    let x = case.x.generate(&mut rng, dtype, unary_domain(op, dtype, case.special));
    let prev = out_data(case.out, &mut rng, dtype);
    check_against_reference(device, Tolerance::elementwise(dtype), |dev| {
        let input = case.x.realize(dev, &x)?;
        with_out(dev, case.out, prev.as_ref(), input, |x| ops::unary(x, op), |x, o| ops::unary_into(x, op, o))
    })
}

fn run_binary(case: &'static BCase, op: BinaryOp, dtype: DType, device: &Device, seed: u64) -> Result<(), CheckError> {
    let mut rng = Rng::new(seed);
    let (da, db) = match (case.special, dtype.is_float(), op) {
        (true, _, _) => (Domain::Special, Domain::Special),
        (false, false, _) => (Domain::Full, Domain::Full),
        (false, true, BinaryOp::Pow) => (Domain::Positive, Domain::Standard),
        (false, true, _) => (Domain::Standard, Domain::Standard),
    };
    let a = case.a.generate(&mut rng, dtype, da);
    let bd = case.b.generate(&mut rng, dtype, db);
    let prev = out_data(case.out, &mut rng, dtype);
    check_against_reference(device, Tolerance::elementwise(dtype), |dev| {
        let input = case.a.realize(dev, &a)?;
        let rhs = if case.same { input.1.clone() } else { case.b.realize(dev, &bd)?.1 };
        with_out(
            dev,
            case.out,
            prev.as_ref(),
            input,
            |a| ops::binary(a, &rhs, op),
            |a, o| ops::binary_into(a, &rhs, op, o),
        )
    })
}

fn run_cast(case: &'static CCase, from: DType, to: DType, device: &Device, seed: u64) -> Result<(), CheckError> {
    let mut rng = Rng::new(seed);
    let x = case.x.generate(&mut rng, from, case.domain);
    let prev = out_data(case.out, &mut rng, to);
    check_against_reference(device, Tolerance::EXACT, |dev| {
        let input = case.x.realize(dev, &x)?;
        with_out(dev, case.out, prev.as_ref(), input, |x| ops::cast(x, to), ops::cast_into)
    })
}
