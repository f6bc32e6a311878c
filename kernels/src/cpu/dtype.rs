//! Element conversions and typed views of host bytes.
//!
//! [`Elem`] gives every storage type the conversions the kernels need (f32 compute for floats,
//! i32 wrapping arithmetic for integers, and the exact f64 round trip that defines casts).
//! [`Data`] is a host buffer seen as a slice of its element type; buffers that are not
//! aligned for the type (never the case for `accel-cpu`'s cache-line-aligned storage) are copied
//! once instead of failing.

use accel_core::DType;
use half::{bf16, f16};
use std::borrow::Cow;

/// A storage element type, with the conversions kernels use.
pub(crate) trait Elem: bytemuck::Pod + Default + Send + Sync + std::fmt::Debug + 'static {
    /// Widening to f32 (exact for every type but i32).
    fn to_f32(self) -> f32;
    /// Narrowing from f32: round to nearest even for floats, `as` for integers.
    fn from_f32(v: f32) -> Self;
    /// Exact widening to f64.
    fn to_f64(self) -> f64;
    /// The cast semantics of accel from an exact f64: floats round once to nearest even,
    /// integers truncate toward zero and saturate (NaN becomes 0).
    fn from_f64(v: f64) -> Self;
    /// Integer value (floats truncate; unused for them).
    fn to_i32(self) -> i32;
    /// Two's-complement truncation of an i32 result into the type's width (floats convert).
    fn from_i32_wrapping(v: i32) -> Self;
}

macro_rules! float_elem {
    ($t:ty, $round:path) => {
        impl Elem for $t {
            #[inline(always)]
            fn to_f32(self) -> f32 {
                <$t>::to_f32(self)
            }
            #[inline(always)]
            fn from_f32(v: f32) -> Self {
                <$t>::from_f32(v)
            }
            #[inline(always)]
            fn to_f64(self) -> f64 {
                <$t>::to_f64(self)
            }
            #[inline(always)]
            fn from_f64(v: f64) -> Self {
                // One correct rounding (`half`'s own f64 conversion drops sticky bits).
                $round(v)
            }
            #[inline(always)]
            fn to_i32(self) -> i32 {
                <$t>::to_f32(self) as i32
            }
            #[inline(always)]
            fn from_i32_wrapping(v: i32) -> Self {
                <$t as Elem>::from_f64(v as f64)
            }
        }
    };
}
float_elem!(f16, accel_core::round::to_f16);
float_elem!(bf16, accel_core::round::to_bf16);

impl Elem for f32 {
    #[inline(always)]
    fn to_f32(self) -> f32 {
        self
    }
    #[inline(always)]
    fn from_f32(v: f32) -> Self {
        v
    }
    #[inline(always)]
    fn to_f64(self) -> f64 {
        self as f64
    }
    #[inline(always)]
    fn from_f64(v: f64) -> Self {
        v as f32
    }
    #[inline(always)]
    fn to_i32(self) -> i32 {
        self as i32
    }
    #[inline(always)]
    fn from_i32_wrapping(v: i32) -> Self {
        v as f32
    }
}

macro_rules! int_elem {
    ($t:ty) => {
        impl Elem for $t {
            #[inline(always)]
            fn to_f32(self) -> f32 {
                self as f32
            }
            #[inline(always)]
            fn from_f32(v: f32) -> Self {
                v as $t
            }
            #[inline(always)]
            fn to_f64(self) -> f64 {
                self as f64
            }
            #[inline(always)]
            fn from_f64(v: f64) -> Self {
                v as $t
            }
            #[inline(always)]
            fn to_i32(self) -> i32 {
                self as i32
            }
            #[inline(always)]
            fn from_i32_wrapping(v: i32) -> Self {
                v as $t
            }
        }
    };
}
int_elem!(i8);
int_elem!(u8);
int_elem!(i32);

