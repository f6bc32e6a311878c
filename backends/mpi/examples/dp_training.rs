//! Data-parallel training of a small MLP across MPI ranks (`mpirun -n 4 dp_training`).
//!
//! Every rank holds a replica and a 1/n share of each global batch; gradients (and the loss)
//! are summed with one all-reduce per step, so every replica takes the step one device would
//! take on the whole batch. Rank 0 also trains on one device and the run asserts that the
//! loss curves match within float tolerance. The same model as the in-process example
//! `examples/examples/dp_training.rs` (4 emulated NPUs).

use accel_core::comm::{Communicator, ReduceOp};
use accel_core::ops::matmul;
use accel_core::{Device, Error, Result, Tensor};
use std::process::ExitCode;

const D: usize = 16; // inputs
const H: usize = 32; // hidden units
const BATCH: usize = 64; // global batch
const STEPS: usize = 30;
const LR: f32 = 0.05;

/// A deterministic stream of uniform values in [-1, 1).
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> f32 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 40) as f32 / (1u64 << 23) as f32 - 1.0
    }
    fn vec(&mut self, n: usize, scale: f32) -> Vec<f32> {
        (0..n).map(|_| self.next() * scale).collect()
    }
}

/// Parameters, flattened in one vector (one all-reduce for all gradients).
#[derive(Clone)]
struct Mlp {
    p: Vec<f32>,
}
const W1: usize = D * H;
const B1: usize = W1 + H;
const W2: usize = B1 + H;
const NP: usize = W2 + 1;

impl Mlp {
    fn new(seed: u64) -> Mlp {
        let mut r = Rng(seed);
        let mut p = r.vec(NP, 0.5);
        p[W1..B1].fill(0.0);
        Mlp { p }
    }

    /// Loss summed over `x`'s rows (divided by `total` rows) and its gradient.
    fn loss_grad(&self, dev: &Device, x: &[f32], t: &[f32], total: usize) -> Result<(f32, Vec<f32>)> {
        let b = t.len();
        let xt = Tensor::from_slice(dev, &[b, D], x)?;
        let w1 = Tensor::from_slice(dev, &[D, H], &self.p[..W1])?;
        let z1 = matmul(&xt, &w1)?.to_vec::<f32>()?;
        let z1: Vec<f32> = z1.iter().enumerate().map(|(i, z)| z + self.p[W1 + i % H]).collect();
        let h: Vec<f32> = z1.iter().map(|&z| z.max(0.0)).collect();
        let ht = Tensor::from_slice(dev, &[b, H], &h)?;
        let w2 = Tensor::from_slice(dev, &[H, 1], &self.p[B1..W2])?;
        let y = matmul(&ht, &w2)?.to_vec::<f32>()?;
        let dy: Vec<f32> = y.iter().zip(t).map(|(y, t)| 2.0 * (y + self.p[W2] - t) / total as f32).collect();
        let loss = y.iter().zip(t).map(|(y, t)| (y + self.p[W2] - t).powi(2)).sum::<f32>() / total as f32;
        let mut g = vec![0f32; NP];
        let dyt = Tensor::from_slice(dev, &[b, 1], &dy)?;
        g[B1..W2].copy_from_slice(&matmul(&ht.t()?, &dyt)?.to_vec::<f32>()?);
        g[W2] = dy.iter().sum();
        let dh = matmul(&dyt, &w2.t()?)?.to_vec::<f32>()?;
        let dz: Vec<f32> = dh.iter().zip(&z1).map(|(d, &z)| if z > 0.0 { *d } else { 0.0 }).collect();
        for (i, d) in dz.iter().enumerate() {
            g[W1 + i % H] += d;
        }
        let dzt = Tensor::from_slice(dev, &[b, H], &dz)?;
        g[..W1].copy_from_slice(&matmul(&xt.t()?, &dzt)?.to_vec::<f32>()?);
        Ok((loss, g))
    }

    fn step(&mut self, g: &[f32]) {
        self.p.iter_mut().zip(g).for_each(|(p, g)| *p -= LR * g);
    }
}

/// The synthetic data set: batch `s` of inputs and the teacher's targets.
fn batch(s: usize, teacher: &Mlp) -> (Vec<f32>, Vec<f32>) {
    let x = Rng(1000 + s as u64).vec(BATCH * D, 1.0);
    let t = (0..BATCH)
        .map(|i| {
            let xi = &x[i * D..(i + 1) * D];
            let h = (0..H).map(|j| (0..D).map(|k| xi[k] * teacher.p[k * H + j]).sum::<f32>().max(0.0));
            h.zip(&teacher.p[B1..W2]).map(|(h, w)| h * w).sum::<f32>()
        })
        .collect();
    (x, t)
}

/// Single-device training on the whole batch: the reference curve.
fn single(dev: &Device, teacher: &Mlp) -> Result<Vec<f32>> {
    let mut m = Mlp::new(7);
    let mut curve = Vec::new();
    for s in 0..STEPS {
        let (x, t) = batch(s, teacher);
        let (loss, g) = m.loss_grad(dev, &x, &t, BATCH)?;
        m.step(&g);
        curve.push(loss);
    }
    Ok(curve)
}

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
            for (s, (a, b)) in reference.iter().zip(&curve).enumerate() {
                if (a - b).abs() > 1e-4 * a.abs().max(1e-3) {
                    return Err(Error::Backend {
                        backend: "dp_training".into(),
                        message: format!("step {s}: single-device loss {a}, data-parallel {b}"),
                    });
                }
            }
            if curve[STEPS - 1] >= 0.5 * curve[0] {
                return Err(Error::Backend { backend: "dp_training".into(), message: "the loss did not fall".into() });
            }
            println!("loss curves match within 1e-4 (relative)");
        }
        Ok(())
    })
}
