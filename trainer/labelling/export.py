"""`trainer label export`: chosen paragraphs as a Label Studio project (tasks JSON + labelling config).

Each task carries the paragraph (id, report, index, text), its context (report title, nearest heading), why it
was chosen, every theme's score and the model's themes as a Label Studio prediction (pre-annotation) with the
model version, so annotators correct a suggestion instead of starting from nothing.
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from trainer.errors import UserError
from trainer.labelling import strategies
from trainer.labelling.pool import Candidate, labelled_texts, load_candidates, scores_matrix, tagged_thresholds
from trainer.labelling.studio import labeling_config, prediction
from trainer.labels import read_jsonl
from trainer.outputs import atomic_path
from trainer.taxonomy import Taxonomy, load_taxonomy


@dataclass
class ScoredPool:
    scores: np.ndarray
    thresholds: np.ndarray
    member_scores: list[np.ndarray] | None
    model_version: str


def model_version_of(model_uri: str, tracking_uri: str | None) -> str:
    """`NAME/VERSION` for a registry URI (an alias resolved to its version); the URI or folder otherwise."""
    if not model_uri.startswith("models:/"):
        return model_uri
    name_part = model_uri[len("models:/") :]
    if "@" not in name_part:
        return name_part
    name, alias = name_part.split("@", 1)
    from mlflow.tracking import MlflowClient

    from trainer import tracking

    uri = tracking_uri or tracking.tracking_uri()
    try:
        return f"{name}/{MlflowClient(uri, registry_uri=uri).get_model_version_by_alias(name, alias).version}"
    except Exception:  # noqa: BLE001 - the version is provenance, not a reason to fail the export
        return name_part


def score_with_model(texts: list[str], taxonomy: Taxonomy, model: str | None, registered_name: str,
                     tracking_uri: str | None, int8: bool | None, batch_size: int) -> ScoredPool:  # fmt: skip
    from trainer.tagging import load_bundle, resolve_model_uri

    uri = resolve_model_uri(model, registered_name, tracking_uri)
    bundle = load_bundle(uri, int8, tracking_uri)
    if bundle.taxonomy.ids != taxonomy.ids:
        raise UserError(f"--model {uri}: its themes differ from --taxonomy's; export with the taxonomy it was "
                        "trained on")  # fmt: skip
    members = None
    if hasattr(bundle.model, "predict_members"):
        members = bundle.model.predict_members(texts, batch_size=batch_size)
        scores = bundle.model.combine(members)
    else:
        scores = bundle.model.predict_proba(texts, batch_size=batch_size)
    return ScoredPool(np.asarray(scores), bundle.thresholds, members, model_version_of(uri, tracking_uri))


def labelled_counts(paths: list[Path], taxonomy: Taxonomy) -> np.ndarray | None:
    """Positives per theme in the labelled files (for the `rare` quota); None when none exists."""
    counts: Counter = Counter()
    found = False
    for path in paths:
        if path.exists():
            found = True
            counts.update(t for _, row in read_jsonl(path) for t in row.get("themes") or [])
    return np.array([counts[t] for t in taxonomy.ids]) if found else None


def decision_confidence(scores: np.ndarray, thresholds: np.ndarray) -> np.ndarray:
    """Per paragraph, the confidence of its least certain theme decision (Label Studio's prediction score)."""
    predicted = scores >= thresholds[None, :]
    return np.where(predicted, scores, 1 - scores).min(axis=1)


def build_tasks(candidates: list[Candidate], rows: strategies.Selection, pool: ScoredPool, taxonomy: Taxonomy,
                strategy: str, seed: int) -> list[dict]:  # fmt: skip
    ids = taxonomy.ids
    confidence = decision_confidence(pool.scores, pool.thresholds)
    tasks = []
    for rank, (i, value, reason) in enumerate(zip(rows.rows, rows.values, rows.reasons), start=1):
        c = candidates[i]
        themes = [ids[j] for j in np.flatnonzero(pool.scores[i] >= pool.thresholds)]
        data = {
            "text": c.text, "paragraph_id": c.id, "report": c.report, "index": c.index, "title": c.title,
            "heading": c.heading, "source": c.source, "strategy": strategy, "seed": seed, "rank": rank,
            "selection_value": None if np.isnan(value) else round(float(value), 4), "selection_reason": reason,
            "model_version": pool.model_version,
            "scores": {t: round(float(pool.scores[i, j]), 4) for j, t in enumerate(ids)},
        }  # fmt: skip
        tasks.append({"data": data, "predictions": [prediction(themes, confidence[i], pool.model_version)]})
    return tasks


def embeddings(texts: list[str], embedder: str) -> np.ndarray:
    """Mean-pooled base-model embeddings of whole paragraphs (up to 512 tokens, or the model's own limit)."""
    from trainer.models.embedding_lr import _encoder, cached_embeddings

    limit = getattr(_encoder(embedder)[1].config, "max_position_embeddings", 512)
    return cached_embeddings(texts, embedder, min(512, limit))


def run_export(args) -> int:
    taxonomy = load_taxonomy(args.taxonomy)
    out = Path(args.out)
    if out.suffix.lower() != ".json":
        raise UserError(f"--out {out}: Label Studio imports tasks as a .json file; name it e.g. tasks.json")
    config_out = Path(args.config_out) if args.config_out else out.with_name(f"{out.stem}.config.xml")
    candidates = load_candidates(args.inputs)
    known = labelled_texts([Path(p) for p in args.labelled])
    fresh = [c for c in candidates if c.text not in known]
    if len(fresh) < len(candidates):
        print(f"{len(candidates) - len(fresh)} paragraph(s) already labelled in {', '.join(args.labelled)}: left out",
              file=sys.stderr)  # fmt: skip
    candidates = fresh
    if not candidates:
        raise UserError(f"no unlabelled paragraphs in {' '.join(args.inputs)}")

    file_scores = None if args.model else scores_matrix(candidates, taxonomy.ids)
    if file_scores is None or args.strategy == "disagree":
        pool = score_with_model([c.text for c in candidates], taxonomy, args.model, args.registered_name,
                                args.tracking_uri, args.int8, args.batch_size)  # fmt: skip
    else:
        version = args.model_version or f"tags:{Path(candidates[0].source).name}"
        pool = ScoredPool(file_scores, tagged_thresholds(candidates, file_scores, taxonomy.ids), None, version)
    if args.model_version:
        pool.model_version = args.model_version
    if args.threshold is not None:
        pool.thresholds = np.full(len(taxonomy), args.threshold)

    view = strategies.PoolView(size=len(candidates), scores=pool.scores, thresholds=pool.thresholds,
                               member_scores=pool.member_scores,
                               labelled_counts=labelled_counts([Path(p) for p in args.labelled], taxonomy))  # fmt: skip
    if args.strategy == "diverse":
        view.embeddings = embeddings([c.text for c in candidates], args.embedder)
    if args.strategy == "disagree" and not pool.member_scores:
        raise UserError("--strategy disagree needs an ensemble model (two or more members); pass one with --model")
    chosen = strategies.select(args.strategy, view, args.n, args.seed, taxonomy.ids)
    tasks = build_tasks(candidates, chosen, pool, taxonomy, args.strategy, args.seed)
    with atomic_path(out) as tmp:
        tmp.write_text(json.dumps(tasks, ensure_ascii=False, indent=1), encoding="utf-8")
    with atomic_path(config_out) as tmp:
        tmp.write_text(labeling_config(taxonomy), encoding="utf-8")
    print(f"{len(tasks)} task(s) chosen by '{args.strategy}' (seed {args.seed}) from {len(candidates)} paragraph(s), "
          f"pre-annotated by {pool.model_version} -> {out}")  # fmt: skip
    print(f"labelling config -> {config_out} (Label Studio: Create project > Labeling Setup > Code; then Import {out})")
    return 0
