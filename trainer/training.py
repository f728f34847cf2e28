"""`trainer train`: cross-validate a config by report, fit the final model, log and register it."""

from __future__ import annotations

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

from trainer import plots, tracking
from trainer.config import BertModel, RunConfig, flatten
from trainer.evaluation import Metrics, compute_metrics, cross_fitted_predictions, report_folds, tune_thresholds
from trainer.labels import LabelledSet, load_examples, load_gold
from trainer.models import build_model
from trainer.pyfunc import ARTIFACT_KEY, ThemeTagger, pip_requirements, quantize_in_place, save_bundle, signature
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


class ModelFactory:
    """Builds fresh models for each fold; fits any BERT warm start once and shares it."""

    def __init__(self, config: RunConfig, taxonomy: Taxonomy, extra: LabelledSet | None,
                 log_metric: Callable[[str, float, int], None]):  # fmt: skip
        self.config, self.taxonomy, self.extra, self.log_metric = config, taxonomy, extra, log_metric
        self._warm: dict[str, object] = {}

    def _warm_start(self, spec: BertModel):
        key = spec.model_dump_json()
        if key not in self._warm:
            from trainer.models.bert import BertThemeModel

            log.info("warm start: %d epochs on %d extra paragraphs", spec.warm_start_epochs, len(self.extra))
            model = BertThemeModel(spec, self.config.training, len(self.taxonomy))
            model.fit(self.extra.model_texts, self.extra.y, epochs=spec.warm_start_epochs,
                      on_epoch=lambda e, loss: self.log_metric("warm_start/train_loss", loss, e))  # fmt: skip
            self._warm[key] = model
        return self._warm[key]

    def __call__(self):
        model = build_model(self.config.model, self.taxonomy, self.config.training)
        for member in [model, *getattr(model, "members", [])]:
            if getattr(member, "family", "") == "bert" and member.spec.warm_start_epochs:
                member.init_from = self._warm_start(member.spec)
        return model


def _training_set(gold: LabelledSet, rows: np.ndarray, extra: LabelledSet | None) -> LabelledSet:
    part = gold.subset(rows)
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


def cross_validate(config: RunConfig, gold: LabelledSet, factory: ModelFactory, extra: LabelledSet | None,
                   log_metric: Callable[[str, float, int], None],
                   echo: Callable[[str], None]) -> tuple[np.ndarray, np.ndarray | None, list[np.ndarray]]:  # fmt: skip
    """Out-of-fold scores for every gold paragraph, one report held out at a time.

    With `evaluation.int8_check`, each fold model is also scored after int8 quantization,
    so the quality cost of fast inference is measured on the same out-of-fold paragraphs.
    For an ensemble, each member's out-of-fold scores come back too (ablations from the same folds).
    """
    scores = np.zeros(gold.y.shape, dtype=np.float64)
    int8_scores = np.zeros(gold.y.shape, dtype=np.float64) if config.evaluation.int8_check else None
    member_scores = [np.zeros(gold.y.shape) for _ in getattr(config.model, "members", [])]
    folds = report_folds(gold.groups)
    for k, (train_rows, test_rows) in enumerate(folds):
        started = time.time()
        train = _training_set(gold, train_rows, extra)
        model = factory()
        model.fit(train.model_texts, train.y, on_epoch=lambda e, loss, k=k: log_metric(f"fold_{k}/train_loss", loss, e))
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
        echo(f"  fold {k + 1}/{len(folds)}: held out {gold.groups[test_rows[0]]} "
             f"({len(test_rows)} paragraphs, trained on {len(train)}) in {time.time() - started:.0f}s")  # fmt: skip
    return scores, int8_scores, member_scores


