//! AMX families (Intel Sapphire Rapids and later): a 32 × 32 tile of C is four 16 × 16 tile
//! registers (`tmm4`–`tmm7`), fed per k tile by two A tiles (`tmm0`, `tmm1`: 16 rows × 64
//! bytes each) and two B tiles (`tmm2`, `tmm3`: 16 k groups × 16 columns).
//!
//! - [`Bf16`]: `tdpbf16ps`, bf16 pairs, f32 accumulation; a k tile is 32 values.
//! - [`U8I8`] / [`I8U8`]: `tdpbusd` / `tdpbsud`, byte quads, i32 accumulation; a k tile is
//!   64 values. Encodings and zero-point corrections are those of the AVX-512 VNNI families.
//!
//! The A panel is k-tiled (`[kc/KT][32][KT]`, [`Family::KT`]), so each A tile is 16 rows
//! 64 bytes apart; the B panel keeps the VNNI layout (`[kc/KG][32][KG]`), whose 16-group
//! slices are B tiles with rows 128 bytes apart. Padding k to whole tiles with zeros (in
//! both panels) keeps every tile the same shape, so one configuration serves all of them.
//! The tiles are written to a 4 KiB buffer and finished by the AVX-512 store, which applies
//! the fused epilogue and the edge masks.
//!
//! The tile state belongs to the thread: the driver loads the configuration before a task's
//! tiles and releases the state after them ([`Family::begin_tiles`]), so nothing leaks
//! into other code on the thread. (Once per tile call instead, both cost 9–15 %: Sapphire
//! Rapids, in-process A/B, int8 and bf16 at 256³–1024³.)

use super::avx512::{store_f32, store_i32};
use crate::cpu::arch::{Family, TileIo};
use std::arch::asm;
use std::arch::x86_64::*;

const MR: usize = 32;
const NR: usize = 32;

/// bf16 family (`tdpbf16ps`).
pub(crate) struct Bf16;
/// u8 (A) × i8 (B) family (`tdpbusd`).
pub(crate) struct U8I8;
/// i8 (A) × u8 (B) family (`tdpbsud`).
pub(crate) struct I8U8;

/// True when the CPU has AMX-TILE, AMX-BF16 and AMX-INT8 and the OS lets this process use
/// the tile data state (Linux asks each process to request it; without the grant the first
/// tile instruction faults).
pub(crate) fn enable() -> bool {
    // CPUID leaf 7: EDX bit 22 AMX-BF16, bit 24 AMX-TILE, bit 25 AMX-INT8.
    let edx = __cpuid_count(7, 0).edx;
    let wanted = (1 << 22) | (1 << 24) | (1 << 25);
    edx & wanted == wanted && request_tile_data()
}

/// Asks Linux for the AMX tile data state (`arch_prctl(ARCH_REQ_XCOMP_PERM,
/// XFEATURE_XTILEDATA)`); true when granted.
#[cfg(target_os = "linux")]
fn request_tile_data() -> bool {
    const SYS_ARCH_PRCTL: usize = 158;
    const ARCH_REQ_XCOMP_PERM: usize = 0x1023;
    const XFEATURE_XTILEDATA: usize = 18;
    let ret: isize;
    // SAFETY: arch_prctl with this request only changes the process's permitted xsave
    // features; it reads and writes no user memory. `syscall` clobbers rcx and r11.
    unsafe {
        asm!(
            "syscall",
            inlateout("rax") SYS_ARCH_PRCTL => ret,
            in("rdi") ARCH_REQ_XCOMP_PERM,
            in("rsi") XFEATURE_XTILEDATA,
            lateout("rcx") _,
            lateout("r11") _,
            options(nostack),
        );
    }
    ret == 0
}

#[cfg(not(target_os = "linux"))]
fn request_tile_data() -> bool {
    false
}

/// Palette 1 with all eight tiles 16 rows × 64 bytes.
#[repr(C, align(64))]
struct TileConfig([u8; 64]);

static CONFIG: TileConfig = {
    let mut c = [0u8; 64];
    c[0] = 1;
    let mut t = 0;
    while t < 8 {
        c[16 + 2 * t] = 64; // bytes per row (u16, little-endian)
        c[48 + t] = 16; // rows
        t += 1;
    }
    TileConfig(c)
};

/// Loads [`CONFIG`] into this thread's tile unit.
///
/// # Safety
/// The CPU has AMX and the tile data state was granted ([`enable`]).
unsafe fn begin() {
    // SAFETY: per the contract; ldtilecfg reads the 64 aligned bytes of `CONFIG`.
    unsafe { asm!("ldtilecfg [{cfg}]", cfg = in(reg) config(), options(nostack)) };
}

