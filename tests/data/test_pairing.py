"""Source sampling and translation pairing (by id, by index, after subsampling)."""

from __future__ import annotations

import numpy as np
import pytest
from datasets import Dataset

from concner.data import DataError, PairingSummary, load_ner_dataset, pair_translations, sample_source
from concner.data.provenance import get_provenance

from .helpers import fixture


def numbered(n: int, prefix: str = "") -> Dataset:
    return Dataset.from_dict(
        {
            "id": [f"{prefix}{i}" for i in range(n)],
            "tokens": [[f"w{i}"] for i in range(n)],
            "ner_tags": [["B-PER"] if i % 3 == 0 else ["O"] for i in range(n)],
        }
    )


# --- sampling ---------------------------------------------------------------------------------------------


def test_sample_is_seeded_sorted_and_nested():
    ds = numbered(100)
    a, b = sample_source(ds, 10, seed=1), sample_source(ds, 10, seed=1)
    assert a["id"][:] == b["id"][:]
    expected = sorted(np.random.default_rng(1).permutation(100)[:10].tolist())
    assert [int(i) for i in a["id"][:]] == expected
    assert sample_source(ds, 10, seed=2)["id"][:] != a["id"][:]
    assert set(a["id"][:]) <= set(sample_source(ds, 20, seed=1)["id"][:])
    assert get_provenance(a)["sample"]["indices"] == expected


def test_sample_all_or_none_returns_dataset():
    ds = numbered(5)
    assert sample_source(ds, None, seed=0) is ds
    assert sample_source(ds, 5, seed=0) is ds
    with pytest.raises(ValueError, match="at least 1"):
        sample_source(ds, 0, seed=0)


def test_sample_of_a_sample_keeps_original_positions():
    ds = numbered(50, prefix="s")
    twice = sample_source(sample_source(ds, 20, seed=3), 5, seed=4)
    positions = get_provenance(twice)["sample"]["indices"]
    assert [f"s{p}" for p in positions] == twice["id"][:]
    assert get_provenance(twice)["sample"]["original_size"] == 50


# --- pairing by index -------------------------------------------------------------------------------------


def test_pair_by_index_drops_entity_mismatch():
    source = load_ner_dataset(fixture("source.txt"))
    translation = load_ner_dataset(fixture("translation.txt"))
    paired_source, kept, summary = pair_translations(source, translation)
    assert summary == PairingSummary(kept=3, dropped_entity_mismatch=1, by="index", entity_check=True)
    assert paired_source["pair_id"][:] == [0, 1, -1, 3]
    assert kept["pair_id"][:] == [0, 1, 3]
    assert kept["tokens"][1] == ["Die", "EU", "stimmte", "zu", "."]
    assert "dropped, entity types differ:      1" in str(summary)
    _, kept_all, unchecked = pair_translations(source, translation, check_entity_types=False)
    assert unchecked.kept == 4 and kept_all["pair_id"][:] == [0, 1, 2, 3]


def test_pair_by_index_count_mismatch_is_an_error():
    source = load_ner_dataset(fixture("source.txt"))
    short = load_ner_dataset(fixture("translation_short.txt"))
    with pytest.raises(DataError) as info:
        pair_translations(source, short)
    message = str(info.value)
    assert message.startswith(fixture("translation_short.txt") + ":16: translation has 3 sentences but ")
    assert "source.txt has 4" in message and "\n" not in message


def test_pair_by_index_longer_translation_points_at_the_extra_sentence():
    source = load_ner_dataset(fixture("source.txt")).select(range(3))
    with pytest.raises(DataError, match=r"translation\.txt:18: translation has 4 sentences but .*source\.txt has 3"):
        pair_translations(source, load_ner_dataset(fixture("translation.txt")))


