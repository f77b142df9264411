"""``concner-translate`` end to end on small files; errors print one line and exit 2; outputs are atomic."""

from __future__ import annotations

import json
import os

import pytest

from concner.data import load_ner_dataset, sample_source
from concner.translate.cli import main
from tests.fs_helpers import assert_same_tree, mode, snapshot, umask

from .tiny_marian import build_tiny_marian

# sentence k of the translation is the source sentence with every word prefixed by "T<k>_"
SOURCE = [
    [("Peter", "B-PER"), ("Smith", "I-PER"), ("visited", "O"), ("Berlin", "B-LOC"), (".", "O")],
    [("Nothing", "O"), ("here", "O")],
    [("Mary", "B-PER"), ("met", "O"), ("EU", "B-ORG"), ("officials", "O")],
    [("the", "O"), ("said", "O")],
    [("Paris", "B-LOC"), ("is", "O"), ("big", "O")],
    [("Bob", "B-PER"), ("sang", "O")],
]


def _conll(sentences) -> str:
    return "".join("".join(f"{tok} {tag}\n" for tok, tag in sent) + "\n" for sent in sentences)


def _translation_and_links():
    translation, links = [], []
    for k, sentence in enumerate(SOURCE):
        words = [f"T{k}_{tok}" for tok, _ in sentence]
        order = list(reversed(range(len(words))))  # reversed word order
        translation.append([(words[i], tag) for i, (_, tag) in zip(order, sentence)])
        pair_links = [f"{i}-{j}" for j, i in enumerate(order)]
        if k == 2:
            pair_links = [link for link in pair_links if not link.startswith("2-")]  # "EU" unaligned
        links.append(" ".join(pair_links))
    return translation, links


@pytest.fixture
def files(tmp_path):
    translation, links = _translation_and_links()
    (tmp_path / "src.txt").write_text(_conll(SOURCE), encoding="utf-8")
    (tmp_path / "tgt.txt").write_text(_conll(translation), encoding="utf-8")
    (tmp_path / "tgt.align").write_text("\n".join(links) + "\n", encoding="utf-8")
    return tmp_path


def _aligned_args(d, *extra):
    return [
        "--backend", "aligned", "--source_file", str(d / "src.txt"), "--translation_file", str(d / "tgt.txt"),
        "--alignment_file", str(d / "tgt.align"), "--output_file", str(d / "out.jsonl"),
        "--report_file", str(d / "report.json"), *extra,
    ]  # fmt: skip


def _read_jsonl(path):
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def test_aligned_end_to_end(files, capsys):
    assert main(_aligned_args(files)) == 0
    out = capsys.readouterr().out
    assert "pairs: 5 kept / 6 (1 dropped)" in out and "dropped (unaligned_entity): 1" in out
    rows = load_ner_dataset(files / "out.jsonl")
    assert rows["id"] == ["0", "1", "3", "4", "5"]
    assert rows["tokens"][0] == ["T0_.", "T0_Berlin", "T0_visited", "T0_Smith", "T0_Peter"]
    assert rows["ner_tags"][0] == ["O", "B-LOC", "O", "B-PER", "I-PER"]  # reversed span, re-opened with B-
    report = json.loads((files / "report.json").read_text(encoding="utf-8"))
    assert report["pairs"]["dropped_by_reason"] == {"unaligned_entity": 1}
    assert report["dropped_ids"] == {"unaligned_entity": ["2"]}
    assert report["entities"]["source_all"] == {"LOC": 2, "ORG": 1, "PER": 3}
    assert report["entities"]["target_kept"] == {"LOC": 2, "PER": 2}
    assert report["output_ids"] == ["0", "1", "3", "4", "5"]
    # the translation file's own labels were written for the reversed words: agreement is computed, not assumed
    assert 0.0 <= report["reference_agreement"]["token_agreement"] < 1.0


