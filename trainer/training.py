"""`trainer train`: cross-validate a config by report, fit the final model, log and register it."""

from __future__ import annotations

import contextlib
import copy
import json
import logging
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
from mlflow.tracking import MlflowClient

from trainer import plots, tracking, warm_cache
from trainer.config import BertModel, RunConfig, flatten
from trainer.evaluation import (
    Metrics,
    compute_metrics,
    cross_fitted_predictions,
    report_folds,
    theme_metrics,
    tune_thresholds,
)
from trainer.labels import LabelledSet, load_examples, load_gold, load_real
from trainer.models import build_model
from trainer.precision import resolve_precision
from trainer.progress import Progress, stage
from trainer.pyfunc import (
    ARTIFACT_KEY,
    DEFAULT_BATCH_SIZE,
    ThemeTagger,
    pip_requirements,
    quantize_in_place,
    save_bundle,
    signature,
)
from trainer.reporting import run_note
from trainer.taxonomy import Taxonomy, load_taxonomy

log = logging.getLogger(__name__)
PACKAGE_DIR = Path(__file__).resolve().parent


@dataclass
class RunResult:
    metrics: Metrics
    oof_scores: np.ndarray
    thresholds: np.ndarray
    run_id: str
    model_uri: str
    model_version: str | None
    seconds: float
    tracking_uri: str
    dev_metrics: Metrics | None = None


class ModelFactory:
    """Builds fresh models for each fold; fits any BERT warm start once (or loads it from the cache) and shares it."""

    def __init__(self, config: RunConfig, taxonomy: Taxonomy, extra: LabelledSet | None,
                 log_metric: Callable[[str, float, int], None], echo: Callable[[str], None] = print,
                 precision: str = "fp32", real: LabelledSet | None = None):  # fmt: skip
        self.config, self.taxonomy, self.extra, self.log_metric = config, taxonomy, extra, log_metric
        self.echo, self.precision, self.real = echo, precision, real
        self._warm: dict[str, object] = {}
        self.cache_outcomes: list[str] = []  # hit / miss / off per warm-started member, in order

    def _warm_start(self, spec: BertModel):
        memo = spec.model_dump_json()
        if memo not in self._warm:
            key = warm_cache.warm_start_key(spec, self.config.training, self.precision, self.config.data.extra_train,
                                            self.taxonomy.ids)  # fmt: skip
            model = self._examples_stage(spec, key) if spec.warm_start_epochs else None
            if spec.domain_epochs and self.real is not None and len(self.real):
                model = self._domain_stage(spec, model, key)
            self._warm[memo] = model
        return self._warm[memo]

    def _examples_stage(self, spec: BertModel, key: str | None):
        """Stage 1: fine-tune on the extra training files (the examples), or load that from the cache."""
        from trainer.models.bert import BertThemeModel

        model = warm_cache.load(key, self.taxonomy) if key else None
        if model is not None:
            model.warm_texts = frozenset(self.extra.model_texts)  # what fit() would have remembered
            self.cache_outcomes.append("hit")
            self.echo(f"  warm start: cache hit, {spec.warm_start_epochs} epochs skipped "
                      f"({warm_cache.entry(key)})")  # fmt: skip
        else:
            self.cache_outcomes.append("miss" if key else "off")
            why = "cache miss" if key else f"not cached: no local files for {spec.base_model}"
            self.echo(f"  warm start ({why}): {spec.warm_start_epochs} epochs on {len(self.extra)} "
                      "extra paragraphs")  # fmt: skip
            model = BertThemeModel(spec, self.config.training, len(self.taxonomy))
            model.fit(self.extra.model_texts, self.extra.y, epochs=spec.warm_start_epochs, label="warm start",
                      on_epoch=lambda e, loss: self.log_metric("warm_start/train_loss", loss, e))  # fmt: skip
            if key and (saved := warm_cache.store(key, model)) is not None:
                self.echo(f"  warm start: saved to the cache ({saved})")
        return model

    def _domain_stage(self, spec: BertModel, warm, warm_key: str | None):
        """Stage 1b: fine-tune on the real training documents (once each: repeating them measured no better) with
        a replayed share of the examples, once per run, or load that from the cache. Cached by the real rows, so
        new labels re-run it (about 3 minutes for 1,200 paragraphs) and not the examples' stage."""
        from trainer.models.bert import BertThemeModel

        rows = self.real.concat(self.extra) if self.extra is not None else self.real
        key = warm_cache.domain_key(warm_key, spec, self.real.model_texts, self.real.y)
        model = warm_cache.load(key, self.taxonomy) if key else None
        if model is not None:
            self.cache_outcomes.append("hit")
            self.echo(f"  domain tuning: cache hit, {spec.domain_epochs} epochs skipped ({warm_cache.entry(key)})")
        else:
            self.cache_outcomes.append("miss" if key else "off")
            self.echo(
                f"  domain tuning: {spec.domain_epochs} epochs on {len(self.real)} real training paragraphs"
                + (f" and {spec.warm_start_replay:.0%} of the warm start's rows" if warm is not None else "")
            )
            model = BertThemeModel(spec, self.config.training, len(self.taxonomy), init_from=warm)
            model.fit(rows.model_texts, rows.y, epochs=spec.domain_epochs, label="domain tuning",
                      on_epoch=lambda e, loss: self.log_metric("domain/train_loss", loss, e))  # fmt: skip
            if key and (saved := warm_cache.store(key, model)) is not None:
                self.echo(f"  domain tuning: saved to the cache ({saved})")
        model.warm_texts = frozenset(rows.model_texts)
        return model

    def __call__(self):
        model = build_model(self.config.model, self.taxonomy, self.config.training)
        for member in [model, *getattr(model, "members", [])]:
            if getattr(member, "family", "") == "bert" and (member.spec.warm_start_epochs or member.spec.domain_epochs):
                member.init_from = self._warm_start(member.spec)
        return model


