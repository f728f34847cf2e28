"""Which paragraphs to label next. Every strategy is deterministic given its seed.

- `uncertain`: a score close to its theme's threshold (distance in log-odds, so 0.02 vs 0.05 counts as far
  as 0.5 vs 0.73), for the theme where the paragraph is closest;
- `disagree`: ensemble members disagree (query by committee: mean binary KL divergence of each member's
  scores from the members' average, summed over themes);
- `diverse`: k-center greedy on embeddings: each pick is the paragraph farthest from everything picked or
  already labelled, so a batch covers the pool instead of one dense corner;
- `rare`: a quota per weak theme (the third of themes with the fewest labelled positives): its highest-scoring
  paragraphs, round-robin, rarest theme first;
- `random`: the baseline every other strategy has to beat.

Ties are broken by a seeded random order, so the same seed gives the same tasks.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from trainer.errors import UserError

STRATEGIES = ("uncertain", "disagree", "diverse", "rare", "random")
_EPS = 1e-6


@dataclass
class PoolView:
    """What a strategy may look at; each strategy says which parts it needs."""

    size: int
    scores: np.ndarray | None = None  # (n, themes), the model's scores
    thresholds: np.ndarray | None = None  # (themes,)
    member_scores: list[np.ndarray] | None = None  # per ensemble member, (n, themes)
    embeddings: np.ndarray | None = None  # (n, dim), L2-normalised
    labelled_embeddings: np.ndarray | None = None  # (m, dim), paragraphs that already have labels
    labelled_counts: np.ndarray | None = None  # (themes,) positives already labelled


@dataclass
class Selection:
    """Chosen rows in priority order, with the number each strategy ranked them by and a short reason."""

    rows: list[int]
    values: list[float]
    reasons: list[str]


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, _EPS, 1 - _EPS)
    return np.log(p / (1 - p))


def _ranked(key: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """Rows by ascending key, ties in a seeded random order."""
    tie_break = rng.permutation(len(key))
    return np.lexsort((tie_break, key))[:n]


def uncertain(view: PoolView, n: int, rng: np.random.Generator, theme_ids: list[str]) -> Selection:
    distance = np.abs(_logit(view.scores) - _logit(view.thresholds)[None, :])
    closest = distance.argmin(axis=1)
    margin = distance[np.arange(view.size), closest]
    rows = _ranked(margin, n, rng)
    return Selection([int(i) for i in rows], [float(margin[i]) for i in rows],
                     [f"{theme_ids[closest[i]]} near its threshold" for i in rows])  # fmt: skip


def binary_kl(p: np.ndarray, q: np.ndarray) -> np.ndarray:
    p, q = np.clip(p, _EPS, 1 - _EPS), np.clip(q, _EPS, 1 - _EPS)
    return p * np.log(p / q) + (1 - p) * np.log((1 - p) / (1 - q))


def disagreement(member_scores: list[np.ndarray]) -> np.ndarray:
    """(n, themes) mean KL divergence of each member from the committee's average score."""
    stacked = np.stack(member_scores)
    consensus = stacked.mean(axis=0)
    return np.mean([binary_kl(m, consensus) for m in stacked], axis=0)


def disagree(view: PoolView, n: int, rng: np.random.Generator, theme_ids: list[str]) -> Selection:
    per_theme = disagreement(view.member_scores)
    total = per_theme.sum(axis=1)
    rows = _ranked(-total, n, rng)
    return Selection([int(i) for i in rows], [float(total[i]) for i in rows],
                     [f"members disagree most on {theme_ids[per_theme[i].argmax()]}" for i in rows])  # fmt: skip


def k_center_greedy(embeddings: np.ndarray, n: int, rng: np.random.Generator,
                    labelled: np.ndarray | None = None) -> tuple[list[int], list[float]]:  # fmt: skip
    """Greedy k-center: repeatedly take the point farthest from all centres so far (Sener & Savarese, 2018).

    With no labelled points the first centre is a seeded random row. Returns rows and each pick's distance.
    """
    size = len(embeddings)
    nearest = np.full(size, np.inf)
    if labelled is not None and len(labelled):
        for start in range(0, len(labelled), 1024):
            block = labelled[start : start + 1024]
            nearest = np.minimum(nearest, np.sqrt(np.maximum(_sq_distances(embeddings, block), 0)).min(axis=1))
    rows: list[int] = []
    distances: list[float] = []
    order = rng.permutation(size)  # tie-break among equally far points
    for _ in range(min(n, size)):
        pick = int(order[np.flatnonzero(nearest[order] == nearest.max())[0]])
        rows.append(pick)
        distances.append(float(nearest[pick]) if np.isfinite(nearest[pick]) else float("nan"))
        step = np.sqrt(np.maximum(_sq_distances(embeddings, embeddings[pick : pick + 1])[:, 0], 0))
        nearest = np.minimum(nearest, step)
        nearest[rows] = -1.0  # never picked twice, even among duplicates
    return rows, distances


