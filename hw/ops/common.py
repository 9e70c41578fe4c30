"""What every HW op shares: its ports in FINN's folded layout, its RTL design, one folding check, and the
base class whose defaults (one word in per word out, a register-and-mux resource model) most data-movement
ops keep.

An op (one module of this package each) is FINN's op-with-its-backends habit in our own shape: the python
execution that is the reference (FINN's HWCustomOp, or ours for ops FINN lacks), its folding attributes and
what each must divide, its cycle model (folded cycles per frame, and word-level input `need` for FIFO
sizing), its RTL instantiation (module, parameters, memory files) and its resource model's terms and memories
(fitted to Yosys: hw/resource_model.py), side by side.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field

import numpy as np
from qonnx.core.datatype import BaseDataType
from qonnx.core.modelwrapper import ModelWrapper
from qonnx.custom_op.registry import getCustomOp

from xnorflow.errors import XnorflowError
from xnorflow.hw import resource_model
from xnorflow.hw.ops.thresholds import search_latency
from xnorflow.hw.resource_model import Memory
from xnorflow.hw.streams import pack_words, unpack_words
from xnorflow.hw.verilator import RTL_DIR, Design, SimResult, Stream, simulate

DSP_MIN_BITS = 9            # Yosys maps a multiply to a DSP48 from a 9-bit product (signed operand widths)


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
class LayerRTL:
    """One layer's design, its memory files and its streams (in0_V, in1_V, ... / out0_V, ...)."""

    design: Design
    inputs: tuple[Port, ...]
    outputs: tuple[Port, ...]
    mem_files: dict[str, str] = field(default_factory=dict)

    def run(self, *xs: np.ndarray, **sim_kwargs) -> tuple[list[np.ndarray], SimResult]:
        """Simulate one frame, one tensor per input (FINN's normal shapes); returns outputs and stats."""
        ys, res = run_frames(self, [xs], **sim_kwargs)
        return [y[0] for y in ys], res


def run_frames(rtl: LayerRTL, frames: list, **sim_kwargs) -> tuple[list[np.ndarray], SimResult]:
    """Simulate frames back to back; frames[f][i] feeds input i. Outputs: (frames, *normal)."""
    words = {p.stream.name: np.concatenate([pack_words(np.asarray(f[i]).reshape(p.folded), p.dtype)
                                            for f in frames])
             for i, p in enumerate(rtl.inputs)}
    res = simulate(rtl.design, words, {p.stream.name: p.words * len(frames) for p in rtl.outputs},
                   rtl.mem_files, **sim_kwargs)
    ys = [unpack_words(res.outputs[p.stream.name], p.dtype, (len(frames), *p.folded))
          .reshape(len(frames), *p.normal) for p in rtl.outputs]
    return ys, res


def sources(*files: str) -> tuple:
    """Paths of SystemVerilog files in the package's rtl/ (dependencies first)."""
    return tuple(RTL_DIR / f for f in files)


def fail(node, problem: str, fix: str) -> None:
    """Raise a one-line XnorflowError about `node`."""
    raise XnorflowError(f"{node.name} ({node.op_type}): {problem}", fix)


def check_range(node, dtype: BaseDataType, lo: int, hi: int) -> None:
    """Raise unless every integer in [lo, hi] (FINN's exact result range) fits `dtype`."""
    if lo < dtype.min() or hi > dtype.max():
        fail(node, f"output type {dtype.name} cannot hold results in [{lo}, {hi}]",
             "widen the output data type (or run MinimizeAccumulatorWidth)")


def divisors(n: int) -> list[int]:
    """Divisors of n, ascending."""
    return [d for d in range(1, n + 1) if n % d == 0]


def nearest_divisor(n: int, value: int) -> int:
    """The divisor of n closest to value (the smaller one on a tie)."""
    return min(divisors(n), key=lambda d: (abs(d - value), d))


def limit(inst, what: str | None) -> int:
    """The number a folding attribute must divide (gcd over streams for a concatenation; None: channels)."""
    if what is None:
        return int(inst.get_normal_output_shape()[-1])
    value = inst.get_nodeattr(what)
    return int(np.gcd.reduce(value)) if isinstance(value, (list, tuple)) else int(value)


