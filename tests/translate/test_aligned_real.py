"""``aligned`` on the real German translate-train data reproduces that file's own projected labels."""

from __future__ import annotations

import json

import pytest

from concner.translate.cli import main

# measured (full English CoNLL-2003 train, 14,041 pairs): 13,890 kept; on kept pairs token agreement 0.99737,
# entity F1 0.99011 (P 0.98550, R 0.99476). The floors sit below these so that only a real regression fails.
MIN_KEPT = 13_800
MIN_TOKEN_AGREEMENT = 0.995
MIN_ENTITY_F1 = 0.985


@pytest.mark.slow
def test_aligned_reproduces_translate_train_labels(shared_data, tmp_path, capsys):
    report_file = tmp_path / "report.json"
    args = [
        "--backend", "aligned",
        "--source_file", str(shared_data / "conll" / "en" / "train.txt"),
        "--translation_file", str(shared_data / "translate_train" / "de" / "train.txt"),
        "--alignment_file", str(shared_data / "translate_train" / "de" / "train.align"),
        "--output_file", str(tmp_path / "de.jsonl"),
        "--report_file", str(report_file),
    ]  # fmt: skip
    assert main(args) == 0
    report = json.loads(report_file.read_text(encoding="utf-8"))
    print(json.dumps({"pairs": report["pairs"], "agreement": report["reference_agreement"]}, indent=1))
    pairs, agreement = report["pairs"], report["reference_agreement"]
    assert pairs["total"] == 14041
    assert pairs["kept"] + pairs["dropped"] == pairs["total"]
    assert pairs["kept"] >= MIN_KEPT
    assert agreement["sentences"] == pairs["kept"]
    assert agreement["token_agreement"] >= MIN_TOKEN_AGREEMENT
    assert agreement["entity_f1"] >= MIN_ENTITY_F1
    assert report["entities"]["source_all"] == {"LOC": 7140, "MISC": 3438, "ORG": 6321, "PER": 6600}
