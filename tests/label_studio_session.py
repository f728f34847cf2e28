"""Drive a Label Studio server through label-studio-sdk, as two annotators; run by the Label Studio venv's Python.

The sdk that matches the server is the one the server pins, and it cannot share the project's venv (it needs
numpy<2.3 through opencv), so the round-trip test runs this file with `scripts/label-studio python`:

    python label_studio_session.py PLAN.json

PLAN: {"url", "tokens": [first annotator's, second's], "config": labelling config path, "tasks": tasks JSON path,
       "labels": {paragraph_id: [themes of annotator 1, themes of annotator 2 or null]}, "export": output path}

It creates the project with the config, imports the tasks with their predictions, submits each annotator's
labels with their own token, and writes a JSON export (annotators named by email) to PLAN["export"].
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from label_studio_sdk import LabelStudio
from label_studio_sdk.types import SerializationOptionRequest, SerializationOptionsRequest


def result(themes: list[str]) -> list[dict]:
    if not themes:
        return []
    return [{"from_name": "themes", "to_name": "text", "type": "choices", "value": {"choices": themes}}]


def main(plan_path: str) -> None:
    plan = json.loads(Path(plan_path).read_text(encoding="utf-8"))
    clients = [LabelStudio(base_url=plan["url"], api_key=token) for token in plan["tokens"]]
    owner = clients[0]
    project = owner.projects.create(title="trainer round trip", label_config=Path(plan["config"]).read_text("utf-8"))
    owner.projects.update(project.id, maximum_annotations=2)  # double labelling: two annotators per task
    tasks = json.loads(Path(plan["tasks"]).read_text(encoding="utf-8"))
    owner.projects.import_tasks(id=project.id, request=tasks, return_task_ids=True)
    created = {t.data["paragraph_id"]: t for t in owner.tasks.list(project=project.id, fields="all")}
    assert len(created) == len(tasks), f"{len(created)} tasks in the project, {len(tasks)} imported"
    for pid, per_annotator in plan["labels"].items():
        for client, themes in zip(clients, per_annotator):
            if themes is not None:
                client.annotations.create(id=created[pid].id, result=result(themes), lead_time=2.5)
    full = SerializationOptionRequest(only_id=False)  # annotators by email, predictions in full
    options = SerializationOptionsRequest(annotations__completed_by=full, predictions=full)
    snapshot = owner.projects.exports.create(project.id, serialization_options=options)
    deadline = time.time() + 60
    while owner.projects.exports.get(project.id, snapshot.id).status != "completed":
        if time.time() > deadline:
            raise SystemExit(f"export {snapshot.id} did not complete in 60 s")
        time.sleep(0.5)
    chunks = owner.projects.exports.download(project.id, snapshot.id, export_type="JSON")
    Path(plan["export"]).write_bytes(b"".join(chunks))
    users = {u.email: u.id for u in owner.users.list()}
    settings = owner.projects.get(project.id)
    print(
        json.dumps(
            {
                "project": project.id,
                "tasks": len(created),
                "users": users,
                "maximum_annotations": settings.maximum_annotations,
            }
        )
    )


if __name__ == "__main__":
    main(sys.argv[1])
