"""Pushing to the Hub with the network layer replaced: what would be uploaded, and that it loads."""

from __future__ import annotations

import json
import shutil
from concurrent.futures import Future
from pathlib import Path
from types import SimpleNamespace

import pytest
from huggingface_hub import HfApi, ModelCard
from huggingface_hub.utils import filter_repo_objects
from transformers import pipeline

from concner.model_card import ConCNERModelCardData, check_hub_folder, push_folder_to_hub, write_model_card
from tests.hub.conftest import squash

FORBIDDEN_SUFFIXES = (".bin", ".pt", ".pth", ".pkl", ".ckpt")


class FakeHub:
    """Records `HfApi.create_repo` / `HfApi.upload_folder` calls; "uploads" by copying the selected files."""

    def __init__(self, remote: Path) -> None:
        self.remote = remote
        self.calls: list[tuple[str, dict]] = []
        self.cards: list[str] = []

    def create_repo(self, api, repo_id, **kwargs):
        self.calls.append(("create_repo", {"repo_id": repo_id, **kwargs}))
        return SimpleNamespace(repo_id=repo_id)

    def upload_folder(self, api, *, repo_id, folder_path, **kwargs):
        self.calls.append(("upload_folder", {"repo_id": repo_id, "folder_path": folder_path, **kwargs}))
        folder = Path(folder_path)
        files = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())
        ignore = list(kwargs.get("ignore_patterns") or []) + [".git", ".git/*", "*/.git", "**/.git/**"]
        selected = list(
            filter_repo_objects(files, allow_patterns=kwargs.get("allow_patterns"), ignore_patterns=ignore)
        )
        target = self.remote / repo_id
        if target.exists():
            shutil.rmtree(target)
        for name in selected:
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(folder / name, target / name)
        if (folder / "README.md").is_file():
            self.cards.append((folder / "README.md").read_text(encoding="utf-8"))
        if kwargs.get("run_as_future"):
            future = Future()
            future.set_result(None)
            return future
        return SimpleNamespace(commit_url=f"https://huggingface.co/{repo_id}/commit/0", files=selected)

    def uploaded(self, repo_id: str) -> list[str]:
        root = self.remote / repo_id
        return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())


@pytest.fixture
def fake_hub(monkeypatch, tmp_path) -> FakeHub:
    hub = FakeHub(tmp_path / "remote")

    def forbidden(*args, **kwargs):
        raise AssertionError("a network call escaped the fake Hub")

    monkeypatch.setattr(HfApi, "create_repo", lambda self, repo_id, **kw: hub.create_repo(self, repo_id, **kw))
    monkeypatch.setattr(HfApi, "upload_folder", lambda self, **kw: hub.upload_folder(self, **kw))
    for name in ("create_commit", "upload_file", "preupload_lfs_files", "model_info", "repo_info"):
        monkeypatch.setattr(HfApi, name, forbidden)
    return hub


def _check_repo(hub: FakeHub, repo_id: str) -> list[str]:
    files = hub.uploaded(repo_id)
    root = hub.remote / repo_id
    assert "model.safetensors" in files and "tokenizer.json" in files and "README.md" in files
    assert not [f for f in files if f.endswith(FORBIDDEN_SUFFIXES) or f.startswith(("checkpoint-", "runs/"))]
    id2label = json.loads((root / "config.json").read_text())["id2label"]
    assert sorted(id2label.values()) == ["B-LOC", "B-ORG", "B-PER", "I-LOC", "I-ORG", "I-PER", "O"]
    card = ModelCard.load(root / "README.md")
    assert card.data.to_dict()["model-index"], "the card carries model-index metadata"
    return files


