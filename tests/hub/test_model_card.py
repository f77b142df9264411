"""The model card: pure helpers, and the card of a real (tiny) ConCNER teacher run rendered and parsed back."""

from __future__ import annotations

import json

import pytest
from huggingface_hub import ModelCard
from transformers import TrainingArguments

from concner.model_card import (
    CITATION,
    ConCNERModelCardData,
    ModelCardCallback,
    add_model_card_callback,
    find_card_data,
    loss_rows,
    markdown_table,
    metric_prefix,
    render_model_card,
    widget_sentences,
    write_model_card,
)
from tests.fs_helpers import mode, umask
from tests.hub.conftest import squash
from trainers.distillation_trainer import DistillationArguments

# ---------------------------------------------------------------------------------------------- pure helpers


def test_metric_prefix_from_runtime_or_f1():
    assert metric_prefix({"eval_f1": 1.0, "eval_PER_f1": 1.0, "eval_runtime": 0.1}) == "eval"
    assert metric_prefix({"test_de_PER_f1": 0.5, "test_de_f1": 0.4}) == "test_de"
    assert metric_prefix({"test_de_loss": 0.4}) is None


def test_add_metrics_splits_overall_and_types():
    card = ConCNERModelCardData(target_languages="de")
    card.add_metrics({"test_de_f1": 0.5, "test_de_precision": 0.6, "test_de_recall": 0.4, "test_de_PER_f1": 0.75,
                      "test_de_PER_precision": 1.0, "test_de_PER_recall": 0.6, "test_de_PER_number": 5,
                      "test_de_runtime": 0.01})  # fmt: skip
    card.add_metrics({"eval_f1": 0.9, "eval_I_PER_f1": 0.1, "eval_runtime": 0.01})
    rows = card.metric_rows()
    assert [(r["Language"], r["Split"], r["Type"]) for r in rows] == [
        ("de", "test", "**all**"),
        ("de", "test", "PER"),
        ("en", "validation", "**all**"),
        ("en", "validation", "I_PER"),
    ]
    assert rows[1] == {"Language": "de", "Split": "test", "Type": "PER", "Precision": 1.0, "Recall": 0.6,
                       "F1": 0.75, "Entities": 5}  # fmt: skip


def test_loss_rows_merge_terms_and_validation_and_cap_rows():
    history = [{"loss": 1.0 - i / 10, "ce_loss": 0.5, "lcl_loss": 0.2, "tcl_loss": 0.1, "step": i, "epoch": i / 2}
               for i in range(1, 9)]  # fmt: skip
    history.insert(4, {"eval_loss": 0.7, "eval_f1": 0.4, "step": 4, "epoch": 2.0})
    history.append({"train_loss": 0.5, "step": 8})
    rows = loss_rows(history, max_rows=0)
    assert len(rows) == 8
    assert list(rows[0]) == ["Epoch", "Step", "Training Loss", "CE", "LCL", "TCL", "Validation Loss", "Validation F1"]
    assert rows[3]["Validation F1"] == 0.4 and rows[2]["Validation F1"] is None
    capped = loss_rows(history, max_rows=3)
    assert len(capped) == 3 and capped[-1]["Step"] == 8
    table = squash(markdown_table(rows))
    assert table.splitlines()[0].startswith("| Epoch | Step | Training Loss | CE | LCL | TCL")
    assert "| 2.00 | 4 | 0.6000 | 0.5000 | 0.2000 | 0.1000 | 0.7000 | 0.4000 |" in table


def test_distillation_arguments_fill_the_kd_options(tmp_path):
    card = ConCNERModelCardData(target_languages=["de"])
    card.set_training_args(
        DistillationArguments(output_dir=str(tmp_path), kd_temperature=2.0, learning_rate=3e-5, report_to="none")
    )
    assert card.role == "student"
    assert card.method_parameters["kd_temperature"] == 2.0
    assert card.method_parameters["kd_loss_type"] == "mse"
    assert card.hyperparameters["learning_rate"] == 3e-5
    assert card.hyperparameters["optimizer"] == "adamw_torch_fused" or "adamw" in card.hyperparameters["optimizer"]
    card.labels = ["O", "B-PER", "I-PER"]
    card.log_history = [{"loss": 0.3, "kd_loss": 0.3, "step": 1, "epoch": 1.0}]
    text = squash(render_model_card(card))
    assert "- kd_temperature: 2.0" in text
    assert "| Epoch | Step | Training Loss | KD |" in text
    assert "trust_remote_code" not in text.split("<!-- usage-end -->")[0].split("<!-- usage-start -->")[1]


