"""The embedded demo corpus: format, sizes, translation alignment, held-out entities, reproducibility."""

from __future__ import annotations

import importlib.util
import sys
from collections import Counter
from pathlib import Path

import pytest

DEMO = Path(__file__).resolve().parent.parent / "concner" / "demo_data"
LABELLED = {"en_train.txt": 240, "en_dev.txt": 60, "de_translation.txt": 240, "de_test.txt": 100}
TYPES = {"PER", "LOC", "ORG", "MISC"}


def load_generator():
    spec = importlib.util.spec_from_file_location("make_demo_data", DEMO / "make_demo_data.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the file executes
    spec.loader.exec_module(module)
    return module


def parse_conll(path: Path) -> list[list[tuple[str, str]]]:
    """Strict reader: ``token TAG`` lines, a blank line after every sentence (also the last one)."""
    text = path.read_bytes().decode("utf-8")
    assert text.endswith("\n\n"), f"{path.name}: the last sentence must end with a blank line"
    sentences, current = [], []
    for number, line in enumerate(text.split("\n")[:-1], 1):
        if line == "":
            assert current, f"{path.name}:{number}: empty sentence"
            sentences.append(current)
            current = []
            continue
        parts = line.split(" ")
        assert len(parts) == 2 and all(parts), f"{path.name}:{number}: expected 'token TAG', got {line!r}"
        current.append((parts[0], parts[1]))
    assert not current
    return sentences


def entities(sentence: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """(type, text) of each entity span."""
    spans, current = [], None
    for token, tag in sentence:
        if tag.startswith("B-"):
            if current:
                spans.append(current)
            current = (tag[2:], token)
        elif tag.startswith("I-"):
            current = (current[0], current[1] + " " + token)
        else:
            if current:
                spans.append(current)
            current = None
    if current:
        spans.append(current)
    return spans


@pytest.fixture(scope="module")
def corpus():
    return {name: parse_conll(DEMO / name) for name in LABELLED}


@pytest.fixture(scope="module")
def unlabeled():
    lines = (DEMO / "de_unlabeled.txt").read_bytes().decode("utf-8").split("\n")
    assert lines[-1] == ""
    return [line.split(" ") for line in lines[:-1]]


def test_sizes(corpus, unlabeled):
    assert {name: len(sents) for name, sents in corpus.items()} == LABELLED
    assert len(unlabeled) == 300


def test_tags_are_valid_iob2(corpus):
    for name, sentences in corpus.items():
        for index, sentence in enumerate(sentences):
            previous = "O"
            for token, tag in sentence:
                assert tag == "O" or (tag[:2] in ("B-", "I-") and tag[2:] in TYPES), (name, index, tag)
                if tag.startswith("I-"):
                    assert previous in ("B-" + tag[2:], tag), f"{name} sentence {index}: {tag} after {previous}"
                previous = tag


def test_every_type_occurs_and_density_is_realistic(corpus):
    for name, sentences in corpus.items():
        counts = Counter(kind for s in sentences for kind, _ in entities(s))
        assert set(counts) == TYPES, name
        assert 1.3 <= sum(counts.values()) / len(sentences) <= 2.0, name
        assert min(counts.values()) >= 10, (name, counts)


def test_translation_keeps_entity_types_sentence_by_sentence(corpus):
    english, german = corpus["en_train.txt"], corpus["de_translation.txt"]
    for index, (en, de) in enumerate(zip(english, german)):
        assert Counter(k for k, _ in entities(en)) == Counter(k for k, _ in entities(de)), index
    # it is a translation, not a copy
    same = sum(" ".join(t for t, _ in en) == " ".join(t for t, _ in de) for en, de in zip(english, german))
    assert same == 0


def test_unlabeled_text_is_tokenised_german_and_new(corpus, unlabeled):
    assert all(tokens and all(tokens) for tokens in unlabeled)
    assert all(not (len(t) > 1 and t[-1] in ".,;:?!" and t[-2].isalpha()) for s in unlabeled for t in s)
    translations = {" ".join(t for t, _ in s) for s in corpus["de_translation.txt"]}
    test = {" ".join(t for t, _ in s) for s in corpus["de_test.txt"]}
    lines = [" ".join(s) for s in unlabeled]
    assert len(set(lines)) == len(lines)
    assert not set(lines) & translations
    assert not set(lines) & test
    assert not test & translations


def test_test_set_has_unseen_entities(corpus):
    seen = {e for s in corpus["de_translation.txt"] for e in entities(s)}
    test = [e for s in corpus["de_test.txt"] for e in entities(s)]
    unseen = [e for e in test if e not in seen]
    assert 0.3 <= len(unseen) / len(test) <= 0.8
    assert len(test) - len(unseen) >= 30  # and partly seen ones


def test_generator_is_diverse():
    generator = load_generator()
    assert len(generator.BILINGUAL_TEMPLATES) + len(generator.GERMAN_TEMPLATES) >= 40
    strings = {
        form.rpartition("|")[2]
        for pool in generator.build_pools().values()
        for entity in pool
        for form in [*entity.en.values(), *entity.de.values()]
    }
    assert len(strings) >= 150
    for en, de in generator.BILINGUAL_TEMPLATES:  # both sides of a template have the same entity slots
        assert Counter(generator.slots_of(en)) == Counter(generator.slots_of(de)), en


def test_generator_reproduces_the_committed_files(tmp_path):
    generator = load_generator()
    written = generator.write_corpus(tmp_path)
    assert sorted(p.name for p in written) == sorted([*LABELLED, "de_unlabeled.txt"])
    for path in written:
        assert path.read_bytes() == (DEMO / path.name).read_bytes(), f"{path.name} differs: rerun make_demo_data.py"
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_project_readers_load_the_demo_files():
    from concner.data.readers import load_ner_dataset, load_text_dataset

    train = load_ner_dataset(DEMO / "en_train.txt")
    assert train.num_rows == 240 and train.column_names == ["id", "tokens", "ner_tags"]
    assert load_ner_dataset(DEMO / "de_translation.txt")["ner_tags"] == [
        [tag for _, tag in s] for s in parse_conll(DEMO / "de_translation.txt")
    ]
    assert load_text_dataset(DEMO / "de_unlabeled.txt").num_rows == 300
