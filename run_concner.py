#!/usr/bin/env python
"""Train the ConCNER teacher (and every baseline/ablation of the paper's Tables 4 and 5).

    concner-train configs/paper.yaml --train_file en/train.txt --translation_file de/train.txt \\
        --validation_file en/dev.txt --test_files de=de/test.txt --output_dir out/teacher

Arguments come from the command line, or from one `.json`/`.yaml` file given first, with command-line
options after it overriding the file. `--variant` picks a paper variant (see `VARIANTS`). Works under
`accelerate launch` / `torchrun`. Bad arguments or data print one `error: ...` line and exit with status 2.
"""

from __future__ import annotations

import math
import os
import sys
from dataclasses import dataclass, field
from typing import Any

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
from concner.process_group import destroy_process_group
from modeling_concner.configuration_concner import LCL_CLASS_WEIGHTINGS, LCL_POSITIVE_MODES

TRAIN_ON = ("source", "translation", "both")
PAPER_LCL_WEIGHT = 0.25
PAPER_TCL_WEIGHT = 0.25

# variant -> (train_on, lcl_weight, tcl_weight); the CE weight stays the paper's α = 0.5 throughout.
VARIANTS: dict[str, tuple[str, float, float]] = {
    "en": ("source", 0.0, 0.0),
    "trans": ("translation", 0.0, 0.0),
    "en_trans": ("both", 0.0, 0.0),
    "en_lcl": ("source", PAPER_LCL_WEIGHT, 0.0),
    "trans_lcl": ("translation", PAPER_LCL_WEIGHT, 0.0),
    "en_trans_lcl": ("both", PAPER_LCL_WEIGHT, 0.0),
    "en_trans_tcl": ("both", 0.0, PAPER_TCL_WEIGHT),  # the teacher of the paper's "ConCNER w/o LCL" (Table 4)
    "concner": ("both", PAPER_LCL_WEIGHT, PAPER_TCL_WEIGHT),
}


def default_lcl_class_weighting(variant: str | None) -> str:
    """`balanced` for the full method (`concner`, or no variant), `none` (the paper's LCL) for its ablations.

    The README's LCL ablation (cpu preset, seeds 1-3, chosen on English dev) found balanced anchor weights
    ahead of the paper's LCL on English dev and on the de/es/nl average by more than the seed std; the
    paper's setting stays one flag away (`--lcl_class_weighting none`, as `configs/paper.yaml` sets it).
    """
    return "balanced" if variant in (None, "concner") else "none"


def _existing_file(value: str | None, option: str) -> None:
    if value is not None and not os.path.exists(os.path.expanduser(value)):
        raise UsageError(f"{option}: no such file or directory: {value}")


@dataclass
class ModelArguments:
    """Which encoder the teacher starts from."""

    model_name_or_path: str = field(
        default="bert-base-multilingual-cased",
        metadata={"help": "Encoder checkpoint (any BERT-architecture model; `offline:e5-small` for the bundled one)."},
    )
    tokenizer_name: str | None = field(default=None, metadata={"help": "Tokenizer, if not the model's."})
    attn_implementation: str = field(default="auto", metadata={"help": ATTN_IMPLEMENTATION_HELP})
    dropout_kernel: str = field(default="auto", metadata={"help": DROPOUT_KERNEL_HELP, "choices": DROPOUT_KERNELS})
    export_plain_bert: bool = field(
        default=False,
        metadata={"help": "Also save the trained teacher as a plain BertForTokenClassification in <output_dir>/bert."},
    )


