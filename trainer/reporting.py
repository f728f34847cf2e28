"""What `trainer train` prints at the end of a run, and the run's description in MLflow."""

from __future__ import annotations

import shlex

from trainer.config import RunConfig
from trainer.tracking import ui_command


def _family(config: RunConfig) -> str:
    members = getattr(config.model, "members", None)
    if not members:
        return config.model.family
    return f"ensemble ({' + '.join(m.model.family for m in members)})"


def run_note(config: RunConfig, metrics, gold, extra, precision: str, seconds: float, warm_cache: list[str],
             dev=None, real_train=None) -> str:  # fmt: skip
    """The headline an analyst sees as the run's description (MLflow tag `mlflow.note.content`, markdown)."""
    reports = len(set(gold.groups))
    if metrics is not None:
        first = (f"**CV micro-F1 {metrics.micro_f1:.3f} · macro-F1 {metrics.macro_f1:.3f}** "
                 f"(samples-F1 {metrics.samples_f1:.3f}, PR-AUC micro {metrics.pr_auc_micro:.3f}; leave-one-report-out "
                 f"over {reports} reports, thresholds `{config.evaluation.thresholds}`)")  # fmt: skip
    else:
        first = "**No cross-validation** (`evaluation.cross_validate: false`)"
    if dev is not None:
        first += f"\n\n**Dev (unseen real documents) micro-F1 {dev.micro_f1:.3f} · macro-F1 {dev.macro_f1:.3f}**"
    data = f"{len(gold)} gold paragraphs from {reports} reports"
    if real_train is not None:
        data += f" + {len(real_train)} real training paragraphs from {len(set(real_train.groups))} documents"
    if extra is not None:
        data += f" + {len(extra)} extra training paragraphs"
    facts = [f"model: {_family(config)}", f"data: {data}", f"precision: {precision}",
             f"wall time: {seconds / 60:.1f} min"]  # fmt: skip
    if warm_cache:
        facts.append(f"warm start: cache {', '.join(warm_cache)}")
    return first + "\n\n" + " · ".join(facts)


def print_run(config: RunConfig, result) -> None:
    m = result.metrics
    if m is not None:
        print("\nleave-one-report-out CV (thresholds tuned on the other reports):")
        print(f"  micro-F1 {m.micro_f1:.3f}  macro-F1 {m.macro_f1:.3f}  samples-F1 {m.samples_f1:.3f}  "
              f"PR-AUC(micro) {m.pr_auc_micro:.3f}")  # fmt: skip
        print(f"  {'theme':<28}{'P':>6}{'R':>6}{'F1':>6}{'n':>5}")
        for theme, f in m.per_theme.items():
            print(f"  {theme:<28}{f['precision']:>6.2f}{f['recall']:>6.2f}{f['f1']:>6.2f}{f['support']:>5}")
    dev = getattr(result, "dev_metrics", None)
    if dev is not None:
        print("\nreal dev part (documents never trained on; thresholds from the CV):")
        print(f"  micro-F1 {dev.micro_f1:.3f}  macro-F1 {dev.macro_f1:.3f}  samples-F1 {dev.samples_f1:.3f}")
        weakest = sorted(dev.per_theme.items(), key=lambda item: item[1]["f1"])[:5]
        print("  weakest: " + ", ".join(f"{t} {f['f1']:.2f} (n={f['support']})" for t, f in weakest))
    print(f"\nrun {result.run_id} finished in {result.seconds / 60:.1f} min")
    print(f"model: {result.model_uri}")
    if result.model_version:
        name = config.tracking.registered_model
        print(f"registered: models:/{name}/{result.model_version} (alias 'candidate'); "
              f"promote with: trainer promote {name} {result.model_version}")  # fmt: skip
    if result.tracking_uri.startswith(("http://", "https://")):
        print(f"MLflow UI: {result.tracking_uri}")
    else:
        print(f"MLflow UI: {shlex.join(ui_command(result.tracking_uri))}  (then open http://127.0.0.1:5000)")
