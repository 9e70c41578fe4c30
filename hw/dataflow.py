"""RTL for FINN's data-movement and shortcut HW layers, bit-exact with FINN's python execution.

Maps ConvolutionInputGenerator, FMPadding, Pool, GlobalAccPool, DuplicateStreams,
ElementwiseAdd, StreamingConcat, LabelSelect and StreamingDataWidthConverter nodes (generic or
specialised _hls/_rtl) onto our SystemVerilog in rtl/. We write our own modules because FINN's
HLS layers need Vitis, its RTL templates need FINN's code generator and byte-padded AXI ports,
and the stream order must be the one FINN's python execution defines (im2col order into Pool
too, whatever the PE), so that each node and the whole stitched graph check bit for bit.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from qonnx.core.datatype import BaseDataType
from qonnx.core.modelwrapper import ModelWrapper
from qonnx.custom_op.registry import getCustomOp

from xnorflow.errors import XnorflowError
from xnorflow.hw.layers import LayerRTL, sources
from xnorflow.hw.streams import operand_kind, pack_words, unpack_words
from xnorflow.hw.verilator import Design, SimResult, Stream, simulate

RAM_STYLES = {"auto": "auto", "block": "block", "ultra": "block", "distributed": "distributed"}


@dataclass(frozen=True)
class Port:
    """One stream of a node in FINN's layout: its port, element type and shapes."""

    stream: Stream
    dtype: BaseDataType
    folded: tuple[int, ...]
    normal: tuple[int, ...]

    @property
    def words(self) -> int:
        """Stream words per frame."""
        return int(np.prod(self.folded[:-1]))


@dataclass
class MultiStreamRTL:
    """A node with several input or output streams (in0_V, in1_V, ... / out0_V, out1_V, ...)."""

    design: Design
    inputs: tuple[Port, ...]
    outputs: tuple[Port, ...]
    mem_files: dict[str, str] = field(default_factory=dict)

    def run(self, *xs: np.ndarray, **sim_kwargs) -> tuple[list[np.ndarray], SimResult]:
        """Simulate on one tensor per input (FINN's normal shapes); returns outputs and stats."""
        ys, res = run_frames(self, [xs], **sim_kwargs)
        return [y[0] for y in ys], res


def ports(rtl: LayerRTL | MultiStreamRTL) -> tuple[tuple[Port, ...], tuple[Port, ...]]:
    """Input and output ports of a single- or multi-stream layer."""
    if isinstance(rtl, MultiStreamRTL):
        return rtl.inputs, rtl.outputs
    in_normal = (*rtl.in_folded[:-2], rtl.in_folded[-2] * rtl.in_folded[-1])
    return ((Port(rtl.design.inputs[0], rtl.in_dtype, rtl.in_folded, in_normal),),
            (Port(rtl.design.outputs[0], rtl.out_dtype, rtl.out_folded, rtl.out_normal),))


def run_frames(rtl: LayerRTL | MultiStreamRTL, frames: list, **sim_kwargs
               ) -> tuple[list[np.ndarray], SimResult]:
    """Simulate frames back to back; frames[f][i] feeds input i. Outputs: (frames, *normal)."""
    ins, outs = ports(rtl)
    words = {p.stream.name: np.concatenate([pack_words(np.asarray(f[i]).reshape(p.folded), p.dtype)
                                            for f in frames])
             for i, p in enumerate(ins)}
    res = simulate(rtl.design, words, {p.stream.name: p.words * len(frames) for p in outs},
                   rtl.mem_files, **sim_kwargs)
    ys = [unpack_words(res.outputs[p.stream.name], p.dtype, (len(frames), *p.folded))
          .reshape(len(frames), *p.normal) for p in outs]
    return ys, res


def base_op(op_type: str) -> str:
    """The generic FINN op type of a (possibly specialised _hls/_rtl) node."""
    for suffix in ("_hls", "_rtl"):
        if op_type.endswith(suffix):
            return op_type[: -len(suffix)]
    return op_type


def is_dataflow_op(node) -> bool:
    """True if dataflow_rtl maps this node."""
    return base_op(node.op_type) in _BUILDERS


