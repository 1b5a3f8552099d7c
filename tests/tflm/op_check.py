#!/usr/bin/env python3
"""Proof with the real runtime, per operator kind of issue 14 (MUL, ...): the
firmware `dmo firmware` generates for small generated models computes what
TensorFlow Lite Micro computes, byte for byte, for the model output and for
every operator's output (the firmware's per-op CRC-32 lines against TFLM's
intermediate tensors, kPreserveAllTensors).

The models are written here with the flatbuffers object API of TFLM's schema
(as mean_check.py does): several shapes, quantisations, fused activations
and saturating outputs per kind. Each runs on the two extreme inputs (all
minimum, all maximum) plus random ones.

`dmo compare` must then find trace, simulation and formula agreeing on every layer of the
firmware, and the plans must hold in TFLM (check_tflm.py's check: TFLM's arena head is dmo's
TFLM-greedy head; the DMO plan, written into the model, gives identical outputs and the head
dmo predicts). Controls that the comparison can fail, per case: the inputs must not all give
one output; the firmware's output for input k set against TFLM's for input
k+1 must differ; TFLM running the model with the checked operator's output
scale off by 7% must disagree with the firmware. Cases the firmware does not
support yet must be refused by `dmo firmware` with a message naming the kind.

With `--kernels cmsis-nn` (first after DMO_BINARY) the firmware runs the
C kernels in CMSIS-NN's loop orders (MUL: arm_elementwise_mul_s8's, 4
elements a step); it must say `kernels cmsis-nn`, and a refused case may
instead be refused because another op of its model has no modelled
CMSIS-NN order; a case that dmo refuses for that reason is skipped (and
counted as such), not passed.

Usage: op_check.py DMO_BINARY [--kernels reference|cmsis-nn] [KIND ...]
Ends with a line `N passed, N failed`; exits 1 on any failure.
"""

import os
import subprocess
import sys
import tempfile

import numpy as np
import flatbuffers
from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as schema

import check_tflm as ct
import firmware_check as fc

RANDOM_INPUTS = 4
WRONG_SCALE_FACTOR = 1.07
T = schema.TensorType
OPS = schema.BuiltinOperator
OPTIONS = schema.BuiltinOptions


class Tensor:
    def __init__(self, name, shape, element_type=T.INT8, q=None, data=None):
        self.name, self.shape, self.type, self.q, self.data = name, list(shape), element_type, q, data


class Op:
    def __init__(self, code, inputs, outputs, options_type=0, options=None):
        self.code, self.inputs, self.outputs = code, inputs, outputs
        self.options_type, self.options = options_type, options


class Case:
    """A model: tensors (tensor 0 is the model input, the last the output), operators; `checked`
    is the index of the output tensor whose scale the wrong-scale control changes."""

    def __init__(self, kind, name, tensors, ops, refused=None, wrong_tensor=-1, control=None):
        self.kind, self.name, self.tensors, self.ops, self.refused = kind, name, tensors, ops, refused
        # The control model TFLM runs that must disagree with the firmware (default: the model
        # with a wrong scale); data-movement ops take another (inputs swapped, ...).
        self.control = control
        # The tensor whose scale the wrong-scale control changes (default: the model output).
        self.wrong_tensor = wrong_tensor % len(tensors)

    def build(self, wrong_scale=False):
        codes = sorted({op.code for op in self.ops})
        graph = schema.SubGraphT()
        buffers = [schema.BufferT()]
        graph.tensors = []
        for index, t in enumerate(self.tensors):
            tensor = schema.TensorT()
            tensor.name, tensor.shape, tensor.type = t.name, t.shape, t.type
            buffer = schema.BufferT()
            if t.data is not None:
                buffer.data = list(np.ascontiguousarray(t.data).tobytes())
            buffers.append(buffer)
            tensor.buffer = len(buffers) - 1
            if t.q is not None:
                scale, zero_point = t.q
                if wrong_scale and index == self.wrong_tensor:
                    scale *= WRONG_SCALE_FACTOR
                params = schema.QuantizationParametersT()
                params.scale, params.zeroPoint = [float(scale)], [int(zero_point)]
                tensor.quantization = params
            graph.tensors.append(tensor)
        graph.inputs, graph.outputs = [0], [len(self.tensors) - 1]
        graph.operators = []
        for op in self.ops:
            operator = schema.OperatorT()
            operator.opcodeIndex = codes.index(op.code)
            operator.inputs, operator.outputs = op.inputs, op.outputs
            if op.options is not None:
                operator.builtinOptionsType, operator.builtinOptions = op.options_type, op.options
            graph.operators.append(operator)
        model = schema.ModelT()
        model.version = 3
        model.operatorCodes = []
        for code in codes:
            c = schema.OperatorCodeT()
            c.builtinCode = code
            c.deprecatedBuiltinCode = min(code, 127)
            c.version = 1
            model.operatorCodes.append(c)
        model.subgraphs = [graph]
        model.description = "dmo op_check"
        model.buffers = buffers
        builder = flatbuffers.Builder(1024)
        builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
        return bytes(builder.Output())


def activation_options(options_class, options_type, activation=schema.ActivationFunctionType.NONE):
    options = options_class()
    options.fusedActivationFunction = activation
    return options_type, options


def quantize_op(source, target):
    return Op(OPS.QUANTIZE, [source], [target], OPTIONS.QuantizeOptions, schema.QuantizeOptionsT())


def reduced(name, shape, axes, q_reduced):
    kept = [1 if d in axes else n for d, n in enumerate(shape)]
    reducer = schema.ReducerOptionsT()
    reducer.keepDims = True
    return ([Tensor(f"{name} axes", [len(axes)], T.INT32, data=np.array(axes, dtype="<i4")),
             Tensor(name, kept, q=q_reduced)], reducer)

