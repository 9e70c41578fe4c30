"""Per-channel functions FINN leaves between an integer stream and a quantizer, as one ChannelwiseLUT.

Real-to-Binary's block (R2B Sec. 4.1) leaves two such chains that no threshold can express:
- PReLU on the binary conv output times a learnt per-channel scale, then the shortcut grid: after FINN's
  XNOR conversion, popcount P -> x 2 - K (FINN's 2P - K correction) -> x scale -> PReLU -> MultiThreshold,
  not monotonic when a slope is negative;
- BN -> sign with a negative BN scale: FINN factors out a Mul(-1) it cannot absorb, and a decreasing step is
  no threshold.
The source only takes a few values (P in 0..K, a grid tensor in its 2^b codes), so the whole chain is a table
per channel, evaluated here with the graph's own float32 ops: exact on every input, since it is the
streamlined graph's function. The MVAU then streams P itself (NarrowPopcountOutputs).
"""
import numpy as np
from onnx import NodeProto, helper
from qonnx.core.datatype import DataType
from qonnx.core.modelwrapper import ModelWrapper
from qonnx.custom_op.general.multithreshold import multithreshold
from qonnx.custom_op.registry import getCustomOp
from qonnx.transformation.base import Transformation

from xnorflow.hw.ops import DOMAIN
from xnorflow.build_flows.prepare import new_tensor
from xnorflow.errors import XnorflowError

CONST_OPS = ("Mul", "Add", "Sub", "Div")
MAX_SOURCE_BITS = 10  # tables of up to 2^10 entries per channel


def uint_for(top: int) -> DataType:
    """The narrowest UINTn holding 0..top."""
    return DataType[f"UINT{max(1, int(top).bit_length())}"]


def is_const_op(model: ModelWrapper, node: NodeProto) -> bool:
    """A Transpose, or a Mul/Add/Sub/Div with a constant second operand."""
    if node.op_type == "Transpose":
        return True
    return node.op_type in CONST_OPS and model.get_initializer(node.input[1]) is not None


def source_type(model: ModelWrapper, tensor: str) -> DataType | None:
    """The value range of an integer tensor a table can index: UINTn for 0..K of a popcount, else its small int type."""
    prod = model.find_producer(tensor)
    if prod is not None and prod.op_type == "XnorPopcountMatMul":
        return uint_for(model.get_tensor_shape(prod.input[1])[0])
    dtype = model.get_tensor_datatype(tensor)
    return dtype if dtype.is_integer() and dtype.bitwidth() <= MAX_SOURCE_BITS else None


def chain_into(model: ModelWrapper, mt: NodeProto) -> tuple[str, list[NodeProto]] | None:
    """(channels-last integer source, the PRelu/constant ops from it and `mt`), or None where FINN's own forms do."""
    chain, tensor = [mt], mt.input[0]
    prod = model.find_producer(tensor)
    while source_type(model, tensor) is None and prod is not None and len(model.find_consumers(tensor)) == 1 \
            and (prod.op_type == "PRelu" or is_const_op(model, prod)):
        chain.insert(0, prod)
        tensor = prod.input[0]
        prod = model.find_producer(tensor)
    if all(n.op_type in ("Transpose", "MultiThreshold") for n in chain):
        return None
    layout = model.get_tensor_layout(tensor)
    if source_type(model, tensor) is None or not layout or layout[-1] != "C":
        if any(n.op_type == "PRelu" for n in chain):
            raise XnorflowError(f"PRelu before '{mt.name}' reads a float, wide or channels-first tensor",
                                "apply PReLU to a binary conv output (times constants) or a shortcut-grid tensor, "
                                "then quantize")
        return None
    return tensor, chain