@dataclass
class DataArguments:
    """Source, translation, dev and test data."""

    train_file: str | None = field(default=None, metadata={"help": "Labelled source training data (D_SRC)."})
    dataset_name: str | None = field(default=None, metadata={"help": "Hub dataset for the source (instead of files)."})
    dataset_config_name: str | None = field(default=None, metadata={"help": "Configuration of --dataset_name."})
    validation_split: str = field(default="validation", metadata={"help": "Dev split of --dataset_name."})
    translation_file: str | None = field(
        default=None, metadata={"help": "Label-preserving translation of the source (D_TGT; sentence i <-> i or ids)."}
    )
    translation_files: list[str] = field(
        default_factory=list,
        metadata={
            "help": "Translations into several target languages as LANG=PATH (de=de.txt es=es.txt): one teacher for "
            "all of them; each epoch every source sentence is paired with one of its translations, drawn at random."
        },
    )
    validation_file: str | None = field(
        default=None, metadata={"help": "SOURCE-language dev set used for model selection."}
    )
    test_files: list[str] = field(
        default_factory=list, metadata={"help": "Target test sets as LANG=PATH (e.g. de=de/test.txt es=es/test.txt)."}
    )
    max_train_samples: int | None = field(
        default=None, metadata={"help": "Sample this many source sentences (seeded; paper: 500/1000/2000)."}
    )
    max_eval_samples: int | None = field(default=None, metadata={"help": "Use only the first N dev sentences."})
    max_seq_length: int = field(default=128, metadata={"help": "Maximum sub-word tokens per row (paper: 128)."})
    map_types_to_o: list[str] = field(
        default_factory=list,
        metadata={
            "help": "Entity types mapped to O everywhere (e.g. MISC for WikiAnn targets), or `auto`: every type that "
            "the source and some target file (translation, test sets) do not both contain."
        },
    )
    check_entity_types: bool = field(
        default=True, metadata={"help": "Drop translation pairs whose entity-type multisets differ."}
    )
    pair_by: str = field(default="auto", metadata={"help": "Pair translations by `index`, `id` or `auto`."})
    source_language: str = field(
        default="en", metadata={"help": "ISO 639 code of the source data D_SRC (the model card's `language`)."}
    )
    target_language: str | None = field(
        default=None,
        metadata={
            "help": "ISO 639 code of the translation D_TGT (the model card's `language`; default: the languages of "
            "--test_files)."
        },
    )

    @property
    def translations(self) -> dict[str | None, str]:
        """The translation files by target language (`None` keys the one `--translation_file`)."""
        if self.translation_file is not None:
            return {self.target_language: self.translation_file}
        return dict(self.translation_sets)

    def __post_init__(self) -> None:
        if self.train_file is None and self.dataset_name is None:
            raise UsageError("give --train_file or --dataset_name")
        check_language_code("--source_language", self.source_language)
        check_language_code("--target_language", self.target_language)
        for option in ("train_file", "translation_file", "validation_file"):
            _existing_file(getattr(self, option), f"--{option}")
        if self.translation_file is not None and self.translation_files:
            raise UsageError("give --translation_file (one language) or --translation_files (LANG=PATH ...), not both")
        self.translation_sets = parse_language_files(
            "--translation_files", self.translation_files, language_codes=True
        )
        if self.translation_sets and self.target_language is not None:
            raise UsageError(
                "--target_language names the one language of --translation_file; --translation_files "
                "names its languages itself"
            )
        self.test_sets = parse_language_files("--test_files", self.test_files)
        if self.max_seq_length < 4:
            raise UsageError(f"--max_seq_length must be at least 4, got {self.max_seq_length}")
        for option in ("max_train_samples", "max_eval_samples"):
            value = getattr(self, option)
            if value is not None and value < 1:
                raise UsageError(f"--{option} must be at least 1, got {value}")
        if self.pair_by not in ("auto", "id", "index"):
            raise UsageError(f"--pair_by must be auto, id or index, got {self.pair_by!r}")


