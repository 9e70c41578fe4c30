"""Requantize, an op FINN lacks: y = clamp((m k + c) >> s, 0, N) + ActVal per channel, on our requantize.sv.

The integer form of N evenly spaced thresholds (build_flows/requantize.py finds m, c per channel and one s
per layer, exactly equal to the thresholds on the layer's reachable inputs): a multiplier per lane and two
numbers per channel instead of N thresholds. The input is clamped to [InputMin, InputMax] first, outside
which the level no longer changes, so the multiply stays narrow on a wide stream. `Requantize.execute_node`
is the reference the RTL must match; the constants (m, c) are input 1, a (channels, 2) int64 initializer.
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

PARAM_FILE = "requant"       # lane p reads requant_m_<p>.mem and requant_c_<p>.mem
DSP48_PORTS = (25, 18)       # signed multiplier ports of a Xilinx DSP48E1


class Requantize(ChannelwiseLUT):
    """Channels-last y[..., ch] = clamp((m[ch] clip(x) + c[ch]) >> Shift, 0, Levels) + ActVal."""

    def get_nodeattr_types(self) -> dict:
        """ChannelwiseLUT's attributes plus the shift, level count, input clamp and output bias."""
        return super().get_nodeattr_types() | {
            "Shift": ("i", True, 0), "Levels": ("i", True, 0), "InputMin": ("i", True, 0),
            "InputMax": ("i", True, 0), "ActVal": ("i", False, 0)}

    def execute_node(self, context: dict, graph) -> None:
        """Clamp, multiply, add, shift right (floor), clamp to the levels, add the output bias."""
        x = np.clip(np.rint(context[self.onnx_node.input[0]]).astype(np.int64),
                    self.get_nodeattr("InputMin"), self.get_nodeattr("InputMax"))
        m, c = np.asarray(context[self.onnx_node.input[1]], dtype=np.int64).T
        level = np.clip((m * x + c) >> self.get_nodeattr("Shift"), 0, self.get_nodeattr("Levels"))
        context[self.onnx_node.output[0]] = (level + self.get_nodeattr("ActVal")).astype(np.float32)


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
    """PE requantisers per cycle, each lane's two ROMs holding m and c of its channels."""

    op_type = "Requantize"
    folding = (("PE", "NumChannels"),)
    modules = {"requantize": ("skid_buffer.sv", "rom.sv", "operand_decode.sv", "channel_fold.sv",
                              "requantize.sv")}

    def constants(self, model: ModelWrapper, node) -> np.ndarray:
        """The (channels, 2) int64 constants m, c; one line if they are missing or m is negative."""
        inst = getCustomOp(node)
        params = model.get_initializer(node.input[1])
        if params is None or params.shape != (inst.get_nodeattr("NumChannels"), 2) or (params[:, 0] < 0).any():
            fail(node, "its constants are not a (channels, 2) initializer of m >= 0 and c",
                 "rebuild the HW graph (build_flows/requantize.py writes them)")
        return np.asarray(params, dtype=np.int64)

    def widths(self, model: ModelWrapper, node) -> dict:
        """Bit widths of the clamped input (signed), m (unsigned) and c (signed)."""
        inst, params = getCustomOp(node), self.constants(model, node)
        c = params[:, 1]
        return {"KBITS": signed_type(inst.get_nodeattr("InputMin"), inst.get_nodeattr("InputMax")).bitwidth(),
                "MBITS": unsigned_bits(params[:, 0]),
                "CBITS": signed_type(int(c.min()), int(c.max())).bitwidth()}

    def multiplier(self, model: ModelWrapper, node) -> tuple:
        """Signed operand types of the node's per-lane multiply (operand_types)."""
        return operand_types(self.widths(model, node))

    def terms(self, rtl: LayerRTL) -> dict[str, float]:
        """Per lane: the sum's bits (adder, shift and clamps) and, where Yosys maps it to no DSP48, the multiply's
        bit products; stream bits and a base."""
        p = rtl.design.params
        k, m = operand_types(p)
        lut_mul = 0 if uses_dsp(k, m) else k.bitwidth() * m.bitwidth()
        return super().terms(rtl) | {"sum_bits": float(p["PE"] * sum_bits(p)), "lut_mul_bits": float(p["PE"] * lut_mul)}

    def extra_latency(self, rtl: LayerRTL) -> int:
        """requantize.sv's multiply and sum stages after its operand stage."""
        return 2

    def memories(self, rtl: LayerRTL) -> list[Memory]:
        """Per lane, the m and c roms of its channels."""
        p = rtl.design.params
        folds = p["C"] // p["PE"]
        return [Memory(folds, bits, "rom") for _ in range(p["PE"]) for bits in (p["MBITS"], p["CBITS"])]

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
        mems = {}
        for p in range(pe):
            mems[f"{PARAM_FILE}_m_{p}.mem"] = wide_mem_file(params[p::pe, 0], w["MBITS"])
            mems[f"{PARAM_FILE}_c_{p}.mem"] = wide_mem_file(params[p::pe, 1], w["CBITS"])
        return self.design(inst, "requantize", params_rtl, mems=mems)
