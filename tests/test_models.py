"""Every model family learns, predicts scores in taxonomy order, and survives save/load unchanged."""

from __future__ import annotations

import numpy as np
import pytest

from trainer.config import validate_config
from trainer.labels import DEFAULT_EXAMPLES, DEFAULT_GOLD, load_examples, load_gold
from trainer.models import build_model, load_model
from trainer.pyfunc import quantize_in_place
from trainer.taxonomy import load_taxonomy

TAXONOMY = load_taxonomy()


@pytest.fixture(scope="module")
def data():
    gold = load_gold(DEFAULT_GOLD, TAXONOMY)
    examples = load_examples(DEFAULT_EXAMPLES, TAXONOMY)
    return gold, examples


def _spec(model: dict, **training):
    data = {"extra_train": ["labels/examples.jsonl"]}
    config = validate_config({"data": data, "model": model, "training": training}, "test")
    return config.model, config.training


def _roundtrip(model, texts, tmp_path):
    before = model.predict_proba(texts)
    model.save(tmp_path / "m")
    after = load_model(tmp_path / "m", TAXONOMY).predict_proba(texts)
    assert before.shape == (len(texts), len(TAXONOMY))
    np.testing.assert_allclose(before, after, atol=1e-5)
    return before


def test_keywords_score_themes_whose_keywords_occur():
    spec, training = _spec({"family": "keywords"})
    model = build_model(spec, TAXONOMY, training).fit([], np.zeros((0, 17)))
    scores = model.predict_proba(["全年受理法律援助案件608宗，指派援助律师。", "今天天气很好。"])
    aid = TAXONOMY.ids.index("legal_aid")
    assert scores[0, aid] > 0.5 and scores[1].max() == 0


def test_tfidf_learns_from_examples_and_round_trips(data, tmp_path):
    gold, examples = data
    spec, training = _spec({"family": "tfidf"})
    model = build_model(spec, TAXONOMY, training).fit(examples.texts, examples.y)
    scores = _roundtrip(model, gold.texts[:20], tmp_path)
    # Trained on team-written text only, it already ranks the right theme high on real seed paragraphs.
    y = gold.y[:20]
    hits = [scores[i, y[i].argmax()] > np.median(scores[i]) for i in range(20) if y[i].any()]
    assert np.mean(hits) > 0.8


def test_bert_fine_tunes_and_round_trips(tiny_bert, data, tmp_path):
    gold, _ = data
    spec, training = _spec({"family": "bert", "base_model": str(tiny_bert), "max_length": 32},
                           epochs=2, learning_rate=1e-3, batch_size=16)  # fmt: skip
    losses = []
    model = build_model(spec, TAXONOMY, training).fit(
        gold.texts[:64], gold.y[:64], on_epoch=lambda e, loss: losses.append(loss)
    )
    assert len(losses) == 2 and losses[1] < losses[0]
    _roundtrip(model, gold.texts[64:80], tmp_path)


def test_freeze_layers_fine_tunes_only_the_layers_above(tiny_bert, data):
    gold, _ = data
    spec, training = _spec({"family": "bert", "base_model": str(tiny_bert), "max_length": 32, "freeze_layers": 1},
                           epochs=1, learning_rate=1e-3, batch_size=16)  # fmt: skip
    import torch

    from trainer.models.bert import BertThemeModel
    from trainer.models.encoder import load_encoder

    _, untouched = load_encoder(str(tiny_bert))
    model = BertThemeModel(spec, training, len(TAXONOMY)).fit(gold.texts[:32], gold.y[:32])
    before, after = untouched.state_dict(), model.net.encoder.state_dict()
    moved = {name for name in before if not torch.equal(before[name], after[name])}
    assert moved, "nothing was fine-tuned"
    assert all(name.startswith("encoder.layer.1.") or name.startswith("pooler.") for name in moved), sorted(moved)
    assert any(name.startswith("encoder.layer.1.") for name in moved)