def dataflow_rtl(model: ModelWrapper, node) -> LayerRTL | MultiStreamRTL:
    """Build the RTL for one data-movement or shortcut node of a FINN HW graph."""
    if not is_dataflow_op(node):
        raise XnorflowError(f"no xnorflow dataflow RTL for {node.op_type} node {node.name}",
                            f"use one of {', '.join(sorted(_BUILDERS))}")
    return _BUILDERS[base_op(node.op_type)](model, node)


def _fail(node, problem: str, fix: str) -> None:
    """Raise a one-line XnorflowError about `node`."""
    raise XnorflowError(f"{node.name} ({node.op_type}): {problem}", fix)


def _port(inst, name: str, index: int, output: bool) -> Port:
    """Port for input or output `index` of a single-frame FINN node."""
    if output:
        dtype, normal = inst.get_output_datatype(index), inst.get_normal_output_shape(index)
        folded = _folded_output(inst, index)
    else:
        dtype, folded = inst.get_input_datatype(index), inst.get_folded_input_shape(index)
        normal = inst.get_normal_input_shape(index)
    folded, normal = tuple(int(d) for d in folded), tuple(int(d) for d in normal)
    return Port(Stream(name, dtype.bitwidth() * folded[-1]), dtype, folded, normal)


def _folded_output(inst, index: int) -> tuple[int, ...]:
    """Folded output shape; the generic ConvolutionInputGenerator cannot tell its own."""
    if base_op(inst.onnx_node.op_type) != "ConvolutionInputGenerator":
        return inst.get_folded_output_shape(index)
    *outer, last = inst.get_normal_output_shape(index)
    simd = inst.get_nodeattr("SIMD")
    return (*outer, last // simd, simd)


def _single(inst, top: str, params: dict[str, int | str]) -> LayerRTL:
    """LayerRTL of a one-input, one-output node."""
    pin, pout = _port(inst, "in0_V", 0, False), _port(inst, "out0_V", 0, True)
    design = Design(top, sources(top), (pin.stream,), (pout.stream,), params)
    return LayerRTL(design, {}, pin.dtype, pin.folded, pout.dtype, pout.folded, pout.normal)


def _divides(node, what: str, whole: int, part: int) -> None:
    """Raise unless `part` divides `whole`."""
    if part <= 0 or whole % part:
        _fail(node, f"{what}: {part} does not divide {whole}", f"choose a {what} dividing {whole}")


def _swg(model: ModelWrapper, node) -> LayerRTL:
    """sliding_window for a ConvolutionInputGenerator node."""
    inst = getCustomOp(node)
    (ih, iw), (kh, kw) = inst.get_nodeattr("IFMDim"), inst.get_nodeattr("ConvKernelDim")
    (sh, sw), ch, simd = inst.get_nodeattr("Stride"), inst.get_nodeattr("IFMChannels"), \
        inst.get_nodeattr("SIMD")
    if list(inst.get_nodeattr("Dilation")) != [1, 1]:
        _fail(node, "dilation other than 1 is not supported", "use Dilation [1, 1]")
    if inst.get_nodeattr("parallel_window") or inst.get_nodeattr("dynamic_mode"):
        _fail(node, "parallel_window / dynamic_mode are not supported",
              "set parallel_window=0 and dynamic_mode=0 (insert a DWC to widen the stream)")
    if kh > ih or kw > iw:
        _fail(node, f"kernel {kh}x{kw} larger than the {ih}x{iw} input", "pad the input first")
    _divides(node, "SIMD", ch, simd)
    params = {"IFM_H": ih, "IFM_W": iw, "C": ch, "SIMD": simd,
              "BITS": inst.get_input_datatype().bitwidth(), "K_H": kh, "K_W": kw, "S_H": sh,
              "S_W": sw, "RAM_STYLE": RAM_STYLES[inst.get_nodeattr("ram_style")]}
    return _single(inst, "sliding_window", params)


def _fmpadding(model: ModelWrapper, node) -> LayerRTL:
    """fm_padding for an FMPadding node (zero words; on BINARY streams zero is bipolar -1)."""
    inst = getCustomOp(node)
    (h, w), (top, left, bottom, right) = inst.get_nodeattr("ImgDim"), inst.get_nodeattr("Padding")
    ch, simd = inst.get_nodeattr("NumChannels"), inst.get_nodeattr("SIMD")
    _divides(node, "SIMD", ch, simd)
    params = {"IMG_H": h, "IMG_W": w, "C": ch, "SIMD": simd,
              "BITS": inst.get_input_datatype().bitwidth(), "PAD_T": top, "PAD_L": left,
              "PAD_B": bottom, "PAD_R": right}
    return _single(inst, "fm_padding", params)


def _check_range(node, dtype: BaseDataType, lo: int, hi: int) -> None:
    """Raise unless every integer in [lo, hi] (FINN's exact result range) fits `dtype`."""
    if lo < dtype.min() or hi > dtype.max():
        _fail(node, f"output type {dtype.name} cannot hold results in [{lo}, {hi}]",
              "widen the output data type (or run MinimizeAccumulatorWidth)")


def _pool_params(node, idt: BaseDataType, odt: BaseDataType, k: int, ch: int, pe: int,
                 func: int, shift: int) -> dict[str, int]:
    """pool parameters after checking folding and that FINN's results fit the output type."""
    _divides(node, "PE", ch, pe)
    lo, hi = k * int(idt.min()), k * int(idt.max())
    if func == 0:
        lo, hi = int(idt.min()), int(idt.max())
    _check_range(node, odt, lo >> shift, hi >> shift)
    return {"K": k, "C": ch, "PE": pe, "IBITS": idt.bitwidth(), "IKIND": operand_kind(idt),
            "OBITS": odt.bitwidth(), "FUNC": func, "SHIFT": shift}


def _quant_avg_shift(idt: BaseDataType, odt: BaseDataType, k: int) -> int:
    """Right shift of FINN's QuantAvgPool: sum bits for unsigned inputs minus output bits."""
    max_bits = int((2 ** idt.bitwidth() - 1) * k).bit_length()
    return max(max_bits - odt.bitwidth(), 0)


def _pool(model: ModelWrapper, node) -> LayerRTL:
    """pool for a Pool node: MaxPool, AccPool or QuantAvgPool over im2col-ordered windows."""
    inst = getCustomOp(node)
    fxn, k = inst.get_nodeattr("Function"), int(np.prod(inst.get_nodeattr("KernelSize")))
    idt, odt = inst.get_input_datatype(), inst.get_output_datatype()
    funcs = {"MaxPool": 0, "AccPool": 1, "QuantAvgPool": 2}
    if fxn not in funcs:
        _fail(node, f"{fxn} is not integer-exact (FINN's python execution returns a float mean)",
              "export average pooling as QuantAvgPool2d (or use AccPool)")
    shift = _quant_avg_shift(idt, odt, k) if fxn == "QuantAvgPool" else 0
    params = _pool_params(node, idt, odt, k, inst.get_nodeattr("Channels"),
                          inst.get_nodeattr("PE"), funcs[fxn], shift)
    return _single(inst, "pool", params)


def _global_acc_pool(model: ModelWrapper, node) -> LayerRTL:
    """pool (sum over all pixels) for a GlobalAccPool node."""
    inst = getCustomOp(node)
    vecs = list(inst.get_nodeattr("numInputVectors"))
    if len(vecs) != 3:
        _fail(node, f"numInputVectors {vecs} is not [batch, H, W]", "use a 4D NHWC input")
    params = _pool_params(node, inst.get_input_datatype(), inst.get_output_datatype(),
                          vecs[1] * vecs[2], inst.get_nodeattr("NumChannels"),
                          inst.get_nodeattr("PE"), 1, 0)
    return _single(inst, "pool", params)


def _multi(inst, top: str, params: dict[str, int | str], n_in: int, n_out: int) -> MultiStreamRTL:
    """MultiStreamRTL with FINN's stream names in0_V.. and out0_V.."""
    ins = tuple(_port(inst, f"in{i}_V", i, False) for i in range(n_in))
    outs = tuple(_port(inst, f"out{i}_V", i, True) for i in range(n_out))
    design = Design(top, sources(top), tuple(p.stream for p in ins),
                    tuple(p.stream for p in outs), params)
    return MultiStreamRTL(design, ins, outs)


def _duplicate(model: ModelWrapper, node) -> MultiStreamRTL:
    """duplicate_streams for a DuplicateStreams node with two outputs."""
    inst = getCustomOp(node)
    if inst.get_nodeattr("NumOutputStreams") != 2:
        _fail(node, f"{inst.get_nodeattr('NumOutputStreams')} output streams",
              "fork into two streams per DuplicateStreams node (chain them for more)")
    ch, pe = inst.get_nodeattr("NumChannels"), inst.get_nodeattr("PE")
    _divides(node, "PE", ch, pe)
    return _multi(inst, "duplicate_streams", {"W": pe * inst.get_input_datatype().bitwidth()}, 1, 2)


def _add(model: ModelWrapper, node) -> MultiStreamRTL:
    """add_streams for an ElementwiseAdd node on two equally shaped integer streams."""
    inst = getCustomOp(node)
    lhs, rhs = inst.get_input_datatype(0), inst.get_input_datatype(1)
    odt = inst.get_output_datatype()
    if list(inst.lhs_shape) != list(inst.rhs_shape) or "const" in (inst.lhs_style, inst.rhs_style):
        _fail(node, "only two streamed inputs of the same shape are supported",
              "feed both operands as streams without broadcasting")
    if not (lhs.is_integer() and rhs.is_integer()):
        _fail(node, f"inputs {lhs.name} + {rhs.name} are not integer", "quantize both operands")
    _divides(node, "PE", int(inst.out_shape[-1]), inst.pe)
    _check_range(node, odt, int(lhs.min() + rhs.min()), int(lhs.max() + rhs.max()))
    params = {"PE": inst.pe, "ABITS": lhs.bitwidth(), "AKIND": operand_kind(lhs),
              "BBITS": rhs.bitwidth(), "BKIND": operand_kind(rhs), "OBITS": odt.bitwidth()}
    return _multi(inst, "add_streams", params, 2, 1)


def _concat(model: ModelWrapper, node) -> MultiStreamRTL:
    """stream_concat for a StreamingConcat node with two inputs."""
    inst = getCustomOp(node)
    chans, simd = list(inst.get_nodeattr("ChannelsPerStream")), inst.get_nodeattr("SIMD")
    if len(chans) != 2:
        _fail(node, f"{len(chans)} inputs", "concatenate two streams per node (chain them)")
    for ch in chans:
        _divides(node, "SIMD", ch, simd)
    in0, in1 = inst.get_input_datatype(0), inst.get_input_datatype(1)
    params = {"SIMD": simd, "CF0": chans[0] // simd, "CF1": chans[1] // simd,
              "IBITS0": in0.bitwidth(), "IKIND0": operand_kind(in0), "IBITS1": in1.bitwidth(),
              "IKIND1": operand_kind(in1), "OBITS": inst.get_output_datatype().bitwidth()}
    return _multi(inst, "stream_concat", params, 2, 1)


def _label_select(model: ModelWrapper, node) -> LayerRTL:
    """label_select for a LabelSelect node (top-K indices, largest first)."""
    inst = getCustomOp(node)
    labels, pe, k = inst.get_nodeattr("Labels"), inst.get_nodeattr("PE"), inst.get_nodeattr("K")
    idt, odt = inst.get_input_datatype(), inst.get_output_datatype()
    _divides(node, "PE", labels, pe)
    if not 1 <= k <= labels:
        _fail(node, f"K={k} outside 1..{labels}", "choose K between 1 and Labels")
    _check_range(node, odt, 0, labels - 1)
    params = {"LABELS": labels, "PE": pe, "IBITS": idt.bitwidth(), "IKIND": operand_kind(idt),
              "K": k, "OBITS": odt.bitwidth()}
    return _single(inst, "label_select", params)


def _dwc(model: ModelWrapper, node) -> LayerRTL:
    """width_converter for a StreamingDataWidthConverter node."""
    inst = getCustomOp(node)
    iw, ow, unit = (inst.get_nodeattr("inWidth"), inst.get_nodeattr("outWidth"),
                    inst.get_input_datatype().bitwidth())
    if iw % unit or ow % unit:
        _fail(node, f"stream widths {iw} -> {ow} are not multiples of {unit}-bit elements",
              "set inWidth and outWidth to multiples of the element width")
    return _single(inst, "width_converter", {"IW": iw, "OW": ow, "UNIT": unit})


_BUILDERS = {
    "ConvolutionInputGenerator": _swg,
    "FMPadding": _fmpadding,
    "Pool": _pool,
    "GlobalAccPool": _global_acc_pool,
    "DuplicateStreams": _duplicate,
    "ElementwiseAdd": _add,
    "StreamingConcat": _concat,
    "LabelSelect": _label_select,
    "StreamingDataWidthConverter": _dwc,
}