def binary_broadcast_case(kind, name, shape, second, q_out,
                          activation=schema.ActivationFunctionType.NONE, first=None):
    """MUL or ADD (`kind`) of the model input's operands, with broadcasting. second / first:
    ("mean", axes) of the input or ("constant", shape, values); None: the model input."""
    q_in = (0.05, 3)
    tensors = [Tensor("input", shape, q=q_in)]
    ops = []
    slots = []
    for operand in (first, second):
        if operand is None:
            slots.append(0)
        elif operand[0] == "mean":
            made, reducer = reduced(f"mean{len(tensors)}", shape, operand[1], (0.04, -2))
            tensors += made
            ops.append(Op(OPS.MEAN, [0, len(tensors) - 2], [len(tensors) - 1],
                          OPTIONS.ReducerOptions, reducer))
            slots.append(len(tensors) - 1)
        else:
            tensors.append(Tensor("constant", operand[1], q=(0.02, 5),
                                  data=np.array(operand[2], dtype=np.int8)))
            slots.append(len(tensors) - 1)
    out_shape = list(np.broadcast_shapes(*[tuple(tensors[i].shape) for i in slots]))
    tensors.append(Tensor("output", out_shape, q=q_out))
    options_class, options_code, code = {
        "MUL": (schema.MulOptionsT, OPTIONS.MulOptions, OPS.MUL),
        "ADD": (schema.AddOptionsT, OPTIONS.AddOptions, OPS.ADD),
    }[kind]
    options_type, options = activation_options(options_class, options_code, activation)
    ops.append(Op(code, slots, [len(tensors) - 1], options_type, options))
    return Case(kind, name, tensors, ops)


def add_cases():
    """int8 ADD, same shapes and broadcasting (TFLM's BroadcastAdd6DSlow runs the same
    BroadcastBinaryOpSimple loops as MUL); control: a wrong output scale."""
    A = schema.ActivationFunctionType
    tensors = [Tensor("input", [1, 6, 5, 4], q=(0.05, 3)),
               Tensor("requantised", [1, 6, 5, 4], q=(0.1, -7)),
               Tensor("output", [1, 6, 5, 4], q=(0.15, 1))]
    options_type, options = activation_options(schema.AddOptionsT, OPTIONS.AddOptions)
    same = Case("ADD", "1x6x5x4 + requantised self", tensors,
                [quantize_op(0, 1), Op(OPS.ADD, [0, 1], [2], options_type, options)])
    return [
        same,
        binary_broadcast_case("ADD", "2x3x4 + its 2x3x1 MEAN (one read per row)", [2, 3, 4],
                              ("mean", [2]), (0.06, -4)),
        binary_broadcast_case("ADD", "1x4x4x8 + its 1x1x1x8 MEAN, RELU", [1, 4, 4, 8],
                              ("mean", [1, 2]), (0.08, -20), activation=A.RELU),
        binary_broadcast_case("ADD", "5x6 outer sum of its two MEANs", [5, 6], ("mean", [0]),
                              (0.07, 0), first=("mean", [1])),
    ]


def mul_cases():
    A = schema.ActivationFunctionType
    cases = []

    def mul(name, shape, q_in, q_other, q_out, activation=A.NONE, square=False, shape2=None):
        tensors = [Tensor("input", shape, q=q_in)]
        ops = []
        if square:
            second = 0
        else:
            tensors.append(Tensor("requantised", shape2 or shape, q=q_other))
            ops.append(quantize_op(0, 1) if shape2 is None else None)
            second = 1
        tensors.append(Tensor("output", shape, q=q_out))
        options_type, options = activation_options(schema.MulOptionsT, OPTIONS.MulOptions,
                                                   activation)
        ops.append(Op(OPS.MUL, [0, second], [len(tensors) - 1], options_type, options))
        return [op for op in ops if op is not None], tensors

    for name, args in [
        ("1x6x5x4 x requantised self", dict(shape=[1, 6, 5, 4], q_in=(0.05, 3),
                                            q_other=(0.1, -7), q_out=(0.02, 1))),
        ("2x7x3 squared, multiplier > 1", dict(shape=[2, 7, 3], q_in=(0.5, -10), q_other=None,
                                               q_out=(0.3, -128), square=True)),
        ("37 x requantised, RELU", dict(shape=[37], q_in=(0.03, 0), q_other=(0.07, 12),
                                        q_out=(0.004, -20), activation=A.RELU)),
        ("1x4x4x8 x requantised, RELU6, saturating", dict(shape=[1, 4, 4, 8],
                                                          q_in=(0.2, -5), q_other=(0.15, 30),
                                                          q_out=(0.01, 0), activation=A.RELU6)),
        ("3x5 x requantised, RELU_N1_TO_1", dict(shape=[3, 5], q_in=(0.01, 7),
                                                 q_other=(0.02, -3), q_out=(0.01, -2),
                                                 activation=A.RELU_N1_TO_1)),
    ]:
        ops, tensors = mul(name, **args)
        cases.append(Case("MUL", name, tensors, ops))
    # Broadcasting (TFLM's BroadcastBinaryOpSimple loops): operands made by MEAN (keep_dims)
    # of the input, or constants.
    broadcast_case = lambda *args, **kwargs: binary_broadcast_case("MUL", *args, **kwargs)
    channel_scale = [int(v) for v in np.random.default_rng(8).integers(-128, 128, 8)]
    cases += [
        broadcast_case("2x3x4 x its 1x1x4 MEAN (broadcast)", [2, 3, 4], ("mean", [0, 1]),
                       (0.02, 1)),
        broadcast_case("2x3x4 x its 2x3x1 MEAN (one read per row)", [2, 3, 4], ("mean", [2]),
                       (0.03, -4)),
        broadcast_case("5x6 outer product of its two MEANs", [5, 6], ("mean", [0]), (0.01, 0),
                       first=("mean", [1])),
        broadcast_case("1x4x4x8 x constant per-channel 8, RELU6", [1, 4, 4, 8],
                       ("constant", [8], channel_scale), (0.01, -10), activation=A.RELU6),
        broadcast_case("constant scalar x 37", [37], None, (0.005, 2),
                       first=("constant", [1], [-77])),
        broadcast_case("rank 5: 2x1x3x1x4 x constant 1x2x3x2x1", [2, 1, 3, 1, 4],
                       ("constant", [1, 2, 3, 2, 1], list(range(-30, 30, 5))), (0.02, 0)),
    ]
    return cases


