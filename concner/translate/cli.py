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

Several target languages in one call: ``--output_files LANG=PATH ...`` names the languages, and each per-language
input is given the same way (``--translation_files``, ``--alignment_files``, ``--dictionary_files``, ``--tgt_langs``,
``--model_names_or_paths``, and optionally ``--report_files``), as ``--test_files`` is in training::

    concner-translate --backend lexicon --source_file en.txt --max_train_samples 500 --seed 1 \\
        --dictionary_files de=muse/en-de.txt es=muse/en-es.txt --output_files de=out/de.jsonl es=out/es.jsonl

    concner-translate --backend seq2seq --model_name_or_path facebook/nllb-200-distilled-600M --src_lang eng_Latn \\
        --tgt_langs de=deu_Latn es=spa_Latn --source_file en.txt --output_files de=de.jsonl es=es.jsonl

Every language translates the same (sampled) source rows. A per-language option names exactly the languages of
``--output_files``; the other options (``--model_name_or_path`` too, for a multilingual model, loaded once per
language) are shared.

The source set is read with `concner.data.load_ner_dataset` and sampled with `concner.data.sample_source`
(same ``--max_train_samples``/``--seed`` as the teacher), so the translated rows are exactly the teacher's.
Each kept pair is written with its source row's id (``.jsonl`` keeps ids; CoNLL ``.txt`` cannot store them, so
the report's ``output_ids`` lists the source id of every output sentence). Every argument and output path is
checked, and every language translated, before anything is written; the outputs and reports of all languages are then
written together (`concner.io_utils.staged_files`), so an error leaves none of them, and no temporary file, behind.
Bad input prints one ``error: ...`` line and exits with status 2.
"""

from __future__ import annotations

import os
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from concner.cli import argument_parser, check_model_folder, parse_language_files, run_cli
from concner.config_file import CONFIG_SUFFIXES
from concner.data.errors import DataError, one_line
from concner.io_utils import check_output_file, staged_files

BACKENDS = ("aligned", "seq2seq", "lexicon")
CONLL_SUFFIXES = (".txt", ".conll", ".iob2", ".tsv")
# the options that differ per target language: single-language option -> (several-languages option, value name)
PER_LANGUAGE = {
    "output_file": ("output_files", "PATH"),
    "report_file": ("report_files", "PATH"),
    "translation_file": ("translation_files", "PATH"),
    "alignment_file": ("alignment_files", "PATH"),
    "dictionary_file": ("dictionary_files", "PATH"),
    "model_name_or_path": ("model_names_or_paths", "NAME"),
    "tgt_lang": ("tgt_langs", "CODE"),
}
BACKEND_INPUTS = {
    "aligned": ("translation_file", "alignment_file"),
    "seq2seq": ("model_name_or_path",),
    "lexicon": ("dictionary_file",),
}


def _per_language(help_text: str, value: str = "PATH") -> Any:
    return field(default_factory=list, metadata={"help": f"{help_text}, one LANG={value} per target language."})


@dataclass
class LanguageJob:
    """One target language of a run: where its output and report go, and its own backend inputs.

    Attributes:
        language: the language key of ``--output_files`` (``None`` for the single-language form).
        options: field name -> the option that gave it, for messages (``--output_file``, ``--dictionary_files de``).
    """

    language: str | None
    output_file: str
    report_file: str
    translation_file: str | None = None
    alignment_file: str | None = None
    dictionary_file: str | None = None
    model_name_or_path: str | None = None
    tgt_lang: str | None = None
    options: dict[str, str] = field(default_factory=dict)


@dataclass
class TranslateArguments:
    """Arguments of ``concner-translate``.

    ``jobs`` (set by validation) holds one `LanguageJob` per target language, in the order of ``--output_files``.
    """

    backend: str = field(
        metadata={"help": "aligned (existing translation + alignments), seq2seq (HF model), lexicon."}
    )
    source_file: str = field(metadata={"help": "Labelled source set (any input concner.data.load_ner_dataset reads)."})
    output_file: str | None = field(
        default=None, metadata={"help": "Translated set: .jsonl (keeps ids) or CoNLL .txt (one target language)."}
    )
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
    model_name_or_path: str | None = field(
        default=None, metadata={"help": "seq2seq: Hub name or local folder (shared by every target language)."}
    )
    src_lang: str | None = field(default=None, metadata={"help": "seq2seq: source code (NLLB eng_Latn, M2M100 en)."})
    tgt_lang: str | None = field(default=None, metadata={"help": "seq2seq: target code, forced as first token."})
    batch_size: int = field(default=16, metadata={"help": "seq2seq: sentences per generate call."})
    max_new_tokens: int = field(default=256, metadata={"help": "seq2seq: generation limit."})
    num_beams: int = field(default=1, metadata={"help": "seq2seq: beam size."})
    fuzzy_threshold: float = field(default=0.6, metadata={"help": "seq2seq: difflib similarity for fuzzy matches."})
    device: str | None = field(default=None, metadata={"help": "seq2seq: torch device (default cuda if available)."})
    dictionary_file: str | None = field(default=None, metadata={"help": "lexicon: MUSE dictionary (source target)."})
    output_files: list[str] = _per_language(
        "Several target languages in one call (instead of --output_file): .jsonl or CoNLL outputs, e.g. "
        "de=out/de.jsonl es=out/es.jsonl"
    )
    report_files: list[str] = _per_language("Reports (default: <output>.report.json)")
    translation_files: list[str] = _per_language("aligned: translated sentences")
    alignment_files: list[str] = _per_language("aligned: alignment files")
    dictionary_files: list[str] = _per_language("lexicon: MUSE dictionaries")
    model_names_or_paths: list[str] = _per_language("seq2seq: one model per language (MarianMT)", "NAME")
    tgt_langs: list[str] = _per_language("seq2seq: target codes (e.g. de=deu_Latn)", "CODE")

    def __post_init__(self) -> None:
        if self.backend not in BACKENDS:
            raise ValueError(f"--backend must be one of {', '.join(BACKENDS)}, got {self.backend!r}")
        if self.output_files:
            self.jobs = self._language_jobs()
        elif self.output_file is not None:
            self.jobs = [self._single_job()]
        else:
            raise ValueError("give --output_file PATH, or --output_files LANG=PATH ... for several target languages")
        for job in self.jobs:
            if output_format(job.output_file) is None:
                raise ValueError(
                    f"{job.options['output_file']} must end in .jsonl or one of {', '.join(CONLL_SUFFIXES)}: "
                    f"{job.output_file}"
                )
        if self.max_train_samples is not None and self.max_train_samples <= 0:
            raise ValueError(f"--max_train_samples must be positive, got {self.max_train_samples}")
        if self.batch_size <= 0:
            raise ValueError(f"--batch_size must be positive, got {self.batch_size}")
        if not 0.0 < self.fuzzy_threshold <= 1.0:
            raise ValueError(f"--fuzzy_threshold must be in (0, 1], got {self.fuzzy_threshold}")
        if self.report_file is None and self.output_file is not None:
            self.report_file = self.jobs[0].report_file

    def _single_job(self) -> LanguageJob:
        for plural, _ in PER_LANGUAGE.values():
            if getattr(self, plural):
                raise ValueError(f"--{plural} is for several target languages: give it with --output_files LANG=PATH")
        missing = [f"--{name}" for name in BACKEND_INPUTS[self.backend] if getattr(self, name) is None]
        if missing:
            raise ValueError(f"--backend {self.backend} needs {' and '.join(missing)}")
        values = {name: getattr(self, name) for name in PER_LANGUAGE}
        values["report_file"] = values["report_file"] or f"{self.output_file}.report.json"
        return LanguageJob(None, **values, options={name: f"--{name}" for name in PER_LANGUAGE})

    def _language_jobs(self) -> list[LanguageJob]:
        if self.output_file is not None:
            raise ValueError("give --output_file (one target language) or --output_files LANG=PATH, not both")
        for name, (plural, what) in PER_LANGUAGE.items():
            if name != "model_name_or_path" and getattr(self, name) is not None:
                raise ValueError(f"--{name} is for one language; with --output_files give --{plural} LANG={what}")
        given: dict[str, dict[str, str]] = {}
        for name, (plural, what) in PER_LANGUAGE.items():
            given[name] = parse_language_files(
                f"--{plural}", getattr(self, plural), must_exist=False, usage=f"LANG={what} (e.g. de={what})"
            )
        languages = list(given["output_file"])
        for name, values in given.items():
            plural, what = PER_LANGUAGE[name]
            extra = [lang for lang in values if lang not in given["output_file"]]
            if extra:
                raise ValueError(f"--{plural} {extra[0]}: not a language of --output_files ({', '.join(languages)})")
            missing = [lang for lang in languages if values and lang not in values]
            if missing:
                raise ValueError(f"--{plural}: no LANG={what} for {', '.join(missing)} (give one for every language)")
        if self.model_name_or_path is not None and given["model_name_or_path"]:
            raise ValueError("give --model_name_or_path (shared) or --model_names_or_paths LANG=NAME, not both")
        missing = [
            f"--{PER_LANGUAGE[name][0]} LANG={PER_LANGUAGE[name][1]}"
            for name in BACKEND_INPUTS[self.backend]
            if not given[name] and getattr(self, name) is None
        ]
        if missing:
            raise ValueError(f"--backend {self.backend} needs {' and '.join(missing)}")
        if self.backend == "seq2seq" and self.model_name_or_path is not None and len(languages) > 1:
            if not given["tgt_lang"]:
                raise ValueError(
                    "--backend seq2seq with one --model_name_or_path for several languages needs --tgt_langs "
                    "LANG=CODE (e.g. de=deu_Latn), or give --model_names_or_paths LANG=NAME"
                )
        jobs = []
        for lang in languages:
            values = {name: given[name].get(lang) for name in PER_LANGUAGE}
            options = {name: f"--{PER_LANGUAGE[name][0]} {lang}" for name in PER_LANGUAGE}
            if self.model_name_or_path is not None:  # one multilingual model for every language
                values["model_name_or_path"] = self.model_name_or_path
                options["model_name_or_path"] = "--model_name_or_path"
            if values["report_file"] is None:
                values["report_file"] = f"{values['output_file']}.report.json"
            jobs.append(LanguageJob(lang, **values, options=options))
        return jobs


def output_format(path: str) -> str | None:
    """``"jsonl"``, ``"conll"`` or ``None`` (unsupported) from the output file's suffix."""
    suffix = Path(path).suffix.lower()
    return "jsonl" if suffix == ".jsonl" else "conll" if suffix in CONLL_SUFFIXES else None