/// Releases this thread's tile state (back to its initial, unconfigured state).
///
/// # Safety
/// The CPU has AMX.
unsafe fn end() {
    // SAFETY: per the contract; tilerelease touches no memory.
    unsafe { asm!("tilerelease", options(nostack, nomem)) };
}

/// The tile configuration every AMX kernel here loads (64 bytes, aligned).
pub(crate) fn config() -> *const u8 {
    CONFIG.0.as_ptr()
}

/// Bytes of one k tile of an A panel (32 rows × 64 bytes) and of a B panel (16 groups × 32
/// columns × 4 bytes): the same for both element kinds.
const BLOCK_BYTES: usize = 2048;

/// `prefetcht0` of the lines at the given byte offsets from register `$reg`.
macro_rules! prefetch_lines {
    ($reg:literal; $($off:literal)*) => {
        concat!($("prefetcht0 [", $reg, " + ", $off, "]\n",)*)
    };
}

/// Prefetches of the B panel's k tile four tiles ahead (32 lines), for the int8 kernels:
/// the tile loads stream B from L2, and fetching it ahead made int8 products 1.09× (1024³)
/// and 1.15× (2048³) faster on one thread (Sapphire Rapids, in-process A/B; one and two
/// tiles ahead gave 1.06–1.13×, prefetching A as well less). bf16 gained nothing (0.97–1.03×).
macro_rules! prefetch_b {
    () => {
        prefetch_lines!("{b}"; 8192 8256 8320 8384 8448 8512 8576 8640 8704 8768 8832 8896 8960 9024 9088 9152 9216 9280 9344 9408 9472 9536 9600 9664 9728 9792 9856 9920 9984 10048 10112 10176)
    };
}

/// Defines `$name(blocks, a, b, c)`: `blocks` k tiles of `$insn` on packed panels `a`, `b`
/// into the 32 × 32 buffer `c` (rows 128 bytes apart), overwriting it; `$pf` is emitted at
/// the top of each k tile (prefetches, or nothing).
macro_rules! amx_kernel {
    ($name:ident, $insn:literal, $pf:expr) => {
        /// # Safety
        /// `a` and `b` hold `blocks` k tiles of packed A and B panels ([`BLOCK_BYTES`]
        /// each), `c` 4 KiB of writable memory, and this thread's tiles are configured
        /// ([`begin`]).
        unsafe fn $name(blocks: usize, a: *const u8, b: *const u8, c: *mut u8) {
            // SAFETY: per the contract above: the loads stay within the panels (each
            // iteration reads one k tile of each and advances by it) and the stores within
            // `c`; the tile registers are configured; prefetches never fault.
            unsafe {
                asm!(
                    "tilezero tmm4",
                    "tilezero tmm5",
                    "tilezero tmm6",
                    "tilezero tmm7",
                    "test {n}, {n}",
                    "jz 3f",
                    "2:",
                    $pf,
                    "tileloadd tmm0, [{a} + {sa}*1]",
                    "tileloadd tmm1, [{a} + {sa}*1 + 1024]",
                    "tileloadd tmm2, [{b} + {sb}*1]",
                    "tileloadd tmm3, [{b} + {sb}*1 + 64]",
                    concat!($insn, " tmm4, tmm0, tmm2"),
                    concat!($insn, " tmm5, tmm0, tmm3"),
                    concat!($insn, " tmm6, tmm1, tmm2"),
                    concat!($insn, " tmm7, tmm1, tmm3"),
                    "add {a}, {blk}",
                    "add {b}, {blk}",
                    "dec {n}",
                    "jnz 2b",
                    "3:",
                    "tilestored [{c} + {sc}*1], tmm4",
                    "tilestored [{c} + {sc}*1 + 64], tmm5",
                    "tilestored [{c} + {sc}*1 + 2048], tmm6",
                    "tilestored [{c} + {sc}*1 + 2112], tmm7",
                    n = inout(reg) blocks => _,
                    a = inout(reg) a => _,
                    b = inout(reg) b => _,
                    c = in(reg) c,
                    sa = in(reg) 64usize,
                    sb = in(reg) 128usize,
                    sc = in(reg) 128usize,
                    blk = const BLOCK_BYTES,
                    options(nostack),
                );
            }
        }
    };
}

