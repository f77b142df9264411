"""``concner-translate``: build D_TGT, the label-preserving translation of the source set.

Examples::

    concner-translate --backend aligned --source_file ../shared/data/conll/en/train.txt \\
        --translation_file ../shared/data/translate_train/de/train.txt \\
        --alignment_file ../shared/data/translate_train/de/train.align \\
        --max_train_samples 1000 --seed 42 --output_file de.jsonl --report_file de.report.json

    concner-translate --backend seq2seq --model_name_or_path facebook/nllb-200-distilled-600M \\
        --src_lang eng_Latn --tgt_lang deu_Latn --source_file en.txt --output_file de.jsonl

    concner-translate --backend lexicon --dictionary_file ../shared/data/muse/en-de.txt \\
        --source_file en.txt --output_file de.txt

The source set is read with `concner.data.load_ner_dataset` and sampled with `concner.data.sample_source`
(same ``--max_train_samples``/``--seed`` as the teacher), so the translated rows are exactly the teacher's.
Each kept pair is written with its source row's id (``.jsonl`` keeps ids; CoNLL ``.txt`` cannot store them, so
the report's ``output_ids`` lists the source id of every output sentence). Output and report are written
atomically. Bad input prints one ``error: ...`` line and exits with status 2.
"""

from __future__ import annotations

import os
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from concner.data.errors import DataError, one_line
from concner.io_utils import check_output_file

BACKENDS = ("aligned", "seq2seq", "lexicon")
CONLL_SUFFIXES = (".txt", ".conll", ".iob2", ".tsv")


@dataclass
class TranslateArguments:
    """Arguments of ``concner-translate``."""

    backend: str = field(
        metadata={"help": "aligned (existing translation + alignments), seq2seq (HF model), lexicon."}
    )
    source_file: str = field(metadata={"help": "Labelled source set (any input concner.data.load_ner_dataset reads)."})
    output_file: str = field(metadata={"help": "Translated set: .jsonl (keeps ids) or CoNLL .txt."})
    report_file: str | None = field(
        default=None, metadata={"help": "Projection report (JSON). Default: <output_file>.report.json."}
    )
    max_train_samples: int | None = field(
        default=None, metadata={"help": "Translate only the teacher's sampled subset (sample_source) of this size."}
    )
    seed: int = field(default=42, metadata={"help": "Sampling seed (same as the teacher's)."})
    keep_partial: bool = field(
        default=False, metadata={"help": "aligned: keep pairs that lost entities instead of dropping them."}
    )
    translation_file: str | None = field(default=None, metadata={"help": "aligned: translated sentences (tokens)."})
    alignment_file: str | None = field(default=None, metadata={"help": "aligned: one line of i-j links per pair."})
    model_name_or_path: str | None = field(default=None, metadata={"help": "seq2seq: Hub name or local folder."})
    src_lang: str | None = field(default=None, metadata={"help": "seq2seq: source code (NLLB eng_Latn, M2M100 en)."})
    tgt_lang: str | None = field(default=None, metadata={"help": "seq2seq: target code, forced as first token."})
    batch_size: int = field(default=16, metadata={"help": "seq2seq: sentences per generate call."})
    max_new_tokens: int = field(default=256, metadata={"help": "seq2seq: generation limit."})
    num_beams: int = field(default=1, metadata={"help": "seq2seq: beam size."})
    fuzzy_threshold: float = field(default=0.6, metadata={"help": "seq2seq: difflib similarity for fuzzy matches."})
    device: str | None = field(default=None, metadata={"help": "seq2seq: torch device (default cuda if available)."})
    dictionary_file: str | None = field(default=None, metadata={"help": "lexicon: MUSE dictionary (source target)."})

    def __post_init__(self) -> None:
        if self.backend not in BACKENDS:
            raise ValueError(f"--backend must be one of {', '.join(BACKENDS)}, got {self.backend!r}")
        required = {
            "aligned": ("translation_file", "alignment_file"),
            "seq2seq": ("model_name_or_path",),
            "lexicon": ("dictionary_file",),
        }[self.backend]
        missing = [f"--{name}" for name in required if getattr(self, name) is None]
        if missing:
            raise ValueError(f"--backend {self.backend} needs {' and '.join(missing)}")
        if output_format(self.output_file) is None:
            raise ValueError(
                f"--output_file must end in .jsonl or one of {', '.join(CONLL_SUFFIXES)}: {self.output_file}"
            )
        if self.max_train_samples is not None and self.max_train_samples <= 0:
            raise ValueError(f"--max_train_samples must be positive, got {self.max_train_samples}")
        if self.batch_size <= 0:
            raise ValueError(f"--batch_size must be positive, got {self.batch_size}")
        if not 0.0 < self.fuzzy_threshold <= 1.0:
            raise ValueError(f"--fuzzy_threshold must be in (0, 1], got {self.fuzzy_threshold}")
        if self.report_file is None:
            self.report_file = f"{self.output_file}.report.json"


