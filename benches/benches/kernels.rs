//! Criterion benchmarks of accel's ops on every device, each checked against the oracle once
//! before it is timed. `cargo bench -p accel-bench`.

#![allow(missing_docs, reason = "criterion_group! generates an undocumented pub fn")]

use accel::DType;
use accel_bench::Workload;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

fn workloads() -> Vec<Workload> {
    vec![
        Workload::Matmul { m: 256, n: 256, k: 256 },
        Workload::Matmul { m: 512, n: 512, k: 512 },
        Workload::Conv2d { n: 1, c: 64, hw: 56, o: 64, r: 3, stride: 1, pad: 1 },
        Workload::Add { len: 1 << 20 },
    ]
}

fn bench(c: &mut Criterion) {
    for device in accel::devices() {
        for w in workloads() {
            for dtype in [DType::F32, DType::BF16] {
                if let Err(e) = w.check(&device, dtype) {
                    panic!("refusing to benchmark a wrong result: {e}");
                }
                let inputs = w.inputs(&device, dtype).expect("inputs");
                let mut group = c.benchmark_group(format!("{}/{}", device.name(), w.name()));
                group.throughput(Throughput::Elements(w.flops()));
                group.sample_size(10);
                group.bench_function(dtype.name(), |b| {
                    b.iter(|| {
                        let out = w.run(&inputs).expect("run");
                        device.synchronize().expect("synchronize");
                        out
                    })
                });
                group.finish();
            }
        }
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default();
    targets = bench
}
criterion_main!(benches);
