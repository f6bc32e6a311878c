//! Element types and the sealed [`Element`] trait that maps Rust types onto them.

use half::{bf16, f16};
use std::fmt;

/// The element type of a tensor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DType {
    /// IEEE binary32.
    F32,
    /// IEEE binary16.
    F16,
    /// bfloat16: binary32's exponent with a 7-bit mantissa.
    BF16,
    /// Signed 8-bit integer.
    I8,
    /// Unsigned 8-bit integer.
    U8,
    /// Signed 32-bit integer.
    I32,
}

impl DType {
    /// Every dtype, in a fixed order (tests and benches iterate over it).
    pub const ALL: [DType; 6] = [DType::F32, DType::F16, DType::BF16, DType::I8, DType::U8, DType::I32];

    /// Bytes per element.
    pub const fn size(self) -> usize {
        match self {
            DType::F32 | DType::I32 => 4,
            DType::F16 | DType::BF16 => 2,
            DType::I8 | DType::U8 => 1,
        }
    }

    /// True for f32, f16 and bf16.
    pub const fn is_float(self) -> bool {
        matches!(self, DType::F32 | DType::F16 | DType::BF16)
    }

    /// True for i8 and u8, the quantized storage types.
    pub const fn is_int8(self) -> bool {
        matches!(self, DType::I8 | DType::U8)
    }

    /// Lowercase name (`f32`, `bf16`, ...).
    pub const fn name(self) -> &'static str {
        match self {
            DType::F32 => "f32",
            DType::F16 => "f16",
            DType::BF16 => "bf16",
            DType::I8 => "i8",
            DType::U8 => "u8",
            DType::I32 => "i32",
        }
    }

    /// Parses a lowercase name as printed by [`DType::name`].
    pub fn from_name(name: &str) -> Option<DType> {
        DType::ALL.into_iter().find(|d| d.name() == name)
    }

    /// Smallest and largest value the integer dtypes can hold (as f64); `None` for floats.
    pub const fn int_range(self) -> Option<(f64, f64)> {
        match self {
            DType::I8 => Some((i8::MIN as f64, i8::MAX as f64)),
            DType::U8 => Some((0.0, u8::MAX as f64)),
            DType::I32 => Some((i32::MIN as f64, i32::MAX as f64)),
            _ => None,
        }
    }
}

impl fmt::Display for DType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

mod sealed {
    pub trait Sealed {}
}

/// A Rust type that can be a tensor element. Sealed: exactly the six [`DType`]s.
pub trait Element: sealed::Sealed + bytemuck::Pod + Copy + Send + Sync + PartialEq + fmt::Debug + 'static {
    /// The dtype this type stores.
    const DTYPE: DType;
    /// Exact widening to f64 (every element type fits).
    fn to_f64(self) -> f64;
    /// Conversion from f64: round to nearest even for floats, round toward zero and saturate
    /// for integers (NaN becomes 0). This is the semantics of [`DType`] casts.
    fn from_f64(v: f64) -> Self;
}

macro_rules! int_element {
    ($t:ty, $d:expr) => {
        impl sealed::Sealed for $t {}
        impl Element for $t {
            const DTYPE: DType = $d;
            fn to_f64(self) -> f64 {
                self as f64
            }
            fn from_f64(v: f64) -> Self {
                // `as` truncates toward zero, saturates and maps NaN to 0.
                v as $t
            }
        }
    };
}
int_element!(i8, DType::I8);
int_element!(u8, DType::U8);
int_element!(i32, DType::I32);

impl sealed::Sealed for f32 {}
impl Element for f32 {
    const DTYPE: DType = DType::F32;
    fn to_f64(self) -> f64 {
        self as f64
    }
    fn from_f64(v: f64) -> Self {
        v as f32
    }
}
impl sealed::Sealed for f16 {}
impl Element for f16 {
    const DTYPE: DType = DType::F16;
    fn to_f64(self) -> f64 {
        f16::to_f64(self)
    }
    fn from_f64(v: f64) -> Self {
        crate::round::to_f16(v)
    }
}
impl sealed::Sealed for bf16 {}
impl Element for bf16 {
    const DTYPE: DType = DType::BF16;
    fn to_f64(self) -> f64 {
        bf16::to_f64(self)
    }
    fn from_f64(v: f64) -> Self {
        crate::round::to_bf16(v)
    }
}

/// Reads element `i` of a byte slice holding `dtype` values, widened to f64.
/// Panics if `i` is out of range (callers index validated views).
pub fn read_f64(bytes: &[u8], dtype: DType, i: usize) -> f64 {
    let s = dtype.size();
    let b = &bytes[i * s..(i + 1) * s];
    match dtype {
        DType::F32 => f32::from_le_bytes([b[0], b[1], b[2], b[3]]) as f64,
        DType::F16 => f16::from_le_bytes([b[0], b[1]]).to_f64(),
        DType::BF16 => bf16::from_le_bytes([b[0], b[1]]).to_f64(),
        DType::I8 => b[0] as i8 as f64,
        DType::U8 => b[0] as f64,
        DType::I32 => i32::from_le_bytes([b[0], b[1], b[2], b[3]]) as f64,
    }
}

/// Writes `v` as element `i` of a byte slice holding `dtype` values, converting as
/// [`Element::from_f64`] does.
pub fn write_f64(bytes: &mut [u8], dtype: DType, i: usize, v: f64) {
    let s = dtype.size();
    let b = &mut bytes[i * s..(i + 1) * s];
    match dtype {
        DType::F32 => b.copy_from_slice(&f32::from_f64(v).to_le_bytes()),
        DType::F16 => b.copy_from_slice(&crate::round::to_f16(v).to_le_bytes()),
        DType::BF16 => b.copy_from_slice(&crate::round::to_bf16(v).to_le_bytes()),
        DType::I8 => b[0] = i8::from_f64(v) as u8,
        DType::U8 => b[0] = u8::from_f64(v),
        DType::I32 => b.copy_from_slice(&i32::from_f64(v).to_le_bytes()),
    }
}
