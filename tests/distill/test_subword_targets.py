"""Distillation targets on every sub-word piece (`kd_subword_targets="all"`), against naive loops."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from datasets import Dataset

from tests.conftest import LABELS
from tests.distill.conftest import make_features, make_model, make_teacher
from trainers.distillation_collator import DataCollatorForDistillation
from trainers.distillation_losses import distillation_mse_loss
from trainers.distillation_trainer import DistillationArguments, DistillationTrainer
from trainers.subword_targets import begin_to_inside, continuation_owner, spread_to_subwords
from trainers.teacher_cache import add_teacher_logits

ID2LABEL = dict(enumerate(LABELS))


def _naive_owner(first: torch.Tensor, content: torch.Tensor) -> torch.Tensor:
    out = torch.full(first.shape, -1, dtype=torch.long)
    for b in range(first.shape[0]):
        last = -1
        for t in range(first.shape[1]):
            if first[b, t]:
                last = t
                out[b, t] = t
            elif content[b, t]:
                out[b, t] = last
    return out


def test_begin_to_inside_moves_b_to_i_only():
    mapping = begin_to_inside(ID2LABEL).tolist()
    for i, label in ID2LABEL.items():
        expected = LABELS.index(f"I-{label[2:]}") if label.startswith("B-") else i
        assert mapping[i] == expected
    # a B-X without an I-X stays itself
    assert begin_to_inside({0: "O", 1: "B-LOC"}).tolist() == [0, 1]


def test_continuation_owner_matches_a_loop():
    gen = torch.Generator().manual_seed(0)
    for _ in range(20):
        first = torch.rand(4, 15, generator=gen) < 0.4
        content = (torch.rand(4, 15, generator=gen) < 0.8) | first
        content[:, 0] = False  # a [CLS]-like position
        first[:, 0] = False
        assert torch.equal(continuation_owner(first, content), _naive_owner(first, content))


def test_spread_to_subwords_matches_a_loop():
    gen = torch.Generator().manual_seed(1)
    first = torch.tensor([[0, 1, 0, 0, 1, 0, 0], [0, 0, 1, 1, 0, 0, 0]]).bool()
    content = torch.tensor([[0, 1, 1, 1, 1, 1, 0], [0, 1, 1, 1, 1, 0, 0]]).bool()
    logits = torch.randn(2, 7, len(LABELS), generator=gen)
    inside_of = begin_to_inside(ID2LABEL)
    owner = continuation_owner(first, content)
    got = spread_to_subwords(logits, owner, first, inside_of)
    for b in range(2):
        for t in range(7):
            if owner[b, t] < 0 or first[b, t]:
                assert torch.equal(got[b, t], logits[b, t])
                continue
            p = F.softmax(logits[b, owner[b, t]], dim=-1)
            q = torch.zeros(len(LABELS))
            for c, label in enumerate(LABELS):
                target = LABELS.index(f"I-{label[2:]}") if label.startswith("B-") else c
                q[target] += p[c]
            torch.testing.assert_close(F.softmax(got[b, t], dim=-1), q)
            assert all(float(F.softmax(got[b, t], dim=-1)[LABELS.index(x)]) < 1e-6 for x in LABELS if x[0] == "B")
    # position (1, 1) precedes the row's first word: it has no owner and is left alone
    assert owner[1, 1] == -1


def test_spread_to_subwords_upcasts_bf16():
    first = torch.tensor([[True, False]])
    owner = continuation_owner(first, torch.tensor([[True, True]]))
    logits = torch.randn(1, 2, len(LABELS))
    out = spread_to_subwords(logits.bfloat16(), owner, first, begin_to_inside(ID2LABEL))
    assert out.dtype == torch.float32


def _split_word_features(tokenizer):
    # "Xq" and "Zzv" are not in the tiny vocabulary: WordPiece splits them into characters (continuation pieces)
    sentences = [["peter", "Xq", "said"], ["Zzv", "london", "the"], ["the", "eu", "said"]] * 4
    return Dataset.from_list(make_features(tokenizer, sentences))


def _trainer(tmp_path, tokenizer, dataset, mode):
    args = DistillationArguments(
        output_dir=str(tmp_path / mode),
        max_steps=1,
        per_device_train_batch_size=4,
        report_to=[],
        use_cpu=True,
        save_strategy="no",
        kd_subword_targets=mode,
    )
    teacher = make_teacher(len(tokenizer))
    student = make_model(len(tokenizer), seed=2)
    return DistillationTrainer(
        model=student,
        teacher_model=teacher,
        args=args,
        train_dataset=dataset,
        data_collator=DataCollatorForDistillation(tokenizer),
        processing_class=tokenizer,
    )


def test_all_mode_distils_continuation_pieces_towards_the_words_distribution(tmp_path, tiny_tokenizer):
    dataset = _split_word_features(tiny_tokenizer)
    trainer = _trainer(tmp_path, tiny_tokenizer, dataset, "all")
    student, teacher = trainer.model.eval(), trainer.teacher_model
    batch = DataCollatorForDistillation(tiny_tokenizer)(list(dataset))
    inputs = {k: batch[k] for k in ("input_ids", "attention_mask", "token_type_ids")}
    with torch.no_grad():
        got = float(trainer.compute_loss(student, batch))
        s_logits, t_logits = student(**inputs).logits, teacher(**inputs).logits
    # naive: every non-special token of a word, target = its word's teacher distribution with B-X moved to I-X
    special = set(tiny_tokenizer.all_special_ids)
    inside_of = begin_to_inside(ID2LABEL).tolist()
    per_row = []
    for b in range(batch["input_ids"].shape[0]):
        terms, owner = [], None
        for t in range(batch["input_ids"].shape[1]):
            if int(batch["input_ids"][b, t]) in special or not batch["attention_mask"][b, t]:
                continue
            if batch["word_index"][b, t] >= 0:
                owner, q = t, F.softmax(t_logits[b, t], dim=-1)
            else:
                p = F.softmax(t_logits[b, owner], dim=-1)
                q = torch.zeros_like(p).index_add_(0, torch.tensor(inside_of), p)
            terms.append(float((F.softmax(s_logits[b, t], dim=-1) - q).pow(2).sum()))
        per_row.append(sum(terms) / len(terms))
    assert got == pytest.approx(sum(per_row) / len(per_row), rel=1e-5)
    # and it differs from the paper's first-sub-word loss on this data, which has continuation pieces
    first = float(distillation_mse_loss(s_logits, t_logits, batch["word_index"] >= 0))
    assert got != pytest.approx(first, rel=1e-4)


def test_all_mode_equals_first_without_continuation_pieces(tmp_path, tiny_tokenizer):
    dataset = Dataset.from_list(make_features(tiny_tokenizer, [["peter", "said", "the"], ["london", "eu"]]))
    losses = {}
    for mode in ("first", "all"):
        trainer = _trainer(tmp_path, tiny_tokenizer, dataset, mode)
        batch = DataCollatorForDistillation(tiny_tokenizer)(list(dataset))
        with torch.no_grad():
            losses[mode] = float(trainer.compute_loss(trainer.model.eval(), batch))
    assert losses["all"] == pytest.approx(losses["first"], rel=1e-6)


def test_all_mode_with_cached_logits_equals_on_the_fly(tmp_path, tiny_tokenizer):
    dataset = _split_word_features(tiny_tokenizer)
    trainer = _trainer(tmp_path, tiny_tokenizer, dataset, "all")
    cached = add_teacher_logits(dataset, trainer.teacher_model, tiny_tokenizer, batch_size=5)
    collator = DataCollatorForDistillation(tiny_tokenizer)
    with torch.no_grad():
        live = float(trainer.compute_loss(trainer.model.eval(), collator(list(dataset))))
        stored = float(trainer.compute_loss(trainer.model.eval(), collator(list(cached))))
    assert stored == pytest.approx(live, abs=1e-6)


def test_bad_mode_is_refused(tmp_path):
    with pytest.raises(ValueError, match="kd_subword_targets"):
        DistillationArguments(output_dir=str(tmp_path), kd_subword_targets="every")