def evaluate(model: ModelWrapper, chain: list[NodeProto], x: np.ndarray, axis: int) -> tuple[np.ndarray, int]:
    """Run the chain's ops in float32 on x (channel axis `axis`); the result and its channel axis."""
    for node in chain:
        const = model.get_initializer(node.input[1]) if len(node.input) > 1 else None
        if node.op_type == "Transpose":
            perm = list(helper.get_attribute_value(node.attribute[0]))
            x, axis = np.transpose(x, perm), perm.index(axis % x.ndim)
        elif node.op_type == "PRelu":
            x = np.where(x < 0, x * const, x)
        elif node.op_type == "MultiThreshold":
            inst = getCustomOp(node)
            x = multithreshold(x, const, inst.get_nodeattr("out_scale"), inst.get_nodeattr("out_bias"),
                               channels_last=inst.get_nodeattr("data_layout")[-1] == "C")
        else:
            x = {"Mul": np.multiply, "Add": np.add, "Sub": np.subtract, "Div": np.divide}[node.op_type](x, const)
        x = np.asarray(x, dtype=np.float32)
    return x, axis


def table(model: ModelWrapper, tensor: str, chain: list[NodeProto], idt: DataType) -> tuple[np.ndarray, list[int]]:
    """(channels, entries) table of the chain on every source value, and the chain's composed permutation."""
    shape = model.get_tensor_shape(tensor)
    values = np.arange(int(idt.min()), int(idt.max()) + 1, dtype=np.float32)
    x = np.broadcast_to(values.reshape(-1, *([1] * (len(shape) - 1))), (len(values), *([1] * (len(shape) - 2)),
                                                                        shape[-1])).astype(np.float32)
    y, axis = evaluate(model, chain, x, len(shape) - 1)
    perm = list(range(len(shape)))
    for node in chain:
        if node.op_type == "Transpose":
            perm = [perm[p] for p in helper.get_attribute_value(node.attribute[0])]
    return np.moveaxis(y, axis, -1).reshape(len(values), shape[-1]).T.copy(), perm


class ChainToLUT(Transformation):
    """integer source -> [Mul, Add, Transpose, PRelu ...] -> MultiThreshold  ==>  ChannelwiseLUT [-> Transpose]."""

    def apply(self, model: ModelWrapper) -> tuple[ModelWrapper, bool]:
        for node in model.graph.node:
            found = chain_into(model, node) if node.op_type == "MultiThreshold" else None
            if found is not None:
                self.rewrite(model, *found)
                return model, True
        return model, False

    def rewrite(self, model: ModelWrapper, tensor: str, chain: list[NodeProto]) -> None:
        """Replace the chain by the lookup on its source (channels last) and the chain's net Transpose."""
        idt = source_type(model, tensor)
        entries, perm = table(model, tensor, chain, idt)
        out, odt = chain[-1].output[0], model.get_tensor_datatype(chain[-1].output[0])
        shape = model.get_tensor_shape(tensor)
        at = list(model.graph.node).index(chain[0])
        for node in chain:
            model.graph.node.remove(node)
        lut_out = out if perm == sorted(perm) else new_tensor(model, shape)
        table_name = model.make_new_valueinfo_name()
        model.set_initializer(table_name, entries)
        model.graph.node.insert(at, helper.make_node(
            "ChannelwiseLUT", [tensor, table_name], [lut_out], domain=DOMAIN, backend="fpgadataflow",
            NumChannels=shape[-1], inputDataType=idt.name, outputDataType=odt.name, numInputVectors=shape[:-1]))
        model.set_tensor_datatype(lut_out, odt)
        if lut_out != out:
            model.graph.node.insert(at + 1, helper.make_node("Transpose", [lut_out], [out], perm=perm))


class NarrowPopcountOutputs(Transformation):
    """An XNOR MVAU streaming its raw popcount (noActivation) sends UINTn for 0..MW, not FINN's UINT32."""

    def apply(self, model: ModelWrapper) -> tuple[ModelWrapper, bool]:
        for node in model.graph.node:
            if node.op_type != "MVAU":
                continue
            inst = getCustomOp(node)
            if inst.get_nodeattr("binaryXnorMode") and inst.get_nodeattr("noActivation"):
                odt = uint_for(inst.get_nodeattr("MW"))
                inst.set_nodeattr("outputDataType", odt.name)
                model.set_tensor_datatype(node.output[0], odt)
        return model, False
