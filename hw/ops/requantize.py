"""Requantize, an op FINN lacks: y = clamp((m k + c) >> s, 0, N) + ActVal per channel, on our requantize.sv.

The integer form of N evenly spaced thresholds (build_flows/requantize.py finds m, c per channel and one s
per layer, exactly equal to the thresholds on the layer's reachable inputs): a multiplier per lane and two
numbers per channel instead of N thresholds. The input is clamped to [InputMin, InputMax] first, outside
which the level no longer changes, so the multiply stays narrow on a wide stream. `Requantize.execute_node`
is the reference the RTL must match; the constants (m, c) are input 1, a (channels, 2) int64 initializer.
With Pieces=2 (build_flows/piecewise_requantize.py: a PReLU-like table of two affine pieces) the constants are
(channels, 5): m0, c0, m1, c1, t, and the channel's (m, c) is (m0, c0) below its breakpoint t, (m1, c1) from t
on, with m of either sign.
"""
from __future__ import annotations

import math

import numpy as np
from qonnx.core.datatype import DataType
from qonnx.core.modelwrapper import ModelWrapper
from qonnx.custom_op.registry import getCustomOp

from xnorflow.hw.ops.channelwise_lut import ChannelwiseLUT
from xnorflow.hw.ops.common import HWOp, LayerRTL, fail, uses_dsp
from xnorflow.hw.resource_model import Memory
from xnorflow.hw.streams import operand_kind, signed_type

PARAM_FILE = "requant"       # lane p reads requant_m_<p>.mem and requant_c_<p>.mem (and m1, c1, t: Pieces=2)
PIECE_FILES = ("m", "c", "m1", "c1", "t")   # the ROM of each constants column
DSP48_PORTS = (25, 18)       # signed multiplier ports of a Xilinx DSP48E1


class Requantize(ChannelwiseLUT):
    """Channels-last y[..., ch] = clamp((m[ch] clip(x) + c[ch]) >> Shift, 0, Levels) + ActVal (Pieces=2: m, c
    of the piece below or from the channel's breakpoint)."""

    def get_nodeattr_types(self) -> dict:
        """ChannelwiseLUT's attributes plus the shift, level count, input clamp, output bias and piece count."""
        return super().get_nodeattr_types() | {
            "Shift": ("i", True, 0), "Levels": ("i", True, 0), "InputMin": ("i", True, 0),
            "InputMax": ("i", True, 0), "ActVal": ("i", False, 0), "Pieces": ("i", False, 1, {1, 2})}

    def execute_node(self, context: dict, graph) -> None:
        """Clamp, (pick the piece,) multiply, add, shift right (floor), clamp to the levels, add the output bias."""
        x = np.clip(np.rint(context[self.onnx_node.input[0]]).astype(np.int64),
                    self.get_nodeattr("InputMin"), self.get_nodeattr("InputMax"))
        params = np.asarray(context[self.onnx_node.input[1]], dtype=np.int64)
        level = piecewise_level(x, params, self.get_nodeattr("Shift"), self.get_nodeattr("Levels"))
        context[self.onnx_node.output[0]] = (level + self.get_nodeattr("ActVal")).astype(np.float32)


def piecewise_level(x: np.ndarray, params: np.ndarray, shift: int, levels: int) -> np.ndarray:
    """clamp((m x + c) >> shift, 0, levels) of integers x (..., C); params (C, 2) of m, c or (C, 5) of
    m0, c0, m1, c1, t (m0, c0 where x < t)."""
    m, c = params[:, 0], params[:, 1]
    if params.shape[1] == 5:
        below = x < params[:, 4]
        m, c = np.where(below, m, params[:, 2]), np.where(below, c, params[:, 3])
    return np.clip((m * x + c) >> shift, 0, levels)


def unsigned_bits(values: np.ndarray) -> int:
    """Bits of the largest of non-negative `values` (at least 1)."""
    return max(int(np.max(values)).bit_length(), 1)