def test_freezing_every_layer_is_a_one_line_error(tiny_bert, data):
    gold, _ = data
    spec, training = _spec({"family": "bert", "base_model": str(tiny_bert), "max_length": 32, "freeze_layers": 2},
                           epochs=1)  # fmt: skip
    from trainer.errors import UserError
    from trainer.models.bert import BertThemeModel

    with pytest.raises(UserError, match=r"freeze_layers is 2, but .* has 2 encoder layers; set it to at most 1"):
        BertThemeModel(spec, training, len(TAXONOMY)).fit(gold.texts[:16], gold.y[:16])


def test_bert_probe_after_warm_start_round_trips_and_quantizes(tiny_bert, data, tmp_path):
    gold, examples = data
    spec, training = _spec({"family": "bert", "base_model": str(tiny_bert), "max_length": 32, "head": "probe",
                            "warm_start_epochs": 1}, learning_rate=1e-3)  # fmt: skip
    from trainer.models.bert import BertThemeModel

    warm = BertThemeModel(spec, training, len(TAXONOMY)).fit(examples.texts[:200], examples.y[:200], epochs=1)
    model = BertThemeModel(spec, training, len(TAXONOMY), init_from=warm)
    model.fit(gold.texts[:60] + examples.texts[:200], np.vstack([gold.y[:60], examples.y[:200]]))
    assert model.probe is not None
    scores = _roundtrip(model, gold.texts[60:80], tmp_path)
    quantize_in_place(model)
    assert np.abs(model.predict_proba(gold.texts[60:80]) - scores).max() < 0.2


def test_ensemble_averages_members_and_round_trips(data, tmp_path):
    gold, examples = data
    spec, training = _spec({"family": "ensemble", "members": [{"model": {"family": "tfidf"}, "weight": 3},
                                                              {"model": {"family": "keywords"}, "weight": 1}]})  # fmt: skip
    model = build_model(spec, TAXONOMY, training).fit(examples.texts, examples.y)
    scores = _roundtrip(model, gold.texts[:10], tmp_path)
    tfidf, keywords = (m.predict_proba(gold.texts[:10]) for m in model.members)
    np.testing.assert_allclose(scores, 0.75 * tfidf + 0.25 * keywords, atol=1e-6)


def test_overrides_reach_into_ensemble_members():
    from trainer.config import load_config

    config = load_config(
        "configs/default.yaml", ["model.members.0.model.warm_start_epochs=2", "model.members.2.weight=0.5"]
    )
    assert config.model.members[0].model.warm_start_epochs == 2
    assert config.model.members[2].weight == 0.5


def test_inference_batches_are_length_sorted_and_capped_in_tokens(tiny_bert):
    from trainer.models.encoder import length_sorted_batches, load_encoder

    tokenizer, _ = load_encoder(str(tiny_bert))
    texts = ["调解" * n for n in (40, 1, 3, 60, 2, 5, 0, 30)]
    batches = list(length_sorted_batches(texts, tokenizer, max_length=100, batch_size=3, max_tokens=128))
    rows = np.concatenate([r for r, _ in batches])
    assert sorted(rows.tolist()) == list(range(len(texts)))  # every paragraph exactly once
    widths = [b["input_ids"].shape[1] for _, b in batches]
    assert widths == sorted(widths)  # shortest first: little padding
    for r, b in batches:
        assert len(r) <= 3 and (len(r) == 1 or b["input_ids"].numel() <= 128)
        lengths = b["attention_mask"].sum(1).tolist()
        assert lengths == [len(tokenizer(texts[i], truncation=True, max_length=100)["input_ids"]) for i in r]
    assert max(widths) == 100  # the 120-character paragraph is truncated to max_length, alone in its batch