def output_format(path: str) -> str | None:
    """``"jsonl"``, ``"conll"`` or ``None`` (unsupported) from the output file's suffix."""
    suffix = Path(path).suffix.lower()
    return "jsonl" if suffix == ".jsonl" else "conll" if suffix in CONLL_SUFFIXES else None


def _parse_args(argv: list[str] | None) -> TranslateArguments:
    from transformers import HfArgumentParser

    class _Parser(HfArgumentParser):
        def error(self, message: str):  # one line, status 2, no usage block
            raise ValueError(message)

    parser = _Parser(TranslateArguments, description=__doc__.splitlines()[0])
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) == 1 and argv[0].endswith((".json", ".yaml", ".yml")):
        loader = parser.parse_json_file if argv[0].endswith(".json") else parser.parse_yaml_file
        (args,) = loader(os.path.abspath(argv[0]))
    else:
        (args,) = parser.parse_args_into_dataclasses(args=argv)
    return args


def _source_positions(source, subset) -> list[int]:
    """Row positions in the full source of the sampled rows (the alignment / translation line index)."""
    position = {sentence_id: k for k, sentence_id in enumerate(source["id"])}
    return [position[sentence_id] for sentence_id in subset["id"]]


def _run_aligned(args: TranslateArguments, source, subset) -> tuple[list, dict[str, Any]]:
    from concner.data import load_ner_dataset, load_text_dataset
    from concner.translate.aligned import read_alignment_file, translate_aligned
    from concner.translate.report import label_agreement

    text_format = "auto" if Path(args.translation_file).suffix.lower() in (".json", ".jsonl") else "conll"
    translation = load_text_dataset(args.translation_file, text_format=text_format)
    if len(translation) != len(source):
        raise DataError(
            f"{len(translation)} translated sentences for {len(source)} source sentences", args.translation_file
        )
    alignments = read_alignment_file(args.alignment_file)
    if len(alignments) != len(source):
        raise DataError(f"{len(alignments)} alignment lines for {len(source)} source sentences", args.alignment_file)
    positions = _source_positions(source, subset)
    target_tokens = translation["tokens"]
    pairs = translate_aligned(
        subset["id"],
        subset["tokens"],
        subset["ner_tags"],
        [target_tokens[k] for k in positions],
        [alignments[k] for k in positions],
        alignment_file=args.alignment_file,
        line_numbers=[k + 1 for k in positions],
        keep_partial=args.keep_partial,
    )
    extra: dict[str, Any] = {}
    try:
        reference = load_ner_dataset(args.translation_file)["ner_tags"]
    except DataError:  # an unlabelled translation file: nothing to compare with
        reference = None
    if reference is not None:
        kept = [(pair, reference[k]) for pair, k in zip(pairs, positions) if pair.kept]
        extra["reference_agreement"] = label_agreement([p.target_tags for p, _ in kept], [r for _, r in kept])
    return pairs, extra


def _run_seq2seq(args: TranslateArguments, subset) -> tuple[list, dict[str, Any]]:
    from concner.translate.seq2seq import load_hf_translator, translate_with_markers

    try:
        translate = load_hf_translator(
            args.model_name_or_path,
            src_lang=args.src_lang,
            tgt_lang=args.tgt_lang,
            batch_size=args.batch_size,
            max_new_tokens=args.max_new_tokens,
            num_beams=args.num_beams,
            device=args.device,
        )
    except OSError as exc:  # unknown model name offline, missing files
        raise DataError(f"cannot load the translation model: {one_line(exc)[:300]}", args.model_name_or_path) from None
    pairs = translate_with_markers(
        subset["id"], subset["tokens"], subset["ner_tags"], translate, fuzzy_threshold=args.fuzzy_threshold
    )
    return pairs, {}


