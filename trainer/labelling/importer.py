"""`trainer label import`: a Label Studio JSON export back into training labels, with provenance.

Every task must have at least one submitted (not skipped) annotation, name known themes only and occur
once; otherwise nothing is written and each problem is one line naming the task. A task labelled by two or
more annotators goes into the labels file when they all agree and into the adjudication queue when they do
not; per-theme agreement between the first two annotators of each task is reported.

Rows follow `labels/examples.jsonl` (`id`, `text`, `themes`, `source`, `report`) plus `provenance`: the task id,
each annotator with their themes and time, the model version and strategy that chose the task. An existing
output is never overwritten silently: without `--append` or `--force` the import stops.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from trainer.agreement import agreement_of, format_agreement
from trainer.errors import UserError
from trainer.labelling.studio import result_themes
from trainer.labels import read_jsonl
from trainer.outputs import atomic_path
from trainer.taxonomy import Taxonomy

SOURCE = "label-studio"


@dataclass
class Annotation:
    annotator: str
    annotation_id: int | None
    time: str
    themes: list[str]
    lead_time: float | None


@dataclass
class LabelledTask:
    task_id: int
    paragraph_id: str
    text: str
    report: str
    data: dict
    annotations: list[Annotation]

    @property
    def agreed(self) -> bool:
        return len({tuple(sorted(a.themes)) for a in self.annotations}) == 1


class ImportProblems(UserError):
    """Several problems in one export; the CLI prints one line each."""

    def __init__(self, problems: list[str]):
        super().__init__("\n".join(problems))
        self.problems = problems


def _annotator(value: object) -> str:
    """An export names annotators by user id, or (snapshot with `annotations__completed_by`) by email."""
    if isinstance(value, dict):
        return str(value.get("email") or f"user:{value.get('id')}")
    return f"user:{value}"


def _describe(task: dict) -> str:
    pid = (task.get("data") or {}).get("paragraph_id")
    return f"task {task.get('id')}" + (f" (paragraph {pid})" if pid else "")


def read_export(path: Path, taxonomy: Taxonomy) -> list[LabelledTask]:
    """Validated tasks of a Label Studio JSON export; raises ImportProblems listing every bad task."""
    try:
        export = json.loads(path.read_text(encoding="utf-8-sig"))
    except OSError as exc:
        raise UserError(f"{path}: cannot read the export ({exc.strerror})") from None
    except json.JSONDecodeError as exc:
        raise UserError(f"{path}: not valid JSON ({exc.msg}, line {exc.lineno}); export the project as JSON") from None
    if not isinstance(export, list) or not all(isinstance(t, dict) for t in export):
        raise UserError(f"{path}: not a Label Studio JSON export (expected a list of tasks; use the JSON format, "
                        "not JSON-MIN or CSV)")  # fmt: skip
    problems: list[str] = []
    tasks: list[LabelledTask] = []
    seen_tasks: set[int] = set()
    seen_paragraphs: dict[str, int] = {}
    for task in export:
        where = f"{path}: {_describe(task)}"
        data = task.get("data") if isinstance(task.get("data"), dict) else {}
        task_id = task.get("id")
        if not isinstance(task_id, int):
            problems.append(f"{where}: no task id; export the project as JSON from Label Studio")
            continue
        if task_id in seen_tasks:
            problems.append(f"{where}: the task occurs twice in the export; export the project again")
            continue
        seen_tasks.add(task_id)
        text = data.get("text")
        if not isinstance(text, str) or not text.strip():
            problems.append(f"{where}: no paragraph text in data.text; was it created by `trainer label export`?")
            continue
        pid = str(data.get("paragraph_id") or f"{SOURCE}:{task_id}")
        if pid in seen_paragraphs:
            problems.append(f"{where}: paragraph {pid} is also task {seen_paragraphs[pid]}; delete one of the two "
                            "tasks in Label Studio (or merge their annotations) and export again")  # fmt: skip
            continue
        seen_paragraphs[pid] = task_id
        annotations, bad = [], False
        for ann in task.get("annotations") or []:
            if not isinstance(ann, dict) or ann.get("was_cancelled"):
                continue  # skipped by the annotator: not a label
            themes, error = result_themes(ann.get("result"))
            who = _annotator(ann.get("completed_by"))
            if error:
                problems.append(f"{where}: annotation {ann.get('id')} by {who}: {error}")
                bad = True
                continue
            unknown = [t for t in themes if t not in taxonomy.ids]
            if unknown:
                problems.append(f"{where}: annotation {ann.get('id')} by {who}: theme id(s) {', '.join(unknown)} "
                                f"not in the taxonomy (known: {', '.join(taxonomy.ids)})")  # fmt: skip
                bad = True
                continue
            annotations.append(Annotation(who, ann.get("id"), str(ann.get("updated_at") or ann.get("created_at") or ""),
                                          [t for t in taxonomy.ids if t in themes], ann.get("lead_time")))  # fmt: skip
        if bad:
            continue
        latest: dict[str, Annotation] = {}  # one annotator, several submissions: the last one counts
        for a in sorted(annotations, key=lambda a: (a.time, a.annotation_id or 0)):
            latest[a.annotator] = a
        if not latest:
            problems.append(f"{where}: no submitted annotation (empty or only skipped); label it or delete the task, "
                            "then export again")  # fmt: skip
            continue
        ordered = sorted(latest.values(), key=lambda a: (a.annotation_id or 0, a.time))
        tasks.append(LabelledTask(task_id, pid, text, str(data.get("report") or ""), data, ordered))
    if problems:
        raise ImportProblems(problems + [f"{path}: {len(problems)} problem(s); nothing was written"])
    return sorted(tasks, key=lambda t: t.task_id)


def _provenance(task: LabelledTask, decision: str) -> dict:
    return {
        "task_id": task.task_id,
        "decision": decision,
        "annotations": [
            {
                "annotator": a.annotator,
                "annotation_id": a.annotation_id,
                "time": a.time,
                "themes": a.themes,
                "lead_time": a.lead_time,
            }
            for a in task.annotations
        ],  # fmt: skip
        "model_version": task.data.get("model_version"),
        "strategy": task.data.get("strategy"),
    }


def label_rows(tasks: list[LabelledTask]) -> tuple[list[dict], list[dict]]:
    """(rows for the labels file, rows for the adjudication queue)."""
    rows, queue = [], []
    for task in tasks:
        base = {"id": task.paragraph_id, "text": task.text}
        if task.agreed:
            decision = "single" if len(task.annotations) == 1 else "agreed"
            rows.append({**base, "themes": task.annotations[0].themes, "source": SOURCE, "report": task.report,
                         "provenance": _provenance(task, decision)})  # fmt: skip
        else:
            all_themes = [set(a.themes) for a in task.annotations]
            differ = sorted(set.union(*all_themes) - set.intersection(*all_themes))
            queue.append({**base, "report": task.report, "task_id": task.task_id, "differ": differ,
                          "annotations": _provenance(task, "adjudicate")["annotations"]})  # fmt: skip
    return rows, queue


def agreement_report(tasks: list[LabelledTask], taxonomy: Taxonomy) -> str | None:
    """Agreement (F1) of the second annotator against the first over tasks with two or more; per theme for the
    themes either of them used."""
    double = [t for t in tasks if len(t.annotations) >= 2]
    if not double:
        return None
    first = {t.paragraph_id: t.annotations[0].themes for t in double}
    second = {t.paragraph_id: t.annotations[1].themes for t in double}
    used = {theme for labels in (first, second) for themes in labels.values() for theme in themes}
    return format_agreement(*agreement_of(first, second, taxonomy), only=used)


def _labels_key(row: dict) -> list:
    return sorted(row.get("themes") or [])


def _queue_key(row: dict) -> list:
    return sorted((a.get("annotator"), tuple(sorted(a.get("themes") or []))) for a in row.get("annotations") or [])


def _merge(existing: Path, rows: list[dict], key) -> tuple[list[dict], int]:
    """Existing rows + new ones; a paragraph already there with another decision stops the import."""
    old = [row for _, row in read_jsonl(existing)]
    by_id = {str(r.get("id")): r for r in old}
    added, unchanged = [], 0
    for row in rows:
        before = by_id.get(row["id"])
        if before is None:
            added.append(row)
        elif key(before) == key(row):
            unchanged += 1
        else:
            raise UserError(f"{existing}: paragraph {row['id']} is already there with other labels "
                            f"({key(before)} vs {key(row)} now); resolve it, or --force to replace the whole file")  # fmt: skip
    return old + added, unchanged


def write_jsonl(path: Path, rows: list[dict]) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")


def run_import(args, taxonomy: Taxonomy) -> int:
    export, out = Path(args.export), Path(args.out)
    queue_path = Path(args.queue) if args.queue else out.with_name(f"{out.stem}.adjudication.jsonl")
    if args.append and args.force:
        raise UserError("--append and --force: choose one (append to the labels, or replace them)")
    for target in (out, queue_path):
        if target.exists() and not (args.append or args.force):
            raise UserError(f"{target} exists; importing would overwrite labels. Use --append to add to it, "
                            "--force to replace it, or another --out")  # fmt: skip
    tasks = read_export(export, taxonomy)
    rows, queue = label_rows(tasks)
    unchanged = 0
    if args.append:
        if out.exists():
            rows, unchanged = _merge(out, rows, _labels_key)
        if queue_path.exists():
            queue, _ = _merge(queue_path, queue, _queue_key)
    report = agreement_report(tasks, taxonomy)
    if queue or queue_path.exists():
        write_jsonl(queue_path, queue)
    write_jsonl(out, rows)
    annotations = sum(len(t.annotations) for t in tasks)
    agreed = sum(1 for t in tasks if len(t.annotations) >= 2 and t.agreed)
    single = sum(1 for t in tasks if len(t.annotations) == 1)
    print(f"{len(tasks)} task(s), {annotations} annotation(s): {single} labelled once, {agreed} agreed by all "
          f"annotators, {len(tasks) - single - agreed} disagreed")  # fmt: skip
    print(f"labels -> {out} ({len(rows)} row(s){f', {unchanged} already there' if unchanged else ''})")
    if queue:
        print(f"adjudication queue -> {queue_path} ({len(queue)} paragraph(s) where annotators differ)")
    if report:
        print("\nagreement between the first two annotators of each task:\n" + report)
    return 0
