"""Model cards for ConCNER teachers and students: card data, the callback that fills and writes it, Hub upload.

Follows SpanMarker's `model_card.py`. A `huggingface_hub.CardData` subclass, [`ConCNERModelCardData`], holds the
user's fields (languages, base model, datasets, license, model id), what the training scripts know about the data
(files or Hub ids and the sizes used, widget sentences from the target-language training text) and what a
[`ModelCardCallback`] fills during training (hyperparameters, loss history, evaluation metrics). The YAML header is a
`huggingface_hub.ModelCardData` (its `eval_results` become the `model-index`), the hyperparameters and tables come
from `transformers.modelcard`, and `model_card_template.md` renders the body.

The trainers own the card (`trainers.base.ConCNERBaseTrainer`): given a [`ModelCardCallback`] as `model_card`, their
`create_model_card` writes it as `README.md` and their `push_to_hub` uploads the folder with [`push_folder_to_hub`]
(card, config, safetensors weights, tokenizer, custom code and nothing else). Every checkpoint gets its card from the
callback's `on_save`; [`write_model_card`] also writes the card of a saved folder.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from enum import Enum
from pathlib import Path
from platform import python_version
from types import SimpleNamespace
from typing import Any

import datasets
import huggingface_hub
import tokenizers
import torch
import transformers
from huggingface_hub import CardData, EvalResult, HfApi, ModelCard, ModelCardData
from transformers import TrainerCallback, TrainingArguments
from transformers.modelcard import extract_hyperparameters_from_trainer, make_markdown_table, parse_log_history

import concner
from concner.io_utils import atomic_write_text
from modeling_concner.configuration_concner import METHOD_FIELDS

logger = logging.getLogger(__name__)

TEMPLATE_PATH = Path(__file__).parent / "model_card_template.md"
CARD_NAME = "README.md"
TASK_NAME = "Named Entity Recognition"
TASK_TYPE = "token-classification"
# Only when the card knows no training text (a card written for a folder by hand).
DEFAULT_EXAMPLE = "Peter Smith flew from London to Berlin for a meeting of the European Commission."
WIDGET_COUNT = 5

# Files a finished model folder may upload: card, config, weights (safetensors only), tokenizer, remote code,
# result summaries. Checkpoints, optimizer/scheduler state, pickles and TensorBoard runs never leave the machine.
HUB_ALLOW_PATTERNS = [
    CARD_NAME,
    "config.json",
    "generation_config.json",
    "*.safetensors",
    "model.safetensors.index.json",
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "added_tokens.json",
    "vocab.txt",
    "vocab.json",
    "merges.txt",
    "*.model",
    "*.py",
    "*_results.json",
]
# A model folder is flat: anything in a sub-folder (checkpoints, runs, an exported copy) stays local.
HUB_IGNORE_PATTERNS = [
    "*/*",
    "checkpoint-*",
    "runs/*",
    "_*",
    ".*",
    "*.bin",
    "*.pt",
    "*.pth",
    "*.pkl",
    "*.ckpt",
    "*.npy",
]

# The paper as ../shared/paper states it (Fu, Lin, Yang, Jiang, arXiv:2204.00796; no venue named there), the
# entry of the README's "Citation" section.
CITATION = """@article{fu2022concner,
  title   = {A Dual-Contrastive Framework for Low-Resource Cross-Lingual Named Entity Recognition},
  author  = {Fu, Yingwen and Lin, Nankai and Yang, Ziyu and Jiang, Shengyi},
  journal = {arXiv preprint arXiv:2204.00796},
  year    = {2022}
}"""

# Paper symbols for the ConCNER config fields (eq. 8: L = α·CE + β·(LCL + TCL)).
_METHOD_FIELDS = {name: f"{symbol} ({name})" if symbol else name for name, symbol in METHOD_FIELDS.items()}
_LOSS_COLUMNS = {"loss": "Training Loss", "ce_loss": "CE", "lcl_loss": "LCL", "tcl_loss": "TCL", "kd_loss": "KD"}
_SPLIT_NAMES = {"eval": "validation", "test": "test", "predict": "test"}
_OVERALL_KEYS = ("precision", "recall", "f1", "accuracy", "loss", "runtime", "samples_per_second", "steps_per_second")
# Training-data facts: (size key, file key, label) in the order of the card's list.
_DATA_FACTS = (
    ("source_size", "source_file", "Labelled source sentences (D_SRC)"),
    ("target_size", "translation_file", "Translated sentences kept (D_TGT)"),
    (None, "translation_backend", "Translation backend"),
    ("unlabeled_size", "unlabeled_file", "Unlabelled target sentences (D_U)"),
    (None, "unlabeled_dataset", "Unlabelled target data"),
    ("validation_size", "validation_file", "Source dev set (model selection)"),
    (None, "teachers", "Teacher"),
)
_FILE_KEYS = ("source_file", "translation_file", "unlabeled_file", "validation_file")


def _versions() -> dict[str, str]:
    return {
        "python": python_version(),
        "concner": concner.__version__,
        "transformers": transformers.__version__,
        "torch": torch.__version__,
        "datasets": datasets.__version__,
        "tokenizers": tokenizers.__version__,
        "huggingface_hub": huggingface_hub.__version__,
    }


def _jsonable(value: Any) -> Any:
    """Make `value` YAML/JSON friendly (enums and paths become strings, containers are converted recursively)."""
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, (bool, int, float, str)) or value is None:
        return value
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set)):
        return [_jsonable(v) for v in value]
    return str(value)


def _slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-") or "custom"


def data_reference(spec: str | os.PathLike) -> str:
    """How the card names a data file, model folder or Hub id.

    A local path is shown relative to the working folder when it lies inside it, else as its last two parts (so no
    home folder reaches a public card); anything else (a Hub id) as it is.
    """
    text = os.fspath(spec)
    path = Path(os.path.expanduser(text))
    if not path.exists():
        return text
    resolved = path.resolve()
    try:
        return resolved.relative_to(Path.cwd().resolve()).as_posix()
    except ValueError:
        return "/".join(resolved.parts[-2:])


def _file_reference(value: str | os.PathLike | Mapping[str, str | os.PathLike]) -> str | dict[str, str]:
    """`data_reference` of a file, or of each file of a `{language: file}` mapping (several target languages)."""
    if isinstance(value, Mapping):
        return {str(lang): data_reference(path) for lang, path in value.items()}
    return data_reference(value)


def widget_sentences(rows: Sequence[Mapping[str, Any]], count: int = WIDGET_COUNT) -> list[str]:
    """Up to `count` distinct example sentences from sentence rows (`tokens`, optionally `ner_tags`).

    Sentences of 3 to 40 words are preferred; labelled rows (a translation with projected tags) are ranked by their
    number of entity types, then of entities (as SpanMarker picks its widget examples); unlabelled rows keep their
    order.
    """

    def richness(row: Mapping[str, Any]) -> tuple[int, int]:
        tags = [tag for tag in row.get("ner_tags") or [] if tag != "O"]
        return len({tag.split("-", 1)[-1] for tag in tags}), sum(tag.startswith("B-") for tag in tags)

    rows = [row for row in rows if row.get("tokens")]
    candidates = [row for row in rows if 3 <= len(row["tokens"]) <= 40] or rows
    if any(row.get("ner_tags") for row in candidates):
        candidates = sorted(candidates, key=richness, reverse=True)  # stable: ties keep the file's order
    texts: list[str] = []
    for row in candidates:
        text = " ".join(str(token) for token in row["tokens"])
        if text not in texts:
            texts.append(text)
        if len(texts) == count:
            break
    return texts


@dataclass
class ConCNERModelCardData(CardData):
    """Everything the model card of a ConCNER teacher or student says.

    Args:
        source_language (`str`, *optional*, defaults to `"en"`): language of the labelled source data D_SRC.
        target_languages (`str` or `list[str]`, *optional*): language(s) the model is meant for (of D_TGT / D_U).
        language (`str` or `list[str]`, *optional*): the `language` metadata; defaults to source + targets.
        license (`str`, *optional*, defaults to `"apache-2.0"`): the model's license.
        model_name (`str`, *optional*): a pretty name; built from role and languages when not given.
        model_id (`str`, *optional*): the Hub repository (`org/name`) used in the usage snippet.
        base_model (`str`, *optional*): the Hub id of the encoder the model was initialised from, e.g.
            `"google-bert/bert-base-multilingual-cased"`. Taken from the model's `name_or_path` when that is a Hub id.
        source_dataset (`str`, *optional*): a pretty name of the source data, e.g. `"CoNLL-2003 (English)"`.
        dataset_ids (`list[str]`): Hub dataset ids for the `datasets` metadata.
        test_datasets (`dict[str, str]`): language → pretty name of its evaluation set,
            e.g. `{"de": "CoNLL-2003 German"}`.
        model_role (`str`, *optional*): `"teacher"` or `"student"`; inferred from the model and arguments.
        example_sentence (`str`, *optional*): the sentence of the usage snippet; defaults to the shortest widget
            example.
        widget_examples (`list[str]`): the Hub widget's sentences; [`set_widget_examples`] takes them from the
            target-language training text.
        tags (`list[str]`): Hub tags.
    """

    # Provided by the user / script.
    source_language: str | None = "en"
    target_languages: str | list[str] | None = None
    language: str | list[str] | None = None
    license: str | None = "apache-2.0"
    model_name: str | None = None
    model_id: str | None = None
    base_model: str | None = None
    source_dataset: str | None = None
    dataset_ids: list[str] = field(default_factory=list)
    test_datasets: dict[str, str] = field(default_factory=dict)
    model_role: str | None = None
    example_sentence: str | None = None
    widget_examples: list[str] = field(default_factory=list)
    tags: list[str] = field(
        default_factory=lambda: ["concner", "token-classification", "ner", "named-entity-recognition", "cross-lingual"]
    )
    max_loss_rows: int = 50

    # Filled by `ModelCardCallback`, `register_model` and `set_training_data`.
    hyperparameters: dict[str, Any] = field(default_factory=dict, init=False)
    method_parameters: dict[str, Any] = field(default_factory=dict, init=False)
    training_data: dict[str, Any] = field(default_factory=dict, init=False)
    log_history: list[dict[str, Any]] = field(default_factory=list, init=False)
    eval_metrics: dict[str, dict[str, float]] = field(default_factory=dict, init=False)
    labels: list[str] = field(default_factory=list, init=False)
    model_type: str | None = field(default=None, init=False)
    architecture: str | None = field(default=None, init=False)
    version: dict[str, str] = field(default_factory=_versions, init=False)

    # Never changed.
    pipeline_tag: str = field(default=TASK_TYPE, init=False)
    library_name: str = field(default="transformers", init=False)
    metrics: list[str] = field(default_factory=lambda: ["precision", "recall", "f1"], init=False)

    def __post_init__(self) -> None:
        if isinstance(self.target_languages, str):
            self.target_languages = [self.target_languages]
        if self.model_id is not None and self.model_id.count("/") != 1:
            raise ValueError(f"`model_id` must look like 'org/name', got {self.model_id!r}")

    # ------------------------------------------------------------------ filling
    def register_model(self, model: Any) -> None:
        """Read labels, model type and base model from a model (or its config)."""
        config = getattr(model, "config", model)
        id2label = getattr(config, "id2label", None) or {}
        if id2label:
            self.labels = [str(id2label[key]) for key in sorted(id2label, key=int)]
        # A config class names its type (an instance built from another config's dict may carry a stale one).
        self.model_type = (
            getattr(type(config), "model_type", None) or getattr(config, "model_type", None) or self.model_type
        )
        if hasattr(model, "config"):
            self.architecture = type(model).__name__
        else:
            self.architecture = (getattr(config, "architectures", None) or [self.architecture])[0]
        for key in _METHOD_FIELDS:
            if getattr(config, key, None) is not None and self.model_type == "concner":
                self.method_parameters[_METHOD_FIELDS[key]] = _jsonable(getattr(config, key))
        name = getattr(config, "_name_or_path", None) or getattr(config, "name_or_path", None)
        if self.base_model is None and name and not os.path.exists(name) and name.count("/") <= 1:
            self.base_model = name
        if self.model_role is None:
            self.model_role = "teacher" if self.model_type == "concner" else None

    def set_training_args(self, args: TrainingArguments) -> None:
        """Record the optimisation hyperparameters and, for a `TrainingArguments` subclass, its extra fields."""
        self.hyperparameters.update(training_hyperparameters(args))
        extra = extra_training_arguments(args)
        if extra:
            self.method_parameters.update(extra)
            if self.model_role is None and any("teacher" in k or k.startswith("kd") for k in extra):
                self.model_role = "student"

    def set_hyperparameters(self, **values: Any) -> None:
        """Add script-level settings (max sequence length, variant name, ...) to the hyperparameter list."""
        self.hyperparameters.update({k: _jsonable(v) for k, v in values.items() if v is not None})

    def set_training_data(
        self,
        *,
        source_size: int | None = None,
        source_file: str | os.PathLike | None = None,
        source_dataset: str | None = None,
        target_size: int | None = None,
        translation_file: str | os.PathLike | None = None,
        translation_backend: str | None = None,
        projection: Mapping[str, Any] | Any | None = None,
        unlabeled_size: int | None = None,
        unlabeled_file: str | os.PathLike | None = None,
        unlabeled_dataset: str | None = None,
        validation_size: int | None = None,
        validation_file: str | os.PathLike | None = None,
        teachers: Sequence[str | os.PathLike] | None = None,
        **extra: Any,
    ) -> None:
        """Describe the training data (called by the training scripts).

        Files are named as [`data_reference`] shows them (a Hub id as it is).

        Args:
            source_size: number of labelled source sentences used (|D_SRC|, after sampling).
            source_file: the file or Hub dataset D_SRC was read from.
            source_dataset: pretty name of the source data (overrides the field of the same name).
            target_size: number of translated sentences kept for training (|D_TGT|).
            translation_file: the file D_TGT was read from.
            translation_backend: how D_TGT was made (`aligned`, `seq2seq`, `lexicon`).
            projection: label-projection statistics, the `concner-translate` report (`build_report`) or any mapping
                / dataclass of numbers.
            unlabeled_size: number of unlabelled target sentences (|D_U|) used for distillation.
            unlabeled_file: the file or Hub dataset D_U was read from.
            unlabeled_dataset: pretty name of D_U.
            validation_size: number of source dev sentences used for model selection.
            validation_file: the file or Hub dataset they were read from.
            teachers: the teacher(s) a student was distilled from (folders or Hub ids).
            **extra: further `name: value` facts shown in the same list.
        """
        if source_dataset is not None:
            self.source_dataset = source_dataset
        if dataclasses.is_dataclass(projection) and not isinstance(projection, type):
            projection = dataclasses.asdict(projection)
        files = dict(
            source_file=source_file,
            translation_file=translation_file,
            unlabeled_file=unlabeled_file,
            validation_file=validation_file,
        )
        values = {
            "source_size": source_size,
            "target_size": target_size,
            "translation_backend": translation_backend,
            "projection": _jsonable(projection) if projection is not None else None,
            "unlabeled_size": unlabeled_size,
            "unlabeled_dataset": unlabeled_dataset,
            "validation_size": validation_size,
            "teachers": [data_reference(t) for t in teachers] if teachers else None,
            **{key: _file_reference(value) for key, value in files.items() if value is not None},
            **{k: _jsonable(v) for k, v in extra.items()},
        }
        self.training_data.update({k: v for k, v in values.items() if v is not None})

    def set_widget_examples(self, dataset: Any, count: int = WIDGET_COUNT, scan: int = 100) -> None:
        """Take the Hub widget's sentences from the first `scan` rows of `dataset` (see [`widget_sentences`]).

        Args:
            dataset: target-language training text: D_U for a student, the translation D_TGT for a teacher (a
                `datasets.Dataset` or a sequence of rows with `tokens`); or a `{language: dataset}` mapping, which
                gives every language at least one sentence (`count` shared out, languages in turn).
            count: at most this many sentences (at least one per language).
            scan: rows looked at.
        """
        if isinstance(dataset, Mapping):
            per_language = max(1, count // max(1, len(dataset)))
            chosen = []
            for part in dataset.values():
                self.set_widget_examples(part, per_language, scan)
                chosen.append(self.widget_examples)
            self.widget_examples = [
                text for rank in range(per_language) for texts in chosen for text in texts[rank : rank + 1]
            ]
            return
        if hasattr(dataset, "select") and hasattr(dataset, "to_list"):
            rows = dataset.select(range(min(scan, len(dataset)))).to_list()
        else:
            rows = list(dataset)[:scan]
        self.widget_examples = widget_sentences(rows, count)

    def add_metrics(self, metrics: Mapping[str, Any], prefix: str | None = None) -> None:
        """Store evaluation metrics (`eval_f1`, `eval_PER_f1`, `test_de_f1`, ...) under their split prefix.

        Args:
            metrics: what `Trainer.evaluate` / `Trainer.predict` returned.
            prefix: the `metric_key_prefix`; inferred from the keys when not given.
        """
        prefix = prefix or metric_prefix(metrics)
        if prefix is None:
            return
        values = {
            key[len(prefix) + 1 :]: float(value)
            for key, value in metrics.items()
            if key.startswith(prefix + "_") and isinstance(value, (int, float)) and not isinstance(value, bool)
        }
        if "f1" in values:
            self.eval_metrics[prefix] = values

    # ------------------------------------------------------------------ derived views
    @property
    def all_languages(self) -> list[str]:
        if self.language:
            return [self.language] if isinstance(self.language, str) else list(self.language)
        langs = ([self.source_language] if self.source_language else []) + list(self.target_languages or [])
        return list(dict.fromkeys(langs))

    @property
    def role(self) -> str:
        return self.model_role or ("teacher" if self.model_type == "concner" else "model")

    @property
    def needs_remote_code(self) -> bool:
        return self.model_type == "concner"

    def display_name(self) -> str:
        if self.model_name:
            return self.model_name
        name = f"ConCNER {self.role}"
        if self.source_language and self.target_languages:
            name += f" ({self.source_language} → {', '.join(self.target_languages)})"
        return name

    def split_language(self, prefix: str) -> tuple[str, str | None]:
        """`"test_de"` → `("test", "de")`; `"eval"` → `("validation", source language)`."""
        split, _, rest = prefix.partition("_")
        split_name = _SPLIT_NAMES.get(split, split)
        if rest:
            return split_name, rest
        if split == "eval":
            return split_name, self.source_language
        targets = list(self.target_languages or [])
        return split_name, targets[0] if len(targets) == 1 else None

    def eval_results(self) -> list[EvalResult]:
        """Per-language (per split) precision / recall / F1 for the `model-index` metadata."""
        results = []
        for prefix, values in self.eval_metrics.items():
            split, lang = self.split_language(prefix)
            dataset_name = self.test_datasets.get(lang or "") or (
                self.source_dataset if split == "validation" and self.source_dataset else None
            )
            dataset_name = dataset_name or f"{split} set" + (f" ({lang})" if lang else "")
            for metric in ("f1", "precision", "recall"):
                if metric not in values:
                    continue
                results.append(
                    EvalResult(
                        task_type=TASK_TYPE,
                        task_name=TASK_NAME,
                        dataset_type=_slug(dataset_name),
                        dataset_name=dataset_name,
                        dataset_config=lang,
                        dataset_split=split,
                        metric_type=metric,
                        metric_value=round(values[metric], 4),
                        metric_name={"f1": "F1"}.get(metric, metric.capitalize()),
                    )
                )
        return results

    def metric_rows(self) -> list[dict[str, Any]]:
        """One row per split × (all types, each type): language, split, type, P, R, F1, support."""
        rows = []
        for prefix, values in self.eval_metrics.items():
            split, lang = self.split_language(prefix)
            base = {"Language": lang or "-", "Split": split}
            rows.append(
                {
                    **base,
                    "Type": "**all**",
                    "Precision": values.get("precision"),
                    "Recall": values.get("recall"),
                    "F1": values.get("f1"),
                    "Entities": None,
                }
            )
            for entity_type in entity_types_in(values):
                rows.append(
                    {
                        **base,
                        "Type": entity_type,
                        "Precision": values.get(f"{entity_type}_precision"),
                        "Recall": values.get(f"{entity_type}_recall"),
                        "F1": values.get(f"{entity_type}_f1"),
                        "Entities": int(values[f"{entity_type}_number"])
                        if f"{entity_type}_number" in values
                        else None,
                    }
                )
        return rows

    @property
    def example(self) -> str:
        """The usage snippet's sentence: `example_sentence`, else the shortest widget example."""
        if self.example_sentence:
            return self.example_sentence
        if self.widget_examples:
            return min(self.widget_examples, key=lambda text: len(text.split()))
        return DEFAULT_EXAMPLE

    def metadata(self) -> ModelCardData:
        """The card's YAML header; the evaluation results become its `model-index`."""
        results = self.eval_results()
        return ModelCardData(
            language=self.all_languages or None,
            license=self.license,
            library_name=self.library_name,
            tags=list(self.tags) or None,
            datasets=list(dict.fromkeys(self.dataset_ids)) or None,
            metrics=list(self.metrics),
            pipeline_tag=self.pipeline_tag,
            base_model=self.base_model,
            eval_results=results or None,
            model_name=self.display_name() if results else None,
            widget=[{"text": text} for text in self.widget_examples or [self.example]],
        )

    def to_dict(self) -> dict[str, Any]:
        """The template's variables (the header's are in [`metadata`])."""
        data = {f.name: getattr(self, f.name) for f in fields(self)}
        example = self.example
        data.update(
            language=self.all_languages or None,
            model_name=self.display_name(),
            role=self.role,
            trust_remote_code=self.needs_remote_code,
            example_sentence=example,
            entity_types=sorted({label.split("-", 1)[-1] for label in self.labels if label != "O"}),
            usage_snippet=usage_snippet(self.model_id, self.needs_remote_code, example),
            training_data_lines=training_data_lines(self.training_data),
            loss_table=markdown_table(loss_rows(self.log_history, self.max_loss_rows)),
            loss_table_note=loss_table_note(self.log_history, self.max_loss_rows),
            metrics_table=markdown_table(self.metric_rows()),
            citation=CITATION,
        )
        return data

    def to_yaml(self, line_break: str | None = None, original_order: list[str] | None = None) -> str:
        return self.metadata().to_yaml(line_break=line_break, original_order=original_order)


