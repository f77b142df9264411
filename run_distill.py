"""Distil a ConCNER (or plain BERT) teacher into a student on unlabelled target-language text (paper eq. 9).

The student is trained to match the frozen teacher's label distribution on every word of D_U (MSE, eq. 9), its
checkpoints are selected on the labelled SOURCE dev set (`--validation_file`, zero-shot: never target data), and
it is saved as a plain BERT token classifier (`BertForTokenClassification`, model type `bert`, real label names)
with its tokenizer, so `pipeline("ner", model=folder)` needs no remote code. Target test sets given with
`--test_files lang=path ...` are scored after training (`test_<lang>_f1` etc. in `all_results.json`).

Full ConCNER = distil from the contrastive teacher of `run_concner.py`; the TSL baseline (En-KD) = distil from a
teacher trained with cross-entropy on the source data only. Both are this one script. By default the student starts
from its teacher's weights and trains at the transformers default learning rate, 5e-5 (README "The shipped
student"); `--teacher_ensemble` adds teachers of other seeds to the target. `--student_init encoder` is the paper's
recipe, a student initialised from the encoder (mBERT):

    concner-distill --teacher_model_name_or_path outputs/teacher-concner \\
        --teacher_ensemble outputs/teacher-concner-seed2 outputs/teacher-concner-seed3 --cache_teacher_probs \\
        --unlabeled_file data/de/train.txt --validation_file data/en/dev.txt --test_files de=data/de/test.txt \\
        --do_train --eval_strategy steps --eval_steps 100 --save_steps 100 --load_best_model_at_end \\
        --metric_for_best_model f1 --output_dir outputs/student-de

Arguments may also come from a `.json` / `.yaml` file given first (options after it override it). Bad input
(unreadable or malformed data, a teacher and student that do not share tokenizer or labels, invalid options) prints
one `error: ...` line and exits with status 2.
"""

from __future__ import annotations

import copy
import logging
import os
import sys
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import datasets
import torch
import transformers
from transformers import (
    AutoConfig,
    AutoModelForTokenClassification,
    AutoTokenizer,
    BertConfig,
    PreTrainedModel,
    set_seed,
)

from concner.cli import (
    ATTN_IMPLEMENTATION_HELP,
    DROPOUT_KERNEL_HELP,
    DROPOUT_KERNELS,
    UsageError,
    accelerator_available,
    apply_config_file,
    argument_parser,
    attention_kwargs,
    check_language_code,
    check_max_seq_length,
    check_model_folder,
    check_output_dir,
    one_line,
    parse_language_files,
    plan_types_to_o,
    resolve_attn_implementation,
    resolve_dropout_kernel,
    resolve_model_name,
    run_cli,
    trained_labels,
)
from concner.data import (
    DataError,
    build_label_list,
    load_ner_dataset,
    load_text_dataset,
    map_types_to_o,
    sort_for_inference,
    tokenize_and_align,
)
from concner.metrics import argmax_logits, build_compute_metrics, flatten_scores, ner_scores, word_level_predictions
from concner.process_group import destroy_process_group
from trainers.distillation_collator import DataCollatorForDistillation
from trainers.distillation_trainer import (
    DistillationArguments,
    DistillationTrainer,
    IncompatibleModelsError,
    check_label_maps,
    check_tokenizers,
    load_teacher,
)
from trainers.teacher_cache import add_ensemble_teacher_logits

logger = logging.getLogger(__name__)

BASE_MODEL_ATTRIBUTE = "base_model_name_or_path"
PAPER_ENCODER = "google-bert/bert-base-multilingual-cased"
STUDENT_INITS = ("teacher", "encoder")


