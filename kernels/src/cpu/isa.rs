//! Which instruction set the CPU kernels use: detected once, cached, and overridable with
//! `ACCEL_CPU_ISA=scalar|avx2|avx512|amx|neon|auto` so tests and benchmarks can force each path.
//!
//! A forced ISA the machine lacks falls back to the best path it has below the request (with
//! one line on stderr saying so), never to a path that would fault. [`Isa::Avx512`] needs
//! AVX-512 F/BW/VL (VNNI and BF16 are used when present, see [`Features`]); [`Isa::Amx`] is
//! [`Isa::Avx512`] plus the AMX tile unit for bf16 and int8 products; [`Isa::Avx2`]
//! needs AVX2 + FMA + F16C (AVX-VNNI is used when present); [`Isa::Neon`] is every aarch64 CPU.

use std::sync::OnceLock;

/// A kernel family, from the most portable to the widest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Isa {
    /// Safe Rust, auto-vectorised for the compile target only.
    Scalar,
    /// aarch64 Advanced SIMD (128-bit).
    Neon,
    /// x86-64 AVX2 + FMA + F16C (256-bit), with AVX-VNNI for int8 when present.
    Avx2,
    /// x86-64 AVX-512 F/BW/VL (512-bit), with VNNI and BF16 when present.
    Avx512,
    /// [`Isa::Avx512`] with AMX tiles (AMX-BF16 and AMX-INT8) for bf16 and int8 products.
    Amx,
}

impl Isa {
    /// The name `ACCEL_CPU_ISA` accepts.
    pub fn name(self) -> &'static str {
        match self {
            Isa::Scalar => "scalar",
            Isa::Neon => "neon",
            Isa::Avx2 => "avx2",
            Isa::Avx512 => "avx512",
            Isa::Amx => "amx",
        }
    }

    /// Parses an `ACCEL_CPU_ISA` value (`None` for `auto` / empty, `Err` for an unknown name).
    pub fn parse(s: &str) -> Result<Option<Isa>, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "" | "auto" | "native" => Ok(None),
            "scalar" => Ok(Some(Isa::Scalar)),
            "neon" => Ok(Some(Isa::Neon)),
            "avx2" => Ok(Some(Isa::Avx2)),
            "avx512" => Ok(Some(Isa::Avx512)),
            "amx" => Ok(Some(Isa::Amx)),
            other => Err(format!("ACCEL_CPU_ISA={other:?} is not one of scalar, neon, avx2, avx512, amx, auto")),
        }
    }

    /// Every ISA path, for tests that cover each one the machine has.
    pub const ALL: [Isa; 5] = [Isa::Scalar, Isa::Neon, Isa::Avx2, Isa::Avx512, Isa::Amx];

    /// True for the ISAs whose vector kernels are AVX-512's ([`Isa::Avx512`], [`Isa::Amx`]).
    pub fn has_avx512(self) -> bool {
        matches!(self, Isa::Avx512 | Isa::Amx)
    }

    /// True for the x86-64 ISAs with AVX2 + FMA ([`Isa::Avx2`] and the AVX-512 ones, which
    /// [`Features::supports`] grants only with AVX2).
    pub fn has_avx2(self) -> bool {
        self == Isa::Avx2 || self.has_avx512()
    }
}

impl std::fmt::Display for Isa {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// What the machine offers, as far as the kernels care.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Features {
    /// AVX-512 F + BW + VL.
    pub avx512: bool,
    /// AVX-512 VNNI (`vpdpbusd` on zmm).
    pub avx512_vnni: bool,
    /// AVX-512 BF16 (`vdpbf16ps`).
    pub avx512_bf16: bool,
    /// AVX2 + FMA + F16C.
    pub avx2: bool,
    /// AVX-VNNI (`vpdpbusd` on ymm without AVX-512).
    pub avx_vnni: bool,
    /// AMX tiles with BF16 and INT8 (`tdpbf16ps`, `tdpbusd`), and the OS granted this process
    /// the tile data state.
    pub amx: bool,
    /// aarch64 Advanced SIMD.
    pub neon: bool,
}

impl Features {
    /// Reads the running CPU's features.
    pub fn detect() -> Features {
        #[cfg(target_arch = "x86_64")]
        {
            let avx512 = std::arch::is_x86_feature_detected!("avx512f")
                && std::arch::is_x86_feature_detected!("avx512bw")
                && std::arch::is_x86_feature_detected!("avx512vl");
            let avx2 = std::arch::is_x86_feature_detected!("avx2")
                && std::arch::is_x86_feature_detected!("fma")
                && std::arch::is_x86_feature_detected!("f16c");
            Features {
                avx512,
                avx512_vnni: avx512 && std::arch::is_x86_feature_detected!("avx512vnni"),
                avx512_bf16: avx512 && std::arch::is_x86_feature_detected!("avx512bf16"),
                avx2,
                avx_vnni: avx2 && std::arch::is_x86_feature_detected!("avxvnni"),
                amx: avx512 && crate::cpu::arch::x86_64::amx::enable(),
                neon: false,
            }
        }
        #[cfg(target_arch = "aarch64")]
        {
            Features { neon: std::arch::is_aarch64_feature_detected!("neon"), ..Features::default() }
        }
        #[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
        {
            Features::default()
        }
    }

