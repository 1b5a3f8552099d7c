//! The C sources the firmware links, embedded so that `dmo firmware` works from any directory:
//! the fixtures' reference kernels, harness (output printing), startup code and linker script,
//! and the marker functions.

/// (file name, contents) of every C file and header the firmware needs.
pub const SUPPORT_FILES: &[(&str, &str)] = &[
    (
        "kernels.h",
        include_str!("../../../fixtures/kernels/kernels.h"),
    ),
    (
        "quantisation.h",
        include_str!("../../../fixtures/kernels/quantisation.h"),
    ),
    ("conv.c", include_str!("../../../fixtures/kernels/conv.c")),
    (
        "cmsis_order.c",
        include_str!("../../../fixtures/kernels/cmsis_order.c"),
    ),
    (
        "depthwise_conv.c",
        include_str!("../../../fixtures/kernels/depthwise_conv.c"),
    ),
    (
        "fully_connected.c",
        include_str!("../../../fixtures/kernels/fully_connected.c"),
    ),
    (
        "pooling.c",
        include_str!("../../../fixtures/kernels/pooling.c"),
    ),
    ("add.c", include_str!("../../../fixtures/kernels/add.c")),
    ("mul.c", include_str!("../../../fixtures/kernels/mul.c")),
    (
        "broadcast.c",
        include_str!("../../../fixtures/kernels/broadcast.c"),
    ),
    (
        "activation.c",
        include_str!("../../../fixtures/kernels/activation.c"),
    ),
    (
        "concatenation.c",
        include_str!("../../../fixtures/kernels/concatenation.c"),
    ),
    (
        "transpose.c",
        include_str!("../../../fixtures/kernels/transpose.c"),
    ),
    (
        "strided_slice.c",
        include_str!("../../../fixtures/kernels/strided_slice.c"),
    ),
    (
        "dequantize.c",
        include_str!("../../../fixtures/kernels/dequantize.c"),
    ),
    (
        "fixedpoint.h",
        include_str!("../../../fixtures/kernels/fixedpoint.h"),
    ),
    (
        "softmax.c",
        include_str!("../../../fixtures/kernels/softmax.c"),
    ),
    ("pad.c", include_str!("../../../fixtures/kernels/pad.c")),
    ("mean.c", include_str!("../../../fixtures/kernels/mean.c")),
    (
        "quantize.c",
        include_str!("../../../fixtures/kernels/quantize.c"),
    ),
    ("svdf.c", include_str!("../../../fixtures/kernels/svdf.c")),
    ("lstm.h", include_str!("../../../fixtures/kernels/lstm.h")),
    ("lstm.c", include_str!("../../../fixtures/kernels/lstm.c")),
    (
        "sigmoid_table.c",
        include_str!("../../../fixtures/kernels/sigmoid_table.c"),
    ),
    (
        "reshape.c",
        include_str!("../../../fixtures/kernels/reshape.c"),
    ),
    (
        "harness.h",
        include_str!("../../../fixtures/harness/harness.h"),
    ),
    (
        "harness.c",
        include_str!("../../../fixtures/harness/harness.c"),
    ),
    (
        "startup.c",
        include_str!("../../../fixtures/startup/startup.c"),
    ),
    (
        "dmo_markers.h",
        include_str!("../../../include/dmo_markers.h"),
    ),
    (
        "dmo_markers.c",
        include_str!("../../../include/dmo_markers.c"),
    ),
];

/// The fixtures' linker script: FLASH 2 MiB at 0, RAM 512 KiB at 0x20000000.
pub const LINKER_SCRIPT: &str = include_str!("../../../fixtures/cortex-m.ld");
