"""ChannelwiseLUT, an op FINN lacks: a per-channel lookup table int -> int, on our channelwise_lut.sv.

ReActNet's RPReLU(x) = PReLU(x - gamma) + zeta (ReActNet Eq. 4), requantized, is not monotonic when its
slope is negative, so it is not a Thresholding layer. On an integer stream of b bits it is exactly a table
of 2^b entries per channel: y[..., c] = table[c, x[..., c] - in_min] (also R2B's PReLU on the raw
popcount). `ChannelwiseLUT.execute_node` is the reference the RTL must match. The ROM of lane p is
addressed by {channel fold, raw input bits}: each channel's table is reordered from FINN's index
(x - min) into raw-bit order, so the RTL needs no decoding.
"""
from __future__ import annotations

import numpy as np
from onnx import helper
from qonnx.core.datatype import BaseDataType, DataType
from qonnx.core.modelwrapper import ModelWrapper
from qonnx.custom_op.registry import getCustomOp

from finn.custom_op.fpgadataflow.hwcustomop import HWCustomOp
from xnorflow.hw.ops.common import HWOp, LayerRTL, fail
from xnorflow.hw.resource_model import Memory
from xnorflow.hw.streams import mem_file, unpack_words

LUT_FILE = "lut"


class ChannelwiseLUT(HWCustomOp):
    """Channels-last lookup y[..., c] = table[c, x[..., c] - min(inputDataType)]; table is input 1."""

    def get_nodeattr_types(self) -> dict:
        """Attributes: channels, PE, stream datatypes, vectors per frame."""
        attrs = {
            "NumChannels": ("i", True, 0),
            "PE": ("i", False, 1),
            "inputDataType": ("s", True, ""),
            "outputDataType": ("s", True, ""),
            "numInputVectors": ("ints", False, [1]),
        }
        attrs.update(super().get_nodeattr_types())
        return attrs

    def make_shape_compatible_op(self, model):
        """Elementwise: output shape equals input shape."""
        return helper.make_node("Identity", [self.onnx_node.input[0]], [self.onnx_node.output[0]])

    def infer_node_datatype(self, model) -> None:
        """The output stream has outputDataType."""
        model.set_tensor_datatype(self.onnx_node.output[0], self.get_output_datatype())

    def verify_node(self) -> list[str]:
        """Nothing beyond the required attributes."""
        return []

    def execute_node(self, context: dict, graph) -> None:
        """Index each channel's table with the integer input."""
        x = context[self.onnx_node.input[0]]
        table = context[self.onnx_node.input[1]]
        idx = np.rint(x).astype(np.int64) - int(self.get_input_datatype().min())
        chan = np.broadcast_to(np.arange(table.shape[0]), idx.shape)
        context[self.onnx_node.output[0]] = table[chan, idx].astype(np.float32)

    def get_input_datatype(self, ind: int = 0) -> DataType:
        """Integer input stream type."""
        return DataType[self.get_nodeattr("inputDataType")]

    def get_output_datatype(self, ind: int = 0) -> DataType:
        """Integer output stream type."""
        return DataType[self.get_nodeattr("outputDataType")]

    def get_normal_input_shape(self, ind: int = 0) -> tuple[int, ...]:
        """(1, ..., C) channels last."""
        return tuple(self.get_nodeattr("numInputVectors")) + (self.get_nodeattr("NumChannels"),)

    def get_normal_output_shape(self, ind: int = 0) -> tuple[int, ...]:
        """Same as the input."""
        return self.get_normal_input_shape()

    def get_folded_input_shape(self, ind: int = 0) -> tuple[int, ...]:
        """Channels folded by PE."""
        pe = self.get_nodeattr("PE")
        return tuple(self.get_nodeattr("numInputVectors")) + (self.get_nodeattr("NumChannels") // pe, pe)

    def get_folded_output_shape(self, ind: int = 0) -> tuple[int, ...]:
        """Same as the input."""
        return self.get_folded_input_shape()

    def get_instream_width(self, ind: int = 0) -> int:
        """PE input words per cycle."""
        return self.get_nodeattr("PE") * self.get_input_datatype().bitwidth()

    def get_outstream_width(self, ind: int = 0) -> int:
        """PE output words per cycle."""
        return self.get_nodeattr("PE") * self.get_output_datatype().bitwidth()

    def get_number_output_values(self) -> int:
        """Folded output words per frame."""
        return int(np.prod(self.get_folded_output_shape()[:-1]))

    def get_exp_cycles(self) -> int:
        """One folded word per cycle."""
        return self.get_number_output_values()


def raw_values(dtype: BaseDataType) -> np.ndarray:
    """The value each raw bit pattern 0 .. 2^bits-1 of `dtype` encodes (FINN's stream encoding)."""
    bits = dtype.bitwidth()
    codes = np.arange(2 ** bits, dtype=np.uint64).astype("<u8").view(np.uint8).reshape(-1, 8)
    return unpack_words(codes[:, : (bits + 7) // 8], dtype, (2 ** bits, 1)).reshape(-1).astype(np.int64)


def raw_order_tables(table: np.ndarray, idt: BaseDataType) -> np.ndarray:
    """Per channel, the table entry for each raw input pattern (0 where the pattern is not a value)."""
    idx = raw_values(idt) - int(idt.min())
    valid = (idx >= 0) & (idx < table.shape[1])
    return np.where(valid[None, :], table[:, np.clip(idx, 0, table.shape[1] - 1)], 0)


def lut_mem_files(table: np.ndarray, idt: BaseDataType, odt: BaseDataType, pe: int) -> dict[str, str]:
    """$readmemh text of every lane: lane p holds channels p, p+PE, ... one after another."""
    rows = raw_order_tables(np.asarray(table), idt)
    return {f"{LUT_FILE}_{p}.mem": mem_file(rows[p::pe].reshape(-1, 1), odt) for p in range(pe)}


class ChannelwiseLUTOp(HWOp):
    """PE table lookups per cycle, each lane's ROM holding its channels' tables."""

    op_type = "ChannelwiseLUT"
    folding = (("PE", "NumChannels"),)
    modules = {"channelwise_lut": ("skid_buffer.sv", "rom.sv", "channel_fold.sv", "channelwise_lut.sv")}

    def memories(self, rtl: LayerRTL) -> list[Memory]:
        """Each lane's rom: its C/PE channels' tables of 2^IBITS entries."""
        p = rtl.design.params
        return [Memory((p["C"] // p["PE"]) << p["IBITS"], p["OBITS"], "rom") for _ in range(p["PE"])]

    def rtl(self, model: ModelWrapper, node) -> LayerRTL:
        """channelwise_lut with one ROM file per lane."""
        self.check_folding(node)
        inst = getCustomOp(node)
        ch, pe = inst.get_nodeattr("NumChannels"), inst.get_nodeattr("PE")
        idt, odt = inst.get_input_datatype(), inst.get_output_datatype()
        table = model.get_initializer(node.input[1])
        if table is None or table.shape[0] != ch:
            fail(node, f"table is not a constant of {ch} rows",
                 "give the node its (channels, entries) table as an initializer")
        params = {"C": ch, "PE": pe, "IBITS": idt.bitwidth(), "OBITS": odt.bitwidth(), "LUT_FILE": LUT_FILE}
        return self.design(inst, "channelwise_lut", params, mems=lut_mem_files(table, idt, odt, pe))