def _training_set(gold: LabelledSet, rows: np.ndarray, extra: LabelledSet | None, real_weight: int = 1) -> LabelledSet:
    """The labelled rows (each `real_weight` times: real paragraphs are few beside the examples) plus the extras."""
    part = gold.subset(np.tile(rows, real_weight))
    return part.concat(extra) if extra is not None else part


def _errors_table(gold: LabelledSet, predicted: np.ndarray, scores: np.ndarray) -> pd.DataFrame:
    ids = gold.theme_ids
    y = gold.y
    rows = []
    for i in np.flatnonzero((predicted != y).any(axis=1)):
        top = np.argsort(-scores[i])[:5]
        rows.append({
            "id": gold.ids[i], "report": gold.groups[i], "text": gold.texts[i],
            "gold": ",".join(gold.themes[i]),
            "predicted": ",".join(ids[j] for j in np.flatnonzero(predicted[i])),
            "missed": ",".join(ids[j] for j in np.flatnonzero(y[i] & ~predicted[i].astype(bool))),
            "extra": ",".join(ids[j] for j in np.flatnonzero(predicted[i].astype(bool) & ~y[i].astype(bool))),
            "top_scores": json.dumps({ids[j]: round(float(scores[i, j]), 3) for j in top}),
        })  # fmt: skip
    return pd.DataFrame(rows)


def _log_metrics(prefix: str, metrics: Metrics) -> None:
    """Headline figures as `<prefix>micro_f1` …, per-theme figures as `<prefix>theme_f1/<theme>` …"""
    mlflow.log_metrics({f"{prefix}{k}": v for k, v in metrics.summary().items()})
    mlflow.log_metrics({f"{prefix}{k}": v for k, v in theme_metrics(metrics).items()})


def fold_keys(gold: LabelledSet, real_train: LabelledSet | None, n_real_folds: int) -> list[str]:
    """The CV fold of each labelled row: one fold per seed report, and real training documents spread over
    `n_real_folds` folds by a hash of the document, so a document never straddles two folds."""
    keys = list(gold.groups)
    if real_train is not None:
        import hashlib

        keys += [f"real_fold_{int(hashlib.sha1(doc.encode()).hexdigest()[:8], 16) % n_real_folds}"
                 for doc in real_train.groups]  # fmt: skip
    return keys