def test_subsampled_source_follows_original_positions():
    source = load_ner_dataset(fixture("source.txt"))
    translation = load_ner_dataset(fixture("translation.txt"))
    sample = sample_source(source, 2, seed=0)
    positions = get_provenance(sample)["sample"]["indices"]
    paired, kept, summary = pair_translations(sample, translation, check_entity_types=False)
    assert summary.by == "index" and summary.kept == 2
    assert kept["id"][:] == [str(p) for p in positions]
    assert kept["tokens"][:] == [translation[p]["tokens"] for p in positions]
    # Index pairing still checks the count against the *original* source size.
    with pytest.raises(DataError, match="translation has 3 sentences but .*source.txt has 4"):
        pair_translations(sample, load_ner_dataset(fixture("translation_short.txt")))


def test_subsampled_source_with_string_ids_pairs_by_position():
    source = numbered(30, prefix="en-")
    translation = numbered(30)  # index ids: the translation file had no ids
    sample = sample_source(source, 7, seed=11)
    paired, kept, summary = pair_translations(sample, translation)
    positions = get_provenance(sample)["sample"]["indices"]
    assert summary.by == "index" and summary.kept == 7
    assert kept["id"][:] == [str(p) for p in positions]


# --- pairing by id ----------------------------------------------------------------------------------------


def test_pair_by_id_missing_and_empty():
    source = load_ner_dataset(fixture("source.txt"))
    translation = load_ner_dataset(fixture("translation_ids.jsonl"))
    paired, kept, summary = pair_translations(source, translation)
    assert summary == PairingSummary(kept=2, dropped_missing=1, dropped_empty=1, by="id")
    assert paired["pair_id"][:] == [0, -1, -1, 3]
    assert kept["id"][:] == ["0", "3"]  # in source order, not translation file order
    assert kept["tokens"][0][0] == "John"


def test_pair_by_id_with_string_ids_and_shuffled_translation():
    source = numbered(6, prefix="s")
    translation = numbered(6, prefix="s").select([5, 4, 3, 2, 1, 0])
    _, kept, summary = pair_translations(source, translation, by="auto")
    assert summary.by == "id" and summary.kept == 6
    assert kept["id"][:] == [f"s{i}" for i in range(6)]
    assert kept["pair_id"][:] == list(range(6))


def test_pair_by_id_without_common_ids_is_an_error():
    with pytest.raises(DataError, match="no source id occurs in the translation"):
        pair_translations(numbered(3, prefix="a"), numbered(3, prefix="b"))


def test_duplicate_translation_ids_are_an_error():
    translation = Dataset.from_dict({"id": ["x", "x"], "tokens": [["a"], ["b"]], "ner_tags": [["O"], ["O"]]})
    with pytest.raises(DataError, match="duplicate translation id 'x'"):
        pair_translations(numbered(2), translation, by="id")


def test_explicit_index_pairing_ignores_ids():
    source = numbered(4, prefix="s")
    translation = numbered(4, prefix="t")
    _, kept, summary = pair_translations(source, translation, by="index")
    assert summary.by == "index" and kept["id"][:] == ["t0", "t1", "t2", "t3"]
    with pytest.raises(ValueError, match="by must be"):
        pair_translations(source, translation, by="position")


def test_existing_pair_id_is_replaced():
    source = numbered(3).add_column("pair_id", [7, 7, 7])
    paired, _, _ = pair_translations(source, numbered(3))
    assert paired["pair_id"][:] == [0, 1, 2]


def test_sample_record_survives_save_to_disk(tmp_path):
    from datasets import load_from_disk

    source = load_ner_dataset(fixture("source.txt"))
    sample = sample_source(source, 2, seed=5)
    sample.save_to_disk(tmp_path / "s")
    reloaded = load_from_disk(str(tmp_path / "s"))
    assert get_provenance(reloaded) == get_provenance(sample)
    _, kept, summary = pair_translations(
        reloaded, load_ner_dataset(fixture("translation.txt")), check_entity_types=False
    )
    assert summary.by == "index" and kept["id"][:] == reloaded["id"][:]