# ---------------------------------------------------------------------- pure helpers


def metric_prefix(metrics: Mapping[str, Any]) -> str | None:
    """The `metric_key_prefix` of a metrics dict: from its `*_runtime` key, else the shortest `*_f1` key."""
    runtime = [key[: -len("_runtime")] for key in metrics if key.endswith("_runtime")]
    if runtime:
        return min(runtime, key=len)
    f1 = [key[: -len("_f1")] for key in metrics if key.endswith("_f1")]
    return min(f1, key=len) if f1 else None


def entity_types_in(values: Mapping[str, float]) -> list[str]:
    """Entity types present in split-local metric names (`PER_f1` → `PER`), sorted."""
    types = set()
    for key in values:
        name, _, metric = key.rpartition("_")
        if name and metric in ("precision", "recall", "f1", "number") and name not in _OVERALL_KEYS:
            types.add(name)
    return sorted(types)


def training_hyperparameters(args: TrainingArguments) -> dict[str, Any]:
    """The optimisation settings of a run: `transformers.modelcard`'s list plus the ones the paper's recipe names.

    Args:
        args: the run's training arguments.
    """
    # `extract_hyperparameters_from_trainer` reads nothing of the trainer but its `args`.
    values: dict[str, Any] = extract_hyperparameters_from_trainer(SimpleNamespace(args=args))
    optimizer = _jsonable(args.optim)
    if "adam" in optimizer.lower():
        optimizer += f" with betas=({args.adam_beta1},{args.adam_beta2}) and epsilon={args.adam_epsilon}"
    if args.optim_args:
        optimizer += f" and optimizer_args={args.optim_args}"
    values["optimizer"] = optimizer  # the library writes the enum's name (`OptimizerNames.ADAMW_TORCH`)
    if args.bf16:
        values.setdefault("mixed_precision_training", "bf16")
    strategy = _jsonable(args.eval_strategy)
    extra = {
        "weight_decay": args.weight_decay,
        "max_grad_norm": args.max_grad_norm,
        "eval_strategy": strategy,
        "eval_steps": args.eval_steps if strategy == "steps" else None,
        "metric_for_best_model": args.metric_for_best_model if args.load_best_model_at_end else None,
    }
    values.update({k: v for k, v in extra.items() if v is not None})
    return {k: _jsonable(v) for k, v in values.items() if v is not None}