def _parse_args(argv: list[str] | None) -> TranslateArguments:
    parser = argument_parser(TranslateArguments, description=__doc__.splitlines()[0])
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) == 1 and argv[0].endswith(CONFIG_SUFFIXES):
        loader = parser.parse_json_file if argv[0].endswith(".json") else parser.parse_yaml_file
        (args,) = loader(os.path.abspath(argv[0]))
    else:
        _refuse_repeated_lists(argv)
        (args,) = parser.parse_args_into_dataclasses(args=argv)
    return args


def _refuse_repeated_lists(argv: list[str]) -> None:
    """argparse keeps only the last of a repeated ``nargs="+"`` option: refuse it instead of losing languages."""
    for plural, what in PER_LANGUAGE.values():
        spellings = (f"--{plural}", f"--{plural.replace('_', '-')}")
        count = sum(1 for arg in argv if arg in spellings or arg.startswith(tuple(f"{s}=" for s in spellings)))
        if count > 1:
            raise ValueError(f"--{plural} given {count} times: give it once, followed by every LANG={what}")


def _source_positions(source, subset) -> list[int]:
    """Row positions in the full source of the sampled rows (the alignment / translation line index)."""
    position = {sentence_id: k for k, sentence_id in enumerate(source["id"])}
    return [position[sentence_id] for sentence_id in subset["id"]]


