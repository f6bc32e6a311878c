// Direct 2-D convolution (forward or transposed, groups, stride, dilation, padding), one
// invocation per output element over core's canonical NCHW views: input [N, C, H, W], weight
// [O, C/g, kH, kW] ([C, O/g, kH, kW] when TRANSPOSED), output [N, O, oH, oW].
// Header: p[0] output count, p[4]/p[5] zero points, p[10] groups, p[11]/p[12] stride,
// p[13]/p[14] dilation, p[15] top padding; p[EXTRA_BASE] left padding.

fn in_at(n: u32, c: u32, y: u32, x: u32) -> u32 {
    return vbase(0u) + n * vstride(0u, 0u) + c * vstride(0u, 1u) + y * vstride(0u, 2u) + x * vstride(0u, 3u);
}
fn w_at(a: u32, b: u32, y: u32, x: u32) -> u32 {
    return vbase(1u) + a * vstride(1u, 0u) + b * vstride(1u, 1u) + y * vstride(1u, 2u) + x * vstride(1u, 3u);
}

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let lin = linear_id(wid, nwg, lid);
    if (lin >= pu(0u)) { return; }
    let c_in = vshape(0u, 1u);
    let h = i32(vshape(0u, 2u));
    let w = i32(vshape(0u, 3u));
    let o_ch = vshape(4u, 1u);
    let oh = vshape(4u, 2u);
    let ow = vshape(4u, 3u);
    let kh = vshape(1u, 2u);
    let kw = vshape(1u, 3u);
    let groups = pu(10u);
    let sh = i32(pu(11u));
    let sw = i32(pu(12u));
    let dh = i32(pu(13u));
    let dw = i32(pu(14u));
    let pt = i32(pu(15u));
    let pl = i32(pu(EXTRA_BASE));
    let x = lin % ow;
    let y = (lin / ow) % oh;
    let o = (lin / (ow * oh)) % o_ch;
    let n = lin / (ow * oh * o_ch);
    let cg = c_in / groups;
    let og = o_ch / groups;
    let g = o / og;
    let za = pi(4u);
    let zb = pi(5u);
    var acc_f: f32 = 0.0;
    var acc_i: i32 = 0;
    for (var c0 = 0u; c0 < cg; c0 = c0 + CHUNK) {
    for (var c = c0; c < min(cg, c0 + CHUNK); c = c + 1u) {
        let ci = g * cg + c;
        for (var i = 0u; i < kh; i = i + 1u) {
            var iy: i32;
            if (TRANSPOSED) {
                let ty = i32(y) + pt - i32(i) * dh;
                if (ty < 0 || ty % sh != 0) { continue; }
                iy = ty / sh;
            } else {
                iy = i32(y) * sh - pt + i32(i) * dh;
            }
            if (iy < 0 || iy >= h) { continue; }
            for (var j = 0u; j < kw; j = j + 1u) {
                var ix: i32;
                if (TRANSPOSED) {
                    let tx = i32(x) + pl - i32(j) * dw;
                    if (tx < 0 || tx % sw != 0) { continue; }
                    ix = tx / sw;
                } else {
                    ix = i32(x) * sw - pl + i32(j) * dw;
                }
                if (ix < 0 || ix >= w) { continue; }
                let ie = in_at(n, ci, u32(iy), u32(ix));
                var we: u32;
                if (TRANSPOSED) { we = w_at(ci, o % og, i, j); } else { we = w_at(o, c, i, j); }
                if (INT_MATH) {
                    acc_i = acc_i + (ldi0(ie) - za) * (ldi1(we) - zb);
                } else {
                    acc_f = acc_f + ldf0(ie) * ldf1(we);
                }
            }
        }
    }
    }
    let oe = voff(4u, lin);
    if (INT_MATH) { epilogue_i(oe, lin, o, acc_i); } else { epilogue_f(oe, lin, o, acc_f); }
}
