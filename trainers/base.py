"""What the teacher and student trainers share: logged loss terms, evaluation order and the model card.

[`ConCNERBaseTrainer`] is the base of [`ConCNERTrainer`] and [`DistillationTrainer`]. As SpanMarker's trainer does,
it owns the model card: `create_model_card` writes the card of its [`ModelCardWriter`] (not transformers' generic
card), and `push_to_hub` saves the model, writes that card once and uploads the folder through the writer. The
writer comes from outside (`concner.model_card.ModelCardCallback`), so this package imports neither `concner` nor
anything that renders cards.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import torch
from transformers import EarlyStoppingCallback, Trainer, TrainerCallback

from .eval_order import SequentialEvalMixin


@runtime_checkable
class ModelCardWriter(Protocol):
    """What a trainer needs to own its model card (`concner.model_card.ModelCardCallback` is one)."""

    def write_model_card(self, trainer: Trainer, model_id: str | None = None) -> Any:
        """Write `README.md` into `trainer.args.output_dir` (main process only); `model_id` names the Hub repo."""

    def push_folder(
        self,
        trainer: Trainer,
        repo_id: str,
        *,
        token: str | None,
        private: bool | None,
        revision: str | None,
        commit_message: str,
    ) -> Any:
        """Upload the saved model folder (card, config, weights, tokenizer) to `repo_id`; return the commit info."""


class ConCNERBaseTrainer(SequentialEvalMixin, Trainer):
    """A [`Trainer`] that logs a model's loss terms and owns its model card.

    - Loss terms: a subclass names them in `loss_terms` and passes their per-batch values to
      [`~ConCNERBaseTrainer.track_loss_terms`] from `compute_loss`; they are averaged over micro-batches and
      processes between logging steps and logged beside `loss` (console, TensorBoard, `trainer_state.json`, card). A
      term never tracked since the last log (e.g. a loss switched off) is not logged.
    - Model card: with a `model_card` writer, `create_model_card` and `push_to_hub` use it; without one they are
      transformers' own.
    - Evaluation and prediction run in dataset order ([`SequentialEvalMixin`]).
    - `args.early_stopping_patience` (when set) adds transformers' [`EarlyStoppingCallback`]: training stops once the
      source-dev metric has not improved for that many evaluations.

    Args:
        *args: what [`Trainer`] takes.
        model_card: the card writer ([`ModelCardWriter`]); a [`TrainerCallback`] writer is also registered as a
            callback (to fill the card during training and write it into checkpoints).
        **kwargs: what [`Trainer`] takes.
    """

    loss_terms: tuple[str, ...] = ()

    def __init__(self, *args: Any, model_card: ModelCardWriter | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        patience = getattr(self.args, "early_stopping_patience", None)
        evaluates = self.args.eval_strategy != "no" and self.args.load_best_model_at_end
        if patience is not None and evaluates:  # to convergence on the source dev set, `num_train_epochs` the cap
            self.add_callback(EarlyStoppingCallback(early_stopping_patience=patience))
        self._term_sums = torch.zeros(len(self.loss_terms), dtype=torch.float64, device=self.args.device)
        self._term_counts = torch.zeros(len(self.loss_terms), dtype=torch.float64, device=self.args.device)
        self.model_card: ModelCardWriter | None = None
        if model_card is not None:
            self.set_model_card(model_card)

    # ------------------------------------------------------------------ loss terms

    def track_loss_terms(self, values: Mapping[str, torch.Tensor | None]) -> None:
        """Record one training micro-batch's loss terms (`None` = not computed for this batch).

        Args:
            values: term name (one of `loss_terms`) → scalar tensor.
        """
        for i, name in enumerate(self.loss_terms):
            value = values.get(name)
            if value is not None:
                self._term_sums[i] += value.detach().to(self._term_sums)
                self._term_counts[i] += 1

    def loss_term_averages(self) -> dict[str, float]:
        """Averages of the loss terms since the last call (over micro-batches and processes); resets them.

        Collective under distributed training: every process must call it (as `log` does for training logs).
        """
        sums = self.accelerator.reduce(self._term_sums.clone(), reduction="sum")
        counts = self.accelerator.reduce(self._term_counts.clone(), reduction="sum")
        self._term_sums.zero_()
        self._term_counts.zero_()
        return {
            name: round(float(sums[i] / counts[i]), 6)
            for i, name in enumerate(self.loss_terms)
            if float(counts[i]) > 0
        }

    def log(self, logs: dict[str, float], start_time: float | None = None) -> None:
        """Adds the averaged loss terms to every training log (the ones holding `loss`)."""
        if "loss" in logs and self.loss_terms:
            logs = {**logs, **self.loss_term_averages()}
        super().log(logs, start_time)

    # ------------------------------------------------------------------ model card

    def set_model_card(self, writer: ModelCardWriter) -> None:
        """Make `writer` this trainer's card writer (replacing an earlier one, callback included)."""
        if not isinstance(writer, ModelCardWriter):
            raise TypeError(f"a model card writer needs write_model_card and push_folder, got {type(writer).__name__}")
        if isinstance(self.model_card, TrainerCallback):
            self.callback_handler.callbacks = [
                cb for cb in self.callback_handler.callbacks if cb is not self.model_card
            ]
        self.model_card = writer
        if isinstance(writer, TrainerCallback) and writer not in self.callback_handler.callbacks:
            self.add_callback(writer)

    def create_model_card(self, *args: Any, model_id: str | None = None, **kwargs: Any) -> None:
        """Write the card of the trainer's writer as `README.md` in the output folder (main process only).

        Without a writer this is [`Trainer.create_model_card`] (the generic card), given `*args` and `**kwargs`;
        with one, those (the generic card's fields) are ignored.

        Args:
            model_id: the Hub repository (`org/name`) the card's usage snippet names.
        """
        if self.model_card is None:
            return super().create_model_card(*args, **kwargs)
        if self.is_world_process_zero():
            self.model_card.write_model_card(self, model_id=model_id)
        return None

    def push_to_hub(
        self,
        commit_message: str | None = "End of training",
        blocking: bool = True,
        token: str | None = None,
        revision: str | None = None,
        private: bool | None = None,
        **kwargs: Any,
    ) -> Any:
        """Save the model, write its card once and upload the folder through the card writer.

        The upload holds the card, config, safetensors weights, tokenizer and remote code only (never
        `training_args.bin`, optimizer state or checkpoints). The signature is [`Trainer.push_to_hub`]'s; the upload
        always completes before this returns (`blocking` is ignored) and `**kwargs` (fields of transformers' generic
        card) are ignored. Without a card writer this is [`Trainer.push_to_hub`].

        Returns:
            The upload's commit info (`None` on processes other than the main one).
        """
        if self.model_card is None:
            return super().push_to_hub(commit_message, blocking, token, revision, private, **kwargs)
        args = self.args
        self.callback_handler.on_push_begin(args, self.state, self.control)
        self.save_model(_internal_call=True)
        if not self.is_world_process_zero():
            return None
        repo_id = self.hub_model_id or args.hub_model_id or Path(args.output_dir).absolute().name
        self.create_model_card(model_id=repo_id if repo_id.count("/") == 1 else None)
        self._finish_current_push()  # a checkpoint push still in flight
        return self.model_card.push_folder(
            self,
            repo_id,
            token=token if token is not None else args.hub_token,
            private=private if private is not None else args.hub_private_repo,
            revision=revision if revision is not None else args.hub_revision,
            commit_message=commit_message or "End of training",
        )


__all__ = ["ConCNERBaseTrainer", "ModelCardWriter"]