@dataclass
class DistillModelArguments:
    """Which teacher to distil and how to initialise the student."""

    teacher_model_name_or_path: str = field(
        metadata={"help": "Teacher folder or Hub id: a ConCNER teacher (run_concner.py) or any token classifier."}
    )
    student_init: str = field(
        default="teacher",
        metadata={
            "help": "Where the student starts when --model_name_or_path is not given: 'teacher' (default: the "
            "teacher's own weights, README 'The shipped student') or 'encoder' (the paper's recipe: the encoder the "
            f"teacher was trained from, its config's `{BASE_MODEL_ATTRIBUTE}`).",
            "choices": STUDENT_INITS,
        },
    )
    model_name_or_path: str | None = field(
        default=None,
        metadata={
            "help": "Student initialisation, overriding --student_init: a folder or Hub id (the paper: mBERT, the "
            "encoder the teacher started from)."
        },
    )
    teacher_ensemble: list[str] = field(
        default_factory=list,
        metadata={
            "help": "More teachers with the same labels and tokenizer (e.g. other seeds): the student distils the "
            "mean of all the teachers' distributions. Needs --cache_teacher_probs.",
            "nargs": "+",
        },
    )
    cache_dir: str | None = field(default=None, metadata={"help": "Where to cache models fetched from the Hub."})
    attn_implementation: str = field(default="auto", metadata={"help": ATTN_IMPLEMENTATION_HELP})
    dropout_kernel: str = field(default="auto", metadata={"help": DROPOUT_KERNEL_HELP, "choices": DROPOUT_KERNELS})


@dataclass
class DistillDataArguments:
    """Unlabelled target text, the source dev set for model selection, and target test sets."""

    unlabeled_file: str | None = field(
        default=None,
        metadata={"help": "Unlabelled target text D_U: plain text (a sentence per line) or CoNLL (labels ignored)."},
    )
    unlabeled_files: list[str] = field(
        default_factory=list,
        metadata={
            "help": "D_U in several target languages as LANG=PATH (de=de.txt es=es.txt): one student for all of "
            "them. --unlabeled_max_samples caps each language; smaller languages are repeated up to the largest "
            "(balanced).",
            "nargs": "+",
        },
    )
    dataset_name: str | None = field(
        default=None, metadata={"help": "D_U as a saved dataset folder or Hub dataset (labels, if any, are ignored)."}
    )
    dataset_config_name: str | None = field(default=None, metadata={"help": "Configuration of --dataset_name."})
    dataset_split: str = field(default="train", metadata={"help": "Split of --dataset_name to use."})
    text_format: str = field(
        default="auto", metadata={"help": "Format of --unlabeled_file: 'auto', 'text' or 'conll'."}
    )
    unlabeled_max_samples: int | None = field(
        default=None,
        metadata={"help": "Keep a random sample (seeded by --seed) of this many unlabelled sentences."},
    )
    validation_file: str | None = field(
        default=None, metadata={"help": "Labelled SOURCE dev set, used for evaluation and model selection."}
    )
    test_files: list[str] = field(
        default_factory=list,
        metadata={"help": "Target test sets scored after training, as lang=path (e.g. de=de/test.txt).", "nargs": "+"},
    )
    max_eval_samples: int | None = field(default=None, metadata={"help": "Use only the first N dev sentences."})
    max_seq_length: int = field(default=128, metadata={"help": "Maximum sub-word tokens per row (paper: 128)."})
    map_types_to_o: list[str] = field(
        default_factory=list,
        metadata={
            "help": "Entity types mapped to O in the dev and test sets and in the student's predictions when they are "
            "scored (e.g. MISC for WikiAnn test sets), or `auto`: every type that the teacher and some labelled "
            "file do not both have.",
            "nargs": "+",
        },
    )
    cache_teacher_probs: bool = field(
        default=False,
        metadata={"help": "Run the teacher once over D_U and the dev set and cache its outputs (Arrow column)."},
    )
    preprocessing_num_workers: int | None = field(default=None, metadata={"help": "Processes for tokenisation."})
    source_language: str = field(
        default="en",
        metadata={"help": "ISO 639 code of the teacher's source data and --validation_file (the card's `language`)."},
    )
    target_language: str | None = field(
        default=None,
        metadata={
            "help": "ISO 639 code of D_U (the model card's `language`; default: the languages of --test_files)."
        },
    )

    def __post_init__(self) -> None:
        given = [self.unlabeled_file is not None, bool(self.unlabeled_files), self.dataset_name is not None]
        if sum(given) != 1:
            raise ValueError("give exactly one of --unlabeled_file, --unlabeled_files and --dataset_name")
        self.unlabeled_sets = parse_language_files("--unlabeled_files", self.unlabeled_files, language_codes=True)
        if self.unlabeled_sets and self.target_language is not None:
            raise ValueError("--target_language names the one language of D_U; --unlabeled_files names its own")
        check_language_code("--source_language", self.source_language)
        check_language_code("--target_language", self.target_language)
        if self.unlabeled_max_samples is not None and self.unlabeled_max_samples < 1:
            raise ValueError(f"--unlabeled_max_samples must be >= 1, got {self.unlabeled_max_samples}")
        if self.text_format not in ("auto", "text", "conll"):
            raise ValueError(f"--text_format must be 'auto', 'text' or 'conll', got {self.text_format!r}")
        parse_test_files(self.test_files)


