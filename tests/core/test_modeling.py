"""ConCNERForTokenClassification: shapes, loss composition, pairing, save/load routes, BERT compatibility."""

from __future__ import annotations

import itertools
import json
import subprocess
import sys

import pytest
import torch
from transformers import AutoConfig, AutoModelForTokenClassification, BertForTokenClassification

from modeling_concner import ConCNERConfig, ConCNERForTokenClassification, ConCNEROutput
from modeling_concner.losses import label_contrastive_loss, translation_contrastive_loss
from modeling_concner.modeling_concner import entity_type_ids, mean_pool, split_pairs
from tests.conftest import LABELS

NUM_LABELS = len(LABELS)


def tiny_config(**kwargs) -> ConCNERConfig:
    params = dict(
        vocab_size=99,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=37,
        max_position_embeddings=64,
        hidden_dropout_prob=0.0,
        attention_probs_dropout_prob=0.0,
        id2label=dict(enumerate(LABELS)),
        label2id={label: i for i, label in enumerate(LABELS)},
    )
    params.update(kwargs)
    return ConCNERConfig(**params)


def batch(seed: int = 0, b: int = 4, t: int = 9):
    g = torch.Generator().manual_seed(seed)
    input_ids = torch.randint(5, 99, (b, t), generator=g)
    attention_mask = torch.ones(b, t, dtype=torch.long)
    attention_mask[1, 6:] = 0
    attention_mask[3, 4:] = 0
    labels = torch.randint(0, NUM_LABELS, (b, t), generator=g)
    labels[:, 0] = -100
    labels[attention_mask == 0] = -100
    labels[:, 2] = -100  # a continuation piece
    pair_ids = torch.tensor([0, 1, 0, 1])
    return dict(input_ids=input_ids, attention_mask=attention_mask, labels=labels, pair_ids=pair_ids)


@pytest.fixture
def model() -> ConCNERForTokenClassification:
    torch.manual_seed(0)
    return ConCNERForTokenClassification(tiny_config()).eval()


def test_output_shapes_and_weighted_sum(model):
    inputs = batch()
    out = model(**inputs)
    assert isinstance(out, ConCNEROutput)
    assert out.logits.shape == (4, 9, NUM_LABELS)
    for term in (out.ce_loss, out.lcl_loss, out.tcl_loss):
        assert term is not None and term.dim() == 0
    cfg = model.config
    expected = cfg.ce_weight * out.ce_loss + cfg.lcl_weight * out.lcl_loss + cfg.tcl_weight * out.tcl_loss
    assert torch.allclose(out.loss, expected)
    assert (cfg.ce_weight, cfg.lcl_weight, cfg.tcl_weight) == (0.5, 0.25, 0.25)
    assert (cfg.lcl_temperature, cfg.tcl_temperature) == (0.1, 0.1)


def test_terms_use_the_right_positions(model):
    inputs = batch()
    out = model(**inputs, output_hidden_states=True)
    hidden = out.hidden_states[-1]
    keep = inputs["labels"] != -100
    lcl = label_contrastive_loss(hidden[keep], inputs["labels"][keep], 0.1)
    pooled = mean_pool(hidden, inputs["attention_mask"])
    tcl = translation_contrastive_loss(pooled[[0, 1]], pooled[[2, 3]], 0.1)
    ce = torch.nn.functional.cross_entropy(out.logits[keep], inputs["labels"][keep])
    assert torch.allclose(out.lcl_loss, lcl) and torch.allclose(out.tcl_loss, tcl) and torch.allclose(out.ce_loss, ce)
    # padding does not change the sentence vector
    manual = hidden[1, :6].mean(0)
    assert torch.allclose(pooled[1], manual, atol=1e-6)


def test_zero_weight_or_missing_inputs_skip_terms():
    torch.manual_seed(0)
    m = ConCNERForTokenClassification(tiny_config(lcl_weight=0.0)).eval()
    inputs = batch()
    out = m(**inputs)
    assert out.lcl_loss is None and out.ce_loss is not None and out.tcl_loss is not None
    assert torch.allclose(out.loss, 0.5 * out.ce_loss + 0.25 * out.tcl_loss)
    out = m(input_ids=inputs["input_ids"], attention_mask=inputs["attention_mask"], labels=inputs["labels"])
    assert out.tcl_loss is None and torch.allclose(out.loss, 0.5 * out.ce_loss)
    out = m(input_ids=inputs["input_ids"])
    assert out.loss is None and out.ce_loss is None


def test_split_pairs():
    pooled = torch.arange(12.0).view(6, 2)
    source, target = split_pairs(pooled, torch.tensor([5, -1, 2, 5, 2, 7]))
    assert torch.equal(source, pooled[[2, 0]]) and torch.equal(target, pooled[[4, 3]])
    assert split_pairs(pooled, torch.full((6,), -1)) is None
    with pytest.raises(ValueError, match="more than twice"):
        split_pairs(pooled, torch.tensor([1, 1, 1, -1, -1, -1]))