def activation_cases(kind):
    """LOGISTIC / TANH: their int8 kernels ignore the output scale, so the wrong-scale control
    changes the input's."""
    code = OPS.LOGISTIC if kind == "LOGISTIC" else OPS.TANH
    output_q = (1 / 256, -128) if kind == "LOGISTIC" else (1 / 128, 0)
    cases = []
    for name, shape, input_q in [
        ("1x8x8x3, scale 0.05", [1, 8, 8, 3], (0.05, 3)),
        ("257, scale 0.1 (saturates beyond radius)", [257], (0.1, -20)),
        ("2x5x7, small scale 0.004", [2, 5, 7], (0.004, 0)),
        ("4x16, scale 0.9 (radius 15)", [4, 16], (0.9, -128)),
        ("1x1x1x40, scale 0.0231, zero point 127", [1, 1, 1, 40], (0.0231, 127)),
    ]:
        tensors = [Tensor("input", shape, q=input_q), Tensor("output", shape, q=output_q)]
        cases.append(Case(kind, name, tensors, [Op(code, [0], [1])], wrong_tensor=0))
    # A gate as in noise-suppression models: MUL of the input by a requantised copy, then the
    # activation: two ops, both compared per op.
    tensors = [Tensor("input", [3, 20], q=(0.02, -4)), Tensor("copy", [3, 20], q=(0.03, 5)),
               Tensor("product", [3, 20], q=(0.01, 2)), Tensor("output", [3, 20], q=output_q)]
    options_type, options = activation_options(schema.MulOptionsT, OPTIONS.MulOptions)
    ops = [quantize_op(0, 1), Op(OPS.MUL, [0, 1], [2], options_type, options),
           Op(code, [2], [3])]
    cases.append(Case(kind, "3x20 after QUANTIZE and MUL", tensors, ops, wrong_tensor=2))
    if kind == "LOGISTIC":
        tensors = [Tensor("input", [10], q=(0.05, 0)), Tensor("output", [10], q=(1 / 256, 0))]
        cases.append(Case(kind, "output zero point 0", tensors, [Op(code, [0], [1])],
                          refused="needs -128"))
    else:
        tensors = [Tensor("input", [10], q=(0.05, 0)),
                   Tensor("half", [10], T.INT16, q=(1 / 32768, 0)),
                   Tensor("output", [10], T.INT16, q=(1 / 32768, 0))]
        ops = [Op(OPS.QUANTIZE, [0], [1], OPTIONS.QuantizeOptions, schema.QuantizeOptionsT()),
               Op(code, [1], [2])]
        cases.append(Case(kind, "int16", tensors, ops, refused="INT16"))
    return cases


def dequantize_cases():
    """DEQUANTIZE to float32: the output has no quantisation, so the control changes the
    input's scale."""
    cases = []
    for name, shape, input_type, q in [
        ("int8 1x6x6x4, scale 0.05", [1, 6, 6, 4], T.INT8, (0.05, -3)),
        ("int8 300, scale 0.0123, zero point 127", [300], T.INT8, (0.0123, 127)),
        ("int8 2x9, scale 3.7 (large)", [2, 9], T.INT8, (3.7, -128)),
        ("int16 5x11, scale 1/3000", [5, 11], T.INT16, (1 / 3000, 0)),
    ]:
        tensors = [Tensor("input", shape, input_type, q=q), Tensor("output", shape, T.FLOAT32)]
        cases.append(Case("DEQUANTIZE", name, tensors, [Op(OPS.DEQUANTIZE, [0], [1])],
                          wrong_tensor=0))
    # After an int8 op, as models end: LOGISTIC -> DEQUANTIZE, both compared.
    tensors = [Tensor("input", [4, 10], q=(0.08, 1)), Tensor("sigmoid", [4, 10], q=(1 / 256, -128)),
               Tensor("output", [4, 10], T.FLOAT32)]
    cases.append(Case("DEQUANTIZE", "4x10 after LOGISTIC", tensors,
                      [Op(OPS.LOGISTIC, [0], [1]), Op(OPS.DEQUANTIZE, [1], [2])], wrong_tensor=0))
    # Per-channel input quantisation: refused (the kernel dequantizes per tensor).
    tensors = [Tensor("input", [2, 3], q=(0.05, 0)), Tensor("output", [2, 3], T.FLOAT32)]
    case = Case("DEQUANTIZE", "per-channel scales", tensors, [Op(OPS.DEQUANTIZE, [0], [1])],
                refused="scales")
    build = case.build

    def per_channel_build(wrong_scale=False):
        # Rewrite the input's quantisation to three channels along axis 1.
        model = schema.ModelT.InitFromPackedBuf(build(wrong_scale), 0)
        q = model.subgraphs[0].tensors[0].quantization
        q.scale, q.zeroPoint, q.quantizedDimension = [0.05, 0.1, 0.2], [0, 0, 0], 1
        builder = flatbuffers.Builder(1024)
        builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
        return bytes(builder.Output())

    case.build = per_channel_build
    cases.append(case)
    return cases


