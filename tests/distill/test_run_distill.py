"""`run_distill.py` end to end on tiny models and files: TSL-style and ConCNER teachers, outputs, bad input."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys

import pytest

import run_distill
from tests.conftest import _WORDS, LABELS, build_tiny_tokenizer
from tests.distill.conftest import make_model, make_teacher, random_sentences


def _write_conll(path, sentences, seed: int) -> None:
    rng = random.Random(seed)
    lines = []
    for sentence in sentences:
        lines += [f"{w} {rng.choice(['O', 'O', 'B-PER', 'B-LOC', 'B-ORG'])}" for w in sentence] + [""]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


@pytest.fixture
def files(tmp_path):
    unlabelled = tmp_path / "unlabelled.txt"
    unlabelled.write_text("\n".join(" ".join(s) for s in random_sentences(40, seed=21)) + "\n", encoding="utf-8")
    dev, test = tmp_path / "dev.txt", tmp_path / "test.txt"
    _write_conll(dev, random_sentences(12, seed=22), seed=1)
    _write_conll(test, random_sentences(12, seed=23), seed=2)
    return {"unlabelled": unlabelled, "dev": dev, "test": test}


@pytest.fixture
def bert_teacher(tmp_path):
    """A plain BERT token classifier (the TSL / En-KD teacher kind) with its tokenizer."""
    path = tmp_path / "bert-teacher"
    tokenizer = build_tiny_tokenizer(path)
    make_teacher(len(tokenizer)).save_pretrained(path)
    return path


@pytest.fixture
def base_encoder(tmp_path):
    """A tiny 'pre-trained encoder' (no token-classification labels) standing in for mBERT."""
    from transformers import BertModel

    from tests.conftest import tiny_bert_config

    path = tmp_path / "base-encoder"
    tokenizer = build_tiny_tokenizer(path)
    config = tiny_bert_config(len(tokenizer))
    del config.id2label, config.label2id
    config.num_labels = 2
    BertModel(config, add_pooling_layer=False).save_pretrained(path)
    return path


def _common(tmp_path, files, **extra) -> list[str]:
    argv = [
        "--unlabeled_file", str(files["unlabelled"]),
        "--output_dir", str(tmp_path / "student"),
        "--max_steps", "6",
        "--per_device_train_batch_size", "8",
        "--learning_rate", "1e-3",
        "--logging_steps", "2",
        "--save_strategy", "no",
        "--report_to", "none",
        "--use_cpu",
        "--disable_tqdm", "true",
    ]  # fmt: skip
    for key, value in extra.items():
        argv += [f"--{key}"] + ([] if value is True else [str(value)])
    return argv


def test_tsl_teacher_end_to_end(tmp_path, files, bert_teacher, capsys):
    from transformers import pipeline

    argv = _common(
        tmp_path,
        files,
        teacher_model_name_or_path=bert_teacher,
        model_name_or_path=bert_teacher,
        validation_file=files["dev"],
        do_train=True,
        cache_teacher_probs=True,
    ) + ["--test_files", f"de={files['test']}", f"es={files['test']}"]
    assert run_distill.main(argv) == 0
    out = tmp_path / "student"
    results = json.loads((out / "all_results.json").read_text())
    for lang in ("de", "es"):
        assert 0.0 <= results[f"test_{lang}_f1"] <= 1.0
        assert f"test_{lang}_precision" in results and f"test_{lang}_recall" in results
    assert results["test_de_f1"] == results["test_es_f1"]
    assert "eval_f1" in results and "train_loss" in results

    config = json.loads((out / "config.json").read_text())
    assert config["model_type"] == "bert" and config["architectures"] == ["BertForTokenClassification"]
    assert "auto_map" not in config
    assert {int(k): v for k, v in config["id2label"].items()} == dict(enumerate(LABELS))
    assert not list(out.glob("*.py"))

    ner = pipeline("ner", model=str(out), device=-1)
    entities = ner(" ".join(_WORDS[:40]))
    assert entities, "the student (initialised from the sharp teacher) should predict some entity"
    assert all(e["entity"] in LABELS[1:] for e in entities)

    card = (out / "README.md").read_text(encoding="utf-8")
    assert "student" in card and f"{results['test_de_f1']:.4f}"[:5] in card

    state = json.loads((out / "trainer_state.json").read_text())
    assert [h["kd_loss"] for h in state["log_history"] if "kd_loss" in h]


@pytest.mark.parametrize("cache", [True, False])
def test_bf16_autocast_on_the_cpu(cache, tmp_path, files, bert_teacher, base_encoder, capsys):
    """`--bf16` alone means CPU autocast (no `--use_cpu` needed without a GPU) and the fast dropout kernel in the
    student (`--dropout_kernel auto`); the KD loss stays finite."""
    import math

    argv = _common(
        tmp_path,
        files,
        teacher_model_name_or_path=bert_teacher,
        model_name_or_path=base_encoder,  # not the teacher's weights: the KD loss must be > 0
        validation_file=files["dev"],
        cache_teacher_probs=cache,
        bf16="true",
    )
    argv.remove("--use_cpu")
    _, _, training_args = run_distill.parse_arguments(argv)
    assert training_args.bf16 and training_args.use_cpu
    assert run_distill.main(argv) == 0
    assert "dropout: the fast kernel in" in capsys.readouterr().out
    state = json.loads((tmp_path / "student" / "trainer_state.json").read_text())
    kd = [h["kd_loss"] for h in state["log_history"] if "kd_loss" in h]
    assert kd and all(math.isfinite(x) and x > 0 for x in kd)


def test_concner_teacher_student_encoder_init_uses_its_base_encoder(tmp_path, files, base_encoder):
    import torch
    from transformers import AutoModelForTokenClassification, BertModel

    import modeling_concner
    from trainers.distillation_trainer import load_teacher

    teacher_dir = tmp_path / "concner-teacher"
    tokenizer = build_tiny_tokenizer(teacher_dir)
    plain = make_teacher(len(tokenizer))
    config = modeling_concner.ConCNERConfig(**plain.config.to_dict())
    config.base_model_name_or_path = str(base_encoder)
    teacher = modeling_concner.ConCNERForTokenClassification(config)
    teacher.load_state_dict(plain.state_dict(), strict=False)
    teacher.save_pretrained(teacher_dir)

    assert json.loads((teacher_dir / "config.json").read_text())["model_type"] == "concner"
    assert type(load_teacher(teacher_dir)).__name__ == "ConCNERForTokenClassification"

    # Frozen embeddings stay those of the base encoder, which shows where the student was initialised from.
    argv = _common(
        tmp_path,
        files,
        teacher_model_name_or_path=teacher_dir,
        do_train=True,
        freeze_embeddings=True,
        student_init="encoder",
    )
    assert run_distill.main(argv) == 0
    out = tmp_path / "student"
    config = json.loads((out / "config.json").read_text())
    assert config["model_type"] == "bert" and "auto_map" not in config
    student = AutoModelForTokenClassification.from_pretrained(out)
    assert type(student).__name__ == "BertForTokenClassification"
    assert student.config.id2label == dict(enumerate(LABELS))
    # A fresh interpreter that never imports modeling_concner loads the student in pipeline("ner").
    script = (
        "import json, sys; from transformers import pipeline; "
        f"ner = pipeline('ner', model={str(out)!r}, device=-1); "
        "print(json.dumps([sys.modules.get('modeling_concner') is None, type(ner.model).__name__, "
        "sorted({e['entity'] for e in ner('peter john london berlin paris the of in')})]))"
    )
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    done = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    clean, model_class, entities = json.loads(done.stdout.strip().splitlines()[-1])
    assert clean and model_class == "BertForTokenClassification"
    assert set(entities) <= set(LABELS[1:])

    # A ConCNER folder as the student's initialisation becomes a plain BERT token classifier with its weights.
    from_teacher = run_distill.load_student(str(teacher_dir), teacher.config)
    assert type(from_teacher).__name__ == "BertForTokenClassification" and from_teacher.config.model_type == "bert"
    assert not hasattr(from_teacher.config, "auto_map") or not from_teacher.config.auto_map
    assert all(torch.equal(v, from_teacher.state_dict()[k]) for k, v in teacher.state_dict().items())

    base = BertModel.from_pretrained(base_encoder)
    for name in ("word_embeddings", "position_embeddings"):
        assert torch.equal(getattr(student.bert.embeddings, name).weight, getattr(base.embeddings, name).weight)
        assert not torch.equal(
            getattr(student.bert.embeddings, name).weight, getattr(teacher.bert.embeddings, name).weight
        )


def test_json_and_yaml_config(tmp_path, files, bert_teacher):
    import yaml

    config = {
        "teacher_model_name_or_path": str(bert_teacher),
        "model_name_or_path": str(bert_teacher),
        "unlabeled_file": str(files["unlabelled"]),
        "output_dir": str(tmp_path / "student"),
        "do_train": True,
        "max_steps": 2,
        "per_device_train_batch_size": 8,
        "save_strategy": "no",
        "report_to": "none",
        "use_cpu": True,
        "kd_temperature": 2.0,
    }
    path = tmp_path / "distill.json"
    path.write_text(json.dumps(config), encoding="utf-8")
    model_args, data_args, training_args = run_distill.parse_arguments([str(path)])
    assert training_args.kd_temperature == 2.0 and data_args.unlabeled_file == str(files["unlabelled"])
    assert run_distill.main([str(path)]) == 0
    assert (tmp_path / "student" / "model.safetensors").is_file()

    path = tmp_path / "distill.yaml"
    config["output_dir"] = str(tmp_path / "another-student")  # the first run's folder is not empty any more
    path.write_text(yaml.safe_dump({**config, "kd_loss_type": "kl", "test_files": {"de": "a.txt"}}), encoding="utf-8")
    model_args, data_args, training_args = run_distill.parse_arguments([str(path), "--kd_temperature", "3"])
    assert training_args.kd_loss_type == "kl" and model_args.teacher_model_name_or_path == str(bert_teacher)
    assert training_args.kd_temperature == 3.0 and data_args.test_files == ["de=a.txt"]
    with pytest.raises(ValueError, match="unknown option"):
        path.write_text(yaml.safe_dump({**config, "kd_temprature": 2.0}), encoding="utf-8")
        run_distill.parse_arguments([str(path)])


def _fails(argv, capsys, match: str) -> None:
    assert run_distill.main(argv) == 2
    err = capsys.readouterr().err
    errors = [line for line in err.splitlines() if line.startswith("error")]  # besides, at most progress bars
    assert len(errors) == 1 and errors[0].startswith("error: ") and match in errors[0], err
    assert err.rstrip().endswith(errors[0]) and "Traceback" not in err


def test_bad_input_exits_2_with_one_line(tmp_path, files, bert_teacher, capsys):
    ok = dict(teacher_model_name_or_path=bert_teacher, model_name_or_path=bert_teacher, do_train=True)
    _fails(_common(tmp_path, {**files, "unlabelled": tmp_path / "missing.txt"}, **ok), capsys, "missing.txt")
    _fails(_common(tmp_path, files, **ok, dataset_name="x"), capsys, "exactly one")
    _fails(_common(tmp_path, files, **ok) + ["--test_files", "de"], capsys, "lang=path")
    _fails(_common(tmp_path, files, **ok) + ["--no_such_option", "1"], capsys, "no_such_option")
    _fails(_common(tmp_path, files, **ok, kd_loss_type="l1"), capsys, "kd_loss_type")
    _fails([str(tmp_path / "absent.json")], capsys, "absent.json")
    (tmp_path / "typed.json").write_text(json.dumps({"max_steps": "many"}), encoding="utf-8")
    _fails([str(tmp_path / "typed.json")] + _common(tmp_path, files, **ok)[:2], capsys, "error")
    bad_dev = tmp_path / "bad.txt"
    bad_dev.write_text("Paris B-LOC extra\n\n", encoding="utf-8")
    _fails(_common(tmp_path, files, **ok, validation_file=bad_dev), capsys, "bad.txt")
    odd_dev = tmp_path / "odd.txt"
    odd_dev.write_text("Paris B-CITY\n\n", encoding="utf-8")
    _fails(_common(tmp_path, files, **ok, validation_file=odd_dev), capsys, "CITY")
    _fails(_common(tmp_path, files, **ok, test_files=tmp_path / "nothing.txt"), capsys, "lang=path")
    _fails(_common(tmp_path, files, **ok) + ["--test_files", f"de={tmp_path / 'nothing.txt'}"], capsys, "nothing.txt")
    missing_teacher = dict(ok, teacher_model_name_or_path=tmp_path / "no-teacher")
    _fails(_common(tmp_path, files, **missing_teacher), capsys, "no-teacher")
    assert not (tmp_path / "student" / "model.safetensors").exists()


def test_teacher_without_base_model_needs_model_name(tmp_path, files, bert_teacher, capsys):
    argv = _common(tmp_path, files, teacher_model_name_or_path=bert_teacher, student_init="encoder")
    _fails(argv, capsys, "--model_name_or_path")


def test_student_starts_from_its_teacher_by_default(tmp_path, files, bert_teacher, capsys):
    """The shipped recipe: with neither --model_name_or_path nor --student_init, the student is the teacher's copy."""
    import torch

    argv = _common(tmp_path, files, teacher_model_name_or_path=bert_teacher)
    model_args, data_args, training_args = run_distill.parse_arguments(argv)
    assert model_args.student_init == "teacher"
    prepared = run_distill.prepare(model_args, data_args, training_args)
    assert prepared.student_path == str(bert_teacher)
    student = prepared.student.state_dict()
    for name, tensor in prepared.teacher.state_dict().items():
        assert torch.equal(tensor, student[name]), name
    _fails(argv + ["--student_init", "mbert"], capsys, "--student_init")


