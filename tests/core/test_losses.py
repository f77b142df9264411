"""LCL (eq. 4-5) and TCL (eq. 6-7) against naive loops written straight from the equations."""

from __future__ import annotations

import math

import pytest
import torch

from modeling_concner import losses
from modeling_concner.losses import label_contrastive_loss, translation_contrastive_loss


def _cos(a: torch.Tensor, b: torch.Tensor) -> float:
    return float(torch.dot(a, b) / (a.norm() * b.norm()))


def naive_lcl(features: torch.Tensor, labels: torch.Tensor, tau: float) -> float:
    idx = [i for i in range(len(labels)) if int(labels[i]) != -100]
    per_anchor = []
    for i in idx:
        positives = [p for p in idx if p != i and int(labels[p]) == int(labels[i])]
        if not positives:
            continue
        denom = sum(math.exp(_cos(features[i], features[k]) / tau) for k in idx if k != i)
        total = 0.0
        for p in positives:
            total += -math.log(math.exp(_cos(features[i], features[p]) / tau) / denom)
        per_anchor.append(total / len(positives))
    return sum(per_anchor) / len(per_anchor) if per_anchor else 0.0


def naive_tcl(source: torch.Tensor, target: torch.Tensor, tau: float) -> float:
    r = torch.cat([source, target])
    n = source.shape[0]
    total = 0.0
    for i in range(2 * n):
        partner = i + n if i < n else i - n
        denom = sum(math.exp(_cos(r[i], r[k]) / tau) for k in range(2 * n) if k != i)
        total += -math.log(math.exp(_cos(r[i], r[partner]) / tau) / denom)
    return total / (2 * n)


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("tau", [0.1, 0.5, 1.0])
def test_lcl_matches_naive_loop(seed, tau):
    g = torch.Generator().manual_seed(seed)
    features = torch.randn(24, 8, generator=g, dtype=torch.float64)
    labels = torch.randint(0, 4, (24,), generator=g)
    labels[torch.randperm(24, generator=g)[:5]] = -100
    got = label_contrastive_loss(features, labels, tau)
    assert float(got) == pytest.approx(naive_lcl(features, labels, tau), rel=1e-9)


@pytest.mark.parametrize(
    "labels",
    [
        [3] * 10,  # one label everywhere
        list(range(10)),  # every label unique -> no anchor has a positive
        [-100] * 4 + [2, 2] + [-100] * 4,  # everything ignored but two positions
        [-100, 1, -100, 2, 1, 2, 2, -100, 0, 5],  # singletons skipped as anchors but in denominators
    ],
)
def test_lcl_degenerate_cases(labels):
    g = torch.Generator().manual_seed(3)
    features = torch.randn(len(labels), 6, generator=g, dtype=torch.float64, requires_grad=True)
    labels = torch.tensor(labels)
    got = label_contrastive_loss(features, labels, 0.1)
    assert float(got.detach()) == pytest.approx(naive_lcl(features.detach(), labels, 0.1), rel=1e-9, abs=1e-12)
    got.backward()  # a zero result must still carry a graph
    assert features.grad is not None and torch.isfinite(features.grad).all()


def test_lcl_ignored_positions_do_not_matter():
    g = torch.Generator().manual_seed(4)
    features = torch.randn(12, 5, generator=g, dtype=torch.float64)
    labels = torch.tensor([0, 1, 0, 1, -100, 2, 2, -100, 0, 1, 2, -100])
    base = label_contrastive_loss(features, labels)
    changed = features.clone()
    changed[labels == -100] = torch.randn(3, 5, generator=g, dtype=torch.float64) * 100
    assert torch.allclose(base, label_contrastive_loss(changed, labels))


def test_lcl_hand_computed():
    # Two orthogonal pairs: cos within a label = 1, across = 0.
    features = torch.tensor([[1.0, 0.0], [2.0, 0.0], [0.0, 1.0], [0.0, 3.0]], dtype=torch.float64)
    labels = torch.tensor([0, 0, 1, 1])
    tau = 0.5
    # every anchor: positive e^{2}, denominator e^{2} + 2 e^{0}
    expected = -math.log(math.exp(2) / (math.exp(2) + 2))
    assert float(label_contrastive_loss(features, labels, tau)) == pytest.approx(expected)


@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("n", [1, 2, 7])
def test_tcl_matches_naive_loop(seed, n):
    g = torch.Generator().manual_seed(seed)
    source = torch.randn(n, 8, generator=g, dtype=torch.float64)
    target = torch.randn(n, 8, generator=g, dtype=torch.float64)
    got = translation_contrastive_loss(source, target, 0.1)
    assert float(got) == pytest.approx(naive_tcl(source, target, 0.1), rel=1e-9)


def test_tcl_single_pair_is_zero():
    # N = 1: the partner is the only other vector, so the softmax is 1 and the loss 0 (eq. 6).
    source, target = torch.randn(1, 4, dtype=torch.float64), torch.randn(1, 4, dtype=torch.float64)
    assert float(translation_contrastive_loss(source, target)) == pytest.approx(0.0, abs=1e-12)


def test_gradcheck_float64():
    g = torch.Generator().manual_seed(5)
    features = torch.randn(9, 4, generator=g, dtype=torch.float64, requires_grad=True)
    labels = torch.tensor([0, 0, 1, 1, 1, -100, 2, 2, 3])
    assert torch.autograd.gradcheck(lambda f: label_contrastive_loss(f, labels, 0.2), (features,))
    source = torch.randn(3, 4, generator=g, dtype=torch.float64, requires_grad=True)
    target = torch.randn(3, 4, generator=g, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda s, t: translation_contrastive_loss(s, t, 0.2), (source, target))


def test_chunked_lcl_equals_direct(monkeypatch):
    g = torch.Generator().manual_seed(6)
    features = torch.randn(50, 6, generator=g, dtype=torch.float64, requires_grad=True)
    labels = torch.randint(0, 5, (50,), generator=g)
    direct = label_contrastive_loss(features, labels)
    (grad_direct,) = torch.autograd.grad(direct, features)
    monkeypatch.setattr(losses, "_LCL_CHUNK", 16)  # forces the checkpointed, chunked path
    chunked = label_contrastive_loss(features, labels)
    (grad_chunked,) = torch.autograd.grad(chunked, features)
    assert torch.allclose(direct, chunked) and torch.allclose(grad_direct, grad_chunked)
    assert torch.autograd.gradcheck(lambda f: label_contrastive_loss(f, labels, 0.3), (features,))


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
def test_low_precision_inputs_are_finite_and_close(dtype):
    g = torch.Generator().manual_seed(7)
    features = torch.randn(64, 16, generator=g) * 30
    labels = torch.randint(0, 3, (64,), generator=g)
    low = label_contrastive_loss(features.to(dtype), labels, 0.05)
    assert low.dtype == torch.float32 and torch.isfinite(low)
    assert float(low) == pytest.approx(float(label_contrastive_loss(features, labels, 0.05)), rel=0.05)
    source, target = features[:8].to(dtype), features[8:16].to(dtype)
    tcl = translation_contrastive_loss(source, target, 0.05)
    assert tcl.dtype == torch.float32 and torch.isfinite(tcl)


def test_shape_errors():
    with pytest.raises(ValueError, match="features"):
        label_contrastive_loss(torch.randn(4, 3), torch.zeros(5, dtype=torch.long))
    with pytest.raises(ValueError, match="source and target"):
        translation_contrastive_loss(torch.randn(4, 3), torch.randn(3, 3))
