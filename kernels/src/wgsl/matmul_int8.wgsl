// Tiled batched int8 matmul (i8 x i8, u8 x u8, u8 x i8 -> i32) on packed 4x8-bit dot products
// (WGSL's dot4I8Packed / dot4U8Packed): one 16x16 workgroup computes a 64x64 output tile, each
// invocation a 4x4 block of it in i32 accumulators. k is walked 64 at a time: the workgroup
// packs a 64x64 tile of a and of b into words of four consecutive k (a: one word per row and
// quad, read whole where the row is contiguous and aligned; b: four rows of four columns
// loaded and transposed in registers), so one dot4 does four multiply-adds.
//
// Zero points: with a' = a - fa and b' = b - fb the packed values (fa, fb = 128 for the u8
// operand of a mixed pair, whose bytes are flipped into i8 range; 0 otherwise),
//   sum (a - za)(b - zb) = sum a'b' + (fb - zb) sum a' + (fa - za) sum b' + k (fa - za)(fb - zb),
// so the kernel keeps row sums of a' (when ROW_COEF, i.e. fb != zb) and column sums of b'
// (when COL_COEF, fa != za) beside the products. Padding bytes (past m, n or k) are 0 after
// the flip, so they add nothing. i32 arithmetic wraps, as the generic kernel's does, and the
// identity holds modulo 2^32, so results are bit-identical to it.
// The prelude defines A_U8/B_U8 (operand dtypes), FLIP_A/FLIP_B and ROW_COEF/COL_COEF;
// int8.wgsl the packed dot products.
// Dispatch: (ceil(n/64), ceil(m/64), batch). Header and views as in matmul.wgsl.

const TM: u32 = 64u;
// k per stage, and its quads (words per row of a staged tile).
const TK: u32 = 64u;
const QK: u32 = 16u;
// ta[kq * 64 + r] = quad kq of row r of the a tile; tb[kq * 64 + c] = quad kq of column c.
var<workgroup> ta: array<u32, 1024>;
var<workgroup> tb: array<u32, 1024>;

// Byte of a[i][q] (0 outside), flipped into i8 range for a mixed pair.
fn byte_a(base: u32, sm: u32, sk: u32, i: u32, q: u32, m: u32, k: u32) -> u32 {
    if (i >= m || q >= k) { return 0u; }
    let v = u32(ldi0(base + i * sm + q * sk)) & 0xffu;
    return select(v, v ^ 0x80u, FLIP_A);
}
fn byte_b(base: u32, sk: u32, sn: u32, q: u32, j: u32, k: u32, n: u32) -> u32 {
    if (q >= k || j >= n) { return 0u; }
    let v = u32(ldi1(base + q * sk + j * sn)) & 0xffu;
    return select(v, v ^ 0x80u, FLIP_B);
}

// The word of a[i][q..q+4]: one aligned storage load for a contiguous row, else four bytes.
fn word_a(base: u32, sm: u32, sk: u32, i: u32, q: u32, m: u32, k: u32) -> u32 {
    let e = base + i * sm + q;
    if (sk == 1u && i < m && q + 3u < k && (e & 3u) == 0u) {
        return select(in0[e / 4u], in0[e / 4u] ^ 0x80808080u, FLIP_A);
    }
    return byte_a(base, sm, sk, i, q, m, k) | (byte_a(base, sm, sk, i, q + 1u, m, k) << 8u)
        | (byte_a(base, sm, sk, i, q + 2u, m, k) << 16u) | (byte_a(base, sm, sk, i, q + 3u, m, k) << 24u);
}
// The word of b[q][j..j+4] (four columns of one row): aligned load or four bytes.
fn row_b(base: u32, sk: u32, sn: u32, q: u32, j: u32, k: u32, n: u32) -> u32 {
    let e = base + q * sk + j;
    if (sn == 1u && q < k && j + 3u < n && (e & 3u) == 0u) {
        return select(in1[e / 4u], in1[e / 4u] ^ 0x80808080u, FLIP_B);
    }
    return byte_b(base, sk, sn, q, j, k, n) | (byte_b(base, sk, sn, q, j + 1u, k, n) << 8u)
        | (byte_b(base, sk, sn, q, j + 2u, k, n) << 16u) | (byte_b(base, sk, sn, q, j + 3u, k, n) << 24u);
}
fn put(bi: u32, i: u32, j: u32, v: i32, m: u32, n: u32) {
    if (i >= m || j >= n) { return; }
    let o = (bi * m + i) * n + j;
    epilogue_i(voff(4u, o), o, j, v);
}

@compute @workgroup_size(16, 16)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>,
        @builtin(local_invocation_index) t: u32) {
    let k = pu(1u);
    let m = pu(10u);
    let n = pu(11u);
    let bi = wid.z;
    let row0 = wid.y * TM;
    let col0 = wid.x * TM;
    let ra = vrank(0u);
    let rb = vrank(1u);
    let a0 = voff(0u, bi * m * k);
    let sam = vstride(0u, ra - 2u);
    let sak = vstride(0u, ra - 1u);
    let b0 = voff(1u, bi * k * n);
    let sbk = vstride(1u, rb - 2u);
    let sbn = vstride(1u, rb - 1u);
    // Staging: a row (t % 64) over quads t/64 + 4s; b quad t/16, columns 4 (t % 16) .. + 3.
    let ar = t % 64u;
    let aq = t / 64u;
    let bq = t / 16u;
    let bc = (t % 16u) * 4u;
    var tile: Int8Tile;
    for (var q0 = 0u; q0 < k; q0 = q0 + TK) {
        for (var s = 0u; s < 4u; s = s + 1u) {
            let kq = aq + 4u * s;
            ta[kq * 64u + ar] = word_a(a0, sam, sak, row0 + ar, q0 + 4u * kq, m, k);
        }
        let q = q0 + 4u * bq;
        let j = col0 + bc;
        let r0 = row_b(b0, sbk, sbn, q, j, k, n);
        let r1 = row_b(b0, sbk, sbn, q + 1u, j, k, n);
        let r2 = row_b(b0, sbk, sbn, q + 2u, j, k, n);
        let r3 = row_b(b0, sbk, sbn, q + 3u, j, k, n);
        for (var c = 0u; c < 4u; c = c + 1u) {
            tb[bq * 64u + bc + c] = column(r0, r1, r2, r3, c);
        }
        workgroupBarrier();
        for (var kq = 0u; kq < QK; kq = kq + 1u) {
            int8_step(&tile, kq, lid.y, lid.x);
        }
        workgroupBarrier();
    }
    let i = row0 + lid.y * 4u;
    let j = col0 + lid.x * 4u;
    for (var e = 0u; e < 16u; e = e + 1u) {
        let r = e / 4u;
        let c = e % 4u;
        put(bi, i + r, j + c, int8_result(&tile, r, c, pi(4u), pi(5u), k), m, n);
    }
}
