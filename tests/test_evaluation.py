"""Threshold rules: what each one tunes, and that reported figures never use thresholds tuned on their own report."""

from __future__ import annotations

import numpy as np
import pytest

from trainer.config import EvaluationConfig
from trainer.evaluation import cross_fitted_predictions, tune_thresholds

RNG = np.random.RandomState(0)
# Theme 0: many positives, separable at 0.3; theme 1: two positives, separable at 0.7; theme 2: no positive.
Y = np.zeros((60, 3), dtype=int)
Y[:30, 0] = 1
Y[:2, 1] = 1
SCORES = np.column_stack([
    np.where(Y[:, 0] == 1, RNG.uniform(0.32, 0.5, 60), RNG.uniform(0.0, 0.28, 60)),
    np.where(Y[:, 1] == 1, RNG.uniform(0.72, 0.9, 60), RNG.uniform(0.0, 0.68, 60)),
    RNG.uniform(0.0, 0.4, 60),
])  # fmt: skip


def rule(name: str, **fields) -> EvaluationConfig:
    return EvaluationConfig(thresholds=name, **fields)


def test_per_theme_finds_each_themes_own_cut():
    cuts = tune_thresholds(SCORES, Y, rule("per_theme"))
    assert 0.28 < cuts[0] <= 0.32 and 0.68 < cuts[1] <= 0.72
    assert cuts[2] == 0.5  # no positive: the configured global_threshold


def test_shared_is_one_cut_for_all_themes():
    cuts = tune_thresholds(SCORES, Y, rule("shared"))
    assert len(set(cuts.tolist())) == 1


def test_shrunk_follows_the_shared_cut_where_a_theme_has_few_positives():
    own = tune_thresholds(SCORES, Y, rule("per_theme"))
    shared = tune_thresholds(SCORES, Y, rule("shared"))[0]
    cuts = tune_thresholds(SCORES, Y, rule("shrunk", threshold_shrinkage=10))
    assert cuts[0] == pytest.approx((30 * own[0] + 10 * shared) / 40)  # 30 positives: mostly its own
    assert cuts[1] == pytest.approx((2 * own[1] + 10 * shared) / 12)  # 2 positives: mostly shared
    assert cuts[2] == pytest.approx(shared)
    np.testing.assert_allclose(tune_thresholds(SCORES, Y, rule("shrunk", threshold_shrinkage=0))[:2], own[:2])


def test_global_tunes_nothing():
    assert tune_thresholds(SCORES, Y, rule("global", global_threshold=0.35)).tolist() == [0.35] * 3


def test_cross_fitted_predictions_never_use_the_held_out_reports_labels():
    groups = ["a"] * 30 + ["b"] * 30
    relabelled = Y.copy()
    relabelled[30:] = 1 - relabelled[30:]  # only report b's labels change
    for name in ("per_theme", "shrunk", "shared"):
        before = cross_fitted_predictions(SCORES, Y, groups, rule(name))
        after = cross_fitted_predictions(SCORES, relabelled, groups, rule(name))
        assert (before[30:] == after[30:]).all(), name  # b is cut with thresholds tuned on a alone
        assert (before[:30] != after[:30]).any(), name  # a's thresholds come from b's labels