@dataclass
class ConCNERArguments:
    """Loss weights, temperatures and the paper variant."""

    freeze_embeddings: bool = field(
        default=False,
        metadata={"help": "Freeze the encoder's embeddings (faster on CPU; keeps unseen words aligned)."},
    )
    freeze_bottom_layers: int = field(default=0, metadata={"help": "Freeze the first N encoder layers."})
    variant: str | None = field(
        default=None, metadata={"help": f"Paper variant: {', '.join(VARIANTS)} (sets train_on/lcl/tcl weights)."}
    )
    train_on: str | None = field(
        default=None, metadata={"help": "source, translation or both (default: the variant's, else both)."}
    )
    ce_weight: float = field(default=0.5, metadata={"help": "α, weight of the cross-entropy (paper: 0.5)."})
    lcl_weight: float | None = field(
        default=None, metadata={"help": "Weight of LCL (default: the variant's, else β = 0.25)."}
    )
    tcl_weight: float | None = field(
        default=None, metadata={"help": "Weight of TCL (default: the variant's, else β = 0.25)."}
    )
    lcl_temperature: float = field(default=0.1, metadata={"help": "τ of LCL (paper: 0.1)."})
    tcl_temperature: float = field(default=0.1, metadata={"help": "τ of TCL (paper: 0.1)."})
    lcl_positive: str = field(default="label", metadata={"help": "LCL positives: same `label` or same `entity_type`."})
    lcl_o_sample_ratio: float | None = field(
        default=None,
        metadata={
            "help": "Beyond the paper: keep at most this many random O anchors per entity anchor in LCL (0: none; "
            "default: all, the paper)."
        },
    )
    lcl_o_in_denominator: bool = field(
        default=True,
        metadata={
            "help": "With --lcl_o_sample_ratio: false drops the O tokens that are not kept anchors from LCL's "
            "denominators and positives (default: true, kept)."
        },
    )
    lcl_class_weighting: str | None = field(
        default=None,
        metadata={
            "help": "LCL anchor weights: `none` (paper) or `balanced` (inverse class frequency among the anchors, "
            "averaging to 1). Default: `balanced` for the `concner` variant (and no --variant), which won the "
            "README's LCL ablation on English dev; `none` (the paper's) for every other variant."
        },
    )
    contrastive_gather: bool = field(
        default=False, metadata={"help": "Contrast against the representations of all processes (global batch)."}
    )

    def __post_init__(self) -> None:
        if self.variant is not None and self.variant not in VARIANTS:
            raise UsageError(f"--variant must be one of {', '.join(VARIANTS)}, got {self.variant!r}")
        train_on, lcl, tcl = VARIANTS[self.variant] if self.variant else ("both", PAPER_LCL_WEIGHT, PAPER_TCL_WEIGHT)
        self.train_on = train_on if self.train_on is None else self.train_on
        self.lcl_weight = lcl if self.lcl_weight is None else self.lcl_weight
        self.tcl_weight = tcl if self.tcl_weight is None else self.tcl_weight
        if self.train_on not in TRAIN_ON:
            raise UsageError(f"--train_on must be one of {', '.join(TRAIN_ON)}, got {self.train_on!r}")
        if self.lcl_positive not in LCL_POSITIVE_MODES:
            raise UsageError(
                f"--lcl_positive must be one of {', '.join(LCL_POSITIVE_MODES)}, got {self.lcl_positive!r}"
            )
        ratio = self.lcl_o_sample_ratio
        if ratio is not None and not (math.isfinite(ratio) and ratio >= 0):
            raise UsageError(f"--lcl_o_sample_ratio must be a finite number >= 0, got {ratio}")
        if not self.lcl_o_in_denominator and ratio is None:
            raise UsageError("--lcl_o_in_denominator false needs --lcl_o_sample_ratio (which O anchors to keep)")
        if self.lcl_class_weighting is None:
            self.lcl_class_weighting = default_lcl_class_weighting(self.variant)
        if self.lcl_class_weighting not in LCL_CLASS_WEIGHTINGS:
            raise UsageError(
                f"--lcl_class_weighting must be one of {', '.join(LCL_CLASS_WEIGHTINGS)}, "
                f"got {self.lcl_class_weighting!r}"
            )
        for name in ("ce_weight", "lcl_weight", "tcl_weight"):
            if getattr(self, name) < 0:
                raise UsageError(f"--{name} must be >= 0, got {getattr(self, name)}")
        for name in ("lcl_temperature", "tcl_temperature"):
            if getattr(self, name) <= 0:
                raise UsageError(f"--{name} must be > 0, got {getattr(self, name)}")
        if self.ce_weight + self.lcl_weight + self.tcl_weight == 0:
            raise UsageError("all loss weights are 0: nothing to train")
        if self.tcl_weight > 0 and self.train_on != "both":
            raise UsageError(
                f"TCL (--tcl_weight {self.tcl_weight}) needs source sentences and their translations in the same "
                f"batch, i.e. --train_on both (got --train_on {self.train_on}); set --tcl_weight 0 otherwise"
            )


# ---------------------------------------------------------------------------------------------- arguments


def _parser():
    from trainers.arguments import ConCNERTrainingArguments

    return argument_parser((ModelArguments, DataArguments, ConCNERArguments, ConCNERTrainingArguments))


