"""`trainer label review`: rank existing labels by how strongly out-of-fold predictions contradict them.

Confident learning (Northcutt, Jiang & Chuang, 2021), applied per theme as a binary task. cleanlab implements
it but is AGPL-3.0, so the few lines it needs are written here:

1. out-of-fold scores: grouped K-fold, so a paragraph is scored by a model that saw neither it nor any
   paragraph of its report (or, for a team-written paragraph without a report, of its writer);
2. per-class thresholds, per theme: t1 = the mean score of paragraphs labelled with the theme, t0 = the mean
   of (1 - score) over paragraphs labelled without it;
3. a label is suspect when the other class is confidently predicted: among the classes whose probability
   reaches their threshold, the likeliest is not the given one (cleanlab's confident-joint off-diagonal);
4. suspects are ranked by self-confidence, the predicted probability of the label as given: lowest first.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from sklearn.model_selection import GroupKFold

from trainer.config import RunConfig, load_config, validate_config
from trainer.errors import UserError
from trainer.labelling.pool import Candidate, fill_context
from trainer.labelling.studio import prediction
from trainer.labels import load_examples, load_gold, read_jsonl
from trainer.models import build_model
from trainer.taxonomy import Taxonomy

# tfidf + keyword rules: cheap (about a minute for gold + examples on 2 cores) and unlike either alone
DEFAULT_REVIEW_MODEL = {"family": "ensemble", "members": [{"model": {"family": "tfidf"}},
                                                         {"model": {"family": "keywords"}}]}  # fmt: skip


@dataclass
class LabelPool:
    """Labelled paragraphs from several files, with the group (report or writer) that keeps folds honest."""

    ids: list[str]
    texts: list[str]
    y: np.ndarray
    groups: list[str]
    origins: list[str]
    reports: list[str]


def load_label_pool(gold: Path | None, examples: Path | None, taxonomy: Taxonomy) -> LabelPool:
    ids, texts, groups, origins, reports, ys = [], [], [], [], [], []
    if gold is not None:
        data = load_gold(gold, taxonomy)
        ids += data.ids
        texts += data.texts
        groups += [f"report:{g}" for g in data.groups]
        reports += data.groups
        origins += [str(gold)] * len(data)
        ys.append(data.y)
    if examples is not None:
        data = load_examples(examples, taxonomy)
        rows = [row for _, row in read_jsonl(examples)]
        ids += data.ids
        texts += data.texts
        groups += [f"report:{r['report']}" if r.get("report") else f"writer:{r.get('writer') or r.get('id')}"
                   for r in rows]  # fmt: skip
        reports += [str(r.get("report") or "") for r in rows]
        origins += [str(examples)] * len(data)
        ys.append(data.y)
    if not ids:
        raise UserError("nothing to review: give --gold and/or --examples")
    return LabelPool(ids, texts, np.vstack(ys), groups, origins, reports)


def review_config(path: str | None) -> RunConfig:
    if path:
        return load_config(path)
    return validate_config({"model": DEFAULT_REVIEW_MODEL}, "the default review model")


def out_of_fold_scores(pool: LabelPool, config: RunConfig, taxonomy: Taxonomy, folds: int,
                       echo=lambda s: None) -> np.ndarray:  # fmt: skip
    n_groups = len(set(pool.groups))
    if n_groups < 2:
        raise UserError("out-of-fold scores need paragraphs from at least two reports or writers")
    splitter = GroupKFold(n_splits=min(folds, n_groups))
    scores = np.zeros(pool.y.shape)
    for k, (train, test) in enumerate(splitter.split(pool.texts, groups=pool.groups)):
        model = build_model(config.model, taxonomy, config.training)
        model.fit([pool.texts[i] for i in train], pool.y[train])
        scores[test] = model.predict_proba([pool.texts[i] for i in test])
        echo(f"  fold {k + 1}/{splitter.get_n_splits()}: scored {len(test)} paragraphs (trained on {len(train)})")
    return scores


def class_thresholds(y: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per theme (t1, t0): mean score of the positives, mean (1 - score) of the negatives.

    A theme with no positive (or no negative) gets a threshold of 1, which nothing can confidently reach.
    """
    positives, negatives = y == 1, y == 0
    with np.errstate(invalid="ignore", divide="ignore"):
        t1 = np.where(positives.any(0), (scores * positives).sum(0) / positives.sum(0), 1.0)
        t0 = np.where(negatives.any(0), ((1 - scores) * negatives).sum(0) / negatives.sum(0), 1.0)
    return t1, t0


def suspect_matrix(y: np.ndarray, scores: np.ndarray, t1: np.ndarray, t0: np.ndarray) -> np.ndarray:
    """(n, themes) True where the confidently predicted class differs from the given label."""
    p1, p0 = scores, 1 - scores
    above1, above0 = p1 >= t1[None, :], p0 >= t0[None, :]
    confident_one = above1 & (~above0 | (p1 > p0))
    confident_zero = above0 & (~above1 | (p0 >= p1))
    return ((y == 0) & confident_one) | ((y == 1) & confident_zero)


