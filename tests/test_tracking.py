"""The tracking store: a dead server fails fast with one line, the UI command runs this interpreter,
and the experiment opens on its runs in the MLflow UI."""

from __future__ import annotations

import http.server
import shlex
import sys
import threading
import time

import pytest
from mlflow.tracking import MlflowClient

from tests.conftest import free_port
from trainer import tracking
from trainer.cli import main
from trainer.config import TrackingConfig
from trainer.errors import UserError

SEED = "seeds/002_6416096977825b04.txt"


@pytest.fixture
def dead_server() -> str:
    """A URI on a local port nothing listens on."""
    return f"http://127.0.0.1:{free_port()}"


def test_check_names_the_uri_and_what_to_do(dead_server):
    started = time.time()
    with pytest.raises(UserError) as caught:
        tracking.check_reachable(dead_server)
    assert time.time() - started < 30
    message = str(caught.value)
    assert f"cannot reach the MLflow tracking server {dead_server}" in message
    assert "MLFLOW_TRACKING_URI" in message and "\n" not in message


def test_any_http_answer_counts_as_a_server():
    """A server that answers 404 on /health (a proxy, an older server) is there; only silence fails."""

    class NotFound(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_error(404)

        def log_message(self, *args):
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), NotFound)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        uri = f"http://127.0.0.1:{server.server_address[1]}"
        assert tracking.check_reachable(uri) == uri
    finally:
        server.shutdown()
        server.server_close()


def test_local_stores_need_no_server(store):
    assert tracking.check_reachable(store) == store


def test_train_against_a_dead_server_fails_in_seconds_with_one_line(dead_server, monkeypatch, capsys):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", dead_server)
    started = time.time()
    assert main(["train", "configs/keywords.yaml"]) == 2
    assert time.time() - started < 30
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert err[0].startswith(f"error: cannot reach the MLflow tracking server {dead_server}")


def test_tag_against_a_dead_server_says_so_not_that_no_model_is_registered(dead_server, tmp_path, capsys):
    started = time.time()
    code = main(["tag", SEED, "--tracking-uri", dead_server, "--out", str(tmp_path / "t.jsonl"), "--no-progress"])
    assert code == 2
    assert time.time() - started < 30
    err = capsys.readouterr().err
    assert f"cannot reach the MLflow tracking server {dead_server}" in err
    assert "no registered model" not in err
    assert not (tmp_path / "t.jsonl").exists()


def test_tag_with_a_dead_server_in_the_environment_fails_the_same_way(dead_server, monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", dead_server)
    assert main(["tag", SEED, "--out", str(tmp_path / "t.jsonl"), "--no-progress"]) == 2
    assert f"cannot reach the MLflow tracking server {dead_server}" in capsys.readouterr().err


def test_promote_against_a_dead_server_fails_fast(dead_server, capsys):
    assert main(["promote", "theme-tagger", "1", "--tracking-uri", dead_server]) == 2
    assert "cannot reach the MLflow tracking server" in capsys.readouterr().err


def test_ui_command_runs_mlflow_through_this_interpreter(capsys, monkeypatch):
    """`.venv/bin/trainer ui` must work without an activated venv: no `mlflow` looked up on PATH."""
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    assert main(["ui", "--print-only"]) == 0
    printed = shlex.split(capsys.readouterr().out.strip())
    assert printed[:4] == [sys.executable, "-m", "mlflow", "ui"]
    assert printed[printed.index("--backend-store-uri") + 1] == tracking.default_tracking_uri()


def test_experiments_open_on_their_runs_in_the_mlflow_ui(store):
    """MLflow 3's UI opens an experiment without this tag on the GenAI overview ("Traces 0")."""
    tracking.connect(TrackingConfig(tracking_uri=store))
    client = MlflowClient(store)
    old = client.create_experiment("made-before-the-tag")  # an experiment from an earlier version of trainer
    for name in ("made-before-the-tag", "fresh"):
        experiment_id = tracking.use_experiment(name, store)
        assert client.get_experiment(experiment_id).tags["mlflow.experimentKind"] == "custom_model_development"
    assert tracking.use_experiment("made-before-the-tag", store) == old