def test_label_and_tokenizer_mismatch_exit_2(tmp_path, files, bert_teacher, capsys):
    from tests.distill.test_distillation_trainer import swapped_tokenizer

    other_labels = tmp_path / "other-labels"
    tokenizer = build_tiny_tokenizer(other_labels)
    make_model(len(tokenizer), seed=3, labels=["O", "B-PER", "I-PER"]).save_pretrained(other_labels)
    argv = _common(tmp_path, files, teacher_model_name_or_path=bert_teacher, model_name_or_path=other_labels)
    _fails(argv, capsys, "label map")

    other_vocab = tmp_path / "other-vocab"
    swapped_tokenizer(other_vocab)
    make_model(len(tokenizer), seed=3).save_pretrained(other_vocab)
    argv = _common(tmp_path, files, teacher_model_name_or_path=bert_teacher, model_name_or_path=other_vocab)
    _fails(argv, capsys, "tokenizer")


def test_parse_test_files():
    assert run_distill.parse_test_files(["de=a.txt", "zh=b=c.txt"]) == {"de": "a.txt", "zh": "b=c.txt"}
    for bad in (["de"], ["=a.txt"], ["de="], ["de=a", "de=b"]):
        with pytest.raises(ValueError):
            run_distill.parse_test_files(bad)