def extra_training_arguments(args: TrainingArguments) -> dict[str, Any]:
    """Fields a `TrainingArguments` subclass adds (e.g. the distillation options), with their values."""
    if type(args) is TrainingArguments or not dataclasses.is_dataclass(args):
        return {}
    base = {f.name for f in fields(TrainingArguments)} | {"overwrite_output_dir"}  # a script option, not the method
    return {f.name: _jsonable(getattr(args, f.name)) for f in fields(args) if f.name not in base and f.repr}


def loss_rows(log_history: Sequence[Mapping[str, Any]], max_rows: int = 50) -> list[dict[str, Any]]:
    """Training-loss rows (loss and its terms, plus validation loss/F1 logged at the same step).

    The validation values are `transformers.modelcard.parse_log_history`'s evaluation lines (evaluations during
    training, not the ones after it).

    Args:
        log_history: `TrainerState.log_history`.
        max_rows: at most this many rows, evenly spaced, the last logging step always kept.
    """
    train = [entry for entry in log_history if "loss" in entry]
    history = list(log_history)
    if not any("train_runtime" in entry for entry in history):
        history.append({"train_runtime": None})  # mid-training (a checkpoint's card): the end-of-training entry
    _, eval_lines, _ = parse_log_history(history)
    evals = {line.get("Step"): line for line in eval_lines or []}
    terms = [k for k in _LOSS_COLUMNS if k != "loss" and any(k in entry for entry in train)]
    extra = sorted(
        {
            k
            for entry in train
            for k in entry
            if k.endswith("_loss") and k not in _LOSS_COLUMNS and not k.startswith(("eval_", "test_", "train_"))
        }
    )
    if max_rows > 0 and len(train) > max_rows:
        step = len(train) / max_rows
        keep = sorted({int(i * step) for i in range(max_rows - 1)} | {len(train) - 1})
        train = [train[i] for i in keep]
    has_eval_loss = any("Validation Loss" in line for line in evals.values())
    has_eval_f1 = any("F1" in line for line in evals.values())
    rows = []
    for entry in train:
        epoch = entry.get("epoch")
        row: dict[str, Any] = {
            "Epoch": f"{epoch:.2f}" if epoch is not None else None,
            "Step": entry.get("step"),
            "Training Loss": entry["loss"],
        }
        for key in terms:
            row[_LOSS_COLUMNS[key]] = entry.get(key)
        for key in extra:
            row[key] = entry.get(key)
        line = evals.get(entry.get("step"), {})
        if has_eval_loss:
            row["Validation Loss"] = line.get("Validation Loss")
        if has_eval_f1:
            row["Validation F1"] = line.get("F1")
        rows.append(row)
    return rows