def parse_test_files(specs: list[str]) -> dict[str, str]:
    """`["de=a.txt", "es=b.txt"]` → `{"de": "a.txt", "es": "b.txt"}`; a malformed or repeated entry is a UsageError."""
    return parse_language_files("--test_files", specs, must_exist=False)


def student_name_or_path(model_args: DistillModelArguments, teacher_config: Any) -> str:
    """The student's initialisation: `--model_name_or_path`; else the teacher itself (`--student_init teacher`, the
    default) or the encoder the teacher was trained from (`--student_init encoder`, the paper's recipe)."""
    if model_args.model_name_or_path:
        return model_args.model_name_or_path
    if model_args.student_init == "teacher":
        return model_args.teacher_model_name_or_path
    base = getattr(teacher_config, BASE_MODEL_ATTRIBUTE, None)
    if base:
        return str(base)
    raise UsageError(
        f"--student_init encoder: the teacher config has no `{BASE_MODEL_ATTRIBUTE}`, so the encoder it was trained "
        f"from is unknown; pass --model_name_or_path (the paper uses {PAPER_ENCODER})"
    )


def load_student(
    name_or_path: str,
    teacher_config: Any,
    attn_implementation: str | None = None,
    config: Any = None,
    **kwargs: Any,
) -> PreTrainedModel:
    """Initialise the student token classifier with the teacher's label map.

    A BERT checkpoint (or a ConCNER folder, whose config is turned into a plain [`BertConfig`]) gives a
    `BertForTokenClassification`; other encoders their own token-classification class. A checkpoint that already
    has a classifier for other labels is an [`IncompatibleModelsError`]; a base encoder gets a fresh classifier.
    `config` is the student's config where the caller has read it already (it is copied, not read again).
    """
    import modeling_concner  # noqa: F401  (registers the `concner` model type)

    config = copy.deepcopy(config) if config is not None else AutoConfig.from_pretrained(name_or_path, **kwargs)
    if trained_labels(config) is not None:
        check_label_maps(config, teacher_config)
    if config.model_type == "concner":
        bert_keys = set(BertConfig().to_dict()) - {"architectures", "auto_map", "model_type"}
        config = BertConfig(**{k: v for k, v in config.to_dict().items() if k in bert_keys})
    id2label = {int(k): str(v) for k, v in teacher_config.id2label.items()}
    config.num_labels = len(id2label)
    config.id2label = id2label
    config.label2id = {v: k for k, v in id2label.items()}
    attention = attention_kwargs(attn_implementation)
    return AutoModelForTokenClassification.from_pretrained(
        name_or_path, config=config, ignore_mismatched_sizes=True, **kwargs, **attention
    )


