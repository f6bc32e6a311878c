// Forward 2-D convolution as an implicit GEMM, for float math (f32, and f16/bf16 stored,
// computed in f32). Per group g = wid.z the convolution is the matrix product
//   out[o][p] = sum_q A[o][q] * B[q][p],   o < O/g, p < N*oH*oW, q < K = (C/g)*kH*kW,
//   A[o][q] = w[g*(O/g) + o, c, i, j],      q = (c*kH + i)*kW + j,
//   B[q][p] = in[n, g*(C/g) + c, y*sH - pT + i*dH, x*sW - pL + j*dW] (0 outside the input),
//             p = (n*oH + y)*oW + x,
// and is computed like matmul_tiled.wgsl, in the shape the prelude's TiledConfig gives (the
// matmul's tuned shape): a WX x WY workgroup per TM x TN output tile, A and B staged in
// workgroup memory TK q at a time, RM x RN outputs per invocation updated by the prelude's
// `mma`. The host sends a shape whose WX*WY is a multiple of TN/4, so each invocation stages
// the same four pixels of B at every step, their image bases and input origins fixed.
// B is never materialised (no im2col buffer): each staged element is gathered from the input
// view directly, so any strides (NCHW, NHWC), padding, stride, dilation and groups work.
// Each output sums its products in q order, the generic kernel's order (c, then i, then j);
// padding taps add 0. The fused epilogue runs on store. Dispatch: (ceil(P/TN), ceil(og/TM), g).
// Header as conv.wgsl, plus p[1] = K <= TiledConfig::max_k (llvmpipe's loop-trip budget).

var<workgroup> ta: array<vec4<f32>, TM * TK / 4u>;
var<workgroup> tb: array<vec4<f32>, TK * TN / 4u>;

// One gathered input element: image base `base`, input origin (iy, ix), 0 outside.
fn gather(base: u32, iy: i32, ix: i32, ok: bool, h: i32, w: i32) -> f32 {
    if (ok && iy >= 0 && iy < h && ix >= 0 && ix < w) {
        return ldf0(base + u32(iy) * vstride(0u, 2u) + u32(ix) * vstride(0u, 3u));
    }
    return 0.0;
}

// A[o][q] from the group's first weight row `wrow`, 0 outside; a dense kernel window (dense
// OIHW) makes a row of q one run.
fn weight(wrow: u32, o: u32, q: u32, og: u32, kdim: u32, kw: u32, khw: u32, run: bool) -> f32 {
    if (o >= og || q >= kdim) { return 0.0; }
    let ro = wrow + o * vstride(1u, 0u);
    if (run) { return ldf1(ro + q); }
    let r = q % khw;
    return ldf1(ro + (q / khw) * vstride(1u, 1u) + (r / kw) * vstride(1u, 2u) + (r % kw) * vstride(1u, 3u));
}

@compute @workgroup_size(WX, WY)
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
    let col0 = wid.x * TN;
    let wrow = vbase(1u) + (g * og) * vstride(1u, 0u);
    let run = vstride(1u, 3u) == 1u && vstride(1u, 2u) == kw && vstride(1u, 1u) == khw;
    // This invocation's four B pixels (the same at every staging step).
    let bc = (t % (TN / 4u)) * 4u;
    var pb = vec4<u32>(0u);
    var py = vec4<i32>(0);
    var px = vec4<i32>(0);
    var pok = vec4<bool>(false);
    for (var e = 0u; e < 4u; e = e + 1u) {
        let pix = col0 + bc + e;
        pok[e] = pix < npix;
        let n = pix / plane;
        let r = pix % plane;
        pb[e] = vbase(0u) + n * vstride(0u, 0u) + g * cg * vstride(0u, 1u);
        py[e] = i32(r / ow) * sh - pt;
        px[e] = i32(r % ow) * sw - pl;
    }
    var acc: array<vec4<f32>, NACC>;
    for (var q0 = 0u; q0 < kdim; q0 = q0 + TK) {
        // A quads: 4 consecutive q of one output channel, stored transposed for `mma`.
        for (var s = 0u; s < A_STEPS; s = s + 1u) {
            let e = t + s * WX * WY;
            if (e < A_QUADS) {
                let r = e / (TK / 4u);
                let kq = (e % (TK / 4u)) * 4u;
                let o = row0 + r;
                let q = q0 + kq;
                let slot = kq * (TM / 4u) + r / 4u;
                let lane = r % 4u;
                ta[slot][lane] = weight(wrow, o, q, og, kdim, kw, khw, run);
                ta[slot + TM / 4u][lane] = weight(wrow, o, q + 1u, og, kdim, kw, khw, run);
                ta[slot + 2u * (TM / 4u)][lane] = weight(wrow, o, q + 2u, og, kdim, kw, khw, run);
                ta[slot + 3u * (TM / 4u)][lane] = weight(wrow, o, q + 3u, og, kdim, kw, khw, run);
            }
        }
        // B quads: this invocation's four pixels at one q.
        for (var s = 0u; s < B_STEPS; s = s + 1u) {
            let e = t + s * WX * WY;
            if (e < B_QUADS) {
                let q = q0 + e / (TN / 4u);
                let qok = q < kdim;
                let c = q / khw;
                let r = q % khw;
                let coff = c * vstride(0u, 1u);
                let dy = i32(r / kw) * dh;
                let dx = i32(r % kw) * dw;
                tb[e] = vec4<f32>(gather(pb.x + coff, py.x + dy, px.x + dx, qok && pok.x, h, w),
                                  gather(pb.y + coff, py.y + dy, px.y + dx, qok && pok.y, h, w),
                                  gather(pb.z + coff, py.z + dy, px.z + dx, qok && pok.z, h, w),
                                  gather(pb.w + coff, py.w + dy, px.w + dx, qok && pok.w, h, w));
            }
        }
        workgroupBarrier();
        for (var kk = 0u; kk < TK; kk = kk + 1u) {
            mma(&acc, kk * (TM / 4u) + lid.y * RM4, kk * (TN / 4u) + lid.x * RN4);
        }
        workgroupBarrier();
    }
    // One call site for the stores (see matmul_tiled.wgsl).
    var accs = acc;
    let i0 = row0 + lid.y * RM;
    let j0 = col0 + lid.x * RN;
    for (var e = 0u; e < RM * RN; e = e + 1u) {
        let o = i0 + e / RN;
        let pix = j0 + e % RN;
        if (o < og && pix < npix) {
            let oc = g * og + o;
            let lin = ((pix / plane) * o_ch + oc) * plane + pix % plane;
            epilogue_f(voff(4u, lin), lin, oc, accs[(e / RN) * RN4 + (e % RN) / 4u][(e % RN) % 4u]);
        }
    }
}
