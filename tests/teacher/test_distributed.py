"""Two CPU processes (torchrun, gloo): paired training + evaluation, and the gathered contrastive losses."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT
from tests.teacher.helpers import run_argv


def _torchrun(script: str, *args: str, timeout: int = 120) -> subprocess.CompletedProcess:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT), "OMP_NUM_THREADS": "1"}
    command = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_addr", "127.0.0.1",
               "--master_port", str(port), script, *args]  # fmt: skip
    return subprocess.run(command, capture_output=True, text=True, env=env, cwd=REPO_ROOT, timeout=timeout)


@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_two_processes_train_and_evaluate(precision, synthetic, tiny_bert_dir, tmp_path):
    output = tmp_path / "ddp"
    argv = run_argv(synthetic, tiny_bert_dir, output, "--variant", "concner", "--max_steps", "4", "--eval_steps", "2",
                 "--save_steps", "2", "--contrastive_gather", "true")  # fmt: skip
    if precision == "bf16":  # CPU autocast: the gathered contrastive terms still run (in float32)
        argv += ["--bf16", "true"]
    result = _torchrun(str(REPO_ROOT / "run_concner.py"), *argv)
    assert result.returncode == 0, result.stderr[-3000:]
    state = json.loads((output / "trainer_state.json").read_text())
    logged = [h for h in state["log_history"] if "loss" in h]
    assert len(logged) == 4 and all("ce_loss" in h and "lcl_loss" in h for h in logged)
    assert any("tcl_loss" in h for h in logged)
    assert state["best_model_checkpoint"] is not None
    results = json.loads((output / "all_results.json").read_text())
    assert {"eval_f1", "test_de_f1"} <= set(results)
    assert result.stdout.count("label map:") == 1  # printed by the main process only
    if precision == "bf16":
        assert all(h["lcl_loss"] > 0 for h in logged)  # bf16 evaluation need not match an fp32 pass exactly
        return
    # evaluation over two processes scored every dev sentence once, in order: same F1 as one process
    assert results["eval_f1"] == pytest.approx(_single_process_f1(output, synthetic["dev"]), abs=1e-9)


def _single_process_f1(model_dir: Path, dev_file: Path) -> float:
    import torch
    from transformers import AutoModelForTokenClassification, AutoTokenizer

    import modeling_concner  # noqa: F401  (registers the "concner" model type)
    from concner.data.readers import load_ner_dataset
    from concner.data.tokenization import tokenize_and_align
    from concner.metrics import ner_scores, word_level_predictions
    from trainers import DataCollatorForConCNER

    model = AutoModelForTokenClassification.from_pretrained(model_dir).eval()
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    dev = load_ner_dataset(dev_file)
    features = tokenize_and_align(dev, tokenizer, model.config.label2id, 128)
    batch = DataCollatorForConCNER(tokenizer)([features[i] for i in range(len(features))])
    with torch.no_grad():
        logits = model(**{k: v for k, v in batch.items() if k != "labels"}).logits
    predicted = word_level_predictions(
        logits.numpy(), features["example_index"], features["word_index"], [len(t) for t in dev["tokens"]],
        model.config.id2label,
    )  # fmt: skip
    return ner_scores(list(dev["ner_tags"]), predicted)["f1"]


def test_gathered_losses_equal_one_process_on_the_combined_batch(tmp_path):
    out = tmp_path / "gather.json"
    result = _torchrun(str(Path(__file__).with_name("dist_gather_check.py")), str(out))
    assert result.returncode == 0, result.stderr[-3000:]
    r = json.loads(out.read_text())
    assert r["world_size"] == 2
    for rank in range(2):
        assert r["per_rank_lcl"][rank] == pytest.approx(r["single_lcl"], rel=1e-5)
        assert r["per_rank_tcl"][rank] == pytest.approx(r["single_tcl"], rel=1e-5)
    # the comparison can fail: the local (ungathered) losses differ
    assert r["local_only_lcl"] != pytest.approx(r["single_lcl"], rel=1e-3)
    assert r["local_only_tcl"] != pytest.approx(r["single_tcl"], rel=1e-3)
    assert r["grad_max_abs_diff"] <= 1e-5 * max(1.0, r["grad_max_abs"])
    # a rank with no complete pair joins the gather: both ranks get TCL over rank 0's pairs, nobody hangs
    assert r["partial_tcl"] == pytest.approx([r["partial_tcl_reference"]] * 2, rel=1e-5)


def test_two_process_resume_replays_the_same_batches(synthetic, tiny_bert_dir, tmp_path):
    from safetensors.torch import load_file

    common = ["--variant", "concner", "--num_train_epochs", "3", "--eval_strategy", "no", "--save_steps", "3",
              "--save_total_limit", "10", "--load_best_model_at_end", "false",
              "--contrastive_gather", "true"]  # fmt: skip
    full, resumed = tmp_path / "full", tmp_path / "resumed"
    result = _torchrun(str(REPO_ROOT / "run_concner.py"), *run_argv(synthetic, tiny_bert_dir, full, *common))
    assert result.returncode == 0, result.stderr[-3000:]
    state = json.loads((full / "trainer_state.json").read_text())
    assert state["max_steps"] == 6  # 16 pairs / 4 per batch / 2 processes = 2 steps per epoch
    # checkpoint-3 lies in the middle of the second epoch: resuming must reshuffle with seed + 1, then skip a batch
    shutil.copytree(full / "checkpoint-3", resumed / "checkpoint-3")
    argv = run_argv(
        synthetic, tiny_bert_dir, resumed, *common, "--resume_from_checkpoint", str(resumed / "checkpoint-3")
    )
    result = _torchrun(str(REPO_ROOT / "run_concner.py"), *argv)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.count("'loss'") == 3  # only steps 4-6 were trained again
    assert json.loads((resumed / "trainer_state.json").read_text())["global_step"] == 6
    a, b = load_file(full / "model.safetensors"), load_file(resumed / "model.safetensors")
    assert max(float((a[k] - b[k]).abs().max()) for k in a) <= 1e-6
