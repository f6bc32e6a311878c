//! Convolution oracle tests (forward and transposed), checked by hand.

use super::{Buf, out, run};
use accel_core::op::{ConvDesc, DataLayout, EpilogueDesc, Requant};
use accel_core::{DType, Op, View};

/// A float NCHW descriptor; callers adjust the rest.
fn cdesc(
    n: usize,
    c: usize,
    o: usize,
    groups: usize,
    input: [usize; 2],
    kernel: [usize; 2],
    output: [usize; 2],
) -> ConvDesc {
    ConvDesc {
        spatial_rank: 2,
        layout: DataLayout::Nchw,
        batch: n,
        in_channels: c,
        out_channels: o,
        groups,
        input,
        kernel,
        output,
        stride: [1, 1],
        dilation: [1, 1],
        padding: [[0, 0], [0, 0]],
        output_padding: [0, 0],
        dtype: DType::F32,
        w_dtype: DType::F32,
        out_dtype: DType::F32,
        zero_points: (0, 0),
        epilogue: EpilogueDesc::default(),
    }
}

fn iota(n: usize, start: f64) -> Vec<f64> {
    (0..n).map(|i| start + i as f64).collect()
}

#[test]
fn padded_strided_grouped_conv2d_through_nhwc_views() {
    // Channel 0 is 1..=9, channel 1 is 10..=18 (3x3 each), stored NHWC and viewed as NCHW.
    let nchw: Vec<f64> = iota(18, 1.0);
    let nhwc: Vec<f64> = (0..18).map(|i| nchw[(i % 2) * 9 + i / 2]).collect();
    let x = Buf::new(DType::F32, &[1, 3, 3, 2], &nhwc).with_view(|v| v.permute("t", &[0, 3, 1, 2]).unwrap());
    // Group 0 (output 0 reads channel 0): [[1, 2], [3, 4]]; group 1: [[1, 0], [0, −1]].
    let w = Buf::new(DType::F32, &[2, 1, 2, 2], &[1., 2., 3., 4., 1., 0., 0., -1.]);
    let mut o = out(DType::F32, &[1, 2, 2, 2]).with_view(|v| v.permute("t", &[0, 3, 1, 2]).unwrap());
    let mut d = cdesc(1, 2, 2, 2, [3, 3], [2, 2], [2, 2]);
    d.layout = DataLayout::Nhwc;
    d.stride = [2, 2];
    // top 1, bottom 1, left 0, right 1: oH = (3+2−2)/2+1 = 2, oW = (3+1−2)/2+1 = 2.
    d.padding = [[1, 1], [0, 1]];
    run(&Op::Conv(d), &[&x, &w], &mut o).unwrap();
    // out[o, y, x] = Σ in[2y − 1 + i, 2x + j]·w[i, j]:
    //   o0: (0,0) 1·3 + 2·4 = 11; (0,1) 3·3 = 9; (1,0) 4 + 10 + 21 + 32 = 67; (1,1) 6 + 27 = 33
    //   o1: (0,0) −11; (0,1) 0; (1,0) 13 − 17 = −4; (1,1) 15
    assert_eq!(o.values(), [11., 9., 67., 33., -11., 0., -4., 15.]);
    // The storage is NHWC.
    assert_eq!(o.storage(), [11., -11., 9., 0., 67., -4., 33., 15.]);
}

#[test]
fn dilated_conv_with_float_requant() {
    let x = Buf::new(DType::F32, &[1, 1, 4, 4], &iota(16, 0.0));
    let w = Buf::new(DType::F32, &[1, 1, 2, 2], &[1.; 4]);
    let mut o = out(DType::F32, &[1, 1, 2, 2]);
    let mut d = cdesc(1, 1, 1, 1, [4, 4], [2, 2], [2, 2]);
    d.dilation = [2, 2];
    run(&Op::Conv(d.clone()), &[&x, &w], &mut o).unwrap();
    // in[y][x] + in[y][x+2] + in[y+2][x] + in[y+2][x+2] = 16y + 4x + 20.
    assert_eq!(o.values(), [20., 24., 36., 40.]);

    d.out_dtype = DType::I8;
    d.epilogue.requant = Some(Requant { scales: vec![0.1], zero_point: 0 });
    let mut o = out(DType::I8, &[1, 1, 2, 2]);
    run(&Op::Conv(d), &[&x, &w], &mut o).unwrap();
    assert_eq!(o.values(), [2., 2., 4., 4.]);
}

