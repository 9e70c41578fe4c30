"""Our HW layers FINN lacks: a per-channel lookup table int -> int, and a per-frame channel gate multiply.

- ChannelwiseLUT: RPReLU(x) = PReLU(x - gamma) + zeta, requantized, is not monotonic when its slope is
  negative, so it is not a Thresholding layer. On an integer stream of b bits it is exactly a table of 2^b
  entries per channel: y[..., c] = table[c, x[..., c] - in_min] (also R2B's PReLU on the raw popcount).
- ChannelGateMul: Real-to-Binary's data-driven re-scaling (R2B Eq. 3) multiplies every pixel of a stream by
  a per-frame channel vector computed from the same frame: an activation x activation product, which no
  FINN streaming layer computes.
This module is the ONNX domain `xnorflow.build_flows.custom_op` (qonnx finds ops through the module-level
`custom_op` dict); each `execute_node` is the reference semantics the RTL must match.
"""
import numpy as np
from onnx import helper
from qonnx.core.datatype import DataType

from finn.custom_op.fpgadataflow.hwcustomop import HWCustomOp

DOMAIN = "xnorflow.build_flows.custom_op"


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


class ChannelGateMul(ChannelwiseLUT):
    """y[n, ..., c] = x[n, ..., c] * g[n, c] of a channels-last stream and a per-frame gate (input 1)."""

    def get_nodeattr_types(self) -> dict:
        """ChannelwiseLUT's attributes plus the gate stream's datatype."""
        return super().get_nodeattr_types() | {"gateDataType": ("s", True, "")}

    def execute_node(self, context: dict, graph) -> None:
        """Multiply each pixel's channels by the frame's gate vector."""
        x, g = context[self.onnx_node.input[0]], context[self.onnx_node.input[1]]
        gate = g.reshape(g.shape[0], *([1] * (x.ndim - 2)), g.shape[-1])
        context[self.onnx_node.output[0]] = (x * gate).astype(np.float32)

    def get_input_datatype(self, ind: int = 0) -> DataType:
        """Stream (0) or gate (1) datatype."""
        return DataType[self.get_nodeattr("gateDataType" if ind == 1 else "inputDataType")]

    def get_normal_input_shape(self, ind: int = 0) -> tuple[int, ...]:
        """(1, ..., C) for the stream, (1, C) for the gate."""
        shape = super().get_normal_input_shape()
        return (shape[0], shape[-1]) if ind == 1 else shape

    def get_folded_input_shape(self, ind: int = 0) -> tuple[int, ...]:
        """Channels folded by PE, on both inputs."""
        *outer, c = self.get_normal_input_shape(ind)
        pe = self.get_nodeattr("PE")
        return (*outer, c // pe, pe)

    def get_normal_output_shape(self, ind: int = 0) -> tuple[int, ...]:
        """The stream's shape."""
        return self.get_normal_input_shape(0)

    def get_folded_output_shape(self, ind: int = 0) -> tuple[int, ...]:
        """The stream's folded shape."""
        return self.get_folded_input_shape(0)

    def get_instream_width(self, ind: int = 0) -> int:
        """PE words of the stream or the gate per cycle."""
        return self.get_nodeattr("PE") * self.get_input_datatype(ind).bitwidth()


custom_op = {"ChannelwiseLUT": ChannelwiseLUT, "ChannelGateMul": ChannelGateMul}
