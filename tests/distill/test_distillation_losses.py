"""Eq. 9 (and its KL / hard-label variants) against naive loops, hand-computed cases and gradcheck."""

from __future__ import annotations

import math

import pytest
import torch

from trainers.distillation_losses import (
    distillation_kl_loss,
    distillation_loss,
    distillation_mse_loss,
    distilled_positions,
    sentence_mean,
    teacher_hard_label_loss,
)


def _random(seed: int, b: int = 4, t: int = 7, c: int = 5, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    student = torch.randn(b, t, c, generator=g, dtype=dtype)
    teacher = 3 * torch.randn(b, t, c, generator=g, dtype=dtype)
    mask = torch.rand(b, t, generator=g) < 0.6
    mask[0] = False  # a sentence with no word: skipped, not counted in |D_U|
    mask[1, 0] = True
    return student, teacher, mask


def _naive(per_token, student, teacher, mask) -> float:
    """1/|X| Σ_x 1/L_x Σ_i term(i), with explicit loops over sentences and positions."""
    sentences = []
    for b in range(student.shape[0]):
        terms = [per_token(student[b, i], teacher[b, i]) for i in range(student.shape[1]) if mask[b, i]]
        if terms:
            sentences.append(sum(terms) / len(terms))
    return sum(sentences) / len(sentences)


def _softmax(x, temperature=1.0):
    e = [math.exp(float(v) / temperature) for v in x]
    return [v / sum(e) for v in e]


@pytest.mark.parametrize("temperature", [1.0, 2.0])
def test_mse_matches_naive_loop(temperature):
    student, teacher, mask = _random(0)

    def term(s, t):
        ps, pt = _softmax(s, temperature), _softmax(t, temperature)
        return sum((a - b) ** 2 for a, b in zip(ps, pt))  # squared L2 norm: summed over labels

    expected = _naive(term, student, teacher, mask)
    got = distillation_mse_loss(student, teacher, mask, temperature)
    assert float(got) == pytest.approx(expected, rel=1e-10)


@pytest.mark.parametrize("temperature", [1.0, 3.0])
def test_kl_matches_naive_loop(temperature):
    student, teacher, mask = _random(1)

    def term(s, t):
        ps, pt = _softmax(s, temperature), _softmax(t, temperature)
        return temperature**2 * sum(b * (math.log(b) - math.log(a)) for a, b in zip(ps, pt))

    expected = _naive(term, student, teacher, mask)
    assert float(distillation_kl_loss(student, teacher, mask, temperature)) == pytest.approx(expected, rel=1e-10)


def test_hard_label_matches_naive_loop():
    student, teacher, mask = _random(2)

    def term(s, t):
        target = max(range(len(t)), key=lambda c: float(t[c]))
        return -math.log(_softmax(s)[target])

    expected = _naive(term, student, teacher, mask)
    assert float(teacher_hard_label_loss(student, teacher, mask)) == pytest.approx(expected, rel=1e-10)


def test_mse_hand_computed():
    # Sentence 0: two words. Word 1: student uniform (0.5, 0.5) vs teacher (1, 0) after a huge logit gap:
    # ‖(−0.5, 0.5)‖² = 0.5. Word 2: identical → 0. Sentence mean = 0.25.
    # Sentence 1: one word, student (1, 0) vs teacher (0, 1): ‖(1, −1)‖² = 2. Loss = (0.25 + 2) / 2 = 1.125.
    big = 1e4
    student = torch.tensor([[[0.0, 0.0], [1.0, 2.0], [9.0, 9.0]], [[big, 0.0], [0.0, 0.0], [0.0, 0.0]]])
    teacher = torch.tensor([[[big, 0.0], [1.0, 2.0], [0.0, 0.0]], [[0.0, big], [5.0, 0.0], [0.0, 0.0]]])
    mask = torch.tensor([[True, True, False], [True, False, False]])
    assert float(distillation_mse_loss(student, teacher, mask)) == pytest.approx(1.125, abs=1e-6)


def test_sentence_weighting_not_token_weighting():
    # One long sentence of perfect words and one short sentence of a bad word: each sentence weighs 1/2.
    per_position = torch.tensor([[0.0, 0.0, 0.0, 0.0], [1.0, 7.0, 7.0, 7.0]])
    mask = torch.tensor([[True, True, True, True], [True, False, False, False]])
    assert float(sentence_mean(per_position, mask)) == pytest.approx(0.5)


def test_unmasked_positions_are_never_read():
    student, teacher, mask = _random(3, dtype=torch.float32)
    base = distillation_mse_loss(student, teacher, mask)
    noisy_student, noisy_teacher = student.clone(), teacher.clone()
    noisy_student[~mask] = 1e6
    noisy_teacher[~mask] = -1e6
    assert torch.equal(distillation_mse_loss(noisy_student, noisy_teacher, mask), base)


def test_no_position_gives_zero_with_graph():
    student = torch.randn(2, 3, 4, requires_grad=True)
    loss = distillation_mse_loss(student, torch.randn(2, 3, 4), torch.zeros(2, 3, dtype=torch.bool))
    assert float(loss.detach()) == 0.0
    loss.backward()
    assert torch.equal(student.grad, torch.zeros_like(student))


def test_identical_distributions_give_zero():
    student, _, mask = _random(4)
    assert float(distillation_mse_loss(student, student.clone(), mask)) == pytest.approx(0.0, abs=1e-15)
    assert float(distillation_kl_loss(student, student.clone(), mask)) == pytest.approx(0.0, abs=1e-12)


@pytest.mark.parametrize("fn", [distillation_mse_loss, distillation_kl_loss, teacher_hard_label_loss])
def test_gradcheck(fn):
    student, teacher, mask = _random(5, b=2, t=3, c=3)
    student.requires_grad_(True)
    assert torch.autograd.gradcheck(lambda s: fn(s, teacher, mask), (student,))


def test_low_precision_inputs_reduce_in_float32():
    student, teacher, mask = _random(6, dtype=torch.float32)
    exact = distillation_mse_loss(student, teacher, mask)
    half = distillation_mse_loss(student.bfloat16(), teacher.bfloat16(), mask)
    assert half.dtype == torch.float32
    assert float(half) == pytest.approx(float(exact), rel=5e-2)


def test_dispatch_and_errors():
    student, teacher, mask = _random(7)
    assert torch.equal(distillation_loss(student, teacher, mask, "mse"), distillation_mse_loss(student, teacher, mask))
    assert torch.equal(distillation_loss(student, teacher, mask, "kl"), distillation_kl_loss(student, teacher, mask))
    with pytest.raises(ValueError, match="loss_type"):
        distillation_loss(student, teacher, mask, "l1")
    with pytest.raises(ValueError, match="equal shape"):
        distillation_mse_loss(student, teacher[..., :2], mask)
    with pytest.raises(ValueError, match="mask"):
        distillation_mse_loss(student, teacher, mask[:, :2])


def test_distilled_positions_priority():
    word_index = torch.tensor([[-1, 0, -1, 1, -1]])
    labels = torch.tensor([[-100, 3, 3, -100, -100]])
    attention = torch.tensor([[1, 1, 1, 1, 0]])
    assert distilled_positions(word_index, labels, attention).tolist() == [[False, True, False, True, False]]
    assert distilled_positions(None, labels, attention).tolist() == [[False, True, True, False, False]]
    assert distilled_positions(None, None, attention).tolist() == [[True, True, True, True, False]]
    with pytest.raises(ValueError):
        distilled_positions()
