"""QONNX -> FINN -> streamlined integer graph: FINN transformations in the order residual nets need.

FINN's `Streamline` is rerun here as its own transformation list with two changes:
- identity removal is exact: FINN/qonnx's RemoveIdentityOps drops any Mul within rtol 1e-5 of 1 and any Add
  within 1e-5 of 0, so a BatchNorm with var 1 (scale 1/sqrt(1 + eps) = 0.999995) lost its eps and flipped
  near-tie rounding (the initial-weights stem bug). ConvertQONNXtoFINN runs it on the whole graph too (inside
  GemmToMatMul and as its last step), where it dropped an RSign shift within 1e-5 of 0: it runs with
  RemoveIdentityOps made exact;
- transformations edit the graph in place, and the clean-up (names, sort) runs once per pass, not after each step.
"""
from collections.abc import Iterable
from contextlib import AbstractContextManager

import numpy as np
from qonnx.core.modelwrapper import ModelWrapper
from qonnx.transformation.base import Transformation
from qonnx.transformation.batchnorm_to_affine import BatchNormToAffine
from qonnx.transformation.bipolar_to_xnor import ConvertBipolarMatMulToXnorPopcount
from qonnx.transformation.fold_constants import FoldConstants
from qonnx.transformation.general import (ConvertDivToMul, ConvertSubToAdd, GiveReadableTensorNames,
                                          GiveUniqueNodeNames, RemoveStaticGraphInputs, RemoveUnusedTensors)
from qonnx.transformation.infer_data_layouts import InferDataLayouts
from qonnx.transformation.infer_datatypes import InferDataTypes
from qonnx.transformation.infer_shapes import InferShapes
from qonnx.transformation.lower_convs_to_matmul import LowerConvsToMatMul
from qonnx.transformation.remove import RemoveIdentityOps, remove_node_and_rewire

from finn.transformation.qonnx.convert_qonnx_to_finn import ConvertQONNXtoFINN
from finn.transformation.streamline.absorb import (Absorb1BitMulIntoConv, Absorb1BitMulIntoMatMul,
                                                   AbsorbAddIntoMultiThreshold, AbsorbConsecutiveTransposes,
                                                   AbsorbMulIntoMultiThreshold,
                                                   AbsorbTransposeIntoMultiThreshold, FactorOutMulSignMagnitude)
from finn.transformation.streamline.collapse_repeated import CollapseRepeatedAdd, CollapseRepeatedMul
from finn.transformation.streamline.reorder import (MakeMaxPoolNHWC, MoveAddPastConv, MoveAddPastMul,
                                                    MoveMulPastJoinAdd, MoveMulPastJoinConcat, MoveMulPastMaxPool,
                                                    MoveScalarAddPastMatMul, MoveScalarLinearPastFork,
                                                    MoveScalarLinearPastInvariants, MoveScalarMulPastConv,
                                                    MoveScalarMulPastMatMul, MoveScalesPastIm2Col,
                                                    MoveTransposePastEltwise, MoveTransposePastFork,
                                                    MoveTransposePastJoinAdd, MoveTransposePastJoinConcat,
                                                    MoveTransposePastScalarMul)
from finn.transformation.streamline.round_thresholds import RoundAndClipThresholds
from finn.transformation.streamline.sign_to_thres import ConvertSignToThres

from xnorflow.build_flows.batched import AbsorbScalarBiasesIntoMultiThresholds
from xnorflow.build_flows.chain_lut import ChainToLUT
from xnorflow.build_flows.gate import gates_to_integer
from xnorflow.build_flows.maxpool import ChannelsLastConstantsTo1D, MoveLinearPastMaxPool
from xnorflow.build_flows.padding import EncodeBipolarPadValue, FoldBipolarPadIntoIm2Col, UnshareBipolarThresholds
from xnorflow.build_flows.prepare import prepare
from xnorflow.build_flows.qonnx_patches import swapped
from xnorflow.build_flows.rounding import (NEAR_TIES, HalfToEvenFloatThresholds, HalfToEvenIntegerThresholds,
                                          near_ties)


class RemoveExactIdentityOps(Transformation):
    """Remove Add/Sub of exactly 0, Mul/Div by exactly 1, Pad by 0 and Identity nodes (never a near-identity)."""

    def apply(self, model: ModelWrapper) -> tuple[ModelWrapper, bool]:
        neutral = {"Add": 0.0, "Sub": 0.0, "Mul": 1.0, "Div": 1.0, "Pad": 0}
        for node in list(model.graph.node):
            const = model.get_initializer(node.input[1]) if node.op_type in neutral else None
            if node.op_type == "Identity" or (const is not None and np.all(const == neutral[node.op_type])):
                remove_node_and_rewire(model, node)
        return model, False


def exact_remove_identity_ops(self, model: ModelWrapper) -> tuple[ModelWrapper, bool]:
    """RemoveIdentityOps.apply made exact: RemoveExactIdentityOps, then shapes as qonnx's does."""
    model, _ = RemoveExactIdentityOps().apply(model)
    return model.transform(InferShapes()), False


def exact_identities() -> AbstractContextManager[None]:
    """Run the block with qonnx's RemoveIdentityOps (called inside FINN/qonnx transformations) made exact."""
    return swapped([(RemoveIdentityOps, "apply", exact_remove_identity_ops)])


