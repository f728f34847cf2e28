"""`trainer tag --log-run`: a batch tagging run recorded in MLflow, linked to the model version that made it.

The run carries the model (URI, registered name and version, the training run it came from) as tags, so
`mlflow.search_runs(filter_string="tags.model_name = 'theme-tagger' AND tags.model_version = '3'")` lists
everything that version tagged; and the input (digest of the files' content hashes, counts), the summary table
(`mlflow.log_table`), the places x themes heatmap and the self-contained HTML report as artifacts.
"""

from __future__ import annotations

import hashlib
import re
import tempfile
from pathlib import Path

from trainer.errors import UserError

BATCH_EXPERIMENT = "theme-tagging-batches"


def input_digest(keys: list[str]) -> str:
    """One digest of a batch's input: the sorted content hashes of its files (order and paths do not matter)."""
    return hashlib.sha256("\n".join(sorted(keys)).encode()).hexdigest()


def model_lineage(model_uri: str, tracking_uri: str) -> dict[str, str]:
    """Registered name, version and source run of a model URI (as far as the URI tells)."""
    from mlflow.exceptions import MlflowException
    from mlflow.tracking import MlflowClient

    tags = {"model_uri": model_uri}
    client = MlflowClient(tracking_uri, registry_uri=tracking_uri)
    alias = re.fullmatch(r"models:/([^/@]+)@(.+)", model_uri)
    number = re.fullmatch(r"models:/([^/@]+)/(\d+)", model_uri)
    run = re.fullmatch(r"runs:/([^/]+)/.*", model_uri)
    try:
        if alias:
            version = client.get_model_version_by_alias(alias.group(1), alias.group(2))
            tags["model_alias"] = alias.group(2)
        elif number:
            version = client.get_model_version(number.group(1), number.group(2))
        else:
            version = None
    except MlflowException:
        version = None
    if version is not None:
        tags.update(
            model_name=version.name, model_version=str(version.version), model_source_run_id=version.run_id or ""
        )
    elif run:
        tags["model_source_run_id"] = run.group(1)
    elif Path(model_uri).is_dir():
        tags["model_path"] = str(Path(model_uri).resolve())
    return tags


def heatmap_png(summary, path: Path) -> None:
    """Places x themes (share of text) as a PNG the MLflow UI shows inline."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib import font_manager

    from trainer.html_report import _reports, share_table

    theme_ids = [c[len("share_") :] for c in summary.columns if c.startswith("share_")]
    table = share_table(_reports(summary, theme_ids), ["place"], theme_ids).head(40)
    cjk = [f.name for f in font_manager.fontManager.ttflist if "CJK" in f.name]
    fig, ax = plt.subplots(figsize=(11, 1.5 + 0.32 * len(table)))
    image = ax.imshow(table.to_numpy(), cmap="Blues", aspect="auto", vmin=0)
    ax.set_xticks(range(len(theme_ids)), theme_ids, rotation=60, ha="right", fontsize=8)
    ax.set_yticks(range(len(table)), list(table.index), fontsize=8, family=cjk[:1] or None)
    fig.colorbar(image, ax=ax, label="share of text")
    ax.set_title("Places x themes (share of text)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def log_tag_run(*, out: Path, fmt: str, model_uri: str, tracking_uri: str | None, params: dict, keys: list[str],
                counts: dict[str, float]) -> str:  # fmt: skip
    """Record a finished tagging run; returns the run id."""
    import mlflow
    from mlflow.exceptions import MlflowException

    from trainer import tracking
    from trainer.html_report import build_report
    from trainer.outputs import flat_frame, read_summary

    uri = tracking_uri or tracking.connect()
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    lineage = model_lineage(model_uri, uri)
    summary = read_summary(out, fmt)
    try:
        tracking.use_experiment(BATCH_EXPERIMENT, uri)
        with mlflow.start_run(run_name=f"tag {out.name}") as run:
            mlflow.set_tags({**lineage, "kind": "batch_tagging", "output": str(out.resolve())})
            mlflow.log_params({**params, "input_digest": input_digest(keys), "input_files": len(keys)})
            mlflow.log_metrics(counts)
            mlflow.log_table(flat_frame(summary), artifact_file="tags/summary.json")
            with tempfile.TemporaryDirectory() as tmp:
                if (summary["status"] == "ok").any():
                    heatmap_png(summary, Path(tmp) / "places_x_themes.png")
                    build_report(out, Path(tmp) / "report.html")
                    mlflow.log_artifacts(tmp, artifact_path="tags")
            return run.info.run_id
    except (OSError, MlflowException) as exc:
        message = getattr(exc, "message", str(exc)).splitlines()[0]
        raise UserError(f"--log-run: the tags are written to {out}, but logging to {uri} failed ({message})") from None
