"""Loading teachers (remote code / registered class) and exporting them to a plain BERT token classifier."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest
import torch
from transformers import AutoModelForTokenClassification, AutoTokenizer, BertForTokenClassification, pipeline

from concner.data.errors import DataError
from concner.export import export_plain_bert, main
from tests.conftest import REPO_ROOT
from tests.hub.conftest import HUB_LABELS


def _logits(model, tokenizer, text: str) -> torch.Tensor:
    with torch.no_grad():
        return model(**tokenizer(text, return_tensors="pt")).logits


def test_teacher_loads_with_trust_remote_code_in_a_fresh_process(teacher_run, tmp_path):
    folder, _ = teacher_run
    assert {"modeling_concner.py", "configuration_concner.py", "losses.py"} <= set(os.listdir(folder))
    code = textwrap.dedent(
        f"""
        import sys
        from transformers import AutoModelForTokenClassification
        model = AutoModelForTokenClassification.from_pretrained({str(folder)!r}, trust_remote_code=True)
        assert "modeling_concner" not in sys.modules, "the package was imported: the remote code route is masked"
        print(type(model).__name__, type(model).__module__, model.config.id2label[3])
        """
    )
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_HOME": str(tmp_path / "hf_home"), "PYTHONPATH": ""}
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr[-2000:]
    name, module, label = result.stdout.split()[-3:]
    assert name == "ConCNERForTokenClassification"
    assert module.startswith("transformers_modules")
    assert label == "B-PER"


def test_teacher_loads_without_remote_code_after_importing_the_package(teacher_run):
    import modeling_concner

    folder, _ = teacher_run
    model = AutoModelForTokenClassification.from_pretrained(folder)
    assert isinstance(model, modeling_concner.ConCNERForTokenClassification)
    assert model.config.id2label[3] == "B-PER"
    assert (folder / "model.safetensors").is_file() and not (folder / "pytorch_model.bin").exists()


def test_export_gives_the_same_logits_as_the_teacher(teacher_run, tmp_path):
    import modeling_concner  # noqa: F401

    folder, _ = teacher_run
    dst = export_plain_bert(folder, tmp_path / "bert")
    config = json.loads((dst / "config.json").read_text())
    assert config["model_type"] == "bert"
    assert config["architectures"] == ["BertForTokenClassification"]
    assert "auto_map" not in config and "ce_weight" not in config
    assert sorted(os.listdir(dst)) == ["README.md", "config.json", "model.safetensors", "tokenizer.json",
                                       "tokenizer_config.json"]  # fmt: skip
    tokenizer = AutoTokenizer.from_pretrained(dst)
    teacher = AutoModelForTokenClassification.from_pretrained(folder).eval()
    student = AutoModelForTokenClassification.from_pretrained(dst).eval()
    assert type(student) is BertForTokenClassification
    text = "peter ist mit mary in amsterdam"
    torch.testing.assert_close(_logits(student, tokenizer, text), _logits(teacher, tokenizer, text))
    card = (dst / "README.md").read_text()
    usage = card.split("<!-- usage-start -->")[1].split("<!-- usage-end -->")[0]
    assert "trust_remote_code" not in usage and "aggregation_strategy" in usage


def test_exported_teacher_works_in_the_ner_pipeline_with_label_names(teacher_run, tmp_path):
    folder, _ = teacher_run
    dst = export_plain_bert(folder, tmp_path / "bert")
    ner = pipeline("ner", model=str(dst), aggregation_strategy="simple")
    groups = ner("john ist in berlin")
    assert groups, "the tiny teacher predicts entities on a training-like sentence"
    assert {g["entity_group"] for g in groups} <= {label.split("-")[-1] for label in HUB_LABELS}
    assert not any(g["entity_group"].startswith("LABEL_") for g in groups)


def test_export_rejects_what_is_not_a_token_classifier(tmp_path):
    with pytest.raises(DataError, match="no such model folder"):
        export_plain_bert(tmp_path / "missing", tmp_path / "out")
    (tmp_path / "gpt").mkdir()
    (tmp_path / "gpt" / "config.json").write_text(json.dumps({"model_type": "gpt2"}))
    with pytest.raises(DataError, match="model_type 'gpt2'"):
        export_plain_bert(tmp_path / "gpt", tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_export_cli_exit_codes(teacher_run, tmp_path, capsys):
    folder, _ = teacher_run
    assert main([str(folder), str(tmp_path / "plain")]) == 0
    assert (tmp_path / "plain" / "model.safetensors").is_file()
    capsys.readouterr()
    assert main([str(tmp_path / "nope"), str(tmp_path / "x")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "\n" not in err
    with pytest.raises(SystemExit) as exit_info:
        main([])
    assert exit_info.value.code == 2


def test_export_module_runs_as_a_script(teacher_run, tmp_path):
    folder, _ = teacher_run
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    result = subprocess.run(
        [sys.executable, "-m", "concner.export", str(folder), str(tmp_path / "plain")],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "plain BertForTokenClassification written to" in result.stdout
