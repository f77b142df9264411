"""run_concner.py end to end on the tiny model: variants, model selection, resume, config files."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

import run_concner
from tests.teacher.helpers import data_slices, run_argv

EXPECTED_TERMS = {
    "en": {"ce_loss"},
    "trans": {"ce_loss"},
    "en_trans": {"ce_loss"},
    "en_lcl": {"ce_loss", "lcl_loss"},
    "trans_lcl": {"ce_loss", "lcl_loss"},
    "en_trans_lcl": {"ce_loss", "lcl_loss"},
    "en_trans_tcl": {"ce_loss", "tcl_loss"},
    "concner": {"ce_loss", "lcl_loss", "tcl_loss"},
}


def _state(output: Path) -> dict:
    return json.loads((output / "trainer_state.json").read_text())


@pytest.mark.parametrize("variant", list(run_concner.VARIANTS))
def test_every_variant_trains(variant, synthetic, tiny_bert_dir, tmp_path, capsys):
    output = tmp_path / variant
    argv = run_argv(synthetic, tiny_bert_dir, output, "--variant", variant, "--max_steps", "2", "--eval_steps", "2",
                 "--save_steps", "2")  # fmt: skip
    metrics = run_concner.run(argv)
    train_on, lcl, tcl = run_concner.VARIANTS[variant]
    config = json.loads((output / "config.json").read_text())
    assert (config["lcl_weight"], config["tcl_weight"], config["ce_weight"]) == (lcl, tcl, 0.5)
    logged = [h for h in _state(output)["log_history"] if "loss" in h]
    terms = set().union(*[{k for k in h if k.endswith("_loss") and k != "loss"} for h in logged])
    assert terms == EXPECTED_TERMS[variant]
    rows = {"source": 16, "translation": 16, "both": 32}[train_on]
    assert metrics["train_rows"] == rows
    assert "test_de_f1" in metrics and "eval_f1" in metrics
    out = capsys.readouterr().out
    assert f"train_on={train_on}" in out and "label map: 0=O, 1=B-LOC" in out


# The LCL options beyond the paper: the O-anchor sampling draws from torch's RNG, which a checkpoint restores.
LCL_OPTIONS = {"lcl_o_sample_ratio": 0.5, "lcl_o_in_denominator": False, "lcl_class_weighting": "balanced"}


@pytest.mark.parametrize("precision", ["fp32", "bf16", "fp32_lcl_options"])
def test_resume_gives_the_same_run(precision, synthetic, tiny_bert_dir, tmp_path):
    """Kill-and-resume is exact, in fp32 and under CPU bf16 autocast (`--bf16`, the cpu preset's fast setting), also
    with LCL's O-anchor sampling and class weights."""
    common = ["--variant", "concner", "--num_train_epochs", "3", "--eval_steps", "3", "--save_steps", "3",
              "--save_total_limit", "20", "--load_best_model_at_end", "false"]  # fmt: skip
    if precision == "bf16":
        common += ["--bf16", "true"]
    if precision == "fp32_lcl_options":
        common += [arg for name, value in LCL_OPTIONS.items() for arg in (f"--{name}", str(value))]
    full = tmp_path / "full"
    run_concner.run(run_argv(synthetic, tiny_bert_dir, full, *common))
    if precision == "fp32_lcl_options":
        config = json.loads((full / "config.json").read_text())
        assert {name: config[name] for name in LCL_OPTIONS} == LCL_OPTIONS
    state = _state(full)
    steps_per_epoch = state["max_steps"] // 3
    # a checkpoint in the middle of the second or third epoch, so the resumed epoch is reshuffled with seed + epoch
    resume_step = next(s for s in range(3, state["max_steps"], 3) if s > steps_per_epoch and s % steps_per_epoch)
    resumed = tmp_path / "resumed"
    resumed.mkdir()
    checkpoint = full / f"checkpoint-{resume_step}"
    shutil.copytree(checkpoint, resumed / checkpoint.name)
    metrics = run_concner.run(
        run_argv(
            synthetic, tiny_bert_dir, resumed, *common, "--resume_from_checkpoint", str(resumed / checkpoint.name)
        )
    )
    # it really resumed: no checkpoint before the resume point was written again
    written = sorted(int(p.name.split("-")[1]) for p in resumed.glob("checkpoint-*"))
    assert written[0] == resume_step and len(written) > 1
    assert _state(resumed)["global_step"] == state["global_step"]
    full_results = json.loads((full / "all_results.json").read_text())
    for key in ("eval_f1", "eval_loss", "test_de_f1", "test_de_loss"):
        assert metrics[key] == pytest.approx(full_results[key], abs=1e-6)
    a, b = load_file(full / "model.safetensors"), load_file(resumed / "model.safetensors")
    assert all(torch.allclose(a[k], b[k], atol=1e-6) for k in a)
    after = [h for h in state["log_history"] if "loss" in h and h["step"] > resume_step]
    again = [h for h in _state(resumed)["log_history"] if "loss" in h and h["step"] > resume_step]
    assert [h["step"] for h in after] == [h["step"] for h in again] and after
    for x, y in zip(after, again):
        for key in ("loss", "ce_loss", "lcl_loss"):
            assert x[key] == pytest.approx(y[key], abs=1e-5)


def test_resume_guard_a_different_seed_changes_the_run(synthetic, tiny_bert_dir, tmp_path):
    """The resume test above can fail: another data order gives other weights."""
    outputs = []
    for seed in ("1", "2"):
        out = tmp_path / seed
        extra = ["--variant", "concner", "--max_steps", "3", "--eval_strategy", "no", "--save_strategy", "no",
                 "--load_best_model_at_end", "false", "--data_seed", seed]  # fmt: skip
        argv = run_argv(synthetic, tiny_bert_dir, out, *extra)
        run_concner.run(argv)
        outputs.append(load_file(out / "model.safetensors"))
    assert not all(torch.equal(outputs[0][k], outputs[1][k]) for k in outputs[0])


def test_hub_style_dataset_and_type_mapping(synthetic, tiny_bert_dir, tmp_path, capsys):
    """--dataset_name with a saved DatasetDict (train/validation splits); --map_types_to_o ORG drops ORG."""
    from datasets import DatasetDict

    from concner.data.readers import load_ner_dataset

    saved = tmp_path / "dataset"
    DatasetDict(
        {"train": load_ner_dataset(synthetic["train"]), "validation": load_ner_dataset(synthetic["dev"])}
    ).save_to_disk(saved)
    output = tmp_path / "out"
    argv = run_argv(synthetic, tiny_bert_dir, output, "--variant", "en", "--max_steps", "2", "--eval_steps", "2",
                    "--save_steps", "2", "--map_types_to_o", "ORG")  # fmt: skip
    i = argv.index("--train_file")
    argv[i : i + 2] = ["--dataset_name", str(saved)]
    i = argv.index("--validation_file")
    del argv[i : i + 2]
    metrics = run_concner.run(argv)
    config = json.loads((output / "config.json").read_text())
    assert sorted(config["label2id"]) == ["B-LOC", "B-PER", "I-LOC", "I-PER", "O"]
    assert "entity types mapped to O: ORG" in capsys.readouterr().out
    assert "eval_ORG_f1" not in metrics and "eval_PER_f1" in metrics and "test_de_LOC_f1" in metrics


@pytest.mark.slow
def test_teacher_on_a_slice_of_the_shared_corpora(shared_data, tiny_bert_dir, tmp_path, capsys):
    files = data_slices(tmp_path / "data", train=64, dev=32)
    output = tmp_path / "teacher"
    argv = run_argv(files, tiny_bert_dir, output, "--num_train_epochs", "3", "--per_device_train_batch_size", "8",
                 "--eval_steps", "4", "--save_steps", "4", "--report_to", "tensorboard", "--export_plain_bert",
                 "true")  # fmt: skip
    metrics = run_concner.run(argv)
    out = capsys.readouterr().out
    assert "label map: 0=O" in out and "kept for TCL:" in out and "labelled tokens:" in out
    state = _state(output)
    logged = [h for h in state["log_history"] if "loss" in h]
    assert logged and all({"ce_loss", "lcl_loss"} <= set(h) for h in logged)
    assert any("tcl_loss" in h for h in logged)
    evals = {h["step"]: h["eval_f1"] for h in state["log_history"] if "eval_f1" in h}
    best_step = max(evals, key=lambda s: (evals[s], -s))
    assert state["best_metric"] == pytest.approx(max(evals.values()))
    assert state["best_model_checkpoint"].endswith(f"checkpoint-{best_step}")
    assert metrics["eval_f1"] == pytest.approx(state["best_metric"])  # the best checkpoint was reloaded
    results = json.loads((output / "all_results.json").read_text())
    assert {"test_de_f1", "test_de_precision", "test_de_recall", "test_de_LOC_f1", "eval_f1"} <= set(results)
    assert json.loads((output / "bert" / "config.json").read_text())["model_type"] == "bert"
    events = list(output.glob("runs/**/events.out.tfevents*"))
    assert events and any(b"ce_loss" in e.read_bytes() for e in events)


def test_frozen_embeddings_and_length_grouping(synthetic, tiny_bert_dir, tmp_path):
    output = tmp_path / "frozen"
    argv = run_argv(synthetic, tiny_bert_dir, output, "--max_steps", "3", "--eval_steps", "3", "--save_steps", "3",
                    "--freeze_embeddings", "true", "--train_sampling_strategy", "group_by_length")  # fmt: skip
    run_concner.run(argv)
    before = load_file(tiny_bert_dir / "model.safetensors")
    after = load_file(output / "model.safetensors")
    words = "bert.embeddings.word_embeddings.weight"
    assert torch.equal(after[words], before[words])
    layer = "bert.encoder.layer.0.attention.self.query.weight"
    assert not torch.equal(after[layer], before[layer])  # the encoder did train
    assert json.loads((output / "config.json").read_text())["base_model_name_or_path"] == str(tiny_bert_dir)


def test_evaluation_stays_in_dataset_order_when_training_groups_by_length(synthetic, tiny_bert_dir, tmp_path):
    from torch.utils.data import SequentialSampler
    from transformers import TrainingArguments

    from trainers import ConCNERTrainer, DistillationTrainer

    args = TrainingArguments(output_dir=str(tmp_path), train_sampling_strategy="group_by_length", report_to="none")
    dataset = [{"input_ids": [1] * n} for n in (3, 9, 1, 7)]
    for cls in (ConCNERTrainer, DistillationTrainer):
        sampler = cls._get_eval_sampler(type("T", (), {"args": args})(), dataset)
        assert isinstance(sampler, SequentialSampler) and list(sampler) == [0, 1, 2, 3]


def test_fused_adamw_trains_the_same_teacher(synthetic, tiny_bert_dir, tmp_path):
    """`--optim adamw_torch_fused` (the fast CPU setting) is torch's AdamW update in one kernel: same weights."""
    common = ["--variant", "concner", "--max_steps", "4", "--eval_strategy", "no", "--save_strategy", "no",
              "--load_best_model_at_end", "false"]  # fmt: skip
    for optim in ("adamw_torch", "adamw_torch_fused"):
        run_concner.run(run_argv(synthetic, tiny_bert_dir, tmp_path / optim, *common, "--optim", optim))
    a = load_file(tmp_path / "adamw_torch" / "model.safetensors")
    b = load_file(tmp_path / "adamw_torch_fused" / "model.safetensors")
    assert any(not torch.equal(a[k], load_file(tiny_bert_dir / "model.safetensors").get(k, a[k])) for k in a)
    assert all(torch.allclose(a[k], b[k], atol=1e-5) for k in a)


def test_teacher_card_describes_its_training_data(synthetic, tiny_bert_dir, tmp_path):
    """The card: `language` from --target_language, widget sentences from the translation D_TGT, files and sizes."""
    from huggingface_hub import ModelCard

    from concner.cli import UsageError
    from concner.data.readers import load_ner_dataset

    output = tmp_path / "teacher"
    run_concner.run(run_argv(synthetic, tiny_bert_dir, output, "--max_steps", "2", "--eval_steps", "2",
                             "--save_steps", "2", "--target_language", "nl"))  # fmt: skip
    card = ModelCard.load(output / "README.md")
    assert card.data.language == ["en", "nl"]  # the option wins over the --test_files language
    translations = {" ".join(row["tokens"]) for row in load_ner_dataset(synthetic["translation"])}
    widget = [example["text"] for example in card.data.widget]
    assert widget and set(widget) <= translations
    text = (output / "README.md").read_text(encoding="utf-8")
    folder = synthetic["train"].parent.name
    assert f"- Labelled source sentences (D_SRC): 16 from `{folder}/train.txt`" in text
    assert f"- Translated sentences kept (D_TGT): 16 from `{folder}/translation.txt`" in text
    assert f"- Source dev set (model selection): 6 from `{folder}/dev.txt`" in text
    assert "Not recorded" not in text and "Peter Smith" not in text
    with pytest.raises(UsageError, match="--target_language must be an ISO 639 language code"):
        run_concner.parse_arguments(run_argv(synthetic, tiny_bert_dir, tmp_path / "x", "--target_language", "German"))