def parse_arguments(argv: list[str] | None = None) -> tuple[Any, Any, Any, Any]:
    """Parse `argv` (default `sys.argv[1:]`) into (model, data, concner, training) argument dataclasses.

    A first argument ending in `.json`/`.yaml`/`.yml` is a config file; options after it override its values.

    Args:
        argv: command-line arguments.

    Raises:
        UsageError: unknown option, bad value, missing file, inconsistent settings.
    """
    parser = _parser()
    parser.set_defaults(hub_strategy="end")  # push once, with our model card; never mid-run pickled state
    argv = apply_config_file(parser, sys.argv[1:] if argv is None else argv)
    parser.set_defaults(do_train=True)  # the script's job; `--do_train false` evaluates a trained teacher
    if not accelerator_available():
        # No GPU: say so to transformers, so that `--bf16` means CPU autocast (instead of "your setup doesn't
        # support bf16/gpu") and torchrun / accelerate launch use gloo DDP (MULTI_CPU).
        parser.set_defaults(use_cpu=True)
    _, unknown_args = parser.parse_known_args(argv)
    if unknown_args:
        raise UsageError(f"unrecognized arguments: {' '.join(unknown_args)}")
    try:
        model_args, data_args, concner_args, training_args = parser.parse_args_into_dataclasses(args=argv)
    except UsageError:
        raise
    except ValueError as exc:  # TrainingArguments validation, unused arguments
        raise UsageError(one_line(exc)) from None
    if training_args.output_dir is None:
        raise UsageError("--output_dir is required")
    training_args.resume_from_checkpoint = check_output_dir(
        training_args.output_dir,
        resume_from_checkpoint=training_args.resume_from_checkpoint,
        overwrite=training_args.overwrite_output_dir,
        inputs=[
            ("--model_name_or_path", model_args.model_name_or_path),
            ("--tokenizer_name", model_args.tokenizer_name),
        ],
    )
    if not data_args.translations and concner_args.tcl_weight > 0:
        raise UsageError(
            f"TCL (--tcl_weight {concner_args.tcl_weight}) needs translation pairs: give --translation_file, "
            "or switch TCL off (--tcl_weight 0, e.g. --variant en_lcl)"
        )
    if not data_args.translations and concner_args.train_on != "source":
        raise UsageError(f"--train_on {concner_args.train_on} needs --translation_file (the translated source)")
    return model_args, data_args, concner_args, training_args


# ---------------------------------------------------------------------------------------------- data


@dataclass
class PreparedData:
    """Everything the trainer needs, built from the arguments."""

    label_list: list[str]
    train_features: Any
    eval_features: Any | None
    eval_references: list[list[str]] | None
    test_features: dict[str, Any]
    test_references: dict[str, list[list[str]]]
    pairing_summaries: dict[str | None, Any]
    types_mapped_to_o: list[str]
    notes: list[str]
    labelled_tokens: int
    source_size: int
    target_sizes: dict[str | None, int]

    @property
    def target_size(self) -> int | None:
        """Translated sentences kept for training, over every language (None without a translation)."""
        return sum(self.target_sizes.values()) if self.target_sizes else None


def _load(spec: str, *, config_name: str | None = None, split: str = "train"):
    from concner.data.readers import load_ner_dataset

    return load_ner_dataset(os.path.expanduser(spec), config_name=config_name, split=split)


@dataclass
class LoadedData:
    """The sentence-level datasets of a run, checked and reconciled (before tokenisation)."""

    label_list: list[str]
    train: Any
    validation: Any | None
    tests: dict[str, Any]
    pairing_summaries: dict[str | None, Any]  # per target language (None: the one --translation_file)
    types_mapped_to_o: list[str]
    notes: list[str]
    source_size: int
    # the translation rows kept for training (D_TGT) per target language, when the variant uses them
    translations: dict[str | None, Any] = field(default_factory=dict)

    @property
    def pairing_summary(self) -> Any | None:
        """The pairing summary of a one-language run (None without translation or with several languages)."""
        return next(iter(self.pairing_summaries.values())) if len(self.pairing_summaries) == 1 else None


