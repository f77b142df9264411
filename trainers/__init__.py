"""Trainers, samplers and collators for ConCNER: the contrastive teacher and the distilled student."""

from __future__ import annotations

from .base import ConCNERBaseTrainer, ModelCardWriter
from .collator import DataCollatorForConCNER
from .concner_trainer import LOSS_TERMS, ConCNERTrainer
from .distillation_collator import DataCollatorForDistillation
from .distillation_losses import distillation_kl_loss, distillation_mse_loss, teacher_hard_label_loss
from .distillation_trainer import DistillationArguments, DistillationTrainer, IncompatibleModelsError, load_teacher
from .sampler import PairedBatchSampler, build_units
from .teacher_cache import add_teacher_logits

__all__ = [
    "LOSS_TERMS",
    "ConCNERBaseTrainer",
    "ConCNERTrainer",
    "DataCollatorForConCNER",
    "DataCollatorForDistillation",
    "DistillationArguments",
    "DistillationTrainer",
    "IncompatibleModelsError",
    "ModelCardWriter",
    "PairedBatchSampler",
    "add_teacher_logits",
    "build_units",
    "distillation_kl_loss",
    "distillation_mse_loss",
    "load_teacher",
    "teacher_hard_label_loss",
]
