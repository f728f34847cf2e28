"""Print the comparison table of all runs in an MLflow experiment (markdown), newest run per name.

python experiments/results_table.py [--tracking-uri URI] [--experiment theme-tagging]
"""

from __future__ import annotations

import argparse

from mlflow.tracking import MlflowClient

from trainer.evaluation import theme_metric_key
from trainer.taxonomy import load_taxonomy


def theme_figure(metrics: dict[str, float], figure: str, theme: str) -> float:
    """A per-theme figure under its current name, or under the name runs logged before the rename (f1_<theme>)."""
    return metrics.get(theme_metric_key(figure, theme), metrics.get(f"{figure}_{theme}", 0.0))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tracking-uri", default=None)
    parser.add_argument("--experiment", default="theme-tagging")
    args = parser.parse_args()
    from trainer import tracking

    uri = args.tracking_uri or tracking.connect()
    client = MlflowClient(uri)
    experiment = client.get_experiment_by_name(args.experiment)
    runs = client.search_runs([experiment.experiment_id], "attributes.status = 'FINISHED'",
                              order_by=["attributes.start_time DESC"])  # fmt: skip
    newest = {}
    for run in runs:
        newest.setdefault(run.info.run_name, run)
    latest = dict(sorted(newest.items(), key=lambda item: item[1].info.start_time))  # in the order they ran
    ids = load_taxonomy().ids
    print("| run | micro-F1 | macro-F1 | samples-F1 | PR-AUC (micro) | wall (min) |")
    print("|---|---|---|---|---|---|")
    for name, run in latest.items():
        m = run.data.metrics
        print(f"| {name} | {m['cv_micro_f1']:.3f} | {m['cv_macro_f1']:.3f} | {m['cv_samples_f1']:.3f} | "
              f"{m['cv_pr_auc_micro']:.3f} | {m.get('wall_seconds', 0) / 60:.1f} |")  # fmt: skip
    print()
    print("Ensemble members, each scored alone on the same folds (cv_member_*), and int8 copies (cv_int8_*):")
    print()
    print("| run | part | micro-F1 | macro-F1 |")
    print("|---|---|---|---|")
    for name, run in latest.items():
        m = run.data.metrics
        for key in sorted(k for k in m if k.startswith("cv_member_") and k.endswith("_micro_f1")):
            part = key[len("cv_member_") : -len("_micro_f1")]
            print(f"| {name} | member {part} alone | {m[key]:.3f} | {m[key.replace('_micro_f1', '_macro_f1')]:.3f} |")
        if "cv_int8_micro_f1" in m:
            print(f"| {name} | int8 copy | {m['cv_int8_micro_f1']:.3f} | {m['cv_int8_macro_f1']:.3f} |")
    print()
    print("| theme (n) | " + " | ".join(latest) + " |")
    print("|---|" + "---|" * len(latest))
    for theme in ids:
        first = next(iter(latest.values())).data.metrics
        cells = [f"{theme_figure(run.data.metrics, 'f1', theme):.2f}" for run in latest.values()]
        support = int(theme_figure(first, "support", theme))
        print(f"| {theme} ({support}) | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
