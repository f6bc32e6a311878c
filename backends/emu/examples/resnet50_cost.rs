//! Cost-only planning: every convolution of ResNet-50 (batch 1, 224×224, int8) costed on
//! every registered emulated device without allocating or computing anything, with the time
//! the planning itself takes (issue 5 target: under 10 ms for the whole network).
//!
//! Run: `cargo run --release -p accel-emu --example resnet50_cost`

use accel_core::DType;
use accel_emu::{ConvShape, Gemm, Workload};
use std::time::Instant;

/// (in_channels, out_channels, input size, kernel, stride, padding) of every convolution of
/// ResNet-50 v1.5 (He et al. 2016; stride on the 3×3 of each bottleneck), in order.
fn resnet50() -> Vec<ConvShape> {
    let conv = |c: u64, o: u64, hw: u64, k: u64, s: u64, p: u64| ConvShape {
        batch: 1,
        in_channels: c,
        input: [hw, hw],
        out_channels: o,
        kernel: [k, k],
        stride: [s, s],
        padding: [2 * p, 2 * p],
        groups: 1,
    };
    let mut layers = vec![conv(3, 64, 224, 7, 2, 3)];
    let (mut c, mut hw) = (64, 56);
    for (stage, (width, blocks)) in [(64u64, 3), (128, 4), (256, 6), (512, 3)].into_iter().enumerate() {
        for block in 0..blocks {
            let stride = if block == 0 && stage > 0 { 2 } else { 1 };
            let out = width * 4;
            layers.push(conv(c, width, hw, 1, 1, 0));
            layers.push(conv(width, width, hw, 3, stride, 1));
            let hw_out = if stride == 2 { hw / 2 } else { hw };
            layers.push(conv(width, out, hw_out, 1, 1, 0));
            if block == 0 {
                layers.push(conv(c, out, hw, 1, stride, 0));
            }
            c = out;
            hw = hw_out;
        }
    }
    layers
}

fn main() -> accel_core::Result<()> {
    let layers = resnet50();
    let work: Vec<Workload> =
        layers.iter().map(|l| Gemm::conv2d(l, DType::I8).map(Workload::Gemm)).collect::<accel_core::Result<_>>()?;
    let macs: u64 = work.iter().map(|w| if let Workload::Gemm(g) = w { g.macs() } else { 0 }).sum();
    println!("ResNet-50: {} convolutions, {:.2} GMACs", layers.len(), macs as f64 / 1e9);
    println!("{:<16} {:>10} {:>12} {:>10} {:>12}", "device", "ms", "mJ", "util", "plan time");
    for name in ["scalesim-32x32", "tpu-v1", "eyeriss", "upmem", "isaac", "neurosim-rram"] {
        let preset = accel_emu::Preset::builtin(name)?;
        let start = Instant::now();
        let mut seconds = 0.0;
        let mut pj = 0.0;
        let mut busy = 0.0;
        for w in &work {
            let c = accel_emu::cost(&preset, w)?;
            seconds += c.seconds;
            pj += c.energy_pj();
            busy += c.utilization * c.seconds;
        }
        let planning = start.elapsed();
        println!(
            "{name:<16} {:>10.3} {:>12.3} {:>9.1}% {:>9.3} ms",
            seconds * 1e3,
            pj * 1e-9,
            100.0 * busy / seconds,
            planning.as_secs_f64() * 1e3
        );
    }
    Ok(())
}