def self_confidence(y: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """The predicted probability of each label as given."""
    return np.where(y == 1, scores, 1 - scores)


def rank_suspects(pool: LabelPool, scores: np.ndarray, theme_ids: list[str]) -> list[dict]:
    """Suspect paragraphs, most contradicted first, each with its suspect themes and the model's suggestion."""
    t1, t0 = class_thresholds(pool.y, scores)
    suspect = suspect_matrix(pool.y, scores, t1, t0)
    confidence = self_confidence(pool.y, scores)
    rows = []
    for i in np.flatnonzero(suspect.any(axis=1)):
        flagged = np.flatnonzero(suspect[i])
        given = [theme_ids[j] for j in np.flatnonzero(pool.y[i])]
        suggested = [t for j, t in enumerate(theme_ids) if (pool.y[i, j] == 1) != (j in flagged)]
        rows.append({
            "id": pool.ids[i], "origin": pool.origins[i], "group": pool.groups[i], "report": pool.reports[i],
            "text": pool.texts[i], "themes": given, "suggested_themes": suggested,
            "self_confidence": round(float(confidence[i, flagged].min()), 4),
            "suspects": [{"theme": theme_ids[j], "given": int(pool.y[i, j]), "score": round(float(scores[i, j]), 4),
                          "threshold": round(float(t1[j] if pool.y[i, j] == 0 else 1 - t0[j]), 4)}
                         for j in flagged[np.argsort(confidence[i, flagged])]],
        })  # fmt: skip
    rows.sort(key=lambda r: (r["self_confidence"], r["id"]))
    for rank, row in enumerate(rows, start=1):
        row["rank"] = rank
    return rows


def describe(row: dict) -> str:
    """'+legal_aid (0.93) -mediation (0.04)': what the model would add (+) or remove (-)."""
    return " ".join(f"{'-' if s['given'] else '+'}{s['theme']} ({s['score']:.2f})" for s in row["suspects"])


def review_tasks(rows: list[dict], pool: LabelPool, model_version: str) -> list[dict]:
    """Label Studio tasks for a second look: the current labels and the model's suggestion as two predictions."""
    context = [Candidate(id=pid, text=text, report=report) for pid, text, report in
               zip(pool.ids, pool.texts, pool.reports)]  # fmt: skip
    fill_context(context)
    by_id = {c.id: c for c in context}
    tasks = []
    for row in rows:
        c = by_id[row["id"]]
        data = {"text": row["text"], "paragraph_id": row["id"], "report": row["report"], "title": c.title,
                "heading": c.heading, "source": row["origin"], "strategy": "review", "rank": row["rank"],
                "selection_value": row["self_confidence"], "selection_reason": describe(row),
                "given_themes": row["themes"], "model_version": model_version}  # fmt: skip
        tasks.append({"data": data, "predictions": [
            prediction(row["themes"], row["self_confidence"], "current-labels"),
            prediction(row["suggested_themes"], 1 - row["self_confidence"], model_version),
        ]})  # fmt: skip
    return tasks


def print_top(rows: list[dict], top: int) -> None:
    for row in rows[:top]:
        print(f"{row['rank']:>4}  {row['self_confidence']:.3f}  {row['id']:<28} given [{', '.join(row['themes'])}]  "
              f"{describe(row)}  {row['text'][:60]}")  # fmt: skip


def run_review(args, taxonomy: Taxonomy) -> int:
    import json

    from trainer.labelling.studio import labeling_config
    from trainer.outputs import atomic_path

    gold = Path(args.gold) if args.gold else None
    examples = Path(args.examples) if args.examples else None
    pool = load_label_pool(gold, examples, taxonomy)
    config = review_config(args.config)
    name = Path(args.config).stem if args.config else "tfidf+keywords"
    print(f"review: {len(pool.ids)} labelled paragraph(s) in {len(set(pool.groups))} report/writer groups, "
          f"{args.folds}-fold out-of-fold scores from {name}", file=sys.stderr, flush=True)  # fmt: skip
    scores = out_of_fold_scores(pool, config, taxonomy, args.folds, echo=lambda s: print(s, file=sys.stderr))
    rows = rank_suspects(pool, scores, taxonomy.ids)
    out = Path(args.out)
    with atomic_path(out) as tmp:
        tmp.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    print(f"{len(rows)} suspect label(s) of {len(pool.ids)} -> {out}")
    if args.tasks:
        tasks_path = Path(args.tasks)
        chosen = rows[: args.n] if args.n else rows
        with atomic_path(tasks_path) as tmp:
            tmp.write_text(json.dumps(review_tasks(chosen, pool, f"review-oof:{name}"), ensure_ascii=False, indent=1),
                           encoding="utf-8")  # fmt: skip
        config_path = tasks_path.with_name(f"{tasks_path.stem}.config.xml")
        with atomic_path(config_path) as tmp:
            tmp.write_text(labeling_config(taxonomy), encoding="utf-8")
        print(f"{len(chosen)} Label Studio task(s) for a second look -> {tasks_path} (config: {config_path})")
    print_top(rows, args.top)
    return 0
