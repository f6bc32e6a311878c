// Packed 4x8-bit helpers of the int8 tiled kernels (matmul_int8.wgsl, conv_int8.wgsl): dot
// products and byte sums in the signedness the packed operands have (u8 only when neither
// side was flipped into i8 range), the 4x4 byte transpose that turns four row words into
// column words, and the register tile: one staged quad's products and sums, and each output's
// zero-point terms. The prelude defines A_U8/B_U8, FLIP_A/FLIP_B and ROW_COEF/COL_COEF; the
// kernels stage words in `ta`/`tb` as [kq * 64 + row] and [kq * 64 + column].

const ONES: u32 = 0x01010101u;

fn dot4(x: u32, y: u32) -> i32 {
    if (A_U8 && B_U8 && !FLIP_A && !FLIP_B) { return bitcast<i32>(dot4U8Packed(x, y)); }
    return dot4I8Packed(x, y);
}
// Sum of the four packed a' (or b') bytes in their packed signedness.
fn sum_a(x: u32) -> i32 {
    if (A_U8 && !FLIP_A) { return bitcast<i32>(dot4U8Packed(x, ONES)); }
    return dot4I8Packed(x, ONES);
}
fn sum_b(x: u32) -> i32 {
    if (B_U8 && !FLIP_B) { return bitcast<i32>(dot4U8Packed(x, ONES)); }
    return dot4I8Packed(x, ONES);
}

// Byte c of each of four row words, as one column word.
fn column(r0: u32, r1: u32, r2: u32, r3: u32, c: u32) -> u32 {
    let s = c * 8u;
    return ((r0 >> s) & 0xffu) | (((r1 >> s) & 0xffu) << 8u) | (((r2 >> s) & 0xffu) << 16u)
        | (((r3 >> s) & 0xffu) << 24u);
}


// One invocation's 4x4 outputs: the sums of products, and the sums of its rows of a' and its
// columns of b' (kept only where their coefficient is nonzero).
struct Int8Tile {
    acc: array<vec4<i32>, 4>,
    rsum: vec4<i32>,
    csum: vec4<i32>,
}

// Staged quad kq for the invocation owning rows 4*ly.. and columns 4*lx.. of the tile.
fn int8_step(tile: ptr<function, Int8Tile>, kq: u32, ly: u32, lx: u32) {
    let av = vec4<u32>(ta[kq * 64u + ly * 4u], ta[kq * 64u + ly * 4u + 1u], ta[kq * 64u + ly * 4u + 2u],
                       ta[kq * 64u + ly * 4u + 3u]);
    let bv = vec4<u32>(tb[kq * 64u + lx * 4u], tb[kq * 64u + lx * 4u + 1u], tb[kq * 64u + lx * 4u + 2u],
                       tb[kq * 64u + lx * 4u + 3u]);
    for (var r = 0u; r < 4u; r = r + 1u) {
        (*tile).acc[r] = (*tile).acc[r] + vec4<i32>(dot4(av[r], bv.x), dot4(av[r], bv.y), dot4(av[r], bv.z),
                                                    dot4(av[r], bv.w));
    }
    if (ROW_COEF) {
        (*tile).rsum = (*tile).rsum + vec4<i32>(sum_a(av.x), sum_a(av.y), sum_a(av.z), sum_a(av.w));
    }
    if (COL_COEF) {
        (*tile).csum = (*tile).csum + vec4<i32>(sum_b(bv.x), sum_b(bv.y), sum_b(bv.z), sum_b(bv.w));
    }
}

// Output (r, c) of the tile exactly: its products plus the zero-point and flip terms for a
// zero point za of a, zb of b and k products (the identity at the top of matmul_int8.wgsl).
fn int8_result(tile: ptr<function, Int8Tile>, r: u32, c: u32, za: i32, zb: i32, k: u32) -> i32 {
    let ca = select(0, 128, FLIP_B) - zb;
    let cb = select(0, 128, FLIP_A) - za;
    return (*tile).acc[r][c] + ca * (*tile).rsum[r] + cb * (*tile).csum[c] + bitcast<i32>(k) * cb * ca;
}