/// A whole host buffer as a slice of its element type.
#[derive(Debug)]
pub(crate) enum Data<'a> {
    F32(Cow<'a, [f32]>),
    F16(Cow<'a, [f16]>),
    BF16(Cow<'a, [bf16]>),
    I8(Cow<'a, [i8]>),
    U8(Cow<'a, [u8]>),
    I32(Cow<'a, [i32]>),
}

/// `bytes` as `[T]`, borrowed when aligned, copied otherwise. A trailing partial element is
/// ignored (views never reach it).
pub(crate) fn typed<T: bytemuck::Pod>(bytes: &[u8]) -> Cow<'_, [T]> {
    let size = std::mem::size_of::<T>();
    let bytes = &bytes[..bytes.len() - bytes.len() % size];
    match bytemuck::try_cast_slice(bytes) {
        Ok(s) => Cow::Borrowed(s),
        Err(_) => Cow::Owned(bytemuck::pod_collect_to_vec(bytes)),
    }
}

impl<'a> Data<'a> {
    /// Views `bytes` as elements of `dtype`.
    pub(crate) fn new(bytes: &'a [u8], dtype: DType) -> Data<'a> {
        match dtype {
            DType::F32 => Data::F32(typed(bytes)),
            DType::F16 => Data::F16(typed(bytes)),
            DType::BF16 => Data::BF16(typed(bytes)),
            DType::I8 => Data::I8(typed(bytes)),
            DType::U8 => Data::U8(Cow::Borrowed(bytes)),
            DType::I32 => Data::I32(typed(bytes)),
        }
    }

    /// The dtype held.
    pub(crate) fn dtype(&self) -> DType {
        match self {
            Data::F32(_) => DType::F32,
            Data::F16(_) => DType::F16,
            Data::BF16(_) => DType::BF16,
            Data::I8(_) => DType::I8,
            Data::U8(_) => DType::U8,
            Data::I32(_) => DType::I32,
        }
    }
}

/// Runs `$body` with `$s: &[T]` bound to the slice of whichever element type `$data` holds
/// (one monomorphised copy of the body per type).
macro_rules! with_data {
    ($data:expr, |$s:ident| $body:expr) => {
        match $data {
            $crate::cpu::dtype::Data::F32(c) => {
                let $s: &[f32] = c;
                $body
            }
            $crate::cpu::dtype::Data::F16(c) => {
                let $s: &[::half::f16] = c;
                $body
            }
            $crate::cpu::dtype::Data::BF16(c) => {
                let $s: &[::half::bf16] = c;
                $body
            }
            $crate::cpu::dtype::Data::I8(c) => {
                let $s: &[i8] = c;
                $body
            }
            $crate::cpu::dtype::Data::U8(c) => {
                let $s: &[u8] = c;
                $body
            }
            $crate::cpu::dtype::Data::I32(c) => {
                let $s: &[i32] = c;
                $body
            }
        }
    };
}
pub(crate) use with_data;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn misaligned_bytes_are_copied() {
        let raw: Vec<u8> = (0..9).collect();
        let s = typed::<u16>(&raw[1..]);
        assert_eq!(s.len(), 4);
        assert_eq!(s[0], u16::from_le_bytes([1, 2]));
    }

    #[test]
    fn integer_wrapping_and_casts() {
        assert_eq!(<i8 as Elem>::from_i32_wrapping(128), -128);
        assert_eq!(<u8 as Elem>::from_i32_wrapping(-1), 255);
        assert_eq!(<i8 as Elem>::from_f64(300.7), 127);
        assert_eq!(<u8 as Elem>::from_f64(f64::NAN), 0);
        assert_eq!(<i32 as Elem>::from_f64(-2.9), -2);
    }

    #[test]
    fn f64_to_half_rounds_once() {
        // Just above the f16 midpoint between 1 and 1 + 2^-10: must round up.
        let v = 1.0 + 2f64.powi(-11) + 2f64.powi(-40);
        assert_eq!(<f16 as Elem>::from_f64(v).to_f64(), 1.0 + 2f64.powi(-10));
        assert_eq!(<f16 as Elem>::from_f64(-v).to_f64(), -(1.0 + 2f64.powi(-10)));
        assert_eq!(<f16 as Elem>::from_f64(1.0 + 2f64.powi(-11)).to_f64(), 1.0);
        // i32 -> bf16: 2^24 + 2^16 + 1 is just above a bf16 midpoint.
        let v = (1i64 << 24) + (1 << 16) + 1;
        assert_eq!(<bf16 as Elem>::from_f64(v as f64).to_f64(), ((1i64 << 24) + (1 << 17)) as f64);
        assert_eq!(<bf16 as Elem>::from_f64(1e39).to_f64(), f64::INFINITY);
        assert!(<bf16 as Elem>::from_f64(f64::NAN).is_nan());
    }
}
