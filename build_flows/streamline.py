"""QONNX -> FINN -> streamlined integer graph: FINN transformations in the order FINN-FACTS measured."""
from qonnx.core.modelwrapper import ModelWrapper
from qonnx.transformation.bipolar_to_xnor import ConvertBipolarMatMulToXnorPopcount
from qonnx.transformation.fold_constants import FoldConstants
from qonnx.transformation.general import (GiveReadableTensorNames, GiveUniqueNodeNames, RemoveStaticGraphInputs,
                                          RemoveUnusedTensors)
from qonnx.transformation.infer_data_layouts import InferDataLayouts
from qonnx.transformation.infer_datatypes import InferDataTypes
from qonnx.transformation.infer_shapes import InferShapes
from qonnx.transformation.lower_convs_to_matmul import LowerConvsToMatMul
from qonnx.transformation.remove import RemoveIdentityOps

from finn.transformation.qonnx.convert_qonnx_to_finn import ConvertQONNXtoFINN
from finn.transformation.streamline import Streamline
from finn.transformation.streamline.absorb import (AbsorbAddIntoMultiThreshold, AbsorbConsecutiveTransposes,
                                                   AbsorbMulIntoMultiThreshold, AbsorbScalarBiasIntoMultiThreshold,
                                                   AbsorbTransposeIntoMultiThreshold)
from finn.transformation.streamline.collapse_repeated import CollapseRepeatedMul
from finn.transformation.streamline.reorder import (MakeMaxPoolNHWC, MoveMulPastJoinAdd, MoveMulPastJoinConcat,
                                                    MoveScalarLinearPastFork, MoveScalarLinearPastInvariants,
                                                    MoveTransposePastEltwise, MoveTransposePastFork,
                                                    MoveTransposePastJoinAdd, MoveTransposePastJoinConcat,
                                                    MoveTransposePastScalarMul)
from finn.transformation.streamline.round_thresholds import RoundAndClipThresholds

from xnorflow.build_flows.padding import EncodeBipolarPadValue, FoldBipolarPadIntoIm2Col
from xnorflow.build_flows.prepare import prepare
from xnorflow.build_flows.rounding import HalfToEvenFloatThresholds, HalfToEvenIntegerThresholds

# The residual-net moves of FINN-FACTS, plus the identical-scale moves that make joins integer.
FIXPOINT_MOVES = [MoveScalarLinearPastFork(), MoveTransposePastScalarMul(), MoveTransposePastFork(),
                  MoveTransposePastEltwise(), MoveTransposePastJoinAdd(), MoveTransposePastJoinConcat(),
                  MoveMulPastJoinAdd(), MoveMulPastJoinConcat(), CollapseRepeatedMul(), RemoveIdentityOps(),
                  AbsorbTransposeIntoMultiThreshold(), AbsorbConsecutiveTransposes(), AbsorbMulIntoMultiThreshold(),
                  AbsorbAddIntoMultiThreshold(), MoveScalarLinearPastInvariants()]


def tidy(model: ModelWrapper) -> ModelWrapper:
    """FINN's tidy-up: shapes, constants, names, datatypes, layouts."""
    for t in (InferShapes(), FoldConstants(), GiveUniqueNodeNames(), GiveReadableTensorNames(), InferDataTypes(),
              InferDataLayouts(), RemoveStaticGraphInputs(), RemoveUnusedTensors()):
        model = model.transform(t)
    return model


def to_finn(model: ModelWrapper) -> ModelWrapper:
    """Checked, rewritten QONNX -> FINN MultiThreshold form with half-to-even thresholds."""
    model = prepare(tidy(model))
    model = tidy(model.transform(ConvertQONNXtoFINN()))
    return model.transform(HalfToEvenFloatThresholds())


def to_fixpoint(model: ModelWrapper) -> ModelWrapper:
    """Iterate Streamline and the residual moves until the graph stops changing."""
    previous = None
    while previous != model.model.SerializeToString():
        previous = model.model.SerializeToString()
        model = model.transform(Streamline())
        for t in FIXPOINT_MOVES:
            model = model.transform(t)
        model = tidy(model)
    return model


def streamline(model: ModelWrapper) -> ModelWrapper:
    """FINN graph -> lowered, XNOR-popcount, integer-threshold graph."""
    for t in (AbsorbScalarBiasIntoMultiThreshold(), MoveScalarLinearPastInvariants(), Streamline(), LowerConvsToMatMul(),
              MakeMaxPoolNHWC(), AbsorbTransposeIntoMultiThreshold(), AbsorbConsecutiveTransposes()):
        model = model.transform(t)
    model = tidy(model.transform(FoldBipolarPadIntoIm2Col()))
    model = tidy(model.transform(ConvertBipolarMatMulToXnorPopcount()).transform(EncodeBipolarPadValue()))
    return round_thresholds(to_fixpoint(model))


def round_thresholds(model: ModelWrapper) -> ModelWrapper:
    """Integer thresholds on integer inputs, ties to even, then FINN's clip to the input range."""
    return tidy(model.transform(HalfToEvenIntegerThresholds()).transform(RoundAndClipThresholds()))