def load_unlabelled_languages(data_args: DistillDataArguments, seed: int) -> dict[str, datasets.Dataset]:
    """D_U per language of `--unlabeled_files`, each capped at `--unlabeled_max_samples` (a seeded sample).

    Sentence ids get their language as a prefix (`de:17`), so that ids stay unique in the union.
    """
    out = {}
    for lang, path in data_args.unlabeled_sets.items():
        dataset = _sentences_only(load_text_dataset(path, text_format=data_args.text_format), path, data_args, seed)
        ids = [f"{lang}:{sentence_id}" for sentence_id in dataset["id"]]
        out[lang] = dataset.remove_columns("id").add_column("id", ids).select_columns(["id", "tokens"])
    return out


def balanced_union(by_language: dict[str, datasets.Dataset], seed: int) -> datasets.Dataset:
    """The languages' D_U interleaved, smaller ones repeated until the largest is used up (balanced sampling).

    `datasets.interleave_datasets` with `stopping_strategy="all_exhausted"`: every language then contributes as many
    rows as the largest one, so one language with more text does not dominate the student's training.
    """
    if len(by_language) == 1:
        return next(iter(by_language.values()))
    return datasets.interleave_datasets(list(by_language.values()), seed=seed, stopping_strategy="all_exhausted")


def _sentences_only(
    dataset: datasets.Dataset, source: str, data_args: DistillDataArguments, seed: int
) -> datasets.Dataset:
    """`id` and `tokens` only (labels dropped), non-empty, capped at `--unlabeled_max_samples` (seeded sample)."""
    dataset = dataset.remove_columns([c for c in dataset.column_names if c not in ("id", "tokens")])
    if len(dataset) == 0:
        raise DataError("no unlabelled sentences", source)
    if data_args.unlabeled_max_samples is not None and data_args.unlabeled_max_samples < len(dataset):
        dataset = dataset.shuffle(seed=seed).select(range(data_args.unlabeled_max_samples))
    return dataset


def load_unlabelled(data_args: DistillDataArguments, seed: int) -> datasets.Dataset:
    """D_U with columns `id`, `tokens` (labels dropped), optionally a seeded random sample."""
    if data_args.unlabeled_sets:
        return balanced_union(load_unlabelled_languages(data_args, seed), seed)
    if data_args.unlabeled_file is not None:
        dataset = load_text_dataset(data_args.unlabeled_file, text_format=data_args.text_format)
    elif data_args.dataset_config_name is not None or data_args.dataset_split != "train":
        dataset = load_ner_dataset(
            data_args.dataset_name, config_name=data_args.dataset_config_name, split=data_args.dataset_split
        )
    else:
        dataset = load_text_dataset(data_args.dataset_name)
    return _sentences_only(dataset, data_args.unlabeled_file or data_args.dataset_name, data_args, seed)


def check_teacher_languages(teacher: str, config: Any, languages: list[str]) -> None:
    """Each language of `--unlabeled_files` must be one the teacher was trained with translations of.

    A teacher records them as `translation_languages` in its config (`run_concner.py --translation_files`, or
    `--translation_file` with `--target_language`); a teacher without the record is not checked.

    Raises:
        UsageError: a language the teacher has no translation for.
    """
    known = getattr(config, "translation_languages", None)
    if not known:
        return
    for lang in languages:
        if lang not in known:
            raise UsageError(
                f"--unlabeled_files {lang}: the teacher {teacher} was trained with no {lang!r} translation "
                f"(its translation languages: {', '.join(known)})"
            )