def test_scoring_threads_follow_the_config_then_omp_num_threads(monkeypatch):
    """Spark gives each Python worker OMP_NUM_THREADS=1; taking every core anyway oversubscribed them 2.7x."""
    import os

    import torch

    from trainer.models.encoder import set_threads

    before = torch.get_num_threads()
    try:
        monkeypatch.setenv("OMP_NUM_THREADS", "1")
        set_threads(0)
        assert torch.get_num_threads() == 1
        set_threads(2)  # an explicit training.threads wins
        assert torch.get_num_threads() == 2
        monkeypatch.delenv("OMP_NUM_THREADS")
        set_threads(0)
        assert torch.get_num_threads() == (os.cpu_count() or 1)
        monkeypatch.setenv("OMP_NUM_THREADS", "lots")  # unreadable: all cores, no crash
        set_threads(0)
        assert torch.get_num_threads() == (os.cpu_count() or 1)
    finally:
        torch.set_num_threads(before)


def test_bf16_training_learns_like_fp32(tiny_bert, data):
    gold, examples = data
    spec, training = _spec({"family": "bert", "base_model": str(tiny_bert), "max_length": 64}, epochs=2)
    scores = {}
    for precision in ("fp32", "bf16"):
        model = build_model(spec, TAXONOMY, training.model_copy(update={"precision": precision}))
        losses: list[float] = []
        model.fit(examples.texts[:200], examples.y[:200], on_epoch=lambda e, loss, seen=losses: seen.append(loss))
        assert losses[-1] < losses[0]
        scores[precision] = model.predict_proba(gold.texts[:20])
    assert np.abs(scores["fp32"] - scores["bf16"]).max() < 0.1


def test_per_theme_fits_in_worker_processes_give_the_same_coefficients(data, monkeypatch):
    from sklearn.feature_extraction.text import TfidfVectorizer

    from trainer.models import linear

    gold, examples = data
    X = TfidfVectorizer(analyzer="char", ngram_range=(1, 2)).fit_transform(examples.texts[:600])
    y = examples.y[:600]
    y[:, 0] = 0  # a theme with one class: its rate, no regression
    monkeypatch.setattr(linear, "PARALLEL_MIN_WORK", 10**12)
    alone = linear.PerThemeLogistic(2.0, "balanced", 13).fit(X, y)
    monkeypatch.setattr(linear, "PARALLEL_MIN_WORK", 0)
    monkeypatch.setattr(linear, "cpu_count", lambda: 2)
    workers = linear.PerThemeLogistic(2.0, "balanced", 13).fit(X, y)
    # equal up to summation order (workers run single-threaded BLAS)
    np.testing.assert_allclose(alone.coef_, workers.coef_, rtol=1e-7, atol=1e-12)
    np.testing.assert_allclose(alone.intercept_, workers.intercept_, rtol=1e-7, atol=1e-12)
    assert not alone.coef_[0].any() and alone.intercept_[0] < -5


def test_int8_scores_at_batch_size_one_do_not_depend_on_the_neighbours(tiny_bert, data):
    # Dynamic int8 scales a Linear layer's input by the whole batch; one paragraph per batch (`trainer tag
    # --batch-size 1`) gives every paragraph the same scores wherever it stands in the archive.
    gold, _ = data
    spec, training = _spec({"family": "bert", "base_model": str(tiny_bert), "max_length": 64},
                           epochs=1, learning_rate=1e-3, batch_size=16)  # fmt: skip
    model = build_model(spec, TAXONOMY, training).fit(gold.texts[:32], gold.y[:32])
    quantize_in_place(model)
    texts = gold.texts[:60]
    order = np.random.RandomState(0).permutation(len(texts))
    shuffled = [texts[i] for i in order]
    batched_moves = np.abs(model.predict_proba(shuffled, batch_size=32) - model.predict_proba(texts)[order]).max()
    alone = model.predict_proba(texts, batch_size=1)
    assert np.array_equal(model.predict_proba(shuffled, batch_size=1), alone[order])
    assert batched_moves > 0  # the effect is real in batches, so the equality above is not trivially true
