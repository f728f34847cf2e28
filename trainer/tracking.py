"""Where runs go: an embedded SQLite store under the project unless told otherwise.

MLflow is imported inside the functions that use it, so `check_reachable` can fail fast before any heavy import.
"""

from __future__ import annotations

import os
import sys
import urllib.error
import urllib.request
from pathlib import Path

from trainer.config import TrackingConfig
from trainer.errors import UserError

DEFAULT_STORE = Path("mlruns")
# Experiment tag the MLflow 3 UI reads to choose its layout; without it an experiment with no runs' traces opens on
# the GenAI overview. Values the UI knows (ExperimentKind in mlflow/server/js/src/experiment-tracking/constants.ts):
# genai_development, custom_model_development, finetuning, forecasting, classification, regression, automl, ...
EXPERIMENT_KIND_TAG = "mlflow.experimentKind"
EXPERIMENT_KIND = "custom_model_development"
SERVER_CHECK_SECONDS = 10.0


def default_tracking_uri() -> str:
    return f"sqlite:///{(DEFAULT_STORE / 'mlflow.db').resolve()}"


def tracking_uri(config: TrackingConfig | None = None) -> str:
    """Config beats $MLFLOW_TRACKING_URI beats the embedded store in ./mlruns."""
    if config is not None and config.tracking_uri:
        return config.tracking_uri
    return os.environ.get("MLFLOW_TRACKING_URI") or default_tracking_uri()


def check_reachable(uri: str | None = None, timeout: float = SERVER_CHECK_SECONDS) -> str:
    """Fail at once, in one line, when a tracking server does not answer (MLflow itself retries for minutes).

    Only http(s) stores are checked; any HTTP answer (even 401 or 404) means a server is there.
    """
    uri = uri or tracking_uri()
    if not uri.startswith(("http://", "https://")):
        return uri
    try:
        urllib.request.urlopen(f"{uri.rstrip('/')}/health", timeout=timeout).close()
    except urllib.error.HTTPError:
        pass  # it answered: auth, a proxy or a server without /health, but reachable
    except (OSError, ValueError) as exc:  # refused, unknown host, timed out, malformed URI
        reason = getattr(exc, "reason", None) or exc
        raise UserError(
            f"cannot reach the MLflow tracking server {uri} ({reason}); start it (mlflow server ...), or point "
            "MLFLOW_TRACKING_URI / tracking.tracking_uri / --tracking-uri at a running server, or unset them to "
            "use the local store ./mlruns"
        ) from None
    return uri


def connect(config: TrackingConfig | None = None) -> str:
    """Point MLflow at the store (creating the embedded one if needed, checking a server answers); return its URI."""
    import mlflow

    uri = check_reachable(tracking_uri(config))
    if uri.startswith("sqlite:///"):
        Path(uri[len("sqlite:///") :]).parent.mkdir(parents=True, exist_ok=True)
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    return uri


def use_experiment(name: str, uri: str) -> str:
    """Get or create the experiment; an embedded store keeps artifacts beside its database."""
    import mlflow
    from mlflow.tracking import MlflowClient

    client = MlflowClient(uri)
    experiment = client.get_experiment_by_name(name)
    if experiment is None:
        location = None
        if uri.startswith("sqlite:///"):
            location = (Path(uri[len("sqlite:///") :]).parent / "artifacts").resolve().as_uri()
        experiment_id = client.create_experiment(name, artifact_location=location)
    else:
        experiment_id = experiment.experiment_id
    if experiment is None or experiment.tags.get(EXPERIMENT_KIND_TAG) != EXPERIMENT_KIND:
        client.set_experiment_tag(experiment_id, EXPERIMENT_KIND_TAG, EXPERIMENT_KIND)  # the UI opens on the runs
    mlflow.set_experiment(experiment_id=experiment_id)
    return experiment_id


def ui_command(uri: str) -> list[str]:
    """`mlflow ui` run by this interpreter: works from .venv/bin/trainer without an activated venv."""
    return [sys.executable, "-m", "mlflow", "ui", "--backend-store-uri", uri, "--port", "5000"]
