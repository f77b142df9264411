"""Freezing the embeddings and bottom encoder layers of a BERT-like token classifier (teacher or student)."""

from __future__ import annotations

from torch import nn


def freeze_layers(model: nn.Module, embeddings: bool = False, bottom_layers: int = 0) -> list[str]:
    """Freeze the embeddings and/or the first `bottom_layers` encoder layers of a BERT-like token classifier.

    Args:
        model: a model whose `base_model` has `embeddings` and `encoder.layer` (BERT, RoBERTa, XLM-R, ...).
        embeddings: freeze `base_model.embeddings`.
        bottom_layers: number of encoder layers to freeze, counted from the input.

    Returns:
        The names of the parameters frozen.
    """
    base = getattr(model, "base_model", model)
    modules: list[nn.Module] = []
    if embeddings:
        if not hasattr(base, "embeddings"):
            raise ValueError(f"{type(model).__name__} has no `embeddings` to freeze")
        modules.append(base.embeddings)
    if bottom_layers:
        layers = getattr(getattr(base, "encoder", None), "layer", None)
        if layers is None:
            raise ValueError(f"{type(model).__name__} has no `encoder.layer` to freeze")
        if bottom_layers > len(layers):
            raise ValueError(f"`freeze_bottom_layers`={bottom_layers} but the model has {len(layers)} layers")
        modules.extend(layers[:bottom_layers])
    frozen_ids = set()
    for module in modules:
        for param in module.parameters():
            param.requires_grad_(False)
            frozen_ids.add(id(param))
    return [name for name, param in model.named_parameters() if id(param) in frozen_ids]


__all__ = ["freeze_layers"]