def folded_output(inst, index: int) -> tuple[int, ...]:
    """Folded output shape; the generic ConvolutionInputGenerator cannot tell its own."""
    if not inst.onnx_node.op_type.startswith("ConvolutionInputGenerator"):
        return tuple(int(d) for d in inst.get_folded_output_shape(index))
    *outer, last = inst.get_normal_output_shape(index)
    simd = inst.get_nodeattr("SIMD")
    return (*(int(d) for d in outer), int(last) // simd, simd)


def port(inst, name: str, index: int, output: bool) -> Port:
    """Port for input or output `index` of a single-frame FINN node."""
    if output:
        dtype, normal, folded = inst.get_output_datatype(index), inst.get_normal_output_shape(index), \
            folded_output(inst, index)
    else:
        dtype, folded = inst.get_input_datatype(index), inst.get_folded_input_shape(index)
        normal = inst.get_normal_input_shape(index)
    folded, normal = tuple(int(d) for d in folded), tuple(int(d) for d in normal)
    return Port(Stream(name, dtype.bitwidth() * folded[-1]), dtype, folded, normal)


def dsp_product(abits: int, asigned: bool, bbits: int, bsigned: bool) -> bool:
    """True if Yosys (synth_xilinx) maps an abits x bbits product to a DSP48: both multi-bit, product >= 9 bits
    (an unsigned operand counts one bit more)."""
    return min(abits, bbits) > 1 and abits + (not asigned) + bbits + (not bsigned) >= DSP_MIN_BITS


def uses_dsp(a: BaseDataType, b: BaseDataType) -> bool:
    """dsp_product of two data types."""
    return dsp_product(a.bitwidth(), a.signed(), b.bitwidth(), b.signed())


def words(shape, fold: int) -> int:
    """Stream words of a channels-last tensor with `fold` elements per word."""
    return int(np.prod(shape[:-1])) * int(shape[-1]) // fold


class HWOp(ABC):
    """One HW op type: folding constraints, cycle model, RTL instantiation and LUT model of its nodes."""

    op_type = ""
    folding: tuple[tuple[str, str | None], ...] = ()    # (attribute, what it must divide)
    modules: dict[str, tuple[str, ...]] = {}            # SystemVerilog top -> its files, dependencies first
    accumulates = False     # takes its input as it comes and emits at the frame's end (no rate FIFO)

    def check_folding(self, node) -> None:
        """Raise naming the layer, if a folding attribute does not divide what it folds."""
        inst = getCustomOp(node)
        for attr, what in self.folding:
            value, n = int(inst.get_nodeattr(attr)), limit(inst, what)
            if value <= 0 or n % value:
                raise XnorflowError(
                    f"folding of layer {node.name} ({node.op_type}): {attr}={value} does not divide "
                    f"{what or 'channels'}={n}", f"use {attr}={nearest_divisor(n, value)}, the nearest legal value")

    def fold(self, node) -> int:
        """Elements per stream word: the value of the first folding attribute (1 without one)."""
        return int(getCustomOp(node).get_nodeattr(self.folding[0][0])) if self.folding else 1

    def cycles(self, model: ModelWrapper, node) -> int:
        """Folded cycles per frame: the busiest stream at one word per cycle."""
        inst, fold = getCustomOp(node), self.fold(node)
        n_in = len([t for t in node.input if model.get_initializer(t) is None])
        shapes = [inst.get_normal_input_shape(i) for i in range(n_in)] + \
                 [inst.get_normal_output_shape(i) for i in range(len(node.output))]
        return max(words(s, fold) for s in shapes)

    def need(self, node, rtl: LayerRTL, i: int) -> np.ndarray:
        """Per output word k of a frame: input-i words needed before words 0..k (whole frame if not 1:1)."""
        n_in, n_out = rtl.inputs[i].words, rtl.outputs[0].words
        if n_in == n_out and not self.accumulates:
            return np.arange(1, n_out + 1)
        return np.full(n_out, n_in)

    def spare(self, rtl: LayerRTL) -> int:
        """Input words the layer buffers beyond what its outputs need (a line buffer's spare rows)."""
        return 0

    def extra_latency(self, rtl: LayerRTL) -> int:
        """Pipeline cycles beyond a layer's one register stage (fifo_depths' HOP_CYCLES): a threshold search's
        extra stages."""
        return search_latency(rtl.design.params)

    def model_key(self, rtl: LayerRTL) -> str:
        """The calibrated LUT model of a layer's design: its module."""
        return rtl.design.top

    def model_keys(self) -> tuple[str, ...]:
        """Every model_key this op's layers can have (each must be in the calibration)."""
        return tuple(self.modules)

    def terms(self, rtl: LayerRTL) -> dict[str, float]:
        """Structural LUT terms: a base (counters, handshakes) and the bits of every stream word in and out."""
        return {"base": 1.0, "stream_bits": float(sum(p.stream.bits for p in rtl.inputs + rtl.outputs))}

    def memories(self, rtl: LayerRTL) -> list[Memory]:
        """The memories the design infers: none (registers only)."""
        return []

    def model_terms(self, rtl: LayerRTL) -> dict[str, float]:
        """terms() and the LUT terms of the memories that stay in LUTs."""
        return self.terms(rtl) | resource_model.memory_terms(self.memories(rtl))

    def estimate(self, model: ModelWrapper, node) -> dict[str, float]:
        """Modelled LUTs (logic + LUT RAM, the calibrated model), block RAM (RAMB36 units), UltraRAM (URAM288) and
        DSP48s."""
        rtl = self.sized(model, node)
        mems = self.memories(rtl)
        return {"lut": resource_model.predict(self.model_key(rtl), self.model_terms(rtl)),
                "bram36": resource_model.bram36(mems), "uram": resource_model.uram288(mems),
                "dsp": self.dsps(model, node)}

    def sized(self, model: ModelWrapper, node) -> LayerRTL:
        """The layer's design as the resource model sees it: rtl() (an op may leave out costly memory contents)."""
        return self.rtl(model, node)

    def dsps(self, model: ModelWrapper, node) -> int:
        """DSP48 model: none (data movement)."""
        return 0

    @abstractmethod
    def rtl(self, model: ModelWrapper, node) -> LayerRTL:
        """The layer's design: module, parameters, memory files and ports."""

    def design(self, inst, top: str, params: dict, n_in: int = 1, n_out: int = 1,
               mems: dict[str, str] | None = None) -> LayerRTL:
        """LayerRTL of `top` with FINN's stream names in0_V.. and out0_V.."""
        ins = tuple(port(inst, f"in{i}_V", i, False) for i in range(n_in))
        outs = tuple(port(inst, f"out{i}_V", i, True) for i in range(n_out))
        design = Design(top, sources(*self.modules[top]), tuple(p.stream for p in ins),
                        tuple(p.stream for p in outs), params)
        return LayerRTL(design, ins, outs, mems or {})
