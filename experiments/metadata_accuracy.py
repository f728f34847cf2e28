"""Accuracy of the report metadata (place, year, kind) on the seed reports, against labels/report_metadata.jsonl.

    .venv/bin/python experiments/metadata_accuracy.py [--out experiments/results/metadata_accuracy.json]

Each field of each report is counted as correct, wrong (a value that differs from the truth) or empty (nothing
stated, so nothing given). A county counts as correct when it equals the truth or the official county-level
division the truth belongs to (`county_official`: 大鹏新区 is a functional area inside 龙岗区); the strict figure
is printed too. Also prints how many of the team-written whole reports in labels/examples.jsonl get each field
(coverage only: they carry no metadata truth).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from trainer.metadata import describe_report  # noqa: E402
from trainer.reader import read_report  # noqa: E402

FIELDS = ("province", "city", "county", "town", "year", "kind")


def score_seeds() -> tuple[dict, list[dict]]:
    truth = [json.loads(line) for line in (ROOT / "labels" / "report_metadata.jsonl").open(encoding="utf-8")]
    counts: dict[str, dict[str, int]] = {f: defaultdict(int) for f in (*FIELDS, "county_strict")}
    rows = []
    for item in truth:
        report = read_report(ROOT / "seeds" / f"{item['report']}.txt")
        found = describe_report(report.path, [p.text for p in report.paragraphs])
        rows.append({"report": item["report"], **{f: found[f] for f in FIELDS}})
        for field in (*FIELDS, "county_strict"):
            name = "county" if field == "county_strict" else field
            accepted = {item[name]} | (
                {item["county_official"]} if field == "county" and "county_official" in item else set()
            )
            got = found[name]
            if got in (None, ""):
                outcome = "correct" if item[name] in (None, "") else "empty"
            else:
                outcome = "correct" if got in accepted else "wrong"
            counts[field][outcome] += 1
    return {f: dict(c) for f, c in counts.items()}, rows


def coverage_of_examples() -> dict:
    reports: dict[str, list[str]] = defaultdict(list)
    for line in (ROOT / "labels" / "examples.jsonl").open(encoding="utf-8"):
        row = json.loads(line)
        if row.get("report"):
            reports[row["report"]].append(row["text"])
    whole = {name: texts for name, texts in reports.items() if len(texts) >= 5}  # single rows are not reports
    found = [describe_report(Path(f"{name}.txt"), texts) for name, texts in whole.items()]
    return {"reports": len(found), **{f: sum(1 for m in found if m[f] not in (None, "")) for f in FIELDS}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(ROOT / "experiments" / "results" / "metadata_accuracy.json"))
    args = parser.parse_args()
    counts, rows = score_seeds()
    coverage = coverage_of_examples()
    print("| field | correct | wrong | empty |\n|---|---|---|---|")
    for field, c in counts.items():
        print(f"| {field} | {c.get('correct', 0)} | {c.get('wrong', 0)} | {c.get('empty', 0)} |")
    print("\nper seed:")
    for row in rows:
        print("  " + json.dumps(row, ensure_ascii=False))
    print(f"\nteam-written whole reports given a value ({coverage['reports']} reports): "
          + ", ".join(f"{f} {coverage[f]}" for f in FIELDS))  # fmt: skip
    Path(args.out).write_text(json.dumps({"seeds": counts, "per_seed": rows, "examples_coverage": coverage},
                                         ensure_ascii=False, indent=1))  # fmt: skip


if __name__ == "__main__":
    main()
