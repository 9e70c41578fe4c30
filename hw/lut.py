"""RTL for xnorflow's ChannelwiseLUT layer (build_flows.custom_op), bit-exact with its python execution.

FINN has no lookup-table layer, so ReActNet's RPReLU (any slope) runs on our channelwise_lut.sv.
The ROM of lane p is addressed by {channel fold, raw input bits}: this module reorders each
channel's table from FINN's index (x - min) into raw-bit order, so the RTL needs no decoding.
"""
from __future__ import annotations

import numpy as np
from qonnx.core.datatype import BaseDataType
from qonnx.core.modelwrapper import ModelWrapper
from qonnx.custom_op.registry import getCustomOp

from xnorflow.errors import XnorflowError
from xnorflow.hw.layers import LayerRTL, sources
from xnorflow.hw.streams import mem_file, unpack_words
from xnorflow.hw.verilator import Design, Stream

LUT_FILE = "lut"


def raw_values(dtype: BaseDataType) -> np.ndarray:
    """The value each raw bit pattern 0 .. 2^bits-1 of `dtype` encodes (FINN's stream encoding)."""
    bits = dtype.bitwidth()
    codes = np.arange(2 ** bits, dtype=np.uint64).astype("<u8").view(np.uint8).reshape(-1, 8)
    words = codes[:, : (bits + 7) // 8]
    return unpack_words(words, dtype, (2 ** bits, 1)).reshape(-1).astype(np.int64)


def raw_order_tables(table: np.ndarray, idt: BaseDataType) -> np.ndarray:
    """Per channel, the table entry for each raw input pattern (0 where the pattern is not a value)."""
    idx = raw_values(idt) - int(idt.min())
    valid = (idx >= 0) & (idx < table.shape[1])
    return np.where(valid[None, :], table[:, np.clip(idx, 0, table.shape[1] - 1)], 0)


def lut_mem_files(table: np.ndarray, idt: BaseDataType, odt: BaseDataType, pe: int) -> dict[str, str]:
    """$readmemh text of every lane: lane p holds channels p, p+PE, ... one after another."""
    rows = raw_order_tables(np.asarray(table), idt)
    return {f"{LUT_FILE}_{p}.mem": mem_file(rows[p::pe].reshape(-1, 1), odt) for p in range(pe)}


def channelwise_lut_rtl(model: ModelWrapper, node) -> LayerRTL:
    """channelwise_lut for a ChannelwiseLUT node."""
    inst = getCustomOp(node)
    ch, pe = inst.get_nodeattr("NumChannels"), inst.get_nodeattr("PE")
    if pe <= 0 or ch % pe:
        raise XnorflowError(f"{node.name} (ChannelwiseLUT): PE={pe} does not divide NumChannels={ch}",
                            "choose a PE dividing NumChannels")
    idt, odt = inst.get_input_datatype(), inst.get_output_datatype()
    table = model.get_initializer(node.input[1])
    if table is None or table.shape[0] != ch:
        raise XnorflowError(f"{node.name} (ChannelwiseLUT): table is not a constant of {ch} rows",
                            "give the node its (channels, entries) table as an initializer")
    params = {"C": ch, "PE": pe, "IBITS": idt.bitwidth(), "OBITS": odt.bitwidth(), "LUT_FILE": LUT_FILE}
    design = Design("channelwise_lut", sources("channelwise_lut"),
                    (Stream("in0_V", pe * idt.bitwidth()),), (Stream("out0_V", pe * odt.bitwidth()),),
                    params)
    folded = tuple(int(d) for d in inst.get_folded_output_shape())
    return LayerRTL(design, lut_mem_files(table, idt, odt, pe), idt, folded, odt, folded,
                    tuple(int(d) for d in inst.get_normal_output_shape()))
