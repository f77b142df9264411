"""benchmarks/diagnose_student.py: the figures on a hand-made case, checked against a naive loop."""

from __future__ import annotations

import importlib.util
import math
from pathlib import Path

import numpy as np
import pytest

_PATH = Path(__file__).resolve().parent.parent / "benchmarks" / "diagnose_student.py"
_SPEC = importlib.util.spec_from_file_location("diagnose_student", _PATH)
diagnose_student = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(diagnose_student)

LABELS = ["O", "B-LOC", "B-PER"]


def test_confidence_signal_and_agreement():
    teacher = [np.array([[0.9, 0.05, 0.05], [0.2, 0.5, 0.3]]), np.array([[0.1, 0.1, 0.8]]), np.zeros((0, 3))]
    student = [np.array([[0.8, 0.1, 0.1], [0.6, 0.3, 0.1]]), np.array([[0.1, 0.2, 0.7]]), np.zeros((0, 3))]
    r = diagnose_student.diagnose(teacher, LABELS, student)
    assert r["words"] == 3 and r["teacher_entity_words"] == 2
    c = r["teacher_confidence"]
    assert c["entity_mean_max_prob"] == pytest.approx((0.5 + 0.8) / 2) and c["o_mean_max_prob"] == pytest.approx(0.9)
    entropy = [-sum(p * math.log(p) for p in row) for row in ([0.2, 0.5, 0.3], [0.1, 0.1, 0.8])]
    assert c["entity_mean_entropy"] == pytest.approx(sum(entropy) / 2)
    sq = [sum((p - 1 / 3) ** 2 for p in row) for row in ([0.9, 0.05, 0.05], [0.2, 0.5, 0.3], [0.1, 0.1, 0.8])]
    s = r["mse_signal_vs_uniform_student"]
    assert s["o_share_of_squared_error"] == pytest.approx(sq[0] / sum(sq))
    assert s["o_share_of_words"] == pytest.approx(1 / 3)
    st = r["student"]
    assert st["agreement_all_words"] == pytest.approx(2 / 3)
    assert st["agreement_teacher_entity_words"] == pytest.approx(1 / 2)
    assert st["by_teacher_type"]["LOC"] == {"words": 1, "student_agrees": 0.0}
    assert st["by_student_type"]["O"] == {"words": 2, "teacher_agrees": 0.5}