def loss_table_note(log_history: Sequence[Mapping[str, Any]], max_rows: int) -> str:
    n = sum(1 for entry in log_history if "loss" in entry)
    return f"{max_rows} of {n} logging steps shown, evenly spaced." if max_rows > 0 and n > max_rows else ""


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4f}"
    return str(value)


def markdown_table(rows: Sequence[Mapping[str, Any]]) -> str:
    """`transformers.modelcard.make_markdown_table` over the rows: floats with 4 decimals, missing values as `-`."""
    if not rows:
        return ""
    columns = list(rows[0])
    return make_markdown_table([{c: _cell(row.get(c)) for c in columns} for row in rows]).rstrip("\n")


def training_data_lines(data: Mapping[str, Any]) -> list[str]:
    """Human-readable bullet lines for the training data section."""
    lines = []
    for size_key, name_key, label in _DATA_FACTS:
        size, name = data.get(size_key) if size_key else None, data.get(name_key)
        if name_key == "teachers" and name:
            label = "Teacher" if len(name) == 1 else f"Teachers (the mean of their {len(name)} distributions)"
            name = ", ".join(f"`{n}`" for n in name)
        elif isinstance(name, Mapping) and name_key in _FILE_KEYS:
            name = ", ".join(f"`{path}` ({lang})" for lang, path in name.items())
        elif name is not None and name_key in _FILE_KEYS:
            name = f"`{name}`"
        if size is not None and name is not None:
            lines.append(f"{label}: {size} from {name}")
        elif size is not None or name is not None:
            lines.append(f"{label}: {size if size is not None else name}")
    known = {key for facts in _DATA_FACTS for key in facts if key} | {"projection"}
    for key, value in data.items():
        if key not in known:
            lines.append(f"{key}: {value}")
    if "projection" in data:
        lines += [f"Label projection: {line}" for line in projection_lines(data["projection"])]
    return lines


