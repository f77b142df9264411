"""`ConCNERTrainer`: a `Trainer` that feeds paired batches to the teacher and logs its three loss terms."""

from __future__ import annotations

from functools import partial
from typing import Any

import torch
from torch import nn
from torch.utils.data import DataLoader
from transformers import PreTrainedTokenizerBase, TrainerCallback
from transformers.trainer_utils import seed_worker

from .base import ConCNERBaseTrainer
from .collator import PAIR_COLUMN, DataCollatorForConCNER
from .sampler import UNPAIRED, PairedBatchSampler

LOSS_TERMS = ("ce_loss", "lcl_loss", "tcl_loss")


def pair_ids_of(dataset: Any) -> list[int]:
    """The `pair_id` of every row of `dataset` (-1 for all rows when the column is absent).

    Args:
        dataset: a `datasets.Dataset` or any sized sequence of feature dicts.
    """
    column_names = getattr(dataset, "column_names", None)
    if column_names is not None:
        if PAIR_COLUMN not in column_names:
            return [UNPAIRED] * len(dataset)
        return [int(v) for v in dataset[PAIR_COLUMN]]
    return [int(row.get(PAIR_COLUMN, UNPAIRED)) for row in dataset]


class _SamplerEpochCallback(TrainerCallback):
    """Sets the paired sampler's epoch at every epoch start.

    The `Trainer` also calls `set_epoch` on the sampler it can reach, but after a resume in a multi-process run the
    sampler sits below two wrappers (`SkipBatchSampler(BatchSamplerShard(sampler))`) and is not reached. The epoch in
    progress is `int(state.epoch)` (exact: the trainer sets `state.epoch = epoch + (step + 1) / steps_in_epoch`).
    """

    def __init__(self, trainer: ConCNERTrainer) -> None:
        self._trainer = trainer

    def on_epoch_begin(self, args, state, control, **kwargs):
        sampler = self._trainer._paired_sampler
        if sampler is not None:
            sampler.set_epoch(int(state.epoch or 0))


class ConCNERTrainer(ConCNERBaseTrainer):
    """Trains [`ConCNERForTokenClassification`] on batches of N source sentences plus their N translations.

    - Training batches come from [`PairedBatchSampler`] (N = `per_device_train_batch_size` units, a unit being a
      translation pair or an unpaired row), shuffled with `args.data_seed` (or `args.seed`) plus the epoch number,
      so `resume_from_checkpoint` replays the same batches. Under `accelerate`, each process receives whole batches.
    - The loss is the model's own (paper eq. 8: `α·CE + β·(LCL + TCL)`); `ce_loss`, `lcl_loss` and `tcl_loss` are
      averaged between logging steps (and over processes) and logged next to `loss`, so they reach the console,
      TensorBoard, `trainer_state.json` and the model card ([`ConCNERBaseTrainer`]).
    - Without a `data_collator`, a [`DataCollatorForConCNER`] over `processing_class` is used.

    All other arguments are those of [`ConCNERBaseTrainer`] (`model_card`) and [`Trainer`].
    """

    loss_terms = LOSS_TERMS
    # The model returns a per-batch mean, not a sum normalised by `num_items_in_batch`.
    loss_is_scaled_for_ga = False

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        processing_class = kwargs.get("processing_class")
        if kwargs.get("data_collator") is None and isinstance(processing_class, PreTrainedTokenizerBase):
            kwargs["data_collator"] = DataCollatorForConCNER(processing_class)
        super().__init__(*args, **kwargs)
        # The teacher's forward takes **kwargs but does not use `num_items_in_batch`.
        self.model_accepts_loss_kwargs = False
        self._paired_sampler: PairedBatchSampler | None = None
        self.add_callback(_SamplerEpochCallback(self))

    # ------------------------------------------------------------------ data

    def build_paired_sampler(self, dataset: Any) -> PairedBatchSampler:
        """The training batch sampler for `dataset` (N = the per-device train batch size)."""
        seed = self.args.data_seed if self.args.data_seed is not None else self.args.seed
        # `--train_sampling_strategy group_by_length` (transformers' own option) groups units of similar length.
        by_length = self.args.train_sampling_strategy == "group_by_length"
        return PairedBatchSampler(
            pair_ids_of(dataset),
            units_per_batch=self._train_batch_size,
            seed=seed,
            drop_last=self.args.dataloader_drop_last,
            lengths=[len(ids) for ids in dataset["input_ids"]] if by_length else None,
        )

    def get_train_dataloader(self) -> DataLoader:
        """A `DataLoader` over paired batches, prepared by `accelerate` (whole batches per process)."""
        if self.train_dataset is None:
            raise ValueError("ConCNERTrainer: training requires a train_dataset.")
        sampler = self.build_paired_sampler(self.train_dataset)
        self._paired_sampler = sampler
        params: dict[str, Any] = {
            "batch_sampler": sampler,
            "collate_fn": self.data_collator,
            "num_workers": self.args.dataloader_num_workers,
            # pinned memory only speeds up copies to an accelerator
            "pin_memory": self.args.dataloader_pin_memory and self.args.device.type != "cpu",
            "persistent_workers": self.args.dataloader_persistent_workers,
            "worker_init_fn": partial(
                seed_worker, num_workers=self.args.dataloader_num_workers, rank=self.args.process_index
            ),
        }
        if self.args.dataloader_num_workers > 0 and self.args.dataloader_prefetch_factor is not None:
            params["prefetch_factor"] = self.args.dataloader_prefetch_factor
        return self.accelerator.prepare(DataLoader(self.train_dataset, **params))

    # ------------------------------------------------------------------ loss

    def compute_loss(
        self,
        model: nn.Module,
        inputs: dict[str, torch.Tensor | Any],
        return_outputs: bool = False,
        num_items_in_batch: torch.Tensor | int | None = None,
    ) -> torch.Tensor | tuple[torch.Tensor, Any]:
        """The teacher's own weighted loss; its terms are recorded for logging while training.

        Args:
            model: the (possibly wrapped) teacher.
            inputs: a collated batch (`input_ids`, `attention_mask`, `labels`, `pair_ids`, ...).
            return_outputs: also return the model output.
            num_items_in_batch: unused (the loss is a per-batch mean).
        """
        outputs = model(**inputs)
        loss = outputs["loss"] if isinstance(outputs, dict) else outputs[0]
        if loss is None:
            raise ValueError("the model returned no loss: training batches need `labels` (and a positive loss weight)")
        if model.training:
            get = outputs.get if isinstance(outputs, dict) else lambda name: getattr(outputs, name, None)
            self.track_loss_terms({name: get(name) for name in LOSS_TERMS})
        return (loss, outputs) if return_outputs else loss


__all__ = ["ConCNERTrainer", "LOSS_TERMS", "pair_ids_of"]
