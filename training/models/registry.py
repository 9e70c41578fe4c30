"""The model registry: a builder for every name of the catalog (training/models/catalog.py)."""
import inspect
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from torch import nn

from xnorflow.errors import XnorflowError
from xnorflow.training.layers import QuantSpec
from xnorflow.training.models.bireal import BiRealBlock
from xnorflow.training.models.catalog import Complexity, entry
from xnorflow.training.models.complexity import count
from xnorflow.training.models.hyperbnn import HyperBlock
from xnorflow.training.models.reactnet import ReActNet
from xnorflow.training.models.real2bin import Real2BinBlock
from xnorflow.training.models.staged import StagedNet

Builder = Callable[..., nn.Module]  # (in_channels, num_classes, spec, **options) -> model

REACTNET_A = [32, 64, 128, 128, 256, 256, 512, 512, 512, 512, 512, 512, 1024, 1024]


def block_options(block: type) -> tuple[str, ...]:
    """The keyword options of a block class: its __init__ parameters after (cin, cout, stride, spec)."""
    return tuple(inspect.signature(block.__init__).parameters)[5:]


def _staged(block: type, stages: list[tuple[int, int]], stem: tuple[int, int, int, bool],
            head_relu: bool = False) -> Builder:
    """A ResNet-layout builder whose blocks take (cin, cout, stride, spec, **options)."""
    def build(cin: int, classes: int, spec: QuantSpec, **options: bool) -> nn.Module:
        return StagedNet(stages, stem, cin, classes, spec, lambda i, o, s: block(i, o, s, spec, **options), head_relu)
    build.options = block_options(block)
    return build


def _bireal(stages: list[tuple[int, int]], stem: tuple[int, int, int, bool]) -> Builder:
    return _staged(BiRealBlock, stages, stem)


def _real2bin(stages: list[tuple[int, int]], stem: tuple[int, int, int, bool]) -> Builder:
    """Options: gating (data-driven channel re-scaling, default on), gate_reads_bn (R2B Fig. 1's gate input, off)."""
    return _staged(Real2BinBlock, stages, stem)


def _hyperbnn(stages: list[tuple[int, int]], stem: tuple[int, int, int, bool]) -> Builder:
    """Options: hyper (HyperConv), dpconv, enhanced (shortcuts), dpconv_mean (Eq. 8 kernel); all on by default."""
    return _staged(HyperBlock, stages, stem, head_relu=True)


def _reactnet(channels: list[int], stem_stride: int) -> Builder:
    return lambda cin, classes, spec: ReActNet(channels, stem_stride, cin, classes, spec)


BIREAL18 = [(64, 4), (128, 4), (256, 4), (512, 4)]
BIREAL34 = [(64, 6), (128, 8), (256, 12), (512, 6)]
BUILDERS: dict[str, Builder] = {
    "bireal18": _bireal(BIREAL18, (64, 7, 2, True)),
    "bireal34": _bireal(BIREAL34, (64, 7, 2, True)),
    "reactnet-a": _reactnet(REACTNET_A, 2),
    "bireal18-cifar": _bireal(BIREAL18, (64, 3, 1, False)),
    "bireal34-cifar": _bireal(BIREAL34, (64, 3, 1, False)),
    "reactnet-a-cifar": _reactnet(REACTNET_A, 1),
    "real2bin18": _real2bin(BIREAL18, (64, 7, 2, True)),
    "real2bin18-cifar": _real2bin(BIREAL18, (64, 3, 1, False)),
    "hyperbnn18": _hyperbnn(BIREAL18, (64, 7, 2, True)),
    "hyperbnn18-cifar": _hyperbnn(BIREAL18, (64, 3, 1, False)),
    "tiny-bireal": _bireal([(16, 2), (32, 2)], (16, 3, 1, False)),
    "tiny-reactnet": _reactnet([8, 16, 32, 32], 1),
    "tiny-real2bin": _real2bin([(16, 2), (32, 2)], (16, 3, 1, False)),
    "tiny-hyperbnn": _hyperbnn([(16, 2), (32, 2)], (16, 3, 1, False)),
}


def build_model(name: str, num_classes: int | None = None, in_channels: int | None = None,
                input_size: int | None = None, spec: QuantSpec | None = None,
                options: dict[str, bool] | None = None) -> nn.Module:
    """Build registry model `name` (with builder options, e.g. gating=False) and check that the input size fits."""
    row = entry(name)
    cin = in_channels or row.in_channels
    check_options(name, BUILDERS[name], options or {})
    model = BUILDERS[name](cin, num_classes or row.num_classes, spec or QuantSpec(), **(options or {}))
    size = input_size or row.input_size
    with input_fits(name, cin, size):
        count(model, cin, size)
    return model


def check_options(name: str, builder: Builder, options: dict[str, bool]) -> None:
    """Refuse builder options that model `name` does not declare, naming those it does."""
    takes = getattr(builder, "options", ())
    unknown = sorted(set(options) - set(takes))
    if unknown:
        raise XnorflowError(f"model '{name}' does not take option {', '.join(unknown)}",
                            f"its options are: {', '.join(takes) or 'none'}")


@contextmanager
def input_fits(name: str, in_channels: int, input_size: int) -> Iterator[None]:
    """Turn a shape error of a dummy forward into one line naming the size and the model's default."""
    try:
        yield
    except RuntimeError as err:
        default = entry(name).input_size
        raise XnorflowError(
            f"input {in_channels}x{input_size}x{input_size} does not fit model '{name}' ({str(err).splitlines()[0]})",
            f"use an input of {default}x{default} or a model made for this size",
        ) from None


def measure(name: str, input_size: int | None = None) -> Complexity:
    """Params/BOPs/FLOPs counted on a freshly built model `name` at its default (or the given) input size."""
    row = entry(name)
    size = input_size or row.input_size
    model = BUILDERS[name](row.in_channels, row.num_classes, QuantSpec())
    with input_fits(name, row.in_channels, size):
        return count(model, row.in_channels, size)