def test_aligned_translates_exactly_the_sampled_subset(files):
    assert main(_aligned_args(files, "--max_train_samples", "3", "--seed", "7", "--keep_partial")) == 0
    sampled = sample_source(load_ner_dataset(files / "src.txt"), 3, 7)
    rows = _read_jsonl(files / "out.jsonl")
    assert [row["id"] for row in rows] == sampled["id"]
    for row in rows:  # each output row comes from its own translation line and alignment line
        assert all(tok.startswith(f"T{row['id']}_") for tok in row["tokens"])
    report = json.loads((files / "report.json").read_text(encoding="utf-8"))
    assert report["pairs"]["total"] == 3 and report["max_train_samples"] == 3 and report["seed"] == 7


def _expect_error(args, capsys, *fragments):
    assert main(args) == 2
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), captured.err
    for fragment in fragments:
        assert fragment in lines[0]
    assert "Traceback" not in captured.err


def test_alignment_errors_exit_2_with_file_and_line(files, capsys):
    align = files / "tgt.align"
    good = align.read_text(encoding="utf-8").splitlines()
    (files / "out.jsonl").write_text("previous\n", encoding="utf-8")

    align.write_text("\n".join(good[:-1]) + "\n", encoding="utf-8")
    _expect_error(_aligned_args(files), capsys, str(align), "5 alignment lines for 6 source sentences")

    align.write_text("\n".join(good[:3] + ["0-0 5-1"] + good[4:]) + "\n", encoding="utf-8")
    _expect_error(_aligned_args(files), capsys, f"{align}:4:", "alignment link 5-1 out of range")

    align.write_text("\n".join(good[:1] + ["0-0 1:1"] + good[2:]) + "\n", encoding="utf-8")
    _expect_error(_aligned_args(files), capsys, f"{align}:2:", "malformed alignment link '1:1'")

    # nothing was written: the old output is untouched, no report, no temporary files left behind
    assert (files / "out.jsonl").read_text(encoding="utf-8") == "previous\n"
    assert not (files / "report.json").exists()
    assert sorted(p.name for p in files.iterdir()) == ["out.jsonl", "src.txt", "tgt.align", "tgt.txt"]


def test_translation_count_mismatch(files, capsys):
    translation, _ = _translation_and_links()
    (files / "tgt.txt").write_text(_conll(translation[:-1]), encoding="utf-8")
    _expect_error(_aligned_args(files), capsys, str(files / "tgt.txt"), "5 translated sentences for 6 source")


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["--backend", "aligned", "--source_file", "s.txt", "--output_file", "o.jsonl"], "--translation_file"),
        (["--backend", "magic", "--source_file", "s.txt", "--output_file", "o.jsonl"], "magic"),
        (["--backend", "lexicon", "--dictionary_file", "d", "--source_file", "s", "--output_file", "o.csv"], ".csv"),
        (["--backend", "lexicon", "--source_file", "s.txt"], "--output_file"),
        (
            [
                "--backend",
                "lexicon",
                "--dictionary_file",
                "d",
                "--source_file",
                "s",
                "--output_file",
                "o.txt",
                "--bogus",
                "1",
            ],
            "--bogus",
        ),
    ],
)
def test_argument_errors_exit_2(args, fragment, capsys):
    _expect_error(args, capsys, fragment)


def test_missing_source_file(files, capsys):
    args = _aligned_args(files)
    args[args.index("--source_file") + 1] = str(files / "missing.txt")
    _expect_error(args, capsys, "missing.txt", "no such file")


