//! Shapes of the tiled float matmul ([`super::MATMUL_TILED`]): a [`TiledConfig`] names the
//! workgroup, register tile and k step, says whether an adapter can run it, derives the grid
//! and the largest k, and writes the constants and the unrolled inner product that the kernel
//! body expects in its prelude. [`TiledConfig::CANDIDATES`] is the autotuner's menu.

use std::fmt::Write;

/// llvmpipe ends a shader's loops after this many trips in total (one counter per invocation
/// for all loops), so a kernel that loops longer returns partial sums there.
const LOOP_TRIPS: usize = 65_535;
/// Trips kept in reserve below [`LOOP_TRIPS`] (helpers' loops, rounding of the estimate).
const TRIP_SLACK: usize = 535;

/// One shape of the tiled matmul: a `wx`×`wy` workgroup whose invocations each own `rm` rows
/// × `rn` columns of the output (`rm`, `rn` multiples of 4: rows as vec4 loads of the staged
/// a tile, columns as vec4 accumulators), so a workgroup owns a `wy·rm` × `wx·rn` tile; k is
/// walked in steps of `tk` (a multiple of 4), each step staged in workgroup memory.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct TiledConfig {
    /// Invocations along x (output columns).
    pub wx: u32,
    /// Invocations along y (output rows).
    pub wy: u32,
    /// Output rows per invocation.
    pub rm: u32,
    /// Output columns per invocation.
    pub rn: u32,
    /// k step staged per barrier.
    pub tk: u32,
}

/// What an adapter allows a compute workgroup (wgpu's `max_compute_*` limits).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WorkgroupLimits {
    /// `max_compute_invocations_per_workgroup`.
    pub invocations: u32,
    /// `max_compute_workgroup_size_x`.
    pub size_x: u32,
    /// `max_compute_workgroup_size_y`.
    pub size_y: u32,
    /// `max_compute_workgroup_storage_size` in bytes.
    pub storage_bytes: u32,
}

const fn cfg(wx: u32, wy: u32, rm: u32, rn: u32, tk: u32) -> TiledConfig {
    TiledConfig { wx, wy, rm, rn, tk }
}

impl TiledConfig {
    /// The shape used untuned (`ACCEL_WGPU_TUNE=0`) and as the tuner's reference: 16x16
    /// invocations, 4x4 outputs each (a 64x64 tile), k steps of 16.
    pub const DEFAULT: TiledConfig = cfg(16, 16, 4, 4, 16);

    /// The autotuner's candidates, [`Self::DEFAULT`] first: the default with k steps of 8 and
    /// 32, 128x64 and 64x128 tiles (8x4 / 4x8 per invocation), 8x8 outputs per invocation
    /// (128x128 tiles from 16x16 invocations; 64x64 tiles from 8x8, k steps of 16 and 32),
    /// and 32x32 tiles (8x8 invocations of 4x4). All fit WebGPU's minimum limits (256
    /// invocations, 16 KiB of workgroup memory).
    pub const CANDIDATES: [TiledConfig; 9] = [
        Self::DEFAULT,
        cfg(16, 16, 4, 4, 8),
        cfg(16, 16, 4, 4, 32),
        cfg(16, 16, 8, 4, 16),
        cfg(16, 16, 4, 8, 16),
        cfg(16, 16, 8, 8, 16),
        cfg(8, 8, 8, 8, 16),
        cfg(8, 8, 8, 8, 32),
        cfg(8, 8, 4, 4, 16),
    ];

    /// Output rows of one workgroup's tile.
    pub const fn tile_m(&self) -> u32 {
        self.wy * self.rm
    }

    /// Output columns of one workgroup's tile.
    pub const fn tile_n(&self) -> u32 {
        self.wx * self.rn
    }

    /// Invocations per workgroup.
    pub const fn invocations(&self) -> u32 {
        self.wx * self.wy
    }

    /// Workgroup memory of the staged a and b tiles, in bytes (f32).
    pub const fn workgroup_bytes(&self) -> u32 {
        (self.tile_m() + self.tile_n()) * self.tk * 4
    }

    /// A short stable name, e.g. `64x64-4x4-k16` (tile, outputs per invocation, k step); the
    /// autotuner's cache stores it.
    pub fn name(&self) -> String {
        format!("{}x{}-{}x{}-k{}", self.tile_m(), self.tile_n(), self.rm, self.rn, self.tk)
    }

