// Forward 2-D convolution as an implicit GEMM, for float math (f32, and f16/bf16 stored,
// computed in f32). Per group g = wid.z the convolution is the matrix product
//   out[o][p] = sum_q A[o][q] * B[q][p],   o < O/g, p < N*oH*oW, q < K = (C/g)*kH*kW,
//   A[o][q] = w[g*(O/g) + o, c, i, j],      q = (c*kH + i)*kW + j,
//   B[q][p] = in[n, g*(C/g) + c, y*sH - pT + i*dH, x*sW - pL + j*dW] (0 outside the input),
//             p = (n*oH + y)*oW + x,
// and is computed like matmul_tiled.wgsl's default shape: one 16x16 workgroup per 64x64 output
// tile, tiles of A and B staged in workgroup memory 16 q at a time, 4x4 outputs per invocation
// in registers (a fixed shape: the matmul's tuner does not apply here).
// B is never materialised (no im2col buffer): each staged element is gathered from the input
// view directly, so any strides (NCHW, NHWC), padding, stride, dilation and groups work.
// Each output sums its products in q order, the generic kernel's order (c, then i, then j);
// padding taps add 0. The fused epilogue runs on store. Dispatch: (ceil(P/64), ceil(og/64), g).
// Header as conv.wgsl, plus p[1] = K. The loops run about 17K/16 trips per invocation and
// llvmpipe stops a shader's loops after 65,535 trips in total, so the host sends
// K <= TILED_MAX_K here and larger K to the generic kernel.

const TM: u32 = 64u;
const TK: u32 = 16u;

var<workgroup> ta: array<vec4<f32>, 256>;
var<workgroup> tb: array<vec4<f32>, 256>;

// One gathered input element: image base `base`, input origin (iy, ix), 0 outside.
fn gather(base: u32, iy: i32, ix: i32, ok: bool, h: i32, w: i32) -> f32 {
    if (ok && iy >= 0 && iy < h && ix >= 0 && ix < w) {
        return ldf0(base + u32(iy) * vstride(0u, 2u) + u32(ix) * vstride(0u, 3u));
    }
    return 0.0;
}

fn weight(wq: u32, o: u32, ok: bool) -> f32 {
    if (ok) { return ldf1(wq + o * vstride(1u, 0u)); }
    return 0.0;
}

@compute @workgroup_size(16, 16)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>,
        @builtin(local_invocation_index) t: u32) {
    let kdim = pu(1u);
    let groups = pu(10u);
    let sh = i32(pu(11u));
    let sw = i32(pu(12u));
    let dh = i32(pu(13u));
    let dw = i32(pu(14u));
    let pt = i32(pu(15u));
    let pl = i32(pu(EXTRA_BASE));
    let h = i32(vshape(0u, 2u));
    let w = i32(vshape(0u, 3u));
    let cg = vshape(0u, 1u) / groups;
    let o_ch = vshape(4u, 1u);
    let og = o_ch / groups;
    let oh = vshape(4u, 2u);
    let ow = vshape(4u, 3u);
    let plane = oh * ow;
    let npix = vshape(4u, 0u) * plane;
    let kh = vshape(1u, 2u);
    let kw = vshape(1u, 3u);
    let khw = kh * kw;
    let g = wid.z;
    let row0 = wid.y * TM;
    let col0 = wid.x * TM;
    // Staging slot: column lk of the A tile (output channels li..li+3) and row lk of the B
    // tile (pixels lj..lj+3). The four pixels' image bases and input origins are fixed.
    let lk = t / 16u;
    let li = row0 + (t % 16u) * 4u;
    let lj = col0 + (t % 16u) * 4u;
    var pb = vec4<u32>(0u);
    var py = vec4<i32>(0);
    var px = vec4<i32>(0);
    var pok = vec4<bool>(false);
    for (var e = 0u; e < 4u; e = e + 1u) {
        let pix = lj + e;
        pok[e] = pix < npix;
        let n = pix / plane;
        let r = pix % plane;
        pb[e] = vbase(0u) + n * vstride(0u, 0u) + g * cg * vstride(0u, 1u);
        py[e] = i32(r / ow) * sh - pt;
        px[e] = i32(r % ow) * sw - pl;
    }
    let wrow = vbase(1u) + (g * og) * vstride(1u, 0u);
    let aok = vec4<bool>(li < og, li + 1u < og, li + 2u < og, li + 3u < og);
    var acc0 = vec4<f32>(0.0);
    var acc1 = vec4<f32>(0.0);
    var acc2 = vec4<f32>(0.0);
    var acc3 = vec4<f32>(0.0);
    for (var q0 = 0u; q0 < kdim; q0 = q0 + TK) {
        let q = q0 + lk;
        let qok = q < kdim;
        let c = q / khw;
        let r = q % khw;
        let i = r / kw;
        let j = r % kw;
        let wq = wrow + c * vstride(1u, 1u) + i * vstride(1u, 2u) + j * vstride(1u, 3u);
        ta[t] = vec4<f32>(weight(wq, li, qok && aok.x), weight(wq, li + 1u, qok && aok.y),
                          weight(wq, li + 2u, qok && aok.z), weight(wq, li + 3u, qok && aok.w));
        let coff = c * vstride(0u, 1u);
        let dy = i32(i) * dh;
        let dx = i32(j) * dw;
        tb[t] = vec4<f32>(gather(pb.x + coff, py.x + dy, px.x + dx, qok && pok.x, h, w),
                          gather(pb.y + coff, py.y + dy, px.y + dx, qok && pok.y, h, w),
                          gather(pb.z + coff, py.z + dy, px.z + dx, qok && pok.z, h, w),
                          gather(pb.w + coff, py.w + dy, px.w + dx, qok && pok.w, h, w));
        workgroupBarrier();
        for (var kk = 0u; kk < TK; kk = kk + 1u) {
            let a = ta[kk * 16u + lid.y];
            let b = tb[kk * 16u + lid.x];
            acc0 = acc0 + a.x * b;
            acc1 = acc1 + a.y * b;
            acc2 = acc2 + a.z * b;
            acc3 = acc3 + a.w * b;
        }
        workgroupBarrier();
    }
    // One call site for the 16 stores (see matmul_tiled.wgsl).
    var accs = array<vec4<f32>, 4>(acc0, acc1, acc2, acc3);
    let i0 = row0 + lid.y * 4u;
    let j0 = col0 + lid.x * 4u;
    for (var e = 0u; e < 16u; e = e + 1u) {
        let o = i0 + e / 4u;
        let pix = j0 + e % 4u;
        if (o < og && pix < npix) {
            let oc = g * og + o;
            let lin = ((pix / plane) * o_ch + oc) * plane + pix % plane;
            epilogue_f(voff(4u, lin), lin, oc, accs[e / 4u][e % 4u]);
        }
    }
}
