//! Data-parallel training of a small MLP across 4 emulated NPUs in one process.
//!
//! Each rank (one thread per device, `LocalGroup`) holds a replica of the model and a quarter
//! of every global batch; after the backward pass the gradients are summed with one
//! all-reduce, so every replica takes the same step as one device training on the whole
//! batch. The run asserts that the loss curve matches single-device training within float
//! tolerance (only the summation order of the batch differs).
//!
//! `cargo run --release -p accel-examples --example dp_training`
//!
//! Model: y = W2ᵀ·relu(W1ᵀ·x + b1) + b2, mean-squared error against a fixed random
//! "teacher" MLP's output on synthetic inputs. Matmuls run on the device; the small
//! elementwise parts (bias, ReLU mask, loss) on the host.

use accel::comm::{Communicator, LocalGroup, ReduceOp};
use accel::ops::matmul;
use accel::{Device, Result, Tensor};

const D: usize = 16; // inputs
const H: usize = 32; // hidden units
const BATCH: usize = 64; // global batch
const STEPS: usize = 30;
const LR: f32 = 0.05;
const RANKS: usize = 4;

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

/// Data-parallel training: rank r takes rows [r·B/n, (r+1)·B/n) of each batch.
fn parallel(devices: &[Device], teacher: &Mlp) -> Result<Vec<f32>> {
    let comms = LocalGroup::new(devices)?;
    let per = BATCH / devices.len();
    let curves: Vec<Result<Vec<f32>>> = std::thread::scope(|s| {
        let handles: Vec<_> = comms
            .iter()
            .zip(devices)
            .map(|(comm, dev)| {
                s.spawn(move || -> Result<Vec<f32>> {
                    let r = comm.rank();
                    let mut m = Mlp::new(7);
                    let mut curve = Vec::new();
                    for s in 0..STEPS {
                        let (x, t) = batch(s, teacher);
                        let (loss, g) =
                            m.loss_grad(dev, &x[r * per * D..(r + 1) * per * D], &t[r * per..(r + 1) * per], BATCH)?;
                        // one all-reduce for the gradients and the loss
                        let mut flat = g;
                        flat.push(loss);
                        let gt = Tensor::from_slice(dev, &[NP + 1], &flat)?;
                        comm.all_reduce_in_place(&gt, ReduceOp::Sum)?;
                        let summed = gt.to_vec::<f32>()?;
                        m.step(&summed[..NP]);
                        curve.push(summed[NP]);
                    }
                    Ok(curve)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().expect("rank thread panicked")).collect()
    });
    let mut curves = curves.into_iter().collect::<Result<Vec<_>>>()?;
    // every replica saw the same summed loss
    assert!(curves.windows(2).all(|w| w[0] == w[1]), "ranks disagree on the loss");
    Ok(curves.swap_remove(0))
}

fn run() -> Result<(Vec<f32>, Vec<f32>)> {
    // scalesim-32x32: a 32×32 systolic array whose PEs take fp32 (tpu-v1 is int8-only).
    let npu = |_| accel::emu::device("scalesim-32x32");
    let devices: Vec<Device> = (0..RANKS).map(npu).collect::<Result<_>>()?;
    let teacher = Mlp::new(99);
    let reference = single(&npu(0)?, &teacher)?;
    let dp = parallel(&devices, &teacher)?;
    Ok((reference, dp))
}

fn check(reference: &[f32], dp: &[f32]) {
    for (s, (a, b)) in reference.iter().zip(dp).enumerate() {
        assert!((a - b).abs() <= 1e-4 * a.abs().max(1e-3), "step {s}: single-device loss {a}, data-parallel {b}");
    }
    assert!(dp[STEPS - 1] < 0.5 * dp[0], "the loss did not fall: {} -> {}", dp[0], dp[STEPS - 1]);
}

fn main() -> Result<()> {
    let (reference, dp) = run()?;
    println!("step  single-device  {RANKS} emulated NPUs (data-parallel)");
    for (s, (a, b)) in reference.iter().zip(&dp).enumerate() {
        println!("{s:>4}  {a:>13.6}  {b:>13.6}");
    }
    check(&reference, &dp);
    println!("loss curves match within 1e-4 (relative)");
    Ok(())
}

#[test]
fn data_parallel_matches_single_device() {
    let (reference, dp) = run().expect("training runs");
    check(&reference, &dp);
}