def load_data(data_args: DataArguments, concner_args: ConCNERArguments, seed: int) -> LoadedData:
    """Read, sample, reconcile and pair the data for the chosen variant (no tokenizer needed).

    Args:
        data_args: data options.
        concner_args: variant and loss options (`train_on`).
        seed: seed of the source sampling.

    Raises:
        DataError: malformed data. UsageError: label sets that cannot be reconciled, nothing to train on.
    """
    from datasets import concatenate_datasets

    from concner.data.labels import build_label_list, map_types_to_o
    from concner.data.pairing import pair_translations, sample_source

    if data_args.train_file is not None:
        source = _load(data_args.train_file)
    else:
        source = _load(data_args.dataset_name, config_name=data_args.dataset_config_name)
    validation = None
    if data_args.validation_file is not None:
        validation = _load(data_args.validation_file)
    elif data_args.dataset_name is not None:
        validation = _load(
            data_args.dataset_name, config_name=data_args.dataset_config_name, split=data_args.validation_split
        )
    if validation is not None and data_args.max_eval_samples is not None:
        validation = validation.select(range(min(len(validation), data_args.max_eval_samples)))
    needs_translation = concner_args.train_on in ("translation", "both")
    if needs_translation and not data_args.translations:
        raise UsageError(f"--train_on {concner_args.train_on} needs --translation_file")
    translations = {lang: _load(path) for lang, path in data_args.translations.items()} if needs_translation else {}
    tests = {lang: _load(spec) for lang, spec in data_args.test_sets.items()}

    available = len(source)
    source = sample_source(source, data_args.max_train_samples, seed)
    notes = []
    if data_args.max_train_samples is not None and data_args.max_train_samples > available:
        notes.append(
            f"note: --max_train_samples {data_args.max_train_samples} but the source has only {available} sentences: "
            f"all {available} are used"
        )
    targets = {f"test set {lang!r}": build_label_list(ds) for lang, ds in tests.items()}
    if validation is not None:
        targets["dev set"] = build_label_list(validation)
    for lang, translation in translations.items():
        targets["translation" if lang is None else f"translation {lang!r}"] = build_label_list(translation)
    drop, type_notes = plan_types_to_o(build_label_list(source), targets, data_args.map_types_to_o)
    notes += type_notes
    if drop:
        source = map_types_to_o(source, drop)
        validation = map_types_to_o(validation, drop) if validation is not None else None
        translations = {lang: map_types_to_o(ds, drop) for lang, ds in translations.items()}
        tests = {lang: map_types_to_o(ds, drop) for lang, ds in tests.items()}
    label_list = build_label_list(source, *([validation] if validation is not None else []))
    summaries, paired = {}, {}
    if concner_args.train_on == "source":
        train = _with_pair_ids(source, None)
    else:
        kept_in_any = [-1] * len(source)
        for lang, translation in translations.items():
            paired_source, paired[lang], summaries[lang] = pair_translations(
                source, translation, by=data_args.pair_by, check_entity_types=data_args.check_entity_types
            )
            kept_in_any = [max(a, b) for a, b in zip(kept_in_any, paired_source["pair_id"])]
        columns = ["id", "tokens", "ner_tags", "pair_id"]
        kept = [ds.select_columns(columns) for ds in paired.values()]
        if concner_args.train_on == "translation":
            train = _with_pair_ids(concatenate_datasets(kept), None)
        else:
            if concner_args.tcl_weight > 0 and sum(summary.kept for summary in summaries.values()) == 0:
                raise UsageError("TCL is on but no source sentence could be paired with its translation")
            # A source row is paired (pair id = its row) when some language kept its translation; with several
            # languages the PairedBatchSampler draws one translation per source and epoch.
            train = concatenate_datasets([_with_pair_ids(source, kept_in_any).select_columns(columns), *kept])
    if len(train) == 0:
        raise UsageError("no training sentences left")
    return LoadedData(
        label_list=label_list,
        train=train,
        validation=validation,
        tests=tests,
        pairing_summaries=summaries,
        types_mapped_to_o=sorted(drop),
        notes=notes,
        source_size=len(source),
        translations=paired,
    )