    /// True when the machine can run `isa`'s kernels.
    pub fn supports(&self, isa: Isa) -> bool {
        match isa {
            Isa::Scalar => true,
            Isa::Neon => self.neon,
            Isa::Avx2 => self.avx2,
            Isa::Avx512 => self.avx512 && self.avx2,
            Isa::Amx => self.amx && self.avx512 && self.avx2,
        }
    }

    /// The widest ISA the machine runs.
    pub fn best(&self) -> Isa {
        Isa::ALL.into_iter().rev().find(|&i| self.supports(i)).unwrap_or(Isa::Scalar)
    }

    /// The widest ISA at or below `want` that the machine runs.
    pub fn best_at_most(&self, want: Isa) -> Isa {
        Isa::ALL.into_iter().rev().filter(|&i| i <= want).find(|&i| self.supports(i)).unwrap_or(Isa::Scalar)
    }
}

/// The running CPU's features (detected once).
pub fn features() -> &'static Features {
    static F: OnceLock<Features> = OnceLock::new();
    F.get_or_init(Features::detect)
}

/// The ISA the kernels use in this process: `ACCEL_CPU_ISA` if set (clamped to what the
/// machine has), else the widest available. Decided once, on first use.
pub fn active() -> Isa {
    static A: OnceLock<Isa> = OnceLock::new();
    *A.get_or_init(|| {
        let f = features();
        let want = std::env::var("ACCEL_CPU_ISA").unwrap_or_default();
        match Isa::parse(&want) {
            Ok(None) => f.best(),
            Ok(Some(isa)) if f.supports(isa) => isa,
            Ok(Some(isa)) => {
                let got = f.best_at_most(isa);
                eprintln!("accel: ACCEL_CPU_ISA={isa} is not supported by this CPU; using {got}");
                got
            }
            Err(msg) => {
                let got = f.best();
                eprintln!("accel: {msg}; using {got}");
                got
            }
        }
    })
}

/// Cache sizes in bytes per core (L1 data, L2) and shared (L3), read from sysfs on Linux with
/// conservative defaults elsewhere; the GEMM sizes its blocks from them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Caches {
    /// Level-1 data cache per core.
    pub l1d: usize,
    /// Level-2 cache per core.
    pub l2: usize,
    /// Last-level cache (shared).
    pub l3: usize,
}

impl Caches {
    const DEFAULT: Caches = Caches { l1d: 32 << 10, l2: 512 << 10, l3: 8 << 20 };

    fn detect() -> Caches {
        let mut c = Caches::DEFAULT;
        for idx in 0..8 {
            let dir = format!("/sys/devices/system/cpu/cpu0/cache/index{idx}");
            let read = |f: &str| std::fs::read_to_string(format!("{dir}/{f}")).ok();
            let (Some(level), Some(kind), Some(size)) = (read("level"), read("type"), read("size")) else {
                continue;
            };
            let Some(bytes) = parse_size(&size) else { continue };
            match (level.trim(), kind.trim()) {
                ("1", "Data") => c.l1d = bytes,
                ("2", "Unified" | "Data") => c.l2 = bytes,
                ("3", "Unified") => c.l3 = bytes,
                _ => {}
            }
        }
        c
    }
}

/// `"32K"` / `"1024K"` / `"32M"` as bytes.
fn parse_size(s: &str) -> Option<usize> {
    let s = s.trim();
    let (num, mul) = match s.chars().last()? {
        'K' | 'k' => (&s[..s.len() - 1], 1 << 10),
        'M' | 'm' => (&s[..s.len() - 1], 1 << 20),
        'G' | 'g' => (&s[..s.len() - 1], 1 << 30),
        _ => (s, 1),
    };
    num.parse::<usize>().ok().filter(|&v| v > 0).map(|v| v * mul)
}

/// The cache sizes (detected once).
pub fn caches() -> &'static Caches {
    static C: OnceLock<Caches> = OnceLock::new();
    C.get_or_init(Caches::detect)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_names() {
        assert_eq!(Isa::parse("AVX512"), Ok(Some(Isa::Avx512)));
        assert_eq!(Isa::parse(" auto "), Ok(None));
        assert!(Isa::parse("sse9").is_err());
        for isa in Isa::ALL {
            assert_eq!(Isa::parse(isa.name()), Ok(Some(isa)));
        }
    }

    #[test]
    fn fallback_never_picks_a_missing_isa() {
        let none = Features::default();
        assert_eq!(none.best(), Isa::Scalar);
        assert_eq!(none.best_at_most(Isa::Avx512), Isa::Scalar);
        let avx2 = Features { avx2: true, ..Features::default() };
        assert_eq!(avx2.best_at_most(Isa::Avx512), Isa::Avx2);
        assert_eq!(avx2.best_at_most(Isa::Neon), Isa::Scalar);
        assert_eq!(avx2.best_at_most(Isa::Amx), Isa::Avx2);
        let avx512 = Features { avx2: true, avx512: true, ..Features::default() };
        assert_eq!(avx512.best(), Isa::Avx512);
        assert_eq!(Features { amx: true, ..avx512 }.best(), Isa::Amx);
        assert!(features().supports(active()));
    }

    #[test]
    fn cache_sizes() {
        assert_eq!(parse_size("32K\n"), Some(32 << 10));
        assert_eq!(parse_size("32M"), Some(32 << 20));
        assert_eq!(parse_size("x"), None);
        let c = caches();
        assert!(c.l1d >= 4 << 10 && c.l2 >= c.l1d && c.l3 >= c.l1d);
    }
}
