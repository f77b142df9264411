"""The reproduction harness: which runs it launches, that finished runs are skipped, and its tables."""

from __future__ import annotations

import importlib.util
import json
import sys
from dataclasses import replace
from pathlib import Path

import pytest

_PATH = Path(__file__).resolve().parent.parent / "benchmarks" / "reproduce.py"
_SPEC = importlib.util.spec_from_file_location("reproduce", _PATH)
reproduce = importlib.util.module_from_spec(_SPEC)
sys.modules["reproduce"] = reproduce  # dataclasses look their module up while the file executes
_SPEC.loader.exec_module(reproduce)


def _arg(cmd: list[str], name: str) -> str:
    return cmd[cmd.index(name) + 1]


@pytest.fixture
def fake_runs(monkeypatch):
    """Replace the subprocess launch by a stub that writes the files a finished run leaves behind."""
    launched: list[list[str]] = []

    def fake_run(cmd: list[str], log: Path) -> None:
        launched.append(cmd)
        out = Path(_arg(cmd, "--output_dir"))
        out.mkdir(parents=True, exist_ok=True)
        tests = cmd[cmd.index("--test_files") + 1 :] if "--test_files" in cmd else []
        results = {"eval_f1": 0.5}
        for spec in tests:
            if spec.startswith("--"):
                break
            lang = spec.split("=")[0]
            results[f"test_{lang}_f1"] = 0.25 if "run_distill.py" in cmd[1] else 0.2
            results[f"test_{lang}_PER_f1"] = 0.3
            results[f"test_{lang}_accuracy"] = 0.9  # not an F1: no progress-line entry
        (out / "all_results.json").write_text(json.dumps(results))

    monkeypatch.setattr(reproduce, "run", fake_run)
    return launched


def _write_test_sets(tmp_path: Path) -> Path:
    """A `--test_dir` with one-sentence es and nl test sets (de is scored on its dev set)."""
    for lang in ("es", "nl"):
        (tmp_path / "tests" / lang).mkdir(parents=True)
        (tmp_path / "tests" / lang / "test.txt").write_text("Madrid B-LOC\n\n")
    return tmp_path / "tests"


def _preset(tmp_path: Path):
    _write_test_sets(tmp_path)
    return replace(reproduce.PRESETS["cpu"], model=str(tmp_path / "model"), languages=["de", "es", "nl"])


def test_every_system_runs_once_and_a_restart_skips_finished_runs(tmp_path, fake_runs):
    p = _preset(tmp_path)
    systems = reproduce.PAPER_SYSTEMS  # the multilingual system and the LCL options: tests below
    reproduce.run_all(p, tmp_path / "out", systems, tmp_path / "tests")
    records = reproduce.finished_records(p, tmp_path / "out")
    teachers = [c for c in fake_runs if c[1] == "run_concner.py"]
    students = [c for c in fake_runs if c[1] == "run_distill.py"]
    # En and En+LCL train once for all languages, the six others once per language; the ensemble students also need
    # the seed-2 and -3 teachers they distil: En (source only) and En+Trans(+LCL)(+TCL) (per language); seven
    # students per language
    assert len(teachers) == 2 + 6 * 3 + 2 * (1 + 4 * 3) and len(students) == 7 * 3
    extra = [c for c in teachers if _arg(c, "--seed") != "1"]
    assert sorted({_arg(c, "--variant") for c in extra}) == [
        "concner",
        "en",
        "en_trans",
        "en_trans_lcl",
        "en_trans_tcl",
    ]
    assert fake_runs.index(max(teachers, key=fake_runs.index)) < fake_runs.index(students[0])  # teachers first
    source_only = [c for c in teachers if "--translation_file" not in c]
    assert sorted(_arg(c, "--variant") for c in source_only) == ["en", "en", "en", "en_lcl"]
    assert all(_arg(c, "--test_files") == f"es={tmp_path}/tests/es/test.txt" for c in source_only)
    # the students distil from the right teachers
    assert all("--do_train" in c and _arg(c, "--cache_teacher_probs") == "true" for c in students)
    kd = {Path(_arg(c, "--output_dir")).parent.name: _arg(c, "--teacher_model_name_or_path") for c in students}
    assert kd["En-KD"].endswith("1/En/src") and kd["ConCNER"].endswith("1/En_Trans_LCL_TCL/nl")
    assert kd["En-KD_paper"] == kd["En-KD"] and kd["ConCNER_paper"] == kd["ConCNER"]
    # the shipped students start from the weights they distil at 5e-5 and add the seed-2 and -3 teachers to the
    # target; the paper's start from the encoder at the preset's rate, with one teacher
    init = {Path(_arg(c, "--output_dir")).parent.name: _arg(c, "--model_name_or_path") for c in students}
    lr = {Path(_arg(c, "--output_dir")).parent.name: float(_arg(c, "--learning_rate")) for c in students}
    assert init["En-KD_paper"] == init["ConCNER_paper"] == p.model
    assert init["En-KD"] == kd["En-KD"] and init["ConCNER"] == kd["ConCNER"]
    assert lr["ConCNER"] == lr["En-KD"] == 5e-5 and lr["ConCNER_paper"] == lr["En-KD_paper"] == p.distill_learning_rate
    members = {Path(_arg(c, "--output_dir")).parent.name: c[c.index("--teacher_ensemble") + 1 :][:2]
               for c in students if "--teacher_ensemble" in c}  # fmt: skip
    assert set(members) == {
        "ConCNER",
        "En-KD",
        "ConCNER_without_TCL",
        "ConCNER_without_LCL",
        "ConCNER_without_TCL_and_LCL",
    }
    assert [str(Path(m).relative_to(tmp_path / "out" / "runs" / "500")) for m in members["ConCNER"]] == [
        "2/En_Trans_LCL_TCL/nl",
        "3/En_Trans_LCL_TCL/nl",
    ]
    assert [str(Path(m).relative_to(tmp_path / "out" / "runs" / "500")) for m in members["En-KD"]] == [
        "2/En/src",
        "3/En/src",
    ]
    # de has no test set: its runs train but give no test F1
    assert {r["lang"] for r in records if r["test_f1"] is not None} == {"es", "nl"}

    assert not any("--overwrite_output_dir" in c for c in teachers + students)  # fresh folders need no licence
    fake_runs.clear()
    reproduce.run_all(p, tmp_path / "out", systems, tmp_path / "tests")
    assert fake_runs == [] and reproduce.finished_records(p, tmp_path / "out") == records


