"""MVAU: FINN's matrix-vector-activation unit on our xnor_mvu.sv (XNOR-popcount) or mvu.sv (multiply).

The reference is FINN's MVAU python execution; weights are written in the order mvu_core.sv reads them
(one row of PE x SIMD per cycle), thresholds as threshold_search.sv's per-stage files. A node with FINN's
mem_mode "external" keeps no weights on chip: mvu_core.sv itself is its module, in weight-stream mode, and its
weights arrive on the input stream in1_V in that same row order, the whole matrix once per input vector
(FINN's folded shape of input 1); `weight_stream` gives those words' values. Otherwise FINN's ram_style
("auto", "block", "distributed", "ultra") is rom.sv's STYLE for the weight rom, its ram_style_thresholds that of
the threshold roms.
"""
from __future__ import annotations

import math

import numpy as np
from qonnx.core.datatype import DataType
from qonnx.core.modelwrapper import ModelWrapper
from qonnx.custom_op.registry import getCustomOp

from xnorflow.errors import XnorflowError
from xnorflow.hw.ops.common import HWOp, LayerRTL, dsp_product, uses_dsp
from xnorflow.hw.ops.thresholds import (THRESH_FILE, clip_thresholds, compare_bits, shared_param,
                                        start_mem_files, threshold_mem_files, threshold_memories)
from xnorflow.hw.resource_model import Memory, block_column, in_luts
from xnorflow.hw.streams import mem_file, operand_kind, signed_type

WEIGHT_FILE = "weights.mem"
EXTERNAL = "external"       # FINN's mem_mode whose weights stream in on in1_V
ROM_MODES = ("internal_embedded", "internal_decoupled")   # FINN's mem_modes that keep the weights on chip
_CORE = ("adder_tree.sv", "skid_buffer.sv", "rom.sv", "operand_decode.sv", "threshold_search.sv",
         "xnor_count3.sv", "add3.sv", "add3_tree.sv", "dot_xnor.sv", "dot_mul.sv", "mvu_core.sv")


def is_xnor(inst) -> bool:
    """True if the MVAU computes an XNOR-popcount (FINN's binaryXnorMode or bipolar x bipolar)."""
    bipolar = DataType["BIPOLAR"]
    both_bipolar = inst.get_input_datatype(0) == bipolar and inst.get_input_datatype(1) == bipolar
    return bool(inst.get_nodeattr("binaryXnorMode")) or both_bipolar


def acc_range(inst, xnor: bool) -> tuple[int, int]:
    """Accumulator range over all inputs and weights of the node's data types."""
    mw = inst.get_nodeattr("MW")
    if xnor:
        return 0, mw
    idt, wdt = inst.get_input_datatype(0), inst.get_input_datatype(1)
    prods = [a * b for a in (idt.min(), idt.max()) for b in (wdt.min(), wdt.max())]
    return int(mw * min(prods)), int(mw * max(prods))


def product_kind(p: dict) -> str:
    """How mvu_core.sv computes a lane's product from its parameters: xnor, select (a 1-bit operand), dsp (Yosys
    maps it to a DSP48) or lut (a multiply in LUTs)."""
    ibits, wbits = p.get("IBITS", 1), p.get("WBITS", 1)
    if p["XNOR"] if "XNOR" in p else "IKIND" not in p:
        return "xnor"
    if min(ibits, wbits) == 1:
        return "select"
    return "dsp" if dsp_product(ibits, p["IKIND"] != 0, wbits, p["WKIND"] != 0) else "lut"


def adder_tree_bits(n: int, width: int) -> int:
    """Output bits of every adder in adder_tree.sv's balanced tree over n operands of `width` bits."""
    if n == 1:
        return 0
    half = n // 2
    return width + (n - 1).bit_length() + adder_tree_bits(half, width) + adder_tree_bits(n - half, width)


def add3_tree_bits(n: int, width: int) -> int:
    """LUTs of the adders in add3_tree.sv over n operands of `width` bits: a ternary add3.sv has a LUT6_2 per
    output bit (its operands' width plus two, the top one feeding the carry), a binary add where two are left."""
    if n <= 2:
        return 0 if n == 1 else width + 1
    a = n // 3
    b = (n - a) // 2
    c = n - a - b
    return width + (c - 1).bit_length() + 1 + sum(add3_tree_bits(k, width) for k in (a, b, c))