    /// The candidate called `name` (see [`Self::name`]), if any.
    pub fn from_name(name: &str) -> Option<TiledConfig> {
        Self::CANDIDATES.into_iter().find(|c| c.name() == name)
    }

    /// True when the shape is well formed (positive sizes, multiples of 4 where the kernel
    /// reads vec4s) and fits `limits`.
    pub fn fits(&self, limits: &WorkgroupLimits) -> bool {
        let shaped = [self.wx, self.wy, self.rm, self.rn, self.tk].iter().all(|&v| v > 0 && v <= 64)
            && self.rm.is_multiple_of(4)
            && self.rn.is_multiple_of(4)
            && self.tk.is_multiple_of(4);
        shaped
            && self.invocations() <= limits.invocations
            && self.wx <= limits.size_x
            && self.wy <= limits.size_y
            && self.workgroup_bytes() <= limits.storage_bytes
    }

    /// Loop trips one invocation makes for reduction length `k`: per k step the step loop,
    /// the a and b staging loops and the inner-product loop (entry counted), then the store
    /// loop. Straight-line code (the unrolled register tile, view offsets) costs none.
    pub fn loop_trips(&self, k: usize) -> usize {
        let steps = k.div_ceil(self.tk as usize);
        let per_step = 4 + self.a_steps() as usize + self.b_steps() as usize + self.tk as usize;
        steps * per_step + (self.rm * self.rn) as usize + 2
    }

    /// Largest k this shape takes (a multiple of the k step): its loops stay under llvmpipe's
    /// 65,535 trips per invocation with room to spare. Larger k goes to the generic kernel.
    pub fn max_k(&self) -> usize {
        let per_step = 4 + self.a_steps() as usize + self.b_steps() as usize + self.tk as usize;
        let steps = (LOOP_TRIPS - TRIP_SLACK - (self.rm * self.rn) as usize - 2) / per_step;
        steps * self.tk as usize
    }

    /// Workgroups (x over output columns, y over rows, z over the batch) for an m×n output
    /// per batch entry.
    pub fn grid(&self, m: usize, n: usize, batch: usize) -> [usize; 3] {
        [n.div_ceil(self.tile_n() as usize), m.div_ceil(self.tile_m() as usize), batch]
    }

    /// vec4 quads of the a tile (4 consecutive k of one row each).
    const fn a_quads(&self) -> u32 {
        self.tile_m() * self.tk / 4
    }

    /// vec4 quads of the b tile (4 consecutive columns of one k row each).
    const fn b_quads(&self) -> u32 {
        self.tk * self.tile_n() / 4
    }

    /// Staging rounds per k step: quads per invocation, rounded up.
    const fn a_steps(&self) -> u32 {
        self.a_quads().div_ceil(self.invocations())
    }

    const fn b_steps(&self) -> u32 {
        self.b_quads().div_ceil(self.invocations())
    }

