"""Losses: the distributional loss (ReActNet Eq. 4), logit matching, and attention matching (Real-to-Binary Eq. 2)."""
from collections.abc import Iterator
from contextlib import contextmanager

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from xnorflow.errors import XnorflowError


def distributional_loss(student_logits: Tensor, teacher_logits: Tensor) -> Tensor:
    """-1/n sum_c p_R^c log(p_B^c / p_R^c) = KL(p_teacher || p_student), averaged over the batch (ReActNet Eq. 4)."""
    return F.kl_div(F.log_softmax(student_logits, 1), F.log_softmax(teacher_logits.detach(), 1),
                    reduction="batchmean", log_target=True)


def attention_map(a: Tensor) -> Tensor:
    """Q = sum_i |A_i|^2 over channels, flattened and L2-normalised per sample (R2B Eq. 2, Zagoruyko & Komodakis)."""
    return F.normalize(a.pow(2).sum(dim=1).flatten(1), dim=1)


def attention_loss(student: list[Tensor], teacher: list[Tensor]) -> Tensor:
    """sum_j || Q_S^j/||Q_S^j|| - Q_T^j/||Q_T^j|| ||_2 over the transfer points, averaged over the batch (R2B Eq. 2)."""
    shapes = [(s.shape[2:], t.shape[2:]) for s, t in zip(student, teacher)]
    if len(student) != len(teacher) or any(a != b for a, b in shapes):
        raise XnorflowError(f"attention matching needs the teacher's blocks to match the student's "
                            f"({len(teacher)} vs {len(student)} transfer points)",
                            "use a teacher of the same architecture, or --attention-weight 0")
    return sum((attention_map(s) - attention_map(t.detach())).norm(dim=1).mean() for s, t in zip(student, teacher))


@contextmanager
def block_outputs(model: nn.Module) -> Iterator[list[Tensor]]:
    """Collect the output of every block in `model.blocks` (the transfer points) during the forward passes inside."""
    outputs: list[Tensor] = []
    blocks = getattr(getattr(model, "module", model), "blocks", [])
    handles = [b.register_forward_hook(lambda _m, _i, out: outputs.append(out)) for b in blocks]
    try:
        yield outputs
    finally:
        for handle in handles:
            handle.remove()


def objective(student: nn.Module, teacher: nn.Module | None, images: Tensor, target: Tensor, kd: str,
              attention_weight: float) -> tuple[Tensor, Tensor]:
    """(loss, student logits): CE alone, or with a teacher 'kl' (ReActNet) / 'ce+kl' (R2B logit matching) [+ attention]."""
    if teacher is None:
        logits = student(images)
        return F.cross_entropy(logits, target), logits
    with block_outputs(student) as s_maps:
        logits = student(images)
    with torch.no_grad(), block_outputs(teacher) as t_maps:
        teacher_logits = teacher(images)
    loss = distributional_loss(logits, teacher_logits)
    if kd == "ce+kl":
        loss = loss + F.cross_entropy(logits, target)
    if attention_weight:
        loss = loss + attention_weight * attention_loss(s_maps, t_maps)
    return loss, logits