def tokenize_data(loaded: LoadedData, tokenizer: Any, max_seq_length: int) -> PreparedData:
    """Tokenise the loaded datasets into model features (`concner.data.tokenization.tokenize_and_align`).

    Args:
        loaded: the output of `load_data`.
        tokenizer: a fast tokenizer.
        max_seq_length: maximum sub-word tokens per row.
    """
    from concner.data.tokenization import sort_for_inference, tokenize_and_align

    label2id = {label: i for i, label in enumerate(loaded.label_list)}

    def featurize(dataset: Any) -> Any:
        return tokenize_and_align(dataset, tokenizer, label2id, max_seq_length)

    train_features = featurize(loaded.train)
    labelled = sum(sum(1 for x in row if x != -100) for row in train_features["labels"])
    summaries = loaded.pairing_summaries
    return PreparedData(
        label_list=loaded.label_list,
        train_features=train_features,
        eval_features=sort_for_inference(featurize(loaded.validation)) if loaded.validation is not None else None,
        eval_references=list(loaded.validation["ner_tags"]) if loaded.validation is not None else None,
        test_features={lang: sort_for_inference(featurize(ds)) for lang, ds in loaded.tests.items()},
        test_references={lang: list(ds["ner_tags"]) for lang, ds in loaded.tests.items()},
        pairing_summaries=summaries,
        types_mapped_to_o=loaded.types_mapped_to_o,
        notes=loaded.notes,
        labelled_tokens=labelled,
        source_size=loaded.source_size,
        target_sizes={lang: summary.kept for lang, summary in summaries.items()},
    )


def _with_pair_ids(dataset: Any, values: list[int] | None) -> Any:
    """`dataset` with a `pair_id` column (all -1 unless `values` is given)."""
    if "pair_id" in dataset.column_names:
        dataset = dataset.remove_columns("pair_id")
    return dataset.add_column("pair_id", values if values is not None else [-1] * len(dataset))


# ---------------------------------------------------------------------------------------------- model


def build_teacher(
    model_path: str, label_list: list[str], concner_args: ConCNERArguments, attn_implementation: str | None = None
) -> Any:
    """`ConCNERForTokenClassification` initialised from any BERT-architecture checkpoint.

    Args:
        model_path: local folder or Hub id of the encoder.
        label_list: the label names (index = label id).
        concner_args: loss weights and temperatures.
        attn_implementation: the attention kernel (`None`: transformers' default).

    Raises:
        UsageError: the checkpoint is not a BERT encoder (its encoder weights would not load).
    """
    from modeling_concner import METHOD_FIELDS, ConCNERConfig, ConCNERForTokenClassification

    config = ConCNERConfig.from_pretrained(
        model_path,
        num_labels=len(label_list),
        id2label=dict(enumerate(label_list)),
        label2id={label: i for i, label in enumerate(label_list)},
        **{name: getattr(concner_args, name) for name in METHOD_FIELDS},
    )
    attention = attention_kwargs(attn_implementation)
    model, info = ConCNERForTokenClassification.from_pretrained(
        model_path, config=config, ignore_mismatched_sizes=True, output_loading_info=True, **attention
    )
    missing_encoder = [k for k in info.get("missing_keys", []) if k.startswith("bert.encoder.")]
    if missing_encoder:
        raise UsageError(
            f"{model_path} is not a BERT-architecture checkpoint: {len(missing_encoder)} encoder weights missing "
            f"(e.g. {missing_encoder[0]})"
        )
    return model


def build_model_card(
    data_args: DataArguments, concner_args: ConCNERArguments, loaded: LoadedData, data: PreparedData
) -> Any:
    """The trainer's card writer (`concner.model_card.ModelCardCallback`), told about the data and the variant.

    The card (`README.md` in every checkpoint and in the output folder) is the trainer's business; this script only
    gives it the languages, the files and sizes used and the widget sentences (from the translation D_TGT, else the
    source).
    """
    from concner.model_card import ConCNERModelCardData, ModelCardCallback

    if data_args.translation_sets:
        target = list(data_args.translation_sets)
    else:
        target = [data_args.target_language] if data_args.target_language else list(data_args.test_sets)
    card = ConCNERModelCardData(source_language=data_args.source_language, target_languages=target or None)
    card.set_hyperparameters(
        max_seq_length=data_args.max_seq_length,
        max_train_samples=data.source_size if data_args.max_train_samples is not None else None,  # as used
        variant=concner_args.variant or "custom",
        train_on=concner_args.train_on,
    )
    hub_source = data_args.train_file is None
    if hub_source and not os.path.exists(data_args.dataset_name):
        card.dataset_ids.append(data_args.dataset_name)
    source = data_args.train_file or data_args.dataset_name
    if hub_source and data_args.dataset_config_name:
        source = f"{source} ({data_args.dataset_config_name})"
    validation = data_args.validation_file
    if validation is None and loaded.validation is not None:
        validation = f"{source}, split {data_args.validation_split}"
    card.set_training_data(
        source_size=data.source_size,
        source_file=source,
        target_size=data.target_size,
        translation_file=(data_args.translation_sets or data_args.translation_file) if loaded.translations else None,
        validation_size=len(loaded.validation) if loaded.validation is not None else None,
        validation_file=validation,
    )
    if len(loaded.translations) > 1:
        card.set_widget_examples(loaded.translations)  # a sentence of every language
    else:
        card.set_widget_examples(next(iter(loaded.translations.values()), loaded.train))
    return ModelCardCallback(card)