def test_lexicon_end_to_end_conll_output(files, capsys):
    (files / "dict.txt").write_text("visited besuchte\nhere hier\nthe die\nsaid sagte\nis ist\n", encoding="utf-8")
    args = ["--backend", "lexicon", "--dictionary_file", str(files / "dict.txt"), "--source_file"]
    args += [str(files / "src.txt"), "--output_file", str(files / "out.txt")]
    assert main(args) == 0
    rows = load_ner_dataset(files / "out.txt")
    assert rows["tokens"][0] == ["Peter", "Smith", "besuchte", "Berlin", "."]
    assert rows["ner_tags"] == [[tag for _, tag in sentence] for sentence in SOURCE]
    report = json.loads((files / "out.txt.report.json").read_text(encoding="utf-8"))
    assert report["pairs"]["kept"] == 6 and report["dictionary_entries"] == 5
    assert report["translation_seconds"] >= 0 and report["dictionary_load_seconds"] >= 0
    assert "note:" not in capsys.readouterr().err  # ids 0..5 survive a CoNLL file

    assert main([*args, "--max_train_samples", "4"]) == 0
    assert "cannot be paired by index" in capsys.readouterr().err
    report = json.loads((files / "out.txt.report.json").read_text(encoding="utf-8"))
    assert len(load_ner_dataset(files / "out.txt")) == len(report["output_ids"]) == 4


def test_seq2seq_end_to_end_with_tiny_marian(files, tmp_path_factory, capsys):
    model_dir = tmp_path_factory.mktemp("marian")
    build_tiny_marian(model_dir)
    args = ["--backend", "seq2seq", "--model_name_or_path", str(model_dir), "--source_file", str(files / "src.txt")]
    args += ["--output_file", str(files / "out.jsonl"), "--batch_size", "4", "--max_new_tokens", "6"]
    args += ["--device", "cpu"]
    assert main(args) == 0
    report = json.loads((files / "out.jsonl.report.json").read_text(encoding="utf-8"))
    pairs = report["pairs"]
    assert pairs["total"] == 6 and pairs["kept"] + pairs["dropped"] == 6
    assert sum(pairs["dropped_by_reason"].values()) == pairs["dropped"]
    assert sum(pairs["kept_by_method"].values()) == pairs["kept"]
    rows = _read_jsonl(files / "out.jsonl")
    assert [row["id"] for row in rows] == report["output_ids"]
    assert all(len(row["tokens"]) == len(row["ner_tags"]) for row in rows)


def test_seq2seq_unknown_model_is_one_line(files, capsys):
    args = ["--backend", "seq2seq", "--model_name_or_path", str(files / "no-model"), "--source_file"]
    args += [str(files / "src.txt"), "--output_file", str(files / "out.jsonl")]
    _expect_error(args, capsys, "no-model")


@pytest.mark.parametrize(
    "case",
    [
        "output_folder",
        "report_folder",
        "output_under_a_file",
        "report_not_writable",
        "output_is_source",
        "report_is_alignment",
        "report_is_output",
    ],
)
def test_unusable_outputs_are_one_line_and_touch_nothing(files, case, capsys, monkeypatch):
    (files / "out.jsonl").mkdir()
    (files / "out.jsonl" / "keep.txt").write_text("keep me\n", encoding="utf-8")
    (files / "reports").mkdir()
    option, path = {
        "output_folder": ("--output_file", files / "out.jsonl"),
        "report_folder": ("--report_file", files / "reports"),
        "output_under_a_file": ("--output_file", files / "src.txt" / "out.jsonl"),
        "report_not_writable": ("--report_file", files / "reports" / "new" / "report.json"),
        "output_is_source": ("--output_file", files / "src.txt"),
        "report_is_alignment": ("--report_file", files / "tgt.align"),
        "report_is_output": ("--report_file", files / "de.jsonl"),
    }[case]
    args = _aligned_args(files)
    if option == "--report_file":
        args[args.index("--output_file") + 1] = str(files / "de.jsonl")
    args[args.index(option) + 1] = str(path)
    if case == "report_not_writable":  # tests run as root: chmod cannot take the permission away
        real_access, denied = os.access, os.path.realpath(files / "reports")
        monkeypatch.setattr(os, "access", lambda p, flags: p != denied and real_access(p, flags))
    before = snapshot(files)
    _expect_error(args, capsys, option, str(path))
    assert_same_tree(before, files)


