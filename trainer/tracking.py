"""Where runs go: an embedded SQLite store under the project unless told otherwise."""

from __future__ import annotations

import os
from pathlib import Path

import mlflow
from mlflow.tracking import MlflowClient

from trainer.config import TrackingConfig

DEFAULT_STORE = Path("mlruns")


def default_tracking_uri() -> str:
    return f"sqlite:///{(DEFAULT_STORE / 'mlflow.db').resolve()}"


def tracking_uri(config: TrackingConfig | None = None) -> str:
    """Config beats $MLFLOW_TRACKING_URI beats the embedded store in ./mlruns."""
    if config is not None and config.tracking_uri:
        return config.tracking_uri
    return os.environ.get("MLFLOW_TRACKING_URI") or default_tracking_uri()


def connect(config: TrackingConfig | None = None) -> str:
    """Point MLflow at the store (creating the embedded one if needed) and return its URI."""
    uri = tracking_uri(config)
    if uri.startswith("sqlite:///"):
        Path(uri[len("sqlite:///") :]).parent.mkdir(parents=True, exist_ok=True)
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    return uri


def use_experiment(name: str, uri: str) -> str:
    """Get or create the experiment; an embedded store keeps artifacts beside its database."""
    client = MlflowClient(uri)
    experiment = client.get_experiment_by_name(name)
    if experiment is None:
        location = None
        if uri.startswith("sqlite:///"):
            location = (Path(uri[len("sqlite:///") :]).parent / "artifacts").resolve().as_uri()
        experiment_id = client.create_experiment(name, artifact_location=location)
    else:
        experiment_id = experiment.experiment_id
    mlflow.set_experiment(experiment_id=experiment_id)
    return experiment_id


def ui_command(uri: str) -> str:
    return f"mlflow ui --backend-store-uri {uri} --port 5000"
