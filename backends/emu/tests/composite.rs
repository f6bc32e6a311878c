//! The NPU + PIM package routes GEMV-like ops to the banks and GEMMs with reuse to the array,
//! runs each with the chosen unit's numerics, and reports both parts.

use accel_core::{DType, Tensor, f16, ops};
use accel_emu::{Gemm, Workload};

#[test]
fn gemv_goes_to_pim_and_gemm_to_the_array() {
    let gemv = accel_emu::cost_by_name("npu+pim", &Workload::Gemm(Gemm::matmul(1, 1, 4096, 4096, DType::F16))).unwrap();
    assert_eq!(gemv.unit, "pim");
    let gemm =
        accel_emu::cost_by_name("npu+pim", &Workload::Gemm(Gemm::matmul(1, 1024, 1024, 1024, DType::F16))).unwrap();
    assert_eq!(gemm.unit, "npu");
    // Each choice is the faster of the two units.
    let alone = |name, m| {
        accel_emu::cost_by_name(name, &Workload::Gemm(Gemm::matmul(1, m, 4096, 4096, DType::F16))).unwrap().seconds
    };
    assert!(gemv.seconds <= alone("hbm2-pim", 1) * 1.000_001);
    // Both parts of the package show up for a PIM kernel: the banks and the NPU's staging.
    assert!(gemv.energy.iter().any(|e| e.component.starts_with("pim.")));
    assert!(gemv.energy.iter().any(|e| e.component == "npu.sram"));
    assert!(gemm.energy.iter().all(|e| e.component.starts_with("npu.")));
}

/// The routed op computes with its unit's datapath: an f16 GEMV accumulates in the PIM's
/// fp16 lanes (2048 + 1 + 1 = 2048), a bf16 GEMM (PIM has no bf16 lanes) runs on the array.
#[test]
fn numerics_follow_the_routed_unit() {
    let dev = accel_emu::device("npu+pim").unwrap();
    dev.set_profiling(true);
    // A 4096 × 256 weight matrix (2 MiB): large enough that the banks beat streaming it.
    let (k, n) = (4096, 256);
    let mut b = vec![f16::from_f32(0.0); k * n];
    b[0] = f16::from_f32(2048.0);
    b[n] = f16::from_f32(1.0);
    b[16 * n] = f16::from_f32(1.0);
    let a = Tensor::from_slice(&dev, &[1, k], &vec![f16::from_f32(1.0); k]).unwrap();
    let bt = Tensor::from_slice(&dev, &[k, n], &b).unwrap();
    // Lane 0 holds 2048 + 1 = 2048 (f16 spacing 2 above 2048), lane 1 holds 1; the host's
    // fp16 reduction 2048 + 1 rounds to 2048 again (an f32 accumulator gives 2050).
    assert_eq!(ops::matmul(&a, &bt).unwrap().to_vec::<f16>().unwrap()[0].to_f32(), 2048.0);
    let x = Tensor::from_slice(&dev, &[64, 64], &vec![accel_core::bf16::from_f32(1.0); 64 * 64]).unwrap();
    ops::matmul(&x, &x).unwrap();
    let units: Vec<String> = dev.take_records().iter().map(|r| r.modeled.as_ref().unwrap().unit.clone()).collect();
    assert_eq!(units, ["pim", "npu"]);
}