def test_write_failure_is_one_line_and_leaves_nothing(files, capsys, monkeypatch):
    (files / "out.jsonl").write_text("previous\n", encoding="utf-8")
    before = snapshot(files)

    def full_disk(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", full_disk)
    _expect_error(_aligned_args(files), capsys, "--output_file", str(files / "out.jsonl"), "No space left")
    assert_same_tree(before, files)


@pytest.mark.parametrize(("mask", "file_mode", "dir_mode"), [(0o022, 0o644, 0o755), (0o077, 0o600, 0o700)])
def test_outputs_follow_the_umask(files, mask, file_mode, dir_mode):
    args = _aligned_args(files)
    args[args.index("--output_file") + 1] = str(files / "new" / "de.txt")
    args[args.index("--report_file") + 1] = str(files / "new" / "reports" / "de.json")
    with umask(mask):
        assert main(args) == 0
    assert mode(files / "new") == mode(files / "new" / "reports") == dir_mode
    assert mode(files / "new" / "de.txt") == mode(files / "new" / "reports" / "de.json") == file_mode


# --- several target languages in one call (--output_files LANG=PATH ...) ---


def _two_dictionaries(d):
    (d / "de.dict").write_text("visited besuchte\nhere hier\nthe die\nsaid sagte\nis ist\n", encoding="utf-8")
    (d / "es.dict").write_text("visited visitó\nhere aquí\nsaid dijo\nbig grande\n", encoding="utf-8")


def _lexicon_multi_args(d, *extra):
    return [
        "--backend", "lexicon", "--source_file", str(d / "src.txt"),
        "--dictionary_files", f"de={d / 'de.dict'}", f"es={d / 'es.dict'}",
        "--output_files", f"de={d / 'out' / 'de.jsonl'}", f"es={d / 'out' / 'es.txt'}", *extra,
    ]  # fmt: skip


def test_two_languages_in_one_call_lexicon(files, capsys):
    _two_dictionaries(files)
    assert main(_lexicon_multi_args(files, "--max_train_samples", "4", "--seed", "3")) == 0
    captured = capsys.readouterr()
    sampled = sample_source(load_ner_dataset(files / "src.txt"), 4, 3)
    de, es = _read_jsonl(files / "out" / "de.jsonl"), load_ner_dataset(files / "out" / "es.txt")
    assert len(de) == len(es) == 4  # the same sampled rows for every language
    assert [row["id"] for row in de] == sampled["id"]
    for lang, tokens in (("de", [row["tokens"] for row in de]), ("es", es["tokens"])):  # each its own dictionary
        words = dict(line.split() for line in (files / f"{lang}.dict").read_text(encoding="utf-8").splitlines())
        assert tokens == [[words.get(tok, tok) for tok in sentence] for sentence in sampled["tokens"]]
    for lang, name in (("de", "de.jsonl"), ("es", "es.txt")):
        report = json.loads((files / "out" / f"{name}.report.json").read_text(encoding="utf-8"))
        assert report["target_language"] == lang and report["dictionary_file"] == str(files / f"{lang}.dict")
        assert report["output_file"] == str(files / "out" / name) and "output_files" not in report
        assert report["pairs"]["kept"] == 4 and report["dictionary_entries"] == {"de": 5, "es": 4}[lang]
    # the per-language report is printed once per language, in the order given
    out = captured.out
    assert out.index("target language: de") < out.index("target language: es")
    assert out.count("backend: lexicon") == 2 and out.count("pairs: 4 kept / 4 (0 dropped)") == 2
    assert f"wrote {files / 'out' / 'de.jsonl'} and" in out and f"wrote {files / 'out' / 'es.txt'} and" in out


def _second_language_files(d, drop_last_alignment=False):
    translation, links = _translation_and_links()
    links[2] = " ".join(f"{i}-{j}" for j, i in enumerate(reversed(range(len(SOURCE[2])))))  # es: "EU" aligned
    (d / "es.txt").write_text(_conll(translation), encoding="utf-8")
    (d / "es.align").write_text("\n".join(links[:-1] if drop_last_alignment else links) + "\n", encoding="utf-8")


def _aligned_multi_args(d, *extra):
    return [
        "--backend", "aligned", "--source_file", str(d / "src.txt"),
        "--translation_files", f"de={d / 'tgt.txt'}", f"es={d / 'es.txt'}",
        "--alignment_files", f"de={d / 'tgt.align'}", f"es={d / 'es.align'}",
        "--output_files", f"de={d / 'de.jsonl'}", f"es={d / 'es.jsonl'}",
        "--report_files", f"de={d / 'de.json'}", f"es={d / 'es.json'}", *extra,
    ]  # fmt: skip


def test_two_languages_in_one_call_aligned(files, capsys):
    _second_language_files(files)
    assert main(_aligned_multi_args(files)) == 0
    assert "dropped (unaligned_entity): 1" in capsys.readouterr().out  # de drops "EU", es keeps every pair
    assert [row["id"] for row in _read_jsonl(files / "de.jsonl")] == ["0", "1", "3", "4", "5"]
    assert len(_read_jsonl(files / "es.jsonl")) == 6
    de, es = (json.loads((files / f"{lang}.json").read_text(encoding="utf-8")) for lang in ("de", "es"))
    assert de["alignment_file"] == str(files / "tgt.align") and es["alignment_file"] == str(files / "es.align")
    assert (de["pairs"]["kept"], es["pairs"]["kept"]) == (5, 6)


def test_single_language_form_still_works_and_matches_the_multi_form(files, capsys):
    _two_dictionaries(files)
    single = ["--backend", "lexicon", "--dictionary_file", str(files / "de.dict"), "--source_file"]
    single += [str(files / "src.txt"), "--output_file", str(files / "single.jsonl")]
    assert main(single) == 0
    out = capsys.readouterr().out
    assert "target language" not in out
    assert f"wrote {files / 'single.jsonl'} and {files / 'single.jsonl'}.report.json" in out
    report = json.loads((files / "single.jsonl.report.json").read_text(encoding="utf-8"))
    assert "target_language" not in report and report["dictionary_file"] == str(files / "de.dict")
    assert report["report_file"] == f"{files / 'single.jsonl'}.report.json"
    assert main(_lexicon_multi_args(files)) == 0
    assert (files / "single.jsonl").read_bytes() == (files / "out" / "de.jsonl").read_bytes()


def test_seq2seq_one_model_per_language(files, tmp_path_factory, capsys):
    model_dir = tmp_path_factory.mktemp("marian")
    build_tiny_marian(model_dir)
    capsys.readouterr()  # the model build's progress bars
    args = ["--backend", "seq2seq", "--source_file", str(files / "src.txt"), "--device", "cpu"]
    args += ["--max_new_tokens", "6", "--output_files", f"de={files / 'de.jsonl'}", f"es={files / 'es.jsonl'}"]
    _expect_error([*args, "--model_name_or_path", str(model_dir)], capsys, "--tgt_langs LANG=CODE")
    assert main([*args, "--model_names_or_paths", f"de={model_dir}", f"es={model_dir}"]) == 0
    for lang in ("de", "es"):
        report = json.loads((files / f"{lang}.jsonl.report.json").read_text(encoding="utf-8"))
        assert report["pairs"]["total"] == 6 and report["model_name_or_path"] == str(model_dir)
        assert [row["id"] for row in _read_jsonl(files / f"{lang}.jsonl")] == report["output_ids"]


@pytest.mark.parametrize("option", ["--output_files", "--dictionary_files"])
def test_language_given_twice_is_one_line_and_writes_nothing(files, option, capsys):
    _two_dictionaries(files)
    d = files
    dictionaries = [f"de={d / 'de.dict'}", f"es={d / 'es.dict'}"]
    outputs = [f"de={d / 'out' / 'de.jsonl'}", f"es={d / 'out' / 'es.txt'}"]
    if option == "--output_files":
        outputs.append(f"de={d / 'out' / 'de2.jsonl'}")
    else:
        dictionaries.append(f"es={d / 'de.dict'}")
    args = ["--backend", "lexicon", "--source_file", str(d / "src.txt"), "--dictionary_files", *dictionaries]
    args += ["--output_files", *outputs]
    before = snapshot(files)
    repeated = "de" if option == "--output_files" else "es"
    _expect_error(args, capsys, option, f"language {repeated!r} given twice")
    assert_same_tree(before, files)


@pytest.mark.parametrize(
    ("change", "fragments"),
    [
        (["--output_files", "de=x.jsonl", "--output_files", "es=y.jsonl"], ["--output_files given 2 times"]),
        (["--dictionary_file", "d.txt"], ["--dictionary_file is for one language", "--dictionary_files LANG=PATH"]),
        (["--output_file", "o.jsonl"], ["--output_file", "not both"]),
        (["--report_files", "nl=r.json"], ["--report_files nl: not a language of --output_files (de, es)"]),
        (["--report_files", "de=r.json"], ["--report_files: no LANG=PATH for es"]),
        (["--tgt_langs", "deu_Latn"], ["--tgt_langs: expected LANG=CODE", "'deu_Latn'"]),
    ],
)
def test_multi_language_argument_errors_are_one_line(files, change, fragments, capsys):
    _two_dictionaries(files)
    args = _lexicon_multi_args(files)
    if change[0] == "--output_files":
        args = args[: args.index("--output_files")] + change
    else:
        args += change
    before = snapshot(files)
    _expect_error(args, capsys, *fragments)
    assert_same_tree(before, files)


def test_single_language_options_need_output_files(files, capsys):
    args = ["--backend", "lexicon", "--source_file", str(files / "src.txt"), "--output_file", str(files / "o.txt")]
    _expect_error([*args, "--dictionary_files", "de=d.txt"], capsys, "--dictionary_files", "--output_files")


def test_error_in_the_second_language_leaves_no_file_of_either(files, capsys):
    _second_language_files(files, drop_last_alignment=True)
    before = snapshot(files)
    _expect_error(
        _aligned_multi_args(files), capsys, "target language es", str(files / "es.align"), "5 alignment lines"
    )
    assert_same_tree(before, files)  # de was translated, but nothing is written before every language succeeded


def test_missing_input_of_a_later_language_is_refused_before_any_work(files, capsys):
    _two_dictionaries(files)
    (files / "es.dict").unlink()
    before = snapshot(files)
    _expect_error(_lexicon_multi_args(files), capsys, str(files / "es.dict"), "--dictionary_files es", "no such file")
    assert_same_tree(before, files)


def test_write_failure_in_the_second_language_leaves_no_file_of_either(files, capsys, monkeypatch):
    _second_language_files(files)
    (files / "de.jsonl").write_text("previous\n", encoding="utf-8")
    before = snapshot(files)
    real_fsync, calls = os.fsync, []

    def fsync_failing_on_the_third_file(fd):  # de output, de report, then es output
        calls.append(fd)
        if len(calls) == 3:
            raise OSError(28, "No space left on device")
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync_failing_on_the_third_file)
    _expect_error(_aligned_multi_args(files), capsys, "--output_files es", str(files / "es.jsonl"), "No space left")
    assert_same_tree(before, files)


def test_two_outputs_with_one_path_are_refused(files, capsys):
    _two_dictionaries(files)
    args = _lexicon_multi_args(files)
    args[args.index("--output_files") + 2] = f"es={files / 'out' / 'de.jsonl'}"
    _expect_error(args, capsys, "--output_files es", "is also the --output_files de")
