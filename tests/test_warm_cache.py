"""The warm-started encoder is cached by content: a second run skips the warm start, a changed example does not."""

from __future__ import annotations

import io
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from mlflow.tracking import MlflowClient

from tests.conftest import ROOT
from trainer import warm_cache
from trainer.config import load_config
from trainer.models.bert import BertThemeModel
from trainer.progress import Progress
from trainer.training import train


@pytest.fixture
def cache(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("TRAINER_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache" / "warm_start"


@pytest.fixture
def warm_fits(monkeypatch) -> list[int]:
    """Counts warm-start trainings (BertThemeModel.fit called with label="warm start")."""
    calls: list[int] = []
    fit = BertThemeModel.fit

    def counting(self, *args, **kwargs):
        if kwargs.get("label") == "warm start":
            calls.append(len(args[0]))
        return fit(self, *args, **kwargs)

    monkeypatch.setattr(BertThemeModel, "fit", counting)
    return calls


def _examples(folder: Path, n: int = 150) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    lines = (ROOT / "labels" / "examples.jsonl").read_text(encoding="utf-8").splitlines()[:n]
    path = folder / "examples.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _run(tiny_bert, store: str, examples: Path, *extra: str, echo=None, progress=None):
    overrides = [f"model.base_model={tiny_bert}", f"tracking.tracking_uri={store}", f"data.extra_train=[{examples}]",
                 "tracking.register_model=false", *extra]  # fmt: skip
    return train(load_config(ROOT / "configs" / "tiny.yaml", overrides), echo=echo or (lambda s: None),
                 progress=progress)  # fmt: skip


def test_second_run_loads_the_warm_start_and_a_changed_example_trains_it_again(tiny_bert, store, tmp_path, cache,
                                                                                 warm_fits):  # fmt: skip
    examples = _examples(tmp_path / "a")
    log = io.StringIO()
    first = _run(tiny_bert, store, examples, progress=Progress(stream=log))
    assert len(warm_fits) == 1
    assert "warm start: epoch 1/1 done" in log.getvalue()  # the stage line a log gets
    entries = [p for p in cache.iterdir()]
    assert len(entries) == 1 and not entries[0].name.startswith(".")  # one complete entry, no temp folder left

    # the same bytes under another path: a hit (content, not paths, makes the key)
    moved = shutil.copy(examples, _examples(tmp_path / "b").parent / "renamed.jsonl")
    printed: list[str] = []
    second = _run(tiny_bert, store, Path(moved), echo=printed.append)
    assert len(warm_fits) == 1, "the warm start was trained again"
    assert any("warm start: cache hit" in line for line in printed)
    assert any(line.startswith("  precision: ") for line in printed)  # the resolved choice, printed
    np.testing.assert_array_equal(first.oof_scores, second.oof_scores)  # the cached encoder is the trained one

    client = MlflowClient(store)
    assert client.get_run(first.run_id).data.tags["warm_start.cache"] == "miss"
    assert client.get_run(second.run_id).data.tags["warm_start.cache"] == "hit"
    assert len(client.get_metric_history(first.run_id, "warm_start/train_loss")) == 1
    assert client.get_metric_history(second.run_id, "warm_start/train_loss") == []

    # one example changed by one character: a miss, trained and stored as a second entry
    text = examples.read_text(encoding="utf-8")
    changed = _examples(tmp_path / "c")
    changed.write_text(text.replace("。", "；", 1), encoding="utf-8")
    third = _run(tiny_bert, store, changed, "evaluation.cross_validate=false")
    assert len(warm_fits) == 2
    assert client.get_run(third.run_id).data.tags["warm_start.cache"] == "miss"
    assert len(list(cache.iterdir())) == 2


def test_settings_the_warm_start_uses_change_the_key_and_the_others_do_not(tiny_bert, tmp_path, cache):
    config = load_config(ROOT / "configs" / "tiny.yaml", [f"model.base_model={tiny_bert}"])
    examples, themes = [_examples(tmp_path)], [f"t{i}" for i in range(17)]

    def key(spec=None, training=None, precision="fp32", theme_ids=themes):
        return warm_cache.warm_start_key(spec or config.model, training or config.training, precision, examples,
                                         theme_ids)  # fmt: skip

    base = key()
    assert base == key()
    assert key(precision="bf16") != base
    assert key(training=config.training.model_copy(update={"seed": 8})) != base
    assert key(training=config.training.model_copy(update={"learning_rate": 2e-3})) != base
    assert key(spec=config.model.model_copy(update={"warm_start_epochs": 2})) != base
    assert key(theme_ids=themes[::-1]) != base
    # read only after the warm start: an ablation of them reuses it
    assert key(training=config.training.model_copy(update={"epochs": 3, "threads": 1})) == base
    assert key(spec=config.model.model_copy(update={"probe_C": 8.0, "head": "probe"})) == base
    # the base model's bytes count, not its folder's name
    other = tmp_path / "copy-of-tiny"
    shutil.copytree(tiny_bert, other)
    assert key(spec=config.model.model_copy(update={"base_model": str(other)})) == base
    config_file = other / "config.json"  # any byte of the base model's files: here one setting of its config
    config_file.write_text(json.dumps({**json.loads(config_file.read_text(encoding="utf-8")), "note": "edited"}))
    assert key(spec=config.model.model_copy(update={"base_model": str(other)})) != base


def test_a_write_cut_short_leaves_no_entry(tiny_bert, cache):
    """Ctrl-C (or a crash) while saving: nothing appears under the key, the next run trains and stores it."""
    from trainer.config import BertModel, TrainingConfig

    class Interrupted(BertThemeModel):
        def save(self, folder: Path) -> None:
            (Path(folder) / "theme_model.json").write_text("{}")
            raise KeyboardInterrupt

    model = Interrupted(BertModel(family="bert", base_model=str(tiny_bert)), TrainingConfig(), 17)
    with pytest.raises(KeyboardInterrupt):
        warm_cache.store("k" * 64, model)
    assert not warm_cache.entry("k" * 64).exists()
    assert [p.name for p in cache.iterdir()] == []


def test_domain_tuning_sees_real_training_documents_never_dev_and_is_cached_by_their_labels(tiny_bert, store, tmp_path,
                                                                                              cache, monkeypatch):  # fmt: skip
    from tests.test_real_documents import DOCS, write_real_set

    stages: list[tuple[str, list[str]]] = []
    fit = BertThemeModel.fit

    def recording(self, texts, *args, **kwargs):
        if kwargs.get("label") in ("warm start", "domain tuning"):
            stages.append((kwargs["label"], list(texts)))
        return fit(self, texts, *args, **kwargs)

    monkeypatch.setattr(BertThemeModel, "fit", recording)
    real = write_real_set(tmp_path / "real")
    examples = _examples(tmp_path / "ex", n=60)
    settings = [f"data.real={real}", "evaluation.real_folds=2", "model.head=probe", "model.domain_epochs=1"]
    printed: list[str] = []
    first = _run(tiny_bert, store, examples, *settings, echo=printed.append)
    assert [label for label, _ in stages] == ["warm start", "domain tuning"]
    tuned_on = set(stages[1][1])
    train_texts = {t for split, text in DOCS.values() if split == "train" for t in text.splitlines()}
    dev_texts = {t for split, text in DOCS.values() if split == "dev" for t in text.splitlines()}
    assert train_texts <= tuned_on and not dev_texts & tuned_on
    assert any("real-document CV is optimistic" in line for line in printed)
    client = MlflowClient(store)
    assert client.get_run(first.run_id).data.tags["real_cv.encoder_saw_documents"] == "true"
    assert len(client.get_metric_history(first.run_id, "domain/train_loss")) == 1

    second = _run(tiny_bert, store, examples, *settings)  # same rows: both stages come from the cache
    assert len(stages) == 2
    assert client.get_run(second.run_id).data.tags["warm_start.cache"] == "hit,hit"
    np.testing.assert_array_equal(first.oof_scores, second.oof_scores)

    rows = [json.loads(line) for line in real.read_text(encoding="utf-8").splitlines()]
    changed = next(r for r in rows if r["split"] == "train" and r["themes"])
    changed["themes"] = ["oversight"]  # one training label changed: tuned again on the cached warm start
    real.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    third = _run(tiny_bert, store, examples, *settings, "evaluation.cross_validate=false")
    assert [label for label, _ in stages[2:]] == ["domain tuning"]
    assert client.get_run(third.run_id).data.tags["warm_start.cache"] == "hit,miss"

    # the probe's regularisation is read after both stages: an ablation of it reuses them
    fourth = _run(tiny_bert, store, examples, *settings, "evaluation.cross_validate=false", "model.probe_C=8.0")
    assert len(stages) == 3
    assert client.get_run(fourth.run_id).data.tags["warm_start.cache"] == "hit,hit"