# FINN's Streamline list (finn.transformation.streamline.Streamline), same order; one step batched (batched.py).
STREAMLINE = [ConvertSubToAdd(), ConvertDivToMul(), BatchNormToAffine(), ConvertSignToThres(), MoveMulPastMaxPool(),
              AbsorbScalarBiasesIntoMultiThresholds(), MoveScalesPastIm2Col(), MoveScalarLinearPastInvariants(),
              MoveAddPastMul(), MoveScalarAddPastMatMul(), MoveAddPastConv(), MoveScalarMulPastMatMul(),
              MoveScalarMulPastConv(), MoveAddPastMul(), CollapseRepeatedAdd(), CollapseRepeatedMul(),
              MoveMulPastMaxPool(), AbsorbAddIntoMultiThreshold(), FactorOutMulSignMagnitude(),
              AbsorbMulIntoMultiThreshold(), Absorb1BitMulIntoMatMul(), Absorb1BitMulIntoConv()]

# FINN's moves past forks, joins and transposes that residual nets need, plus the identical-scale moves that make
# joins integer, and the moves that put max pools on integers (maxpool.py).
FIXPOINT_MOVES = [MoveLinearPastMaxPool(), MakeMaxPoolNHWC(), ChannelsLastConstantsTo1D(), MoveScalarLinearPastFork(),
                  MoveTransposePastScalarMul(), MoveTransposePastFork(),
                  MoveTransposePastEltwise(), MoveTransposePastJoinAdd(), MoveTransposePastJoinConcat(),
                  MoveMulPastJoinAdd(), MoveMulPastJoinConcat(), CollapseRepeatedMul(),
                  AbsorbTransposeIntoMultiThreshold(), AbsorbConsecutiveTransposes(), AbsorbMulIntoMultiThreshold(),
                  AbsorbAddIntoMultiThreshold(), MoveScalarLinearPastInvariants()]


def run(model: ModelWrapper, transforms: Iterable[Transformation]) -> ModelWrapper:
    """Apply each transformation in place, removing exact identities; datatypes and layouts once if anything changed."""
    start = signature(model)
    for t in transforms:
        before = signature(model)
        model = model.transform(t, make_deepcopy=False, cleanup=False)
        if signature(model) != before:
            model = model.transform(RemoveExactIdentityOps(), make_deepcopy=False, cleanup=False)
    if signature(model) != start:
        for step in (InferDataTypes(), InferDataLayouts()):
            model = model.transform(step, make_deepcopy=False, cleanup=False)
    return model


def tidy(model: ModelWrapper) -> ModelWrapper:
    """FINN's tidy-up: shapes, constants, names, datatypes, layouts, then qonnx's clean-up (sort, unused tensors)."""
    for t in (InferShapes(), FoldConstants(), GiveUniqueNodeNames(), GiveReadableTensorNames(), InferDataTypes(),
              InferDataLayouts(), RemoveStaticGraphInputs(), RemoveUnusedTensors()):
        model = model.transform(t, make_deepcopy=False, cleanup=False)
    return model.cleanup()


def signature(model: ModelWrapper) -> tuple:
    """The graph's structure (ops and their tensors): what the fixpoint loops watch."""
    return tuple((n.op_type, tuple(n.input), tuple(n.output)) for n in model.graph.node)


def to_finn(model: ModelWrapper) -> ModelWrapper:
    """Checked, rewritten QONNX -> FINN MultiThreshold form with half-to-even thresholds."""
    model = gates_to_integer(prepare(tidy(model)))
    with exact_identities():
        model = tidy(model.transform(ConvertQONNXtoFINN()))
    return model.transform(HalfToEvenFloatThresholds())


def moves_to_fixpoint(model: ModelWrapper) -> ModelWrapper:
    """Iterate the residual moves until the graph stops changing."""
    previous = None
    while previous != signature(model):
        previous = signature(model)
        model = run(model, FIXPOINT_MOVES)
    return model


def to_fixpoint(model: ModelWrapper) -> ModelWrapper:
    """Streamline, then the residual moves to their fixpoint; again while the moves changed the graph."""
    while True:
        model = run(model, STREAMLINE)
        before = signature(model)
        model = moves_to_fixpoint(model)
        if signature(model) == before:
            return tidy(model)


def streamline(model: ModelWrapper) -> ModelWrapper:
    """FINN graph -> lowered, XNOR-popcount, integer-threshold graph."""
    model = run(model, [AbsorbScalarBiasesIntoMultiThresholds(), MoveScalarLinearPastInvariants()])
    model = run(model, STREAMLINE + [LowerConvsToMatMul(), MakeMaxPoolNHWC(), AbsorbTransposeIntoMultiThreshold(),
                                     AbsorbConsecutiveTransposes(), FoldBipolarPadIntoIm2Col(),
                                     UnshareBipolarThresholds()])
    model = run(tidy(model), [ConvertBipolarMatMulToXnorPopcount(), EncodeBipolarPadValue()])
    return round_thresholds(to_lut_fixpoint(tidy(model)))


def to_lut_fixpoint(model: ModelWrapper) -> ModelWrapper:
    """to_fixpoint, then tabulate the per-channel chains it cannot absorb (R2B's PReLU, BN-sign); until none is left."""
    while True:
        model = to_fixpoint(model)
        before = signature(model)
        model = model.transform(ChainToLUT())
        if signature(model) == before:
            return model


def round_thresholds(model: ModelWrapper) -> ModelWrapper:
    """Integer thresholds on integer inputs, ties to even, then FINN's clip to the input range (near ties counted)."""
    count = near_ties(model) + int(model.get_metadata_prop(NEAR_TIES) or 0)  # runs again after HW conversion
    model = tidy(run(model, [HalfToEvenIntegerThresholds(), RoundAndClipThresholds()]))
    model.set_metadata_prop(NEAR_TIES, str(count))
    return model
