//! The parts of the TensorFlow Lite schema (`schema.fbs`) that dmo reads:
//! operator codes, tensor types, and the options of the operators whose
//! memory behaviour it models.

use serde::Serialize;
use std::fmt;

/// A builtin operator code (`BuiltinOperator` in `schema.fbs`).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize)]
pub struct BuiltinCode(pub i32);

macro_rules! builtin_codes {
    ($($name:ident = $value:expr),* $(,)?) => {
        impl BuiltinCode {
            $(pub const $name: BuiltinCode = BuiltinCode($value);)*

            /// The schema's name of the code (`CONV_2D`, ...), if dmo knows it.
            pub fn name(self) -> Option<&'static str> {
                match self.0 {
                    $($value => Some(stringify!($name)),)*
                    _ => None,
                }
            }
        }
    };
}

builtin_codes! {
    ADD = 0, AVERAGE_POOL_2D = 1, CONCATENATION = 2, CONV_2D = 3, DEPTHWISE_CONV_2D = 4,
    DEPTH_TO_SPACE = 5, DEQUANTIZE = 6, EMBEDDING_LOOKUP = 7, FLOOR = 8, FULLY_CONNECTED = 9,
    HASHTABLE_LOOKUP = 10, L2_NORMALIZATION = 11, L2_POOL_2D = 12,
    LOCAL_RESPONSE_NORMALIZATION = 13, LOGISTIC = 14, LSH_PROJECTION = 15, LSTM = 16,
    MAX_POOL_2D = 17, MUL = 18, RELU = 19, RELU_N1_TO_1 = 20, RELU6 = 21, RESHAPE = 22,
    RESIZE_BILINEAR = 23, RNN = 24, SOFTMAX = 25, SPACE_TO_DEPTH = 26, SVDF = 27, TANH = 28,
    CONCAT_EMBEDDINGS = 29, SKIP_GRAM = 30, CALL = 31, CUSTOM = 32,
    EMBEDDING_LOOKUP_SPARSE = 33, PAD = 34, UNIDIRECTIONAL_SEQUENCE_RNN = 35, GATHER = 36,
    BATCH_TO_SPACE_ND = 37, SPACE_TO_BATCH_ND = 38, TRANSPOSE = 39, MEAN = 40, SUB = 41,
    DIV = 42, SQUEEZE = 43, UNIDIRECTIONAL_SEQUENCE_LSTM = 44, STRIDED_SLICE = 45,
    BIDIRECTIONAL_SEQUENCE_RNN = 46, EXP = 47, TOPK_V2 = 48, SPLIT = 49, LOG_SOFTMAX = 50,
    DELEGATE = 51, BIDIRECTIONAL_SEQUENCE_LSTM = 52, CAST = 53, PRELU = 54, MAXIMUM = 55,
    ARG_MAX = 56, MINIMUM = 57, LESS = 58, NEG = 59, PADV2 = 60, GREATER = 61,
    GREATER_EQUAL = 62, LESS_EQUAL = 63, SELECT = 64, SLICE = 65, SIN = 66, TRANSPOSE_CONV = 67,
    SPARSE_TO_DENSE = 68, TILE = 69, EXPAND_DIMS = 70, EQUAL = 71, NOT_EQUAL = 72, LOG = 73,
    SUM = 74, SQRT = 75, RSQRT = 76, SHAPE = 77, POW = 78, ARG_MIN = 79, FAKE_QUANT = 80,
    REDUCE_PROD = 81, REDUCE_MAX = 82, PACK = 83, LOGICAL_OR = 84, ONE_HOT = 85,
    LOGICAL_AND = 86, LOGICAL_NOT = 87, UNPACK = 88, REDUCE_MIN = 89, FLOOR_DIV = 90,
    REDUCE_ANY = 91, SQUARE = 92, ZEROS_LIKE = 93, FILL = 94, FLOOR_MOD = 95, RANGE = 96,
    RESIZE_NEAREST_NEIGHBOR = 97, LEAKY_RELU = 98, SQUARED_DIFFERENCE = 99, MIRROR_PAD = 100,
    ABS = 101, SPLIT_V = 102, UNIQUE = 103, CEIL = 104, REVERSE_V2 = 105, ADD_N = 106,
    GATHER_ND = 107, COS = 108, WHERE = 109, RANK = 110, ELU = 111, REVERSE_SEQUENCE = 112,
    MATRIX_DIAG = 113, QUANTIZE = 114, MATRIX_SET_DIAG = 115, ROUND = 116, HARD_SWISH = 117,
    IF = 118, WHILE = 119, NON_MAX_SUPPRESSION_V4 = 120, NON_MAX_SUPPRESSION_V5 = 121,
    SCATTER_ND = 122, SELECT_V2 = 123, DENSIFY = 124, SEGMENT_SUM = 125, BATCH_MATMUL = 126,
    CUMSUM = 128, CALL_ONCE = 129, BROADCAST_TO = 130, RFFT2D = 131, CONV_3D = 132, IMAG = 133,
    REAL = 134, COMPLEX_ABS = 135, HASHTABLE = 136, HASHTABLE_FIND = 137,
    HASHTABLE_IMPORT = 138, HASHTABLE_SIZE = 139, REDUCE_ALL = 140, CONV_3D_TRANSPOSE = 141,
    VAR_HANDLE = 142, READ_VARIABLE = 143, ASSIGN_VARIABLE = 144, BROADCAST_ARGS = 145,
    RANDOM_STANDARD_NORMAL = 146, BUCKETIZE = 147, RANDOM_UNIFORM = 148, MULTINOMIAL = 149,
    GELU = 150, DYNAMIC_UPDATE_SLICE = 151, RELU_0_TO_1 = 152, UNSORTED_SEGMENT_PROD = 153,
    UNSORTED_SEGMENT_MAX = 154, UNSORTED_SEGMENT_SUM = 155, ATAN2 = 156,
    UNSORTED_SEGMENT_MIN = 157, SIGN = 158, BITCAST = 159, BITWISE_XOR = 160, RIGHT_SHIFT = 161,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_agree_with_schema_fbs() {
        // Spot checks against tensorflow/lite/schema/schema.fbs, where an
        // earlier table of this file went wrong by one after LOGICAL_NOT.
        assert_eq!(BuiltinCode::LOGICAL_NOT.0, 87);
        assert_eq!(BuiltinCode::REDUCE_MIN.0, 89);
        assert_eq!(BuiltinCode::QUANTIZE.0, 114);
        assert_eq!(BuiltinCode::BATCH_MATMUL.0, 126);
        assert_eq!(BuiltinCode::CUMSUM.0, 128);
        assert_eq!(BuiltinCode(114).name(), Some("QUANTIZE"));
        assert_eq!(BuiltinCode(127).name(), None);
    }
}