def cross_validate(config: RunConfig, gold: LabelledSet, factory: ModelFactory, extra: LabelledSet | None,
                   log_metric: Callable[[str, float, int], None], echo: Callable[[str], None],
                   folds_by: list[str] | None = None) -> tuple[np.ndarray, np.ndarray | None, list[np.ndarray]]:  # fmt: skip
    """Out-of-fold scores for every labelled paragraph, one fold (a seed report, or a group of real documents
    given by `folds_by`) held out at a time.

    With `evaluation.int8_check`, each fold model is also scored after int8 quantization,
    so the quality cost of fast inference is measured on the same out-of-fold paragraphs.
    For an ensemble, each member's out-of-fold scores come back too (ablations from the same folds).
    """
    scores = np.zeros(gold.y.shape, dtype=np.float64)
    int8_scores = np.zeros(gold.y.shape, dtype=np.float64) if config.evaluation.int8_check else None
    member_scores = [np.zeros(gold.y.shape) for _ in getattr(config.model, "members", [])]
    folds = report_folds(folds_by or gold.groups)
    # the fold lines below are this stage's lines in a log; on a terminal it draws a bar with the ETA
    with stage("cross-validation", total=len(folds), unit="fold", lines="none") as fold_bar:
        for k, (train_rows, test_rows) in enumerate(folds):
            started = time.time()
            train = _training_set(gold, train_rows, extra, config.data.real_weight)
            model = factory()
            model.fit(
                train.model_texts, train.y, on_epoch=lambda e, loss, k=k: log_metric(f"fold_{k}/train_loss", loss, e)
            )
            test_texts = gold.subset(test_rows).model_texts
            if member_scores:
                parts = model.predict_members(test_texts)
                for whole, part in zip(member_scores, parts):
                    whole[test_rows] = part
                scores[test_rows] = model.combine(parts)
            else:
                scores[test_rows] = model.predict_proba(test_texts)
            if int8_scores is not None:
                quantized = copy.deepcopy(model)
                quantize_in_place(quantized)
                int8_scores[test_rows] = quantized.predict_proba(test_texts)
            fold_bar.update(1)
            echo(f"  fold {k + 1}/{len(folds)}: held out {(folds_by or gold.groups)[test_rows[0]]} "
                 f"({len(test_rows)} paragraphs, trained on {len(train)}) in {time.time() - started:.0f}s")  # fmt: skip
    return scores, int8_scores, member_scores


