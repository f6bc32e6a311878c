// Depthwise forward 2-D convolution (groups = C = O) for float math. One 8x8 workgroup per
// (output tile, channel, image) = (wid.x, wid.y, wid.z): the tile is (8*PY) x (8*PX) outputs,
// each invocation computing a PY x PX block of them. The input region under the tile (its
// halo included, zeros where the padding is) is staged in workgroup memory once, so every
// input element is read from storage once per tile instead of once per tap; each tap's weight
// is loaded once per invocation and used for all of its outputs. Any input/output strides
// (NCHW, NHWC), padding, stride and dilation; the host sends shapes whose region fits REGION.
// Taps are summed in (i, j) order as in the generic kernel; padding taps add 0.
// The prelude defines PY and PX (1 or 2). Header as conv.wgsl.

const REGION: u32 = 4096u;
var<workgroup> region: array<f32, 4096>;

@compute @workgroup_size(8, 8)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>,
        @builtin(local_invocation_index) t: u32) {
    let sh = pu(11u);
    let sw = pu(12u);
    let dh = pu(13u);
    let dw = pu(14u);
    let pt = i32(pu(15u));
    let pl = i32(pu(EXTRA_BASE));
    let h = i32(vshape(0u, 2u));
    let w = i32(vshape(0u, 3u));
    let o_ch = vshape(4u, 1u);
    let oh = vshape(4u, 2u);
    let ow = vshape(4u, 3u);
    let kh = vshape(1u, 2u);
    let kw = vshape(1u, 3u);
    let c = wid.y;
    let n = wid.z;
    let th = 8u * PY;
    let tw = 8u * PX;
    let tiles_x = (ow + tw - 1u) / tw;
    let ty0 = (wid.x / tiles_x) * th;
    let tx0 = (wid.x % tiles_x) * tw;
    let rh = (th - 1u) * sh + (kh - 1u) * dh + 1u;
    let rw = (tw - 1u) * sw + (kw - 1u) * dw + 1u;
    let iy0 = i32(ty0 * sh) - pt;
    let ix0 = i32(tx0 * sw) - pl;
    let ib = vbase(0u) + n * vstride(0u, 0u) + c * vstride(0u, 1u);
    let total = min(rh * rw, REGION);
    for (var e = t; e < total; e = e + 64u) {
        let iy = iy0 + i32(e / rw);
        let ix = ix0 + i32(e % rw);
        var v = 0.0;
        if (iy >= 0 && iy < h && ix >= 0 && ix < w) {
            v = ldf0(ib + u32(iy) * vstride(0u, 2u) + u32(ix) * vstride(0u, 3u));
        }
        region[e] = v;
    }
    workgroupBarrier();
    // This invocation's outputs: rows ly0 + a, columns lx0 + b of the tile (a < PY, b < PX).
    let ly0 = lid.y * PY;
    let lx0 = lid.x * PX;
    var acc = array<f32, 4>(0.0, 0.0, 0.0, 0.0);
    let wb = vbase(1u) + c * vstride(1u, 0u);
    for (var i = 0u; i < kh; i = i + 1u) {
        for (var j = 0u; j < kw; j = j + 1u) {
            let wv = ldf1(wb + i * vstride(1u, 2u) + j * vstride(1u, 3u));
            for (var a = 0u; a < PY; a = a + 1u) {
                let row = ((ly0 + a) * sh + i * dh) * rw + j * dw;
                for (var b = 0u; b < PX; b = b + 1u) {
                    let e = min(row + (lx0 + b) * sw, REGION - 1u);
                    acc[a * PX + b] = acc[a * PX + b] + wv * region[e];
                }
            }
        }
    }
    for (var a = 0u; a < PY; a = a + 1u) {
        for (var b = 0u; b < PX; b = b + 1u) {
            let y = ty0 + ly0 + a;
            let x = tx0 + lx0 + b;
            if (y < oh && x < ow) {
                let lin = ((n * o_ch + c) * oh + y) * ow + x;
                epilogue_f(voff(4u, lin), lin, c, acc[a * PX + b]);
            }
        }
    }
}
