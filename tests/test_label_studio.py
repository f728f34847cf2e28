"""Round trip through a real Label Studio server: export -> project -> two annotators -> export -> import.

Label Studio runs from its own virtualenv (`scripts/label-studio install`), started here on 127.0.0.1 with a
temporary data folder; it is driven with the label-studio-sdk that the server pins (tests/label_studio_session.py,
run by that venv's Python). Without the venv the test is skipped locally and FAILS in CI (CI=true).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
from pathlib import Path

import pytest

from tests.conftest import free_port, wait_until_up
from trainer.cli import main

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "scripts" / "label-studio"
VENV = Path(os.environ.get("LABEL_STUDIO_VENV", ROOT / ".cache" / "label-studio-venv"))
SEED = ROOT / "seeds" / "004_518bcdb960c12b90.txt"
ANNOTATORS = [("admin@example.com", "pass-admin-1", "trainer-test-token-0001"),
              ("second@example.com", "pass-second-2", "trainer-test-token-0002")]  # fmt: skip

pytestmark = pytest.mark.slow


def _require_venv() -> None:
    if (VENV / "bin" / "label-studio").exists():
        return
    message = f"no Label Studio in {VENV}: run `scripts/label-studio install` (about a minute)"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture(scope="module")
def label_studio(tmp_path_factory):
    """A fresh server with two users; yields (url, tokens)."""
    _require_venv()
    data_dir = tmp_path_factory.mktemp("label-studio")
    port = free_port()
    env = {**os.environ, "LABEL_STUDIO_VENV": str(VENV), "LABEL_STUDIO_BASE_DATA_DIR": str(data_dir),
           "LABEL_STUDIO_PORT": str(port), "LABEL_STUDIO_USERNAME": ANNOTATORS[0][0],
           "LABEL_STUDIO_PASSWORD": ANNOTATORS[0][1], "LABEL_STUDIO_USER_TOKEN": ANNOTATORS[0][2]}  # fmt: skip
    log = open(data_dir / "server.log", "wb")  # noqa: SIM115 - open for the server's whole life
    server = subprocess.Popen(["bash", str(SCRIPT), "serve"], env=env, stdout=log, stderr=subprocess.STDOUT,
                              start_new_session=True)  # fmt: skip
    try:
        wait_until_up(f"http://127.0.0.1:{port}/health", server, seconds=300)
        email, password, token = ANNOTATORS[1]
        added = subprocess.run(["bash", str(SCRIPT), "add-user", email, password, token], env=env,
                               capture_output=True, text=True, timeout=300)  # fmt: skip
        assert added.returncode == 0, added.stderr
        yield f"http://127.0.0.1:{port}", [a[2] for a in ANNOTATORS], env
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
        log.close()


def _model_folder(tmp_path: Path) -> Path:
    """A real (small) tfidf + keywords ensemble bundle to pre-annotate with."""
    import numpy as np

    from trainer.config import validate_config
    from trainer.labels import load_examples
    from trainer.models import build_model
    from trainer.pyfunc import save_bundle
    from trainer.taxonomy import load_taxonomy

    taxonomy = load_taxonomy(ROOT / "labels" / "taxonomy.yaml")
    config = validate_config({"model": {"family": "ensemble", "members": [{"model": {"family": "tfidf"}},
                                                                          {"model": {"family": "keywords"}}]}}, "test")  # fmt: skip
    data = load_examples(ROOT / "labels" / "examples.jsonl", taxonomy).subset(range(400))
    model = build_model(config.model, taxonomy, config.training).fit(data.texts, data.y)
    return save_bundle(tmp_path / "ensemble", model, taxonomy, np.full(len(taxonomy), 0.4))


def test_round_trip_through_label_studio_keeps_every_label(label_studio, tmp_path, capsys):
    url, tokens, env = label_studio
    tasks_path = tmp_path / "tasks.json"
    assert main(["label", "export", str(SEED), "--model", str(_model_folder(tmp_path)), "--strategy", "disagree",
                 "--n", "8", "--out", str(tasks_path), "--labelled"]) == 0  # fmt: skip
    tasks = json.loads(tasks_path.read_text(encoding="utf-8"))
    pids = [t["data"]["paragraph_id"] for t in tasks]
    # what each annotator submits: agreement, disagreement, "no theme", one annotator only
    labels = {pid: [["legal_aid", "mediation"], ["mediation", "legal_aid"]] for pid in pids}
    labels[pids[1]] = [["enforcement"], ["enforcement", "oversight"]]
    labels[pids[2]] = [[], []]
    labels[pids[3]] = [["digital"], None]
    labels[pids[4]] = [["party_leadership", "shortcomings", "legislation"]] * 2
    plan = {"url": url, "tokens": tokens, "config": str(tmp_path / "tasks.config.xml"), "tasks": str(tasks_path),
            "labels": labels, "export": str(tmp_path / "export.json")}  # fmt: skip
    (tmp_path / "plan.json").write_text(json.dumps(plan), encoding="utf-8")
    session = subprocess.run(["bash", str(SCRIPT), "python", str(ROOT / "tests" / "label_studio_session.py"),
                              str(tmp_path / "plan.json")], env=env, capture_output=True, text=True, timeout=300)  # fmt: skip
    assert session.returncode == 0, session.stderr[-3000:]
    summary = json.loads(session.stdout.strip().splitlines()[-1])
    users = summary["users"]
    assert summary["maximum_annotations"] == 2

    export = json.loads((tmp_path / "export.json").read_text(encoding="utf-8"))
    assert sorted(t["data"]["paragraph_id"] for t in export) == sorted(pids)
    by_pid = {t["data"]["paragraph_id"]: t for t in export}
    for task in tasks:  # the pre-annotations arrived with their model version and score
        (pred,) = by_pid[task["data"]["paragraph_id"]]["predictions"]
        assert pred["model_version"] == task["predictions"][0]["model_version"]
        assert pred["score"] == pytest.approx(task["predictions"][0]["score"])
        assert pred["result"] == task["predictions"][0]["result"]

    out = tmp_path / "labels.jsonl"
    assert main(["label", "import", str(tmp_path / "export.json"), "--out", str(out)]) == 0
    rows = {r["id"]: r for r in map(json.loads, out.read_text(encoding="utf-8").splitlines())}
    queue = {r["id"]: r for r in map(json.loads, (tmp_path / "labels.adjudication.jsonl").read_text().splitlines())}
    assert set(rows) | set(queue) == set(pids) and not set(rows) & set(queue)
    assert set(queue) == {pids[1]}
    order = {t: i for i, t in enumerate(tasks[0]["data"]["scores"])}  # taxonomy order
    for pid, (first, second) in labels.items():
        if pid in queue:
            got = [(a["annotator"], sorted(a["themes"])) for a in queue[pid]["annotations"]]
            assert got == [(ANNOTATORS[0][0], sorted(first)), (ANNOTATORS[1][0], sorted(second))]
            assert queue[pid]["differ"] == ["oversight"]
            continue
        row = rows[pid]
        assert row["themes"] == sorted(first, key=order.get)  # exactly the submitted themes, in taxonomy order
        assert row["text"] == by_pid[pid]["data"]["text"] and row["report"] == SEED.stem
        prov = row["provenance"]
        assert prov["task_id"] == by_pid[pid]["id"] and prov["model_version"] == tasks[0]["data"]["model_version"]
        annotators = [a["annotator"] for a in prov["annotations"]]
        assert annotators == ([ANNOTATORS[0][0]] if second is None else [ANNOTATORS[0][0], ANNOTATORS[1][0]])
        assert all(a["time"] for a in prov["annotations"])
        assert prov["decision"] == ("single" if second is None else "agreed")
    assert set(users) == {ANNOTATORS[0][0], ANNOTATORS[1][0]}
    printed = capsys.readouterr().out
    assert "1 disagreed" in printed and "agreement between the first two annotators" in printed
