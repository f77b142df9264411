"""Convert a ConCNER teacher folder into a plain `BertForTokenClassification` folder (no custom code needed).

The teacher's parameters are named like BERT's (`bert.*`, `classifier.*`), so the conversion only rewrites the
config (model type `bert`, no `auto_map`, no loss weights) and copies weights (safetensors), tokenizer and card::

    python -m concner.export runs/teacher-de runs/teacher-de-bert
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import sys
import tempfile
from pathlib import Path

from concner.data.errors import DataError

# ConCNER-only config keys: the loss weights/temperatures and the custom-code mapping.
CONCNER_CONFIG_KEYS = (
    "ce_weight",
    "lcl_weight",
    "tcl_weight",
    "lcl_temperature",
    "tcl_temperature",
    "lcl_positive",
    "contrastive_gather",
    "auto_map",
)
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
    """The teacher's card with the usage snippet of a plain BERT folder (no `trust_remote_code`)."""
    snippet = (
        "<!-- usage-start -->\n```python\nfrom transformers import pipeline\n\n"
        f'ner = pipeline("ner", model="path/to/{dst_name}", aggregation_strategy="simple")\n'
        'entities = ner("Peter Smith flew from London to Berlin.")\n```\n\n'
        "This folder is the ConCNER teacher exported to a plain `BertForTokenClassification` "
        "(`python -m concner.export`): no custom code is needed.\n<!-- usage-end -->"
    )
    text = _USAGE_BLOCK.sub(lambda _: snippet, text)
    return text.replace(
        "ConCNER teacher (`ConCNERForTokenClassification`, custom code)", "`BertForTokenClassification`"
    )


def export_plain_bert(src: str | os.PathLike, dst: str | os.PathLike) -> Path:
    """Write `dst` as a plain `BertForTokenClassification` folder equivalent to the ConCNER teacher in `src`.

    The weights are loaded into `BertForTokenClassification` (every parameter must match, none may be missing) and
    saved as safetensors; the tokenizer files and the model card (`README.md`, with the usage snippet rewritten) are
    copied. `dst` is built in a temporary folder and renamed into place.

    Args:
        src: a saved ConCNER teacher folder (or a BERT token classifier folder, which is re-saved).
        dst: the folder to create (replaced if it exists).

    Returns:
        The path of `dst`.

    Raises:
        DataError: if `src` is not a ConCNER/BERT token classifier folder, or its weights do not match.
    """
    from transformers import BertConfig, BertForTokenClassification

    src, dst = Path(src), Path(dst)
    if not src.is_dir():
        raise DataError("no such model folder", src)
    if src.resolve() == dst.resolve():
        raise DataError("destination must differ from the source folder", dst)
    config = BertConfig.from_dict(plain_bert_config(_read_config(src)))
    try:
        model, info = BertForTokenClassification.from_pretrained(src, config=config, output_loading_info=True)
    except OSError as exc:
        raise DataError(f"cannot load the weights: {' '.join(str(exc).split())}", src) from None
    if info.get("missing_keys") or info.get("mismatched_keys"):
        problems = list(info.get("missing_keys") or []) + [str(k) for k in info.get("mismatched_keys") or []]
        raise DataError(f"weights do not fit BertForTokenClassification: {', '.join(problems[:5])}", src)
    dst.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{dst.name}.", dir=dst.parent))
    try:
        model.save_pretrained(tmp)
        for name in TOKENIZER_FILES:
            if (src / name).is_file():
                shutil.copy2(src / name, tmp / name)
        card = src / "README.md"
        if card.is_file():
            (tmp / "README.md").write_text(_plain_card(card.read_text(encoding="utf-8"), dst.name), encoding="utf-8")
        if dst.exists():
            shutil.rmtree(dst)
        os.replace(tmp, dst)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return dst


class _ArgumentParser(argparse.ArgumentParser):
    """Reports argument errors as one `error: ...` line and exit status 2."""

    def error(self, message: str) -> None:
        print(f"error: {message}", file=sys.stderr)
        sys.exit(2)


def main(argv: list[str] | None = None) -> int:
    """`python -m concner.export SRC DST`; returns the exit status (2 on bad input)."""
    parser = _ArgumentParser(
        prog="python -m concner.export", description="Convert a ConCNER teacher folder to a plain BERT folder."
    )
    parser.add_argument("src", help="saved ConCNER teacher folder")
    parser.add_argument("dst", help="output folder (plain BertForTokenClassification)")
    args = parser.parse_args(argv)
    try:
        path = export_plain_bert(args.src, args.dst)
    except DataError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"plain BertForTokenClassification written to {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