def projection_lines(report: Any) -> list[str]:
    """Summarise label-projection statistics: the `concner-translate` report shape, or a flat mapping."""
    if not isinstance(report, Mapping):
        return [str(report)]
    pairs, entities = report.get("pairs"), report.get("entities")
    if isinstance(pairs, Mapping) and isinstance(entities, Mapping):
        lines = [f"{pairs.get('kept')} of {pairs.get('total')} pairs kept ({pairs.get('dropped')} dropped)"]
        reasons = pairs.get("dropped_by_reason") or {}
        if reasons:
            lines.append("dropped by reason: " + ", ".join(f"{k} {v}" for k, v in reasons.items()))
        source_all, source_kept = entities.get("source_all") or {}, entities.get("source_kept") or {}
        target_kept = entities.get("target_kept") or {}
        for name in sorted(set(source_all) | set(target_kept)):
            lines.append(
                f"{name} entities: {source_all.get(name, 0)} in source, {source_kept.get(name, 0)} in kept source, "
                f"{target_kept.get(name, 0)} projected"
            )
        lost = entities.get("lost_by_reason") or {}
        if lost:
            lines.append("entities lost: " + ", ".join(f"{k} {v}" for k, v in lost.items()))
        agreement = report.get("reference_agreement")
        if isinstance(agreement, Mapping) and "entity_f1" in agreement:
            lines.append(f"agreement with reference labels: entity F1 {float(agreement['entity_f1']):.4f}")
        return lines
    return [
        f"{key}: {_cell(value) if not isinstance(value, Mapping) else json.dumps(value)}"
        for key, value in report.items()
    ]


