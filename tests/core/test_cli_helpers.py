"""`concner.cli`: the attention kernel under bf16, and the output-folder rule on its own."""

from __future__ import annotations

import pytest

from concner.cli import UsageError, check_output_dir, resolve_attn_implementation


def test_auto_attention_is_eager_under_cpu_bf16_only(monkeypatch):
    monkeypatch.setattr("concner.cli.accelerator_available", lambda: False)
    assert resolve_attn_implementation("auto", bf16=True) == "eager"
    assert resolve_attn_implementation("auto", bf16=False) is None
    assert resolve_attn_implementation("sdpa", bf16=True) == "sdpa"
    monkeypatch.setattr("concner.cli.accelerator_available", lambda: True)
    assert resolve_attn_implementation("auto", bf16=True) is None  # a GPU's SDPA kernels are the fast ones


def test_the_student_trains_with_the_resolved_kernel(tmp_path, tiny_bert_dir, monkeypatch):
    import run_distill

    monkeypatch.setattr("concner.cli.accelerator_available", lambda: False)
    model = run_distill.load_student(
        str(tiny_bert_dir), run_distill.AutoConfig.from_pretrained(tiny_bert_dir), "eager"
    )
    assert model.config._attn_implementation == "eager"


def test_output_dir_rule(tmp_path):
    assert check_output_dir(str(tmp_path / "new"), resume_from_checkpoint=None, overwrite=False) is None
    (tmp_path / "run" / "checkpoint-10").mkdir(parents=True)
    (tmp_path / "run" / "checkpoint-10" / "trainer_state.json").write_text("{}")
    (tmp_path / "run" / "checkpoint-9").mkdir()
    assert check_output_dir(str(tmp_path / "run"), resume_from_checkpoint="true", overwrite=False).endswith(
        "checkpoint-10"
    )  # the last by step number, not by name
    with pytest.raises(UsageError, match="holds checkpoints"):
        check_output_dir(str(tmp_path / "run"), resume_from_checkpoint=None, overwrite=False)
    assert check_output_dir(str(tmp_path / "run"), resume_from_checkpoint=None, overwrite=True) is None
    with pytest.raises(UsageError, match="not a Trainer checkpoint"):
        check_output_dir(str(tmp_path / "x"), resume_from_checkpoint=str(tmp_path / "run"), overwrite=False)
    with pytest.raises(UsageError, match="model it reads"):
        check_output_dir(
            str(tmp_path / "run" / "sub"), resume_from_checkpoint=None, overwrite=True, inputs=[("--m", str(tmp_path))]
        )