def train(config: RunConfig, config_path: Path | None = None, echo: Callable[[str], None] = print,
          progress: Progress | None = None) -> RunResult:  # fmt: skip
    """Cross-validate, fit, log and register one config; `progress` (the CLI's) draws bars or prints stage lines."""
    started = time.time()
    uri = tracking.connect(config.tracking)  # an unreachable server fails here, in seconds, before any work
    taxonomy = load_taxonomy(config.data.taxonomy)
    gold = load_gold(config.data.gold, taxonomy)
    real_train, real_dev = load_real(config.data.real, taxonomy) if config.data.real else (None, None)
    if real_train is not None and (not len(real_train) or not config.data.real_in_training):
        real_train = None
    labelled = gold.concat(real_train) if real_train is not None else gold
    folds_by = fold_keys(gold, real_train, config.evaluation.real_folds)
    extra = None
    for path in config.data.extra_train:
        part = load_examples(path, taxonomy)
        extra = part if extra is None else extra.concat(part)
    tracking.use_experiment(config.tracking.experiment, uri)
    precision, why = resolve_precision(config.training.precision)
    with (
        mlflow.start_run(run_name=config.tracking.run_name) as run,
        progress.active() if progress is not None else contextlib.nullcontext(),
    ):
        mlflow.log_params(flatten(config))
        mlflow.log_param("training.precision_resolved", precision)
        if config_path is not None:
            mlflow.log_artifact(str(config_path), "config")
        mlflow.log_dict(config.model_dump(mode="json"), "config/resolved.json")
        mlflow.log_input(mlflow.data.from_pandas(gold.to_dataset().to_pandas(), source=str(config.data.gold),
                                                 name="gold"), context="evaluation")  # fmt: skip
        if extra is not None:
            mlflow.log_input(mlflow.data.from_pandas(extra.to_dataset().to_pandas(), name="extra_train",
                                                     source=",".join(map(str, config.data.extra_train))),
                             context="training")  # fmt: skip
        if config.data.real is not None:
            for name, part in (("real_train", real_train), ("real_dev", real_dev)):
                if part is not None and len(part):
                    mlflow.log_input(mlflow.data.from_pandas(part.to_dataset().to_pandas(), name=name,
                                                             source=str(config.data.real)),
                                     context="training" if name == "real_train" else "evaluation")  # fmt: skip
        mlflow.set_tags({"model.family": config.model.family, "gold.paragraphs": len(gold),
                         "extra.paragraphs": len(extra) if extra is not None else 0,
                         "real_train.paragraphs": len(real_train) if real_train is not None else 0,
                         "real_dev.paragraphs": len(real_dev) if real_dev is not None else 0})  # fmt: skip

        def log_metric(key: str, value: float, step: int) -> None:
            mlflow.log_metric(key, value, step=step)

        factory = ModelFactory(config, taxonomy, extra, log_metric, echo, precision, real_train)
        if real_train is not None and any(m.domain_epochs for m in config.bert_models()):
            mlflow.set_tag("real_cv.encoder_saw_documents", "true")
            echo("  note: the BERT encoder is domain-tuned on every real training document, so the real-document CV"
                 " is optimistic; the dev part is the honest figure")  # fmt: skip
        y = labelled.y
        echo(f"{config.model.family}: {len(gold)} gold paragraphs from {len(set(gold.groups))} reports"
             + (f", {len(real_train)} real training paragraphs from {len(set(real_train.groups))} documents"
                if real_train is not None else "")
             + (f", {len(extra)} extra training paragraphs" if extra is not None else "")
             + (f"; dev: {len(real_dev)} paragraphs" if real_dev is not None and len(real_dev) else ""))  # fmt: skip
        if config.bert_models():
            echo(f"  precision: {precision} ({why})")
        metrics = None
        ev = config.evaluation
        if ev.cross_validate:
            scores, int8_scores, member_scores = cross_validate(config, labelled, factory, extra, log_metric, echo,
                                                                folds_by)  # fmt: skip
            predicted = cross_fitted_predictions(scores, y, folds_by, ev)
            seeds = np.arange(len(gold))
            metrics = compute_metrics(y[seeds], predicted[seeds], scores[seeds], taxonomy.ids)
            if real_train is not None:
                real = np.arange(len(gold), len(labelled))
                _log_metrics("real_cv_", compute_metrics(y[real], predicted[real], scores[real], taxonomy.ids))
            for i, part in enumerate(member_scores):
                part_predicted = cross_fitted_predictions(part, y, folds_by, ev)
                part_metrics = compute_metrics(y[seeds], part_predicted[seeds], part[seeds], taxonomy.ids)
                family = config.model.members[i].model.family
                mlflow.log_metrics({f"cv_member_{i}_{family}_{k}": v for k, v in part_metrics.summary().items()
                                    if k in ("micro_f1", "macro_f1", "pr_auc_micro")})  # fmt: skip
            if int8_scores is not None:
                int8_predicted = cross_fitted_predictions(int8_scores, y, folds_by, ev)
                int8_metrics = compute_metrics(y[seeds], int8_predicted[seeds], int8_scores[seeds], taxonomy.ids)
                mlflow.log_metrics({f"cv_int8_{k}": v for k, v in int8_metrics.summary().items()})
            for k, (_, test_rows) in enumerate(report_folds(folds_by)):
                fold = compute_metrics(y[test_rows], predicted[test_rows], scores[test_rows], taxonomy.ids)
                mlflow.log_metric("fold/micro_f1", fold.micro_f1, step=k)
                mlflow.log_metric("fold/macro_f1", fold.macro_f1, step=k)
            mlflow.log_metrics({f"cv_{k}": v for k, v in metrics.summary().items()})
            mlflow.log_metrics(theme_metrics(metrics))
            at_half = compute_metrics(y[seeds], (scores[seeds] >= 0.5).astype(int), scores[seeds], taxonomy.ids)
            mlflow.log_metrics({"cv_micro_f1_at_0.5": at_half.micro_f1, "cv_macro_f1_at_0.5": at_half.macro_f1})
            import matplotlib.pyplot as plt

            for figure, name in ((plots.f1_bars(metrics.per_theme), "per_theme_f1"),
                                 (plots.pr_curves(y[seeds], scores[seeds], taxonomy.ids), "pr_curves"),
                                 (plots.confusion_heatmap(y[seeds], predicted[seeds], taxonomy.ids),
                                  "gold_vs_predicted")):  # fmt: skip
                mlflow.log_figure(figure, f"plots/{name}.png")
                plt.close(figure)  # runs in one process (tests, notebooks) would otherwise pile figures up
            errors = _errors_table(labelled, predicted, scores)
            if len(errors):
                mlflow.log_table(errors, "evaluation/oof_errors.json")
            oof = pd.DataFrame(scores, columns=[f"score_{t}" for t in taxonomy.ids])
            oof.insert(0, "id", labelled.ids)
            oof.insert(1, "gold", [",".join(t) for t in labelled.themes])
            mlflow.log_table(oof, "evaluation/oof_scores.json")
            thresholds = tune_thresholds(scores, y, ev)
        else:
            scores = np.zeros(y.shape)
            thresholds = np.full(len(taxonomy), ev.global_threshold)
        mlflow.log_dict(dict(zip(taxonomy.ids, map(float, thresholds))), "thresholds.json")

        echo("  final fit on all gold paragraphs" + (" + real training documents" if real_train is not None else "")
             + (" + extra" if extra is not None else ""))  # fmt: skip
        with stage("final fit", total=1, unit="fit") as final_bar:
            final = factory()
            everything = _training_set(labelled, np.arange(len(labelled)), extra, config.data.real_weight)
            final.fit(everything.model_texts, everything.y,
                      on_epoch=lambda e, loss: log_metric("final/train_loss", loss, e))  # fmt: skip
            final_bar.update(1)
        if factory.cache_outcomes:
            mlflow.set_tag("warm_start.cache", ",".join(factory.cache_outcomes))
        dev_metrics = None
        if real_dev is not None and len(real_dev):
            dev_scores = final.predict_proba(real_dev.model_texts)
            dev_metrics = compute_metrics(real_dev.y, (dev_scores >= thresholds).astype(int), dev_scores, taxonomy.ids)
            _log_metrics("dev_", dev_metrics)
            echo(f"  dev: micro-F1 {dev_metrics.micro_f1:.3f}, macro-F1 {dev_metrics.macro_f1:.3f} "
                 f"on {len(real_dev)} paragraphs of {len(set(real_dev.groups))} unseen documents")  # fmt: skip
            dev_table = pd.DataFrame(dev_scores, columns=[f"score_{t}" for t in taxonomy.ids])
            dev_table.insert(0, "id", real_dev.ids)
            dev_table.insert(1, "gold", [",".join(t) for t in real_dev.themes])
            mlflow.log_table(dev_table, "evaluation/dev_scores.json")
        with tempfile.TemporaryDirectory() as tmp:
            bundle = save_bundle(Path(tmp) / "theme_model", final, taxonomy, thresholds)
            info = mlflow.pyfunc.log_model(
                name="model",
                python_model=ThemeTagger(),
                artifacts={ARTIFACT_KEY: str(bundle)},
                code_paths=[str(PACKAGE_DIR)],
                signature=signature(taxonomy.ids),
                input_example=pd.DataFrame({"text": gold.texts[:2]}),
                pip_requirements=pip_requirements(),
                model_config={"int8": config.tracking.log_int8, "batch_size": DEFAULT_BATCH_SIZE},
                registered_model_name=config.tracking.registered_model if config.tracking.register_model else None,
            )
        version = None
        if config.tracking.register_model and info.registered_model_version is not None:
            version = str(info.registered_model_version)
            MlflowClient().set_registered_model_alias(config.tracking.registered_model, "candidate", version)
        seconds = time.time() - started
        mlflow.log_metric("wall_seconds", seconds)
        mlflow.set_tag("mlflow.note.content", run_note(config, metrics, gold, extra, precision, seconds,
                                                       factory.cache_outcomes, dev_metrics, real_train))  # fmt: skip
    return RunResult(metrics, scores, thresholds, run.info.run_id, info.model_uri, version, seconds, uri, dev_metrics)
