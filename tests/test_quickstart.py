"""The README's main job, wired end to end on the demo corpus with a tiny model (the real run is in the note)."""

from __future__ import annotations

import json

from concner import quickstart


def test_quickstart_runs_the_whole_pipeline(tiny_bert_dir, tmp_path, capsys):
    out = tmp_path / "qs"
    argv = ["--model_name_or_path", str(tiny_bert_dir), "--output_dir", str(out), "--teacher_epochs", "1",
            "--student_epochs", "1", "--learning_rate", "1e-3"]  # fmt: skip
    status = quickstart.main(argv)
    assert status == 0
    printed = capsys.readouterr().out
    # three teachers (seeds 42-44) and the student that distils their mean, starting from the first
    for row in ("| ConCNER teacher (seed 42) |", "| ConCNER teacher (seed 44) |", "| ConCNER student |"):
        assert row in printed
    assert str(out / "student") in printed and quickstart.EXAMPLE in printed
    student = json.loads((out / "student" / "all_results.json").read_text())
    assert {"eval_f1", "test_de_f1"} <= student.keys()
    assert json.loads((out / "student" / "config.json").read_text())["model_type"] == "bert"
    for folder in ("teacher", "teacher-2", "teacher-3"):
        teacher = json.loads((out / folder / "all_results.json").read_text())
        assert {"eval_f1", "test_de_f1"} <= teacher.keys()
        assert json.loads((out / folder / "config.json").read_text())["model_type"] == "concner"
    for folder in ("teacher", "student"):
        assert "model-index" in (out / folder / "README.md").read_text()
    from safetensors.torch import load_file

    first, second = (load_file(out / f / "model.safetensors") for f in ("teacher", "teacher-2"))
    assert not all(first[k].equal(second[k]) for k in first)  # other seeds, other teachers

    # a second run refuses to write over the first, unless told to
    from tests.fs_helpers import assert_same_tree, one_error_line, snapshot

    before = snapshot(out)
    assert quickstart.main(argv) == 2
    one_error_line(capsys.readouterr().err, "--output_dir", "--overwrite_output_dir")
    assert_same_tree(before, out)
    assert quickstart.main(argv + ["--overwrite_output_dir"]) == 0


def test_quickstart_translates_with_a_dictionary(tiny_bert_dir, tmp_path, capsys):
    dictionary = tmp_path / "en-de.txt"
    dictionary.write_text("the die\nsaid sagte\nin in\n")
    out = tmp_path / "qs"
    status = quickstart.main(["--model_name_or_path", str(tiny_bert_dir), "--output_dir", str(out),
                              "--dictionary_file", str(dictionary), "--teacher_epochs", "1", "--student_epochs", "1",
                              "--learning_rate", "1e-3", "--paper_recipe"])  # fmt: skip
    assert status == 0
    rows = [json.loads(line) for line in (out / "translation.jsonl").read_text().splitlines()]
    assert len(rows) == 240 and any("sagte" in row["tokens"] for row in rows)
    # the paper's recipe: one teacher, whose table row carries no seed
    assert not (out / "teacher-2").exists() and "| ConCNER teacher |" in capsys.readouterr().out