def parse_arguments(
    argv: list[str] | None = None,
) -> tuple[DistillModelArguments, DistillDataArguments, DistillationArguments]:
    """Parse `argv` (default `sys.argv[1:]`) into the model, data and training argument dataclasses.

    A first argument ending in `.json`/`.yaml`/`.yml` is a config file; options after it override its values.

    Raises:
        UsageError: unknown option, bad value, missing config file, inconsistent settings.
    """
    parser = argument_parser((DistillModelArguments, DistillDataArguments, DistillationArguments))
    parser.set_defaults(hub_strategy="end")  # push once, with our model card; never mid-run pickled state
    parser.set_defaults(do_train=True)  # as run_concner.py; `--do_train false` scores a trained student as it is
    if not accelerator_available():
        parser.set_defaults(use_cpu=True)  # `--bf16` then means CPU autocast, as in run_concner.py
    argv = apply_config_file(parser, sys.argv[1:] if argv is None else argv)
    try:
        model_args, data_args, training_args = parser.parse_args_into_dataclasses(args=argv)
    except (TypeError, ValueError) as exc:  # argument validation; a config-file value of the wrong type
        raise UsageError(one_line(exc)) from None
    check_model_folder("--teacher_model_name_or_path", model_args.teacher_model_name_or_path)
    for path in model_args.teacher_ensemble:
        check_model_folder("--teacher_ensemble", path)
    if model_args.teacher_ensemble and not data_args.cache_teacher_probs:
        raise UsageError(
            "--teacher_ensemble needs --cache_teacher_probs true (the members' outputs are averaged once)"
        )
    if model_args.model_name_or_path:
        check_model_folder("--model_name_or_path", model_args.model_name_or_path)
    training_args.resume_from_checkpoint = check_output_dir(
        training_args.output_dir,
        resume_from_checkpoint=training_args.resume_from_checkpoint,
        overwrite=training_args.overwrite_output_dir,
        inputs=[
            ("--teacher_model_name_or_path", model_args.teacher_model_name_or_path),
            ("--model_name_or_path", model_args.model_name_or_path),
            *(("--teacher_ensemble", path) for path in model_args.teacher_ensemble),
        ],
    )
    return model_args, data_args, training_args


def _setup_logging(training_args: DistillationArguments) -> None:
    logging.basicConfig(
        format="%(asctime)s - %(levelname)s - %(name)s - %(message)s",
        datefmt="%m/%d/%Y %H:%M:%S",
        handlers=[logging.StreamHandler(sys.stdout)],
    )
    level = training_args.get_process_log_level()
    logger.setLevel(level)
    datasets.utils.logging.set_verbosity(level)
    transformers.utils.logging.set_verbosity(level)


class Prepared(NamedTuple):
    """Models, tokenizers and datasets of a run, all loaded and checked before training starts."""

    teacher: PreTrainedModel
    teacher_tokenizer: Any
    student: PreTrainedModel
    student_path: str
    tokenizer: Any
    train_features: datasets.Dataset
    dev: datasets.Dataset | None
    dev_features: datasets.Dataset | None
    tests: dict[str, tuple[datasets.Dataset, datasets.Dataset]]
    scoring_id2label: dict[int, str]
    notes: list[str]
    unlabelled: datasets.Dataset | None = None  # D_U as used (after --unlabeled_max_samples)
    unlabelled_by_language: dict[str, datasets.Dataset] | None = None  # --unlabeled_files, each language as used


