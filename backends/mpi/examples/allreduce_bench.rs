//! All-reduce over MPI in the nccl-tests style, beside raw `MPI_Allreduce` through the same
//! binding (rsmpi) on the same buffers' sizes: `mpirun -n 4 allreduce_bench [max_bytes [rounds]]`.
//! f32 sum; sizes 8 B .. max_bytes (default 64 MiB) by ×8, plus max_bytes. Each variant runs
//! in rounds (default 3; more rounds steady the ratio on an oversubscribed or shared machine)
//! interleaved with the others (raw, out-of-place, in-place); the fastest round's
//! mean time per call counts, as the slowest rank saw it. Every size is checked once.
//! GB = 1e9 B; busbw = algbw × 2(n−1)/n.

use accel_core::comm::{Communicator, ReduceOp};
use accel_core::{DType, Result, Tensor};
use mpi::collective::SystemOperation;
use mpi::topology::SimpleCommunicator;
use mpi::traits::CommunicatorCollectives;
use std::process::ExitCode;
use std::time::Instant;

const DEFAULT_ROUNDS: usize = 3;

fn iters(bytes: usize) -> usize {
    (((256usize << 20) / bytes.max(1)).clamp(3, 200)) / 2 + 2
}

fn slowest(world: &SimpleCommunicator, secs: f64) -> f64 {
    let mut max = 0.0f64;
    world.all_reduce_into(&secs, &mut max, SystemOperation::max());
    max
}

fn main() -> ExitCode {
    let max_bytes: usize = std::env::args().nth(1).and_then(|s| s.parse().ok()).unwrap_or(64 << 20);
    let rounds: usize =
        std::env::args().nth(2).and_then(|s| s.parse().ok()).filter(|&r| r > 0).unwrap_or(DEFAULT_ROUNDS);
    accel_mpi::run(|mpi| {
        let dev = accel_cpu::device();
        let comm = mpi.world(&dev);
        let world = SimpleCommunicator::world();
        let (rank, n) = (comm.rank(), comm.size());
        let bus = 2.0 * (n as f64 - 1.0) / n as f64;
        let mut sizes: Vec<usize> =
            std::iter::successors(Some(8usize), |s| Some(s * 8)).take_while(|&s| s < max_bytes).collect();
        sizes.push(max_bytes);
        if rank == 0 {
            println!("# accel-mpi all_reduce vs raw MPI_Allreduce (rsmpi), f32 sum, {n} ranks");
            println!(
                "# {:>10} {:>10}  {:>11} {:>7} {:>7}  {:>11} {:>7} {:>7} {:>6}  {:>11} {:>7} {:>7} {:>6}  {:>6}",
                "size",
                "count",
                "raw(us)",
                "algbw",
                "busbw",
                "out(us)",
                "algbw",
                "busbw",
                "#wrong",
                "in(us)",
                "algbw",
                "busbw",
                "#wrong",
                "out/raw"
            );
        }
        for &bytes in &sizes {
            let count = (bytes / 4).max(1);
            let bytes = count * 4;
            let k = iters(bytes);
            let send: Vec<f32> = (0..count).map(|i| ((rank + i) % 4) as f32).collect();
            let mut recv = vec![0f32; count];
            let x = Tensor::from_slice(&dev, &[count], &send)?;
            let y = Tensor::zeros(&dev, &[count], DType::F32)?;
            let mut best = [f64::INFINITY; 3];
            for _ in 0..rounds {
                for (v, slot) in best.iter_mut().enumerate() {
                    // warm-up call, then k timed calls
                    let call = |recv: &mut [f32]| -> Result<()> {
                        match v {
                            0 => world.all_reduce_into(&send[..], recv, SystemOperation::sum()),
                            1 => comm.all_reduce(&x, &y, ReduceOp::Sum)?,
                            _ => comm.all_reduce_in_place(&y, ReduceOp::Sum)?,
                        }
                        Ok(())
                    };
                    call(&mut recv)?;
                    world.barrier();
                    let t0 = Instant::now();
                    for _ in 0..k {
                        call(&mut recv)?;
                    }
                    let t = slowest(&world, t0.elapsed().as_secs_f64() / k as f64);
                    *slot = slot.min(t);
                }
            }
            // checks: sum over ranks of ((r + i) % 4)
            let want = |i: usize| (0..n).map(|r| ((r + i) % 4) as f32).sum::<f32>();
            world.all_reduce_into(&send[..], &mut recv[..], SystemOperation::sum());
            let wrong_raw = (0..count).filter(|&i| recv[i] != want(i)).count();
            comm.all_reduce(&x, &y, ReduceOp::Sum)?;
            let out = y.to_vec::<f32>()?;
            let wrong_out = (0..count).filter(|&i| out[i] != want(i)).count() + wrong_raw;
            let z = Tensor::from_slice(&dev, &[count], &send)?;
            comm.all_reduce_in_place(&z, ReduceOp::Sum)?;
            let inp = z.to_vec::<f32>()?;
            let wrong_in = (0..count).filter(|&i| inp[i] != want(i)).count();
            if rank == 0 {
                let col = |t: f64| {
                    let alg = bytes as f64 / t / 1e9;
                    format!("{:>11.1} {:>7.3} {:>7.3}", t * 1e6, alg, alg * bus)
                };
                println!(
                    "  {:>10} {:>10}  {}  {} {:>6}  {} {:>6}  {:>6.3}",
                    bytes,
                    count,
                    col(best[0]),
                    col(best[1]),
                    wrong_out,
                    col(best[2]),
                    wrong_in,
                    best[1] / best[0]
                );
            }
            if wrong_out + wrong_in > 0 {
                return Err(accel_core::Error::Backend {
                    backend: "mpi".into(),
                    message: format!("all_reduce of {bytes} B gave wrong values"),
                });
            }
        }
        Ok(())
    })
}