def test_the_multilingual_system_trains_one_teacher_and_one_student_for_every_language(tmp_path, fake_runs):
    p = replace(_preset(tmp_path), seeds=[1, 2, 3])
    reproduce.run_all(p, tmp_path / "out", ["ConCNER", "ConCNER-multi"], tmp_path / "tests")
    multi = [c for c in fake_runs if "multi" in Path(_arg(c, "--output_dir")).parent.name]
    teachers = [c for c in multi if c[1] == "run_concner.py"]
    students = [c for c in multi if c[1] == "run_distill.py"]
    assert len(teachers) == len(students) == 3  # one per seed, for de, es and nl together
    languages = lambda c, option: [a.split("=")[0] for a in c[c.index(option) + 1 :][:3]]  # noqa: E731
    assert all(languages(c, "--translation_files") == ["de", "es", "nl"] for c in teachers)
    assert all(languages(c, "--unlabeled_files") == ["de", "es", "nl"] for c in students)
    assert all(_arg(c, "--unlabeled_max_samples") == str(p.unlabeled_samples) for c in students)  # per language
    assert all(Path(_arg(c, "--output_dir")).name == "de+es+nl" for c in multi)
    records = reproduce.finished_records(p, tmp_path / "out")
    rows = [r for r in records if r["system"] == "ConCNER-multi"]
    assert sorted((r["seed"], r["lang"]) for r in rows) == [
        (s, lang) for s in (1, 2, 3) for lang in ("de", "es", "nl")
    ]
    text = reproduce.multilingual_table(records, ["es", "nl"], 500)
    assert "| ConCNER-multi | 25.0 ± 0.0 | 25.0 ± 0.0 | 25.0 ± 0.0 | 3 |" in text
    assert "Training wall time" in text
    # one language: no multilingual run
    fake_runs.clear()
    reproduce.run_all(replace(p, languages=["es"]), tmp_path / "out2", ["ConCNER-multi"], tmp_path / "tests")
    assert fake_runs == []


def test_tables_read_every_finished_run_whichever_invocation_trained_it(tmp_path, fake_runs):
    p = replace(_preset(tmp_path), languages=["es"])
    reproduce.run_all(p, tmp_path / "out", reproduce.SYSTEMS, tmp_path / "tests")
    reproduce.run_all(replace(p, seeds=[2, 10]), tmp_path / "out", ["En", "ConCNER"], tmp_path / "tests")
    records = reproduce.finished_records(p, tmp_path / "out")
    seeds = {s: sorted(r["seed"] for r in records if r["system"] == s) for s in reproduce.SYSTEMS}
    # seed 3's teachers were trained for the ensembles; seed 3 has no student
    assert seeds["En"] == seeds["En+Trans+LCL+TCL"] == [1, 2, 3, 10] and seeds["ConCNER"] == [1, 2, 10]
    assert seeds["Trans"] == seeds["En-KD"] == seeds["ConCNER (paper recipe)"] == [1]
    assert {r["role"] for r in records if r["system"] == "ConCNER (paper recipe)"} == {"student"}
    # a `--sizes 1000` invocation's runs are read by a default (500) one, and get tables of their own
    reproduce.run_all(replace(p, sizes=[1000], seeds=[1]), tmp_path / "out", ["En"], tmp_path / "tests")
    with_1000 = reproduce.finished_records(p, tmp_path / "out")
    assert [r for r in with_1000 if r["size"] == 500] == records
    assert {(r["system"], r["size"]) for r in with_1000 if r["size"] == 1000} == {("En", 1000)}
    text = reproduce.write_tables(with_1000, p, tmp_path / "out").read_text()
    assert text.count("Table 3 (CoNLL, main results)") == 2
    assert text.count("**The paper's claims** (source size 500") == 1
    # a language outside the preset is not read, even where its runs exist
    nl = reproduce.finished_records(replace(p, languages=["nl"]), tmp_path / "out")
    assert {r["lang"] for r in nl} == {"nl"} and {r["system"] for r in nl} == {"En", "En+LCL"}
    assert reproduce.table(records, ["En", "Trans"], ["es"], 500, "T").splitlines()[4:] == [
        "| En | 20.0 ± 0.0 | 20.0 ± 0.0 | 4 |",
        "| Trans | 20.0 | 20.0 | 1 |",
    ]


def test_students_alone_also_train_their_teachers(tmp_path, fake_runs):
    p = replace(_preset(tmp_path), languages=["es"])
    reproduce.run_all(p, tmp_path / "out", ["ConCNER"], tmp_path / "tests")
    assert [(c[1], _arg(c, "--variant") if "--variant" in c else None) for c in fake_runs] == [
        ("run_concner.py", "concner"),
        ("run_concner.py", "concner"),  # seeds 2 and 3: the ensemble's other members
        ("run_concner.py", "concner"),
        ("run_distill.py", None),
    ]
    fake_runs.clear()
    reproduce.run_all(p, tmp_path / "out", ["ConCNER (paper recipe)"], tmp_path / "tests")
    assert [c[1] for c in fake_runs] == ["run_distill.py"] and "--teacher_ensemble" not in fake_runs[0]


def test_mean_std():
    assert reproduce.mean_std([]) == "–" and reproduce.mean_std([None]) == "–"
    assert reproduce.mean_std([0.5]) == "50.0"
    assert reproduce.mean_std([0.5, 0.7]) == "60.0 ± 14.1"


def _record(system, lang, seed, f1, dev=0.6, run_dir=None, wall=60.0):
    return {
        "system": system,
        "lang": lang,
        "size": 500,
        "seed": seed,
        "test_f1": f1,
        "dev_f1": dev,
        "wall_seconds": wall,
        "run_dir": run_dir or f"{system}/{lang}/{seed}",
    }