def test_user_fields_and_bad_model_id():
    with pytest.raises(ValueError, match="org/name"):
        ConCNERModelCardData(model_id="no-slash")
    card = ConCNERModelCardData(
        source_language="en", target_languages=["de", "nl"], base_model="google-bert/bert-base-multilingual-cased"
    )
    header = ModelCard(render_model_card(card)).data
    assert header.language == ["en", "de", "nl"]
    assert header.base_model == "google-bert/bert-base-multilingual-cased"
    assert header.pipeline_tag == "token-classification"


def test_widget_sentences_from_the_training_text():
    labelled = [
        {"tokens": ["ja"], "ner_tags": ["O"]},  # too short while longer sentences exist
        {"tokens": "peter ist hier".split(), "ner_tags": ["B-PER", "O", "O"]},
        {"tokens": "peter ist in berlin".split(), "ner_tags": ["B-PER", "O", "O", "B-LOC"]},
        {"tokens": "das ist gut".split(), "ner_tags": ["O", "O", "O"]},
    ]
    assert widget_sentences(labelled, count=2) == ["peter ist in berlin", "peter ist hier"]
    unlabelled = [{"tokens": t.split()} for t in ("ein satz hier", "ein satz hier", "noch ein satz")]
    assert widget_sentences(unlabelled) == ["ein satz hier", "noch ein satz"]
    card = ConCNERModelCardData(target_languages="de")
    card.set_widget_examples(unlabelled)
    header = ModelCard(render_model_card(card)).data
    assert [w["text"] for w in header.widget] == ["ein satz hier", "noch ein satz"]
    assert card.example == "ein satz hier"


def test_trainer_owns_its_card(tmp_path):
    """No method of the trainer is replaced: its class writes the card; a second callback is not added."""
    from tests.hub.conftest import teacher_trainer

    trainer, card = teacher_trainer(tmp_path / "out", max_steps=1)
    assert "create_model_card" not in vars(trainer) and "push_to_hub" not in vars(trainer)
    assert isinstance(trainer.model_card, ModelCardCallback) and trainer.model_card.card_data is card
    trainer.create_model_card()
    text = (tmp_path / "out" / "README.md").read_text(encoding="utf-8")
    assert "# ConCNER teacher (en → de)" in text and "generated_from_trainer" not in text


def test_callback_without_trainer_reference_still_fills_card(tmp_path):
    callback = ModelCardCallback()
    args = TrainingArguments(output_dir=str(tmp_path), learning_rate=1e-4, report_to="none")
    callback.on_train_begin(args, None, None)
    assert callback.card_data.hyperparameters["learning_rate"] == 1e-4
    assert callback.card_data.method_parameters == {}


# ---------------------------------------------------------------------------------------------- a real run


def test_teacher_run_card_is_complete(teacher_run):
    folder, metrics = teacher_run
    text = squash((folder / "README.md").read_text(encoding="utf-8"))
    card = ModelCard.load(folder / "README.md")  # the YAML header parses
    data = card.data
    assert data.language == ["en", "de"]
    assert data.library_name == "transformers" and data.pipeline_tag == "token-classification"
    # model-index: per-language F1 equal to what the run measured.
    f1 = {(r.dataset_config, r.dataset_split): r.metric_value for r in data.eval_results if r.metric_type == "f1"}
    assert f1[("de", "test")] == pytest.approx(round(metrics["test_de"]["test_de_f1"], 4))
    assert f1[("en", "validation")] == pytest.approx(round(metrics["eval"]["eval_f1"], 4))
    # Languages, base info, data, hyperparameters (α, β, τ) and the loss terms.
    assert "- **Source Language:** en" in text and "- **Target Language:** de" in text
    assert "- Labelled source sentences (D_SRC): 7" in text
    assert "- Translation backend: aligned" in text
    assert "- Label projection: 7 of 8 pairs kept (1 dropped)" in text
    assert "- α (ce_weight): 0.5" in text and "- β_LCL (lcl_weight): 0.25" in text
    assert "- τ_TCL (tcl_temperature): 0.1" in text
    assert "- learning_rate: 0.005" in text and "- max_seq_length: 64" in text
    assert "| Epoch | Step | Training Loss | CE | LCL | TCL | Validation Loss | Validation F1 |" in text
    train_logs = [h for h in metrics["log_history"] if "loss" in h]
    assert len(train_logs) == 10
    last = train_logs[-1]
    assert f"| {last['epoch']:.2f} | 20 | {last['loss']:.4f} | {last['ce_loss']:.4f} |" in text
    # The per-language / per-type table.
    per = metrics["test_de"]
    assert f"| de | test | PER | {per['test_de_PER_precision']:.4f} | {per['test_de_PER_recall']:.4f} |" in text
    assert "| en | validation | **all** |" in text
    # Usage, limitations, citation, versions.
    assert 'pipeline("ner", model="path/to/model", aggregation_strategy="simple", trust_remote_code=True)' in text
    assert "## Bias, Risks and Limitations" in text
    assert CITATION in text and "arXiv:2204.00796" in text and "LREC" not in text
    assert "- Transformers: " in text and "- PyTorch: " in text


