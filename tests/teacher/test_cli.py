"""Command line of run_concner.py: config files, variants, and one-line errors with exit status 2."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import run_concner
from tests.conftest import REPO_ROOT

PAPER = str(REPO_ROOT / "configs" / "paper.yaml")


@pytest.fixture
def files(tmp_path) -> dict[str, str]:
    train = tmp_path / "train.txt"
    train.write_text("Peter B-PER\nin O\nBerlin B-LOC\n\nEU B-ORG\nsaid O\n\n")
    translation = tmp_path / "translation.txt"
    translation.write_text("Peter B-PER\nin O\nBerlin B-LOC\n\nEU B-ORG\nsagte O\n\n")
    return {"train": str(train), "translation": str(translation), "dir": str(tmp_path)}


def test_paper_config_has_the_paper_settings(files):
    argv = [PAPER, "--train_file", files["train"], "--translation_file", files["translation"], "--output_dir", "o"]
    model, data, concner, training = run_concner.parse_arguments(argv)
    assert model.model_name_or_path == "bert-base-multilingual-cased"
    assert (concner.variant, concner.train_on) == ("concner", "both")
    assert (concner.ce_weight, concner.lcl_weight, concner.tcl_weight) == (0.5, 0.25, 0.25)
    assert concner.lcl_temperature == concner.tcl_temperature == 0.1
    assert data.max_seq_length == 128
    assert training.num_train_epochs == 30 and training.per_device_train_batch_size == 32
    assert training.learning_rate == pytest.approx(5e-5)
    assert training.eval_steps == 100 and training.save_steps == 100 and training.save_total_limit == 2
    assert training.load_best_model_at_end and training.metric_for_best_model == "f1" and training.greater_is_better


def test_command_line_overrides_the_config_file(files):
    argv = [PAPER, "--train_file", files["train"], "--output_dir", "o", "--variant", "en_lcl", "--learning_rate",
            "1e-4", "--lcl_temperature", "0.2", "--test_files", "de=" + files["train"]]  # fmt: skip
    _, data, concner, training = run_concner.parse_arguments(argv)
    assert (concner.train_on, concner.lcl_weight, concner.tcl_weight) == ("source", 0.25, 0.0)
    assert concner.lcl_temperature == 0.2 and training.learning_rate == pytest.approx(1e-4)
    assert data.test_sets == {"de": files["train"]}


def test_json_config_and_explicit_weights_beat_the_variant(files, tmp_path):
    config = tmp_path / "c.json"
    config.write_text(json.dumps({"train_file": files["train"], "output_dir": "o", "variant": "en_lcl",
                                  "lcl_weight": 0.5, "test_files": {"de": files["train"]}}))  # fmt: skip
    _, data, concner, _ = run_concner.parse_arguments([str(config)])
    assert (concner.train_on, concner.lcl_weight, concner.tcl_weight) == ("source", 0.5, 0.0)
    assert data.test_sets == {"de": files["train"]}


@pytest.mark.parametrize(
    ("variant", "expected"),
    [(v, t) for v, t in run_concner.VARIANTS.items()],
)
def test_variant_shortcuts(files, variant, expected):
    argv = ["--variant", variant, "--train_file", files["train"], "--translation_file", files["translation"],
            "--output_dir", "o"]  # fmt: skip
    _, _, concner, _ = run_concner.parse_arguments(argv)
    assert (concner.train_on, concner.lcl_weight, concner.tcl_weight, concner.ce_weight) == (*expected, 0.5)


def test_lcl_options_default_to_the_paper_but_balanced_for_concner_and_parse(files, tmp_path):
    base = ["--train_file", files["train"], "--translation_file", files["translation"], "--output_dir", "o"]
    _, _, concner, _ = run_concner.parse_arguments([PAPER, *base])
    assert (concner.lcl_positive, concner.lcl_o_sample_ratio) == ("label", None)
    assert (concner.lcl_o_in_denominator, concner.lcl_class_weighting) == (True, "none")  # the paper's LCL
    for variant in ([], ["--variant", "concner"]):  # the full method: balanced anchor weights (the LCL ablation)
        _, _, concner, _ = run_concner.parse_arguments([*base, *variant])
        assert concner.lcl_class_weighting == "balanced"
    for variant in ("en_lcl", "trans_lcl", "en_trans_lcl"):  # the paper's ablations keep the paper's LCL
        _, _, concner, _ = run_concner.parse_arguments([*base, "--variant", variant])
        assert concner.lcl_class_weighting == "none"
    _, _, concner, _ = run_concner.parse_arguments([*base, "--variant", "concner", "--lcl_class_weighting", "none"])
    assert concner.lcl_class_weighting == "none"
    options = ["--lcl_positive", "entity_type", "--lcl_o_sample_ratio", "0.5", "--lcl_o_in_denominator", "false",
               "--lcl_class_weighting", "balanced"]  # fmt: skip
    _, _, concner, _ = run_concner.parse_arguments([*base, *options])
    assert (concner.lcl_positive, concner.lcl_o_sample_ratio) == ("entity_type", 0.5)
    assert (concner.lcl_o_in_denominator, concner.lcl_class_weighting) == (False, "balanced")
    config = tmp_path / "c.yaml"
    config.write_text("lcl_o_sample_ratio: 0\nlcl_class_weighting: balanced\n")
    _, _, concner, _ = run_concner.parse_arguments([str(config), *base])
    assert (concner.lcl_o_sample_ratio, concner.lcl_class_weighting) == (0.0, "balanced")


def test_unknown_config_key(files, tmp_path):
    config = tmp_path / "c.yaml"
    config.write_text(f"train_file: {files['train']}\noutput_dir: o\nlcl_wieght: 0.1\n")
    with pytest.raises(run_concner.UsageError, match="unknown option.*lcl_wieght"):
        run_concner.parse_arguments([str(config)])


def _bad_cases(files: dict[str, str]) -> dict[str, tuple[list[str], str]]:
    d = files["dir"]
    Path(d, "bad.txt").write_text("EU B-ORG\nrejects X-FOO\n\n")
    Path(d, "foo.txt").write_text("Peter B-PER\nFoo B-FOO\n\n")
    train, translation = files["train"], files["translation"]
    out = ["--output_dir", str(Path(d, "out"))]
    return {
        "missing_file": (["--train_file", str(Path(d, "nope.txt")), *out], "no such file or directory"),
        "tcl_without_translation": (["--train_file", train, *out], "TCL"),
        "tcl_with_source_only": (
            [
                "--train_file",
                train,
                "--translation_file",
                translation,
                "--variant",
                "en",
                "--tcl_weight",
                "0.25",
                *out,
            ],
            "--train_on both",
        ),
        "data_error": (["--train_file", str(Path(d, "bad.txt")), "--variant", "en", *out], "bad.txt:2: invalid tag"),
        "labels_not_reconcilable": (
            ["--train_file", train, "--variant", "en", "--test_files", f"de={Path(d, 'foo.txt')}", *out],
            "--map_types_to_o FOO",
        ),
        "unknown_option": (["--train_file", train, "--variant", "en", "--bogus", "1", *out], "--bogus"),
        **{
            f"lcl_{name}": (["--train_file", train, "--variant", "en_lcl", *option, *out], expected)
            for name, (option, expected) in LCL_BAD_OPTIONS.items()
        },
    }


# Bad values of the LCL options: (arguments, what the error line says).
LCL_BAD_OPTIONS = {
    "negative_o_ratio": (["--lcl_o_sample_ratio", "-1"], "--lcl_o_sample_ratio must be a finite number >= 0"),
    "nan_o_ratio": (["--lcl_o_sample_ratio", "nan"], "--lcl_o_sample_ratio must be a finite number >= 0"),
    "word_o_ratio": (["--lcl_o_sample_ratio", "half"], "--lcl_o_sample_ratio"),
    "o_denominator_without_ratio": (["--lcl_o_in_denominator", "false"], "needs --lcl_o_sample_ratio"),
    "class_weighting": (["--lcl_class_weighting", "inverse"], "--lcl_class_weighting must be one of none, balanced"),
    "positive": (["--lcl_positive", "span"], "--lcl_positive must be one of label, entity_type"),
}


def test_bad_arguments_exit_2_with_one_error_line(files):
    cases = _bad_cases(files)
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    # models are looked up only after the data checks, so a missing model folder is never reached
    subprocess_cases = ("missing_file", "tcl_without_translation", "data_error")
    runs = {
        name: subprocess.Popen(
            [
                sys.executable,
                str(REPO_ROOT / "run_concner.py"),
                "--model_name_or_path",
                str(Path(files["dir"], "m")),
                *argv,
            ],  # fmt: skip
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
            cwd=files["dir"],
        )
        for name, (argv, _) in cases.items()
        if name in subprocess_cases
    }
    for name, process in runs.items():
        stdout, stderr = process.communicate(timeout=120)
        expected = cases[name][1]
        assert process.returncode == 2, (name, stderr)
        assert "Traceback" not in stderr, (name, stderr)
        errors = [line for line in stderr.splitlines() if line.startswith("error:")]
        assert len(errors) == 1 and expected in errors[0], (name, stderr)
        assert stderr.strip().splitlines()[-1] == errors[0]


IN_PROCESS_CASES = ["tcl_with_source_only", "labels_not_reconcilable", "unknown_option"]


@pytest.mark.parametrize("case", [*IN_PROCESS_CASES, *(f"lcl_{name}" for name in LCL_BAD_OPTIONS)])
def test_main_returns_2_with_one_error_line(files, case, capsys):
    argv, expected = _bad_cases(files)[case]
    assert run_concner.main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("error: ") and expected in err[-1]
    assert sum(line.startswith("error:") for line in err) == 1


def test_main_returns_2_for_a_missing_model(files, capsys):
    code = run_concner.main(
        [
            "--model_name_or_path",
            str(Path(files["dir"], "no-model")),
            "--variant",
            "en",
            "--train_file",
            files["train"],
            "--output_dir",
            str(Path(files["dir"], "out")),
        ]  # fmt: skip
    )
    assert code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("error: --model_name_or_path: no such folder")
