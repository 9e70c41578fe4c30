"""RTL for single FINN HW layers: maps an MVAU or Thresholding node onto our SystemVerilog.

For each node this picks the module (xnor_mvu, mvu, thresholding), derives its parameters
from the node's attributes and data types, writes the weight and threshold $readmemh files in
the order the RTL reads them, and runs the layer in Verilator on tensors in FINN's layout, so
its output can be compared bit for bit with FINN's python execution of the same node.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from qonnx.core.datatype import BaseDataType, DataType
from qonnx.core.modelwrapper import ModelWrapper
from qonnx.custom_op.registry import getCustomOp

from xnorflow.errors import XnorflowError
from xnorflow.hw.streams import mem_file, operand_kind, pack_words, signed_type, unpack_words
from xnorflow.hw.verilator import RTL_DIR, Design, SimResult, Stream, simulate

if TYPE_CHECKING:
    from xnorflow.hw.dataflow import MultiStreamRTL

WEIGHT_FILE = "weights.mem"
THRESH_FILE = "thresholds"   # threshold_search.sv reads thresholds_s<stage>_p<lane>.mem
MVU_SOURCES = ("adder_tree.sv", "skid_buffer.sv", "rom.sv", "operand_decode.sv",
               "threshold_search.sv", "dot_xnor.sv", "dot_mul.sv", "mvu_core.sv")
MODULE_SOURCES = {
    "xnor_mvu": MVU_SOURCES + ("xnor_mvu.sv",),
    "mvu": MVU_SOURCES + ("mvu.sv",),
    "thresholding": ("skid_buffer.sv", "rom.sv", "operand_decode.sv", "channel_fold.sv",
                     "threshold_search.sv", "thresholding.sv"),
    "stream_fifo": ("stream_fifo.sv",),
    # data-movement and shortcut layers (dataflow.py)
    "sliding_window": ("skid_buffer.sv", "ram_sdp.sv", "sliding_window.sv"),
    "fm_padding": ("skid_buffer.sv", "fm_padding.sv"),
    "pool": ("skid_buffer.sv", "operand_decode.sv", "channel_fold.sv", "pool.sv"),
    "duplicate_streams": ("skid_buffer.sv", "duplicate_streams.sv"),
    "add_streams": ("skid_buffer.sv", "operand_decode.sv", "add_streams.sv"),
    "stream_concat": ("skid_buffer.sv", "operand_decode.sv", "stream_concat.sv"),
    "label_select": ("skid_buffer.sv", "operand_decode.sv", "label_select.sv"),
    "width_converter": ("width_converter.sv",),
    "channelwise_lut": ("skid_buffer.sv", "rom.sv", "channel_fold.sv", "channelwise_lut.sv"),  # lut.py
    "channel_gate_mul": ("skid_buffer.sv", "operand_decode.sv", "channel_gate_mul.sv"),  # gate.py
}


def sources(module: str) -> tuple:
    """SystemVerilog files that make up `module` (dependencies first)."""
    return tuple(RTL_DIR / f for f in MODULE_SOURCES[module])


@dataclass
class LayerRTL:
    """One layer's design, memory files and stream formats in FINN's folded layout."""

    design: Design
    mem_files: dict[str, str]
    in_dtype: BaseDataType
    in_folded: tuple[int, ...]
    out_dtype: BaseDataType
    out_folded: tuple[int, ...]
    out_normal: tuple[int, ...]

    def run(self, x: np.ndarray, **sim_kwargs) -> tuple[np.ndarray, SimResult]:
        """Simulate the layer on `x` (FINN's normal input shape); returns output and stats."""
        words = pack_words(np.asarray(x).reshape(self.in_folded), self.in_dtype)
        n_out = int(np.prod(self.out_folded[:-1]))
        res = simulate(self.design, {"in0_V": words}, {"out0_V": n_out}, self.mem_files,
                       **sim_kwargs)
        y = unpack_words(res.outputs["out0_V"], self.out_dtype, self.out_folded)
        return y.reshape(self.out_normal), res


def layer_rtl(model: ModelWrapper, node) -> LayerRTL | MultiStreamRTL:
    """Build the RTL for one node of a FINN HW graph (compute layers here, the rest in dataflow)."""
    from xnorflow.hw.dataflow import dataflow_rtl, is_dataflow_op  # dataflow imports this module
    if node.op_type.startswith("MVAU"):
        return _mvau(model, node)
    if node.op_type.startswith("Thresholding"):
        return _thresholding(model, node)
    if is_dataflow_op(node):
        return dataflow_rtl(model, node)
    if node.op_type == "ChannelwiseLUT":
        from xnorflow.hw.lut import channelwise_lut_rtl  # lut imports this module
        return channelwise_lut_rtl(model, node)
    if node.op_type == "ChannelGateMul":
        from xnorflow.hw.gate import channel_gate_mul_rtl  # gate imports this module
        return channel_gate_mul_rtl(model, node)
    raise XnorflowError(f"no xnorflow RTL for {node.op_type} node {node.name}",
                        "convert the layer to an MVAU, Thresholding or data-movement HW node")


def _streams(inst, in_dtype: BaseDataType, out_dtype: BaseDataType) -> tuple:
    """Input and output streams of a single-stream layer."""
    in_bits = in_dtype.bitwidth() * inst.get_folded_input_shape(0)[-1]
    out_bits = out_dtype.bitwidth() * inst.get_folded_output_shape()[-1]
    return (Stream("in0_V", in_bits),), (Stream("out0_V", out_bits),)


def _clip_thresholds(thr: np.ndarray, channels: int, lo: int, hi: int) -> np.ndarray:
    """Integer thresholds, one row per channel, with the same outcome on every value in [lo, hi]."""
    thr = np.ceil(np.asarray(thr, dtype=np.float64))
    if thr.shape[0] == 1:
        thr = np.tile(thr, (channels, 1))
    return np.clip(thr, lo, hi + 1).astype(np.int64)


def search_stages(nthres: int) -> int:
    """Pipeline stages of threshold_search.sv for `nthres` thresholds per channel."""
    return max(nthres, 1).bit_length()


def threshold_mem_files(thr: np.ndarray, pe: int, dtype: BaseDataType, never: int) -> dict[str, str]:
    """threshold_search.sv's memories: stage s of lane p holds, per channel fold, its 2^s thresholds.

    Each channel's thresholds are sorted (the count of reached thresholds does not depend on their
    order) and padded to 2^K - 1 with `never`, a threshold no input value reaches; the count's bit
    K-1-s is then decided by threshold ((2r + 1) << (K-1-s)) - 1, r being the bits found before.
    """
    k = search_stages(thr.shape[1])
    pad = np.full((thr.shape[0], 2 ** k - 1 - thr.shape[1]), never, dtype=np.int64)
    full = np.concatenate([np.sort(thr, axis=1), pad], axis=1)
    files = {}
    for s in range(k):
        cols = ((2 * np.arange(2 ** s) + 1) << (k - 1 - s)) - 1
        for p in range(pe):
            files[f"{THRESH_FILE}_s{s}_p{p}.mem"] = mem_file(full[p::pe][:, cols].reshape(-1, 1), dtype)
    return files


def _is_xnor(inst) -> bool:
    """True if the MVAU computes an XNOR-popcount (FINN's binaryXnorMode or bipolar x bipolar)."""
    bipolar = DataType["BIPOLAR"]
    both_bipolar = inst.get_input_datatype(0) == bipolar and inst.get_input_datatype(1) == bipolar
    return bool(inst.get_nodeattr("binaryXnorMode")) or both_bipolar


def _acc_range(inst, xnor: bool) -> tuple[int, int]:
    """Accumulator range over all inputs and weights of the node's data types."""
    mw = inst.get_nodeattr("MW")
    if xnor:
        return 0, mw
    idt, wdt = inst.get_input_datatype(0), inst.get_input_datatype(1)
    prods = [a * b for a in (idt.min(), idt.max()) for b in (wdt.min(), wdt.max())]
    return int(mw * min(prods)), int(mw * max(prods))


def _mvau(model: ModelWrapper, node) -> LayerRTL:
    """xnor_mvu or mvu for an MVAU node."""
    inst = getCustomOp(node)
    mw, mh = inst.get_nodeattr("MW"), inst.get_nodeattr("MH")
    pe, simd = inst.get_nodeattr("PE"), inst.get_nodeattr("SIMD")
    if mw % simd or mh % pe:
        raise XnorflowError(f"{node.name}: MW={mw} / SIMD={simd} or MH={mh} / PE={pe} not integral",
                            "choose SIMD dividing MW and PE dividing MH")
    idt, wdt, odt = (inst.get_input_datatype(0), inst.get_input_datatype(1),
                     inst.get_output_datatype())
    xnor = _is_xnor(inst)
    lo, hi = _acc_range(inst, xnor)
    acc_t = signed_type(lo, hi + 1)
    weights = model.get_initializer(node.input[1])
    sf, nf = mw // simd, mh // pe
    rows = weights.reshape(sf, simd, nf, pe).transpose(2, 0, 3, 1).reshape(nf * sf, pe * simd)
    w_dt = DataType["BINARY"] if xnor else wdt
    if xnor and wdt == DataType["BIPOLAR"]:
        rows = (rows + 1) / 2
    mems = {WEIGHT_FILE: mem_file(rows, w_dt)}
    nthres, actval = 0, 0
    if not inst.get_nodeattr("noActivation"):
        thr = _clip_thresholds(model.get_initializer(node.input[2]), mh, lo, hi)
        nthres = thr.shape[1]
        mems |= threshold_mem_files(thr, pe, acc_t, hi + 1)
        actval = 0 if odt == DataType["BIPOLAR"] else inst.get_nodeattr("ActVal")
    params = {"MW": mw, "MH": mh, "PE": pe, "SIMD": simd, "ACCBITS": acc_t.bitwidth(),
              "NTHRES": nthres, "OBITS": odt.bitwidth(), "ACTVAL": actval,
              "WEIGHT_FILE": WEIGHT_FILE, "THRESH_FILE": THRESH_FILE}
    module = "xnor_mvu" if xnor else "mvu"
    if not xnor:
        params |= {"IBITS": idt.bitwidth(), "WBITS": wdt.bitwidth(),
                   "IKIND": operand_kind(idt), "WKIND": operand_kind(wdt)}
    ins, outs = _streams(inst, idt, odt)
    design = Design(module, sources(module), ins, outs, params)
    return LayerRTL(design, mems, idt, inst.get_folded_input_shape(0), odt,
                    inst.get_folded_output_shape(), inst.get_normal_output_shape())


def _thresholding(model: ModelWrapper, node) -> LayerRTL:
    """thresholding for a Thresholding node."""
    inst = getCustomOp(node)
    ch, pe = inst.get_nodeattr("NumChannels"), inst.get_nodeattr("PE")
    if ch % pe:
        raise XnorflowError(f"{node.name}: NumChannels={ch} not divisible by PE={pe}",
                            "choose PE dividing NumChannels")
    idt, odt = inst.get_input_datatype(0), inst.get_output_datatype()
    lo, hi = int(idt.min()), int(idt.max())
    thr = _clip_thresholds(model.get_initializer(node.input[1]), ch, lo, hi)
    nthres = thr.shape[1]
    tbits = max(signed_type(lo, hi + 1).bitwidth(), idt.bitwidth() + 1)
    thr_t = DataType[f"INT{tbits}"]
    params = {"C": ch, "PE": pe, "IBITS": idt.bitwidth(), "IKIND": operand_kind(idt),
              "TBITS": tbits, "NTHRES": nthres, "OBITS": odt.bitwidth(),
              "ACTVAL": inst.get_nodeattr("ActVal"), "THRESH_FILE": THRESH_FILE}
    mems = threshold_mem_files(thr, pe, thr_t, hi + 1)
    ins, outs = _streams(inst, idt, odt)
    design = Design("thresholding", sources("thresholding"), ins, outs, params)
    return LayerRTL(design, mems, idt, inst.get_folded_input_shape(0), odt,
                    inst.get_folded_output_shape(), inst.get_normal_output_shape())


def fold_cycles(layer: LayerRTL) -> int:
    """Analytical cycles of the layer: folded input words x output tiles (no stalls)."""
    p = layer.design.params
    if layer.design.top == "thresholding":
        return int(np.prod(layer.in_folded[:-1]))
    vectors = int(np.prod(layer.in_folded[:-2]))
    return vectors * (p["MW"] // p["SIMD"]) * (p["MH"] // p["PE"])