def test_entity_type_positives_merge_b_and_i():
    torch.manual_seed(0)
    m = ConCNERForTokenClassification(tiny_config(lcl_positive="entity_type"))
    labels = torch.tensor([LABELS.index(t) for t in ["O", "B-PER", "I-PER", "B-LOC", "I-LOC", "O"]])
    classes = m._lcl_classes(labels)
    assert classes[1] == classes[2] and classes[3] == classes[4] and classes[0] == classes[5]
    assert len({int(c) for c in classes}) == 3
    table = m._lcl_type_table[1]
    m._lcl_classes(labels)
    assert m._lcl_type_table[1] is table  # built once, not on every forward pass
    ignored = m._lcl_classes(torch.tensor([-100, LABELS.index("I-PER")]))
    assert ignored[0] == -100 and ignored[1] == classes[1]


def test_entity_type_ids_against_a_naive_mapping():
    tags = ("O", "B-LOC", "B-MISC", "B-ORG", "B-PER", "I-LOC", "I-MISC", "I-ORG", "I-PER")
    ids = entity_type_ids(tags)
    for a, b in itertools.product(range(len(tags)), repeat=2):
        same = tags[a].split("-")[-1] == tags[b].split("-")[-1]
        assert (ids[a] == ids[b]) == same


@pytest.mark.parametrize(
    "kwargs",
    [dict(ce_weight=-1.0), dict(lcl_temperature=0.0), dict(tcl_temperature=-0.1), dict(lcl_positive="span")],
)
def test_config_validation(kwargs):
    with pytest.raises(ValueError, match=next(iter(kwargs))):
        tiny_config(**kwargs)


def test_save_load_roundtrip_and_plain_bert(model, tmp_path):
    inputs = batch()
    model.save_pretrained(tmp_path)
    config = json.loads((tmp_path / "config.json").read_text())
    assert config["model_type"] == "concner"
    assert config["auto_map"]["AutoModelForTokenClassification"].endswith("ConCNERForTokenClassification")
    assert (tmp_path / "model.safetensors").exists()
    assert (tmp_path / "losses.py").exists()  # shipped for trust_remote_code

    # registered route (import modeling_concner registers the model type)
    assert isinstance(AutoConfig.from_pretrained(tmp_path), ConCNERConfig)
    loaded = AutoModelForTokenClassification.from_pretrained(tmp_path).eval()
    assert isinstance(loaded, ConCNERForTokenClassification)
    with torch.no_grad():
        assert torch.equal(loaded(**inputs).logits, model(**inputs).logits)

    # the same weights in a plain BERT token classifier give identical logits
    bert = BertForTokenClassification.from_pretrained(tmp_path).eval()
    names = {k for k, _ in bert.named_parameters()}
    assert names == {k for k, _ in model.named_parameters()}
    with torch.no_grad():
        plain = bert(input_ids=inputs["input_ids"], attention_mask=inputs["attention_mask"]).logits
        assert torch.equal(plain, model(**inputs).logits)


def test_trust_remote_code_route(model, tmp_path):
    """In a fresh interpreter that never imports modeling_concner, auto_map + trust_remote_code loads it."""
    model.save_pretrained(tmp_path)
    code = (
        "import sys, torch\n"
        "from transformers import AutoModelForTokenClassification\n"
        f"m = AutoModelForTokenClassification.from_pretrained({str(tmp_path)!r}, trust_remote_code=True)\n"
        "assert type(m).__name__ == 'ConCNERForTokenClassification', type(m)\n"
        "assert 'modeling_concner' not in sys.modules\n"
        "out = m(input_ids=torch.tensor([[5, 6, 7]]), labels=torch.tensor([[0, 1, 1]]))\n"
        "assert out.lcl_loss is not None\n"
        "print('ok')\n"
    )
    env = {"HF_HUB_OFFLINE": "1", "PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "PYTHONPATH": ""}
    result = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "ok" in result.stdout


def test_inference_ignores_loss_fields():
    assert {"ce_loss", "lcl_loss", "tcl_loss"} <= set(ConCNERConfig.keys_to_ignore_at_inference)


def test_method_fields_are_one_list_that_config_arguments_card_and_export_follow():
    """`METHOD_FIELDS` is the only list of the method's options; every other place derives from it."""
    import dataclasses
    import inspect

    import run_concner
    from concner import export, model_card
    from modeling_concner import METHOD_FIELDS, ConCNERConfig

    init = set(inspect.signature(ConCNERConfig.__init__).parameters) - {"self", "kwargs"}
    assert set(METHOD_FIELDS) == init  # every config option is listed, and nothing else
    assert set(METHOD_FIELDS) <= {f.name for f in dataclasses.fields(run_concner.ConCNERArguments)}
    assert set(model_card._METHOD_FIELDS) == set(METHOD_FIELDS)
    assert set(METHOD_FIELDS) < set(export.CONCNER_CONFIG_KEYS)
    # the teacher's config takes each one from the arguments
    args = run_concner.ConCNERArguments(variant="concner", lcl_temperature=0.3, lcl_positive="entity_type")
    fields = {name: getattr(args, name) for name in METHOD_FIELDS}
    config = ConCNERConfig(**fields)
    assert {name: getattr(config, name) for name in METHOD_FIELDS} == fields