# ---------------------------------------------------------------------------------------------- main


def _print(*lines: str) -> None:
    for line in lines:
        print(line, flush=True)


def _describe(data: PreparedData, concner_args: ConCNERArguments) -> list[str]:
    lines = ["label map: " + ", ".join(f"{i}={label}" for i, label in enumerate(data.label_list))]
    lines.extend(data.notes)
    if data.types_mapped_to_o:
        lines.append(f"entity types mapped to O: {', '.join(data.types_mapped_to_o)}")
    lines.append(
        f"variant: train_on={concner_args.train_on} ce_weight={concner_args.ce_weight} "
        f"lcl_weight={concner_args.lcl_weight} tcl_weight={concner_args.tcl_weight}"
    )
    for lang, summary in data.pairing_summaries.items():
        text = str(summary).splitlines()
        if lang is not None and len(data.pairing_summaries) > 1:
            text[0] = f"[{lang}] {text[0]}"
        lines.extend(text)
    units = sum(1 for p in data.train_features["pair_id"] if p < 0) + len(
        {p for p in data.train_features["pair_id"] if p >= 0}
    )
    lines.append(
        f"training rows: {len(data.train_features)} ({units} batching units); labelled tokens: {data.labelled_tokens}"
    )
    return lines


def run(argv: list[str] | None = None) -> dict[str, float]:
    """Parse arguments, train, select on the source dev set, score the target test sets; returns all metrics.

    Raises:
        UsageError, DataError: bad arguments or data (before any training starts).
    """
    from transformers import AutoConfig, AutoTokenizer, set_seed
    from transformers.trainer_utils import IntervalStrategy

    from concner.metrics import argmax_logits, build_compute_metrics
    from trainers import ConCNERTrainer, DataCollatorForConCNER

    model_args, data_args, concner_args, training_args = parse_arguments(argv)
    loaded = load_data(data_args, concner_args, training_args.seed)  # every process: an error stops them all
    try:
        model_path = resolve_model_name(model_args.model_name_or_path)
    except (OSError, ValueError) as exc:  # e.g. concner.encoders.ConversionError
        raise UsageError(f"--model_name_or_path {model_args.model_name_or_path}: {exc}") from None
    check_model_folder("--model_name_or_path", model_path)
    try:
        config = AutoConfig.from_pretrained(model_path)
    except (OSError, ValueError) as exc:
        raise UsageError(f"cannot load the model {model_path}: {one_line(exc)}") from None
    check_max_seq_length(data_args.max_seq_length, config, model_path)
    if not training_args.do_train and trained_labels(config) != loaded.label_list:
        raise UsageError(
            f"--do_train false evaluates {model_path} as it is, but its classifier is not trained on these labels "
            f"({', '.join(loaded.label_list)}); it would score an untrained head"
        )
    try:
        tokenizer = AutoTokenizer.from_pretrained(model_args.tokenizer_name or model_path)
    except (OSError, ValueError) as exc:
        name = model_args.tokenizer_name or model_path
        raise UsageError(f"cannot load the tokenizer of {name}: {one_line(exc)}") from None
    if not getattr(tokenizer, "is_fast", False):
        raise UsageError(f"{model_path}: a fast tokenizer is needed (word alignment)")
    with training_args.main_process_first(desc="tokenization"):
        data = tokenize_data(loaded, tokenizer, data_args.max_seq_length)
    if data.eval_features is None and training_args.eval_strategy != IntervalStrategy.NO:
        _print("note: no validation set given: no evaluation and no best-checkpoint selection")
        training_args.eval_strategy = IntervalStrategy.NO
        training_args.load_best_model_at_end = False
    if training_args.process_index == 0:
        _print(*_describe(data, concner_args))

    set_seed(training_args.seed)
    try:
        attention = resolve_attn_implementation(model_args.attn_implementation, training_args.bf16)
        model = build_teacher(model_path, data.label_list, concner_args, attention)
    except OSError as exc:
        raise UsageError(f"cannot load the model {model_path}: {one_line(exc)}") from None
    if concner_args.freeze_embeddings or concner_args.freeze_bottom_layers:
        from trainers.freezing import freeze_layers

        frozen = freeze_layers(model, concner_args.freeze_embeddings, concner_args.freeze_bottom_layers)
        weights = sum(p.numel() for p in model.parameters() if not p.requires_grad)
        _print(f"frozen: {len(frozen)} parameter tensors ({weights:,} weights)")
    if training_args.do_train and resolve_dropout_kernel(model_args.dropout_kernel, training_args.bf16) == "fast":
        from trainers.fast_dropout import use_fast_dropout

        _print(f"dropout: the fast kernel in {use_fast_dropout(model)} dropout modules")
    # run_distill initialises the student from the teacher's base encoder, as in the paper.
    model.config.base_model_name_or_path = model_args.model_name_or_path
    # The languages the teacher was paired with (run_distill checks --unlabeled_files against them).
    languages = [lang for lang in data_args.translations if lang is not None]
    if languages and concner_args.train_on != "source":
        model.config.translation_languages = languages
    id2label = dict(enumerate(data.label_list))
    compute_metrics = (
        build_compute_metrics(data.eval_features, data.eval_references, id2label)
        if data.eval_features is not None
        else None
    )
    trainer = ConCNERTrainer(
        model=model,
        args=training_args,
        train_dataset=data.train_features,
        eval_dataset=data.eval_features,
        processing_class=tokenizer,
        data_collator=DataCollatorForConCNER(tokenizer, pad_to_multiple_of=None),
        compute_metrics=compute_metrics,
        preprocess_logits_for_metrics=argmax_logits,
        model_card=build_model_card(data_args, concner_args, loaded, data),
    )

    all_metrics: dict[str, float] = {}
    if training_args.do_train:
        train_result = trainer.train(resume_from_checkpoint=training_args.resume_from_checkpoint)
        trainer.save_model()
        metrics = dict(train_result.metrics)
        metrics["train_rows"] = len(data.train_features)
        trainer.log_metrics("train", metrics)
        trainer.save_metrics("train", metrics)
        trainer.save_state()
        all_metrics.update(metrics)

    if data.eval_features is not None:
        eval_metrics = trainer.evaluate()
        trainer.log_metrics("eval", eval_metrics)
        trainer.save_metrics("eval", eval_metrics)
        all_metrics.update(eval_metrics)

    for lang, features in data.test_features.items():
        trainer.compute_metrics = build_compute_metrics(features, data.test_references[lang], id2label)
        output = trainer.predict(features, metric_key_prefix=f"test_{lang}")
        trainer.log_metrics(f"test_{lang}", output.metrics)
        trainer.save_metrics(f"test_{lang}", output.metrics)
        all_metrics.update(output.metrics)
    trainer.compute_metrics = compute_metrics

    if training_args.push_to_hub:
        trainer.push_to_hub()  # saves, writes the ConCNER card once, uploads the model files only
    elif training_args.do_train:
        trainer.create_model_card()
    if model_args.export_plain_bert and trainer.is_world_process_zero():
        from concner.export import export_plain_bert

        path = export_plain_bert(training_args.output_dir, os.path.join(training_args.output_dir, "bert"))
        _print(f"plain BertForTokenClassification saved to {path}")
    # Every process finishes its work (the main one writes the card) before any tears the process group down: a gloo
    # process whose peer has already exited can abort at teardown (SIGABRT), failing a finished torchrun job.
    trainer.accelerator.wait_for_everyone()
    return all_metrics


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point (`concner-train`); returns the exit status (2 on bad arguments or data)."""
    return run_cli(lambda: run(argv), cleanup=destroy_process_group)


if __name__ == "__main__":
    sys.exit(main())
