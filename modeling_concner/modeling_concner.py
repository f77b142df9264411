"""ConCNER teacher: a BERT token classifier trained with CE + label and translation contrastive losses."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from transformers import BertModel, BertPreTrainedModel
from transformers.modeling_outputs import TokenClassifierOutput

from .configuration_concner import ConCNERConfig
from .losses import IGNORE_INDEX, label_contrastive_loss, translation_contrastive_loss

# Seed of LCL's O-anchor sampling in evaluation mode (a fixed draw: evaluation losses do not vary between calls).
_LCL_EVAL_SEED = 0


@dataclass
class ConCNEROutput(TokenClassifierOutput):
    r"""Output of [`ConCNERForTokenClassification`].

    Args:
        loss (`torch.FloatTensor` of shape `()`, *optional*):
            The weighted sum `ce_weight * ce_loss + lcl_weight * lcl_loss + tcl_weight * tcl_loss` over the
            terms that were computed (paper eq. 8).
        logits (`torch.FloatTensor` of shape `(batch_size, sequence_length, num_labels)`): classification scores.
        ce_loss (`torch.FloatTensor` of shape `()`, *optional*): token cross-entropy over `labels != -100`.
        lcl_loss (`torch.FloatTensor` of shape `()`, *optional*): label contrastive loss (eq. 4-5).
        tcl_loss (`torch.FloatTensor` of shape `()`, *optional*): translation contrastive loss (eq. 6-7).
        hidden_states, attentions: as in [`TokenClassifierOutput`].
    """

    ce_loss: torch.FloatTensor | None = None
    lcl_loss: torch.FloatTensor | None = None
    tcl_loss: torch.FloatTensor | None = None


def mean_pool(hidden: torch.Tensor, attention_mask: torch.Tensor | None) -> torch.Tensor:
    """Attention-masked mean of `hidden` `(B, T, H)` over T → `(B, H)` (the sentence vector r of eq. 6)."""
    if attention_mask is None:
        return hidden.mean(dim=1)
    mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
    return (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1.0)


def split_pairs(pooled: torch.Tensor, pair_ids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor] | None:
    """Rows with equal non-negative `pair_ids` are partners; returns `(source, target)` `(N, H)` or None.

    An id seen once (its partner was not in the batch) is ignored; an id seen more than twice is an error.
    """
    paired = pair_ids >= 0
    if not bool(paired.any()):
        return None
    ids, counts = torch.unique(pair_ids[paired], return_counts=True)
    if bool((counts > 2).any()):
        raise ValueError(f"pair id {int(ids[counts > 2][0])} occurs more than twice in the batch")
    complete = ids[counts == 2]
    if complete.numel() == 0:
        return None
    rows = torch.isin(pair_ids, complete).nonzero().squeeze(1)
    # Stable sort by pair id: the first row of each pair is its source, the second its translation.
    rows = rows[torch.sort(pair_ids[rows], stable=True).indices]
    return pooled[rows[0::2]], pooled[rows[1::2]]


def _gather_with_grad(tensor: torch.Tensor) -> torch.Tensor:
    """Concatenate `tensor` (variable first dim) from every process; gradients flow back to each process."""
    import torch.distributed as dist
    import torch.distributed.nn.functional as dist_fn

    size = torch.tensor([tensor.shape[0]], device=tensor.device)
    sizes = [torch.zeros_like(size) for _ in range(dist.get_world_size())]
    dist.all_gather(sizes, size)
    longest = int(max(s.item() for s in sizes))
    padded = torch.zeros((longest, *tensor.shape[1:]), dtype=tensor.dtype, device=tensor.device)
    padded = torch.cat([tensor, padded[tensor.shape[0] :]]) if tensor.shape[0] < longest else tensor
    gathered = dist_fn.all_gather(padded)
    return torch.cat([g[: int(s.item())] for g, s in zip(gathered, sizes)])


def _distributed() -> bool:
    import torch.distributed as dist

    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def entity_type_ids(tags: tuple[str, ...]) -> list[int]:
    """Map each IOB2 tag to an entity-type id, so that B-X and I-X share one id and ``O`` keeps its own."""
    types = [tag.split("-", 1)[-1] if tag != "O" else "O" for tag in tags]
    names = {t: j for j, t in enumerate(dict.fromkeys(types))}
    return [names[t] for t in types]


class ConCNERForTokenClassification(BertPreTrainedModel):
    """BERT encoder (no pooler), dropout and a linear token classifier, trained with CE + LCL + TCL.

    Parameter names match [`BertForTokenClassification`] (`bert.*`, `classifier.*`), so a trained
    teacher's weights load unchanged into a plain BERT token classifier.
    """

    config_class = ConCNERConfig
    _keys_to_ignore_on_load_unexpected = [r"pooler"]

    def __init__(self, config: ConCNERConfig) -> None:
        super().__init__(config)
        self.num_labels = config.num_labels
        self.bert = BertModel(config, add_pooling_layer=False)
        dropout = config.classifier_dropout if config.classifier_dropout is not None else config.hidden_dropout_prob
        self.dropout = nn.Dropout(dropout)
        self.classifier = nn.Linear(config.hidden_size, config.num_labels)
        self.post_init()

    def _lcl_classes(self, labels: torch.Tensor) -> torch.Tensor:
        """Labels used to form LCL positives: the tag itself, or its entity type (B-X ≡ I-X)."""
        if self.config.lcl_positive == "label":
            return labels
        tags = tuple(self.config.id2label[i] for i in range(self.num_labels))
        cached = getattr(self, "_lcl_type_table", None)
        if cached is None or cached[0] != tags or cached[1].device != labels.device:
            # Built once per label set and device, not on every forward pass.
            cached = (tags, torch.tensor(entity_type_ids(tags), device=labels.device))
            self._lcl_type_table = cached
        return torch.where(labels == IGNORE_INDEX, labels, cached[1][labels.clamp(min=0)])

    def _lcl_o_class(self) -> int | None:
        """The class id of `O` among `_lcl_classes`' ids, for LCL's O options (None when both are off)."""
        cfg = self.config
        if cfg.lcl_o_sample_ratio is None and cfg.lcl_o_in_denominator:
            return None
        if "O" not in cfg.label2id:
            raise ValueError(f"lcl_o_sample_ratio needs an 'O' label in config.label2id, got {sorted(cfg.label2id)}")
        o_label = int(cfg.label2id["O"])
        if cfg.lcl_positive == "entity_type":
            tags = tuple(cfg.id2label[i] for i in range(self.num_labels))
            o_label = entity_type_ids(tags)[o_label]
        return o_label

    def _lcl_generator(self) -> torch.Generator | None:
        """CPU generator of LCL's O-anchor sampling; None when the option is off.

        Training: seeded from one draw of torch's default CPU generator per forward pass, so the sampling changes
        every step and follows the training seed (`set_seed`) and the RNG state a Trainer checkpoint restores; the
        draw does not depend on the batch, so processes seeded alike stay in step. Evaluation: a fixed seed.
        """
        if self.config.lcl_o_sample_ratio is None:
            return None
        seed = int(torch.randint(0, 2**62, (1,))) if self.training else _LCL_EVAL_SEED
        return torch.Generator().manual_seed(seed)

    def forward(
        self,
        input_ids: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        token_type_ids: torch.Tensor | None = None,
        position_ids: torch.Tensor | None = None,
        inputs_embeds: torch.Tensor | None = None,
        labels: torch.Tensor | None = None,
        pair_ids: torch.Tensor | None = None,
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
        return_dict: bool | None = None,
        **kwargs,
    ) -> ConCNEROutput:
        r"""
        Args:
            labels (`torch.LongTensor` of shape `(batch_size, sequence_length)`, *optional*):
                Label ids on the first sub-word of every word, `-100` elsewhere. Enables CE and LCL.
            pair_ids (`torch.LongTensor` of shape `(batch_size,)`, *optional*):
                Rows with equal non-negative ids are translation partners; `-1` marks an unpaired row.
                Enables TCL.
        """
        outputs = self.bert(
            input_ids,
            attention_mask=attention_mask,
            token_type_ids=token_type_ids,
            position_ids=position_ids,
            inputs_embeds=inputs_embeds,
            output_attentions=output_attentions,
            output_hidden_states=output_hidden_states,
            return_dict=True,
        )
        hidden = outputs.last_hidden_state
        logits = self.classifier(self.dropout(hidden))
        cfg = self.config
        gather = cfg.contrastive_gather and _distributed()

        ce = lcl = tcl = None
        if labels is not None and cfg.ce_weight > 0:
            ce = nn.functional.cross_entropy(
                logits.view(-1, self.num_labels).float(), labels.view(-1), ignore_index=IGNORE_INDEX
            )
        if labels is not None and cfg.lcl_weight > 0:
            keep = labels != IGNORE_INDEX
            feats, classes = hidden[keep], self._lcl_classes(labels[keep])
            if gather:
                feats, classes = _gather_with_grad(feats), _gather_with_grad(classes)
            lcl = label_contrastive_loss(
                feats,
                classes,
                cfg.lcl_temperature,
                o_label=self._lcl_o_class(),
                o_sample_ratio=cfg.lcl_o_sample_ratio,
                o_in_denominator=cfg.lcl_o_in_denominator,
                class_weighting=cfg.lcl_class_weighting,
                generator=self._lcl_generator(),
            )
        if pair_ids is not None and cfg.tcl_weight > 0:
            pooled = mean_pool(hidden, attention_mask)
            pairs = split_pairs(pooled, pair_ids)
            if gather:
                # Every process joins the collective, also one whose batch holds no complete pair (it sends
                # zero rows); otherwise the others would wait for it forever.
                source, target = pairs if pairs is not None else (pooled[:0], pooled[:0])
                source, target = _gather_with_grad(source), _gather_with_grad(target)
                pairs = (source, target) if source.shape[0] > 0 else None
            if pairs is not None:
                tcl = translation_contrastive_loss(pairs[0], pairs[1], cfg.tcl_temperature)

        terms = [
            (w, t) for w, t in ((cfg.ce_weight, ce), (cfg.lcl_weight, lcl), (cfg.tcl_weight, tcl)) if t is not None
        ]
        loss = sum(w * t for w, t in terms) if terms else None
        return ConCNEROutput(
            loss=loss,
            logits=logits,
            ce_loss=ce,
            lcl_loss=lcl,
            tcl_loss=tcl,
            hidden_states=outputs.hidden_states,
            attentions=outputs.attentions,
        )


ConCNERConfig.register_for_auto_class()
ConCNERForTokenClassification.register_for_auto_class("AutoModelForTokenClassification")

__all__ = ["ConCNERForTokenClassification", "ConCNEROutput", "mean_pool", "split_pairs"]