def concatenation_cases():
    """CONCATENATION copies bytes: its control is TFLM running the model with the inputs in
    another order (or the axis moved), which must disagree."""
    q = (0.05, -3)
    cases = []

    def options(axis, activation=schema.ActivationFunctionType.NONE):
        o = schema.ConcatenationOptionsT()
        o.axis, o.fusedActivationFunction = axis, activation
        return OPTIONS.ConcatenationOptions, o

    def square(source, target):
        options_type, mul_options = activation_options(schema.MulOptionsT, OPTIONS.MulOptions)
        return Op(OPS.MUL, [source, source], [target], options_type, mul_options)

    def concat_case(name, tensors, ops, concat_inputs, concat_output, axis, swapped_axis=None,
                    refused=None, activation=schema.ActivationFunctionType.NONE):
        options_type, concat_options = options(axis, activation)
        body = ops + [Op(OPS.CONCATENATION, concat_inputs, [concat_output], options_type,
                         concat_options)]
        case = Case("CONCATENATION", name, tensors, body, refused=refused)

        def control():
            swapped = list(reversed(concat_inputs)) if swapped_axis is None else concat_inputs
            other_axis = axis if swapped_axis is None else swapped_axis
            options_type2, options2 = options(other_axis)
            other = Case("CONCATENATION", name, tensors,
                         ops + [Op(OPS.CONCATENATION, swapped, [concat_output], options_type2,
                                   options2)])
            return other.build()

        case.control = control
        return case

    # x ++ x^2 on the last axis.
    tensors = [Tensor("input", [1, 4, 5, 3], q=q), Tensor("square", [1, 4, 5, 3], q=q),
               Tensor("output", [1, 4, 5, 6], q=q)]
    cases.append(concat_case("1x4x5x3 ++ square on axis -1", tensors, [square(0, 1)], [0, 1], 2,
                             -1))
    # Three inputs of different sizes on axis 1: x, its mean over axis 1, x^2.
    axes = Tensor("axes", [1], T.INT32, data=np.array([1], dtype="<i4"))
    reducer = schema.ReducerOptionsT()
    reducer.keepDims = True
    tensors = [Tensor("input", [2, 4, 5, 3], q=q), axes, Tensor("mean", [2, 1, 5, 3], q=q),
               Tensor("square", [2, 4, 5, 3], q=q), Tensor("output", [2, 9, 5, 3], q=q)]
    ops = [Op(OPS.MEAN, [0, 1], [2], OPTIONS.ReducerOptions, reducer), square(0, 3)]
    cases.append(concat_case("2x4x5x3 ++ 2x1x5x3 ++ 2x4x5x3 on axis 1", tensors, ops, [0, 2, 3],
                             4, 1))
    # A constant input (flash) after the activation, axis 0 (one outer index).
    constant = Tensor("constant", [3, 7], q=q,
                      data=np.arange(-10, 11, dtype=np.int8).reshape(3, 7))
    tensors = [Tensor("input", [2, 7], q=q), constant, Tensor("output", [5, 7], q=q)]
    cases.append(concat_case("2x7 ++ constant 3x7 on axis 0", tensors, [], [0, 1], 2, 0))
    # float32 after DEQUANTIZE: 4-byte elements, odd inner size.
    tensors = [Tensor("input", [3, 5], q=q), Tensor("float", [3, 5], T.FLOAT32),
               Tensor("output", [3, 10], T.FLOAT32)]
    cases.append(concat_case("float32 3x5 ++ 3x5 on axis 1", tensors,
                             [Op(OPS.DEQUANTIZE, [0], [1])], [1, 1], 2, 1, swapped_axis=0))
    # int16 model input, same tensor twice along axis 0.
    tensors = [Tensor("input", [2, 3, 4], T.INT16, q=(0.001, 0)),
               Tensor("output", [4, 3, 4], T.INT16, q=(0.001, 0))]
    case = concat_case("int16 2x3x4 ++ itself on axis 0", tensors, [], [0, 0], 1, 0)
    # Reversing identical inputs changes nothing: the control concatenates along axis 1 instead
    # (a model TFLM rejects is no control), so rebuild it with that output shape.
    def int16_control(tensors=tensors):
        other = Case("CONCATENATION", "int16 control",
                     [tensors[0], Tensor("output", [2, 6, 4], T.INT16, q=(0.001, 0))],
                     [Op(OPS.CONCATENATION, [0, 0], [1], *options(1))])
        return other.build()

    case.control = int16_control
    cases.append(case)
    # Fused activation: TFLM allows none; refused by name.
    tensors = [Tensor("input", [2, 3], q=q), Tensor("output", [4, 3], q=q)]
    cases.append(concat_case("fused RELU", tensors, [], [0, 0], 1, 0,
                             refused="fused activation",
                             activation=schema.ActivationFunctionType.RELU))
    return cases


