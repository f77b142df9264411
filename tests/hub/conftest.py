"""Fixtures of the Hub-readiness tests: a tiny trained student (plain BERT) and a tiny ConCNER teacher run.

Both are trained here on a handful of hand-written sentences (words from the tiny tokenizer's vocabulary), so they
predict entities; each is built once per session and copied per test.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import torch
from datasets import Dataset

from tests.conftest import build_tiny_tokenizer, tiny_bert_config

HUB_LABELS = ["O", "B-LOC", "B-ORG", "B-PER", "I-LOC", "I-ORG", "I-PER"]

# (English source, tags) and its German "translation" (same entities), pair i <-> i.
PAIRS = [
    ("peter said he was in berlin", "B-PER O O O O B-LOC", "peter ist in berlin", "B-PER O O B-LOC"),
    (
        "mary was in london with john",
        "B-PER O O B-LOC O B-PER",
        "mary ist mit john in london",
        "B-PER O O B-PER O B-LOC",
    ),
    (
        "the european commission said it will",
        "O B-ORG I-ORG O O O",
        "die european commission ist nicht in paris",
        "O B-ORG I-ORG O O O B-LOC",
    ),
    ("john is in paris", "B-PER O O B-LOC", "john ist in paris", "B-PER O O B-LOC"),
    (
        "mary said the united nations has",
        "B-PER O O B-ORG I-ORG O",
        "mary und die united nations",
        "B-PER O O B-ORG I-ORG",
    ),
    (
        "they were in madrid and amsterdam",
        "O O O B-LOC O B-LOC",
        "sie sind in madrid und amsterdam",
        "O O O B-LOC O B-LOC",
    ),
    ("peter john was at the bank", "B-PER I-PER O O O O", "peter john ist an der bank", "B-PER I-PER O O O O"),
]
# Target-language evaluation sentences (not trained on).
TEST_DE = [
    ("john ist in berlin", "B-PER O O B-LOC"),
    ("mary ist in madrid", "B-PER O O B-LOC"),
    ("die united nations und die european commission", "O B-ORG I-ORG O O B-ORG I-ORG"),
    ("peter ist mit mary in amsterdam", "B-PER O O B-PER O B-LOC"),
]


def squash(text: str) -> str:
    """`text` with the padding of table cells removed (`make_markdown_table` pads cells to the column width)."""
    return re.sub(r" +\|", " |", text)


def rows(sentences: list[tuple[str, str]], prefix: str) -> list[dict]:
    return [{"id": f"{prefix}{i}", "tokens": s.split(), "ner_tags": t.split()} for i, (s, t) in enumerate(sentences)]


def paired_rows() -> list[dict]:
    """Source rows then their translations, with `pair_id` i on both rows of pair i."""
    source = [{**r, "pair_id": i} for i, r in enumerate(rows([(p[0], p[1]) for p in PAIRS], "en"))]
    target = [{**r, "pair_id": i} for i, r in enumerate(rows([(p[2], p[3]) for p in PAIRS], "de"))]
    return source + target


def label2id() -> dict[str, int]:
    return {label: i for i, label in enumerate(HUB_LABELS)}


@contextmanager
def single_thread() -> Iterator[None]:
    """Tiny models train faster on one thread (and do not fight other processes for the cores)."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def _train_student(path: Path) -> Path:
    """A tiny `BertForTokenClassification` trained 40 full-batch steps (first sub-word labels)."""
    from transformers import BertForTokenClassification

    from concner.data.tokenization import tokenize_and_align

    tokenizer = build_tiny_tokenizer()
    features = tokenize_and_align(Dataset.from_list(paired_rows()), tokenizer, label2id(), 64)
    batch = tokenizer.pad(
        {k: features[k][:] for k in ("input_ids", "attention_mask", "token_type_ids")}, return_tensors="pt"
    )
    width = batch["input_ids"].shape[1]
    labels = torch.tensor([row + [-100] * (width - len(row)) for row in features["labels"][:]])
    torch.manual_seed(0)
    model = BertForTokenClassification(tiny_bert_config(len(tokenizer), labels=HUB_LABELS))
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2)
    model.train()
    for _ in range(40):
        loss = model(**batch, labels=labels).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
    model.eval()
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


@pytest.fixture(scope="session")
def _student_session(tmp_path_factory) -> Path:
    with single_thread():
        return _train_student(tmp_path_factory.mktemp("hub") / "student")


