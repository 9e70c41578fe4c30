"""DuplicateStreams (the fork of a shortcut) on our duplicate_streams.sv, two outputs per node.

The reference is FINN's DuplicateStreams python execution; wider forks are chained by folding.split_forks.
"""
from __future__ import annotations

from qonnx.core.modelwrapper import ModelWrapper
from qonnx.custom_op.registry import getCustomOp

from xnorflow.hw.ops.common import HWOp, LayerRTL, fail


class DuplicateStreamsOp(HWOp):
    """Each word to both outputs, when both take it."""

    op_type = "DuplicateStreams"
    folding = (("PE", "NumChannels"),)
    modules = {"duplicate_streams": ("skid_buffer.sv", "duplicate_streams.sv")}

    def rtl(self, model: ModelWrapper, node) -> LayerRTL:
        """duplicate_streams."""
        self.check_folding(node)
        inst = getCustomOp(node)
        if inst.get_nodeattr("NumOutputStreams") != 2:
            fail(node, f"{inst.get_nodeattr('NumOutputStreams')} output streams",
                 "fork into two streams per DuplicateStreams node (chain them for more)")
        width = inst.get_nodeattr("PE") * inst.get_input_datatype().bitwidth()
        return self.design(inst, "duplicate_streams", {"W": width}, n_out=2)
