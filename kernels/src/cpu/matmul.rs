//! Batched matmul: one blocked GEMM per batch matrix (parallel over the batch, and within each
//! matrix over tiles), reading `a` and `b` through their views (any strides, broadcast batch
//! dims with stride 0) and finishing tiles with the fused epilogue.

use super::dtype::{Data, Elem};
use super::epilogue::{ChanAxis, Epilogue, Residual};
use super::gemm::{GemmAcc, Product, ProductBody, SERIAL_MACS, TileEpi, dispatch_product};
use super::isa::Isa;
use super::layout::Layout;
use super::pack::{StridedMat, ToAcc};
use super::par;
use super::{DenseFn, input, with_dense_out};
use crate::{HostIn, HostOut};
use accel_core::op::MatmulDesc;
use accel_core::{Op, Result};

const OP: &str = "matmul";

/// One matrix operand: its data, the layout of its batch dims and its row/column strides.
struct Operand<'a> {
    data: Data<'a>,
    batch: Layout,
    rs: usize,
    cs: usize,
}

impl<'a> Operand<'a> {
    fn new(x: HostIn<'a>, nb: usize) -> Operand<'a> {
        let (shape, st) = (x.view.shape(), x.view.strides());
        Operand {
            data: Data::new(x.bytes, x.dtype),
            batch: Layout::from_parts(&shape[..nb], &st[..nb], x.view.offset()),
            rs: st[nb],
            cs: st[nb + 1],
        }
    }
}

/// Runs a validated [`MatmulDesc`].
pub(crate) fn matmul(isa: Isa, d: &MatmulDesc, inputs: &[HostIn<'_>], out: HostOut<'_>) -> Result<()> {
    let nb = d.batch.len();
    let a = Operand::new(input(OP, inputs, 0)?, nb);
    let b = Operand::new(input(OP, inputs, 1)?, nb);
    let mut next = 2;
    let bias = if d.epilogue.bias {
        next += 1;
        Some(input(OP, inputs, next - 1)?)
    } else {
        None
    };
    let (residual, res_batch) = if d.epilogue.residual {
        let r = Operand::new(input(OP, inputs, next)?, nb);
        let roff = (0..d.m).map(|i| i * r.rs).collect();
        let coff = (0..d.n).map(|j| j * r.cs).collect();
        (Some(Residual { data: r.data, roff, coff }), Some(r.batch))
    } else {
        (None, None)
    };
    let epi = Epilogue::new(&d.epilogue, d.alpha, d.beta, ChanAxis::Col, bias, residual);
    let run = Run { isa, d, a: &a, b: &b, epi: &epi, res_batch: res_batch.as_ref() };
    with_dense_out(out, d.beta != 0.0, run)
}

struct Run<'r, 'a> {
    isa: Isa,
    d: &'r MatmulDesc,
    a: &'r Operand<'a>,
    b: &'r Operand<'a>,
    epi: &'r Epilogue<'a>,
    res_batch: Option<&'r Layout>,
}

impl DenseFn for Run<'_, '_> {
    fn call<T: Elem>(self, dst: &mut [T]) -> Result<()> {
        dispatch_product(&self, &self.a.data, &self.b.data, dst, || Op::Matmul(self.d.clone()))
    }
}

impl ProductBody for Run<'_, '_> {
    fn go<TA, TB, V, T>(&self, a: &[TA], b: &[TB], dst: &mut [T]) -> Result<()>
    where
        TA: ToAcc<V>,
        TB: ToAcc<V>,
        V: GemmAcc,
        T: Elem,
        for<'e, 'x> super::epilogue::At<'e, 'x>: TileEpi<V, T>,
    {
        let (m, n, k) = (self.d.m, self.d.n, self.d.k);
        let (za, zb) = self.d.zero_points;
        let one = |bi: usize, c: &mut [T]| {
            let am = StridedMat { data: a, base: self.a.batch.offset_of(bi), rs: self.a.rs, cs: self.a.cs };
            let bm = StridedMat { data: b, base: self.b.batch.offset_of(bi), rs: self.b.rs, cs: self.b.cs };
            let res_base = self.res_batch.map_or(0, |l| l.offset_of(bi));
            let p = Product { isa: self.isa, a: &am, b: &bm, m, n, k, za, zb };
            V::gemm(&p, c, &self.epi.at(res_base, 0));
        };
        // Small work stays on this thread (it may be the caller's, outside the pool).
        if dst.len().saturating_mul(k.max(1)) < SERIAL_MACS {
            dst.chunks_mut(m * n).enumerate().for_each(|(bi, c)| one(bi, c));
        } else {
            par::outer_chunks(dst, m * n, one);
        }
        Ok(())
    }
}