@pytest.fixture
def student_dir(_student_session, tmp_path) -> Path:
    """A per-test copy of the tiny trained student folder."""
    return Path(shutil.copytree(_student_session, tmp_path / "student"))


def teacher_trainer(output_dir: Path, card_data=None, **overrides):
    """A `ConCNERTrainer` (teacher, tiny config) with the model-card callback, on the paired hand-written data."""
    from concner.data.tokenization import tokenize_and_align
    from concner.metrics import argmax_logits, build_compute_metrics
    from concner.model_card import ConCNERModelCardData, add_model_card_callback
    from modeling_concner import ConCNERConfig, ConCNERForTokenClassification
    from trainers import ConCNERTrainer
    from trainers.arguments import ConCNERTrainingArguments

    tokenizer = build_tiny_tokenizer()
    train = tokenize_and_align(Dataset.from_list(paired_rows()), tokenizer, label2id(), 64)
    dev = Dataset.from_list(rows([(p[0], p[1]) for p in PAIRS[:4]], "dev"))
    dev_features = tokenize_and_align(dev, tokenizer, label2id(), 64)
    config = {k: v for k, v in tiny_bert_config(len(tokenizer), labels=HUB_LABELS).to_dict().items()}
    config.pop("model_type", None)
    torch.manual_seed(0)
    model = ConCNERForTokenClassification(ConCNERConfig(**config))
    values = dict(
        output_dir=str(output_dir),
        per_device_train_batch_size=4,
        max_steps=20,
        logging_steps=2,
        eval_strategy="steps",
        eval_steps=10,
        save_strategy="steps",
        save_steps=10,
        save_total_limit=None,
        learning_rate=5e-3,
        report_to="none",
        disable_tqdm=True,
        seed=0,
        use_cpu=True,
    )
    values.update(overrides)
    trainer = ConCNERTrainer(
        model=model,
        args=ConCNERTrainingArguments(**values),
        train_dataset=train,
        eval_dataset=dev_features,
        processing_class=tokenizer,
        compute_metrics=build_compute_metrics(dev_features, list(dev["ner_tags"]), dict(enumerate(HUB_LABELS))),
        preprocess_logits_for_metrics=argmax_logits,
    )
    card = card_data or ConCNERModelCardData(
        target_languages=["de"], source_dataset="hand-written English", test_datasets={"de": "hand-written German"}
    )
    add_model_card_callback(trainer, card)
    return trainer, card


def run_teacher(output_dir: Path) -> dict:
    """Train the tiny teacher, evaluate on the source dev set and the German test set, save, write the card."""
    from concner.data.tokenization import tokenize_and_align
    from concner.metrics import build_compute_metrics
    from concner.model_card import write_model_card

    trainer, card = teacher_trainer(output_dir)
    card.set_training_data(
        source_size=len(PAIRS),
        target_size=len(PAIRS),
        translation_backend="aligned",
        projection={
            "backend": "aligned",
            "pairs": {"total": 8, "kept": 7, "dropped": 1, "dropped_by_reason": {"unaligned": 1}},
            "entities": {
                "source_all": {"LOC": 7, "ORG": 2, "PER": 8},
                "source_kept": {"LOC": 6, "ORG": 2, "PER": 8},
                "target_kept": {"LOC": 7, "ORG": 2, "PER": 8},
                "lost_by_reason": {},
            },
        },
    )
    card.set_hyperparameters(max_seq_length=64)
    trainer.train()
    trainer.save_model()
    eval_metrics = trainer.evaluate()
    test = Dataset.from_list(rows(TEST_DE, "test"))
    test_features = tokenize_and_align(test, trainer.processing_class, label2id(), 64)
    trainer.compute_metrics = build_compute_metrics(test_features, list(test["ner_tags"]), dict(enumerate(HUB_LABELS)))
    test_metrics = trainer.predict(test_features, metric_key_prefix="test_de").metrics
    write_model_card(trainer)
    return {"eval": eval_metrics, "test_de": test_metrics, "log_history": list(trainer.state.log_history)}


@pytest.fixture(scope="session")
def _teacher_session(tmp_path_factory) -> tuple[Path, dict]:
    output_dir = tmp_path_factory.mktemp("hub") / "teacher"
    with single_thread():
        return output_dir, run_teacher(output_dir)


@pytest.fixture
def teacher_run(_teacher_session, tmp_path) -> tuple[Path, dict]:
    """A per-test copy of the tiny teacher run's output folder (with checkpoints) and its metrics."""
    source, metrics = _teacher_session
    return Path(shutil.copytree(source, tmp_path / "teacher")), metrics
