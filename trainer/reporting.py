"""What `trainer train` prints at the end of a run."""

from __future__ import annotations

from trainer.config import RunConfig
from trainer.tracking import ui_command


def print_run(config: RunConfig, result) -> None:
    m = result.metrics
    if m is not None:
        print("\nleave-one-report-out CV (thresholds tuned on the other reports):")
        print(f"  micro-F1 {m.micro_f1:.3f}  macro-F1 {m.macro_f1:.3f}  samples-F1 {m.samples_f1:.3f}  "
              f"PR-AUC(micro) {m.pr_auc_micro:.3f}")  # fmt: skip
        print(f"  {'theme':<28}{'P':>6}{'R':>6}{'F1':>6}{'n':>5}")
        for theme, f in m.per_theme.items():
            print(f"  {theme:<28}{f['precision']:>6.2f}{f['recall']:>6.2f}{f['f1']:>6.2f}{f['support']:>5}")
    print(f"\nrun {result.run_id} finished in {result.seconds / 60:.1f} min")
    print(f"model: {result.model_uri}")
    if result.model_version:
        name = config.tracking.registered_model
        print(f"registered: models:/{name}/{result.model_version} (alias 'candidate'); "
              f"promote with: trainer promote {name} {result.model_version}")  # fmt: skip
    print(f"MLflow UI: {ui_command(result.tracking_uri)}  (then open http://127.0.0.1:5000)")