def _run_lexicon(args: TranslateArguments, subset) -> tuple[list, dict[str, Any]]:
    from concner.translate.lexicon import load_dictionary, translate_lexicon

    start = time.perf_counter()
    dictionary = load_dictionary(args.dictionary_file)
    loaded = time.perf_counter()
    pairs = translate_lexicon(subset["id"], subset["tokens"], subset["ner_tags"], dictionary)
    done = time.perf_counter()
    return pairs, {
        "dictionary_entries": len(dictionary),
        "dictionary_load_seconds": round(loaded - start, 4),
        "translation_seconds": round(done - loaded, 4),
    }


def _write_output(rows: dict[str, list], path: str) -> None:
    """Write the kept pairs (``id``, ``tokens``, ``ner_tags``); the data layer's writers are atomic."""
    from datasets import Dataset

    from concner.data import write_conll, write_jsonl

    writer = write_jsonl if output_format(path) == "jsonl" else write_conll
    writer(Dataset.from_dict(rows), path)


def check_outputs(args: TranslateArguments) -> None:
    """Refuse, before any work, output paths that cannot be written or would replace an input file.

    Raises:
        ValueError: one line naming the option and the path.
    """
    outputs = {"--output_file": args.output_file, "--report_file": args.report_file}
    for option, path in outputs.items():
        check_output_file(path, option)
    if os.path.realpath(args.output_file) == os.path.realpath(args.report_file):
        raise ValueError(f"--report_file must differ from --output_file: {args.report_file}")
    inputs = {
        "--source_file": args.source_file,
        "--translation_file": args.translation_file,
        "--alignment_file": args.alignment_file,
        "--dictionary_file": args.dictionary_file,
    }
    for option, path in outputs.items():
        for input_option, input_path in inputs.items():
            if input_path is not None and os.path.realpath(path) == os.path.realpath(input_path):
                raise ValueError(f"{option} {path}: is the {input_option}; it would be overwritten")


def run(args: TranslateArguments) -> dict[str, Any]:
    """Translate the (sampled) source set, write the output and the report; return the report."""
    from concner.data import load_ner_dataset, sample_source
    from concner.translate.report import build_report, write_json_atomic

    check_outputs(args)
    source = load_ner_dataset(args.source_file)
    subset = sample_source(source, args.max_train_samples, args.seed) if args.max_train_samples else source
    start = time.perf_counter()
    if args.backend == "aligned":
        pairs, extra = _run_aligned(args, source, subset)
    elif args.backend == "seq2seq":
        pairs, extra = _run_seq2seq(args, subset)
    else:
        pairs, extra = _run_lexicon(args, subset)
    seconds = time.perf_counter() - start

    kept = [pair for pair in pairs if pair.kept]
    settings = {k: v for k, v in asdict(args).items() if k != "backend" and v is not None}
    report = build_report(pairs, args.backend, **settings)
    report.update(extra)
    report["seconds"] = round(seconds, 3)
    report["output_ids"] = [pair.id for pair in kept]
    rows = {
        "id": [pair.id for pair in kept],
        "tokens": [pair.target_tokens for pair in kept],
        "ner_tags": [pair.target_tags for pair in kept],
    }
    for option, path, write in (
        ("--output_file", args.output_file, lambda: _write_output(rows, args.output_file)),
        ("--report_file", args.report_file, lambda: write_json_atomic(report, args.report_file)),
    ):
        try:
            write()
        except OSError as exc:
            raise ValueError(f"{option} {path}: cannot write: {exc.strerror or exc}") from None
    return report


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point; returns the exit status (0, or 2 on bad input)."""
    from concner.translate.report import format_summary

    try:
        args = _parse_args(argv)
        report = run(args)
    except (DataError, ValueError) as exc:
        print(f"error: {one_line(exc)}", file=sys.stderr)
        return 2
    print(format_summary(report))
    if output_format(args.output_file) == "conll" and report["output_ids"] != [
        str(k) for k in range(len(report["output_ids"]))
    ]:
        print(
            f"note: {args.output_file} is CoNLL text, which has no ids, and pairs were sampled or dropped, so it "
            "cannot be paired by index with the source file; the source id of each sentence is listed under "
            f"output_ids in {args.report_file}. Write .jsonl to keep the ids in the file.",
            file=sys.stderr,
        )
    print(f"wrote {args.output_file} and {args.report_file}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
