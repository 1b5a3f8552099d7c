//! Tensor shapes with element types: what an operator's activation buffers
//! look like in memory (row-major, NHWC for 4-D tensors).

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// The element types the reference kernels handle. Liveness is per byte, and
/// all bytes of one element are read or written by the same access.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
pub enum ElementType {
    Int8,
    Int16,
    Int32,
    Float32,
}

impl ElementType {
    /// Bytes per element.
    pub fn size_bytes(self) -> usize {
        match self {
            ElementType::Int8 => 1,
            ElementType::Int16 => 2,
            ElementType::Int32 | ElementType::Float32 => 4,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            ElementType::Int8 => "int8",
            ElementType::Int16 => "int16",
            ElementType::Int32 => "int32",
            ElementType::Float32 => "float32",
        }
    }
}

impl fmt::Display for ElementType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ElementType {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text.to_ascii_lowercase().as_str() {
            "int8" | "i8" => Ok(ElementType::Int8),
            "int16" | "i16" => Ok(ElementType::Int16),
            "int32" | "i32" => Ok(ElementType::Int32),
            "float32" | "f32" | "float" => Ok(ElementType::Float32),
            _ => Err(format!(
                "unknown element type `{text}` (expected int8, int16, int32 or float32)"
            )),
        }
    }
}

/// Dimensions (outermost first) and element type of one tensor.
#[derive(Clone, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
pub struct TensorShape {
    dims: Vec<usize>,
    element: ElementType,
}

impl TensorShape {
    pub fn new(dims: Vec<usize>, element: ElementType) -> TensorShape {
        TensorShape { dims, element }
    }

    /// Shorthand for an int8 tensor, the common case on microcontrollers.
    pub fn int8(dims: &[usize]) -> TensorShape {
        TensorShape::new(dims.to_vec(), ElementType::Int8)
    }

    pub fn dims(&self) -> &[usize] {
        &self.dims
    }

    pub fn rank(&self) -> usize {
        self.dims.len()
    }

    pub fn element(&self) -> ElementType {
        self.element
    }

    /// Number of elements (1 for a scalar).
    pub fn elements(&self) -> usize {
        self.dims.iter().product()
    }

    /// Size of the tensor's buffer in bytes, or `None` if it does not fit in
    /// 64 bits. Every [`crate::OpDescription`] has checked its tensors with
    /// this, so [`Self::bytes`] cannot wrap for them.
    pub fn checked_bytes(&self) -> Option<u64> {
        self.dims
            .iter()
            .try_fold(self.element.size_bytes() as u64, |bytes, &dim| {
                bytes.checked_mul(u64::try_from(dim).ok()?)
            })
    }

    /// Size of the tensor's buffer in bytes.
    pub fn bytes(&self) -> usize {
        self.elements() * self.element.size_bytes()
    }

    /// The same dimensions with another element type.
    pub fn with_element(&self, element: ElementType) -> TensorShape {
        TensorShape::new(self.dims.clone(), element)
    }

    /// Parses `1x48x48x8` (dimensions only; the element type is given).
    pub fn parse_dims(text: &str, element: ElementType) -> Result<TensorShape, ShapeSyntaxError> {
        let dims = text
            .split(['x', 'X', ','])
            .map(|part| {
                part.trim().parse::<usize>().map_err(|_| ShapeSyntaxError {
                    text: text.to_owned(),
                    part: part.to_owned(),
                })
            })
            .collect::<Result<Vec<usize>, _>>()?;
        Ok(TensorShape::new(dims, element))
    }
}

/// A shape written on the command line that is not `N` or `NxNx...`.
#[derive(Clone, PartialEq, Eq, Debug, thiserror::Error)]
#[error("`{text}` is not a shape like 1x48x48x8: bad dimension `{part}`")]
pub struct ShapeSyntaxError {
    pub text: String,
    pub part: String,
}

impl fmt::Display for TensorShape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let dims: Vec<String> = self.dims.iter().map(|d| d.to_string()).collect();
        write!(f, "{} {}", dims.join("x"), self.element)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_count_bytes_not_elements() {
        let shape = TensorShape::new(vec![1, 2, 3, 4], ElementType::Float32);
        assert_eq!(shape.elements(), 24);
        assert_eq!(shape.bytes(), 96);
        assert_eq!(TensorShape::int8(&[]).elements(), 1);
    }

    #[test]
    fn checked_bytes_never_wraps() {
        // Issue 12: `--input 4294967296x4294967296` printed "(0 B)" because
        // 2^32 * 2^32 wrapped to 0 in usize.
        let shape = TensorShape::int8(&[1 << 32, 1 << 32]);
        assert_eq!(shape.checked_bytes(), None);
        let shape = TensorShape::new(vec![2, 3], ElementType::Int16);
        assert_eq!(shape.checked_bytes(), Some(12));
        assert_eq!(TensorShape::int8(&[usize::MAX, 2]).checked_bytes(), None);
        assert_eq!(TensorShape::int8(&[usize::MAX, 0]).checked_bytes(), Some(0));
    }

    #[test]
    fn parses_and_rejects_shapes() {
        let shape = TensorShape::parse_dims("1x48x48x8", ElementType::Int8).unwrap();
        assert_eq!(shape.dims(), &[1, 48, 48, 8]);
        let error = TensorShape::parse_dims("1x4a", ElementType::Int8).unwrap_err();
        assert_eq!(error.part, "4a");
        assert!(error.to_string().contains("`4a`"), "{error}");
        assert_eq!("f32".parse::<ElementType>(), Ok(ElementType::Float32));
        assert!("int4".parse::<ElementType>().is_err());
    }
}