def usage_snippet(model_id: str | None, trust_remote_code: bool, example: str) -> str:
    """The Python usage snippet of the card (a `pipeline("ner")` call)."""
    model = model_id or "path/to/model"
    remote = ", trust_remote_code=True" if trust_remote_code else ""
    return (
        "from transformers import pipeline\n\n"
        f'ner = pipeline("ner", model="{model}", aggregation_strategy="simple"{remote})\n'
        f"entities = ner({json.dumps(example, ensure_ascii=False)})\n"
        "# [{'entity_group': 'PER', 'score': ..., 'word': ..., 'start': ..., 'end': ...}, ...]"
    )


# ---------------------------------------------------------------------- rendering and writing


def render_model_card(card_data: ConCNERModelCardData) -> str:
    """Render the card: the `ModelCardData` header and the Markdown body of `model_card_template.md`.

    `ModelCard.from_template` validates the header by parsing it back.
    """
    card = ModelCard.from_template(
        card_data=card_data.metadata(), template_path=str(TEMPLATE_PATH), hf_emoji="🤗", **card_data.to_dict()
    )
    return card.content


def find_card_data(trainer: Any) -> ConCNERModelCardData | None:
    """The card data of the trainer's card writer (or of a [`ModelCardCallback`] registered on it), if any."""
    writer = getattr(trainer, "model_card", None)
    if isinstance(writer, ModelCardCallback):
        return writer.card_data
    for callback in getattr(getattr(trainer, "callback_handler", None), "callbacks", []):
        if isinstance(callback, ModelCardCallback):
            return callback.card_data
    return None


