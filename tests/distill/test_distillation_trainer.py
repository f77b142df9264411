"""DistillationTrainer on tiny random BERTs: the student approaches the teacher, the teacher stays frozen."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from datasets import Dataset

from tests.conftest import LABELS, build_tiny_tokenizer
from tests.distill.conftest import make_features, make_model, make_teacher, random_sentences
from trainers.distillation_collator import DataCollatorForDistillation
from trainers.distillation_losses import distillation_mse_loss
from trainers.distillation_trainer import (
    DistillationArguments,
    DistillationTrainer,
    IncompatibleModelsError,
    check_tokenizers,
)
from trainers.teacher_cache import add_teacher_logits


def _args(tmp_path, **kwargs) -> DistillationArguments:
    params = dict(
        output_dir=str(tmp_path / "out"),
        max_steps=30,
        per_device_train_batch_size=8,
        per_device_eval_batch_size=16,
        learning_rate=5e-3,
        logging_steps=10,
        save_strategy="no",
        report_to=[],
        use_cpu=True,
        seed=0,
        disable_tqdm=True,
    )
    params.update(kwargs)
    return DistillationArguments(**params)


def _trainer(tmp_path, student, teacher, tokenizer, dataset, **kwargs) -> DistillationTrainer:
    args_kwargs = {k: kwargs.pop(k) for k in list(kwargs) if k not in ("eval_dataset", "teacher_processing_class")}
    return DistillationTrainer(
        model=student,
        teacher_model=teacher,
        args=_args(tmp_path, **args_kwargs),
        train_dataset=dataset,
        data_collator=DataCollatorForDistillation(tokenizer),
        processing_class=tokenizer,
        **kwargs,
    )


@torch.no_grad()
def _dataset_mse(student, teacher, tokenizer, dataset) -> float:
    """Eq. 9 over the whole dataset (one batch), both models in eval mode."""
    batch = DataCollatorForDistillation(tokenizer)(list(dataset))
    inputs = {k: batch[k] for k in ("input_ids", "attention_mask", "token_type_ids")}
    student.eval()
    teacher.eval()
    return float(distillation_mse_loss(student(**inputs).logits, teacher(**inputs).logits, batch["word_index"] >= 0))


def test_student_mse_to_teacher_falls_and_teacher_is_untouched(tmp_path, tiny_tokenizer, teacher, student, unlabelled):
    before_state = {k: v.clone() for k, v in teacher.state_dict().items()}
    mse_before = _dataset_mse(student, teacher, tiny_tokenizer, unlabelled)
    trainer = _trainer(tmp_path, student, teacher, tiny_tokenizer, unlabelled)
    trainer.train()
    mse_after = _dataset_mse(trainer.model, teacher, tiny_tokenizer, unlabelled)
    assert mse_after < 0.5 * mse_before, (mse_before, mse_after)

    kd = [h["kd_loss"] for h in trainer.state.log_history if "kd_loss" in h]
    assert len(kd) == 3 and kd[-1] < kd[0]
    # With no hard-label term, the logged total loss is the KD term.
    logged = [h for h in trainer.state.log_history if "kd_loss" in h]
    assert all(h["loss"] == pytest.approx(h["kd_loss"], rel=1e-4) for h in logged)

    # Teacher: bit-for-bit unchanged, frozen, in eval mode, never seen by the optimizer.
    after_state = teacher.state_dict()
    assert before_state.keys() == after_state.keys()
    assert all(torch.equal(before_state[k], after_state[k]) for k in before_state)
    assert not any(p.requires_grad for p in trainer.teacher_model.parameters())
    assert not trainer.teacher_model.training
    teacher_ids = {id(p) for p in trainer.teacher_model.parameters()}
    optimized = {id(p) for group in trainer.optimizer.param_groups for p in group["params"]}
    assert optimized and not (optimized & teacher_ids)
    assert not any(id(p) in teacher_ids for p in trainer.optimizer.state)
    assert all(p.grad is None for p in trainer.teacher_model.parameters())


def test_cached_and_on_the_fly_teacher_give_the_same_loss(tmp_path, tiny_tokenizer, teacher, student, unlabelled):
    trainer = _trainer(tmp_path, student, teacher, tiny_tokenizer, unlabelled, kd_hard_label_weight=0.5)
    # Cache computed with another batch size than the training batch, so padding differs.
    cached = add_teacher_logits(unlabelled, teacher, tiny_tokenizer, batch_size=5)
    assert cached.features["teacher_logits"].feature.feature.dtype == "float32"
    collator = DataCollatorForDistillation(tiny_tokenizer)
    student.eval()
    for start in range(0, len(unlabelled), 16):
        rows = range(start, start + 16)
        live = collator([unlabelled[i] for i in rows])
        stored = collator([cached[i] for i in rows])
        assert "teacher_logits" in stored and "teacher_logits" not in live
        with torch.no_grad():
            loss_live = trainer.compute_loss(student, live)
            loss_cached = trainer.compute_loss(student, stored)
        assert float(loss_live) > 0
        assert float(loss_cached) == pytest.approx(float(loss_live), abs=1e-6)


def test_cached_training_never_runs_the_teacher(tmp_path, tiny_tokenizer, teacher, student, unlabelled):
    cached = add_teacher_logits(unlabelled, teacher, tiny_tokenizer)
    trainer = _trainer(tmp_path, student, teacher, tiny_tokenizer, cached, max_steps=6, logging_steps=3)

    def fail(*args, **kwargs):
        raise AssertionError("the teacher ran although its logits were cached")

    trainer.teacher_model.forward = fail
    trainer.train()
    assert [h["kd_loss"] for h in trainer.state.log_history if "kd_loss" in h]


def test_predict_without_the_teacher_loss_never_runs_it(tmp_path, tiny_tokenizer, teacher, student, unlabelled):
    """Scoring a test set (`run_distill.score_test_set`) predicts with the student alone: same logits, no loss."""
    trainer = _trainer(tmp_path, student, teacher, tiny_tokenizer, unlabelled)
    with_loss = trainer.predict(unlabelled)
    assert "test_loss" in with_loss.metrics
    forward = trainer.teacher_model.forward

    def fail(*args, **kwargs):
        raise AssertionError("the teacher ran although no loss was asked for")

    trainer.teacher_model.forward = fail
    alone = trainer.predict(unlabelled, teacher_loss=False)
    assert "test_loss" not in alone.metrics
    np.testing.assert_allclose(alone.predictions, with_loss.predictions, atol=1e-6)
    with pytest.raises(AssertionError, match="the teacher ran"):
        trainer.predict(unlabelled)  # the default (and the evaluation loss) still runs the teacher
    trainer.teacher_model.forward = forward


def test_stale_cache_is_an_error(tiny_tokenizer, teacher, unlabelled):
    cached = add_teacher_logits(unlabelled, teacher, tiny_tokenizer)
    wrong = [dict(cached[0], teacher_logits=cached[1]["teacher_logits"])]
    if len(cached[0]["teacher_logits"]) == len(cached[1]["teacher_logits"]):
        pytest.skip("rows 0 and 1 happen to have the same number of words")
    with pytest.raises(ValueError, match="recompute"):
        DataCollatorForDistillation(tiny_tokenizer)(wrong)


def test_teacher_cache_fingerprint_follows_the_teacher(tiny_tokenizer, teacher, unlabelled):
    first = add_teacher_logits(unlabelled, teacher, tiny_tokenizer)
    again = add_teacher_logits(unlabelled, teacher, tiny_tokenizer)
    other = add_teacher_logits(unlabelled, make_teacher(len(tiny_tokenizer), seed=9), tiny_tokenizer)
    assert first._fingerprint == again._fingerprint != other._fingerprint


def test_hard_label_term_is_logged(tmp_path, tiny_tokenizer, teacher, student, unlabelled):
    trainer = _trainer(
        tmp_path, student, teacher, tiny_tokenizer, unlabelled, max_steps=4, logging_steps=2, kd_hard_label_weight=0.5
    )
    trainer.train()
    logs = [h for h in trainer.state.log_history if "kd_loss" in h]
    assert logs and all("hard_label_loss" in h for h in logs)
    assert logs[0]["loss"] == pytest.approx(logs[0]["kd_loss"] + 0.5 * logs[0]["hard_label_loss"], rel=1e-4)


def test_kl_and_temperature_train(tmp_path, tiny_tokenizer, teacher, student, unlabelled):
    trainer = _trainer(
        tmp_path, student, teacher, tiny_tokenizer, unlabelled, kd_loss_type="kl", kd_temperature=2.0, max_steps=20
    )
    trainer.train()
    kd = [h["kd_loss"] for h in trainer.state.log_history if "kd_loss" in h]
    assert kd[-1] < kd[0]


def test_freezing_keeps_frozen_weights(tmp_path, tiny_tokenizer, teacher, student, unlabelled):
    before = {k: v.clone() for k, v in student.state_dict().items()}
    trainer = _trainer(
        tmp_path,
        student,
        teacher,
        tiny_tokenizer,
        unlabelled,
        max_steps=3,
        freeze_embeddings=True,
        freeze_bottom_layers=1,
    )
    trainer.train()
    after = trainer.model.state_dict()
    frozen = [k for k in before if k.startswith(("bert.embeddings.", "bert.encoder.layer.0."))]
    trained = [k for k in before if k.startswith(("bert.encoder.layer.1.", "classifier."))]
    assert frozen and trained
    assert all(torch.equal(before[k], after[k]) for k in frozen)
    assert any(not torch.equal(before[k], after[k]) for k in trained)
    assert set(trainer.frozen_parameters) == {k for k in frozen if k in dict(student.named_parameters())}


def test_evaluate_reports_student_metrics_with_labels(tmp_path, tiny_tokenizer, teacher, student):
    sentences = random_sentences(10, seed=11)
    labels = [[(i + j) % len(LABELS) for j in range(len(s))] for i, s in enumerate(sentences)]
    dev = Dataset.from_list(make_features(tiny_tokenizer, sentences, labels))
    trainer = _trainer(tmp_path, student, teacher, tiny_tokenizer, dev, eval_dataset=dev)
    output = trainer.predict(dev)
    assert output.predictions.shape[:1] == (10,) and output.predictions.shape[-1] == len(LABELS)
    assert output.label_ids is not None and output.metrics["test_loss"] > 0


def test_label_map_mismatch_is_an_error(tmp_path, tiny_tokenizer, teacher, unlabelled):
    other = make_model(len(tiny_tokenizer), seed=2, labels=["O", "B-PER", "I-PER"])
    with pytest.raises(IncompatibleModelsError, match="label map"):
        _trainer(tmp_path, other, teacher, tiny_tokenizer, unlabelled)
    reordered = make_model(len(tiny_tokenizer), seed=2, labels=[LABELS[0], *reversed(LABELS[1:])])
    with pytest.raises(IncompatibleModelsError, match="label map"):
        _trainer(tmp_path, reordered, teacher, tiny_tokenizer, unlabelled)


def test_vocabulary_mismatch_is_an_error(tmp_path, tiny_tokenizer, teacher, unlabelled):
    other = make_model(len(tiny_tokenizer) + 7, seed=2)
    with pytest.raises(IncompatibleModelsError, match="vocabulary size"):
        _trainer(tmp_path, other, teacher, tiny_tokenizer, unlabelled)


def swapped_tokenizer(directory, first: str = "london", second: str = "paris"):
    """The tiny tokenizer with the ids of two words swapped: same class and size, different vocabulary."""
    import json

    from transformers import AutoTokenizer

    build_tiny_tokenizer(directory)
    path = directory / "tokenizer.json"
    data = json.loads(path.read_text(encoding="utf-8"))
    vocab = data["model"]["vocab"]
    vocab[first], vocab[second] = vocab[second], vocab[first]
    path.write_text(json.dumps(data), encoding="utf-8")
    return AutoTokenizer.from_pretrained(directory)


def test_tokenizer_mismatch_is_an_error(tmp_path, tiny_tokenizer, teacher, student, unlabelled):
    other = swapped_tokenizer(tmp_path / "swapped")
    assert len(other) == len(tiny_tokenizer) and other.get_vocab() != tiny_tokenizer.get_vocab()
    with pytest.raises(IncompatibleModelsError, match="vocabulary"):
        _trainer(tmp_path, student, teacher, tiny_tokenizer, unlabelled, teacher_processing_class=other)
    check_tokenizers(tiny_tokenizer, build_tiny_tokenizer())  # identical tokenizers pass


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"kd_temperature": 0.0}, "kd_temperature"),
        ({"kd_loss_type": "l1"}, "kd_loss_type"),
        ({"kd_hard_label_weight": -1.0}, "kd_hard_label_weight"),
        ({"freeze_bottom_layers": -1}, "freeze_bottom_layers"),
    ],
)
def test_argument_validation(tmp_path, kwargs, match):
    with pytest.raises(ValueError, match=match):
        _args(tmp_path, **kwargs)


def test_teacher_must_not_be_the_student(tmp_path, tiny_tokenizer, student, unlabelled):
    with pytest.raises(ValueError, match="same object"):
        _trainer(tmp_path, student, student, tiny_tokenizer, unlabelled)


def test_too_many_frozen_layers_is_an_error(tmp_path, tiny_tokenizer, teacher, student, unlabelled):
    with pytest.raises(ValueError, match="2 layers"):
        _trainer(tmp_path, student, teacher, tiny_tokenizer, unlabelled, freeze_bottom_layers=3)


def test_gradient_accumulation_matches_one_big_batch(tmp_path, tiny_tokenizer, teacher, unlabelled):
    """The per-batch mean is divided by the accumulation steps: 2×4 accumulated ≈ one batch of 8 (equal lengths)."""
    sentences = random_sentences(8, seed=12, min_len=6, max_len=6)
    data = Dataset.from_list(make_features(tiny_tokenizer, [s[:6] for s in sentences]))
    lengths = {len(r["input_ids"]) for r in data}
    words = {sum(i >= 0 for i in r["word_index"]) for r in data}
    assert len(words) == 1
    if len(lengths) != 1:
        pytest.skip("pieces per sentence differ")
    common = dict(max_steps=1, learning_rate=1e-3, lr_scheduler_type="constant", optim="sgd", max_grad_norm=0.0)
    small = make_model(len(tiny_tokenizer), seed=2)
    big = make_model(len(tiny_tokenizer), seed=2)
    a = _trainer(
        tmp_path / "a",
        small,
        teacher,
        tiny_tokenizer,
        data,
        per_device_train_batch_size=4,
        gradient_accumulation_steps=2,
        **common,
    )
    b = _trainer(tmp_path / "b", big, teacher, tiny_tokenizer, data, per_device_train_batch_size=8, **common)
    a.train()
    b.train()
    for (name, p), q in zip(a.model.named_parameters(), b.model.parameters()):
        assert torch.allclose(p, q, atol=1e-6), name
