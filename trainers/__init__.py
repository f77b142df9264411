"""Trainers, samplers and collators for ConCNER (teacher training)."""

from __future__ import annotations

from .collator import DataCollatorForConCNER
from .concner_trainer import LOSS_TERMS, ConCNERTrainer
from .sampler import PairedBatchSampler, build_units

__all__ = ["ConCNERTrainer", "DataCollatorForConCNER", "LOSS_TERMS", "PairedBatchSampler", "build_units"]
