"""Configuration of the ConCNER teacher (a BERT encoder with the paper's loss weights)."""

from __future__ import annotations

from transformers import BertConfig

LCL_POSITIVE_MODES = ("label", "entity_type")

# The method's fields, each with the symbol the paper gives it ("" where it has none). This is the one list: the
# training script copies these fields from its arguments into the config, the model card lists them, and the plain
# BERT export drops them. A new option of the method is added here and in `ConCNERConfig.__init__`.
METHOD_FIELDS: dict[str, str] = {
    "ce_weight": "α",
    "lcl_weight": "β_LCL",
    "tcl_weight": "β_TCL",
    "lcl_temperature": "τ_LCL",
    "tcl_temperature": "τ_TCL",
    "lcl_positive": "LCL positives",
    "contrastive_gather": "",
}


class ConCNERConfig(BertConfig):
    r"""Configuration for [`ConCNERForTokenClassification`].

    Everything a [`BertConfig`] holds, plus the weights and temperatures of the three training
    objectives of ConCNER (paper eq. 8: `L = α·CE + β·(LCL + TCL)`, α = 0.5, β = 0.25). Setting a
    weight to `0` switches that term off, which is how the paper's ablations are expressed.

    Args:
        ce_weight (`float`, defaults to 0.5): weight α of the token cross-entropy.
        lcl_weight (`float`, defaults to 0.25): weight of the label contrastive loss (eq. 4-5).
        tcl_weight (`float`, defaults to 0.25): weight of the translation contrastive loss (eq. 6-7).
        lcl_temperature (`float`, defaults to 0.1): τ of LCL.
        tcl_temperature (`float`, defaults to 0.1): τ of TCL.
        lcl_positive (`str`, defaults to `"label"`): which tokens count as positives in LCL. `"label"` is the
            paper: same IOB2 tag (B-PER and I-PER are different classes). `"entity_type"` treats B-X and
            I-X as one class X (an extension beyond the paper; O stays its own class).
        contrastive_gather (`bool`, defaults to `False`): gather representations from all processes before the
            contrastive losses, so their denominators span the global batch. Off by default: the paper's
            batch is local.
    """

    model_type = "concner"
    keys_to_ignore_at_inference = ["ce_loss", "lcl_loss", "tcl_loss", "hidden_states", "attentions"]

    def __init__(
        self,
        ce_weight: float = 0.5,
        lcl_weight: float = 0.25,
        tcl_weight: float = 0.25,
        lcl_temperature: float = 0.1,
        tcl_temperature: float = 0.1,
        lcl_positive: str = "label",
        contrastive_gather: bool = False,
        **kwargs,
    ) -> None:
        for name, value in (("ce_weight", ce_weight), ("lcl_weight", lcl_weight), ("tcl_weight", tcl_weight)):
            if not isinstance(value, (int, float)) or value < 0:
                raise ValueError(f"`{name}` must be a number >= 0, got {value!r}")
        for name, value in (("lcl_temperature", lcl_temperature), ("tcl_temperature", tcl_temperature)):
            if not isinstance(value, (int, float)) or value <= 0:
                raise ValueError(f"`{name}` must be a number > 0, got {value!r}")
        if lcl_positive not in LCL_POSITIVE_MODES:
            raise ValueError(f"`lcl_positive` must be one of {LCL_POSITIVE_MODES}, got {lcl_positive!r}")
        self.ce_weight = float(ce_weight)
        self.lcl_weight = float(lcl_weight)
        self.tcl_weight = float(tcl_weight)
        self.lcl_temperature = float(lcl_temperature)
        self.tcl_temperature = float(tcl_temperature)
        self.lcl_positive = lcl_positive
        self.contrastive_gather = bool(contrastive_gather)
        super().__init__(**kwargs)


__all__ = ["METHOD_FIELDS", "ConCNERConfig"]
