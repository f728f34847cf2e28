"""Model registry actions: aliases point analysts' tagging runs at a version."""

from __future__ import annotations

from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from trainer import tracking
from trainer.errors import UserError


def promote(name: str, version: str, alias: str = "champion", uri: str | None = None) -> str:
    uri = tracking.check_reachable(uri) if uri else tracking.connect()
    client = MlflowClient(uri, registry_uri=uri)
    try:
        client.get_model_version(name, str(version))
        client.set_registered_model_alias(name, alias, str(version))
    except MlflowException as exc:
        raise UserError(f"cannot promote {name} version {version}: {exc.message.splitlines()[0]}") from None
    return f"models:/{name}@{alias} -> version {version}"
