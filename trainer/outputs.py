"""Tag outputs: per-paragraph rows and per-report summaries as JSONL, CSV or XLSX, written atomically.

A write goes to a temporary file beside the target and is moved into place in
one step, so an interrupted run leaves either the previous complete output or
the new complete output, never half a file.
"""

from __future__ import annotations

import json
import os
import tempfile
from contextlib import contextmanager
from pathlib import Path

import pandas as pd

from trainer.errors import UserError

FORMATS = ("jsonl", "csv", "xlsx")
LIST_COLUMNS = ("themes",)
JSON_COLUMNS = ("evidence",)


def output_format(out: Path, requested: str | None) -> str:
    fmt = requested or out.suffix.lower().lstrip(".")
    if fmt not in FORMATS:
        raise UserError(f"--out {out}: cannot tell the format from '{out.suffix}'; use --format jsonl|csv|xlsx")
    return fmt


def summary_path(out: Path, fmt: str) -> Path | None:
    """JSONL and CSV keep summaries in a sibling file; XLSX has them as a second sheet."""
    return None if fmt == "xlsx" else out.with_name(f"{out.stem}.summary.{fmt}")


@contextmanager
def atomic_path(target: Path):
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        os.replace(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _flat(frame: pd.DataFrame) -> pd.DataFrame:
    """Lists and dicts as text, for CSV and spreadsheet cells."""
    flat = frame.copy()
    for column in flat.columns:
        if column in LIST_COLUMNS or column.startswith("top_"):
            flat[column] = flat[column].map(lambda v: ";".join(map(str, v)) if isinstance(v, list) else v)
        elif column in JSON_COLUMNS:
            flat[column] = flat[column].map(lambda v: json.dumps(v, ensure_ascii=False) if isinstance(v, dict) else v)
    return flat


def _unflat(frame: pd.DataFrame) -> pd.DataFrame:
    for column in frame.columns:
        if column in LIST_COLUMNS:
            frame[column] = frame[column].map(
                lambda v: [t for t in str(v).split(";") if t] if isinstance(v, str) else []
            )
        elif column.startswith("top_"):
            frame[column] = frame[column].map(
                lambda v: (
                    [int(float(t)) for t in str(v).split(";") if t]
                    if isinstance(v, (str, int, float)) and str(v) != "nan"
                    else []
                )
            )
        elif column in JSON_COLUMNS:
            frame[column] = frame[column].map(lambda v: json.loads(v) if isinstance(v, str) and v else {})
    return frame


def write_outputs(out: Path, fmt: str, paragraphs: pd.DataFrame, summary: pd.DataFrame) -> None:
    if fmt == "xlsx":
        with atomic_path(out) as tmp:
            with pd.ExcelWriter(tmp, engine="openpyxl") as writer:
                _flat(paragraphs).to_excel(writer, sheet_name="paragraphs", index=False)
                _flat(summary).to_excel(writer, sheet_name="summary", index=False)
        return
    side = summary_path(out, fmt)
    # Summary first: a resume trusts only reports with a summary row, so paragraphs written
    # second can never be missing for a report the summary lists.
    for frame, target in ((summary, side), (paragraphs, out)):
        with atomic_path(target) as tmp:
            if fmt == "jsonl":
                frame.to_json(tmp, orient="records", lines=True, force_ascii=False)
            else:
                _flat(frame).to_csv(tmp, index=False, encoding="utf-8-sig")


def read_outputs(out: Path, fmt: str) -> tuple[pd.DataFrame, pd.DataFrame] | None:
    """Existing outputs (for --resume); None when there are none yet."""
    if not out.exists():
        return None
    try:
        if fmt == "xlsx":
            sheets = pd.read_excel(out, sheet_name=None, engine="openpyxl")
            paragraphs, summary = sheets["paragraphs"], sheets["summary"]
        elif fmt == "jsonl":
            paragraphs = pd.read_json(out, lines=True, dtype=False) if out.stat().st_size else pd.DataFrame()
            side = summary_path(out, fmt)
            summary = (
                pd.read_json(side, lines=True, dtype=False) if side.exists() and side.stat().st_size else pd.DataFrame()
            )
        else:
            paragraphs = pd.read_csv(out, encoding="utf-8-sig")
            side = summary_path(out, fmt)
            summary = pd.read_csv(side, encoding="utf-8-sig") if side.exists() else pd.DataFrame()
    except (ValueError, KeyError, OSError) as exc:
        raise UserError(
            f"--resume: cannot read the existing output {out} ({exc}); move it away or drop --resume"
        ) from None
    if fmt != "jsonl":
        paragraphs, summary = _unflat(paragraphs), _unflat(summary)
    return paragraphs, summary