def wide_mem_file(values: np.ndarray, bits: int) -> str:
    """$readmemh text of one integer per line, two's complement in `bits` bits (exact beyond float32)."""
    digits, mask = -(-bits // 4), (1 << bits) - 1
    return "".join(f"{int(v) & mask:0{digits}x}\n" for v in values)


def dsp48_tiles(a_bits: int, b_bits: int) -> int:
    """DSP48s of one signed a x b multiply: tiles of the 25 x 18 ports, the better orientation."""
    pa, pb = DSP48_PORTS
    return min(math.ceil(a_bits / pa) * math.ceil(b_bits / pb), math.ceil(a_bits / pb) * math.ceil(b_bits / pa))


def operand_types(widths: dict) -> tuple:
    """Signed operand types of the per-lane multiply as requantize.sv writes it: the clamped input (KBITS), and m
    with a zero sign bit (MBITS + 1: a multiply even for m = 1)."""
    return DataType[f"INT{widths['KBITS']}"], DataType[f"INT{widths['MBITS'] + 1}"]


def sum_bits(p: dict) -> int:
    """Width of requantize.sv's sum (SBITS): the widest of product, c and the signed level count, plus one."""
    return max(p["KBITS"] + p["MBITS"] + 1, p["CBITS"], p["LEVELS"].bit_length() + 1) + 1


class RequantizeOp(HWOp):
    """PE requantisers per cycle, each lane's two ROMs holding m and c of its channels (five with Pieces=2)."""

    op_type = "Requantize"
    folding = (("PE", "NumChannels"),)
    modules = {"requantize": ("skid_buffer.sv", "rom.sv", "operand_decode.sv", "channel_fold.sv",
                              "requantize.sv")}

    def constants(self, model: ModelWrapper, node) -> np.ndarray:
        """The (channels, 2) int64 constants m, c (m >= 0), or (channels, 5) m0, c0, m1, c1, t of Pieces=2 (t in
        the input clamp); one line if they are not."""
        inst = getCustomOp(node)
        params, pieces = model.get_initializer(node.input[1]), inst.get_nodeattr("Pieces")
        cols = 2 if pieces == 1 else len(PIECE_FILES)
        if params is None or params.shape != (inst.get_nodeattr("NumChannels"), cols):
            fail(node, f"its constants are not a (channels, {cols}) initializer",
                 "rebuild the HW graph (build_flows/requantize.py writes them)")
        if pieces == 1 and (params[:, 0] < 0).any():
            fail(node, "its constants are not a (channels, 2) initializer of m >= 0 and c",
                 "rebuild the HW graph (build_flows/requantize.py writes them)")
        if pieces == 2 and ((params[:, 4] < inst.get_nodeattr("InputMin")) |
                            (params[:, 4] > inst.get_nodeattr("InputMax"))).any():
            fail(node, "a breakpoint t lies outside [InputMin, InputMax]",
                 "rebuild the HW graph (build_flows/piecewise_requantize.py writes them)")
        return np.asarray(params, dtype=np.int64)

    def widths(self, model: ModelWrapper, node) -> dict:
        """Bit widths of the clamped input (signed), m (unsigned; signed for Pieces=2) and c (signed)."""
        inst, params = getCustomOp(node), self.constants(model, node)
        one = inst.get_nodeattr("Pieces") == 1
        m, c = (params[:, 0], params[:, 1]) if one else (params[:, [0, 2]], params[:, [1, 3]])
        return {"KBITS": signed_type(inst.get_nodeattr("InputMin"), inst.get_nodeattr("InputMax")).bitwidth(),
                "MBITS": unsigned_bits(m) if one else signed_type(int(m.min()), int(m.max())).bitwidth(),
                "CBITS": signed_type(int(c.min()), int(c.max())).bitwidth()}

    def multiplier(self, model: ModelWrapper, node) -> tuple:
        """Signed operand types of the node's per-lane multiply (operand_types)."""
        return operand_types(self.widths(model, node))

    def terms(self, rtl: LayerRTL) -> dict[str, float]:
        """Per lane: the sum's bits (adder, shift and clamps; Pieces=2 adds the breakpoint compare's and the m, c
        select's bits, adder-like logic) and, where Yosys maps it to no DSP48, the multiply's bit products;
        stream bits and a base."""
        p = rtl.design.params
        k, m = operand_types(p)
        lut_mul = 0 if uses_dsp(k, m) else k.bitwidth() * m.bitwidth()
        select = 0 if p.get("PIECES", 1) == 1 else p["KBITS"] + p["MBITS"] + p["CBITS"]
        return super().terms(rtl) | {"sum_bits": float(p["PE"] * (sum_bits(p) + select)),
                                     "lut_mul_bits": float(p["PE"] * lut_mul)}

    def extra_latency(self, rtl: LayerRTL) -> int:
        """requantize.sv's multiply and sum stages after its operand stage."""
        return 2

    def memories(self, rtl: LayerRTL) -> list[Memory]:
        """Per lane, the m and c roms of its channels (Pieces=2: also m1, c1 and the breakpoint t's)."""
        p = rtl.design.params
        folds = p["C"] // p["PE"]
        return [Memory(folds, bits, "rom") for _ in range(p["PE"]) for bits in rom_bits(p)]

    def dsps(self, model: ModelWrapper, node) -> int:
        """DSP48s: per lane, the tiles of its multiply where Yosys maps it to DSPs."""
        k, m = self.multiplier(model, node)
        if not uses_dsp(k, m):
            return 0
        return getCustomOp(node).get_nodeattr("PE") * dsp48_tiles(k.bitwidth(), m.bitwidth())

    def rtl(self, model: ModelWrapper, node) -> LayerRTL:
        """requantize with its m and c ROM files per lane."""
        self.check_folding(node)
        inst, params = getCustomOp(node), self.constants(model, node)
        ch, pe = inst.get_nodeattr("NumChannels"), inst.get_nodeattr("PE")
        idt, odt, w = inst.get_input_datatype(), inst.get_output_datatype(), self.widths(model, node)
        params_rtl = {"C": ch, "PE": pe, "IBITS": idt.bitwidth(), "IKIND": operand_kind(idt), **w,
                      "KLO": inst.get_nodeattr("InputMin"), "KHI": inst.get_nodeattr("InputMax"),
                      "SHIFT": inst.get_nodeattr("Shift"), "LEVELS": inst.get_nodeattr("Levels"),
                      "OBITS": odt.bitwidth(), "ACTVAL": inst.get_nodeattr("ActVal"), "PARAM_FILE": PARAM_FILE}
        if inst.get_nodeattr("Pieces") == 2:
            params_rtl["PIECES"] = 2
        bits = rom_bits(params_rtl)
        mems = {f"{PARAM_FILE}_{name}_{p}.mem": wide_mem_file(params[p::pe, col], bits[col])
                for p in range(pe) for col, name in enumerate(PIECE_FILES[:params.shape[1]])}
        return self.design(inst, "requantize", params_rtl, mems=mems)


def rom_bits(p: dict) -> tuple[int, ...]:
    """Word bits of a lane's ROMs, in PIECE_FILES order: m, c (and m1, c1, t of PIECES=2, t signed like the input)."""
    pair = (p["MBITS"], p["CBITS"])
    return pair if p.get("PIECES", 1) == 1 else pair + pair + (p["KBITS"],)
