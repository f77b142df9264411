"""Options from one `.json` / `.yaml` config file, for the command-line scripts (as `HfArgumentParser` accepts)."""

from __future__ import annotations

import json
import os
from typing import Any

from concner.messages import one_line

CONFIG_SUFFIXES = (".json", ".yaml", ".yml")


def load_config_file(path: str, error: type[Exception] = ValueError) -> dict[str, Any]:
    """Read a mapping of option names to values; `test_files` may be a `{lang: path}` mapping.

    Args:
        path: a `.json`, `.yaml` or `.yml` file.
        error: the exception raised (with a one-line message naming the file) on a missing or malformed file.
    """
    if not os.path.isfile(path):
        raise error(f"no such config file: {path}")
    with open(path, encoding="utf-8") as handle:
        if path.endswith(".json"):
            try:
                config = json.load(handle)
            except json.JSONDecodeError as exc:
                raise error(f"{path}:{exc.lineno}: invalid JSON: {exc.msg}") from None
        else:
            import yaml

            try:
                config = yaml.safe_load(handle)
            except yaml.YAMLError as exc:
                raise error(f"{path}: invalid YAML: {one_line(exc)}") from None
    if not isinstance(config, dict):
        raise error(f"{path}: expected a mapping of option names to values")
    if isinstance(config.get("test_files"), dict):
        config["test_files"] = [f"{lang}={spec}" for lang, spec in config["test_files"].items()]
    return config


__all__ = ["CONFIG_SUFFIXES", "load_config_file"]