def test_table_averages_per_seed_over_complete_language_sets():
    records = [
        _record("En", "es", 1, 0.40),
        _record("En", "nl", 1, 0.20),
        _record("En", "es", 2, 0.60),
        _record("En", "nl", 2, 0.40),
        _record("ConCNER", "es", 1, 0.50),  # nl missing: no average for ConCNER
        _record("Trans", "es", 1, None),  # nothing scored: no row
    ]
    text = reproduce.table(records, ["En", "ConCNER", "Trans"], ["es", "nl"], 500, "T")
    rows = {line.split("|")[1].strip(): [c.strip() for c in line.split("|")[2:-1]] for line in text.splitlines()[4:]}
    assert rows["En"] == ["50.0 ± 14.1", "30.0 ± 14.1", "40.0 ± 14.1", "2"]
    assert rows["ConCNER"] == ["50.0", "–", "–", "1"]
    assert "Trans" not in rows
    dev = reproduce.table(records, ["En"], ["es", "nl"], 500, "D", key="dev_f1")
    assert "| En | 60.0 ± 0.0 | 60.0 ± 0.0 | 60.0 ± 0.0 | 2 |" in dev


def test_compute_summary_counts_each_run_once():
    records = [
        _record("En", "es", 1, 0.4, run_dir="En/src", wall=120.0),
        _record("En", "nl", 1, 0.2, run_dir="En/src", wall=120.0),  # one run scored on two test sets
        _record("ConCNER", "es", 1, 0.5, run_dir="ConCNER/es", wall=60.0),
        _record("Trans", "es", 1, 0.5, run_dir="Trans/es", wall=None),
    ]
    expected = "Compute: 3 runs, 3.0 min of summed wall time (1 runs have no timing)."
    assert reproduce.compute_summary(records) == expected


def test_write_tables_names_missing_test_sets(tmp_path):
    p = replace(reproduce.PRESETS["cpu"], languages=["de", "es"])
    path = reproduce.write_tables([_record("En", "es", 1, 0.4), _record("En", "de", 1, None)], p, tmp_path)
    text = path.read_text()
    assert "**Table 3 (CoNLL, main results)**" in text and "**Model selection**" in text
    assert "No test set for de here" in text and text.rstrip().endswith("min of summed wall time.")
    # runs scored on no language at all (a held-out one alone): tables without the paper's averages, no crash; a
    # language with no run is not called held out
    p = replace(p, languages=["de", "es", "nl"])
    text = reproduce.write_tables([_record("En", "de", 1, None)], p, tmp_path).read_text()
    assert "No test set for de here (held out)" in text


def test_a_run_killed_after_training_is_rerun(tmp_path, fake_runs):
    p = replace(_preset(tmp_path), languages=["es"])
    reproduce.run_all(p, tmp_path / "out", ["En"], tmp_path / "tests")
    d = reproduce.run_dir(tmp_path / "out", 500, 1, "En", None)
    (d / "wall_seconds.txt").unlink()  # all_results.json is there, as after training, but the process never ended
    reproduce.record_path(d).unlink()  # so no record was written either
    fake_runs.clear()
    reproduce.run_all(p, tmp_path / "out", ["En"], tmp_path / "tests")
    assert len(fake_runs) == 1 and reproduce.finished(d)
    assert _arg(fake_runs[0], "--overwrite_output_dir") == "true"  # its own half-finished folder
    assert reproduce.finished_records(p, tmp_path / "out")[0]["wall_seconds"] is not None


def test_f1_bars_count_a_zero_score_and_skip_a_missing_one():
    records = [
        _record("En", "nl", 1, 0.30),
        _record("En", "nl", 2, 0.0),  # a run that predicted no entity still counts
        _record("En", "nl", 3, None),  # no test set: not a score
        _record("En", "es", 1, None),
    ]
    bars = reproduce.f1_bars(records, ["En"], ["es", "nl"])
    assert bars["En"][0] == (0.0, 0.0)
    assert bars["En"][1][0] == pytest.approx(15.0) and bars["En"][1][1] == pytest.approx(21.2132, abs=1e-3)


def test_dry_run_prints_the_plan_and_trains_nothing(tmp_path, fake_runs, capsys):
    (tmp_path / "data" / "conll").mkdir(parents=True)
    argv = ["--preset", "cpu", "--languages", "es", "nl", "--systems", "En", "ConCNER", "--output_dir",
            str(tmp_path / "out"), "--data_dir", str(tmp_path / "data"), "--dry_run"]  # fmt: skip
    assert reproduce.main(argv) == 0
    printed = capsys.readouterr().out
    # En once for both languages, the ConCNER teacher per language for seed 1 and, as ensemble members, seeds 2 and
    # 3, the ConCNER student per language
    assert "plan: 9 of 9 runs to train" in printed and "estimated:" in printed
    assert fake_runs == [] and not (tmp_path / "out").exists()
    assert reproduce.main([*argv[:-1], "--time_account"]) == 0
    rows = capsys.readouterr().out.splitlines()
    assert rows[-1] == "| all | 0.0 min (0) | 32.5 min (9) | 32.5 min |"  # 7 teachers x 3.5 + 2 students x 4.0
    assert fake_runs == [] and not (tmp_path / "out").exists()


def test_each_finished_run_prints_a_progress_line(tmp_path, fake_runs, capsys):
    p = replace(_preset(tmp_path), languages=["es"])
    reproduce.run_all(p, tmp_path / "out", ["En", "ConCNER"], tmp_path / "tests")
    lines = [line for line in capsys.readouterr().out.splitlines() if line.startswith("[")]
    assert len(lines) == 5 and lines[0].startswith("[1/5] En src size 500 seed 1: en dev 50.0 | test es 20.0 |")
    assert lines[-1].startswith("[5/5] ConCNER es") and "min left" in lines[-1]