impl fmt::Display for BuiltinCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(name) => f.write_str(name),
            None => write!(f, "BUILTIN_{}", self.0),
        }
    }
}

/// What an operator is: a builtin or a custom operator by name.
#[derive(Clone, PartialEq, Eq, Hash, Debug, Serialize)]
pub enum OperatorCode {
    Builtin(BuiltinCode),
    Custom(String),
}

impl OperatorCode {
    pub fn builtin(&self) -> Option<BuiltinCode> {
        match self {
            OperatorCode::Builtin(code) => Some(*code),
            OperatorCode::Custom(_) => None,
        }
    }
}

impl fmt::Display for OperatorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OperatorCode::Builtin(code) => code.fmt(f),
            OperatorCode::Custom(name) => write!(f, "CUSTOM({name})"),
        }
    }
}

/// Element type of a tensor (`TensorType` in `schema.fbs`).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize)]
pub enum TensorType {
    Float32,
    Float16,
    Int32,
    UInt8,
    Int64,
    String,
    Bool,
    Int16,
    Complex64,
    Int8,
    Float64,
    Complex128,
    UInt64,
    Resource,
    Variant,
    UInt32,
    UInt16,
    Int4,
    /// A code this reader does not know.
    Unknown(i8),
}

impl TensorType {
    pub fn from_code(code: i8) -> TensorType {
        use TensorType::*;
        match code {
            0 => Float32,
            1 => Float16,
            2 => Int32,
            3 => UInt8,
            4 => Int64,
            5 => String,
            6 => Bool,
            7 => Int16,
            8 => Complex64,
            9 => Int8,
            10 => Float64,
            11 => Complex128,
            12 => UInt64,
            13 => Resource,
            14 => Variant,
            15 => UInt32,
            16 => UInt16,
            17 => Int4,
            other => Unknown(other),
        }
    }