def popcount_luts(simd: int) -> int:
    """LUTs of one dot_xnor.sv popcount: two LUT6 per xnor_count3 (3 lanes) and add3_tree's adders over the 2-bit
    counts."""
    groups = (simd + 2) // 3
    return 2 * groups + add3_tree_bits(groups, 2)


def acc_bits(p: dict) -> int:
    """mvu_core.sv's accumulator width: ACCBITS, one more with one threshold (it accumulates from -t)."""
    return p["ACCBITS"] + (p["NTHRES"] == 1)


def block_rom_mux_bits(rom: Memory | None) -> int:
    """Bits of the read mux joining a weight rom's block RAMs in depth: its width per RAMB36 past the first, at the
    512-word depth of the widest shape (UG473); 0 for a rom in LUTs or UltraRAM, or in columns one block deep."""
    if rom is None or rom.style == "ultra" or rom.column or in_luts(rom):
        return 0
    return rom.width * (math.ceil(rom.depth / 512) - 1)


def weight_column(inst, style: str, wbits: int) -> int:
    """rom.sv's COLUMN (bits, whole weights) of the node's weight rom: block_column of its depth in style "block"."""
    depth = (inst.get_nodeattr("MW") // inst.get_nodeattr("SIMD")) * (inst.get_nodeattr("MH") // inst.get_nodeattr("PE"))
    column = block_column(depth) if style == "block" else 0
    return max(column // wbits, 1) * wbits if column else 0


def weight_mem_files(rows: np.ndarray, dtype: DataType, per_column: int) -> dict[str, str]:
    """The weight rom's $readmemh file, or one per column of `per_column` weights (rom.sv's COLUMN)."""
    if not per_column:
        return {WEIGHT_FILE: mem_file(rows, dtype)}
    return {f"{WEIGHT_FILE}_c{k}.mem": mem_file(rows[:, lo:lo + per_column], dtype)
            for k, lo in enumerate(range(0, rows.shape[1], per_column))}


def weight_rows(weights: np.ndarray, inst, xnor: bool) -> np.ndarray:
    """The (MW, MH) weight matrix as mvu_core.sv reads it: NF x SF rows of PE x SIMD (bipolar as bits)."""
    mw, mh = inst.get_nodeattr("MW"), inst.get_nodeattr("MH")
    pe, simd = inst.get_nodeattr("PE"), inst.get_nodeattr("SIMD")
    sf, nf = mw // simd, mh // pe
    rows = weights.reshape(sf, simd, nf, pe).transpose(2, 0, 3, 1).reshape(nf * sf, pe * simd)
    return (rows + 1) / 2 if xnor and inst.get_input_datatype(1) == DataType["BIPOLAR"] else rows


def streams_weights(inst) -> bool:
    """True if the node takes its weights on the stream in1_V (FINN's mem_mode "external"); one line for a
    mem_mode our RTL does not implement."""
    mode = inst.get_nodeattr("mem_mode")
    if mode not in (EXTERNAL, *ROM_MODES):
        raise XnorflowError(f"{inst.onnx_node.name} (MVAU): mem_mode '{mode}' is not supported",
                            f"set mem_mode to '{EXTERNAL}' (weights streamed from DDR) or 'internal_decoupled'")
    return mode == EXTERNAL


def weight_bits(inst) -> int:
    """Bits of the MW x MH weight matrix."""
    return inst.get_nodeattr("MW") * inst.get_nodeattr("MH") * inst.get_input_datatype(1).bitwidth()


def weight_stream_bits(inst) -> int:
    """Bits of the weight stream per frame (mem_mode "external"): the weight matrix once per input vector."""
    return int(np.prod(inst.get_nodeattr("numInputVectors"))) * weight_bits(inst)


def weight_stream(weights: np.ndarray, inst) -> np.ndarray:
    """The values of the weight stream of one frame, in FINN's folded shape of input 1 (vectors, NF x SF, PE x
    SIMD): the rom's rows in the weight data type, once per input vector."""
    vectors = int(np.prod(inst.get_nodeattr("numInputVectors")))
    rows = weight_rows(weights, inst, xnor=False)
    return np.broadcast_to(rows, (vectors, *rows.shape)).copy()


class MVAUOp(HWOp):
    """Matrix-vector product of SIMD inputs x PE outputs per cycle, then thresholds (or none)."""

    op_type = "MVAU"
    folding = (("SIMD", "MW"), ("PE", "MH"))
    modules = {"xnor_mvu": _CORE + ("xnor_mvu.sv",), "mvu": _CORE + ("mvu.sv",), "mvu_core": _CORE}

    def cycles(self, model: ModelWrapper, node) -> int:
        """Input vectors x SF x NF."""
        inst = getCustomOp(node)
        vectors = int(np.prod(inst.get_normal_input_shape()[:-1]))
        return vectors * (inst.get_nodeattr("MW") // inst.get_nodeattr("SIMD")) * \
            (inst.get_nodeattr("MH") // inst.get_nodeattr("PE"))

    def need(self, node, rtl: LayerRTL, i: int) -> np.ndarray:
        """A whole input vector (SF words) before each group of NF output words."""
        p, k = rtl.design.params, np.arange(rtl.outputs[0].words)
        return (k // (p["MH"] // p["PE"]) + 1) * (p["MW"] // p["SIMD"])

    def model_key(self, rtl: LayerRTL) -> str:
        """xnor_mvu's model for an XNOR-popcount (rom or weight stream), mvu's for a multiply."""
        return "xnor_mvu" if product_kind(rtl.design.params) == "xnor" else "mvu"

    def model_keys(self) -> tuple[str, ...]:
        """mvu_core (weight stream) shares xnor_mvu's and mvu's models."""
        return ("xnor_mvu", "mvu")

    def terms(self, rtl: LayerRTL) -> dict[str, float]:
        """Lanes by product kind (xnor: lanes; select and dsp: lanes x product bits; lut: lanes x IBITS x WBITS),
        the PE popcounts' LUTs (dot_xnor.sv: popcount_luts) or adder trees' adder bits (dot_mul.sv: operands of
        IBITS + WBITS + 2 bits), the PE
        accumulators, the threshold comparators, the bits of a weight rom left in logic or of its block RAMs' read mux,
        stream bits and a base.
        A weight rom in LUTs costs in the layer about a LUT per 14 bits (depth x width; measured on the grid, 16 to
        256 words), not the LUT6 per 64 words of a bit (rom_luts) that a bare rom.sv takes."""
        p = rtl.design.params
        kind, lanes = product_kind(p), p["PE"] * p["SIMD"]
        ibits, wbits = p.get("IBITS", 1), p.get("WBITS", 1)
        per_lane = {"xnor": 1, "select": ibits + wbits, "dsp": ibits + wbits, "lut": ibits * wbits}[kind]
        tree = popcount_luts(p["SIMD"]) if kind == "xnor" else adder_tree_bits(p["SIMD"], ibits + wbits + 2)
        rom = self.weight_rom(p)
        in_logic = rom is not None and rom.depth > 2 and in_luts(rom)
        return super().terms(rtl) | {f"{kind}_lanes": float(lanes * per_lane),
                                     "tree_bits": float(p["PE"] * tree),
                                     "acc_bits": float(p["PE"] * acc_bits(p)),
                                     "compare_bits": compare_bits(p["NTHRES"], p["PE"], p["ACCBITS"])
                                     if p["NTHRES"] > 1 else 0.0,
                                     "weight_rom_bits": float(rom.bits) if in_logic else 0.0,
                                     "rom_mux_bits": float(block_rom_mux_bits(rom))}

    def weight_rom(self, p: dict) -> Memory | None:
        """The weight rom: SF x NF words of PE x SIMD x WBITS bits in its style (None for a weight stream)."""
        if p.get("WEIGHT_SOURCE", "rom") != "rom":
            return None
        return Memory((p["MW"] // p["SIMD"]) * (p["MH"] // p["PE"]), p["PE"] * p["SIMD"] * p.get("WBITS", 1), "rom",
                      p.get("WEIGHT_STYLE", "auto"), p.get("WEIGHT_COLUMN", 0))

    def memories(self, rtl: LayerRTL) -> list[Memory]:
        """The weight rom (none for a weight stream), the input-vector buffer and the threshold roms."""
        p = rtl.design.params
        sf, nf = p["MW"] // p["SIMD"], p["MH"] // p["PE"]
        mems = threshold_memories(p["NTHRES"], p["PE"], nf, acc_bits(p), p.get("THRESH_SHARED", 0),
                                  p.get("THRESH_STYLE", "auto"))
        if sf > 1:
            mems.append(Memory(sf, p["SIMD"] * p.get("IBITS", 1), "ram"))
        rom = self.weight_rom(p)
        return mems + ([rom] if rom else [])

    def dsps(self, model: ModelWrapper, node) -> int:
        """One DSP48 per lane whose multiply Yosys maps to one (none for XNOR or a 1-bit operand)."""
        inst = getCustomOp(node)
        if is_xnor(inst) or not uses_dsp(inst.get_input_datatype(0), inst.get_input_datatype(1)):
            return 0
        return inst.get_nodeattr("PE") * inst.get_nodeattr("SIMD")

    def sized(self, model: ModelWrapper, node) -> LayerRTL:
        """rtl() without the weight rom's contents (its shape and style are what the resource model needs)."""
        return self.rtl(model, node, contents=False)

    def rtl(self, model: ModelWrapper, node, contents: bool = True) -> LayerRTL:
        """xnor_mvu or mvu with its weight rom (in the node's ram_style) and threshold memories; mvu_core in
        weight-stream mode, with the weight stream in1_V and no weight memory, for mem_mode "external"."""
        self.check_folding(node)
        inst = getCustomOp(node)
        idt, wdt, odt = inst.get_input_datatype(0), inst.get_input_datatype(1), inst.get_output_datatype()
        xnor, stream = is_xnor(inst), streams_weights(inst)
        lo, hi = acc_range(inst, xnor)
        acc_t = signed_type(lo, hi + 1)
        mems, style = {}, inst.get_nodeattr("ram_style")
        wbits = 1 if xnor else wdt.bitwidth()
        column = weight_column(inst, style, wbits) if not stream else 0
        if not stream and contents:
            rows = weight_rows(model.get_initializer(node.input[1]), inst, xnor)
            mems |= weight_mem_files(rows, DataType["BINARY"] if xnor else wdt, column // wbits)
        nthres, actval, shared = 0, 0, {}
        if not inst.get_nodeattr("noActivation"):
            thr = clip_thresholds(model.get_initializer(node.input[2]), lo, hi)
            nthres, pe = thr.shape[1], inst.get_nodeattr("PE")
            if nthres == 1:   # no search: per-channel start roms, a shared row broadcast
                mems |= start_mem_files(thr, pe, inst.get_nodeattr("MH"), acc_t.bitwidth())
            else:
                shared = shared_param(thr)
                mems |= threshold_mem_files(thr, pe, acc_t, hi + 1)
            actval = 0 if odt == DataType["BIPOLAR"] else inst.get_nodeattr("ActVal")
        params = {a: inst.get_nodeattr(a) for a in ("MW", "MH", "PE", "SIMD")}
        params |= {"ACCBITS": acc_t.bitwidth(), "NTHRES": nthres, "OBITS": odt.bitwidth(), "ACTVAL": actval,
                   "WEIGHT_FILE": WEIGHT_FILE, "THRESH_FILE": THRESH_FILE} | shared
        if not xnor:
            params |= {"IBITS": idt.bitwidth(), "WBITS": wdt.bitwidth(),
                       "IKIND": operand_kind(idt), "WKIND": operand_kind(wdt)}
        if stream:
            del params["WEIGHT_FILE"]
            params |= {"XNOR": int(xnor), "WEIGHT_SOURCE": "stream"} | ({"IBITS": 1, "WBITS": 1} if xnor else {})
            return self.design(inst, "mvu_core", params, n_in=2, mems=mems)
        params |= {"WEIGHT_STYLE": style} if style != "auto" else {}
        thresh_style = inst.get_nodeattr("ram_style_thresholds")
        params |= {"THRESH_STYLE": thresh_style} if nthres and thresh_style != "auto" else {}
        params |= {"WEIGHT_COLUMN": column} if column else {}
        return self.design(inst, "xnor_mvu" if xnor else "mvu", params, mems=mems)
