"""Convert a ConCNER teacher folder into a plain `BertForTokenClassification` folder (no custom code needed).

The teacher's parameters are named like BERT's (`bert.*`, `classifier.*`), so the conversion only rewrites the
config (model type `bert`, no `auto_map`, no loss weights) and copies weights (safetensors), tokenizer and card::

    python -m concner.export runs/teacher-de runs/teacher-de-bert

The destination must not exist or be empty; ``--overwrite`` replaces a previous export only (a folder holding
nothing but what an export writes), and the destination may never be or contain the source folder. A new folder
inside the source is fine (`run_concner.py --export_plain_bert` writes `<output_dir>/bert`): only the source's own
files are read.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sys
from pathlib import Path

from concner.cli import OneLineArgumentParser, run_cli
from concner.data.errors import DataError, one_line
from concner.io_utils import atomic_folder
from modeling_concner.configuration_concner import METHOD_FIELDS

# ConCNER-only config keys: the method's fields and the custom-code mapping.
CONCNER_CONFIG_KEYS = (*METHOD_FIELDS, "auto_map")
TOKENIZER_FILES = (
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "added_tokens.json",
    "vocab.txt",
    "vocab.json",
    "merges.txt",
    "sentencepiece.bpe.model",
    "spiece.model",
)
_USAGE_BLOCK = re.compile(r"<!-- usage-start -->.*?<!-- usage-end -->", re.DOTALL)
_USAGE_CALL = re.compile(r"^entities = ner\(.*\)$", re.MULTILINE)  # the card's example sentence


def plain_bert_config(concner_config: dict) -> dict:
    """The config dict of the equivalent `BertForTokenClassification` (ConCNER keys dropped).

    Args:
        concner_config: the teacher's `config.json` as a dict (model type `concner` or `bert`).
    """
    config = {k: v for k, v in concner_config.items() if k not in CONCNER_CONFIG_KEYS}
    config["model_type"] = "bert"
    config["architectures"] = ["BertForTokenClassification"]
    return config


def _read_config(src: Path) -> dict:
    path = src / "config.json"
    if not path.is_file():
        raise DataError("no config.json (not a saved model folder)", src)
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise DataError(f"invalid JSON: {exc}", path) from None
    if config.get("model_type") not in ("concner", "bert"):
        raise DataError(f"model_type {config.get('model_type')!r} is not a ConCNER/BERT token classifier", path)
    if not config.get("id2label"):
        raise DataError("no id2label: not a token classifier", path)
    return config


def _plain_card(text: str, dst_name: str) -> str:
    """The teacher's card with the usage snippet of a plain BERT folder (no `trust_remote_code`), same sentence."""
    block = _USAGE_BLOCK.search(text)
    call = _USAGE_CALL.search(block.group(0)) if block else None
    example = call.group(0) if call else 'entities = ner("Peter Smith flew from London to Berlin.")'
    snippet = (
        "<!-- usage-start -->\n```python\nfrom transformers import pipeline\n\n"
        f'ner = pipeline("ner", model="path/to/{dst_name}", aggregation_strategy="simple")\n'
        f"{example}\n```\n\n"
        "This folder is the ConCNER teacher exported to a plain `BertForTokenClassification` "
        "(`python -m concner.export`): no custom code is needed.\n<!-- usage-end -->"
    )
    text = _USAGE_BLOCK.sub(lambda _: snippet, text)
    return text.replace(
        "ConCNER teacher (`ConCNERForTokenClassification`, custom code)", "`BertForTokenClassification`"
    )


# What an export writes: a folder holding only these (a BertForTokenClassification config.json among them) is a
# previous export that `overwrite=True` may replace. Anything else in the destination (notes, other models,
# sub-folders) is refused.
EXPORT_FILES = frozenset(
    ("config.json", "generation_config.json", "model.safetensors", "model.safetensors.index.json", "README.md")
    + TOKENIZER_FILES
)
_WEIGHT_SHARD = re.compile(r"model-\d{5}-of-\d{5}\.safetensors")


def _foreign_entries(folder: Path) -> list[str]:
    """Entries of `folder` that an export does not write (sorted); `[]` for a previous export or an empty folder."""
    names = sorted(os.listdir(folder))
    foreign = [
        name
        for name in names
        if not (name in EXPORT_FILES or _WEIGHT_SHARD.fullmatch(name))
        or os.path.islink(folder / name)
        or not os.path.isfile(folder / name)
    ]
    if names and not foreign:
        if "config.json" not in names:
            return ["(no config.json)"]
        try:
            architectures = json.loads((folder / "config.json").read_text(encoding="utf-8")).get("architectures")
        except (OSError, ValueError, AttributeError):
            architectures = None
        if architectures != ["BertForTokenClassification"]:
            return ["config.json (not a BertForTokenClassification)"]
    return foreign


def is_previous_export(folder: str | os.PathLike) -> bool:
    """Whether `folder` is empty or a previous export, which `overwrite=True` may replace.

    A previous export holds only what an export writes: the `config.json` of a `BertForTokenClassification`,
    safetensors weights, tokenizer files and `README.md`; no sub-folder, no link, nothing else.
    """
    return not _foreign_entries(Path(folder))


def _nearest_existing(path: Path) -> Path:
    while not os.path.lexists(path) and path.parent != path:
        path = path.parent
    return path


