// Forward 2-D int8 convolution (i8 or u8 input, i8 weights -> i32) as an implicit GEMM on
// packed 4x8-bit dot products: the scheme of conv_gemm.wgsl (per group g = wid.z,
// out[o][p] = sum_q W[o][q] X[q][p] over q = (c*kH + i)*kW + j, p = (n*oH + y)*oW + x, no
// im2col buffer) with the tiles and the zero-point algebra of matmul_int8.wgsl: A = weights
// (zero point p[5]), B = gathered input (zero point p[4]). A tap in the padding counts as the
// input zero point, which makes its term (x - zx)(w - zw) vanish exactly as the generic
// kernel's skipped tap does, so the sums run over all K and results are bit-identical to it.
// Weights are read a word at a time where a row of q is contiguous (dense OIHW); the input
// is gathered byte by byte, the (c, i, j) of consecutive q walked incrementally.
// The prelude defines A_U8/B_U8, FLIP_A/FLIP_B, ROW_COEF/COL_COEF (int8.wgsl has the dots).
// Dispatch: (ceil(N*oH*oW / 64), ceil((O/g) / 64), groups); header as conv.wgsl, p[1] = K.

const TM: u32 = 64u;
const TK: u32 = 64u;
const QK: u32 = 16u;
// ta[kq * 64 + r] = quad kq of output channel r of the tile; tb[kq * 64 + c] = quad kq of
// pixel c.
var<workgroup> ta: array<u32, 1024>;
var<workgroup> tb: array<u32, 1024>;

fn flip_a(v: u32) -> u32 { return select(v, v ^ 0x80u, FLIP_A); }
fn flip_b(v: u32) -> u32 { return select(v, v ^ 0x80u, FLIP_B); }

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
    let zx = pi(4u);
    let zw = pi(5u);
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
    // Weights: output channel ar of the tile over quads aq + 4s. A row of q is one run when
    // the kernel window is dense (dense OIHW): then whole aligned words are read.
    let ar = t % 64u;
    let aq = t / 64u;
    let o = row0 + ar;
    let ws1 = vstride(1u, 1u);
    let ws2 = vstride(1u, 2u);
    let ws3 = vstride(1u, 3u);
    let wrun = ws3 == 1u && ws2 == kw && ws1 == khw;
    let wrow = vbase(1u) + (g * og + o) * vstride(1u, 0u);
    // Input: pixel ar of the tile (its image base and input origin), quads aq + 4s.
    let pix = col0 + ar;
    let pok = pix < npix;
    let pn = pix / max(plane, 1u);
    let pr = pix % max(plane, 1u);
    let pbase = vbase(0u) + pn * vstride(0u, 0u) + g * cg * vstride(0u, 1u);
    let py = i32(pr / max(ow, 1u)) * sh - pt;
    let px = i32(pr % max(ow, 1u)) * sw - pl;
    let zbyte = flip_b(u32(zx) & 0xffu);
    var tile: Int8Tile;
    for (var q0 = 0u; q0 < kdim; q0 = q0 + TK) {
        for (var s = 0u; s < 4u; s = s + 1u) {
            let kq = aq + 4u * s;
            let q = q0 + 4u * kq;
            // (c, i, j) of q, then walked along the quad.
            var c = q / khw;
            var i = (q % khw) / kw;
            var j = q % kw;
            var aw = 0u;
            var bw = 0u;
            let e = wrow + q;
            let whole = wrun && o < og && q + 3u < kdim && (e & 3u) == 0u;
            if (whole) {
                aw = select(in1[e / 4u], in1[e / 4u] ^ 0x80808080u, FLIP_A);
            }
            for (var b = 0u; b < 4u; b = b + 1u) {
                if (q + b < kdim) {
                    if (!whole && o < og) {
                        aw = aw | (flip_a(u32(ldi1(wrow + c * ws1 + i * ws2 + j * ws3)) & 0xffu) << (8u * b));
                    }
                    if (pok) {
                        let iy = py + i32(i) * dh;
                        let ix = px + i32(j) * dw;
                        var v = zbyte;
                        if (iy >= 0 && iy < h && ix >= 0 && ix < w) {
                            let at = pbase + c * vstride(0u, 1u) + u32(iy) * vstride(0u, 2u) + u32(ix) * vstride(0u, 3u);
                            v = flip_b(u32(ldi0(at)) & 0xffu);
                        }
                        bw = bw | (v << (8u * b));
                    }
                }
                j = j + 1u;
                if (j == kw) {
                    j = 0u;
                    i = i + 1u;
                    if (i == kh) { i = 0u; c = c + 1u; }
                }
            }
            ta[kq * 64u + ar] = aw;
            tb[kq * 64u + ar] = bw;
        }
        workgroupBarrier();
        for (var kq = 0u; kq < QK; kq = kq + 1u) {
            int8_step(&tile, kq, lid.y, lid.x);
        }
        workgroupBarrier();
    }
    let i0 = row0 + lid.y * 4u;
    let j0 = col0 + lid.x * 4u;
    for (var e = 0u; e < 16u; e = e + 1u) {
        let r = e / 4u;
        let c = e % 4u;
        let oo = i0 + r;
        let p = j0 + c;
        if (oo < og && p < npix) {
            let oc = g * og + oo;
            let lin = ((p / plane) * o_ch + oc) * plane + p % plane;
            epilogue_i(voff(4u, lin), lin, oc, int8_result(&tile, r, c, zw, zx, kdim));
        }
    }
}
