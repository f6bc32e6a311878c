// Packed 4x8-bit helpers of the int8 tiled kernels (matmul_int8.wgsl, conv_int8.wgsl): dot
// products and byte sums in the signedness the packed operands have (u8 only when neither
// side was flipped into i8 range), and the 4x4 byte transpose that turns four row words into
// column words. The prelude defines A_U8/B_U8 and FLIP_A/FLIP_B.

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

