"""LCL (eq. 4-5) and TCL (eq. 6-7) against naive loops written straight from the equations."""

from __future__ import annotations

import math

import pytest
import torch

from modeling_concner import losses
from modeling_concner.losses import label_contrastive_loss, translation_contrastive_loss


def _cos(a: torch.Tensor, b: torch.Tensor) -> float:
    return float(torch.dot(a, b) / (a.norm() * b.norm()))


def naive_lcl(
    features: torch.Tensor,
    labels: torch.Tensor,
    tau: float,
    *,
    o_label: int | None = None,
    o_sample_ratio: float | None = None,
    o_in_denominator: bool = True,
    class_weighting: str = "none",
    seed: int = 0,
) -> float:
    """LCL straight from eq. 4-5, with the options beyond the paper written out as their docstrings say.

    The kept O anchors are the first `⌊r · |E|⌋` of `torch.randperm(#O candidates)` (a generator seeded with `seed`)
    over the O candidates in position order; "balanced" is written as the mean over classes of the per-class mean.
    """
    idx = [i for i in range(len(labels)) if int(labels[i]) != -100]
    lab = {i: int(labels[i]) for i in idx}

    def positives(i: int, pool: list[int]) -> list[int]:
        return [p for p in pool if p != i and lab[p] == lab[i]]

    anchors = [i for i in idx if positives(i, idx)]
    if o_sample_ratio is not None:
        entity = [i for i in anchors if lab[i] != o_label]
        o_candidates = [i for i in anchors if lab[i] == o_label]
        n_keep = min(len(o_candidates), math.floor(round(o_sample_ratio * len(entity), 6)))
        order = torch.randperm(len(o_candidates), generator=torch.Generator().manual_seed(seed))[:n_keep]
        anchors = sorted(entity + [o_candidates[j] for j in order.tolist()])
    pool = idx if o_in_denominator else [i for i in idx if lab[i] != o_label or i in anchors]
    anchors = [i for i in anchors if positives(i, pool)]
    per_anchor = {}
    for i in anchors:
        denom = sum(math.exp(_cos(features[i], features[k]) / tau) for k in pool if k != i)
        total = 0.0
        for p in positives(i, pool):
            total += -math.log(math.exp(_cos(features[i], features[p]) / tau) / denom)
        per_anchor[i] = total / len(positives(i, pool))
    if not per_anchor:
        return 0.0
    if class_weighting == "none":
        return sum(per_anchor.values()) / len(per_anchor)
    classes = sorted({lab[i] for i in anchors})
    per_class = [[per_anchor[i] for i in anchors if lab[i] == c] for c in classes]
    return sum(sum(v) / len(v) for v in per_class) / len(per_class)


def lcl_with(features: torch.Tensor, labels: torch.Tensor, tau: float, seed: int = 0, **options) -> torch.Tensor:
    """`label_contrastive_loss` with the options and a generator seeded with `seed` (as `naive_lcl` assumes)."""
    return label_contrastive_loss(features, labels, tau, generator=torch.Generator().manual_seed(seed), **options)


# (o_sample_ratio, o_in_denominator, class_weighting); the paper is (None, True, "none").
OPTIONS = [
    (None, True, "none"),
    (None, True, "balanced"),
    (0.0, True, "none"),
    (0.5, True, "none"),
    (1.0, True, "balanced"),
    (3.0, True, "none"),
    (0.0, False, "none"),
    (0.5, False, "none"),
    (1.0, False, "balanced"),
    (100.0, False, "balanced"),
]


def _options(o_label: int, ratio: float | None, in_denominator: bool, weighting: str) -> dict:
    return dict(o_label=o_label, o_sample_ratio=ratio, o_in_denominator=in_denominator, class_weighting=weighting)


def _o_heavy_batch(seed: int, m: int = 40, o_label: int = 0, dtype=torch.float64):
    """Random features and labels in 0..4, about 60% of them `o_label`, some ignored."""
    g = torch.Generator().manual_seed(seed)
    features = torch.randn(m, 8, generator=g, dtype=dtype)
    labels = torch.randint(0, 5, (m,), generator=g)
    labels[torch.rand(m, generator=g) < 0.5] = o_label
    labels[torch.randperm(m, generator=g)[:5]] = -100
    return features, labels


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


# ---------------------------------------------------------------------------------------------- beyond the paper


@pytest.mark.parametrize("o_label", [0, 3])  # the O class id is an argument, not 0
@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize(("ratio", "in_denominator", "weighting"), OPTIONS)
def test_lcl_options_match_naive_loop(ratio, in_denominator, weighting, seed, o_label):
    features, labels = _o_heavy_batch(seed, o_label=o_label)
    options = _options(o_label, ratio, in_denominator, weighting)
    got = lcl_with(features, labels, 0.2, seed=seed, **options)
    assert float(got) == pytest.approx(naive_lcl(features, labels, 0.2, seed=seed, **options), rel=1e-9)