def _update_from_folder(card_data: ConCNERModelCardData, folder: Path) -> None:
    config_path = folder / "config.json"
    if not card_data.labels and config_path.is_file():
        card_data.register_model(SimpleNamespace(**json.loads(config_path.read_text(encoding="utf-8"))))
    state_path = folder / "trainer_state.json"
    if not card_data.log_history and state_path.is_file():
        card_data.log_history = json.loads(state_path.read_text(encoding="utf-8")).get("log_history", [])


def write_model_card(
    trainer_or_folder: Any, card_data: ConCNERModelCardData | None = None, folder: str | os.PathLike | None = None
) -> Path | None:
    """Render the card and write it as `README.md` (atomically).

    Args:
        trainer_or_folder: a `Trainer` (its model, arguments, log history and card data are used and the card goes
            to `args.output_dir`) or a saved model folder (its `config.json` / `trainer_state.json` are read for
            whatever the card data lacks).
        card_data: the card data; defaults to the trainer's (see [`find_card_data`]), else an empty one.
        folder: where to write instead of the default folder.

    Returns:
        The path of the written card, or `None` on a non-main process.
    """
    if hasattr(trainer_or_folder, "args") and hasattr(trainer_or_folder, "state"):
        trainer = trainer_or_folder
        if not trainer.is_world_process_zero():
            return None
        card_data = card_data or find_card_data(trainer) or ConCNERModelCardData()
        target = Path(folder or trainer.args.output_dir)
        if trainer.model is not None:
            card_data.register_model(trainer.model)
        if not card_data.hyperparameters:
            card_data.set_training_args(trainer.args)
        card_data.log_history = list(trainer.state.log_history)
    else:
        target = Path(folder or trainer_or_folder)
        card_data = card_data or ConCNERModelCardData()
        _update_from_folder(card_data, target)
    target.mkdir(parents=True, exist_ok=True)
    path = target / CARD_NAME
    atomic_write_text(path, render_model_card(card_data))
    return path


class ModelCardCallback(TrainerCallback):
    """Fills [`ConCNERModelCardData`] during training, writes it into every checkpoint, and writes and pushes the card.

    Give it to a ConCNER trainer as `model_card=` (`trainers.base.ConCNERBaseTrainer`, whose `ModelCardWriter` it
    is): `trainer.create_model_card()` then writes this card into the output folder and `trainer.push_to_hub()` saves
    the model, writes the card once and uploads the folder with [`push_folder_to_hub`].

    Args:
        card_data: the card data to fill (a new one when not given); available as `callback.card_data`.
    """

    def __init__(self, card_data: ConCNERModelCardData | None = None) -> None:
        super().__init__()
        self.card_data = card_data if card_data is not None else ConCNERModelCardData()

    def on_train_begin(self, args, state, control, model=None, **kwargs):
        if model is not None:
            self.card_data.register_model(model)
        self.card_data.set_training_args(args)

    def on_log(self, args, state, control, logs=None, **kwargs):
        self.card_data.log_history = list(state.log_history)

    def on_evaluate(self, args, state, control, metrics=None, **kwargs):
        if metrics:
            self.card_data.add_metrics(metrics)

    def on_predict(self, args, state, control, metrics=None, **kwargs):
        if metrics:
            self.card_data.add_metrics(metrics)

    def on_save(self, args, state, control, model=None, **kwargs):
        if not state.is_world_process_zero:
            return
        checkpoint = Path(args.output_dir) / f"checkpoint-{state.global_step}"
        if not checkpoint.is_dir():
            return
        if model is not None:
            self.card_data.register_model(model)
        self.card_data.log_history = list(state.log_history)
        atomic_write_text(checkpoint / CARD_NAME, render_model_card(self.card_data))

    # ------------------------------------------------------------------ the trainer's card writer

    def write_model_card(self, trainer: Any, model_id: str | None = None) -> Path | None:
        """Write the card into `trainer.args.output_dir`; `model_id` (`org/name`) fills an unset `model_id`."""
        if model_id is not None and self.card_data.model_id is None:
            self.card_data.model_id = model_id
        return write_model_card(trainer, self.card_data)

    def push_folder(
        self,
        trainer: Any,
        repo_id: str,
        *,
        token: str | None = None,
        private: bool | None = None,
        revision: str | None = None,
        commit_message: str = "End of training",
    ) -> Any:
        """Upload `trainer.args.output_dir` (card written) with [`push_folder_to_hub`]."""
        return push_folder_to_hub(
            trainer.args.output_dir,
            repo_id,
            token=token,
            private=private,
            commit_message=commit_message,
            revision=revision,
        )


