"""Losses: cross-entropy, and the distributional loss against a real-valued teacher (ReActNet Eq. 4)."""
import torch.nn.functional as F
from torch import Tensor


def distributional_loss(student_logits: Tensor, teacher_logits: Tensor) -> Tensor:
    """-1/n sum_c p_R^c log(p_B^c / p_R^c) = KL(p_teacher || p_student), averaged over the batch (ReActNet Eq. 4)."""
    return F.kl_div(F.log_softmax(student_logits, 1), F.log_softmax(teacher_logits.detach(), 1),
                    reduction="batchmean", log_target=True)