def check_destination(src: Path, dst: Path, overwrite: bool = False) -> None:
    """Refuse a destination whose writing could lose data (nothing is created or removed here).

    Args:
        src: the source model folder.
        dst: the folder to create.
        overwrite: whether an existing previous export at `dst` may be replaced.

    Raises:
        DataError: naming `dst` when it is or contains the source folder, is a symbolic link or a file,
            is a non-empty folder (without `overwrite`), holds anything an export does not write (with
            `overwrite`), or cannot be created.
    """
    real_src, real_dst = src.resolve(), dst.resolve()
    if real_dst == real_src:
        raise DataError("destination is the source folder", dst)
    if real_dst in real_src.parents:
        raise DataError(f"destination contains the source folder {src}", dst)
    if os.path.islink(dst):
        raise DataError("destination is a symbolic link; give the folder itself", dst)
    if os.path.lexists(dst) and not dst.is_dir():
        raise DataError("destination exists and is not a folder", dst)
    if dst.is_dir() and any(dst.iterdir()):
        if not overwrite:
            raise DataError("destination exists and is not empty (pass --overwrite to replace a previous export)", dst)
        foreign = _foreign_entries(dst)
        if foreign:
            shown = ", ".join(foreign[:5]) + (", ..." if len(foreign) > 5 else "")
            raise DataError(
                f"destination holds files an export does not write ({shown}); --overwrite only replaces a previous "
                "export, so remove them or choose another folder",
                dst,
            )
    ancestor = _nearest_existing(Path(os.path.abspath(dst)).parent)
    if not ancestor.is_dir():
        raise DataError(f"cannot create the destination: {ancestor} is not a folder", dst)
    if not os.access(ancestor, os.W_OK | os.X_OK):
        raise DataError(f"cannot create the destination: no permission to write in {ancestor}", dst)


def export_plain_bert(src: str | os.PathLike, dst: str | os.PathLike, overwrite: bool = False) -> Path:
    """Write `dst` as a plain `BertForTokenClassification` folder equivalent to the ConCNER teacher in `src`.

    The weights are loaded into `BertForTokenClassification` (every parameter must match, none may be missing) and
    saved as safetensors; the tokenizer files and the model card (`README.md`, with the usage snippet rewritten) are
    copied. `dst` is built in a temporary sibling folder and renamed into place (files get the umask's
    permissions), so it is never half-written. Nothing outside `dst` is ever removed, and `dst` itself only when it
    is empty or, with `overwrite`, when it holds nothing but what an export writes (see `is_previous_export`).

    Args:
        src: a saved ConCNER teacher folder (or a BERT token classifier folder, which is re-saved).
        dst: the folder to create: it must not exist or be empty, unless `overwrite`. It may not be, contain or lie
            inside `src`.
        overwrite: replace a previous export at `dst` (a folder holding only `config.json`, weights, tokenizer
            files and `README.md`); any other content is refused.

    Returns:
        The path of `dst`.

    Raises:
        DataError: if `src` is not a ConCNER/BERT token classifier folder, its weights do not match, `dst` is
            refused (`check_destination`) or cannot be written.
    """
    from transformers import BertConfig, BertForTokenClassification

    if not os.fspath(src):
        raise DataError("empty source path")
    if not os.fspath(dst):
        raise DataError("empty destination path")
    src, dst = Path(src), Path(dst)
    if not os.path.lexists(src):
        raise DataError("no such model folder", src)
    if not src.is_dir():
        raise DataError("not a folder (expected a saved model folder)", src)
    check_destination(src, dst, overwrite)
    config = BertConfig.from_dict(plain_bert_config(_read_config(src)))
    try:
        model, info = BertForTokenClassification.from_pretrained(src, config=config, output_loading_info=True)
    except (OSError, ValueError) as exc:
        raise DataError(f"cannot load the weights: {one_line(exc)}", src) from None
    if info.get("missing_keys") or info.get("mismatched_keys"):
        problems = list(info.get("missing_keys") or []) + [str(k) for k in info.get("mismatched_keys") or []]
        raise DataError(f"weights do not fit BertForTokenClassification: {', '.join(problems[:5])}", src)
    try:
        with atomic_folder(dst, replaceable=is_previous_export if overwrite else None) as tmp:
            model.save_pretrained(tmp)
            for name in TOKENIZER_FILES:
                if (src / name).is_file():
                    shutil.copyfile(src / name, tmp / name)
            card = src / "README.md"
            if card.is_file():
                text = _plain_card(card.read_text(encoding="utf-8"), dst.name)
                (tmp / "README.md").write_text(text, encoding="utf-8")
    except FileExistsError as exc:
        raise DataError(f"destination {exc.strerror}; nothing was written", dst) from None
    except OSError as exc:
        raise DataError(f"cannot write the export: {exc.strerror or exc}", dst) from None
    return dst


def main(argv: list[str] | None = None) -> int:
    """`python -m concner.export SRC DST [--overwrite]`; returns the exit status (2 on bad input)."""
    parser = OneLineArgumentParser(
        prog="python -m concner.export",
        description="Convert a ConCNER teacher folder to a plain BERT folder. DST is built in a temporary folder "
        "beside it and renamed into place; nothing else is ever deleted.",
    )
    parser.add_argument("src", metavar="SRC", help="saved ConCNER teacher folder")
    parser.add_argument(
        "dst",
        metavar="DST",
        help="output folder (plain BertForTokenClassification); it must not exist or be empty, and may not be, "
        "contain or lie inside SRC",
    )
    parser.add_argument(
        "--overwrite",
        action="store_true",
        help="replace DST when it is a previous export, i.e. holds only a BertForTokenClassification config.json, "
        "weights (model*.safetensors), tokenizer files and README.md; a DST holding anything else (notes, other "
        "models, sub-folders) is refused all the same. The new export is written first and swapped in, so a "
        "failure leaves DST as it was.",
    )
    args = parser.parse_args(argv)

    def export() -> None:
        path = export_plain_bert(args.src, args.dst, overwrite=args.overwrite)
        print(f"plain BertForTokenClassification written to {path}")

    return run_cli(export, OSError)


if __name__ == "__main__":
    sys.exit(main())
