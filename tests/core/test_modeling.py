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
    [
        dict(ce_weight=-1.0),
        dict(lcl_temperature=0.0),
        dict(tcl_temperature=-0.1),
        dict(lcl_positive="span"),
        dict(lcl_o_sample_ratio=-0.5),
        dict(lcl_o_sample_ratio=float("nan")),
        dict(lcl_o_sample_ratio=float("inf")),
        dict(lcl_o_sample_ratio=True),
        dict(lcl_o_sample_ratio="0.5"),
        dict(lcl_o_in_denominator=False),  # needs lcl_o_sample_ratio
        dict(lcl_class_weighting="inverse"),
    ],
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
    args = run_concner.ConCNERArguments(
        variant="concner",
        lcl_temperature=0.3,
        lcl_positive="entity_type",
        lcl_o_sample_ratio=0.5,
        lcl_o_in_denominator=False,
        lcl_class_weighting="balanced",
    )
    fields = {name: getattr(args, name) for name in METHOD_FIELDS}
    config = ConCNERConfig(**fields)
    assert {name: getattr(config, name) for name in METHOD_FIELDS} == fields


# ---------------------------------------------------------------------------------------------- LCL options


LCL_OPTIONS = dict(lcl_o_sample_ratio=0.5, lcl_o_in_denominator=False, lcl_class_weighting="balanced")


def mostly_o(inputs: dict) -> dict:
    """`batch()` with two thirds of its labels turned into O (id 0), as in NER data; entity labels 1, 4 and 7."""
    labels = inputs["labels"]
    return {**inputs, "labels": torch.where((labels > 0) & (labels % 3 != 1), 0, labels)}


def test_lcl_options_default_to_the_paper():
    cfg = tiny_config()
    assert cfg.lcl_positive == "label" and cfg.lcl_o_sample_ratio is None
    assert cfg.lcl_o_in_denominator is True and cfg.lcl_class_weighting == "none"
    m = ConCNERForTokenClassification(cfg)
    assert m._lcl_o_class() is None and m._lcl_generator() is None


def test_lcl_options_roundtrip_through_save_and_load(tmp_path):
    torch.manual_seed(0)
    m = ConCNERForTokenClassification(tiny_config(lcl_positive="entity_type", **LCL_OPTIONS))
    m.save_pretrained(tmp_path)
    saved = json.loads((tmp_path / "config.json").read_text())
    assert {k: saved[k] for k in LCL_OPTIONS} == LCL_OPTIONS and saved["lcl_positive"] == "entity_type"
    for loaded in (AutoConfig.from_pretrained(tmp_path), ConCNERConfig.from_pretrained(tmp_path)):
        assert {k: getattr(loaded, k) for k in LCL_OPTIONS} == LCL_OPTIONS and loaded.lcl_positive == "entity_type"
    ratio_zero = tiny_config(lcl_o_sample_ratio=0)
    ratio_zero.save_pretrained(tmp_path / "zero")
    assert ConCNERConfig.from_pretrained(tmp_path / "zero").lcl_o_sample_ratio == 0.0
    # a config saved before the options existed loads with the paper's values
    del saved["lcl_o_sample_ratio"], saved["lcl_o_in_denominator"], saved["lcl_class_weighting"]
    (tmp_path / "config.json").write_text(json.dumps(saved))
    old = ConCNERConfig.from_pretrained(tmp_path)
    assert (old.lcl_o_sample_ratio, old.lcl_o_in_denominator, old.lcl_class_weighting) == (None, True, "none")


@pytest.mark.parametrize("positive", ["label", "entity_type"])
@pytest.mark.parametrize(
    "options",
    [
        dict(lcl_o_sample_ratio=0.5),
        dict(lcl_o_sample_ratio=0.0),
        dict(lcl_o_sample_ratio=0.3, lcl_o_in_denominator=False),
        dict(lcl_class_weighting="balanced"),
        LCL_OPTIONS,
    ],
)
def test_lcl_options_reach_the_loss(positive, options):
    torch.manual_seed(0)
    m = ConCNERForTokenClassification(tiny_config(lcl_positive=positive, **options)).eval()
    inputs = mostly_o(batch())
    out = m(**inputs, output_hidden_states=True)
    keep = inputs["labels"] != -100
    classes = m._lcl_classes(inputs["labels"][keep])
    o_class = LABELS.index("O") if positive == "label" else entity_type_ids(tuple(LABELS))[LABELS.index("O")]
    expected = label_contrastive_loss(
        out.hidden_states[-1][keep],
        classes,
        0.1,
        o_label=o_class,
        o_sample_ratio=options.get("lcl_o_sample_ratio"),
        o_in_denominator=options.get("lcl_o_in_denominator", True),
        class_weighting=options.get("lcl_class_weighting", "none"),
        generator=torch.Generator().manual_seed(0),  # evaluation mode: the fixed seed
    )
    assert torch.allclose(out.lcl_loss, expected)
    paper = ConCNERForTokenClassification(tiny_config(lcl_positive=positive)).eval()
    paper.load_state_dict(m.state_dict())
    assert not torch.allclose(paper(**inputs).lcl_loss, out.lcl_loss)  # the option changes the loss


def test_o_class_is_looked_up_in_label2id():
    labels = ["B-LOC", "I-LOC", "O", "B-PER", "I-PER"]
    cfg = dict(id2label=dict(enumerate(labels)), label2id={t: i for i, t in enumerate(labels)})
    m = ConCNERForTokenClassification(tiny_config(lcl_o_sample_ratio=1.0, **cfg))
    assert m._lcl_o_class() == 2
    m = ConCNERForTokenClassification(tiny_config(lcl_o_sample_ratio=1.0, lcl_positive="entity_type", **cfg))
    assert m._lcl_o_class() == entity_type_ids(tuple(labels))[2] == 1
    no_o = ["B-LOC", "I-LOC"]
    no_o_cfg = dict(id2label=dict(enumerate(no_o)), label2id={t: i for i, t in enumerate(no_o)})
    m = ConCNERForTokenClassification(tiny_config(lcl_o_sample_ratio=1.0, **no_o_cfg))
    with pytest.raises(ValueError, match="'O' label"):
        m._lcl_o_class()


def test_o_sampling_follows_the_training_seed_and_is_fixed_in_evaluation():
    torch.manual_seed(0)
    m = ConCNERForTokenClassification(tiny_config(lcl_o_sample_ratio=0.5, lcl_o_in_denominator=False))
    inputs = mostly_o(batch(seed=1, b=4, t=16))
    m.train()
    runs = []
    for seed in (7, 7, 8):
        torch.manual_seed(seed)
        runs.append([m(**inputs).lcl_loss.detach() for _ in range(3)])
    assert all(torch.equal(a, b) for a, b in zip(runs[0], runs[1]))  # same seed, same draws step after step
    assert not torch.equal(runs[0][0], runs[0][1])  # a new draw every step
    assert not all(torch.equal(a, b) for a, b in zip(runs[0], runs[2]))  # another seed, other draws
    m.eval()
    with torch.no_grad():
        torch.manual_seed(1)
        first = m(**inputs).lcl_loss
        torch.manual_seed(2)
        assert torch.equal(first, m(**inputs).lcl_loss)
