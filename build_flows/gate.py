"""R2B's data-driven channel re-scaling (Sec. 4.3, Eq. 3) in FINN's integer form (before ConvertQONNXtoFINN).

FINN converts neither a Sigmoid nor a product of two activations. Both are exact on fixed-point grids:
- sigmoid is monotonic, so Sigmoid -> Quant(unsigned, scale s) is a MultiThreshold whose thresholds are the
  smallest float32 inputs reaching each level (found on torch's own float32 sigmoid and round-half-even, so
  the thresholds give the Quant's result on every float32 input), times s;
- q_a s_a * q_g s_g = (q_a q_g) s_a s_g: the integer product of the block's stream and the frame's gate vector
  is our ChannelGateMul HW layer (hw/ops/channel_gate_mul.py), and s_a s_g joins the next quantizer's thresholds.
"""
import numpy as np
import torch
from onnx import NodeProto, helper
from qonnx.core.datatype import DataType
from qonnx.core.modelwrapper import ModelWrapper
from qonnx.transformation.base import Transformation
from qonnx.transformation.infer_shapes import InferShapes

from xnorflow.hw.ops import DOMAIN
from xnorflow.build_flows.prepare import chain, const, grid, nhwc, quant_dtype, quant_of, signed_grid, where
from xnorflow.errors import XnorflowError

SEARCH_STEPS = 64  # bisection over the float32 bit patterns of [-BOUND, BOUND]
BOUND = np.float32(64.0)  # sigmoid(64) is 1.0 in float32: every level boundary lies inside


def sigmoid_levels(x: np.ndarray, scale: float, bits: int) -> np.ndarray:
    """Quant(sigmoid(x)) level: sigmoid(x) / scale rounded half to even, clipped to 0 .. 2^bits - 1 (torch, float32)."""
    y = torch.sigmoid(torch.from_numpy(np.asarray(x, np.float32))) / np.float32(scale)
    return torch.clamp(torch.round(y), 0, 2 ** bits - 1).numpy()


def ordered(x: np.ndarray) -> np.ndarray:
    """float32 -> int64 keys in the floats' order."""
    bits = np.asarray(x, np.float32).view(np.int32).astype(np.int64)
    return np.where(bits < 0, -(bits & 0x7FFFFFFF), bits)


def unordered(k: np.ndarray) -> np.ndarray:
    """int64 keys -> float32 (inverse of `ordered`)."""
    bits = np.where(k < 0, (-k) | 0x80000000, k).astype(np.uint32)
    return bits.view(np.float32)


def sigmoid_thresholds(scale: float, bits: int) -> np.ndarray:
    """Per level m = 1 .. 2^bits - 1: the smallest float32 x with level(x) >= m (bisection on the float order)."""
    levels = np.arange(1, 2 ** bits, dtype=np.float32)
    lo = np.full(levels.shape, ordered(-BOUND)[()])
    hi = np.full(levels.shape, ordered(BOUND)[()])
    for _ in range(SEARCH_STEPS):
        mid = (lo + hi) // 2
        up = sigmoid_levels(unordered(mid), scale, bits) >= levels
        hi, lo = np.where(up, mid, hi), np.where(up, lo, mid)
    return unordered(hi)[None, :]


def before_half_to_even(thresholds: np.ndarray) -> np.ndarray:
    """Thresholds that HalfToEvenFloatThresholds (rounding.py) turns back into `thresholds`.

    It makes every threshold above an even level strict (next float up), for Quants whose thresholds sit on
    rounding midpoints; these are exact boundaries already, so those start one float below."""
    even = np.arange(thresholds.shape[-1]) % 2 == 0
    return np.where(even, np.nextafter(thresholds, np.float32(-np.inf)), thresholds).astype(np.float32)


class SigmoidQuantToThresholds(Transformation):
    """Sigmoid -> Quant(unsigned, zero point 0)  ==>  MultiThreshold (UINTb levels) -> Mul(scale)."""

    def apply(self, model: ModelWrapper) -> tuple[ModelWrapper, bool]:
        for node in model.graph.node:
            if node.op_type == "Sigmoid":
                self.rewrite(model, node)
                return model.transform(InferShapes()), True
        return model, False

    def rewrite(self, model: ModelWrapper, sigmoid: NodeProto) -> None:
        """Replace Sigmoid and its Quant by thresholds on the Sigmoid's input."""
        quant = model.find_consumer(sigmoid.output[0])
        if quant is None or quant.op_type != "Quant" or len(model.find_consumers(sigmoid.output[0])) != 1:
            raise XnorflowError(f"unquantized {where(model, sigmoid)}",
                                "follow the sigmoid with an unsigned QuantIdentity")
        scale, zero_point, bits, signed, _ = grid(model, quant)
        if signed or zero_point:
            raise XnorflowError(f"{where(model, quant)} quantizes a sigmoid with a signed or shifted grid",
                                "quantize the sigmoid with an unsigned fixed-point quantizer (zero point 0)")
        shape = model.get_tensor_shape(sigmoid.input[0])
        layout = "NC" if len(shape) == 2 else "NCHW"
        at = list(model.graph.node).index(sigmoid)
        model.graph.node.remove(sigmoid)
        model.graph.node.remove(quant)
        chain(model, at, sigmoid.input[0], quant.output[0], [
            ("MultiThreshold", [const(model, before_half_to_even(sigmoid_thresholds(scale, bits)))],
             {"domain": "qonnx.custom_op.general", "out_dtype": quant_dtype(model, quant).name,
              "data_layout": layout}, shape),
            ("Mul", [const(model, scale)], {}, shape)])