def _run_aligned(args: TranslateArguments, job: LanguageJob, source, subset) -> tuple[list, dict[str, Any]]:
    from concner.data import load_ner_dataset, load_text_dataset
    from concner.translate.aligned import read_alignment_file, translate_aligned
    from concner.translate.report import label_agreement

    text_format = "auto" if Path(job.translation_file).suffix.lower() in (".json", ".jsonl") else "conll"
    translation = load_text_dataset(job.translation_file, text_format=text_format)
    if len(translation) != len(source):
        raise DataError(
            f"{len(translation)} translated sentences for {len(source)} source sentences", job.translation_file
        )
    alignments = read_alignment_file(job.alignment_file)
    if len(alignments) != len(source):
        raise DataError(f"{len(alignments)} alignment lines for {len(source)} source sentences", job.alignment_file)
    positions = _source_positions(source, subset)
    target_tokens = translation["tokens"]
    pairs = translate_aligned(
        subset["id"],
        subset["tokens"],
        subset["ner_tags"],
        [target_tokens[k] for k in positions],
        [alignments[k] for k in positions],
        alignment_file=job.alignment_file,
        line_numbers=[k + 1 for k in positions],
        keep_partial=args.keep_partial,
    )
    extra: dict[str, Any] = {}
    try:
        reference = load_ner_dataset(job.translation_file)["ner_tags"]
    except DataError:  # an unlabelled translation file: nothing to compare with
        reference = None
    if reference is not None:
        kept = [(pair, reference[k]) for pair, k in zip(pairs, positions) if pair.kept]
        extra["reference_agreement"] = label_agreement([p.target_tags for p, _ in kept], [r for _, r in kept])
    return pairs, extra


