"""Configuration of the ConCNER teacher (a BERT encoder with the paper's loss weights)."""

from __future__ import annotations

import math

from transformers import BertConfig

from .losses import LCL_CLASS_WEIGHTINGS

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
    "lcl_o_sample_ratio": "",
    "lcl_o_in_denominator": "",
    "lcl_class_weighting": "",
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
        lcl_o_sample_ratio (`float`, *optional*): beyond the paper. Keep at most `⌊r · |E|⌋` randomly chosen `O`
            anchors in a batch with `|E|` entity anchors (`0`: no `O` anchor). `None` (the paper) keeps every
            anchor. `O` is the class of `label2id["O"]`. While training, each batch's draw is seeded from one
            number of torch's default generator (which `set_seed` seeds and Trainer checkpoints restore), so a
            run is reproducible under a fixed training seed; in evaluation mode the seed is fixed (0).
        lcl_o_in_denominator (`bool`, defaults to `True`): beyond the paper. `False` drops the `O` positions
            that are not kept anchors from LCL altogether (from every denominator and as positives); needs
            `lcl_o_sample_ratio`. `True` (the paper) keeps them.
        lcl_class_weighting (`str`, defaults to `"none"`): beyond the paper. `"balanced"` weights each anchor's
            `L_i` by `w_i = |A| / (C · n_{y_i})` (`|A|` anchors, `C` classes among them, `n_c` anchors of class
            `c`), so the weights average to 1 and LCL becomes the mean over classes of the per-class mean `L_i`.
            `"none"` is the paper's plain mean over anchors.
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
        lcl_o_sample_ratio: float | None = None,
        lcl_o_in_denominator: bool = True,
        lcl_class_weighting: str = "none",
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
        if lcl_o_sample_ratio is not None and (
            isinstance(lcl_o_sample_ratio, bool)
            or not isinstance(lcl_o_sample_ratio, (int, float))
            or not math.isfinite(lcl_o_sample_ratio)
            or lcl_o_sample_ratio < 0
        ):
            raise ValueError(f"`lcl_o_sample_ratio` must be None or a finite number >= 0, got {lcl_o_sample_ratio!r}")
        if not lcl_o_in_denominator and lcl_o_sample_ratio is None:
            raise ValueError("`lcl_o_in_denominator=False` needs `lcl_o_sample_ratio` (which O anchors to keep)")
        if lcl_class_weighting not in LCL_CLASS_WEIGHTINGS:
            raise ValueError(
                f"`lcl_class_weighting` must be one of {LCL_CLASS_WEIGHTINGS}, got {lcl_class_weighting!r}"
            )
        self.ce_weight = float(ce_weight)
        self.lcl_weight = float(lcl_weight)
        self.tcl_weight = float(tcl_weight)
        self.lcl_temperature = float(lcl_temperature)
        self.tcl_temperature = float(tcl_temperature)
        self.lcl_positive = lcl_positive
        self.lcl_o_sample_ratio = None if lcl_o_sample_ratio is None else float(lcl_o_sample_ratio)
        self.lcl_o_in_denominator = bool(lcl_o_in_denominator)
        self.lcl_class_weighting = lcl_class_weighting
        self.contrastive_gather = bool(contrastive_gather)
        super().__init__(**kwargs)


__all__ = ["LCL_CLASS_WEIGHTINGS", "LCL_POSITIVE_MODES", "METHOD_FIELDS", "ConCNERConfig"]