    /// The prelude part [`super::MATMUL_TILED`] needs: the shape constants, `VEC_A`/`VEC_B`
    /// (operand rows load as 4 adjacent f32 words: unit inner stride, 16-byte aligned rows,
    /// inner extent a multiple of 4; the host decides) and `mma`, one k step of the register
    /// tile written out in full so that no loop or dynamic index touches the accumulators
    /// (loops would spend llvmpipe's trip budget and spill the tile to memory).
    pub fn prelude(&self, vec_a: bool, vec_b: bool) -> String {
        let (rm4, rn4) = (self.rm / 4, self.rn / 4);
        let mut s = String::new();
        let _ = writeln!(
            s,
            "const WX: u32 = {}u;\nconst WY: u32 = {}u;\nconst RM: u32 = {}u;\nconst RN: u32 = {}u;\n\
             const TK: u32 = {}u;\nconst TM: u32 = {}u;\nconst TN: u32 = {}u;\nconst RM4: u32 = {rm4}u;\n\
             const RN4: u32 = {rn4}u;\nconst NACC: u32 = {}u;\nconst A_QUADS: u32 = {}u;\n\
             const B_QUADS: u32 = {}u;\nconst A_STEPS: u32 = {}u;\nconst B_STEPS: u32 = {}u;\n\
             const VEC_A: bool = {vec_a};\nconst VEC_B: bool = {vec_b};",
            self.wx,
            self.wy,
            self.rm,
            self.rn,
            self.tk,
            self.tile_m(),
            self.tile_n(),
            rm4 * self.rn,
            self.a_quads(),
            self.b_quads(),
            self.a_steps(),
            self.b_steps(),
        );
        s.push_str("fn mma(acc: ptr<function, array<vec4<f32>, NACC>>, ia: u32, ib: u32) {\n");
        for v in 0..rm4 {
            let _ = writeln!(s, "    let a{v} = ta[ia + {v}u];");
        }
        for w in 0..rn4 {
            let _ = writeln!(s, "    let b{w} = tb[ib + {w}u];");
        }
        for r in 0..self.rm {
            let lane = ["x", "y", "z", "w"][(r % 4) as usize];
            for w in 0..rn4 {
                let i = r * rn4 + w;
                let _ = writeln!(s, "    (*acc)[{i}] = (*acc)[{i}] + a{}.{lane} * b{w};", r / 4);
            }
        }
        s.push_str("}\n");
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LAVAPIPE: WorkgroupLimits =
        WorkgroupLimits { invocations: 1024, size_x: 1024, size_y: 1024, storage_bytes: 32768 };
    const WEBGPU_MIN: WorkgroupLimits =
        WorkgroupLimits { invocations: 256, size_x: 256, size_y: 256, storage_bytes: 16384 };

    #[test]
    fn candidates_are_distinct_and_fit_the_webgpu_minimum() {
        for (i, c) in TiledConfig::CANDIDATES.iter().enumerate() {
            assert!(c.fits(&LAVAPIPE) && c.fits(&WEBGPU_MIN), "{}", c.name());
            assert_eq!(TiledConfig::from_name(&c.name()), Some(*c));
            assert!(TiledConfig::CANDIDATES[..i].iter().all(|d| d.name() != c.name()), "{}", c.name());
        }
        assert_eq!(TiledConfig::DEFAULT.name(), "64x64-4x4-k16");
        assert_eq!(TiledConfig::from_name("64x64-4x4-k12"), None);
    }

    #[test]
    fn limits_reject_oversized_shapes() {
        let small = WorkgroupLimits { invocations: 64, size_x: 64, size_y: 64, storage_bytes: 6144 };
        assert!(!TiledConfig::DEFAULT.fits(&small));
        assert!(cfg(8, 8, 4, 4, 16).fits(&small));
        assert!(!cfg(8, 8, 8, 8, 16).fits(&small), "64x64 tiles of k 16 stage 4 KiB of a and 4 KiB of b");
        assert!(!cfg(16, 16, 3, 4, 16).fits(&LAVAPIPE), "rows per invocation must be a multiple of 4");
        assert!(!cfg(0, 16, 4, 4, 16).fits(&LAVAPIPE));
    }

    #[test]
    fn max_k_keeps_the_loops_under_llvmpipes_budget() {
        for c in TiledConfig::CANDIDATES {
            let k = c.max_k();
            assert_eq!(k % c.tk as usize, 0);
            assert!(c.loop_trips(k) <= LOOP_TRIPS - TRIP_SLACK, "{}", c.name());
            assert!(c.loop_trips(k + c.tk as usize) > LOOP_TRIPS - TRIP_SLACK, "{}", c.name());
            assert!(k >= 16384, "{}: {k}", c.name());
        }
        // The default: 16 inner trips + 4 loop entries + one staging round each for a and b.
        assert_eq!(TiledConfig::DEFAULT.loop_trips(32), 2 * 22 + 16 + 2);
    }

    #[test]
    fn prelude_writes_every_accumulator_once_per_step() {
        let c = cfg(16, 16, 8, 4, 16);
        let p = c.prelude(true, false);
        assert!(p.contains("const TM: u32 = 128u;") && p.contains("const TN: u32 = 64u;"));
        assert!(p.contains("const VEC_A: bool = true;") && p.contains("const VEC_B: bool = false;"));
        for i in 0..8 {
            assert_eq!(p.matches(&format!("(*acc)[{i}] = ")).count(), 1, "{p}");
        }
        assert!(p.contains("(*acc)[7] = (*acc)[7] + a1.w * b0;"), "{p}");
        assert_eq!(c.grid(129, 65, 3), [2, 2, 3]);
    }
}