def _run_seq2seq(args: TranslateArguments, job: LanguageJob, subset) -> tuple[list, dict[str, Any]]:
    from concner.translate.seq2seq import load_hf_translator, translate_with_markers

    try:
        translate = load_hf_translator(
            job.model_name_or_path,
            src_lang=args.src_lang,
            tgt_lang=job.tgt_lang,
            batch_size=args.batch_size,
            max_new_tokens=args.max_new_tokens,
            num_beams=args.num_beams,
            device=args.device,
        )
    except OSError as exc:  # unknown model name offline, missing files
        raise DataError(f"cannot load the translation model: {one_line(exc)[:300]}", job.model_name_or_path) from None
    pairs = translate_with_markers(
        subset["id"], subset["tokens"], subset["ner_tags"], translate, fuzzy_threshold=args.fuzzy_threshold
    )
    return pairs, {}


def _run_lexicon(job: LanguageJob, subset) -> tuple[list, dict[str, Any]]:
    from concner.translate.lexicon import load_dictionary, translate_lexicon

    start = time.perf_counter()
    dictionary = load_dictionary(job.dictionary_file)
    loaded = time.perf_counter()
    pairs = translate_lexicon(subset["id"], subset["tokens"], subset["ner_tags"], dictionary)
    done = time.perf_counter()
    return pairs, {
        "dictionary_entries": len(dictionary),
        "dictionary_load_seconds": round(loaded - start, 4),
        "translation_seconds": round(done - loaded, 4),
    }


def _write_output(rows: dict[str, list], path: str, file_format: str) -> None:
    """Write the kept pairs (``id``, ``tokens``, ``ner_tags``) as ``jsonl`` or ``conll``."""
    from datasets import Dataset

    from concner.data import write_conll, write_jsonl

    writer = write_jsonl if file_format == "jsonl" else write_conll
    writer(Dataset.from_dict(rows), path)


INPUT_FILES = ("translation_file", "alignment_file", "dictionary_file")


def check_outputs(args: TranslateArguments) -> None:
    """Refuse, before any work, output paths that cannot be written, that two outputs share, or that are inputs.

    Raises:
        ValueError: one line naming the option and the path.
    """
    outputs = [(job.options[name], getattr(job, name)) for job in args.jobs for name in ("output_file", "report_file")]
    for option, path in outputs:
        check_output_file(path, option)
    seen: dict[str, str] = {}
    for option, path in outputs:
        other = seen.setdefault(os.path.realpath(path), option)
        if other != option:
            raise ValueError(f"{option} {path}: is also the {other}; every output needs its own path")
    inputs = [("--source_file", args.source_file)]
    inputs += [(job.options[name], getattr(job, name)) for job in args.jobs for name in INPUT_FILES]
    for option, path in outputs:
        for input_option, input_path in inputs:
            if input_path is not None and os.path.realpath(path) == os.path.realpath(input_path):
                raise ValueError(f"{option} {path}: is the {input_option}; it would be overwritten")


def check_inputs(args: TranslateArguments) -> None:
    """Refuse, before any work, a missing input file or model folder of any language (not only the first one's).

    Raises:
        DataError: naming the file and the option.
        ValueError: for a local model path that is not a folder.
    """
    for job in args.jobs:
        names = BACKEND_INPUTS[args.backend]
        for name in names:
            path = getattr(job, name)
            if name == "model_name_or_path":
                check_model_folder(job.options[name], path)
            elif not os.path.exists(path):
                raise DataError(f"no such file or directory ({job.options[name]})", path)


