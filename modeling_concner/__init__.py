"""ConCNER model code. Imports only torch, transformers and itself, so it ships to the Hub unchanged."""

from __future__ import annotations

from transformers import AutoConfig, AutoModelForTokenClassification

from .configuration_concner import METHOD_FIELDS, ConCNERConfig
from .losses import label_contrastive_loss, translation_contrastive_loss
from .modeling_concner import ConCNERForTokenClassification, ConCNEROutput

AutoConfig.register("concner", ConCNERConfig, exist_ok=True)
AutoModelForTokenClassification.register(ConCNERConfig, ConCNERForTokenClassification, exist_ok=True)

__all__ = [
    "METHOD_FIELDS",
    "ConCNERConfig",
    "ConCNERForTokenClassification",
    "ConCNEROutput",
    "label_contrastive_loss",
    "translation_contrastive_loss",
]