def prepare(
    model_args: DistillModelArguments, data_args: DistillDataArguments, training_args: DistillationArguments
) -> Prepared:
    """Everything that can fail on bad input, before any training: all datasets, models and tokenizers."""
    hub = {"cache_dir": model_args.cache_dir} if model_args.cache_dir else {}
    for path in (
        [model_args.teacher_model_name_or_path, *model_args.teacher_ensemble] if data_args.unlabeled_sets else []
    ):
        try:  # before reading any data or weights; a teacher that cannot be read is reported when it is loaded
            config = AutoConfig.from_pretrained(path, **hub)
        except (OSError, ValueError):
            continue
        check_teacher_languages(path, config, list(data_args.unlabeled_sets))
    notes, by_language = [], None
    if data_args.unlabeled_sets:
        parts = by_language = load_unlabelled_languages(data_args, training_args.seed)
        unlabelled = balanced_union(by_language, training_args.seed)
        sizes = ", ".join(f"{lang} {len(ds)}" for lang, ds in parts.items())
        notes.append(f"D_U: {len(unlabelled)} rows from {len(parts)} languages ({sizes}; balanced by repetition)")
    else:
        parts = {"D_U": (unlabelled := load_unlabelled(data_args, training_args.seed))}
    cap = data_args.unlabeled_max_samples
    for name, part in parts.items():
        if cap is not None and cap > len(part):
            where = "D_U" if name == "D_U" else f"D_U {name!r}"  # the wording of the one-language note, as before
            notes.append(
                f"note: --unlabeled_max_samples {cap} but {where} has only {len(part)} sentences: "
                f"all {len(part)} are used"
            )
    dev = load_ner_dataset(data_args.validation_file) if data_args.validation_file is not None else None
    if dev is not None and data_args.max_eval_samples is not None:
        dev = dev.select(range(min(data_args.max_eval_samples, len(dev))))
    tests = {lang: load_ner_dataset(path) for lang, path in parse_test_files(data_args.test_files).items()}
    attention = resolve_attn_implementation(model_args.attn_implementation, training_args.bf16)
    try:
        teacher = load_teacher(model_args.teacher_model_name_or_path, **hub, **attention_kwargs(attention))
        teacher_tokenizer = AutoTokenizer.from_pretrained(model_args.teacher_model_name_or_path, **hub)
    except OSError as exc:
        path = model_args.teacher_model_name_or_path
        raise UsageError(f"cannot load the teacher {path}: {one_line(exc)}") from None
    members = []
    for path in model_args.teacher_ensemble:
        try:
            member = load_teacher(path, **hub)
            member_tokenizer = AutoTokenizer.from_pretrained(path, **hub)
        except OSError as exc:
            raise UsageError(f"cannot load the teacher {path}: {one_line(exc)}") from None
        check_label_maps(member.config, teacher.config)
        check_tokenizers(member_tokenizer, teacher_tokenizer)
        members.append(member)
    teacher_labels = [str(teacher.config.id2label[i]) for i in range(teacher.config.num_labels)]
    others = {f"test set {lang!r}": build_label_list(test) for lang, test in tests.items()}
    if dev is not None:
        others["dev set"] = build_label_list(dev)
    drop, type_notes = plan_types_to_o(teacher_labels, others, data_args.map_types_to_o)
    notes += type_notes
    if drop:
        notes.append(f"entity types mapped to O when scoring: {', '.join(sorted(drop))}")
        dev = map_types_to_o(dev, drop) if dev is not None else None
        tests = {lang: map_types_to_o(test, drop) for lang, test in tests.items()}
    scoring_id2label = {i: "O" if label[2:] in drop else label for i, label in enumerate(teacher_labels)}
    check_max_seq_length(data_args.max_seq_length, teacher.config, model_args.teacher_model_name_or_path)
    student_path = resolve_model_name(student_name_or_path(model_args, teacher.config))
    check_model_folder("the student's initialisation", student_path)
    try:
        student_config = AutoConfig.from_pretrained(student_path, **hub)
    except (OSError, ValueError) as exc:
        raise UsageError(f"cannot load the student {student_path}: {one_line(exc)}") from None
    check_max_seq_length(data_args.max_seq_length, student_config, student_path)
    if not training_args.do_train and trained_labels(student_config) != teacher_labels:
        raise UsageError(
            f"--do_train false scores the student {student_path} as it is, but its classifier is not trained on the "
            f"teacher's labels ({', '.join(teacher_labels)}); it would score an untrained head"
        )
    try:
        tokenizer = AutoTokenizer.from_pretrained(student_path, **hub)
    except OSError as exc:
        raise UsageError(f"cannot load the student tokenizer {student_path}: {one_line(exc)}") from None
    check_tokenizers(tokenizer, teacher_tokenizer)
    set_seed(training_args.seed)
    try:
        student = load_student(student_path, teacher.config, attention, config=student_config, **hub)
    except OSError as exc:
        raise UsageError(f"cannot load the student {student_path}: {one_line(exc)}") from None
    if training_args.do_train and resolve_dropout_kernel(model_args.dropout_kernel, training_args.bf16) == "fast":
        from trainers.fast_dropout import use_fast_dropout

        notes.append(f"dropout: the fast kernel in {use_fast_dropout(student)} dropout modules")
    label2id = {v: k for k, v in student.config.id2label.items()}

    def features(dataset: datasets.Dataset, with_labels: bool) -> datasets.Dataset:
        with training_args.main_process_first(desc="tokenization"):
            return tokenize_and_align(
                dataset,
                tokenizer,
                label2id if with_labels else None,
                data_args.max_seq_length,
                num_proc=data_args.preprocessing_num_workers,
            )

    train_features = features(unlabelled, False)
    dev_features = None
    if dev is not None:
        dev_features = sort_for_inference(features(dev, True))
    tests = {lang: (test, sort_for_inference(features(test, False))) for lang, test in tests.items()}
    if data_args.cache_teacher_probs:
        teachers = [teacher.to(training_args.device), *(m.to(training_args.device) for m in members)]
        batch, device = training_args.per_device_eval_batch_size, training_args.device
        # under --bf16 the cached teacher runs in bf16 autocast, as the on-the-fly teacher does in the trainer
        dtype = torch.bfloat16 if training_args.bf16 else torch.float16 if training_args.fp16 else None
        with training_args.main_process_first(desc="teacher cache"):
            train_features = add_ensemble_teacher_logits(
                train_features, teachers, tokenizer, batch, device, autocast_dtype=dtype
            )
            if dev_features is not None:
                dev_features = add_ensemble_teacher_logits(
                    dev_features, teachers, tokenizer, batch, device, autocast_dtype=dtype
                )
    return Prepared(
        teacher,
        teacher_tokenizer,
        student,
        student_path,
        tokenizer,
        train_features,
        dev,
        dev_features,
        tests,
        scoring_id2label,
        notes,
        unlabelled,
        by_language,
    )