@pytest.mark.parametrize(
    "labels",
    [
        [0] * 8,  # only O
        [0, -100, 0, 0, -100, 0],  # only O and ignored positions
        [0, 0, 0, 1, 2, 3, 4],  # entity tokens but no entity anchor (each type once)
        [1, 1, 2, 2, 3],  # no O token at all
        [0, 1, 1, 2, 2],  # a single O: never an anchor
        [0, 0, 1, 1],  # one entity anchor pair, two O candidates
    ],
)
@pytest.mark.parametrize(("ratio", "in_denominator", "weighting"), OPTIONS)
def test_lcl_options_degenerate_batches(labels, ratio, in_denominator, weighting):
    g = torch.Generator().manual_seed(8)
    features = torch.randn(len(labels), 6, generator=g, dtype=torch.float64, requires_grad=True)
    labels = torch.tensor(labels)
    options = _options(0, ratio, in_denominator, weighting)
    got = lcl_with(features, labels, 0.1, **options)
    expected = naive_lcl(features.detach(), labels, 0.1, **options)
    assert float(got.detach()) == pytest.approx(expected, rel=1e-9, abs=1e-12)
    got.backward()  # a zero result must still carry a graph
    assert features.grad is not None and torch.isfinite(features.grad).all()


def test_lcl_batch_without_entity_anchors_has_no_o_anchor_either():
    labels = torch.tensor([0, 0, 0, 0, 1, -100])
    features = torch.randn(6, 4, dtype=torch.float64)
    assert float(label_contrastive_loss(features, labels, o_label=0)) > 0  # the O options off: O anchors count
    for ratio in (0.0, 1.0, 50.0):
        assert float(label_contrastive_loss(features, labels, o_label=0, o_sample_ratio=ratio)) == 0.0


def test_lcl_ratio_zero_is_entity_anchors_only():
    features, labels = _o_heavy_batch(4)
    got = label_contrastive_loss(features, labels, 0.1, o_label=0, o_sample_ratio=0.0)
    # by hand: the paper loss restricted to the entity anchors, O tokens still positives/denominators of nobody
    z = torch.nn.functional.normalize(features, dim=-1)
    per_anchor = []
    for i in range(len(labels)):
        if int(labels[i]) in (-100, 0):
            continue
        others = [k for k in range(len(labels)) if k != i and int(labels[k]) != -100]
        positives = [p for p in others if labels[p] == labels[i]]
        if not positives:
            continue
        lse = torch.logsumexp(torch.stack([z[i] @ z[k] / 0.1 for k in others]), 0)
        per_anchor.append(torch.stack([lse - z[i] @ z[p] / 0.1 for p in positives]).mean())
    assert torch.allclose(got, torch.stack(per_anchor).mean())
    # ratio 0 draws nothing: the generator does not matter
    other = label_contrastive_loss(
        features, labels, 0.1, o_label=0, o_sample_ratio=0.0, generator=torch.Generator().manual_seed(9)
    )
    assert torch.equal(got, other)


def test_lcl_ratio_above_the_o_count_is_the_paper():
    features, labels = _o_heavy_batch(5)
    paper = label_contrastive_loss(features, labels, 0.1)
    assert torch.allclose(paper, label_contrastive_loss(features, labels, 0.1, o_label=0, o_sample_ratio=1e6))
    # dropping non-anchor O tokens from the denominators changes nothing when every O token is an anchor
    kept = label_contrastive_loss(features, labels, 0.1, o_label=0, o_sample_ratio=1e6, o_in_denominator=False)
    assert torch.allclose(paper, kept)


def test_sample_o_anchors_counts_subset_and_determinism():
    g = torch.Generator().manual_seed(10)
    is_o = torch.rand(200, generator=g) < 0.8
    candidates = torch.rand(200, generator=g) < 0.9
    n_entity, n_o = int((candidates & ~is_o).sum()), int((candidates & is_o).sum())
    for ratio in (0.0, 0.29, 0.5, 1.0, 2.0, 100.0):
        kept = losses.sample_o_anchors(candidates, is_o, ratio, torch.Generator().manual_seed(0))
        assert torch.equal(kept & ~is_o, candidates & ~is_o)  # every entity anchor is kept
        assert not bool((kept & ~candidates).any())  # only candidates
        assert int((kept & is_o).sum()) == min(n_o, math.floor(round(ratio * n_entity, 6)))
    assert int((losses.sample_o_anchors(torch.ones(200, dtype=torch.bool), is_o, 0.29) & is_o).sum()) == math.floor(
        round(0.29 * int((~is_o).sum()), 6)
    )
    draws = [losses.sample_o_anchors(candidates, is_o, 0.5, torch.Generator().manual_seed(s)) for s in (0, 0, 1)]
    assert torch.equal(draws[0], draws[1]) and not torch.equal(draws[0], draws[2])