def test_every_checkpoint_has_its_own_card(teacher_run):
    folder, _ = teacher_run
    for step in (10, 20):
        card_path = folder / f"checkpoint-{step}" / "README.md"
        text = squash(card_path.read_text(encoding="utf-8"))
        ModelCard.load(card_path)
        state = json.loads((folder / f"checkpoint-{step}" / "trainer_state.json").read_text())
        logged_steps = [h["step"] for h in state["log_history"] if "loss" in h]
        assert f"| {logged_steps[-1]} |" in text
        assert "| 20 |" not in text if step == 10 else "| 20 |" in text


def test_write_model_card_from_a_folder_reads_config_and_state(teacher_run, tmp_path):
    folder, _ = teacher_run
    checkpoint = folder / "checkpoint-10"
    (checkpoint / "README.md").unlink()
    path = write_model_card(checkpoint, ConCNERModelCardData(target_languages="de"))
    text = squash(path.read_text(encoding="utf-8"))
    assert "B-PER" in text and "ConCNER teacher" in text
    assert "| Epoch | Step | Training Loss | CE | LCL | TCL |" in text


def test_add_model_card_callback_is_idempotent(tmp_path):
    from tests.hub.conftest import teacher_trainer

    trainer, card = teacher_trainer(tmp_path / "out", max_steps=1)
    assert add_model_card_callback(trainer) is card
    assert sum(isinstance(cb, ModelCardCallback) for cb in trainer.callback_handler.callbacks) == 1
    assert find_card_data(trainer) is card


def test_student_card_from_a_distillation_run(teacher_run, tmp_path):
    """A real (tiny) `DistillationTrainer` run: KD options, KD loss column, plain-BERT usage snippet."""
    import torch
    from datasets import Dataset
    from transformers import AutoTokenizer, BertForTokenClassification

    import modeling_concner  # noqa: F401
    from concner.data.tokenization import tokenize_and_align
    from tests.conftest import tiny_bert_config
    from tests.hub.conftest import HUB_LABELS, PAIRS, single_thread
    from trainers.distillation_trainer import DistillationTrainer

    teacher_dir, _ = teacher_run
    tokenizer = AutoTokenizer.from_pretrained(teacher_dir)
    unlabelled = Dataset.from_list([{"id": str(i), "tokens": p[2].split()} for i, p in enumerate(PAIRS)])
    features = tokenize_and_align(unlabelled, tokenizer, None, 64)
    torch.manual_seed(1)
    student = BertForTokenClassification(tiny_bert_config(len(tokenizer), labels=HUB_LABELS))
    args = DistillationArguments(
        output_dir=str(tmp_path / "student"), max_steps=4, logging_steps=1, save_steps=2,
        per_device_train_batch_size=4, kd_temperature=2.0, report_to="none", disable_tqdm=True, use_cpu=True,
        remove_unused_columns=False,
    )  # fmt: skip
    with single_thread():
        trainer = DistillationTrainer(
            model=student,
            teacher_model=str(teacher_dir),
            args=args,
            train_dataset=features,
            processing_class=tokenizer,
        )
        card = add_model_card_callback(trainer, ConCNERModelCardData(model_role="student", target_languages=["de"]))
        card.set_training_data(unlabeled_size=len(unlabelled), unlabeled_dataset="hand-written German")
        trainer.train()
        trainer.save_model()
    path = write_model_card(trainer, card)
    text = squash(path.read_text(encoding="utf-8"))
    ModelCard.load(path)
    assert "# ConCNER student (en → de)" in text
    assert "- **Model Type:** `BertForTokenClassification` (plain transformers, no custom code)" in text
    assert "- Unlabelled target sentences (D_U): 7" in text
    assert "- kd_temperature: 2.0" in text and "- kd_loss_type: mse" in text
    assert "| Epoch | Step | Training Loss | KD |" in text
    kd = [h["kd_loss"] for h in trainer.state.log_history if "kd_loss" in h]
    assert len(kd) == 4 and f"| {kd[-1]:.4f} |" in text
    assert "trust_remote_code=True" not in text
    assert (tmp_path / "student" / "checkpoint-2" / "README.md").is_file()


@pytest.mark.parametrize(("mask", "file_mode"), [(0o022, 0o644), (0o077, 0o600)])
def test_written_card_follows_the_umask(student_dir, mask, file_mode):
    with umask(mask):
        path = write_model_card(student_dir, ConCNERModelCardData(target_languages="de"))
    assert path == student_dir / "README.md" and "B-PER" in path.read_text(encoding="utf-8")
    assert mode(path) == file_mode
    assert not [p for p in student_dir.iterdir() if p.name.endswith(".tmp")]