def add_model_card_callback(trainer: Any, card_data: ConCNERModelCardData | None = None) -> ConCNERModelCardData:
    """Make a [`ModelCardCallback`] the card writer of a ConCNER trainer (once); return its card data.

    The same as passing `model_card=ModelCardCallback(card_data)` to the trainer.

    Raises:
        TypeError: `trainer` does not own a model card (not a `trainers.base.ConCNERBaseTrainer`).
    """
    existing = find_card_data(trainer)
    if existing is not None and (card_data is None or card_data is existing):
        return existing
    if not callable(getattr(trainer, "set_model_card", None)):
        raise TypeError(
            f"{type(trainer).__name__} does not own a model card; use a ConCNER trainer "
            "(trainers.base.ConCNERBaseTrainer) or write_model_card"
        )
    trainer.callback_handler.callbacks = [
        cb for cb in trainer.callback_handler.callbacks if not isinstance(cb, ModelCardCallback)
    ]
    callback = ModelCardCallback(card_data)
    trainer.set_model_card(callback)
    return callback.card_data


# ---------------------------------------------------------------------- Hub


def check_hub_folder(folder: str | os.PathLike) -> None:
    """Raise `ValueError` unless `folder` is a shippable model: card, config with real labels, safetensors weights."""
    path = Path(folder)
    if not path.is_dir():
        raise ValueError(f"{path}: not a folder")
    if not (path / CARD_NAME).is_file():
        raise ValueError(f"{path}: no {CARD_NAME}; write the model card first (concner.model_card.write_model_card)")
    config_path = path / "config.json"
    if not config_path.is_file():
        raise ValueError(f"{path}: no config.json")
    id2label = json.loads(config_path.read_text(encoding="utf-8")).get("id2label") or {}
    if not id2label or any(re.fullmatch(r"LABEL_\d+", str(v)) for v in id2label.values()):
        raise ValueError(f"{config_path}: id2label must name the tags, got {id2label!r}")
    if not any(path.glob("*.safetensors")):
        raise ValueError(f"{path}: no *.safetensors weights")


def push_folder_to_hub(
    folder: str | os.PathLike,
    repo_id: str,
    token: str | None = None,
    private: bool | None = None,
    commit_message: str = "Upload ConCNER model",
    revision: str | None = None,
    card_data: ConCNERModelCardData | None = None,
) -> Any:
    """Upload a finished model folder to the Hub: card, config, safetensors weights, tokenizer and remote code only.

    Args:
        folder: the saved model folder (e.g. `training_args.output_dir` after `trainer.save_model()`).
        repo_id: `org/name` of the model repository (created when missing).
        token: a write token; defaults to the logged-in one.
        private: visibility when the repository is created.
        commit_message: the commit message.
        revision: the branch to push to.
        card_data: when given, the card is (re)written first with `model_id = repo_id`.

    Returns:
        The `CommitInfo` of the upload.
    """
    if card_data is not None:
        if card_data.model_id is None:
            card_data.model_id = repo_id
        write_model_card(folder, card_data)
    check_hub_folder(folder)
    api = HfApi(token=token)
    repo_url = api.create_repo(repo_id, private=private, exist_ok=True, repo_type="model")
    return api.upload_folder(
        repo_id=getattr(repo_url, "repo_id", repo_id),
        folder_path=os.fspath(folder),
        commit_message=commit_message,
        revision=revision,
        repo_type="model",
        allow_patterns=list(HUB_ALLOW_PATTERNS),
        ignore_patterns=list(HUB_IGNORE_PATTERNS),
    )


__all__ = [
    "CITATION",
    "ConCNERModelCardData",
    "HUB_ALLOW_PATTERNS",
    "HUB_IGNORE_PATTERNS",
    "ModelCardCallback",
    "add_model_card_callback",
    "check_hub_folder",
    "data_reference",
    "find_card_data",
    "loss_rows",
    "markdown_table",
    "metric_prefix",
    "push_folder_to_hub",
    "render_model_card",
    "training_hyperparameters",
    "widget_sentences",
    "write_model_card",
]