def _sq_distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a * a).sum(1)[:, None] + (b * b).sum(1)[None, :] - 2 * a @ b.T


def diverse(view: PoolView, n: int, rng: np.random.Generator, theme_ids: list[str]) -> Selection:
    rows, distances = k_center_greedy(view.embeddings, n, rng, view.labelled_embeddings)
    return Selection(rows, distances, ["farthest from the chosen and labelled paragraphs"] * len(rows))


def weak_themes(counts: np.ndarray) -> list[int]:
    """The third of themes (rounded up) with the fewest positives, rarest first (ties: taxonomy order)."""
    k = math.ceil(len(counts) / 3)
    return [int(j) for j in np.argsort(counts, kind="stable")[:k]]


def rare(view: PoolView, n: int, rng: np.random.Generator, theme_ids: list[str]) -> Selection:
    counts = view.labelled_counts
    if counts is None:  # nothing labelled given: weak = least often predicted in the pool
        counts = (view.scores >= view.thresholds[None, :]).sum(axis=0)
    weak = weak_themes(np.asarray(counts))
    quota = math.ceil(n / len(weak))
    tie_break = rng.permutation(view.size)
    queues = {j: list(np.lexsort((tie_break, -view.scores[:, j]))) for j in weak}
    taken: dict[int, int] = {j: 0 for j in weak}
    chosen: set[int] = set()
    sel = Selection([], [], [])
    while len(sel.rows) < min(n, view.size) and any(taken[j] < quota and queues[j] for j in weak):
        for j in weak:
            if len(sel.rows) >= n or taken[j] >= quota:
                continue
            while queues[j] and queues[j][0] in chosen:
                queues[j].pop(0)
            if not queues[j]:
                continue
            i = int(queues[j].pop(0))
            chosen.add(i)
            taken[j] += 1
            sel.rows.append(i)
            sel.values.append(float(view.scores[i, j]))
            sel.reasons.append(f"quota of weak theme {theme_ids[j]} ({int(counts[j])} labelled)")
    return sel


def random_rows(view: PoolView, n: int, rng: np.random.Generator, theme_ids: list[str]) -> Selection:
    rows = rng.permutation(view.size)[:n]
    return Selection([int(i) for i in rows], [float("nan")] * len(rows), ["random"] * len(rows))


_NEEDS = {
    "uncertain": ("scores", "thresholds"),
    "disagree": ("member_scores",),
    "diverse": ("embeddings",),
    "rare": ("scores", "thresholds"),
    "random": (),
}
_FUNCTIONS = {"uncertain": uncertain, "disagree": disagree, "diverse": diverse, "rare": rare,
              "random": random_rows}  # fmt: skip


def needs(strategy: str) -> tuple[str, ...]:
    return _NEEDS[strategy]


def select(strategy: str, view: PoolView, n: int, seed: int, theme_ids: list[str]) -> Selection:
    """The `n` rows `strategy` would send to annotators next (fewer when the pool is smaller)."""
    if strategy not in _FUNCTIONS:
        raise UserError(f"--strategy {strategy}: unknown (choose from {', '.join(STRATEGIES)})")
    if n < 1:
        raise UserError(f"--n {n}: must be at least 1")
    missing = [part for part in _NEEDS[strategy] if getattr(view, part) is None]
    if missing:
        raise UserError(f"--strategy {strategy} needs {' and '.join(missing)} of the pool")
    if strategy == "disagree" and len(view.member_scores) < 2:
        raise UserError("--strategy disagree needs an ensemble model (two or more members)")
    if view.size == 0:
        return Selection([], [], [])
    return _FUNCTIONS[strategy](view, min(n, view.size), np.random.default_rng(seed), theme_ids)
