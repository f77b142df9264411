"""`TrainingArguments` with the paper's teacher-training defaults."""

from __future__ import annotations

from dataclasses import dataclass, field

from transformers import TrainingArguments


@dataclass
class OutputDirArguments(TrainingArguments):
    """[`TrainingArguments`] plus `overwrite_output_dir`, which transformers 5 dropped.

    The scripts refuse an output folder that is not empty (`concner.cli.check_output_dir`) unless the run resumes
    from a checkpoint in it or this flag says to write over it.
    """

    overwrite_output_dir: bool = field(
        default=False,
        metadata={
            "help": "Write over the files of an earlier run in a non-empty --output_dir (other files are left alone; "
            "a folder that holds the model this run reads is refused even so)."
        },
    )
    early_stopping_patience: int | None = field(
        default=None,
        metadata={
            "help": "Stop once the source-dev metric (--metric_for_best_model) has not improved for this many "
            "evaluations (transformers' EarlyStoppingCallback); --num_train_epochs is then the cap. Default: off."
        },
    )

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.early_stopping_patience is not None:
            if self.early_stopping_patience < 1:
                raise ValueError(f"--early_stopping_patience must be at least 1, got {self.early_stopping_patience}")
            if not self.load_best_model_at_end or self.metric_for_best_model is None or self.eval_strategy == "no":
                raise ValueError(
                    "--early_stopping_patience needs evaluation on the source dev set and --load_best_model_at_end "
                    "true with --metric_for_best_model"
                )


@dataclass
class ConCNERTrainingArguments(OutputDirArguments):
    """[`TrainingArguments`] whose defaults follow the paper's teacher training (Fu et al., section 4.2).

    Changed defaults: 30 epochs, N = 32 units per batch (`per_device_train_batch_size`; a batch then holds 32 source
    sentences and their 32 translations), learning rate 5e-5 (AdamW), evaluation and checkpointing every 100 steps
    on the source dev set, keeping the best checkpoint by entity-level F1 (`metric_for_best_model="f1"`,
    `load_best_model_at_end=True`), at most 2 checkpoints on disk, logging every 50 steps, and
    `remove_unused_columns=False` (the collator drops the extra columns itself; `pair_id` must survive).
    Every other field and default is that of [`TrainingArguments`].
    """

    num_train_epochs: float = field(default=30.0, metadata={"help": "Total number of training epochs (paper: 30)."})
    per_device_train_batch_size: int = field(
        default=32,
        metadata={"help": "N: source sentences (units) per device batch, plus their translations (paper: 32)."},
    )
    per_device_eval_batch_size: int = field(default=64, metadata={"help": "Batch size per device for evaluation."})
    learning_rate: float = field(default=5e-5, metadata={"help": "AdamW learning rate (paper: 5e-5)."})
    eval_strategy: str = field(
        default="steps", metadata={"help": "When to evaluate on the source dev set: 'no', 'steps' or 'epoch'."}
    )
    eval_steps: float | None = field(default=100, metadata={"help": "Evaluate every this many steps (paper: 100)."})
    save_strategy: str = field(default="steps", metadata={"help": "Checkpoint strategy (matches eval_strategy)."})
    save_steps: float = field(default=100, metadata={"help": "Save a checkpoint every this many steps."})
    save_total_limit: int | None = field(default=2, metadata={"help": "Checkpoints kept on disk (the best is kept)."})
    logging_steps: float = field(default=50, metadata={"help": "Log the loss terms every this many steps."})
    load_best_model_at_end: bool = field(
        default=True, metadata={"help": "Reload the checkpoint with the best source-dev F1 at the end."}
    )
    metric_for_best_model: str | None = field(
        default="f1", metadata={"help": "Model-selection metric on the source dev set (entity-level F1)."}
    )
    remove_unused_columns: bool = field(
        default=False, metadata={"help": "Keep dataset columns; the ConCNER collator selects the model inputs."}
    )


__all__ = ["ConCNERTrainingArguments", "OutputDirArguments"]