    /// Bytes per element as TFLM's `TfLiteTypeSizeOf` counts them; `None` for
    /// types whose size is not a fixed number of bytes (strings, resources,
    /// packed int4) or that dmo does not know.
    pub fn element_bytes(self) -> Option<u64> {
        use TensorType::*;
        match self {
            Bool | UInt8 | Int8 => Some(1),
            Float16 | Int16 | UInt16 => Some(2),
            Float32 | Int32 | UInt32 => Some(4),
            Int64 | UInt64 | Float64 | Complex64 => Some(8),
            Complex128 => Some(16),
            String | Resource | Variant | Int4 | Unknown(_) => None,
        }
    }

    pub fn name(self) -> std::string::String {
        match self {
            TensorType::Unknown(code) => format!("TYPE_{code}"),
            other => format!("{other:?}").to_uppercase(),
        }
    }
}

/// Padding of convolutions and pools.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize)]
pub enum Padding {
    Same,
    Valid,
}

/// Activation fused into an operator (`ActivationFunctionType`).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize)]
pub enum FusedActivation {
    None,
    Relu,
    ReluN1To1,
    Relu6,
    Tanh,
    SignBit,
    Unknown(i8),
}

impl FusedActivation {
    pub fn from_code(code: i8) -> FusedActivation {
        match code {
            0 => FusedActivation::None,
            1 => FusedActivation::Relu,
            2 => FusedActivation::ReluN1To1,
            3 => FusedActivation::Relu6,
            4 => FusedActivation::Tanh,
            5 => FusedActivation::SignBit,
            other => FusedActivation::Unknown(other),
        }
    }
}

/// The options of an operator that its memory behaviour depends on.
#[derive(Clone, PartialEq, Debug, Serialize)]
pub enum OperatorOptions {
    Conv2D {
        padding: Padding,
        stride_w: i32,
        stride_h: i32,
        dilation_w: i32,
        dilation_h: i32,
        activation: FusedActivation,
    },
    DepthwiseConv2D {
        padding: Padding,
        stride_w: i32,
        stride_h: i32,
        dilation_w: i32,
        dilation_h: i32,
        depth_multiplier: i32,
        activation: FusedActivation,
    },
    Pool2D {
        padding: Padding,
        stride_w: i32,
        stride_h: i32,
        filter_w: i32,
        filter_h: i32,
        activation: FusedActivation,
    },
    FullyConnected {
        activation: FusedActivation,
        keep_num_dims: bool,
    },
    /// ADD, SUB, MUL, ... with only a fused activation.
    Elementwise {
        activation: FusedActivation,
    },
    Concatenation {
        axis: i32,
        activation: FusedActivation,
    },
    Softmax {
        beta: f32,
    },
    /// MEAN, SUM, REDUCE_MAX, ...
    Reducer {
        keep_dims: bool,
    },
    Svdf {
        rank: i32,
        activation: FusedActivation,
    },
    Reshape {
        new_shape: Option<Vec<i32>>,
    },
    /// UNIDIRECTIONAL_SEQUENCE_LSTM: the cell gate's activation, the cell clip (0: none) and
    /// whether the input is [time, batch, input] (else [batch, time, input]).
    UnidirectionalSequenceLstm {
        activation: FusedActivation,
        cell_clip: f32,
        time_major: bool,
    },
    /// STRIDED_SLICE: bit `i` of a mask refers to axis `i`; `offset`: the end tensor counts
    /// from begin.
    StridedSlice {
        begin_mask: i32,
        end_mask: i32,
        ellipsis_mask: i32,
        new_axis_mask: i32,
        shrink_axis_mask: i32,
        offset: bool,
    },
    /// The operator has no options table.
    None,
    /// Options of a type dmo does not read (`builtin_options_type` code).
    NotRead {
        options_type: u8,
    },
}