def test_a_missing_optional_package_is_one_line_before_any_run(tmp_path, fake_runs, capsys, monkeypatch):
    monkeypatch.setattr(reproduce, "missing_packages", lambda analysis: ["matplotlib"])
    assert reproduce.main(["--preset", "cpu", "--output_dir", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and "matplotlib" in err[0] and ".[bench]" in err[0]
    assert fake_runs == []


def test_german_is_scored_on_its_dev_set_labelled_as_such(tmp_path):
    for lang in ("de", "es"):
        (tmp_path / "conll" / lang).mkdir(parents=True)
        (tmp_path / "conll" / lang / "dev.txt").write_text("Berlin B-LOC\n\n")
    assert reproduce.data_paths("conll", "de", None, tmp_path)["test"] == tmp_path / "conll" / "de" / "dev.txt"
    assert reproduce.data_paths("conll", "es", None, tmp_path)["test"] is None  # only the held-out language
    # an explicit --test_dir is read as given
    assert reproduce.data_paths("conll", "de", tmp_path / "held-out", tmp_path)["test"] is None
    text = reproduce.table([_record("En", "de", 1, 0.5)], ["En"], ["de"], 500, "T")
    assert "| system | de (dev set used as test) | avg | seeds |" in text.splitlines()
    dev = reproduce.table([_record("En", "de", 1, 0.5)], ["En"], ["de"], 500, "T", key="dev_f1")
    assert "| system | de | avg | seeds |" in dev.splitlines()


def test_records_survive_the_loss_of_the_run_folders(tmp_path, fake_runs):
    import shutil

    p = replace(_preset(tmp_path), languages=["es", "nl"])
    out = tmp_path / "out"
    reproduce.run_all(p, out, ["En", "ConCNER"], tmp_path / "tests")
    records = reproduce.finished_records(p, out)
    assert len(list((out / "records").glob("*.json"))) == len({r["run_dir"] for r in records})
    shutil.rmtree(out / "runs")  # a fresh machine: the committed records, no checkpoints
    assert reproduce.finished_records(p, out) == records
    fake_runs.clear()
    reproduce.run_all(p, out, ["En", "ConCNER"], tmp_path / "tests")
    assert fake_runs == []  # nothing to train: every score is recorded


def test_a_student_without_record_retrains_the_teachers_it_reads(tmp_path, fake_runs):
    import shutil

    p = replace(_preset(tmp_path), languages=["es"])
    out = tmp_path / "out"
    reproduce.run_all(p, out, ["ConCNER"], tmp_path / "tests")
    shutil.rmtree(out / "runs")
    reproduce.record_path(reproduce.run_dir(out, 500, 1, "ConCNER", "es")).unlink()
    fake_runs.clear()
    reproduce.run_all(p, out, ["ConCNER"], tmp_path / "tests")
    teachers = sorted(int(_arg(c, "--seed")) for c in fake_runs if c[1] == "run_concner.py")
    students = [c for c in fake_runs if c[1] == "run_distill.py"]
    assert teachers == [1, 2, 3] and len(students) == 1  # the ensemble's three teachers, then the student
    assert reproduce.recorded(reproduce.run_dir(out, 500, 1, "ConCNER", "es"))


def test_tables_put_the_papers_figures_and_the_differences_to_en_beside_ours():
    tables = json.loads(reproduce.PAPER_TABLES.read_text())
    records = [_record("En", "es", 1, 0.40), _record("En", "nl", 1, 0.20)]
    records += [_record("ConCNER", "es", 1, 0.50), _record("ConCNER", "nl", 1, 0.40)]
    paper = reproduce.paper_figures(tables, "table3_main", 500)
    text = reproduce.table(records, ["En", "ConCNER"], ["es", "nl"], 500, "T", paper=paper)
    header = [c.strip() for c in text.splitlines()[2].split("|")[1:-1]]
    assert header == ["system", "es", "nl", "avg", "seeds", "Δ vs En", "paper es", "paper nl", "paper avg",
                      "paper Δ vs En"]  # fmt: skip
    rows = {line.split("|")[1].strip(): [c.strip() for c in line.split("|")[2:-1]] for line in text.splitlines()[4:]}
    main = tables["table3_main"]["500"]
    en = (main["En (Wu and Dredze)"]["es"] + main["En (Wu and Dredze)"]["nl"]) / 2
    concner = (main["ConCNER"]["es"] + main["ConCNER"]["nl"]) / 2
    assert rows["ConCNER"][4:] == ["+15.0", f"{main['ConCNER']['es']:.1f}", f"{main['ConCNER']['nl']:.1f}",
                                   f"{concner:.1f}", f"{concner - en:+.1f}"]  # fmt: skip
    assert rows["En"][4] == "+0.0"
    # Table 4 exists at 1000 sentences only: its figures are shown at every size
    ablation = reproduce.paper_figures(tables, "table4_ablation_1000", 500)
    assert ablation["ConCNER"]["es"] == tables["table4_ablation_1000"]["ConCNER"]["es"]
    assert ablation["En"] == {
        k: v for k, v in tables["table3_main"]["1000"]["En (Wu and Dredze)"].items() if k != "avg"
    }


def test_per_type_table_shows_a_type_never_learnt():
    records = [
        {**_record("En", "es", 1, 0.4), "per_type": {"PER": 0.6, "MISC": 0.0}},
        {**_record("En", "es", 2, 0.5), "per_type": {"PER": 0.8, "MISC": 0.0}},
    ]
    text = reproduce.per_type_table(records, ["En", "ConCNER"], ["es"], 500)
    assert "| system | MISC | PER | runs |" in text
    assert "| En | 0.0 ± 0.0 | 70.0 ± 14.1 | 2 |" in text and "ConCNER" not in text


def test_every_size_gets_its_model_selection_and_per_type_tables(tmp_path):
    p = replace(reproduce.PRESETS["cpu"], languages=["es"], sizes=[500, 1000])
    records = [_record("En", "es", 1, 0.4), {**_record("En", "es", 1, 0.5), "size": 1000}]
    text = reproduce.write_tables(records, p, tmp_path).read_text()
    assert text.count("**Model selection**") == 2 and text.count("**F1 per entity type**") == 2


def test_table4_ablation_students_distil_teachers_without_tcl_or_lcl(tmp_path, fake_runs):
    p = replace(_preset(tmp_path), languages=["es"])
    systems = ["ConCNER w/o TCL", "ConCNER w/o LCL", "ConCNER w/o TCL and LCL"]
    reproduce.run_all(p, tmp_path / "out", systems, tmp_path / "tests")
    students = [c for c in fake_runs if c[1] == "run_distill.py"]
    kd = {Path(_arg(c, "--output_dir")).parent.name: _arg(c, "--teacher_model_name_or_path") for c in students}
    assert kd == {
        "ConCNER_without_TCL": str(tmp_path / "out/runs/500/1/En_Trans_LCL/es"),
        "ConCNER_without_LCL": str(tmp_path / "out/runs/500/1/En_Trans_TCL/es"),
        "ConCNER_without_TCL_and_LCL": str(tmp_path / "out/runs/500/1/En_Trans/es"),
    }
    teacher = {(_arg(c, "--variant"), _arg(c, "--seed")) for c in fake_runs if c[1] == "run_concner.py"}
    assert teacher == {(v, s) for v in ("en_trans_lcl", "en_trans_tcl", "en_trans") for s in ("1", "2", "3")}
    records = reproduce.finished_records(p, tmp_path / "out")
    text = reproduce.write_tables(records, p, tmp_path, json.loads(reproduce.PAPER_TABLES.read_text())).read_text()
    table4 = text[text.index("**Table 4") :].split("\n\n")[1]
    row = next(line for line in table4.splitlines() if line.startswith("| ConCNER w/o LCL |"))
    paper_es = json.loads(reproduce.PAPER_TABLES.read_text())["table4_ablation_1000"]["ConCNER w/o LCL"]["es"]
    assert [c.strip() for c in row.split("|")[1:-1]][5] == f"{paper_es:.1f}"  # the paper's es column


def test_the_lcl_options_are_concner_teachers_with_one_option_and_get_their_table(tmp_path, fake_runs):
    p = replace(_preset(tmp_path), languages=["es"])
    reproduce.run_all(p, tmp_path / "out", reproduce.LCL_ABLATION, tmp_path / "tests")
    options = {Path(_arg(c, "--output_dir")).parent.name: c for c in fake_runs}
    assert set(options) == {"En_Trans_LCL_TCL", "En_Trans_LCL_TCL_entity-type", "En_Trans_LCL_TCL_O-sampled",
                            "En_Trans_LCL_TCL_balanced", "En_Trans_LCL_TCL_balanced_O-sampled"}  # fmt: skip
    assert all(_arg(c, "--variant") == "concner" for c in fake_runs)
    assert "--lcl_positive" not in options["En_Trans_LCL_TCL"]
    assert _arg(options["En_Trans_LCL_TCL"], "--lcl_class_weighting") == "none"  # the paper's row pins its LCL
    assert "--lcl_class_weighting" not in options["En_Trans_LCL_TCL_entity-type"]
    assert _arg(options["En_Trans_LCL_TCL_entity-type"], "--lcl_positive") == "entity_type"
    assert _arg(options["En_Trans_LCL_TCL_O-sampled"], "--lcl_o_sample_ratio") == "1"
    assert _arg(options["En_Trans_LCL_TCL_balanced"], "--lcl_class_weighting") == "balanced"
    both = options["En_Trans_LCL_TCL_balanced_O-sampled"]
    assert _arg(both, "--lcl_class_weighting") == "balanced" and _arg(both, "--lcl_o_sample_ratio") == "1"
    records = reproduce.finished_records(p, tmp_path / "out")
    text = reproduce.write_tables(records, p, tmp_path / "out").read_text()
    assert "**LCL beyond the paper" in text and "| En+Trans+LCL+TCL balanced | 20.0 | 20.0 | 1 |" in text


def test_the_balanced_student_distils_the_balanced_teachers_and_joins_the_lcl_table(tmp_path, fake_runs):
    p = replace(_preset(tmp_path), languages=["es"])
    reproduce.run_all(p, tmp_path / "out", ["ConCNER balanced"], tmp_path / "tests")
    teachers = {(_arg(c, "--lcl_class_weighting"), _arg(c, "--seed")) for c in fake_runs if c[1] == "run_concner.py"}
    assert teachers == {("balanced", s) for s in ("1", "2", "3")}  # the seeds of the ensemble
    (student,) = [c for c in fake_runs if c[1] == "run_distill.py"]
    teacher = tmp_path / "out/runs/500/1/En_Trans_LCL_TCL_balanced/es"
    assert _arg(student, "--teacher_model_name_or_path") == str(teacher)
    assert "ConCNER balanced" not in reproduce.PAPER_SYSTEMS
    records = reproduce.finished_records(p, tmp_path / "out")
    text = reproduce.write_tables(records, p, tmp_path / "out").read_text()
    lcl = text[text.index("**LCL beyond the paper") :].split("\n\n")[1]
    assert "| ConCNER balanced |" in lcl and "| En+Trans+LCL+TCL balanced |" in lcl


def test_a_system_with_no_measured_run_is_estimated_from_the_measured_runs_of_its_role(tmp_path):
    out = tmp_path / "out"

    def planned(system: str, seed: int = 1) -> reproduce.PlannedRun:
        return reproduce.PlannedRun(system, "es", 500, seed, reproduce.run_dir(out, 500, seed, system, "es"), [])

    def record(system: str, role: str, seconds: float | None) -> None:
        row = {"system": system, "lang": "es", "size": 500, "seed": 1, "role": role, "wall_seconds": seconds}
        reproduce.save_record([row], planned(system).directory)

    defaults = reproduce.DEFAULT_MINUTES["cpu"]
    assert [reproduce.estimate_minutes(planned(s), out, "cpu") for s in ("Trans", "ConCNER")] == list(defaults)
    record("En", "teacher", 120.0)
    record("En+Trans", "teacher", 240.0)
    record("En-KD", "student", 600.0)
    record("ConCNER w/o LCL", "student", None)  # no wall time: not a measurement
    multi = reproduce.run_dir(out, 500, 1, "ConCNER-multi", "de+es+nl")  # one run for three languages: left out
    reproduce.save_record(
        [{"system": "ConCNER-multi", "lang": "de+es+nl", "role": "student", "wall_seconds": 9e3}], multi
    )
    other_size = reproduce.run_dir(out, 1000, 1, "En-KD", "es")  # another source size: left out
    reproduce.save_record([{"system": "En-KD", "lang": "es", "role": "student", "wall_seconds": 9e3}], other_size)
    assert reproduce.estimate_minutes(planned("Trans"), out, "cpu") == 3.0  # the mean of the measured teachers
    assert reproduce.estimate_minutes(planned("ConCNER w/o TCL"), out, "cpu") == 10.0  # of the measured students
    assert reproduce.estimate_minutes(planned("En+Trans", seed=2), out, "cpu") == 4.0  # its own system first


def test_the_time_account_sums_recorded_wall_times_and_estimates_only_the_rest(tmp_path, fake_runs, monkeypatch):
    import shutil

    p = replace(_preset(tmp_path), languages=["es"])
    out = tmp_path / "out"
    ticks = iter(range(0, 10_000, 60))  # each run takes 60 s by the harness's clock
    monkeypatch.setattr(reproduce.time, "time", lambda: float(next(ticks)))
    reproduce.run_all(p, out, ["ConCNER"], tmp_path / "tests")
    runs = reproduce.plan_runs(p, out, ["ConCNER"], tmp_path / "tests", "model")
    assert [r.role for r in runs] == ["teacher"] * 3 + ["student"]
    seconds = [reproduce.recorded_seconds(r.directory) for r in runs]
    assert len(set(seconds)) == 1 and seconds[0] > 0
    shutil.rmtree(out / "runs")  # a fresh machine: the records alone still carry the measured times
    assert [reproduce.recorded_seconds(r.directory) for r in runs] == seconds
    assert all(reproduce.recorded_run_dir(reproduce.record_path(r.directory)) == r.directory for r in runs)
    reproduce.record_path(runs[2].directory).write_text("[]")  # a record without a wall time: estimated
    reproduce.record_path(runs[3].directory).unlink()  # the student never ran: estimated
    account = reproduce.time_account(runs, out, "cpu")
    minute = seconds[0] / 60
    assert account["teacher"] == {"measured_min": 2 * minute, "measured_runs": 2, "estimated_min": minute,
                                  "estimated_runs": 1}  # fmt: skip  # the mean of the same system's measured runs
    student_default = reproduce.DEFAULT_MINUTES["cpu"][1]
    assert account["student"] == {"measured_min": 0.0, "measured_runs": 0, "estimated_min": student_default,
                                  "estimated_runs": 1}  # fmt: skip


def test_the_claims_table_reads_each_ordering_against_the_seed_std(tmp_path):
    def rows(system: str, f1s: list[float], size: int = 500) -> list[dict]:
        return [{**_record(system, "es", seed, f1), "size": size} for seed, f1 in enumerate(f1s, 1)]

    records = [
        *rows("ConCNER", [0.56, 0.54, 0.58]),  # mean 56, std 2
        *rows("En+Trans+LCL+TCL", [0.52, 0.51, 0.53]),  # mean 52, std 1: KD adds 4 > 2
        *rows("En+Trans+LCL", [0.50, 0.49, 0.51]),  # mean 50, std 1: TCL adds 2 > 1
        *rows("En", [0.20, 0.30, 0.25]),  # mean 25, std 5
        *rows("En-KD", [0.27, 0.24, 0.24]),  # mean 25, 0 < 5: within the std
        *rows("En+LCL", [0.31]),  # one seed: no std
        *rows("En+Trans", [0.60], size=1000),  # ConCNER at 500 behind En+Trans at 1000
        *rows("En-KD", [0.50], size=1000),  # and ahead of En-KD at 1000
        *rows("ConCNER", [0.90], size=1000),  # never compared: the claim is about ConCNER at 500
    ]
    tables = json.loads(reproduce.PAPER_TABLES.read_text())
    text = reproduce.claims_table(records, ["es"], 500, tables)
    cells = {line.split("|")[2].strip(): [c.strip() for c in line.split("|")[3:-1]] for line in text.splitlines()[4:]}
    paper3, paper5 = tables["table3_main"]["500"], tables["table5_contrastive"]["500"]
    kd = paper3["ConCNER"]["es"] - paper5["En+Trans+LCL+TCL"]["es"]
    kd_row = ["+4.0", "2.0", "3/3", f"{kd:+.1f}", "holds, by more than the seed std"]
    assert cells["ConCNER − En+Trans+LCL+TCL"] == kd_row
    assert cells["En-KD − En"][:3] == ["+0.0", "5.0", "3/3"] and cells["En-KD − En"][4] == "within the seed std (±5.0)"
    at_1000 = tables["table5_contrastive"]["1000"]  # the paper's En+LCL drops in every language at 1000
    lcl = at_1000["En"]["es"] - at_1000["En+LCL"]["es"]
    assert cells["En − En+LCL"][2:] == ["3/1", f"{lcl:+.1f} (at 1000)", "does not hold (one seed: no std)"]
    behind = cells["ConCNER at 500 − En+Trans at 1000"]
    paper_behind = paper3["ConCNER"]["es"] - tables["table3_main"]["1000"]["MulDA (En+Trans)"]["es"]
    assert behind == ["-4.0", "–", "3/1", f"{paper_behind:+.1f}", "does not hold (one seed: no std)"]
    assert cells["ConCNER at 500 − En-KD at 1000"][0] == "+6.0"
    assert cells["ConCNER at 500 − En-KD at 1000"][4] == "holds (one seed: no std)"
    assert cells["En+Trans+TCL − En+Trans+LCL"][3:] == ["–", "not run here: En+Trans+TCL"]
    tcl_adds = paper5["En+Trans+LCL+TCL"]["es"] - paper5["En+Trans+LCL"]["es"]
    assert cells["En+Trans+LCL+TCL − En+Trans+LCL"] == ["+2.0", "1.0", "3/3", f"{tcl_adds:+.1f}",
                                                         "holds, by more than the seed std"]  # fmt: skip
    assert cells["En+Trans+LCL − En+Trans"][3] == f"{paper5['En+Trans+LCL']['es'] - paper5['En+Trans']['es']:+.1f}"
    assert cells["En+Trans+LCL − En+Trans"][4] == "not run here: En+Trans"  # at 1000 only
    assert cells["Trans+LCL − Trans"][4] == "not run here: Trans+LCL and Trans"
    tsl = paper3["ConCNER"]["es"] - paper3["En-KD (Wu et al., TSL)"]["es"]  # the main result, at the same size
    assert cells["ConCNER − En-KD"] == ["+31.0", "2.0", "3/3", f"{tsl:+.1f}", "holds, by more than the seed std"]
    assert cells["ConCNER − En+Trans"][4] == "not run here: En+Trans"  # En+Trans was run at 1000 only
    table4 = tables["table4_ablation_1000"]
    tcl = table4["ConCNER w/o LCL"]["es"] - table4["ConCNER w/o TCL"]["es"]
    missing = "not run here: ConCNER w/o LCL and ConCNER w/o TCL"
    assert cells["ConCNER w/o LCL − ConCNER w/o TCL"] == ["–", "–", "–", f"{tcl:+.1f} (at 1000)", missing]
    tcl_adds_to_student = table4["ConCNER"]["es"] - table4["ConCNER w/o TCL"]["es"]
    assert cells["ConCNER − ConCNER w/o TCL"][3:] == [
        f"{tcl_adds_to_student:+.1f} (at 1000)",
        "not run here: ConCNER w/o TCL",
    ]
    assert reproduce.claim_reading(-3.0, 1.0) == "reversed, by more than the seed std"
    p = replace(reproduce.PRESETS["cpu"], languages=["es"], sizes=[500, 1000])
    assert reproduce.write_tables(records, p, tmp_path, tables).read_text().count("**The paper's claims**") == 1


def test_a_finished_run_drops_its_trainer_checkpoints_and_keeps_its_model(tmp_path):
    d = tmp_path / "run"
    (d / "checkpoint-150").mkdir(parents=True)
    (d / "checkpoint-150" / "model.safetensors").write_text("weights")
    (d / "model.safetensors").write_text("weights")
    (d / "all_results.json").write_text("{}")
    (d / "checkpoint-notes").mkdir()  # not a Trainer checkpoint: kept
    assert not reproduce.finished(d)
    reproduce.mark_finished(d, 12.34)
    assert reproduce.finished(d) and (d / "wall_seconds.txt").read_text() == "12.3\n"
    assert not (d / "checkpoint-150").exists() and (d / "model.safetensors").read_text() == "weights"
    assert (d / "checkpoint-notes").is_dir()


def test_the_cpu_preset_trains_with_the_fast_setting_and_cpu_fp32_with_the_one_before_it(tmp_path):
    """`cpu`: bf16, fused AdamW and the default dropout kernel (`auto`: the fast one under CPU bf16); `cpu_fp32`: the
    setting before it, fp32 and torch's own dropout, for teachers and students alike."""
    paths = {"es": {"train": "en.txt", "dev": "dev.txt", "translation": "es.txt", "test": None, "unlabeled": "u.txt"}}
    for name, fast in (("cpu", True), ("cpu_fp32", False)):
        p = reproduce.PRESETS[name]
        teacher = reproduce.teacher_cmd(p, "m", "En+Trans+LCL+TCL", "es", 500, 1, tmp_path / "t", paths)
        student = reproduce.student_cmd(p, "m", tmp_path / "t", "es", 1, tmp_path / "s", paths, "teacher")
        for cmd in (teacher, student):
            assert ("--bf16" in cmd) is fast and ("adamw_torch_fused" in cmd) is fast
            assert ("--dropout_kernel" not in cmd) if fast else (_arg(cmd, "--dropout_kernel") == "native")


def test_learning_rate_overrides_the_teachers_rate_only(tmp_path, fake_runs, monkeypatch):
    """`--learning_rate` (choosing a rate on English dev) reaches every teacher command and no student command."""
    # the plot needs the `bench` extra, which the test install (`.[dev,offline]`) lacks; this test is about commands
    monkeypatch.setattr(reproduce, "missing_packages", lambda analysis: [])
    monkeypatch.setattr(reproduce, "plot_f1", lambda records, out: None)
    tests = _write_test_sets(tmp_path)
    out = tmp_path / "out"
    argv = ["--preset", "smoke", "--systems", "En", "En-KD", "--languages", "es", "--output_dir", str(out)]
    assert reproduce.main([*argv, "--learning_rate", "2e-4", "--no_analysis", "--test_dir", str(tests)]) == 0
    teachers = [cmd for cmd in fake_runs if "run_concner.py" in cmd[1]]
    students = [cmd for cmd in fake_runs if "run_distill.py" in cmd[1]]
    assert teachers and students
    assert {_arg(cmd, "--learning_rate") for cmd in teachers} == {"0.0002"}
    assert "0.0002" not in {_arg(cmd, "--learning_rate") for cmd in students}


def test_the_converged_preset_trains_teachers_at_its_own_rate():
    """`cpu_converged` teachers at 2e-4 (chosen on English dev: `En` collapsed at the cpu preset's 4e-4)."""
    assert reproduce.PRESETS["cpu_converged"].learning_rate == 2e-4
    assert reproduce.PRESETS["cpu"].learning_rate == 4e-4


def test_the_converged_preset_repeats_bit_for_bit(tmp_path):
    """Every `cpu_converged` run, teacher and student, asks transformers for deterministic kernels and stops early."""
    p = replace(reproduce.PRESETS["cpu_converged"], model=str(tmp_path / "model"), languages=["es"])
    runs = reproduce.plan_runs(p, tmp_path / "out", ["En", "ConCNER"], _write_test_sets(tmp_path), p.model)
    assert {r.cmd[1] for r in runs} == {"run_concner.py", "run_distill.py"}
    for run in runs:
        assert _arg(run.cmd, "--full_determinism") == "true" and _arg(run.cmd, "--early_stopping_patience") == "3"


def test_a_narrowed_invocation_still_reports_every_language_of_the_preset(tmp_path, fake_runs, monkeypatch):
    """`--languages de` trains German only, but rewrites tables.md and results.json over the preset's languages (and
    any extra one it names), not over German alone."""
    monkeypatch.setattr(reproduce, "missing_packages", lambda analysis: [])
    monkeypatch.setattr(reproduce, "plot_f1", lambda records, out: None)
    tests, out = _write_test_sets(tmp_path), tmp_path / "out"
    argv = [
        "--preset",
        "smoke",
        "--systems",
        "Trans",
        "--output_dir",
        str(out),
        "--no_analysis",
        "--test_dir",
        str(tests),
    ]
    assert reproduce.main([*argv, "--languages", "es"]) == 0
    assert reproduce.main([*argv, "--languages", "de"]) == 0
    summary = json.loads((out / "results.json").read_text())
    assert sorted(r["lang"] for r in summary["records"]) == ["de", "es"]
    assert summary["config"]["languages"] == ["de", "es"]
    assert "| Trans | 20.0 | 20.0 |" in (out / "tables.md").read_text()
    assert reproduce.main([*argv, "--languages", "nl"]) == 0  # outside the preset: reported beside its languages
    assert sorted(r["lang"] for r in json.loads((out / "results.json").read_text())["records"]) == ["de", "es", "nl"]


def _wikiann_data(tmp_path: Path) -> Path:
    """A `--data_dir` with a two-sentence WikiAnn English train/dev, a German dev set and a MUSE en-de dictionary."""
    data = tmp_path / "data"
    for lang, split in (("en", "train"), ("en", "dev"), ("de", "dev"), ("de", "train")):
        (data / "wikiann" / lang).mkdir(parents=True, exist_ok=True)
        (data / "wikiann" / lang / f"{split}.txt").write_text("the B-LOC\nriver O\n\nthe O\nParis B-LOC\n\n")
    (data / "muse").mkdir()
    (data / "muse" / "en-de.txt").write_text("the die\nriver fluss\n")
    return data


def test_wikiann_translates_its_source_once_word_by_word_and_scores_german_on_its_dev_set(tmp_path):
    data, out = _wikiann_data(tmp_path), tmp_path / "out"
    p = reproduce.PRESETS["cpu_converged_wikiann"]
    paths = reproduce.data_paths("wikiann", "de", None, data, out / "translations")
    english = data / "wikiann" / "en"
    assert paths["train"] == english / "train.txt" and paths["dev"] == english / "dev.txt"
    assert paths["test"] == data / "wikiann" / "de" / "dev.txt"  # held out: the dev set stands in, labelled as such
    assert paths["unlabeled"] == data / "wikiann" / "de" / "train.txt"
    assert reproduce.prepare_translations(p, out, data) == [paths["translation"]]
    rows = [json.loads(line) for line in paths["translation"].read_text().splitlines()]
    # sentence i is the translation of sentence i; entity words are copied, the others looked up; labels kept
    assert [r["tokens"] for r in rows] == [["the", "fluss"], ["die", "Paris"]]
    assert [r["ner_tags"] for r in rows] == [["B-LOC", "O"], ["O", "B-LOC"]]
    paths["translation"].write_text(paths["translation"].read_text() + "\n")  # a file already there is never rewritten
    before = paths["translation"].read_text()
    assert reproduce.prepare_translations(p, out, data) == []
    assert paths["translation"].read_text() == before
    # it pairs by index with any sample of the source (what run_concner.py reads)
    from concner.data import load_ner_dataset, pair_translations, sample_source

    source = sample_source(load_ner_dataset(str(paths["train"])), 1, 1)
    _, kept, summary = pair_translations(source, load_ner_dataset(str(paths["translation"])))
    assert (summary.by, summary.kept) == ("index", 1)
    expected = {("the", "river"): ["the", "fluss"], ("the", "Paris"): ["die", "Paris"]}
    assert kept["tokens"][0] == expected[tuple(source["tokens"][0])]
    # a file made from other data is not read silently
    with pytest.raises(SystemExit, match=r"error: .*de\.jsonl was not translated from .* move it away"):
        reproduce.prepare_translations(p, out, tmp_path / "other-data")
    assert paths["translation"].read_text() == before
    with pytest.raises(SystemExit, match=r"error: .*en-fr\.txt: no MUSE dictionary"):
        reproduce.prepare_translations(replace(p, languages=["fr"]), out, data)
    assert reproduce.prepare_translations(reproduce.PRESETS["cpu"], out, data) == []  # CoNLL has its translations


def test_the_wikiann_preset_trains_table_1s_systems_on_its_translation(tmp_path, fake_runs, monkeypatch):
    monkeypatch.setattr(reproduce, "missing_packages", lambda analysis: [])
    monkeypatch.setattr(reproduce, "plot_f1", lambda records, out: None)
    data, out = _wikiann_data(tmp_path), tmp_path / "out"
    argv = ["--preset", "cpu_converged_wikiann", "--output_dir", str(out), "--data_dir", str(data), "--model", "m"]
    assert reproduce.main([*argv, "--no_analysis"]) == 0
    assert [_arg(cmd, "--variant") for cmd in fake_runs] == ["en", "en_trans"]  # Table 1's rows, by default
    assert {_arg(cmd, "--max_train_samples") for cmd in fake_runs} == {"1000"}
    assert _arg(fake_runs[1], "--translation_file") == str(out / "translations" / "de.jsonl")
    assert (out / "translations" / "de.jsonl").exists()
    assert _arg(fake_runs[0], "--test_files") == f"de={data / 'wikiann' / 'de' / 'dev.txt'}"
    text = (out / "tables.md").read_text()
    assert "**Table 1 (WikiAnn; D_TGT: MUSE word-by-word translation" in text and "Table 3" not in text
    assert "| En+Trans adds nothing over En (Table 1) | En − En+Trans |" in text
    assert reproduce.main([*argv, "--data_dir", str(tmp_path)]) == 2  # no wikiann/ there: one line, no run


def test_table_1_puts_the_papers_wikiann_figures_beside_ours(tmp_path):
    tables = json.loads(reproduce.PAPER_TABLES.read_text())
    table1 = tables["table1_wikiann_1000"]
    records = [{**_record(system, "de", 1, f1), "size": 1000} for system, f1 in (("En", 0.5), ("En+Trans", 0.47))]
    records += [{**_record(system, "de", 2, f1), "size": 1000} for system, f1 in (("En", 0.52), ("En+Trans", 0.49))]
    p = replace(reproduce.PRESETS["cpu_converged_wikiann"])
    text = reproduce.write_tables(records, p, tmp_path, tables).read_text()
    rows = {line.split("|")[1].strip(): [c.strip() for c in line.split("|")[2:-1]] for line in text.splitlines()[4:6]}
    paper_delta = table1["En+Trans"]["de"] - table1["En"]["de"]
    assert rows["En+Trans"] == ["48.0 ± 1.4", "48.0 ± 1.4", "2", "-3.0", f"{table1['En+Trans']['de']:.1f}",
                                f"{table1['En+Trans']['de']:.1f}", f"{paper_delta:+.1f}"]  # fmt: skip
    claim = next(line for line in text.splitlines() if line.startswith("| En+Trans adds nothing over En"))
    assert [c.strip() for c in claim.split("|")[3:-1]] == ["+3.0", "1.4", "2/2", f"{-paper_delta:+.1f}",
                                                         "holds, by more than the seed std"]  # fmt: skip
    # no CoNLL table and none of its figures beside WikiAnn runs
    conll_en = tables["table3_main"]["1000"]["En (Wu and Dredze)"]["de"]
    assert f"{conll_en:.1f}" not in text and "Table 5" not in text and "Table 4" not in text