def run(
    model_args: DistillModelArguments, data_args: DistillDataArguments, training_args: DistillationArguments
) -> dict[str, float]:
    """Distil, evaluate on the source dev set, score the target test sets; return the final metrics."""
    _setup_logging(training_args)
    p = prepare(model_args, data_args, training_args)
    if training_args.process_index == 0:
        for line in p.notes:
            print(line, flush=True)
    compute_metrics = None
    if p.dev is not None:
        compute_metrics = build_compute_metrics(p.dev_features, p.dev["ner_tags"], p.scoring_id2label)
    pad_multiple = 8 if (training_args.fp16 or training_args.bf16) else None
    trainer = DistillationTrainer(
        model=p.student,
        teacher_model=p.teacher,
        args=training_args,
        train_dataset=p.train_features,
        eval_dataset=p.dev_features,
        data_collator=DataCollatorForDistillation(p.tokenizer, pad_multiple, p.student.config.num_labels),
        processing_class=p.tokenizer,
        teacher_processing_class=p.teacher_tokenizer,
        compute_metrics=compute_metrics,
        preprocess_logits_for_metrics=argmax_logits if compute_metrics is not None else None,
        model_card=build_model_card(model_args, data_args, p),
    )
    card = trainer.model_card.card_data
    all_metrics: dict[str, float] = {}
    if training_args.do_train:
        result = trainer.train(resume_from_checkpoint=training_args.resume_from_checkpoint)
        trainer.save_model()
        metrics = dict(result.metrics, train_samples=len(p.train_features))
        trainer.log_metrics("train", metrics)
        trainer.save_metrics("train", metrics)
        trainer.save_state()
        all_metrics.update(metrics)
    if p.dev_features is not None:  # as run_concner.py: a dev set given is a dev set scored
        metrics = trainer.evaluate()
        trainer.log_metrics("eval", metrics)
        trainer.save_metrics("eval", metrics)
        all_metrics.update(metrics)
    for lang, (test, test_features) in p.tests.items():
        metrics = score_test_set(trainer, test, test_features, f"test_{lang}", p.scoring_id2label)
        trainer.log_metrics(f"test_{lang}", metrics)
        trainer.save_metrics(f"test_{lang}", metrics)
        card.add_metrics(metrics, prefix=f"test_{lang}")  # word-level scores, computed outside `predict`
        all_metrics.update(metrics)
    if training_args.push_to_hub:
        trainer.push_to_hub()  # saves, writes the ConCNER card once, uploads the model files only
    elif training_args.do_train:
        trainer.create_model_card()
    # Every process finishes its work (the main one writes the card) before any tears the process group down: a gloo
    # process whose peer has already exited can abort at teardown (SIGABRT), failing a finished torchrun job.
    trainer.accelerator.wait_for_everyone()
    return all_metrics


