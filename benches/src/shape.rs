//! Benchmark shapes and their command-line syntax: `M,N,K` for matmul and
//! `N,C,H,W,K,R,S,stride,pad[,groups]` for conv2d (the same strings the onnxruntime script
//! takes), parsed with errors that name the field, never a panic.

use std::fmt;

/// `[m, k] @ [k, n]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct MatmulShape {
    /// Rows of `a` and of the output.
    pub m: usize,
    /// Columns of `b` and of the output.
    pub n: usize,
    /// Reduction length.
    pub k: usize,
}

impl MatmulShape {
    /// A square `n × n × n` product.
    pub const fn square(n: usize) -> MatmulShape {
        MatmulShape { m: n, n, k: n }
    }

    /// Parses `M,N,K` (each at least 1).
    pub fn parse(s: &str) -> Result<MatmulShape, String> {
        let v = fields(s, &["M", "N", "K"], 3)?;
        Ok(MatmulShape { m: v[0], n: v[1], k: v[2] })
    }

    /// Multiply-adds × 2.
    pub fn flops(&self) -> u64 {
        2 * self.m as u64 * self.n as u64 * self.k as u64
    }
}

impl fmt::Display for MatmulShape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{},{},{}", self.m, self.n, self.k)
    }
}

/// A 2-D convolution: input `N×C×H×W`, `K` filters of `R×S` over `C/groups` channels,
/// the same stride and padding on both axes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ConvShape {
    /// Batch.
    pub n: usize,
    /// Input channels.
    pub c: usize,
    /// Input height.
    pub h: usize,
    /// Input width.
    pub w: usize,
    /// Output channels (filters).
    pub k: usize,
    /// Kernel height.
    pub r: usize,
    /// Kernel width.
    pub s: usize,
    /// Stride (both axes).
    pub stride: usize,
    /// Padding on every side.
    pub pad: usize,
    /// Groups (depthwise: groups = C = K).
    pub groups: usize,
}

impl ConvShape {
    /// Parses `N,C,H,W,K,R,S,stride,pad[,groups]` and checks that it describes a valid
    /// convolution (groups divide C and K, the kernel fits the padded input).
    pub fn parse(s: &str) -> Result<ConvShape, String> {
        let names = ["N", "C", "H", "W", "K", "R", "S", "stride", "pad", "groups"];
        let v = fields(s, &names, 9)?;
        let shape = ConvShape {
            n: v[0],
            c: v[1],
            h: v[2],
            w: v[3],
            k: v[4],
            r: v[5],
            s: v[6],
            stride: v[7],
            pad: v[8],
            groups: v.get(9).copied().unwrap_or(1),
        };
        shape.validate().map(|()| shape).map_err(|e| format!("conv shape `{s}`: {e}"))
    }

    fn validate(&self) -> Result<(), String> {
        if !self.c.is_multiple_of(self.groups) || !self.k.is_multiple_of(self.groups) {
            return Err(format!("groups = {} must divide C = {} and K = {}", self.groups, self.c, self.k));
        }
        if self.r > self.h + 2 * self.pad || self.s > self.w + 2 * self.pad {
            return Err(format!(
                "a {}×{} kernel does not fit the padded {}×{} input",
                self.r,
                self.s,
                self.h + 2 * self.pad,
                self.w + 2 * self.pad
            ));
        }
        Ok(())
    }

    /// Output `[oH, oW]`.
    pub fn out_hw(&self) -> [usize; 2] {
        [(self.h + 2 * self.pad - self.r) / self.stride + 1, (self.w + 2 * self.pad - self.s) / self.stride + 1]
    }

    /// Multiply-adds × 2.
    pub fn flops(&self) -> u64 {
        let [oh, ow] = self.out_hw();
        2 * (self.n * self.k * oh * ow) as u64 * (self.c / self.groups * self.r * self.s) as u64
    }

    /// True for the depthwise case (groups = C = K > 1).
    pub fn is_depthwise(&self) -> bool {
        self.groups > 1 && self.groups == self.c && self.groups == self.k
    }

    /// The same layer with another batch size.
    pub fn with_batch(mut self, n: usize) -> ConvShape {
        self.n = n;
        self
    }
}

impl fmt::Display for ConvShape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ConvShape { n, c, h, w, k, r, s, stride, pad, groups } = *self;
        write!(f, "{n},{c},{h},{w},{k},{r},{s},{stride},{pad},{groups}")
    }
}

/// Comma-separated positive integers: `min` required, up to `names.len()`.
fn fields(s: &str, names: &[&str], min: usize) -> Result<Vec<usize>, String> {
    let parts: Vec<&str> = s.split(',').map(str::trim).collect();
    let syntax = names.join(",");
    if parts.len() < min || parts.len() > names.len() {
        let count = if min == names.len() { min.to_string() } else { format!("{min} to {}", names.len()) };
        return Err(format!("shape `{s}`: expected {syntax} ({count} numbers), got {}", parts.len()));
    }
    parts
        .iter()
        .zip(names)
        .map(|(p, name)| match p.parse::<usize>() {
            Ok(0) if *name == "pad" => Ok(0),
            Ok(v) if v > 0 && v <= 1 << 24 => Ok(v),
            _ => Err(format!("shape `{s}`: {name} must be an integer in 1..=16777216 (pad may be 0), got `{p}`")),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matmul_round_trips() {
        let s = MatmulShape::parse("64, 128,32").unwrap();
        assert_eq!(s, MatmulShape { m: 64, n: 128, k: 32 });
        assert_eq!(s.to_string(), "64,128,32");
        assert_eq!(s.flops(), 2 * 64 * 128 * 32);
    }

    #[test]
    fn conv_defaults_groups_and_computes_output() {
        let s = ConvShape::parse("1,3,224,224,64,7,7,2,3").unwrap();
        assert_eq!(s.groups, 1);
        assert_eq!(s.out_hw(), [112, 112]);
        assert_eq!(s.flops(), 2 * 64 * 112 * 112 * 3 * 49);
        assert_eq!(ConvShape::parse(&s.to_string()).unwrap(), s);
        let dw = ConvShape::parse("1,144,56,56,144,3,3,1,1,144").unwrap();
        assert!(dw.is_depthwise());
        assert_eq!(dw.flops(), 2 * 144 * 56 * 56 * 9);
    }

    #[test]
    fn bad_shapes_are_errors_naming_the_field() {
        for (s, needle) in [
            ("64,64", "M,N,K (3 numbers), got 2"),
            ("64,x,64", "N must be"),
            ("0,4,4", "M must be"),
            ("64,64,64,64", "got 4"),
            ("-1,2,3", "M must be"),
        ] {
            let e = MatmulShape::parse(s).unwrap_err();
            assert!(e.contains(needle), "{s}: {e}");
        }
        for (s, needle) in [
            ("1,3,8,8,4,3,3,1", "9 to 10"),
            ("1,6,8,8,4,3,3,1,1,4", "groups = 4"),
            ("1,3,2,2,4,7,7,1,0", "does not fit"),
            ("1,3,8,8,4,3,3,0,1", "stride must be"),
        ] {
            let e = ConvShape::parse(s).unwrap_err();
            assert!(e.contains(needle), "{s}: {e}");
        }
    }
}