def transpose_cases():
    """TRANSPOSE moves elements: its control is TFLM running another permutation."""
    q = (0.05, -3)
    cases = []

    def perm_tensor(perm):
        return Tensor("perm", [len(perm)], T.INT32, data=np.array(perm, dtype="<i4"))

    def transpose_case(name, shape, perm, element=T.INT8, prefix=None, refused=None):
        """prefix: (tensor, op) producing the transposed tensor from the model input."""
        permuted = [shape[a] for a in perm]
        transposed_q = None if element == T.FLOAT32 else (q if element == T.INT8 else (0.001, 0))

        def model(p):
            out_shape = [shape[a] for a in p]
            tensors = [Tensor("input", shape, q=q)]
            ops = []
            if prefix is not None:
                tensors.append(prefix[0])
                ops.append(prefix[1])
            source = len(tensors) - 1
            tensors.append(perm_tensor(p))
            tensors.append(Tensor("output", out_shape, element, q=transposed_q))
            ops.append(Op(OPS.TRANSPOSE, [source, source + 1], [source + 2],
                          OPTIONS.TransposeOptions, schema.TransposeOptionsT()))
            return tensors, ops

        tensors, ops = model(perm)
        case = Case("TRANSPOSE", name, tensors, ops, refused=refused)
        other = list(reversed(perm)) if list(reversed(perm)) != perm else perm[1:] + perm[:1]
        if other == perm:
            other = perm  # rank 1: no other permutation; the output control below suffices
        case.control = lambda: Case("TRANSPOSE", name, *model(other)).build()
        del permuted
        return case

    cases.append(transpose_case("1x4x5x3 NHWC -> NCHW [0,3,1,2]", [1, 4, 5, 3], [0, 3, 1, 2]))
    cases.append(transpose_case("2x3x4 [2,0,1]", [2, 3, 4], [2, 0, 1]))
    cases.append(transpose_case("2x1x3x2x2 [4,2,0,3,1]", [2, 1, 3, 2, 2], [4, 2, 0, 3, 1]))
    # TFLM's TransposePrepare takes at most 5 dimensions: refused as TFLM refuses it.
    cases.append(transpose_case("2x2x1x3x2x2 rank 6", [2, 2, 1, 3, 2, 2], [5, 0, 4, 1, 3, 2],
                                refused="outside TFLM's 1 to 5"))
    cases.append(transpose_case(
        "float32 3x5 [1,0] after DEQUANTIZE", [3, 5], [1, 0], T.FLOAT32,
        prefix=(Tensor("float", [3, 5], T.FLOAT32), Op(OPS.DEQUANTIZE, [0], [1]))))
    cases.append(transpose_case(
        "int16 4x6 [1,0] after QUANTIZE", [4, 6], [1, 0], T.INT16,
        prefix=(Tensor("wide", [4, 6], T.INT16, q=(0.001, 0)),
                Op(OPS.QUANTIZE, [0], [1], OPTIONS.QuantizeOptions, schema.QuantizeOptionsT()))))
    cases.append(transpose_case(
        "int32 4x6 (TFLM's micro kernel has none)", [4, 6], [1, 0], T.INT32,
        prefix=(Tensor("wide", [4, 6], T.INT32, q=(0.001, 0)),
                Op(OPS.QUANTIZE, [0], [1], OPTIONS.QuantizeOptions, schema.QuantizeOptionsT())),
        refused="INT32"))
    return cases


def pool_pad_cases():
    """MAX_POOL_2D and PAD through real models (issue 14: the generator had their kernels, no
    shared model used them). Max pooling moves values without rescaling, so the control is TFLM
    running another geometry (other paddings, another window), not a wrong scale."""
    q = (0.05, 3)

    def pool_options(padding, stride, size):
        options = schema.Pool2DOptionsT()
        options.padding = padding
        options.strideW = options.strideH = stride
        options.filterWidth = options.filterHeight = size
        return OPTIONS.Pool2DOptions, options

    def pad_then_pool(pads, size, stride):
        shape = [1, 8, 8, 4]
        padded = [1, 8 + pads[1][0] + pads[1][1], 8 + pads[2][0] + pads[2][1], 4]
        out_h = (padded[1] - size) // stride + 1
        out_w = (padded[2] - size) // stride + 1
        tensors = [Tensor("input", shape, q=q),
                   Tensor("paddings", [4, 2], T.INT32, data=np.array(pads, dtype="<i4")),
                   Tensor("padded", padded, q=q),
                   Tensor("output", [1, out_h, out_w, 4], q=q)]
        options_type, options = pool_options(schema.Padding.VALID, stride, size)
        ops = [Op(OPS.PAD, [0, 1], [2], OPTIONS.PadOptions, schema.PadOptionsT()),
               Op(OPS.MAX_POOL_2D, [2], [3], options_type, options)]
        return tensors, ops

    def same_pool(size):
        tensors = [Tensor("input", [1, 6, 5, 3], q=q), Tensor("output", [1, 6, 5, 3], q=q)]
        options_type, options = pool_options(schema.Padding.SAME, 1, size)
        return tensors, [Op(OPS.MAX_POOL_2D, [0], [1], options_type, options)]

    def pad_alone(pads):
        padded = [1, 5 + pads[1][0] + pads[1][1], 5 + pads[2][0] + pads[2][1], 2]
        tensors = [Tensor("input", [1, 5, 5, 2], q=(0.1, -20)),
                   Tensor("paddings", [4, 2], T.INT32, data=np.array(pads, dtype="<i4")),
                   Tensor("output", padded, q=(0.1, -20))]
        return tensors, [Op(OPS.PAD, [0, 1], [2], OPTIONS.PadOptions, schema.PadOptionsT())]

    def case(kind, name, made, control):
        tensors, ops = made
        control_tensors, control_ops = control
        return Case(kind, name, tensors, ops,
                    control=lambda: Case(kind, name, control_tensors, control_ops).build())

    same = [[0, 0], [1, 1], [1, 1], [0, 0]]
    skewed = [[0, 0], [2, 0], [0, 2], [0, 0]]
    return [
        case("MAX_POOL_2D", "PAD 1 then 3x3 stride 2 VALID", pad_then_pool(same, 3, 2),
             pad_then_pool(skewed, 3, 2)),
        case("MAX_POOL_2D", "3x3 stride 1 SAME (window clipped at the edges)", same_pool(3),
             same_pool(2)),
        case("PAD", "2/1 rows, 0/3 columns, zero point -20", pad_alone([[0, 0], [2, 1], [0, 3],
                                                                         [0, 0]]),
             pad_alone([[0, 0], [1, 2], [3, 0], [0, 0]])),
    ]