def score_test_set(
    trainer: DistillationTrainer,
    dataset: datasets.Dataset,
    features: datasets.Dataset,
    prefix: str,
    id2label: dict[int, str] | None = None,
) -> dict[str, float]:
    """Predict `features` and score word-level predictions against `dataset["ner_tags"]` (entity-level, seqeval).

    `id2label` (default: the model's) names the predicted ids; the run maps the types of `--map_types_to_o` to `O`
    there, as in the references. `prepare` has already refused a test set with a type the student lacks.
    """
    output = trainer.predict(features, metric_key_prefix=prefix, teacher_loss=False)  # the student alone
    id2label = id2label or trainer.model.config.id2label
    references = dataset["ner_tags"]
    predicted = word_level_predictions(
        output.predictions, features["example_index"], features["word_index"], [len(r) for r in references], id2label
    )
    metrics = flatten_scores(ner_scores(references, predicted), prefix=f"{prefix}_")
    metrics.update({k: v for k, v in output.metrics.items() if k.endswith("_runtime")})
    return metrics


def build_model_card(model_args: DistillModelArguments, data_args: DistillDataArguments, p: Prepared) -> Any:
    """The trainer's card writer (`concner.model_card.ModelCardCallback`), told about the data of the run.

    The card gets the languages (`--target_language`, else the test sets'), D_U's file or Hub id and size, the dev
    set, the teacher(s) and widget sentences taken from D_U.
    """
    from concner.model_card import ConCNERModelCardData, ModelCardCallback, data_reference

    student_path = str(p.student_path)
    base = student_path if not os.path.exists(student_path) and student_path.count("/") <= 1 else None
    if data_args.unlabeled_sets:
        target = list(data_args.unlabeled_sets)
    else:
        target = [data_args.target_language] if data_args.target_language else list(p.tests)
    card = ConCNERModelCardData(
        model_role="student", source_language=data_args.source_language, target_languages=target or None,
        base_model=base,
    )  # fmt: skip
    unlabelled = data_args.unlabeled_sets or data_args.unlabeled_file or data_args.dataset_name
    if data_args.dataset_name is not None:
        if not os.path.exists(data_args.dataset_name):
            card.dataset_ids.append(data_args.dataset_name)
        split = None if data_args.dataset_split == "train" else f"split {data_args.dataset_split}"
        details = ", ".join(d for d in (data_args.dataset_config_name, split) if d)
        unlabelled += f" ({details})" if details else ""
    card.set_training_data(
        unlabeled_size=len(p.unlabelled),
        unlabeled_file=unlabelled,
        validation_size=len(p.dev) if p.dev is not None else None,
        validation_file=data_args.validation_file,
        teachers=[model_args.teacher_model_name_or_path, *model_args.teacher_ensemble],
    )
    card.set_hyperparameters(
        max_seq_length=data_args.max_seq_length, student_initialisation=data_reference(student_path)
    )
    card.set_widget_examples(p.unlabelled_by_language or p.unlabelled)  # a sentence of every language
    return ModelCardCallback(card)


def main(argv: list[str] | None = None) -> int:
    """Entry point of `concner-distill`; returns the exit status (2 on bad input)."""
    return run_cli(lambda: run(*parse_arguments(argv)), IncompatibleModelsError, cleanup=destroy_process_group)


if __name__ == "__main__":
    sys.exit(main())
