"""Distilling an ensemble of teachers: the mean of their distributions, cached once (`--teacher_ensemble`)."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

import run_distill
from tests.conftest import build_tiny_tokenizer
from tests.distill.conftest import make_teacher
from tests.distill.test_run_distill import _common, bert_teacher, files  # noqa: F401  (fixtures)
from trainers.teacher_cache import add_ensemble_teacher_logits, add_teacher_logits, ensemble_log_probs


def test_ensemble_log_probs_against_a_naive_loop():
    rng = np.random.default_rng(0)
    members = [rng.normal(size=(5, 4)).astype(np.float32) * 3 for _ in range(3)]
    out = ensemble_log_probs(members)
    for k in range(5):
        mean = [0.0] * 4
        for m in members:
            z = sum(math.exp(v) for v in m[k])
            for c in range(4):
                mean[c] += math.exp(m[k][c]) / z / len(members)
        for c in range(4):
            assert out[k][c] == pytest.approx(math.log(mean[c]), abs=1e-5)
    assert np.allclose(np.exp(out).sum(-1), 1.0, atol=1e-5)
    # one member: its own log-softmax; an empty sentence stays empty
    single = ensemble_log_probs(members[:1])
    assert np.allclose(np.exp(single), np.exp(members[0]) / np.exp(members[0]).sum(-1, keepdims=True), atol=1e-6)
    assert ensemble_log_probs([np.zeros((0, 4)), np.zeros((0, 4))]).shape == (0, 4)


def test_cached_ensemble_is_the_mean_of_the_members(tiny_tokenizer, unlabelled):
    teachers = [make_teacher(len(tiny_tokenizer), seed=s) for s in (1, 2)]
    both = add_ensemble_teacher_logits(unlabelled, teachers, tiny_tokenizer, batch_size=4)
    one = [add_teacher_logits(unlabelled, t, tiny_tokenizer, batch_size=4) for t in teachers]
    assert "teacher_logits" in both.column_names and not [c for c in both.column_names if "member" in c]
    for row in range(len(unlabelled)):
        expected = ensemble_log_probs([np.asarray(o[row]["teacher_logits"]) for o in one])
        assert np.allclose(np.asarray(both[row]["teacher_logits"]), expected, atol=1e-5)
    solo = add_ensemble_teacher_logits(unlabelled, teachers[:1], tiny_tokenizer, batch_size=4)
    assert solo[0]["teacher_logits"] == one[0][0]["teacher_logits"]  # one teacher: the plain cache


def test_cli_distils_an_ensemble_and_refuses_mismatches(tmp_path, files, bert_teacher, capsys):  # noqa: F811
    second = tmp_path / "second-teacher"
    make_teacher(len(build_tiny_tokenizer(second)), seed=7).save_pretrained(second)
    argv = _common(
        tmp_path,
        files,
        teacher_model_name_or_path=bert_teacher,
        model_name_or_path=bert_teacher,
        cache_teacher_probs="true",
        teacher_ensemble=second,
    )
    assert run_distill.main(argv) == 0
    assert json.loads((tmp_path / "student" / "train_results.json").read_text())["train_loss"] > 0
    without_cache = argv + ["--cache_teacher_probs", "false", "--output_dir", str(tmp_path / "x")]
    assert run_distill.main(without_cache) == 2
    assert "--teacher_ensemble needs --cache_teacher_probs" in capsys.readouterr().err


def test_bf16_cache_is_close_to_fp32_and_cached_apart(tiny_tokenizer, unlabelled):
    """Under `--bf16` the cached teacher runs in bf16 autocast (as on the fly); its own cache key, close values."""
    import torch

    teacher = make_teacher(len(tiny_tokenizer), seed=1)
    fp32 = add_teacher_logits(unlabelled, teacher, tiny_tokenizer, batch_size=4)
    bf16 = add_teacher_logits(unlabelled, teacher, tiny_tokenizer, batch_size=4, autocast_dtype=torch.bfloat16)
    assert fp32._fingerprint != bf16._fingerprint
    a = np.concatenate([np.asarray(r, dtype=np.float32).reshape(-1) for r in fp32["teacher_logits"]])
    b = np.concatenate([np.asarray(r, dtype=np.float32).reshape(-1) for r in bf16["teacher_logits"]])
    assert not np.array_equal(a, b) and np.allclose(a, b, atol=0.1, rtol=0.05)