def depthwise_cases():
    """DEPTHWISE_CONV_2D (multiplier 1, per-tensor weights) on the windows whose CMSIS-NN paths
    differ: 5x5 and 2x2 and 1x1 windows (arm_depthwise_conv_s8_opt), 3x3 with padding <= 1
    (arm_depthwise_conv_3x3_s8); channel counts with and without a group of 4."""
    P = schema.Padding
    rng = np.random.default_rng(77)
    cases = []
    for name, shape, size, stride, padding in [
        ("1x8x9x6 5x5 SAME", [1, 8, 9, 6], 5, 1, P.SAME),
        ("1x7x6x4 2x2 stride 2 SAME", [1, 7, 6, 4], 2, 2, P.SAME),
        ("1x6x6x3 1x1", [1, 6, 6, 3], 1, 1, P.VALID),
        ("1x9x8x5 3x3 SAME", [1, 9, 8, 5], 3, 1, P.SAME),
    ]:
        _, height, width, channels = shape
        if padding == P.SAME:
            out_h, out_w = -(-height // stride), -(-width // stride)
        else:
            out_h, out_w = (height - size) // stride + 1, (width - size) // stride + 1
        weights = rng.integers(-127, 127, size=(1, size, size, channels), endpoint=True,
                               dtype=np.int8)
        bias = rng.integers(-3000, 3000, size=(channels,), endpoint=True).astype("<i4")
        tensors = [Tensor("input", shape, q=(0.05, 3)),
                   Tensor("filter", [1, size, size, channels], q=(0.02, 0), data=weights),
                   Tensor("bias", [channels], T.INT32, q=(0.05 * 0.02, 0), data=bias),
                   Tensor("output", [1, out_h, out_w, channels], q=(0.1, -5))]
        options = schema.DepthwiseConv2DOptionsT()
        options.padding, options.strideW, options.strideH = padding, stride, stride
        options.depthMultiplier, options.dilationWFactor, options.dilationHFactor = 1, 1, 1
        ops = [Op(OPS.DEPTHWISE_CONV_2D, [0, 1, 2], [3], OPTIONS.DepthwiseConv2DOptions, options)]
        cases.append(Case("DEPTHWISE_CONV_2D", name, tensors, ops))
    return cases


def fully_connected_cases():
    """FULLY_CONNECTED (per-tensor int8 weights) on both of TFLM's CMSIS-NN paths: an output of
    rank > 2 with a depth that is a multiple of 4 runs arm_convolve_1x1_s8_fast (per-channel
    quantisation written into a scratch buffer), any other arm_fully_connected_s8."""
    rng = np.random.default_rng(78)
    cases = []
    for name, input_shape, rows, keep in [
        ("1x4x12 -> 1x4x8 (1x1 conv path)", [1, 4, 12], 8, True),
        ("3x5x16 -> 3x5x7 (1x1 conv path, odd rows)", [3, 5, 16], 7, True),
        ("2x13 -> 2x7 (vec_mat_mult)", [2, 13], 7, False),
        ("1x4x10 -> 1x4x6 (depth 10: vec_mat_mult)", [1, 4, 10], 6, True),
    ]:
        depth = input_shape[-1]
        weights = rng.integers(-127, 127, size=(rows, depth), endpoint=True, dtype=np.int8)
        bias = rng.integers(-3000, 3000, size=(rows,), endpoint=True).astype("<i4")
        tensors = [Tensor("input", input_shape, q=(0.05, 3)),
                   Tensor("filter", [rows, depth], q=(0.02, 0), data=weights),
                   Tensor("bias", [rows], T.INT32, q=(0.05 * 0.02, 0), data=bias),
                   Tensor("output", input_shape[:-1] + [rows], q=(0.08, -5))]
        options = schema.FullyConnectedOptionsT()
        options.keepNumDims = keep
        ops = [Op(OPS.FULLY_CONNECTED, [0, 1, 2], [3], OPTIONS.FullyConnectedOptions, options)]
        cases.append(Case("FULLY_CONNECTED", name, tensors, ops))
    return cases


def strided_slice_cases():
    """STRIDED_SLICE moves elements: its control is TFLM running another slice of the same output
    shape. Slices are numpy's x[begin:end:stride] per axis, with TFLite's masks (bit d: axis d)."""
    q = (0.05, -3)

    def slice_model(shape, begin, end, strides, masks=(0, 0, 0), element=T.INT8, prefix=None,
                    index_type=T.INT32, ignored=None):
        """masks: begin, end, shrink-axis; ignored: options TFLM's micro kernel ignores
        (ellipsis_mask, new_axis_mask, offset). prefix: (tensor, op) making the sliced tensor."""
        n = len(shape)
        axes = []
        for d in range(n):
            size, stride = shape[d], strides[d]
            start = begin[d] + size if begin[d] < 0 else begin[d]
            start = min(max(start, 0), size) if stride > 0 else min(max(start, -1), size - 1)
            if masks[0] >> d & 1:
                start = 0 if stride > 0 else size - 1
            stop = end[d] + size if end[d] < 0 else end[d]
            stop = min(max(stop, 0), size) if stride > 0 else min(max(stop, -1), size - 1)
            if masks[1] >> d & 1:
                stop = size if stride > 0 else -1
            if masks[2] >> d & 1:
                continue
            span = stop - start if stride > 0 else start - stop
            axes.append(max(0, -(-span // abs(stride))))
        sliced_q = None if element == T.FLOAT32 else (q if element == T.INT8 else (0.001, 0))
        tensors = [Tensor("input", shape, q=q)]
        ops = []
        if prefix is not None:
            tensors.append(prefix[0])
            ops.append(prefix[1])
        source = len(tensors) - 1
        numpy_type = "<i4" if index_type == T.INT32 else "<i8"
        for name, values in (("begin", begin), ("end", end), ("strides", strides)):
            tensors.append(Tensor(name, [n], index_type, data=np.array(values, dtype=numpy_type)))
        tensors.append(Tensor("output", axes, element, q=sliced_q))
        options = schema.StridedSliceOptionsT()
        options.beginMask, options.endMask, options.shrinkAxisMask = masks
        if ignored is not None:
            options.ellipsisMask, options.newAxisMask, options.offset = ignored
        ops.append(Op(OPS.STRIDED_SLICE, [source, source + 1, source + 2, source + 3],
                      [source + 4], OPTIONS.StridedSliceOptions, options))
        return tensors, ops

    def case(name, slice_args, control_args=None, refused=None, **common):
        tensors, ops = slice_model(**slice_args, **common)
        made = Case("STRIDED_SLICE", name, tensors, ops, refused=refused)
        if control_args is not None:
            control = slice_model(**control_args, **common)
            assert control[0][-1].shape == tensors[-1].shape, name
            made.control = lambda: Case("STRIDED_SLICE", name, *control).build()
        return made

    def args(shape, begin, end, strides, masks=(0, 0, 0), **extra):
        return dict(shape=shape, begin=begin, end=end, strides=strides, masks=masks, **extra)

    wide = (Tensor("wide", [4, 6], T.INT16, q=(0.001, 0)),
            Op(OPS.QUANTIZE, [0], [1], OPTIONS.QuantizeOptions, schema.QuantizeOptionsT()))
    words = (Tensor("words", [2, 3, 4], T.INT32, q=(0.001, 0)),
             Op(OPS.QUANTIZE, [0], [1], OPTIONS.QuantizeOptions, schema.QuantizeOptionsT()))
    floats = (Tensor("float", [3, 5], T.FLOAT32), Op(OPS.DEQUANTIZE, [0], [1]))
    return [
        case("3x4x6 x[::-1, 1:4, ::2] (the fixture's)", args([3, 4, 6], [0, 1, 0], [0, 4, 0],
                                                              [-1, 1, 2], (5, 5, 0)),
             args([3, 4, 6], [0, 0, 1], [0, 3, 0], [1, 1, 2], (5, 5, 0))),
        case("1x8x8x4 channels 1:3 (memcpy rows)", args([1, 8, 8, 4], [0, 0, 0, 1], [1, 8, 8, 3],
                                                        [1, 1, 1, 1]),
             args([1, 8, 8, 4], [0, 0, 0, 2], [1, 8, 8, 4], [1, 1, 1, 1])),
        case("2x5x7 x[:, -1::-2, 1:6]", args([2, 5, 7], [0, -1, 1], [2, 0, 6], [1, -2, 1],
                                             (0, 2, 0)),
             args([2, 5, 7], [0, 0, 1], [2, 5, 6], [1, 2, 1])),
        case("4x6 x[2, ::-1] (shrink axis 0)", args([4, 6], [2, 0], [3, 0], [1, -1], (2, 2, 1)),
             args([4, 6], [1, 0], [2, 0], [1, -1], (2, 2, 1))),
        case("10 x[-2:-9:-3] (negative indices, no masks)", args([10], [-2], [-9], [-3]),
             args([10], [-1], [-9], [-3])),
        case("int16 4x6 x[1:4:2, -1:-6:-2] after QUANTIZE",
             args([4, 6], [1, -1], [4, -6], [2, -2], element=T.INT16, prefix=wide),
             args([4, 6], [0, -1], [4, -6], [2, -2], element=T.INT16, prefix=wide)),
        case("int32 2x3x4 x[:, -2:, 1:3] after QUANTIZE",
             args([2, 3, 4], [0, -2, 1], [0, 3, 3], [1, 1, 1], (1, 1, 0), element=T.INT32,
                  prefix=words),
             args([2, 3, 4], [0, 0, 1], [0, 2, 3], [1, 1, 1], (1, 1, 0), element=T.INT32,
                  prefix=words)),
        case("float32 3x5 x[:, ::3] after DEQUANTIZE",
             args([3, 5], [0, 0], [0, 0], [1, 3], (3, 3, 0), element=T.FLOAT32, prefix=floats),
             args([3, 5], [0, 1], [0, 0], [1, 3], (1, 3, 0), element=T.FLOAT32, prefix=floats)),
        # TFLM's micro Prepare sets the ellipsis and new-axis masks to 0 and never sets offset:
        # with offset, end 5 would mean 2 + 5; TFLM (and dmo) slice [2:5].
        case("12 x[2:5], offset and ellipsis/new-axis masks set (TFLM ignores them)",
             args([12], [2], [5], [1], ignored=(1, 1, True)),
             args([12], [3], [6], [1])),
        case("rank 5 (TFLM: input dim should not exceed 4)",
             args([1, 2, 1, 3, 2], [0] * 5, [1, 2, 1, 3, 2], [1] * 5),
             refused="at most 4"),
        case("shrunk axis with stride -1 (TFLM's Eval would write nothing)",
             args([4, 6], [2, 0], [3, 6], [-1, 1], (0, 0, 1)), refused="selects no element"),
        case("int64 begin/end/strides (TFLM reads int32)",
             args([4, 6], [0, 0], [2, 6], [1, 1], index_type=T.INT64), refused="as int32"),
    ]


KINDS = {
    "DEPTHWISE_CONV_2D": depthwise_cases,
    "FULLY_CONNECTED": fully_connected_cases,
    "MUL": mul_cases,
    "ADD": add_cases,
    "LOGISTIC": lambda: activation_cases("LOGISTIC"),
    "TANH": lambda: activation_cases("TANH"),
    "DEQUANTIZE": dequantize_cases,
    "CONCATENATION": concatenation_cases,
    "TRANSPOSE": transpose_cases,
    "STRIDED_SLICE": strided_slice_cases,
    "MAX_POOL_2D_PAD": pool_pad_cases,
}


def build_firmware(dmo, model_bytes, workdir, stem, kernels="reference"):
    path = os.path.join(workdir, f"{stem}.tflite")
    with open(path, "wb") as f:
        f.write(model_bytes)
    elf = os.path.join(workdir, f"{stem}.elf")
    built = subprocess.run([dmo, "firmware", path, "-o", elf, "--kernels", kernels],
                           capture_output=True, text=True)
    return elf, built


def run_tflm(model_bytes, inputs):
    """Per input: (output bytes, {(op, position): (bytes, crc32)})."""
    interpreter = fc.preserving_interpreter(model_bytes)
    operators, _ = fc.model_operators(model_bytes)
    results = []
    for data in inputs:
        interpreter.reset()
        interpreter.set_input(data, 0)
        interpreter.invoke()
        output = np.array(interpreter.get_output(0))
        results.append((output.tobytes(), fc.tflm_checksums(interpreter, operators)))
    return results


def check_case(dmo, number, case, workdir, kernels="reference"):
    model_bytes = case.build()
    elf, built = build_firmware(dmo, model_bytes, workdir, f"case{number}", kernels)
    if case.refused is not None:
        message = built.stderr.strip().splitlines()[-1] if built.stderr.strip() else ""
        if built.returncode == 0:
            return False, "dmo firmware accepted it"
        unmodelled = kernels != "reference" and "CMSIS-NN loop order is not modelled" in message
        if not unmodelled and (case.kind not in message or case.refused not in message):
            return False, f"unclear error: {message!r}"
        return True, f"refused: {message}"
    if built.returncode != 0:
        message = built.stderr.strip()
        if kernels != "reference" and "CMSIS-NN loop order is not modelled" in message:
            # Another op of the model (a MEAN feeding a broadcast, ...) has no modelled order
            # in this family: the case cannot run here, and says why.
            return None, f"skipped: {message.splitlines()[-1]}"
        return False, f"dmo firmware: {message[-500:]}"
    shape = case.tensors[0].shape
    input_type = {T.INT8: np.int8, T.INT16: np.int16}[case.tensors[0].type]
    limits = np.iinfo(input_type)
    rng = np.random.default_rng(2000 + number)
    inputs = [np.full(shape, limits.min, input_type), np.full(shape, limits.max, input_type)]
    inputs += [rng.integers(limits.min, limits.max, size=shape, endpoint=True, dtype=input_type)
               for _ in range(RANDOM_INPUTS)]
    expected = run_tflm(model_bytes, inputs)
    actual = []
    for data in inputs:
        outputs, text = fc.run_firmware(dmo, elf, data.tobytes(), workdir, with_text=True)
        if fc.firmware_kernels(text) != kernels:
            return False, f"the firmware says `kernels {fc.firmware_kernels(text)}`"
        actual.append((outputs[0], fc.firmware_checksums(text)))
    problems = []
    for step, ((a_out, a_ops), (e_out, e_ops)) in enumerate(zip(actual, expected)):
        if a_out != e_out:
            first = next((i for i in range(min(len(a_out), len(e_out))) if a_out[i] != e_out[i]),
                         None)
            problems.append(f"input {step}: output differs (lengths {len(a_out)}/{len(e_out)}, "
                            f"first byte {first})")
        wrong = sorted(op for op, value in e_ops.items() if a_ops.get(op) != value)
        if wrong or len(a_ops) != len(e_ops):
            problems.append(f"input {step}: op outputs {wrong} differ from TFLM's")
    outputs = [a for a, _ in actual]
    if len(set(outputs)) == 1:
        problems.append("every input gave the same output: the comparison cannot fail")
    if all(outputs[k] == expected[k + 1][0] for k in range(len(outputs) - 1)):
        problems.append("control: outputs matched TFLM's for a different input")
    if case.control is not None:
        control_model, control_name = case.control(), "the control model"
    else:
        control_model, control_name = case.build(wrong_scale=True), "a wrong scale"
    wrong = run_tflm(control_model, inputs)
    if [w for w, _ in wrong] == outputs:
        problems.append(f"control: TFLM with {control_name} agreed with the firmware")
    # The three methods on the firmware's own trace: `dmo compare` exits 0 when trace,
    # simulation (of the firmware's kernel family) and formula agree on every layer.
    model_path = os.path.join(workdir, f"case{number}.tflite")
    compared = subprocess.run([dmo, "compare", elf, model_path, "--kernels", kernels],
                              capture_output=True, text=True)
    agreed = compared.stdout.strip().splitlines()[-1] if compared.stdout.strip() else ""
    if compared.returncode != 0 or not agreed.endswith(" 0 disagree"):
        problems.append(f"dmo compare: {agreed or compared.stderr.strip()[-300:]}")
    # The plans: TFLM's own arena head is dmo's TFLM-greedy head, and the DMO plan written into
    # the model runs in TFLM with identical outputs and the head dmo predicts.
    _, _, tflm_head, dmo_head, plan_problems = ct.check_model(dmo, model_path, workdir)
    problems += [f"plan: {problem}" for problem in plan_problems]
    if problems:
        return False, "; ".join(problems)
    return True, (f"{len(outputs[0])} output bytes and {len(expected[0][1])} op CRCs identical "
                  f"to TFLM's on {len(inputs)} inputs; controls differ; compare: {agreed}; "
                  f"heads TFLM {tflm_head} B, DMO {dmo_head} B as TFLM reports them")


def main():
    if len(sys.argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    dmo, arguments = sys.argv[1], sys.argv[2:]
    kernels = "reference"
    if arguments[:1] == ["--kernels"] and len(arguments) >= 2:
        kernels, arguments = arguments[1], arguments[2:]
    if kernels not in ("reference", "cmsis-nn"):
        print(__doc__, file=sys.stderr)
        return 2
    kinds = arguments or list(KINDS)
    passed = failed = skipped = 0
    with tempfile.TemporaryDirectory() as workdir:
        number = 0
        for kind in kinds:
            for case in KINDS[kind]():
                try:
                    ok, message = check_case(dmo, number, case, workdir, kernels)
                except Exception as error:  # a crash fails that case, not the run
                    ok, message = False, f"{type(error).__name__}: {error}"
                number += 1
                if ok is None:
                    skipped += 1
                    print(f"skip {case.kind} {case.name}: {message}", flush=True)
                    continue
                passed += ok
                failed += not ok
                print(f"{'ok' if ok else 'fail':<4} {case.kind} {case.name}: {message}",
                      flush=True)
    print(f"{passed} passed, {failed} failed" + (f", {skipped} skipped" if skipped else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
