"""ConCNERTrainer on hand-built paired features: paired batches, the model's loss, logged loss terms."""

from __future__ import annotations

import pytest
import torch

from concner.data.tokenization import tokenize_and_align
from modeling_concner import ConCNERConfig, ConCNERForTokenClassification
from tests.conftest import tiny_bert_config
from tests.teacher.helpers import label2id, paired_dataset
from trainers import ConCNERTrainer, DataCollatorForConCNER
from trainers.arguments import ConCNERTrainingArguments


@pytest.fixture
def features(tiny_tokenizer):
    return tokenize_and_align(paired_dataset(), tiny_tokenizer, label2id(), 64)


def _model(tiny_tokenizer, **weights):
    torch.manual_seed(0)
    config = ConCNERConfig(**tiny_bert_config(len(tiny_tokenizer)).to_dict(), **weights)
    return ConCNERForTokenClassification(config)


def _args(tmp_path, **overrides):
    values = dict(
        output_dir=str(tmp_path / "out"),
        per_device_train_batch_size=4,
        max_steps=4,
        logging_steps=1,
        eval_strategy="no",
        save_strategy="no",
        load_best_model_at_end=False,
        learning_rate=1e-3,
        report_to="none",
        disable_tqdm=True,
        seed=3,
    )
    values.update(overrides)
    return ConCNERTrainingArguments(**values)


def test_train_batches_are_paired(tmp_path, tiny_tokenizer, features):
    trainer = ConCNERTrainer(
        model=_model(tiny_tokenizer), args=_args(tmp_path), train_dataset=features, processing_class=tiny_tokenizer
    )
    assert isinstance(trainer.data_collator, DataCollatorForConCNER)
    batches = list(trainer.get_train_dataloader())
    assert len(batches) == 4  # 12 pairs + 4 singles = 16 units, 4 per batch
    total_rows = 0
    for batch in batches:
        ids = batch["pair_ids"].tolist()
        total_rows += len(ids)
        for pair_id in {p for p in ids if p >= 0}:
            assert ids.count(pair_id) == 2
        assert "word_index" not in batch and "example_index" not in batch
    assert total_rows == len(features)


def test_loss_terms_are_logged_and_sum_to_the_loss(tmp_path, tiny_tokenizer, features):
    trainer = ConCNERTrainer(
        model=_model(tiny_tokenizer), args=_args(tmp_path), train_dataset=features, processing_class=tiny_tokenizer
    )
    trainer.train()
    logs = [h for h in trainer.state.log_history if "loss" in h]
    assert len(logs) == 4
    for log in logs:
        assert {"ce_loss", "lcl_loss", "tcl_loss"} <= set(log)
        expected = 0.5 * log["ce_loss"] + 0.25 * log["lcl_loss"] + 0.25 * log["tcl_loss"]
        assert log["loss"] == pytest.approx(expected, rel=1e-4, abs=1e-5)
    assert logs[-1]["ce_loss"] < logs[0]["ce_loss"] + 1.0


def test_terms_are_averaged_between_logging_steps(tmp_path, tiny_tokenizer, features):
    recorded: list[dict[str, float]] = []

    class Recording(ConCNERTrainer):
        def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
            loss, outputs = super().compute_loss(model, inputs, True, num_items_in_batch)
            if model.training:
                recorded.append({k: float(getattr(outputs, k).detach()) for k in ("ce_loss", "lcl_loss", "tcl_loss")})
            return (loss, outputs) if return_outputs else loss

    args = _args(tmp_path, logging_steps=2, gradient_accumulation_steps=2, max_steps=2)
    trainer = Recording(
        model=_model(tiny_tokenizer), args=args, train_dataset=features, processing_class=tiny_tokenizer
    )
    trainer.train()
    (log,) = [h for h in trainer.state.log_history if "loss" in h]
    assert len(recorded) == 4  # 2 optimisation steps x 2 micro-batches
    for name in ("ce_loss", "lcl_loss", "tcl_loss"):
        assert log[name] == pytest.approx(sum(r[name] for r in recorded) / 4, abs=1e-5)


def test_switched_off_terms_are_not_logged(tmp_path, tiny_tokenizer, features):
    model = _model(tiny_tokenizer, lcl_weight=0.0, tcl_weight=0.0, ce_weight=1.0)
    trainer = ConCNERTrainer(
        model=model, args=_args(tmp_path, max_steps=2), train_dataset=features, processing_class=tiny_tokenizer
    )
    trainer.train()
    logs = [h for h in trainer.state.log_history if "loss" in h]
    assert all("ce_loss" in h and "lcl_loss" not in h and "tcl_loss" not in h for h in logs)
    assert all(h["loss"] == pytest.approx(h["ce_loss"], rel=1e-4) for h in logs)


def test_compute_loss_is_the_models_loss(tmp_path, tiny_tokenizer, features):
    model = _model(tiny_tokenizer)
    trainer = ConCNERTrainer(
        model=model, args=_args(tmp_path), train_dataset=features, processing_class=tiny_tokenizer
    )
    batch = next(iter(trainer.get_train_dataloader()))
    model.eval()
    loss, outputs = trainer.compute_loss(model, batch, return_outputs=True)
    with torch.no_grad():
        direct = model(**batch)
    assert torch.allclose(loss, direct.loss)
    assert trainer._term_counts.sum() == 0  # evaluation batches are not recorded


def test_evaluation_uses_argmax_predictions(tmp_path, tiny_tokenizer, features):
    from concner.metrics import argmax_logits, build_compute_metrics
    from tests.conftest import LABELS
    from tests.teacher.helpers import paired_dataset

    dev = paired_dataset(num_pairs=3, num_single=2, seed=1)
    dev_features = tokenize_and_align(dev, tiny_tokenizer, label2id(), 64)
    trainer = ConCNERTrainer(
        model=_model(tiny_tokenizer),
        args=_args(tmp_path),
        train_dataset=features,
        eval_dataset=dev_features,
        processing_class=tiny_tokenizer,
        compute_metrics=build_compute_metrics(dev_features, list(dev["ner_tags"]), dict(enumerate(LABELS))),
        preprocess_logits_for_metrics=argmax_logits,
    )
    metrics = trainer.evaluate()
    assert {"eval_f1", "eval_precision", "eval_recall", "eval_PER_f1", "eval_LOC_f1", "eval_loss"} <= set(metrics)
