//! Peer crates measured on the same matmul shapes, in the same process and run as accel:
//! `gemm` 0.19 (with its AVX-512 `x86-v4` path compiled in), `faer` 0.24 and
//! `matrixmultiply` 0.3 (the ndarray default). Each peer multiplies the seeded inputs of the
//! matching accel [`Case`] once, its result is checked against the oracle exactly like
//! accel's, and then it is timed the same way.
//!
//! Threads: gemm and faer run inside a rayon pool of `threads` threads and are told that
//! count (`Parallelism::Rayon(t)`, `Par::rayon(t)`; one thread means their sequential
//! path). matrixmultiply has its own pool sized once per process from `MATMUL_NUM_THREADS`
//! (at most 4): [`run`] refuses to run it unless that variable equals `threads`
//! (the `accel-bench` binary re-executes itself with the variable set).

#[allow(unsafe_code, reason = "gemm and matrixmultiply only offer raw-pointer entry points")]
mod raw;

use crate::measure;
use crate::record::Record;
use crate::shape::MatmulShape;
use crate::workload::{BenchDType, BenchResult, Case, Workload};

/// A peer implementation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, clap::ValueEnum)]
pub enum Peer {
    /// gemm 0.19 (f32, f16).
    Gemm,
    /// faer 0.24 (f32).
    Faer,
    /// matrixmultiply 0.3 (f32).
    Matrixmultiply,
}

/// The environment variable matrixmultiply reads its thread count from.
pub const MATMUL_NUM_THREADS: &str = "MATMUL_NUM_THREADS";

impl Peer {
    /// Every peer.
    pub const ALL: [Peer; 3] = [Peer::Gemm, Peer::Faer, Peer::Matrixmultiply];

    /// Name in records.
    pub const fn name(self) -> &'static str {
        match self {
            Peer::Gemm => "gemm",
            Peer::Faer => "faer",
            Peer::Matrixmultiply => "matrixmultiply",
        }
    }

    /// Dtypes the peer multiplies.
    pub fn dtypes(self) -> &'static [BenchDType] {
        match self {
            Peer::Gemm => &[BenchDType::F32, BenchDType::F16],
            Peer::Faer | Peer::Matrixmultiply => &[BenchDType::F32],
        }
    }
}

/// Runs `peer` on `shape` once, checks it, measures the peak, times it; see the module docs.
pub fn run(
    peer: Peer,
    dtype: BenchDType,
    shape: MatmulShape,
    threads: usize,
    min_reps: usize,
    min_secs: f64,
) -> BenchResult<Record> {
    if !peer.dtypes().contains(&dtype) {
        let names: Vec<&str> = peer.dtypes().iter().map(|d| d.name()).collect();
        return Err(format!("peer {} supports dtype {}, not {}", peer.name(), names.join(", "), dtype.name()));
    }
    if peer == Peer::Matrixmultiply {
        let set = std::env::var(MATMUL_NUM_THREADS).ok();
        if set.as_deref().map(str::trim) != Some(threads.to_string().as_str()) {
            return Err(format!(
                "matrixmultiply sizes its pool from {MATMUL_NUM_THREADS}; it is {set:?}, the run asks for {threads} threads"
            ));
        }
        if threads > 4 {
            return Err(format!("matrixmultiply uses at most 4 threads, the run asks for {threads}"));
        }
    }
    let case = Case::new(Workload::Matmul(shape), dtype);
    let host = case.host_inputs();
    let dims = (shape.m, shape.n, shape.k);
    let pool = measure::pool(threads)?;
    // Everything runs on a worker of the pool, so each call goes straight to the peer
    // (no per-call `install` hand-off, which costs microseconds on tiny shapes).
    let (timing, peak) = pool.install(|| match dtype {
        BenchDType::F16 => {
            let to = |v: &[f64]| v.iter().map(|&x| half::f16::from_f64(x)).collect::<Vec<_>>();
            let (a, b) = (to(&host.a.data), to(&host.b.data));
            let mul = |c: &mut [half::f16]| raw::gemm(dims, &a, &b, c, gemm_par(threads));
            let mut c = vec![half::f16::ZERO; shape.m * shape.n];
            mul(&mut c)?;
            case.check_output(&host, &c.iter().map(|x| x.to_f64()).collect::<Vec<_>>())?;
            let peak = measure::peak(case.dtype, &pool);
            Ok::<_, String>((measure::time(min_reps, min_secs, || mul(&mut c))?, peak))
        }
        _ => {
            let to = |v: &[f64]| v.iter().map(|&x| x as f32).collect::<Vec<_>>();
            let (a, b) = (to(&host.a.data), to(&host.b.data));
            let mul = |c: &mut [f32]| match peer {
                Peer::Gemm => raw::gemm(dims, &a, &b, c, gemm_par(threads)),
                Peer::Matrixmultiply => raw::sgemm(dims, &a, &b, c),
                Peer::Faer => {
                    faer_matmul(dims, &a, &b, c, threads);
                    Ok(())
                }
            };
            let mut c = vec![0.0f32; shape.m * shape.n];
            mul(&mut c)?;
            case.check_output(&host, &c.iter().map(|&x| x as f64).collect::<Vec<_>>())?;
            let peak = measure::peak(case.dtype, &pool);
            Ok((measure::time(min_reps, min_secs, || mul(&mut c))?, peak))
        }
    })?;
    Ok(Record::new(peer.name(), &case, threads, timing, peak))
}

fn gemm_par(threads: usize) -> gemm::Parallelism {
    if threads <= 1 { gemm::Parallelism::None } else { gemm::Parallelism::Rayon(threads) }
}

fn faer_matmul((m, n, k): (usize, usize, usize), a: &[f32], b: &[f32], c: &mut [f32], threads: usize) {
    let par = if threads <= 1 { faer::Par::Seq } else { faer::Par::rayon(threads) };
    let a = faer::MatRef::from_row_major_slice(a, m, k);
    let b = faer::MatRef::from_row_major_slice(b, k, n);
    let c = faer::MatMut::from_row_major_slice_mut(c, m, n);
    faer::linalg::matmul::matmul(c, faer::Accum::Replace, a, b, 1.0f32, par);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gemm_and_faer_pass_their_check_and_report() {
        for (peer, dtype) in
            [(Peer::Gemm, BenchDType::F32), (Peer::Gemm, BenchDType::F16), (Peer::Faer, BenchDType::F32)]
        {
            let r = run(peer, dtype, MatmulShape { m: 33, n: 17, k: 65 }, 2, 1, 0.0).unwrap();
            assert_eq!((r.peer.as_str(), r.dtype.as_str(), r.threads), (peer.name(), dtype.name(), 2));
            assert!(r.gflops > 0.0 && r.checked);
        }
    }

    #[test]
    fn unsupported_dtype_and_unset_thread_variable_are_errors() {
        let e = run(Peer::Faer, BenchDType::I8, MatmulShape::square(8), 1, 1, 0.0).unwrap_err();
        assert!(e.contains("supports dtype f32"), "{e}");
        if std::env::var(MATMUL_NUM_THREADS).as_deref() != Ok("3") {
            let e = run(Peer::Matrixmultiply, BenchDType::F32, MatmulShape::square(8), 3, 1, 0.0).unwrap_err();
            assert!(e.contains(MATMUL_NUM_THREADS), "{e}");
        }
    }
}