def _report_settings(args: TranslateArguments, job: LanguageJob) -> dict[str, Any]:
    """The report's copy of the run's options, with this language's values for the per-language ones."""
    plurals = {plural for plural, _ in PER_LANGUAGE.values()}
    settings: dict[str, Any] = {} if job.language is None else {"target_language": job.language}
    for name, value in asdict(args).items():
        value = getattr(job, name) if name in PER_LANGUAGE else value
        if name != "backend" and name not in plurals and value is not None:
            settings[name] = value
    return settings


def _translate(args: TranslateArguments, job: LanguageJob, source, subset) -> tuple[dict[str, list], dict[str, Any]]:
    """Translate the subset into one language; returns the rows to write and the report."""
    from concner.translate.report import build_report

    start = time.perf_counter()
    if args.backend == "aligned":
        pairs, extra = _run_aligned(args, job, source, subset)
    elif args.backend == "seq2seq":
        pairs, extra = _run_seq2seq(args, job, subset)
    else:
        pairs, extra = _run_lexicon(job, subset)
    seconds = time.perf_counter() - start

    kept = [pair for pair in pairs if pair.kept]
    report = build_report(pairs, args.backend, **_report_settings(args, job))
    report.update(extra)
    report["seconds"] = round(seconds, 3)
    report["output_ids"] = [pair.id for pair in kept]
    rows = {
        "id": [pair.id for pair in kept],
        "tokens": [pair.target_tokens for pair in kept],
        "ner_tags": [pair.target_tags for pair in kept],
    }
    return rows, report


def _write_all(jobs: list[LanguageJob], results: list[tuple[dict[str, list], dict[str, Any]]]) -> None:
    """Write every language's output and report together: on any failure none of them is written."""
    from concner.translate.report import write_json_atomic

    paths = [path for job in jobs for path in (job.output_file, job.report_file)]
    try:
        with staged_files(paths) as temps:
            for k, (job, (rows, report)) in enumerate(zip(jobs, results)):
                for name, temp in (("output_file", temps[2 * k]), ("report_file", temps[2 * k + 1])):
                    try:
                        if name == "output_file":
                            _write_output(rows, temp, output_format(job.output_file))
                        else:
                            write_json_atomic(report, temp)
                    except OSError as exc:
                        path = getattr(job, name)
                        raise ValueError(f"{job.options[name]} {path}: cannot write: {exc.strerror or exc}") from None
    except OSError as exc:  # creating the temporary files or renaming them into place
        raise ValueError(f"cannot write {exc.filename or 'the outputs'}: {exc.strerror or exc}") from None


def run(args: TranslateArguments) -> list[dict[str, Any]]:
    """Translate the (sampled) source set into every target language, write the outputs and reports.

    Returns:
        One report per language, in the order of ``args.jobs``.
    """
    from concner.data import load_ner_dataset, sample_source

    check_outputs(args)
    check_inputs(args)
    source = load_ner_dataset(args.source_file)
    subset = sample_source(source, args.max_train_samples, args.seed) if args.max_train_samples else source
    results = []
    for job in args.jobs:
        try:
            results.append(_translate(args, job, source, subset))
        except (DataError, ValueError) as exc:
            if job.language is None:
                raise
            raise ValueError(f"target language {job.language}: {one_line(exc)}") from None
    _write_all(args.jobs, results)
    return [report for _, report in results]


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point; returns the exit status (0, or 2 on bad input)."""
    return run_cli(lambda: _translate_and_report(argv), ValueError)


def _translate_and_report(argv: list[str] | None) -> None:
    from concner.translate.report import format_summary

    args = _parse_args(argv)
    reports = run(args)
    for job, report in zip(args.jobs, reports):
        if job.language is not None:
            print(f"target language: {job.language}")
        print(format_summary(report))
        if output_format(job.output_file) == "conll" and report["output_ids"] != [
            str(k) for k in range(len(report["output_ids"]))
        ]:
            print(
                f"note: {job.output_file} is CoNLL text, which has no ids, and pairs were sampled or dropped, so it "
                "cannot be paired by index with the source file; the source id of each sentence is listed under "
                f"output_ids in {job.report_file}. Write .jsonl to keep the ids in the file.",
                file=sys.stderr,
            )
        print(f"wrote {job.output_file} and {job.report_file}")


if __name__ == "__main__":
    sys.exit(main())