#[test]
fn int8_conv1d_padding_contributes_nothing() {
    // 1-D lifted to H = 1: input u8 [10, 20] with zero point 10, weight [1, 2, 3], pad 1 each side.
    let x = Buf::new(DType::U8, &[1, 1, 1, 2], &[10., 20.]);
    let w = Buf::new(DType::I8, &[1, 1, 1, 3], &[1., 2., 3.]);
    let mut o = out(DType::I32, &[1, 1, 1, 2]);
    let mut d = cdesc(1, 1, 1, 1, [1, 2], [1, 3], [1, 2]);
    d.spatial_rank = 1;
    d.padding = [[0, 0], [1, 1]];
    d.dtype = DType::U8;
    d.w_dtype = DType::I8;
    d.out_dtype = DType::I32;
    d.zero_points = (10, 0);
    run(&Op::Conv(d), &[&x, &w], &mut o).unwrap();
    // x=0: pad, 0·2, 10·3 = 30; x=1: 0·1, 10·2, pad = 20 (padding as raw 0 would give −10s).
    assert_eq!(o.values(), [30., 20.]);
}

#[test]
fn transposed_stride2_with_padding_and_output_padding() {
    let x = Buf::new(DType::F32, &[1, 1, 2, 2], &[1., 2., 3., 4.]);
    let w = Buf::new(DType::F32, &[1, 1, 2, 2], &[1., 10., 100., 1000.]);
    // Uncropped output is 5x4 (the last row from output_padding); crop 1 row on top and
    // 1 column on the right.
    let mut d = cdesc(1, 1, 1, 1, [2, 2], [2, 2], [4, 3]);
    d.stride = [2, 2];
    d.padding = [[1, 0], [0, 1]];
    d.output_padding = [1, 0];
    let mut o = out(DType::F32, &[1, 1, 4, 3]);
    run(&Op::ConvTranspose(d), &[&x, &w], &mut o).unwrap();
    // Each input pixel scatters x·w into a 2x2 block:
    //   1 10 2 20 / 100 1000 200 2000 / 3 30 4 40 / 300 3000 400 4000 / 0 0 0 0
    #[rustfmt::skip]
    let want = [
        100., 1000., 200.,
        3., 30., 4.,
        300., 3000., 400.,
        0., 0., 0.,
    ];
    assert_eq!(o.values(), want);
}

#[test]
fn transposed_overlapping_taps_sum() {
    let x = Buf::new(DType::F32, &[1, 1, 2, 2], &[1., 2., 3., 4.]);
    let w = Buf::new(DType::F32, &[1, 1, 2, 2], &[1., 10., 100., 1000.]);
    // Stride 1: the full output is 3x3; padding 1 on every side keeps the centre only.
    let mut d = cdesc(1, 1, 1, 1, [2, 2], [2, 2], [1, 1]);
    d.padding = [[1, 1], [1, 1]];
    let mut o = out(DType::F32, &[1, 1, 1, 1]);
    run(&Op::ConvTranspose(d), &[&x, &w], &mut o).unwrap();
    // in[1,1]·w[0,0] + in[1,0]·w[0,1] + in[0,1]·w[1,0] + in[0,0]·w[1,1].
    assert_eq!(o.values(), [4. + 30. + 200. + 1000.]);
}

#[test]
fn transposed_groups_and_bias() {
    // Two groups of one channel; weight [C=2, O/g=1, 1, 1] = [2, −3]; stride 2 along W.
    let x = Buf::new(DType::F32, &[1, 2, 1, 2], &[1., 2., 5., 7.]);
    let w = Buf::new(DType::F32, &[2, 1, 1, 1], &[2., -3.]);
    let bias = Buf::new(DType::F32, &[2], &[1., 1.]);
    let mut d = cdesc(1, 2, 2, 2, [1, 2], [1, 1], [1, 3]);
    d.stride = [2, 2];
    d.epilogue.bias = true;
    let mut o = out(DType::F32, &[1, 2, 1, 3]);
    run(&Op::ConvTranspose(d), &[&x, &w, &bias], &mut o).unwrap();
    assert_eq!(o.values(), [3., 1., 5., -14., 1., -20.]);
}

#[test]
fn residual_follows_the_output_view() {
    // 1x1 conv of a single pixel per channel; residual broadcast over the batch.
    let x = Buf::new(DType::F32, &[2, 1, 1, 1], &[1., 2.]);
    let w = Buf::new(DType::F32, &[1, 1, 1, 1], &[3.]);
    let res = Buf::new(DType::F32, &[1], &[0.5]).with_view(|v| v.broadcast_to("t", "r", &[2, 1, 1, 1]).unwrap());
    let mut d = cdesc(2, 1, 1, 1, [1, 1], [1, 1], [1, 1]);
    d.epilogue.residual = true;
    let view = View::from_parts("t", vec![2, 1, 1, 1], vec![2, 1, 1, 1], 1, 4).unwrap();
    let mut o = Buf::filled(DType::F32, 4, -1.0, view);
    run(&Op::Conv(d), &[&x, &w, &res], &mut o).unwrap();
    assert_eq!(o.storage(), [-1., 3.5, -1., 6.5]);
}