def test_balanced_weights_formula():
    classes = torch.tensor([0, 0, 0, 0, 1, 1, 2, 0])
    w = losses.balanced_anchor_weights(classes)
    # |A| = 8, C = 3, n = (5, 2, 1): w = 8 / (3 n)
    expected = torch.tensor([8 / 15] * 4 + [8 / 6] * 2 + [8 / 3] + [8 / 15], dtype=torch.float64)
    assert torch.allclose(w, expected) and float(w.mean()) == pytest.approx(1.0)
    assert torch.equal(losses.balanced_anchor_weights(torch.tensor([2, 1, 2, 1, 0, 0])), torch.ones(6, dtype=w.dtype))


def test_balanced_equals_none_when_classes_are_equally_frequent():
    g = torch.Generator().manual_seed(11)
    features = torch.randn(12, 5, generator=g, dtype=torch.float64)
    labels = torch.tensor([0, 1, 2, 0, 1, 2, 0, 1, 2, 2, 1, 0])
    none = label_contrastive_loss(features, labels)
    assert torch.allclose(none, label_contrastive_loss(features, labels, class_weighting="balanced"))
    skewed = torch.tensor([0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 2, 2])
    assert not torch.allclose(
        label_contrastive_loss(features, skewed), label_contrastive_loss(features, skewed, class_weighting="balanced")
    )


@pytest.mark.parametrize(("ratio", "in_denominator", "weighting"), OPTIONS)
def test_chunked_lcl_equals_direct_for_every_option(monkeypatch, ratio, in_denominator, weighting):
    features, labels = _o_heavy_batch(12, m=60)
    features.requires_grad_(True)
    options = _options(0, ratio, in_denominator, weighting)
    direct = lcl_with(features, labels, 0.1, **options)
    (grad_direct,) = torch.autograd.grad(direct, features)
    monkeypatch.setattr(losses, "_LCL_CHUNK", 4)  # forces the checkpointed, chunked path (several chunks)
    chunked = lcl_with(features, labels, 0.1, **options)
    (grad_chunked,) = torch.autograd.grad(chunked, features)
    assert torch.allclose(direct, chunked) and torch.allclose(grad_direct, grad_chunked)
    assert float(chunked.detach()) == pytest.approx(naive_lcl(features.detach(), labels, 0.1, **options), rel=1e-9)


@pytest.mark.parametrize("chunk", [1024, 4])
@pytest.mark.parametrize(("ratio", "in_denominator", "weighting"), [(0.5, True, "balanced"), (1.0, False, "none")])
def test_gradcheck_float64_with_options(monkeypatch, chunk, ratio, in_denominator, weighting):
    monkeypatch.setattr(losses, "_LCL_CHUNK", chunk)
    features, labels = _o_heavy_batch(13, m=16)
    features.requires_grad_(True)
    options = _options(0, ratio, in_denominator, weighting)
    assert torch.autograd.gradcheck(lambda f: lcl_with(f, labels, 0.3, **options), (features,))


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
@pytest.mark.parametrize(("ratio", "in_denominator", "weighting"), OPTIONS)
def test_low_precision_inputs_match_float32_for_every_option(dtype, ratio, in_denominator, weighting):
    features, labels = _o_heavy_batch(14, m=64, dtype=torch.float32)
    features = features * 30
    options = _options(0, ratio, in_denominator, weighting)
    low = lcl_with(features.to(dtype), labels, 0.05, **options)
    assert low.dtype == torch.float32 and torch.isfinite(low)
    assert float(low) == pytest.approx(float(lcl_with(features, labels, 0.05, **options)), rel=0.05, abs=1e-6)


def test_option_errors():
    features, labels = torch.randn(4, 3), torch.tensor([0, 0, 1, 1])
    with pytest.raises(ValueError, match="need o_label"):
        label_contrastive_loss(features, labels, o_sample_ratio=0.5)
    with pytest.raises(ValueError, match="need o_label"):
        label_contrastive_loss(features, labels, o_in_denominator=False)
    for bad in (-0.5, float("nan"), float("inf")):
        with pytest.raises(ValueError, match="o_sample_ratio"):
            label_contrastive_loss(features, labels, o_label=0, o_sample_ratio=bad)
    with pytest.raises(ValueError, match="class_weighting"):
        label_contrastive_loss(features, labels, class_weighting="inverse")