def train(config: RunConfig, config_path: Path | None = None, echo: Callable[[str], None] = print) -> RunResult:
    started = time.time()
    taxonomy = load_taxonomy(config.data.taxonomy)
    gold = load_gold(config.data.gold, taxonomy)
    extra = None
    for path in config.data.extra_train:
        part = load_examples(path, taxonomy)
        extra = part if extra is None else extra.concat(part)
    uri = tracking.connect(config.tracking)
    tracking.use_experiment(config.tracking.experiment, uri)
    ev = config.evaluation
    with mlflow.start_run(run_name=config.tracking.run_name) as run:
        mlflow.log_params(flatten(config))
        if config_path is not None:
            mlflow.log_artifact(str(config_path), "config")
        mlflow.log_dict(config.model_dump(mode="json"), "config/resolved.json")
        mlflow.log_input(mlflow.data.from_pandas(gold.to_dataset().to_pandas(), source=str(config.data.gold),
                                                 name="gold"), context="evaluation")  # fmt: skip
        if extra is not None:
            mlflow.log_input(mlflow.data.from_pandas(extra.to_dataset().to_pandas(), name="extra_train",
                                                     source=",".join(map(str, config.data.extra_train))),
                             context="training")  # fmt: skip
        mlflow.set_tags({"model.family": config.model.family, "gold.paragraphs": len(gold),
                         "extra.paragraphs": len(extra) if extra is not None else 0})  # fmt: skip

        def log_metric(key: str, value: float, step: int) -> None:
            mlflow.log_metric(key, value, step=step)

        factory = ModelFactory(config, taxonomy, extra, log_metric)
        y = gold.y
        echo(f"{config.model.family}: {len(gold)} gold paragraphs from {len(set(gold.groups))} reports"
             + (f", {len(extra)} extra training paragraphs" if extra is not None else ""))  # fmt: skip
        metrics = None
        if ev.cross_validate:
            scores, int8_scores, member_scores = cross_validate(config, gold, factory, extra, log_metric, echo)
            predicted = cross_fitted_predictions(scores, y, gold.groups, ev)
            metrics = compute_metrics(y, predicted, scores, taxonomy.ids)
            for i, part in enumerate(member_scores):
                part_predicted = cross_fitted_predictions(part, y, gold.groups, ev)
                part_metrics = compute_metrics(y, part_predicted, part, taxonomy.ids)
                family = config.model.members[i].model.family
                mlflow.log_metrics({f"cv_member_{i}_{family}_{k}": v for k, v in part_metrics.summary().items()
                                    if k in ("micro_f1", "macro_f1", "pr_auc_micro")})  # fmt: skip
            if int8_scores is not None:
                int8_predicted = cross_fitted_predictions(int8_scores, y, gold.groups, ev)
                int8_metrics = compute_metrics(y, int8_predicted, int8_scores, taxonomy.ids)
                mlflow.log_metrics({f"cv_int8_{k}": v for k, v in int8_metrics.summary().items()})
            for k, (_, test_rows) in enumerate(report_folds(gold.groups)):
                fold = compute_metrics(y[test_rows], predicted[test_rows], scores[test_rows], taxonomy.ids)
                mlflow.log_metric("fold/micro_f1", fold.micro_f1, step=k)
                mlflow.log_metric("fold/macro_f1", fold.macro_f1, step=k)
            mlflow.log_metrics({f"cv_{k}": v for k, v in metrics.summary().items()})
            for theme, figures in metrics.per_theme.items():
                mlflow.log_metrics({f"{name}_{theme}": v for name, v in figures.items() if not np.isnan(v)})
            at_half = compute_metrics(y, (scores >= 0.5).astype(int), scores, taxonomy.ids)
            mlflow.log_metrics({"cv_micro_f1_at_0.5": at_half.micro_f1, "cv_macro_f1_at_0.5": at_half.macro_f1})
            import matplotlib.pyplot as plt

            for figure, name in ((plots.f1_bars(metrics.per_theme), "per_theme_f1"),
                                 (plots.pr_curves(y, scores, taxonomy.ids), "pr_curves"),
                                 (plots.confusion_heatmap(y, predicted, taxonomy.ids), "gold_vs_predicted")):  # fmt: skip
                mlflow.log_figure(figure, f"plots/{name}.png")
                plt.close(figure)  # runs in one process (tests, notebooks) would otherwise pile figures up
            errors = _errors_table(gold, predicted, scores)
            if len(errors):
                mlflow.log_table(errors, "evaluation/oof_errors.json")
            oof = pd.DataFrame(scores, columns=[f"score_{t}" for t in taxonomy.ids])
            oof.insert(0, "id", gold.ids)
            oof.insert(1, "gold", [",".join(t) for t in gold.themes])
            mlflow.log_table(oof, "evaluation/oof_scores.json")
            thresholds = tune_thresholds(scores, y, ev)
        else:
            scores = np.zeros(y.shape)
            thresholds = np.full(len(taxonomy), ev.global_threshold)
        mlflow.log_dict(dict(zip(taxonomy.ids, map(float, thresholds))), "thresholds.json")

        echo("  final fit on all gold paragraphs" + (" + extra" if extra is not None else ""))
        final = factory()
        everything = _training_set(gold, np.arange(len(gold)), extra)
        final.fit(
            everything.model_texts, everything.y, on_epoch=lambda e, loss: log_metric("final/train_loss", loss, e)
        )
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
                model_config={"int8": config.tracking.log_int8},
                registered_model_name=config.tracking.registered_model if config.tracking.register_model else None,
            )
        version = None
        if config.tracking.register_model and info.registered_model_version is not None:
            version = str(info.registered_model_version)
            MlflowClient().set_registered_model_alias(config.tracking.registered_model, "candidate", version)
        seconds = time.time() - started
        mlflow.log_metric("wall_seconds", seconds)
    return RunResult(metrics, scores, thresholds, run.info.run_id, info.model_uri, version, seconds, uri)