def gate_broadcast(model: ModelWrapper, tensor: str) -> tuple[NodeProto, list[NodeProto]] | None:
    """(the quantizer of a per-frame gate [N, C], the Unsqueeze/Reshape chain that broadcasts it to [N, C, 1, 1]) or
    None; the dynamo exporter writes one Unsqueeze, the TorchScript exporter two."""
    if model.get_tensor_shape(tensor)[2:] != [1, 1]:
        return None
    chain_nodes, prod = [], model.find_producer(tensor)
    while prod is not None and prod.op_type in ("Unsqueeze", "Reshape"):
        chain_nodes.append(prod)
        prod = model.find_producer(prod.input[0])
    quant = quant_of(model, chain_nodes[-1].input[0]) if chain_nodes else None
    return (quant, chain_nodes) if quant is not None else None


class GateMulToHW(Transformation):
    """Quant_a(x) [N,C,H,W] * Quant_g(g) [N,C,1,1] ==> Mul(1/s_a) -> NHWC -> ChannelGateMul -> NCHW -> Mul(s_a s_g)."""

    def apply(self, model: ModelWrapper) -> tuple[ModelWrapper, bool]:
        for node in model.graph.node:
            if node.op_type == "Mul" and all(model.get_initializer(i) is None for i in node.input):
                self.rewrite(model, node)
                return model.transform(InferShapes()), True
        return model, False

    def operands(self, model: ModelWrapper, mul: NodeProto) -> tuple[str, NodeProto, NodeProto, list[NodeProto]]:
        """(stream tensor, its Quant, the gate's Quant, the gate's broadcast chain) or an XnorflowError."""
        for k in (0, 1):
            qx, gate = quant_of(model, mul.input[k]), gate_broadcast(model, mul.input[1 - k])
            if qx is not None and gate is not None and len(model.get_tensor_shape(mul.input[k])) == 4:
                return mul.input[k], qx, *gate
        raise XnorflowError(f"{where(model, mul)} multiplies two activations",
                            "only a quantized [N,C,H,W] stream times a quantized per-frame [N,C] gate is supported "
                            "(R2B's ChannelGate)")

    def rewrite(self, model: ModelWrapper, mul: NodeProto) -> None:
        """The integer product on NHWC streams; the gate enters as its integer codes [N, C]."""
        x, qx, qg, broadcast = self.operands(model, mul)
        (s_x, *_), (s_g, *_) = grid(model, qx), grid(model, qg)
        xdt, gdt = quant_dtype(model, qx), quant_dtype(model, qg)
        products = [int(a * b) for a in (xdt.min(), xdt.max()) for b in (gdt.min(), gdt.max())]
        odt = DataType[f"INT{max(abs(p).bit_length() for p in products) + 1}"]
        shape, gshape = model.get_tensor_shape(x), model.get_tensor_shape(qg.output[0])
        at = list(model.graph.node).index(mul)
        model.graph.node.remove(mul)
        for node in broadcast:  # from the Mul back to the gate's quantizer
            if not model.find_consumers(node.output[0]):
                model.graph.node.remove(node)
        codes = model.make_new_valueinfo_name()
        model.graph.value_info.append(helper.make_tensor_value_info(codes, 1, gshape))
        model.graph.node.insert(at, helper.make_node("Mul", [qg.output[0], const(model, 1.0 / s_g)], [codes]))
        chain(model, at + 1, x, mul.output[0], [
            ("Mul", [const(model, 1.0 / s_x)], {}, shape),
            ("Transpose", [], {"perm": [0, 2, 3, 1]}, nhwc(shape)),
            ("ChannelGateMul", [codes], {"domain": DOMAIN, "backend": "fpgadataflow", "NumChannels": shape[1],
             "inputDataType": xdt.name, "gateDataType": gdt.name, "outputDataType": odt.name,
             "numInputVectors": nhwc(shape)[:3]}, nhwc(shape)),
            ("Transpose", [], {"perm": [0, 3, 1, 2]}, shape),
            ("Mul", [const(model, s_x * s_g)], {}, shape)])


class ReluSignedQuantToUnsigned(Transformation):
    """Relu -> Quant(signed b bits, zero point 0) ==> Relu -> Quant(unsigned, b - 1 bits): same values, FINN's form."""

    def apply(self, model: ModelWrapper) -> tuple[ModelWrapper, bool]:
        for node in model.graph.node:
            prod = model.find_producer(node.input[0]) if node.op_type == "Quant" else None
            if prod is not None and prod.op_type == "Relu" and signed_grid(model, node):
                node.input[3] = const(model, grid(model, node)[2] - 1)
                for attr in node.attribute:
                    if attr.name in ("signed", "narrow"):
                        attr.i = 0
                return model, True
        return model, False


def gates_to_integer(model: ModelWrapper) -> ModelWrapper:
    """The rewrites, after prepare's checks: the gate's hidden ReLU grid, gate products to ChannelGateMul (on the
    Quants), then sigmoids to thresholds."""
    for t in (ReluSignedQuantToUnsigned(), GateMulToHW(), SigmoidQuantToThresholds()):
        model = model.transform(t)
    return model
