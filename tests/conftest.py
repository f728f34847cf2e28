"""Shared fixtures: a tiny randomly initialised BERT (no hub, no download) and run stores."""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session", autouse=True)
def _throwaway_warm_start_cache(tmp_path_factory):
    """Warm starts trained by tests are cached in a temporary $TRAINER_CACHE; pulled base models stay shared."""
    from trainer.base_model import cache_root

    models = cache_root() / "models"
    models.mkdir(parents=True, exist_ok=True)
    root = tmp_path_factory.mktemp("trainer-cache")
    (root / "models").symlink_to(models, target_is_directory=True)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("TRAINER_CACHE", str(root))
        yield root


@pytest.fixture(autouse=True)
def _project_root(monkeypatch):
    """Config paths are relative to the project root, as when a user runs `trainer` there."""
    monkeypatch.chdir(ROOT)
    monkeypatch.setenv("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")


@pytest.fixture(scope="session")
def tiny_bert(tmp_path_factory) -> Path:
    """A 2-layer, hidden-32 BERT with a character vocabulary of the labelled texts, saved as a folder."""
    import torch
    from transformers import BertConfig, BertModel, BertTokenizerFast

    folder = tmp_path_factory.mktemp("tiny-bert")
    texts = [
        json.loads(line)["text"] for name in ("gold", "examples") for line in (ROOT / "labels" / f"{name}.jsonl").open()
    ]
    chars = sorted(set("".join(texts)) - set(" \n\t"))
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *chars]
    # transformers 5 ignores a vocab_file given to the constructor (it gave a 5-token, all-[UNK] tokenizer)
    BertTokenizerFast(vocab={token: i for i, token in enumerate(vocab)}).save_pretrained(folder)
    assert len(BertTokenizerFast.from_pretrained(folder)) == len(vocab)
    config = BertConfig(vocab_size=len(vocab), hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=64, max_position_embeddings=128)  # fmt: skip
    torch.manual_seed(0)
    BertModel(config).save_pretrained(folder)
    return folder


@pytest.fixture(scope="session")
def bundle_dir(tmp_path_factory) -> Path:
    """A TF-IDF model saved as a tagging bundle (fast; the tagging logic is model-agnostic)."""
    import numpy as np

    from trainer.config import load_config
    from trainer.labels import DEFAULT_EXAMPLES, DEFAULT_GOLD, load_examples, load_gold
    from trainer.models import build_model
    from trainer.pyfunc import save_bundle
    from trainer.taxonomy import load_taxonomy

    taxonomy = load_taxonomy()
    data = load_gold(DEFAULT_GOLD, taxonomy).concat(load_examples(DEFAULT_EXAMPLES, taxonomy))
    config = load_config(ROOT / "configs" / "tfidf.yaml")
    model = build_model(config.model, taxonomy, config.training).fit(data.texts, data.y)
    return save_bundle(tmp_path_factory.mktemp("bundle") / "theme_model", model, taxonomy, np.full(len(taxonomy), 0.5))


@pytest.fixture
def store(tmp_path) -> str:
    """A fresh embedded MLflow store for one test."""
    return f"sqlite:///{tmp_path / 'mlflow.db'}"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def clean_env() -> dict[str, str]:
    """Environment for child processes: this interpreter's bin first (servers spawn tools from PATH)."""
    import sys

    env = dict(os.environ)
    env.pop("MLFLOW_TRACKING_URI", None)
    env["PATH"] = os.pathsep.join([os.path.dirname(sys.executable), env.get("PATH", "")])
    return env


@pytest.fixture(scope="session")
def tiny_run(tiny_bert, tmp_path_factory):
    from trainer.config import load_config
    from trainer.training import train

    os.chdir(ROOT)
    uri = f"sqlite:///{tmp_path_factory.mktemp('store') / 'mlflow.db'}"
    config = load_config(ROOT / "configs" / "tiny.yaml",
                         [f"model.base_model={tiny_bert}", f"tracking.tracking_uri={uri}"])  # fmt: skip
    result = train(config, ROOT / "configs" / "tiny.yaml", echo=lambda s: None)
    return config, result, uri


def wait_until_up(url: str, process, seconds: float = 120) -> None:
    """Poll a local server until it answers; fail the test if it exits or never answers."""
    import time
    import urllib.request

    deadline = time.time() + seconds
    while time.time() < deadline:
        try:
            urllib.request.urlopen(url, timeout=1)
            return
        except OSError:
            if process.poll() is not None:
                pytest.fail(f"server for {url} exited with {process.returncode}")
            time.sleep(0.5)
    pytest.fail(f"server for {url} did not start in {seconds:.0f}s")
