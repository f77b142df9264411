"""Shared fixtures: tiny tokenizers and tiny random BERT models built in the test, no network."""

from __future__ import annotations

import os
import shutil
import string
from pathlib import Path

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["HF_DATASETS_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ.setdefault("WANDB_DISABLED", "true")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import pytest  # noqa: E402

REPO_ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = REPO_ROOT.parent / "shared" / "data"

LABELS = ["O", "B-LOC", "B-MISC", "B-ORG", "B-PER", "I-LOC", "I-MISC", "I-ORG", "I-PER"]

_WORDS = (
    "the a of in to and is was for on at with by from he she it they we said has have will "
    "der die das und ist in zu den von mit sich des auf nicht ein eine als auch es an er "
    "peter john mary london berlin paris germany france england reuters eu union european "
    "commission bank united nations new york city party club football minister president "
    "spain madrid amsterdam dutch german english british french"
).split()


def build_tiny_tokenizer(directory: str | os.PathLike | None = None):
    """A WordPiece `BertTokenizerFast` over a few hundred pieces (characters, ##characters, words)."""
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors
    from transformers import BertTokenizerFast

    chars = sorted(set(string.ascii_letters + string.digits + string.punctuation + "äöüßéáíóúñÄÖÜ"))
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    vocab += chars + ["##" + c for c in chars] + sorted(set(_WORDS))
    vocab_map = {tok: i for i, tok in enumerate(dict.fromkeys(vocab))}
    tok = Tokenizer(models.WordPiece(vocab=vocab_map, unk_token="[UNK]", max_input_chars_per_word=100))
    tok.normalizer = normalizers.BertNormalizer(lowercase=False, strip_accents=False, clean_text=True)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]",
        pair="[CLS] $A [SEP] $B:1 [SEP]:1",
        special_tokens=[("[CLS]", vocab_map["[CLS]"]), ("[SEP]", vocab_map["[SEP]"])],
    )
    tok.decoder = decoders.WordPiece()
    fast = BertTokenizerFast(
        tokenizer_object=tok,
        unk_token="[UNK]",
        pad_token="[PAD]",
        cls_token="[CLS]",
        sep_token="[SEP]",
        mask_token="[MASK]",
        do_lower_case=False,
        model_max_length=512,
    )
    if directory is not None:
        fast.save_pretrained(directory)
    return fast


def tiny_bert_config(vocab_size: int, labels: list[str] = LABELS, **kwargs):
    from transformers import BertConfig

    params = dict(
        vocab_size=vocab_size,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=128,
        hidden_dropout_prob=0.0,
        attention_probs_dropout_prob=0.0,
        id2label=dict(enumerate(labels)),
        label2id={label: i for i, label in enumerate(labels)},
    )
    params.update(kwargs)
    return BertConfig(**params)


@pytest.fixture(scope="session")
def _tiny_bert_session(tmp_path_factory) -> Path:
    """A saved tiny random `BertModel` + tokenizer folder (built once per session)."""
    import torch
    from transformers import BertForTokenClassification

    path = tmp_path_factory.mktemp("tiny-bert")
    tokenizer = build_tiny_tokenizer(path)
    torch.manual_seed(0)
    model = BertForTokenClassification(tiny_bert_config(len(tokenizer)))
    model.save_pretrained(path)
    return path


@pytest.fixture
def tiny_bert_dir(_tiny_bert_session, tmp_path) -> Path:
    """A per-test copy of the tiny BERT folder (tests may write into it)."""
    dst = tmp_path / "tiny-bert"
    shutil.copytree(_tiny_bert_session, dst)
    return dst


@pytest.fixture(scope="session")
def tiny_tokenizer():
    return build_tiny_tokenizer()


@pytest.fixture
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip("../shared/data is not present beside the repository")
    return SHARED_DATA
