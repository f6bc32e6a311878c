//! Data-parallel training of a small MLP across MPI ranks (`mpirun -n 4 dp_training`).
//!
//! Every rank holds a replica and a 1/n share of each global batch; gradients (and the loss)
//! are summed with one all-reduce per step, so every replica takes the step one device would
//! take on the whole batch. Rank 0 also trains on one device and the run asserts that the
//! loss curves match within float tolerance. The same model as the in-process example
//! `examples/examples/dp_training.rs` (4 emulated NPUs).

#[path = "../../../examples/shared/dp_mlp.rs"]
mod dp_mlp;

use accel_core::comm::{Communicator, ReduceOp};
use accel_core::{Error, Tensor};
use dp_mlp::{BATCH, D, Mlp, NP, STEPS, batch, compare, single};
use std::process::ExitCode;

fn main() -> ExitCode {
    accel_mpi::run(|mpi| {
        let dev = accel_cpu::device();
        let comm = mpi.world(&dev);
        let (r, n) = (comm.rank(), comm.size());
        if n == 0 || !BATCH.is_multiple_of(n) {
            return Err(Error::invalid("dp_training", "ranks", format!("a divisor of {BATCH}"), n.to_string()));
        }
        let per = BATCH / n;
        let teacher = Mlp::new(99);
        let mut m = Mlp::new(7);
        let mut curve = Vec::new();
        for s in 0..STEPS {
            let (x, t) = batch(s, &teacher);
            let (loss, mut g) =
                m.loss_grad(&dev, &x[r * per * D..(r + 1) * per * D], &t[r * per..(r + 1) * per], BATCH)?;
            g.push(loss);
            let gt = Tensor::from_slice(&dev, &[NP + 1], &g)?;
            comm.all_reduce_in_place(&gt, ReduceOp::Sum)?;
            let summed = gt.to_vec::<f32>()?;
            m.step(&summed[..NP]);
            curve.push(summed[NP]);
        }
        if r == 0 {
            let reference = single(&dev, &teacher)?;
            println!("step  single-device  {n} MPI ranks (data-parallel)");
            for (s, (a, b)) in reference.iter().zip(&curve).enumerate() {
                println!("{s:>4}  {a:>13.6}  {b:>13.6}");
            }
            compare(&reference, &curve).map_err(|message| Error::Backend { backend: "dp_training".into(), message })?;
            println!("loss curves match within 1e-4 (relative)");
        }
        Ok(())
    })
}