amx_kernel!(bf16_blocks, "tdpbf16ps", "");
amx_kernel!(usi_blocks, "tdpbusd", prefetch_b!());
amx_kernel!(sui_blocks, "tdpbsud", prefetch_b!());

/// The C tile as the AMX stores leave it: 32 rows of 32 accumulators.
#[repr(C, align(64))]
struct CBuf([[u32; NR]; MR]);

/// The buffer's rows as f32 vectors, for the shared store.
#[target_feature(enable = "avx512f,avx512bw,avx512vl")]
fn rows_ps(c: &CBuf) -> [[__m512; 2]; MR] {
    std::array::from_fn(|i| [0, 1].map(|h| _mm512_castsi512_ps(load_half(c, i, h))))
}

/// The buffer's rows as i32 vectors, for the shared store.
#[target_feature(enable = "avx512f,avx512bw,avx512vl")]
fn rows_epi32(c: &CBuf) -> [[__m512i; 2]; MR] {
    std::array::from_fn(|i| [0, 1].map(|h| load_half(c, i, h)))
}

/// Columns `16·h..16·h + 16` of row `i`.
#[target_feature(enable = "avx512f,avx512bw,avx512vl")]
fn load_half(c: &CBuf, i: usize, h: usize) -> __m512i {
    let lanes: &[u32; 16] = &c.0[i].as_chunks::<16>().0[h];
    // SAFETY: `lanes` is 64 readable bytes.
    unsafe { _mm512_loadu_si512(lanes.as_ptr().cast()) }
}

/// Runs `blocks` on the panels into a fresh C buffer, which the four tile stores fill
/// whole (so it is not zeroed first).
///
/// # Safety
/// As the `amx_kernel!` functions' contract, for `blocks`.
#[inline(always)]
unsafe fn run_blocks(
    blocks: unsafe fn(usize, *const u8, *const u8, *mut u8),
    kg: usize,
    a: *const u8,
    b: *const u8,
) -> CBuf {
    let mut c = std::mem::MaybeUninit::<CBuf>::uninit();
    // SAFETY: per the contract; the kernel writes all 32 rows × 128 bytes of `c` (rows
    // 0–15 and 16–31, columns 0–15 and 16–31, one tile store each), so it is initialised.
    unsafe {
        blocks(kg / 16, a, b, c.as_mut_ptr().cast());
        c.assume_init()
    }
}

/// The `Family::begin_tiles` / `end_tiles` of every AMX family: [`begin`], [`end`].
macro_rules! tile_state {
    () => {
        unsafe fn begin_tiles() {
            // SAFETY: forwarded (AMX present and granted: `Isa::Amx`).
            unsafe { begin() }
        }
        unsafe fn end_tiles() {
            // SAFETY: forwarded.
            unsafe { end() }
        }
    };
}

impl Family for Bf16 {
    type V = f32;
    type PA = u16;
    type PB = u16;
    const MR: usize = MR;
    const NR: usize = NR;
    const KG: usize = 2;
    const KT: usize = 32;

    super::bf16_encoding!();

    tile_state!();

    unsafe fn tile(kg: usize, a: *const u16, b: *const u16, io: &TileIo<f32>) {
        // SAFETY: the driver passes whole k-tiled panels of `kg` groups (a multiple of 16),
        // checked for AMX (`Isa::Amx`) and configured the tiles (`begin_tiles`); `io` is
        // forwarded from the caller.
        unsafe {
            let c = run_blocks(bf16_blocks, kg, a.cast(), b.cast());
            store_f32(&rows_ps(&c), io);
        }
    }
}

/// The members every AMX int8 family shares: tile shape, quads, corrected sums; `$side`
/// names the unsigned operand (see `byte_encoding!`).
macro_rules! int8_family {
    ($fam:ident, $blocks:ident, $side:ident) => {
        impl Family for $fam {
            type V = i32;
            type PA = u8;
            type PB = u8;
            const MR: usize = MR;
            const NR: usize = NR;
            const KG: usize = 4;
            const KT: usize = 64;
            const CORRECTED: bool = true;

            super::byte_encoding!($side);

            tile_state!();

            unsafe fn tile(kg: usize, a: *const u8, b: *const u8, io: &TileIo<i32>) {
                // SAFETY: as in `Bf16::tile`.
                unsafe {
                    let c = run_blocks($blocks, kg, a, b);
                    store_i32(&rows_epi32(&c), io);
                }
            }
        }
    };
}

int8_family!(U8I8, usi_blocks, unsigned_a);
int8_family!(I8U8, sui_blocks, unsigned_b);
