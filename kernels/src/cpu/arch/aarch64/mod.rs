//! aarch64 families: Advanced SIMD (NEON), present on every aarch64 CPU.

pub(crate) mod neon;
