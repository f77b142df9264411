"""`DistillationTrainer`: trains the ConCNER student on unlabelled target text against a frozen teacher (eq. 9)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn
from transformers import AutoModelForTokenClassification, PreTrainedModel, TrainingArguments

from .arguments import OutputDirArguments
from .base import ConCNERBaseTrainer
from .distillation_collator import TEACHER_LOGITS_COLUMN, DataCollatorForDistillation
from .distillation_losses import KD_LOSS_TYPES, distillation_loss, distilled_positions, teacher_hard_label_loss
from .freezing import freeze_layers as freeze_student
from .subword_targets import SUBWORD_TARGET_MODES, begin_to_inside, continuation_owner, spread_to_subwords
from .teacher_cache import teacher_logits

STUDENT_INPUT_COLUMNS = ("input_ids", "attention_mask", "token_type_ids", "position_ids", "inputs_embeds")


def student_inputs(batch: dict[str, Any]) -> dict[str, Any]:
    """The model inputs of a batch (no labels, word indices or cached teacher logits)."""
    return {k: batch[k] for k in STUDENT_INPUT_COLUMNS if batch.get(k) is not None}


class IncompatibleModelsError(ValueError):
    """Teacher and student do not share the tokenizer or the label map (one-line message)."""


@dataclass
class DistillationArguments(OutputDirArguments):
    """[`TrainingArguments`] plus the knobs of teacher-student distillation.

    Args:
        kd_temperature (`float`, defaults to 1.0): softmax temperature applied to teacher and student (1 = paper).
        kd_loss_type (`str`, defaults to `"mse"`): `"mse"` = paper eq. 9; `"kl"` = T²·KL(teacher ‖ student).
        kd_hard_label_weight (`float`, defaults to 0.0): weight of an added cross-entropy on the teacher's argmax
            labels (0 = paper).
        freeze_embeddings (`bool`, defaults to `False`): freeze the student's embedding layer.
        freeze_bottom_layers (`int`, defaults to 0): freeze the student's first N encoder layers.
        kd_subword_targets (`str`, defaults to `"first"`): `"first"` = paper, only the first sub-word of each word
            is distilled; `"all"` = continuation pieces too, towards their word's distribution with B-X moved to
            I-X (`trainers/subword_targets.py`), so that `pipeline("ner")` tags whole words.
    """

    kd_temperature: float = field(
        default=1.0, metadata={"help": "Softmax temperature on teacher and student (1 = paper)."}
    )
    kd_loss_type: str = field(
        default="mse", metadata={"help": "'mse' (paper eq. 9) or 'kl' (T^2 KL(teacher || student))."}
    )
    kd_hard_label_weight: float = field(
        default=0.0, metadata={"help": "Weight of a cross-entropy on the teacher's argmax labels (0 = paper)."}
    )
    freeze_embeddings: bool = field(default=False, metadata={"help": "Freeze the student's embedding layer."})
    freeze_bottom_layers: int = field(default=0, metadata={"help": "Freeze the student's first N encoder layers."})
    kd_subword_targets: str = field(
        default="first",
        metadata={
            "help": "'first' (paper): distil first sub-words only; 'all': continuation pieces too, towards their "
            "word's distribution with B-X moved to I-X, so that pipeline('ner') tags whole words."
        },
    )

    def __post_init__(self) -> None:
        if not isinstance(self.kd_temperature, (int, float)) or self.kd_temperature <= 0:
            raise ValueError(f"`kd_temperature` must be a number > 0, got {self.kd_temperature!r}")
        if self.kd_loss_type not in KD_LOSS_TYPES:
            raise ValueError(f"`kd_loss_type` must be one of {KD_LOSS_TYPES}, got {self.kd_loss_type!r}")
        if not isinstance(self.kd_hard_label_weight, (int, float)) or self.kd_hard_label_weight < 0:
            raise ValueError(f"`kd_hard_label_weight` must be a number >= 0, got {self.kd_hard_label_weight!r}")
        if not isinstance(self.freeze_bottom_layers, int) or self.freeze_bottom_layers < 0:
            raise ValueError(f"`freeze_bottom_layers` must be an integer >= 0, got {self.freeze_bottom_layers!r}")
        if self.kd_subword_targets not in SUBWORD_TARGET_MODES:
            raise ValueError(
                f"`kd_subword_targets` must be one of {SUBWORD_TARGET_MODES}, got {self.kd_subword_targets!r}"
            )
        super().__post_init__()


def load_teacher(name_or_path: str | os.PathLike, **kwargs: Any) -> PreTrainedModel:
    """Load a teacher token classifier: a ConCNER folder (model type `concner`) or any plain one (e.g. BERT)."""
    import modeling_concner  # noqa: F401  (registers the `concner` model type with the Auto classes)

    return AutoModelForTokenClassification.from_pretrained(name_or_path, **kwargs)


def _label_map(config: Any) -> dict[int, str]:
    return {int(k): str(v) for k, v in (getattr(config, "id2label", None) or {}).items()}


def check_label_maps(student_config: Any, teacher_config: Any) -> None:
    """Raise [`IncompatibleModelsError`] unless both configs have the same `id2label`."""
    student, teacher = _label_map(student_config), _label_map(teacher_config)
    if student != teacher:
        raise IncompatibleModelsError(
            f"the student's label map {student} differs from the teacher's {teacher}; "
            "initialise the student with the teacher's id2label/label2id"
        )


def check_vocab_sizes(student_config: Any, teacher_config: Any) -> None:
    """Raise [`IncompatibleModelsError`] unless both configs have the same `vocab_size`."""
    student, teacher = getattr(student_config, "vocab_size", None), getattr(teacher_config, "vocab_size", None)
    if student != teacher:
        raise IncompatibleModelsError(
            f"the student's vocabulary size {student} differs from the teacher's {teacher}; "
            "teacher and student must share the tokenizer"
        )


def check_tokenizers(student_tokenizer: Any, teacher_tokenizer: Any) -> None:
    """Raise [`IncompatibleModelsError`] unless both tokenizers share class (slow or fast) and vocabulary."""
    names = [type(t).__name__.removesuffix("Fast") for t in (student_tokenizer, teacher_tokenizer)]
    if names[0] != names[1]:
        raise IncompatibleModelsError(
            f"the student's tokenizer is a {names[0]} but the teacher's a {names[1]}; they must share the tokenizer"
        )
    same_vocab = student_tokenizer.get_vocab() == teacher_tokenizer.get_vocab()
    if len(student_tokenizer) != len(teacher_tokenizer) or not same_vocab:
        raise IncompatibleModelsError(
            f"the student's tokenizer vocabulary ({len(student_tokenizer)} entries) differs from the teacher's "
            f"({len(teacher_tokenizer)} entries); they must share the tokenizer"
        )


class DistillationTrainer(ConCNERBaseTrainer):
    """Teacher-student distillation on unlabelled target text (paper eq. 9), as a [`Trainer`].

    The student (`model`) is trained; the teacher is frozen: moved to the device by Accelerate in evaluation mode
    (`accelerator.prepare_model(teacher, evaluation_mode=True)`), put in `.eval()`, `requires_grad_(False)`, run
    under `torch.no_grad()`, and never handed to the optimizer (it is not a sub-module of the student).

    Batches come from [`DataCollatorForDistillation`]: `input_ids`, `attention_mask` (`token_type_ids`),
    `word_index` (the distilled positions: first sub-words) and optionally `teacher_logits`, the teacher's logits
    cached by [`add_teacher_logits`]; when present the teacher is not run. `labels`, if any, are never trained on;
    they only let `evaluate` report metrics. The loss is

        L = L_KD + kd_hard_label_weight · L_hard

    with `L_KD` = [`distillation_mse_loss`] (eq. 9) or [`distillation_kl_loss`] and `L_hard` =
    [`teacher_hard_label_loss`]. `kd_loss` (and `hard_label_loss`) are averaged between logging steps (and over
    processes) and logged beside `loss` ([`ConCNERBaseTrainer`]). At evaluation, `eval_loss` is `L` on the
    evaluation set (distance to the teacher there).
    Under `bf16`/`fp16` autocast the on-the-fly teacher runs in that precision too, while cached logits are
    whatever precision they were computed in (float32 by default), so the two paths then differ slightly.
    Not supported: DeepSpeed/FSDP sharding of the teacher (it is prepared as a plain evaluation-mode module).

    Args:
        model: the student token classifier; its `id2label` and `vocab_size` must equal the teacher's.
        teacher_model: the teacher, or a path / Hub id loaded with [`load_teacher`].
        args: a [`DistillationArguments`] (plain [`TrainingArguments`] get the paper's defaults).
        teacher_processing_class: the teacher's tokenizer; when given with `processing_class`, they are compared.
        **kwargs: everything else [`ConCNERBaseTrainer`] (`model_card`) and [`Trainer`] take (`train_dataset`,
            `processing_class`, ...). `data_collator` defaults to a [`DataCollatorForDistillation`] over
            `processing_class`.
    """

    loss_terms = ("kd_loss", "hard_label_loss")
    # compute_loss returns a per-batch mean, so the Trainer divides it by the gradient-accumulation steps.
    loss_is_scaled_for_ga = False

    def __init__(
        self,
        model: PreTrainedModel | nn.Module,
        teacher_model: PreTrainedModel | nn.Module | str | os.PathLike,
        args: TrainingArguments | None = None,
        teacher_processing_class: Any = None,
        **kwargs: Any,
    ) -> None:
        if isinstance(teacher_model, (str, os.PathLike)):
            teacher_model = load_teacher(teacher_model)
        if teacher_model is model:
            raise ValueError("the teacher and the student are the same object; pass a separate copy of the teacher")
        check_label_maps(model.config, teacher_model.config)
        check_vocab_sizes(model.config, teacher_model.config)
        if teacher_processing_class is not None and kwargs.get("processing_class") is not None:
            check_tokenizers(kwargs["processing_class"], teacher_processing_class)
        if args is None:
            args = DistillationArguments(output_dir="tmp_trainer")
        if kwargs.get("data_collator") is None and kwargs.get("processing_class") is not None:
            num_labels = getattr(model.config, "num_labels", None)
            kwargs["data_collator"] = DataCollatorForDistillation(kwargs["processing_class"], num_labels=num_labels)
        self.kd_temperature = float(getattr(args, "kd_temperature", 1.0))
        self.kd_loss_type = getattr(args, "kd_loss_type", "mse")
        self.kd_hard_label_weight = float(getattr(args, "kd_hard_label_weight", 0.0))
        self.kd_subword_targets = getattr(args, "kd_subword_targets", "first")
        if self.kd_subword_targets == "all":
            tokenizer = kwargs.get("processing_class")
            if tokenizer is None or not hasattr(tokenizer, "all_special_ids"):
                raise ValueError("`kd_subword_targets='all'` needs the tokenizer as `processing_class`")
            self._special_ids = torch.tensor(sorted(set(tokenizer.all_special_ids)), dtype=torch.long)
            self._inside_of = begin_to_inside(_label_map(model.config))
        self.frozen_parameters = freeze_student(
            model, getattr(args, "freeze_embeddings", False), getattr(args, "freeze_bottom_layers", 0)
        )
        super().__init__(model=model, args=args, **kwargs)

        teacher_model.requires_grad_(False)
        teacher_model.eval()
        self.teacher_model = self.accelerator.prepare_model(teacher_model, evaluation_mode=True)
        self.teacher_model.eval()
        self._teacher_loss = True

    def predict(
        self,
        test_dataset: Any,
        ignore_keys: list[str] | None = None,
        metric_key_prefix: str = "test",
        teacher_loss: bool = True,
    ) -> Any:
        """`Trainer.predict`; `teacher_loss=False` runs the student alone where no teacher logits are cached.

        The loss of a prediction is the distance to the teacher, so without a cache it costs a teacher forward pass
        per batch: as much again as the student's, for a figure that scoring a test set does not need. Without it,
        the metrics have no `<prefix>_loss`.
        """
        self._teacher_loss = teacher_loss
        try:
            return super().predict(test_dataset, ignore_keys=ignore_keys, metric_key_prefix=metric_key_prefix)
        finally:
            self._teacher_loss = True

    def _set_signature_columns_if_needed(self) -> None:
        super()._set_signature_columns_if_needed()
        for column in ("word_index", TEACHER_LOGITS_COLUMN, "labels"):
            if column not in self._signature_columns:
                self._signature_columns.append(column)

    def compute_teacher_logits(self, inputs: dict[str, torch.Tensor]) -> torch.Tensor:
        """The frozen teacher's logits `(B, T, C)` (float32) for the model inputs of a batch, under `no_grad`."""
        self.teacher_model.eval()
        return teacher_logits(self.teacher_model, inputs)

    def compute_loss(
        self,
        model: nn.Module,
        inputs: dict[str, torch.Tensor | Any],
        return_outputs: bool = False,
        num_items_in_batch: torch.Tensor | int | None = None,
    ) -> torch.Tensor | tuple[torch.Tensor, Any]:
        """`L_KD` (+ `kd_hard_label_weight · L_hard`) between the student and the teacher (cached or on the fly)."""
        model_inputs = student_inputs(inputs)
        mask = distilled_positions(inputs.get("word_index"), inputs.get("labels"), inputs.get("attention_mask"))
        outputs = model(**model_inputs)
        cached = inputs.get(TEACHER_LOGITS_COLUMN)
        target = cached if cached is not None else self.compute_teacher_logits(model_inputs)
        if self.kd_subword_targets == "all":
            ids = model_inputs["input_ids"]
            content = ~torch.isin(ids, self._special_ids.to(ids.device))
            if model_inputs.get("attention_mask") is not None:
                content &= model_inputs["attention_mask"].bool()
            owner = continuation_owner(mask, content)
            target = spread_to_subwords(target, owner, mask, self._inside_of)
            mask = owner >= 0
        kd = distillation_loss(outputs.logits, target, mask, self.kd_loss_type, self.kd_temperature)
        loss, hard = kd, None
        if self.kd_hard_label_weight > 0:
            hard = teacher_hard_label_loss(outputs.logits, target, mask)
            loss = loss + self.kd_hard_label_weight * hard
        if model.training:
            self.track_loss_terms({"kd_loss": kd, "hard_label_loss": hard})
        return (loss, outputs) if return_outputs else loss

    def prediction_step(
        self,
        model: nn.Module,
        inputs: dict[str, torch.Tensor | Any],
        prediction_loss_only: bool,
        ignore_keys: list[str] | None = None,
    ) -> tuple[torch.Tensor | None, torch.Tensor | None, torch.Tensor | None]:
        """Loss against the teacher, the student's logits and the batch's labels (if any)."""
        inputs = self._prepare_inputs(inputs)
        labels = inputs.get("labels")
        if not self._teacher_loss and inputs.get(TEACHER_LOGITS_COLUMN) is None:
            with torch.no_grad(), self.compute_loss_context_manager():
                logits = model(**student_inputs(inputs)).logits
            if prediction_loss_only:
                return None, None, None
            return None, logits.detach(), labels.detach() if labels is not None else None
        with torch.no_grad(), self.compute_loss_context_manager():
            loss, outputs = self.compute_loss(model, inputs, return_outputs=True)
        loss = loss.detach().mean()
        if prediction_loss_only:
            return loss, None, None
        return loss, outputs.logits.detach(), labels.detach() if labels is not None else None


__all__ = [
    "DistillationArguments",
    "DistillationTrainer",
    "IncompatibleModelsError",
    "check_label_maps",
    "check_tokenizers",
    "check_vocab_sizes",
    "freeze_student",
    "load_teacher",
]