GERMAN_D_U = [
    "peter ist mit mary in berlin",
    "die european commission ist in paris",
    "john und mary sind in madrid",
    "der club ist nicht in london",
    "er ist der president der bank",
    "sie ist in amsterdam und berlin",
    "die union ist in germany",
    "es ist ein football club",
]


@pytest.mark.parametrize("language_from", ["target_language", "test_files"])
def test_student_card_describes_its_german_training_data(language_from, tmp_path, files, bert_teacher):
    """The card of a student distilled on German D_U: German widget sentences from D_U, the files and sizes used,
    `language: [en, de]` (from `--target_language`, else the `--test_files` language)."""
    from huggingface_hub import ModelCard

    german = tmp_path / "de_unlabelled.txt"
    german.write_text("\n".join(GERMAN_D_U) + "\n", encoding="utf-8")
    extra = {"target_language": "de"} if language_from == "target_language" else {}
    argv = _common(
        tmp_path,
        {**files, "unlabelled": german},
        teacher_model_name_or_path=bert_teacher,
        validation_file=files["dev"],
        unlabeled_max_samples=6,
        **extra,
    )
    if language_from == "test_files":
        argv += ["--test_files", f"de={files['test']}"]
    assert run_distill.main(argv) == 0
    path = tmp_path / "student" / "README.md"
    card = ModelCard.load(path)
    assert card.data.language == ["en", "de"]
    widget = [example["text"] for example in card.data.widget]
    assert widget and set(widget) <= set(GERMAN_D_U)
    text = path.read_text(encoding="utf-8")
    assert f"entities = ner({json.dumps(min(widget, key=lambda s: len(s.split())))})" in text
    assert f"- Unlabelled target sentences (D_U): 6 from `{tmp_path.name}/de_unlabelled.txt`" in text
    assert f"- Source dev set (model selection): 12 from `{tmp_path.name}/dev.txt`" in text
    assert f"- Teacher: `{tmp_path.name}/bert-teacher`" in text
    assert "Not recorded" not in text and "Peter Smith" not in text
