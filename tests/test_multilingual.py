"""One model for several target languages: the teacher on two translations, the student on two D_U files, the card,
`pipeline("ner")`, the sampler's draw and the bad-input errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import run_concner
import run_distill
from tests.teacher.helpers import paired_dataset, write_conll
from trainers.sampler import PairedBatchSampler, build_units

GERMAN = ["peter ist mit mary in berlin", "der club ist in london", "john und mary sind in paris"]
SPANISH = ["peter está con mary en madrid", "el club está en londres", "john y mary son de paris"]


@pytest.fixture(scope="module")
def two_languages(tmp_path_factory) -> dict[str, Path]:
    """16 source sentences, their 'de' and 'es' translations (sentence i <-> i), dev, tests, D_U per language."""
    directory = tmp_path_factory.mktemp("multi")
    rows = list(paired_dataset(num_pairs=16, num_single=0, seed=2))
    sources, german = rows[:16], rows[16:]
    spanish = [{**row, "tokens": row["tokens"][::-1], "ner_tags": row["ner_tags"][::-1]} for row in sources]
    dev = list(paired_dataset(num_pairs=6, num_single=0, seed=3))
    files = {
        "train": write_conll(directory / "train.txt", sources),
        "de": write_conll(directory / "de.txt", german),
        "es": write_conll(directory / "es.txt", spanish),
        "dev": write_conll(directory / "dev.txt", dev[:6]),
        "test_de": write_conll(directory / "test_de.txt", dev[6:]),
        "test_es": write_conll(directory / "test_es.txt", dev[6:9]),
        "short_es": write_conll(directory / "short_es.txt", spanish[:15]),
    }
    for lang, lines in (("de", GERMAN), ("es", SPANISH)):
        files[f"u_{lang}"] = directory / f"u_{lang}.txt"
        files[f"u_{lang}"].write_text("\n".join(lines * 4) + "\n", encoding="utf-8")
    return files


def teacher_argv(files: dict[str, Path], model: Path, output: Path, *extra: str) -> list[str]:
    return [
        "--model_name_or_path", str(model),
        "--variant", "concner",
        "--train_file", str(files["train"]),
        "--translation_files", f"de={files['de']}", f"es={files['es']}",
        "--validation_file", str(files["dev"]),
        "--test_files", f"de={files['test_de']}", f"es={files['test_es']}",
        "--output_dir", str(output),
        "--per_device_train_batch_size", "4",
        "--max_steps", "4", "--eval_steps", "4", "--save_steps", "4",
        "--learning_rate", "2e-3",
        "--logging_steps", "1",
        "--disable_tqdm", "true",
        "--report_to", "none",
        "--seed", "1",
        *extra,
    ]  # fmt: skip


def student_argv(files: dict[str, Path], teacher: Path, output: Path, *extra: str) -> list[str]:
    return [
        "--teacher_model_name_or_path", str(teacher),
        "--unlabeled_files", f"de={files['u_de']}", f"es={files['u_es']}",
        "--validation_file", str(files["dev"]),
        "--test_files", f"de={files['test_de']}", f"es={files['test_es']}",
        "--output_dir", str(output),
        "--max_steps", "4",
        "--per_device_train_batch_size", "8",
        "--learning_rate", "1e-3",
        "--save_strategy", "no",
        "--report_to", "none",
        "--use_cpu",
        "--disable_tqdm", "true",
        *extra,
    ]  # fmt: skip


@pytest.fixture(scope="module")
def multi_teacher(two_languages, tmp_path_factory) -> tuple[Path, str]:
    from tests.conftest import build_tiny_tokenizer, tiny_bert_config

    model = tmp_path_factory.mktemp("tiny")
    tokenizer = build_tiny_tokenizer(model)
    from transformers import BertForTokenClassification

    BertForTokenClassification(tiny_bert_config(len(tokenizer))).save_pretrained(model)
    output = tmp_path_factory.mktemp("teacher") / "out"
    import contextlib
    import io

    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        metrics = run_concner.run(teacher_argv(two_languages, model, output))
    assert metrics["train_rows"] == 48  # 16 sources + 16 German + 16 Spanish rows
    return output, buffer.getvalue()


def test_teacher_reads_both_translations_and_names_them(multi_teacher):
    output, printed = multi_teacher
    assert "[de] translation pairs (matched by index): 16 source sentences" in printed
    assert "[es] translation pairs (matched by index): 16 source sentences" in printed
    config = json.loads((output / "config.json").read_text())
    assert config["translation_languages"] == ["de", "es"]
    from huggingface_hub import ModelCard

    card = ModelCard.load(output / "README.md")
    assert card.data.language == ["en", "de", "es"]
    text = (output / "README.md").read_text(encoding="utf-8")
    assert "Translated sentences kept (D_TGT): 32 from" in text
    assert "de.txt` (de)" in text and "es.txt` (es)" in text


def test_student_distils_both_languages_card_and_pipeline(multi_teacher, two_languages, tmp_path, capsys):
    from huggingface_hub import ModelCard
    from transformers import pipeline

    teacher, _ = multi_teacher
    output = tmp_path / "student"
    assert run_distill.main(student_argv(two_languages, teacher, output, "--unlabeled_max_samples", "5")) == 0
    assert "D_U: 10 rows from 2 languages (de 5, es 5; balanced by repetition)" in capsys.readouterr().out
    card = ModelCard.load(output / "README.md")
    assert card.data.language == ["en", "de", "es"]
    widget = [example["text"] for example in card.data.widget]
    assert set(widget) & set(GERMAN) and set(widget) & set(SPANISH)  # a widget sentence per language
    scored = {
        result.dataset_name: result.metric_value
        for result in card.data.eval_results
        if result.metric_type == "f1" and result.dataset_split == "test"
    }
    assert len(scored) == 2, card.data.eval_results
    results = json.loads((output / "all_results.json").read_text())
    assert {"test_de_f1", "test_es_f1"} <= set(results)
    ner = pipeline("ner", model=str(output), aggregation_strategy="simple")
    for sentence in (GERMAN[0], SPANISH[0]):
        entities = ner(sentence)
        assert isinstance(entities, list)
        assert all(e["entity_group"] in {"PER", "LOC", "ORG", "MISC"} and e["word"] for e in entities)


def test_unbalanced_languages_are_repeated_up_to_the_largest(two_languages, tmp_path):
    from datasets import Dataset

    parts = {"de": Dataset.from_dict({"id": ["de:0", "de:1", "de:2", "de:3"], "tokens": [["a"]] * 4}),
             "es": Dataset.from_dict({"id": ["es:0", "es:1"], "tokens": [["b"]] * 2})}  # fmt: skip
    union = run_distill.balanced_union(parts, seed=0)
    ids = union["id"]
    assert set(ids) == {"de:0", "de:1", "de:2", "de:3", "es:0", "es:1"}
    assert sum(i.startswith("de:") for i in ids) == sum(i.startswith("es:") for i in ids) == 4


# ------------------------------------------------------------------------------------------------ bad input


def _error(main, argv, capsys) -> str:
    assert main(argv) == 2
    err = capsys.readouterr().err
    errors = [line for line in err.splitlines() if line.startswith("error")]  # besides, at most progress bars
    assert len(errors) == 1 and err.rstrip().endswith(errors[0]) and "Traceback" not in err, err
    return errors[0]


def test_translation_language_given_twice(two_languages, tiny_bert_dir, tmp_path, capsys):
    argv = teacher_argv(two_languages, tiny_bert_dir, tmp_path / "out")
    at = argv.index("--translation_files")
    argv[at + 2] = f"de={two_languages['es']}"
    assert "--translation_files: language 'de' given twice" in _error(run_concner.main, argv, capsys)
    assert not (tmp_path / "out").exists()


def test_translation_with_another_sentence_count(two_languages, tiny_bert_dir, tmp_path, capsys):
    argv = teacher_argv(two_languages, tiny_bert_dir, tmp_path / "out")
    argv[argv.index("--translation_files") + 2] = f"es={two_languages['short_es']}"
    err = _error(run_concner.main, argv, capsys)
    assert "short_es.txt" in err and "15 sentences" in err and "16" in err


def test_unlabeled_language_given_twice(multi_teacher, two_languages, tmp_path, capsys):
    argv = student_argv(two_languages, multi_teacher[0], tmp_path / "student")
    argv[argv.index("--unlabeled_files") + 2] = f"de={two_languages['u_es']}"
    assert "--unlabeled_files: language 'de' given twice" in _error(run_distill.main, argv, capsys)


def test_unlabeled_language_without_translation(multi_teacher, two_languages, tmp_path, capsys):
    argv = student_argv(two_languages, multi_teacher[0], tmp_path / "student")
    argv[argv.index("--unlabeled_files") + 2] = f"nl={two_languages['u_es']}"
    err = _error(run_distill.main, argv, capsys)
    assert "--unlabeled_files nl" in err and "no 'nl' translation" in err and "de, es" in err
    assert not (tmp_path / "student").exists()


# ------------------------------------------------------------------------------------------------ the sampler


def naive_epoch_rows(units: list[tuple[int, ...]], draws: list[float]) -> list[tuple[int, ...]]:
    """Reference: a unit with several translations gives its source and translation 1 + floor(u * L)."""
    out = []
    for unit, u in zip(units, draws):
        if len(unit) <= 2:
            out.append(unit)
        else:
            translations = list(unit[1:])
            out.append((unit[0], translations[int(u * len(translations))]))
    return out


def test_sampler_draws_one_translation_per_source_and_epoch():
    import torch

    n, languages = 10, 3
    pair_ids = list(range(n)) + [i for _ in range(languages) for i in range(n)] + [-1, -1]
    sampler = PairedBatchSampler(pair_ids, units_per_batch=4, seed=5)
    units = build_units(pair_ids, max_rows=None)
    assert all(len(u) == 1 + languages for u in units[:n])
    assert sampler.num_pairs == n and sampler.num_rows == 2 * n + 2
    used = set()
    for epoch in range(6):
        sampler.set_epoch(epoch)
        generator = torch.Generator()
        generator.manual_seed(5 + epoch + 2_000_003)
        expected = naive_epoch_rows(units, torch.rand(len(units), generator=generator).tolist())
        assert sampler.drawn_rows() == expected
        batches = list(sampler)
        rows = [r for b in batches for r in b]
        assert sorted(rows) == sorted(r for unit in expected for r in unit)
        for batch in batches:  # every batch holds whole pairs: each source with exactly one translation
            ids = [pair_ids[r] for r in batch if pair_ids[r] >= 0]
            assert all(ids.count(i) == 2 for i in ids)
        used |= {r for unit in expected[:n] for r in unit[1:]}
    assert len(used) > n  # over the epochs, more than one language per source is used
    sampler.set_epoch(3)
    again = list(sampler)
    sampler.set_epoch(3)
    assert list(sampler) == again  # the same draw on resume


def test_one_language_batches_are_unchanged():
    pair_ids = [0, 1, 2, -1, 0, 1, 2]
    sampler = PairedBatchSampler(pair_ids, units_per_batch=2, seed=1)
    assert sampler.drawn_rows() == build_units(pair_ids)  # no unit has more than two rows: nothing is drawn
