"""`--early_stopping_patience`: both trainers stop once English dev F1 stops improving (transformers' callback)."""

from __future__ import annotations

import json

import pytest

import run_concner
import run_distill
from tests.teacher.helpers import run_argv


def _evaluations(output) -> list[dict]:
    state = json.loads((output / "trainer_state.json").read_text())
    return [h for h in state["log_history"] if "eval_f1" in h]


def test_teacher_stops_after_patience_evaluations_without_improvement(synthetic, tiny_bert_dir, tmp_path):
    common = ["--variant", "concner", "--num_train_epochs", "40", "--eval_steps", "1", "--save_steps", "1",
              "--learning_rate", "1e-9"]  # fmt: skip  # a learning rate that cannot move the dev F1
    output = tmp_path / "stopped"
    run_concner.run(run_argv(synthetic, tiny_bert_dir, output, *common, "--early_stopping_patience", "2"))
    evaluations = _evaluations(output)
    # the first evaluation sets the best; two more without improvement stop the run (40 epochs would be 160 steps)
    assert len(evaluations) == 3
    state = json.loads((output / "trainer_state.json").read_text())
    assert state["global_step"] == 3 and state["max_steps"] == 160


def test_patience_needs_model_selection(synthetic, tiny_bert_dir, tmp_path, capsys):
    argv = run_argv(synthetic, tiny_bert_dir, tmp_path / "out", "--early_stopping_patience", "2",
                    "--load_best_model_at_end", "false")  # fmt: skip
    assert run_concner.main(argv) == 2
    assert "--early_stopping_patience needs evaluation" in capsys.readouterr().err


def test_student_takes_the_option_too():
    parser_fields = {f.name for f in run_distill.DistillationArguments.__dataclass_fields__.values()}
    assert "early_stopping_patience" in parser_fields


@pytest.mark.parametrize("value", ["0", "-1"])
def test_patience_must_be_positive(value, synthetic, tiny_bert_dir, tmp_path, capsys):
    argv = run_argv(synthetic, tiny_bert_dir, tmp_path / "out", "--early_stopping_patience", value)
    assert run_concner.main(argv) == 2
    assert "--early_stopping_patience must be at least 1" in capsys.readouterr().err