def test_push_student_folder(fake_hub, student_dir):
    (student_dir / "training_args.bin").write_bytes(b"pickle")
    (student_dir / "optimizer.pt").write_bytes(b"state")
    (student_dir / "checkpoint-5").mkdir()
    (student_dir / "checkpoint-5" / "model.safetensors").write_bytes(b"old")
    (student_dir / "bert").mkdir()
    (student_dir / "bert" / "model.safetensors").write_bytes(b"exported copy")
    card = ConCNERModelCardData(target_languages=["de"], model_role="student")
    card.add_metrics({"test_de_f1": 0.8, "test_de_precision": 0.8, "test_de_recall": 0.8, "test_de_PER_f1": 0.9})
    push_folder_to_hub(student_dir, "org/concner-de", private=True, card_data=card, commit_message="ConCNER student")
    assert [name for name, _ in fake_hub.calls] == ["create_repo", "upload_folder"]
    create, upload = fake_hub.calls[0][1], fake_hub.calls[1][1]
    assert create == {"repo_id": "org/concner-de", "private": True, "exist_ok": True, "repo_type": "model"}
    assert upload["repo_id"] == "org/concner-de" and upload["commit_message"] == "ConCNER student"
    files = _check_repo(fake_hub, "org/concner-de")
    assert files == ["README.md", "config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json"]
    text = (fake_hub.remote / "org/concner-de" / "README.md").read_text()
    assert 'pipeline("ner", model="org/concner-de", aggregation_strategy="simple")' in text
    ner = pipeline("ner", model=str(fake_hub.remote / "org/concner-de"), aggregation_strategy="simple")
    assert [g["entity_group"] for g in ner("mary was in london with john")] == ["PER", "LOC", "PER"]


def test_push_teacher_folder_ships_its_remote_code(fake_hub, teacher_run):
    folder, _ = teacher_run
    push_folder_to_hub(folder, "org/concner-teacher-de")
    files = _check_repo(fake_hub, "org/concner-teacher-de")
    assert {"configuration_concner.py", "modeling_concner.py", "losses.py"} <= set(files)
    assert "auto_map" in json.loads((fake_hub.remote / "org/concner-teacher-de" / "config.json").read_text())
    assert not [f for f in files if f.startswith("checkpoint-") or f == "trainer_state.json"]


def test_trainer_push_to_hub_uploads_our_card(fake_hub, tmp_path):
    """`--push_to_hub --hub_model_id org/concner-de` through `Trainer.push_to_hub`: the ConCNER card wins."""
    from tests.hub.conftest import single_thread, teacher_trainer

    with single_thread():
        trainer, card = teacher_trainer(
            tmp_path / "out", max_steps=4, eval_steps=2, save_steps=2, push_to_hub=True, hub_model_id="org/concner-de"
        )
        trainer.train()
        trainer.push_to_hub(commit_message="End of training")
    assert fake_hub.calls[0] == ("create_repo", {"repo_id": "org/concner-de", "token": None, "private": None,
                                                 "exist_ok": True})  # fmt: skip
    final = fake_hub.calls[-1][1]
    assert final["commit_message"] == "End of training" and not final.get("run_as_future")
    assert (tmp_path / "out" / "training_args.bin").is_file()  # in the folder, but never uploaded
    files = _check_repo(fake_hub, "org/concner-de")
    assert "training_args.bin" not in files and "modeling_concner.py" in files
    text = squash((fake_hub.remote / "org/concner-de" / "README.md").read_text())
    assert "# ConCNER teacher (en → de)" in text
    assert "| Epoch | Step | Training Loss | CE | LCL | TCL |" in text
    assert 'model="org/concner-de"' in text and "generated_from_trainer" not in text


def test_pushing_requires_a_complete_folder(fake_hub, student_dir, tmp_path):
    with pytest.raises(ValueError, match="no README.md"):
        push_folder_to_hub(student_dir, "org/x")
    write_model_card(student_dir, ConCNERModelCardData(target_languages="de"))
    check_hub_folder(student_dir)
    (student_dir / "model.safetensors").rename(student_dir / "pytorch_model.bin")
    with pytest.raises(ValueError, match="safetensors"):
        push_folder_to_hub(student_dir, "org/x")
    config = json.loads((student_dir / "config.json").read_text())
    config["id2label"] = {"0": "LABEL_0", "1": "LABEL_1"}
    (student_dir / "config.json").write_text(json.dumps(config))
    with pytest.raises(ValueError, match="id2label"):
        check_hub_folder(student_dir)
    assert fake_hub.calls == []
