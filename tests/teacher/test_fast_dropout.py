"""The fast CPU dropout kernel (`trainers.fast_dropout`, `--dropout_kernel`): the same dropout as torch's, cheaper."""

from __future__ import annotations

import json
import shutil

import pytest
import torch
from safetensors.torch import load_file
from torch import nn

import run_concner
from concner.cli import UsageError, resolve_dropout_kernel
from tests.conftest import build_tiny_tokenizer, tiny_bert_config
from tests.teacher.helpers import run_argv
from trainers.fast_dropout import (
    EAGER_FAST_DROPOUT,
    FastDropout,
    eager_attention_fast_dropout,
    fast_dropout,
    keep_mask,
    rounded_drop_probability,
    use_fast_dropout,
)


def _naive_keep_mask(count: int, p: float, seed: int) -> list[bool]:
    """The mask `keep_mask` must give after `torch.manual_seed(seed)`, one element at a time from the same draws."""
    torch.manual_seed(seed)
    words = torch.empty((count + 3) // 4, dtype=torch.int64).random_(-(2**63), None).tolist()
    threshold = round(p * 65536) - 32768
    keep = []
    for i in range(count):
        bits = (words[i // 4] >> (16 * (i % 4))) & 0xFFFF  # little-endian: element i is the (i % 4)-th 16-bit lane
        keep.append((bits - 65536 if bits >= 32768 else bits) >= threshold)
    return keep


@pytest.mark.parametrize("p", [0.0, 0.1, 0.5, 1.0])
def test_keep_mask_equals_a_naive_loop_over_the_same_random_bits(p):
    torch.manual_seed(7)
    mask = keep_mask((3, 5, 7), p)
    assert mask.dtype == torch.bool and mask.shape == (3, 5, 7)
    assert mask.reshape(-1).tolist() == _naive_keep_mask(105, p, seed=7)


@pytest.mark.parametrize("p", [0.1, 0.3, 0.9])
def test_every_16_bit_lane_keeps_with_probability_1_minus_p(p):
    """All four lanes of a 64-bit draw are uniform (with torch's default `random_()` range, the top lane's sign bit
    would always be 0 and that lane would keep every element for p <= 0.5)."""
    torch.manual_seed(0)
    count = 4 * 250_000
    lanes = keep_mask((count,), p).view(-1, 4).float().mean(dim=0)
    tolerance = 5 * (p * (1 - p) / (count // 4)) ** 0.5  # 5 standard errors
    assert torch.allclose(lanes, torch.full((4,), 1 - p), atol=tolerance), lanes


def test_fast_dropout_zeroes_or_scales_and_passes_the_gradient_through_the_same_mask():
    torch.manual_seed(0)
    x = torch.randn(64, 33, requires_grad=True)
    p = 0.25
    torch.manual_seed(1)
    y = fast_dropout(x, p)
    kept = y != 0
    assert 0.6 < kept.float().mean() < 0.9
    assert torch.allclose(y[kept], x[kept] / (1 - rounded_drop_probability(p)))
    y.sum().backward()
    assert torch.equal(x.grad != 0, kept)
    assert torch.allclose(x.grad[kept], torch.full_like(x.grad[kept], 1 / (1 - p)))
    # the same seed, the same mask (a run is repeatable from `set_seed`)
    torch.manual_seed(1)
    assert torch.equal(fast_dropout(x.detach(), p), y.detach())


def test_fast_dropout_edge_cases():
    x = torch.randn(4, 5, dtype=torch.bfloat16)
    assert fast_dropout(x, 0.5, training=False) is x
    assert fast_dropout(x, 0.0) is x
    assert torch.equal(fast_dropout(x, 1.0), torch.zeros_like(x))
    assert fast_dropout(x, 0.5).dtype == torch.bfloat16  # under autocast the activations stay bf16
    with pytest.raises(ValueError, match="between 0 and 1"):
        fast_dropout(x, 1.5)
    assert rounded_drop_probability(0.1) == pytest.approx(0.1, abs=1 / 65536)


def _tiny_model(attn: str, dropout: float = 0.1) -> nn.Module:
    from transformers import BertForTokenClassification

    torch.manual_seed(0)
    config = tiny_bert_config(50, hidden_dropout_prob=dropout, attention_probs_dropout_prob=dropout)
    model = BertForTokenClassification(config)
    model.set_attn_implementation(attn)
    return model


def _batch() -> dict[str, torch.Tensor]:
    ids = torch.randint(5, 50, (3, 9), generator=torch.Generator().manual_seed(1))
    mask = torch.ones_like(ids)
    mask[1, 6:] = 0  # padding: a lost attention mask would change the logits
    mask[2, 4:] = 0
    return {"input_ids": ids, "attention_mask": mask}


def test_use_fast_dropout_swaps_every_dropout_and_keeps_evaluation_exact():
    model = _tiny_model("eager").eval()
    before = model(**_batch()).logits
    native = sum(type(m) is nn.Dropout for m in model.modules())
    assert use_fast_dropout(model) == native > 0
    assert not any(type(m) is nn.Dropout for m in model.modules())
    assert all(not m.training for m in model.modules() if isinstance(m, FastDropout))  # the model's mode is kept
    assert model.config._attn_implementation == EAGER_FAST_DROPOUT
    assert torch.equal(model(**_batch()).logits, before)
    model.train()
    torch.manual_seed(3)
    first = model(**_batch()).logits
    torch.manual_seed(3)
    assert torch.equal(model(**_batch()).logits, first)
    assert not torch.allclose(first, before)  # dropout is on in training mode


def test_use_fast_dropout_leaves_other_attention_kernels_alone():
    model = _tiny_model("sdpa")
    use_fast_dropout(model)
    assert model.config._attn_implementation == "sdpa"
    assert all(type(m) is not nn.Dropout for m in model.modules())


def test_the_attention_function_is_transformers_eager_attention_with_the_fast_mask():
    from transformers.models.bert.modeling_bert import eager_attention_forward

    module = nn.Module()
    generator = torch.Generator().manual_seed(0)
    q, k, v = (torch.randn(2, 3, 5, 4, generator=generator) for _ in range(3))
    mask = torch.zeros(2, 1, 5, 5)
    mask[1, :, :, 3:] = torch.finfo(torch.float32).min
    module.eval()
    expected = eager_attention_forward(module, q, k, v, mask, scaling=0.5, dropout=0.3)
    got = eager_attention_fast_dropout(module, q, k, v, mask, scaling=0.5, dropout=0.3)
    assert all(torch.allclose(a, b) for a, b in zip(got, expected))
    module.train()
    torch.manual_seed(5)
    output, weights = eager_attention_fast_dropout(module, q, k, v, mask, scaling=0.5, dropout=0.3)
    torch.manual_seed(5)
    probs = torch.softmax(q @ k.transpose(2, 3) * 0.5 + mask, dim=-1)
    dropped = probs * keep_mask(probs.shape, 0.3) / (1 - rounded_drop_probability(0.3))
    assert torch.allclose(weights, dropped)
    assert torch.allclose(output, (dropped @ v).transpose(1, 2))


def test_the_saved_model_loads_without_the_kernel(tmp_path):
    from transformers import AutoModelForTokenClassification

    model = _tiny_model("eager")
    use_fast_dropout(model)
    model.save_pretrained(tmp_path)
    assert EAGER_FAST_DROPOUT not in (tmp_path / "config.json").read_text()
    loaded = AutoModelForTokenClassification.from_pretrained(tmp_path)
    assert all(type(m) is not FastDropout for m in loaded.modules())


def test_resolve_dropout_kernel():
    assert resolve_dropout_kernel("auto", bf16=True) == "fast"  # the tests run without an accelerator
    assert resolve_dropout_kernel("auto", bf16=False) == "native"
    assert resolve_dropout_kernel("native", bf16=True) == "native"
    assert resolve_dropout_kernel("fast", bf16=False) == "fast"
    with pytest.raises(UsageError, match="--dropout_kernel"):
        resolve_dropout_kernel("cuda", bf16=False)


def test_a_bad_dropout_kernel_is_one_error_line(synthetic, tiny_bert_dir, tmp_path, capsys):
    assert run_concner.main(run_argv(synthetic, tiny_bert_dir, tmp_path / "out", "--dropout_kernel", "quick")) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and "dropout_kernel" in err[0]
    assert not (tmp_path / "out").exists()


@pytest.fixture
def dropout_bert_dir(tmp_path):
    """A tiny BERT folder whose dropout is on (the shared fixture's is 0, which makes every dropout kernel a no-op)."""
    from transformers import BertForTokenClassification

    path = tmp_path / "dropout-bert"
    tokenizer = build_tiny_tokenizer(path)
    torch.manual_seed(0)
    config = tiny_bert_config(len(tokenizer), hidden_dropout_prob=0.2, attention_probs_dropout_prob=0.2)
    BertForTokenClassification(config).save_pretrained(path)
    return path


def _weights(folder):
    return load_file(folder / "model.safetensors")


def test_bf16_training_uses_the_fast_kernel_and_resumes_exactly(synthetic, dropout_bert_dir, tmp_path, capsys):
    """Under `--bf16` on a CPU the teacher trains with the fast kernel (`auto`), and a resumed run replays the same
    dropout masks: the kernel draws from torch's default generator, whose state every checkpoint saves."""
    common = ["--variant", "concner", "--num_train_epochs", "2", "--eval_strategy", "no", "--save_steps", "3",
              "--save_total_limit", "10", "--load_best_model_at_end", "false", "--bf16", "true"]  # fmt: skip
    full = tmp_path / "full"
    run_concner.run(run_argv(synthetic, dropout_bert_dir, full, *common))
    assert "dropout: the fast kernel in" in capsys.readouterr().out
    assert "dropout_kernel" not in (full / "config.json").read_text()
    resumed = tmp_path / "resumed"
    shutil.copytree(full / "checkpoint-3", resumed / "checkpoint-3")
    run_concner.run(
        run_argv(
            synthetic, dropout_bert_dir, resumed, *common, "--resume_from_checkpoint", str(resumed / "checkpoint-3")
        )
    )
    a, b = _weights(full), _weights(resumed)
    assert all(torch.equal(a[k], b[k]) for k in a)
    capsys.readouterr()
    native = tmp_path / "native"
    run_concner.run(run_argv(synthetic, dropout_bert_dir, native, *common, "--dropout_kernel", "native"))
    assert "dropout: the fast kernel" not in capsys.readouterr().out
    c = _weights(native)
    assert any(not torch.equal(a[k], c[k]) for k in a)  # the kernel draws other masks: the switch is real
    state = json.loads((native / "trainer_state.json").read_text())
    assert state["global_step"] == json.loads((full / "trainer_state.json").read_text())["global_step"]
