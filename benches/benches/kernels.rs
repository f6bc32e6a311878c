//! Criterion benchmarks of accel's kernels on every measured (not emulated) device of
//! `accel::devices()`: matmul in
//! f32/bf16/f16/i8 (u8 × i8 → i32), conv2d (3×3, 1×1, the 7×7 stem), depthwise conv, each
//! bare and with the fused bias+ReLU epilogue where it matters, and an elementwise add.
//! Every case is checked against the oracle once before it is timed.
//! `cargo bench -p accel-bench` (threads: `ACCEL_NUM_THREADS`); the side-by-side numbers
//! with peaks and peers come from the `accel-bench` binary instead.

#![allow(missing_docs, reason = "criterion_group! generates an undocumented pub fn")]

use accel_bench::suites::{MOBILENET_V2_DEPTHWISE, RESNET50};
use accel_bench::{BenchDType, Case, EpilogueKind, Layout, MatmulShape, Workload};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

fn cases() -> Vec<Case> {
    let with = |workload, dtype, epilogue| Case { workload, dtype, layout: Layout::Nchw, epilogue };
    let mut cases = Vec::new();
    let mm = Workload::Matmul(MatmulShape::square(256));
    for dtype in [BenchDType::F32, BenchDType::Bf16, BenchDType::F16, BenchDType::I8] {
        cases.push(with(mm, dtype, EpilogueKind::None));
    }
    for dtype in [BenchDType::F32, BenchDType::I8] {
        cases.push(with(mm, dtype, EpilogueKind::BiasRelu));
    }
    cases.push(with(Workload::Matmul(MatmulShape::square(512)), BenchDType::F32, EpilogueKind::None));
    // res2 3×3 64→64 at 56², res3 1×1 128→512 at 28², the 7×7 stride-2 stem.
    for layer in [RESNET50[2], RESNET50[7], RESNET50[0]] {
        cases.push(with(Workload::Conv2d(layer.shape), BenchDType::F32, EpilogueKind::None));
    }
    cases.push(with(Workload::Conv2d(RESNET50[2].shape), BenchDType::F32, EpilogueKind::BiasRelu));
    cases.push(with(Workload::Conv2d(RESNET50[2].shape), BenchDType::I8, EpilogueKind::None));
    cases.push(Case {
        layout: Layout::Nhwc,
        ..with(Workload::Conv2d(RESNET50[2].shape), BenchDType::F32, EpilogueKind::None)
    });
    // Depthwise 3×3, 144 channels at 56².
    let dw = Workload::Conv2d(MOBILENET_V2_DEPTHWISE[2].shape);
    cases.push(with(dw, BenchDType::F32, EpilogueKind::None));
    cases.push(with(dw, BenchDType::F32, EpilogueKind::BiasRelu));
    cases.push(with(Workload::Add { len: 1 << 20 }, BenchDType::F32, EpilogueKind::None));
    cases
}

fn bench(c: &mut Criterion) {
    // Emulated devices report modeled figures; their wall time measures the simulator.
    for device in accel::devices().into_iter().filter(|d| !d.info().emulated) {
        for case in cases() {
            let mut p = case.prepare(&device).unwrap_or_else(|e| panic!("{}: {e}", case.name()));
            if let Err(e) = case.check(&mut p) {
                panic!("refusing to benchmark a wrong result: {e}");
            }
            let mut group = c.benchmark_group(format!("{}/{}", device.name(), case.name()));
            group.throughput(Throughput::Elements(case.workload.flops()));
            group.sample_size(10);
            group.bench_function(case.dtype.name(), |b| {
                b.iter(|| {
                    case.run(&mut p).expect("run");
                    device.synchronize().expect("synchronize");
                })
            });
            group.finish();
        }
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default();
    targets = bench
}
criterion_main!(benches);
