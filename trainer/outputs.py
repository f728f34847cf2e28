"""Tag outputs, streamed: per-paragraph rows and per-report summaries appended and committed as a run goes.

Memory stays flat whatever the archive's size: rows are written in chunks of
whole reports and forgotten. Every commit follows one order, so a kill -9 at
any moment loses no finished report and duplicates none:

1. the chunk's paragraph rows and summary rows are appended and fsynced;
2. one line naming the chunk's reports and the files' new sizes (JSONL/CSV)
   or part number (Parquet) is appended to a small ledger and fsynced.

A chunk is finished once its ledger line is complete. `--resume` reads only
the ledger, cuts the data files back to the sizes its last line names (a torn
tail of an unfinished chunk goes) and skips the reports it lists.

Layouts (`--out tags.EXT`):

| format  | paragraphs                          | summaries                          | ledger              |
|---------|-------------------------------------|------------------------------------|---------------------|
| jsonl   | tags.jsonl                          | tags.summary.jsonl                 | tags.ledger.jsonl   |
| csv     | tags.csv                            | tags.summary.csv                   | tags.ledger.jsonl   |
| parquet | tags.parquet/paragraphs/part-N.parquet | tags.parquet/summary/part-N.parquet | tags.parquet/_ledger.jsonl |
| xlsx    | streamed as JSONL into tags.xlsx.stream/, written to tags.xlsx (sheets paragraphs, summary) at the end |
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from trainer.errors import UserError

FORMATS = ("jsonl", "csv", "parquet", "xlsx")
LIST_COLUMNS = ("themes",)
JSON_COLUMNS = ("evidence",)
# Excel's sheet holds 1,048,576 rows, one of them the header.
EXCEL_MAX_ROWS = 1_048_575
# Parquet parts hold at least this many paragraph rows (fewer only for the last part of a run).
PARQUET_PART_ROWS = 20_000


def output_format(out: Path, requested: str | None) -> str:
    fmt = requested or out.suffix.lower().lstrip(".")
    if fmt not in FORMATS:
        raise UserError(f"--out {out}: cannot tell the format from '{out.suffix}'; use --format jsonl|csv|parquet|xlsx")
    return fmt


def summary_path(out: Path, fmt: str) -> Path | None:
    """Where JSONL and CSV keep summaries (a sibling file); Parquet and XLSX hold them inside."""
    return out.with_name(f"{out.stem}.summary.{fmt}") if fmt in ("jsonl", "csv") else None


def stream_folder(out: Path) -> Path:
    """The JSONL stream behind an XLSX output (kept for --resume)."""
    return out.with_name(f"{out.name}.stream")


def check_writable(out: Path, fmt: str) -> None:
    """Fail with one line, before any model is loaded, when the output cannot be written."""
    folder = out if fmt == "parquet" else out.parent
    probe_in = folder
    while not probe_in.exists():
        probe_in = probe_in.parent
    if not probe_in.is_dir():
        raise UserError(f"--out {out}: {probe_in} is a file, not a folder; choose another output path")
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".probe-"):
            pass
    except OSError as exc:
        raise UserError(f"--out {out}: cannot write there ({exc.strerror or exc}); choose a writable folder") from None
    if fmt == "parquet" and out.exists() and not out.is_dir():
        raise UserError(f"--out {out}: Parquet output is a folder, but a file of that name exists; move it away")
    if fmt != "parquet" and out.is_dir():
        raise UserError(f"--out {out}: is a folder; give a file name (or use a .parquet folder)")


def _flat_value(column: str, value):
    if column in LIST_COLUMNS or column.startswith("top_"):
        return ";".join(map(str, value)) if isinstance(value, list) else value
    if column in JSON_COLUMNS:
        return json.dumps(value, ensure_ascii=False) if isinstance(value, dict) else value
    return value


def flat_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """Lists and dicts as text, for CSV and spreadsheet cells."""
    flat = frame.copy()
    for column in flat.columns:
        if column in LIST_COLUMNS or column in JSON_COLUMNS or column.startswith("top_"):
            flat[column] = flat[column].map(lambda v, c=column: _flat_value(c, v))
    return flat


def unflat_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """Inverse of flat_frame (CSV, XLSX and Parquet cells back to lists and dicts)."""

    def as_list(v, cast):
        if isinstance(v, (list, tuple)) or hasattr(v, "tolist"):
            return [cast(t) for t in list(v)]
        if v is None or (isinstance(v, float) and v != v) or str(v) == "":
            return []
        return [cast(float(t)) if cast is int else cast(t) for t in str(v).split(";") if t]

    def as_dict(v):
        return v if isinstance(v, dict) else json.loads(v) if isinstance(v, str) and v else {}

    for column in frame.columns:
        if column in LIST_COLUMNS:
            frame[column] = frame[column].map(lambda v: as_list(v, str))
        elif column.startswith("top_"):
            frame[column] = frame[column].map(lambda v: as_list(v, int))
        elif column in JSON_COLUMNS:
            frame[column] = frame[column].map(as_dict)
    return frame


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@dataclass
class Chunk:
    """Rows of whole reports waiting to be committed together."""

    paragraphs: list[dict] = field(default_factory=list)
    summaries: list[dict] = field(default_factory=list)
    reports: list[dict] = field(default_factory=list)  # ledger entries: key, path, status, error


@dataclass
class Resumed:
    """What the ledger says a previous run finished."""

    done: set[str] = field(default_factory=set)
    failures: list[tuple[str, str]] = field(default_factory=list)
    reports: int = 0
    paragraphs: int = 0


class Ledger:
    """Append-only JSON lines, one per committed chunk; a torn last line is cut away on reading."""

    def __init__(self, path: Path):
        self.path = path

    def entries(self) -> list[dict]:
        if not self.path.exists():
            return []
        entries, good_bytes = [], 0
        with self.path.open("rb") as handle:
            for line in handle:
                if not line.endswith(b"\n"):
                    break
                try:
                    entries.append(json.loads(line))
                except ValueError:
                    break
                good_bytes += len(line)
        if good_bytes != self.path.stat().st_size:
            os.truncate(self.path, good_bytes)
        return entries

    def append(self, entry: dict) -> None:
        with self.path.open("ab") as handle:
            handle.write((json.dumps(entry, ensure_ascii=False) + "\n").encode("utf-8"))
            handle.flush()
            os.fsync(handle.fileno())


class TagStore:
    """Where one run's rows go; `commit` makes a chunk of whole reports durable."""

    def __init__(self, out: Path, paragraph_columns: list[str], summary_columns: list[str]):
        self.out = out
        self.paragraph_columns = paragraph_columns
        self.summary_columns = summary_columns
        self.paragraphs_written = 0
        self.reports_written = 0

    # subclasses: ledger, _reset, _restore(last_entry), _write(chunk) -> dict (positions for the ledger)
    ledger: Ledger

    def open(self, resume: bool) -> Resumed:
        """Start afresh, or (resume) cut back to the last committed chunk and say what it holds."""
        state = Resumed()
        entries = self.ledger.entries() if resume else []
        if not entries:
            self._reset()
            return state
        self._restore(entries[-1])
        for entry in entries:
            for report in entry["reports"]:
                state.done.add(report["key"])
                state.reports += 1
                if report["status"] == "error":
                    state.failures.append((report["path"], report["error"]))
        state.paragraphs = entries[-1]["paragraph_rows"]
        self.paragraphs_written, self.reports_written = state.paragraphs, state.reports
        return state

    def commit(self, chunk: Chunk) -> None:
        if not chunk.reports:
            return
        positions = self._write(chunk)
        self.paragraphs_written += len(chunk.paragraphs)
        self.reports_written += len(chunk.reports)
        self.ledger.append({"reports": chunk.reports, "paragraph_rows": self.paragraphs_written, **positions})

    def wants_commit(self, pending_rows: int) -> bool:
        """Text formats commit every chunk; Parquet waits for a part's worth of rows."""
        return True

    def close(self) -> None:
        """Anything the format needs once every chunk is committed."""


class _TextStore(TagStore):
    """JSONL or CSV: appended files, cut back to the ledger's sizes on resume."""

    def __init__(self, out: Path, fmt: str, paragraph_columns: list[str], summary_columns: list[str]):
        super().__init__(out, paragraph_columns, summary_columns)
        self.fmt = fmt
        self.files = {"paragraphs": out, "summary": summary_path(out, fmt)}
        self.columns = {"paragraphs": paragraph_columns, "summary": summary_columns}
        self.ledger = Ledger(out.with_name(f"{out.stem}.ledger.jsonl"))

    def _reset(self) -> None:
        self.out.parent.mkdir(parents=True, exist_ok=True)
        self.ledger.path.unlink(missing_ok=True)
        for name, path in self.files.items():
            with path.open("wb") as handle:
                if self.fmt == "csv":  # BOM so Excel opens the UTF-8 text as such
                    handle.write(("\ufeff" + ",".join(self.columns[name]) + "\n").encode("utf-8"))
                handle.flush()
                os.fsync(handle.fileno())

    def _restore(self, last: dict) -> None:
        for name, path in self.files.items():
            size = last[f"{name}_bytes"]
            if not path.exists() or path.stat().st_size < size:
                raise UserError(f"--resume: {path} is shorter than its ledger {self.ledger.path} says; "
                                "the output was changed by hand: move it away or drop --resume")  # fmt: skip
            os.truncate(path, size)

    def _encode(self, name: str, rows: list[dict]) -> bytes:
        if self.fmt == "jsonl":
            return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows).encode("utf-8")
        frame = flat_frame(pd.DataFrame(rows, columns=self.columns[name]))
        return frame.to_csv(header=False, index=False, lineterminator="\n").encode("utf-8")

    def _write(self, chunk: Chunk) -> dict:
        positions = {}
        for name, rows in (("paragraphs", chunk.paragraphs), ("summary", chunk.summaries)):
            path = self.files[name]
            with path.open("ab") as handle:
                if rows:
                    handle.write(self._encode(name, rows))
                handle.flush()
                os.fsync(handle.fileno())
                positions[f"{name}_bytes"] = handle.tell()
        return positions


class _ParquetStore(TagStore):
    """A folder of Parquet parts (one per committed chunk of reports), each moved into place whole."""

    def __init__(self, out: Path, paragraph_columns: list[str], summary_columns: list[str]):
        super().__init__(out, paragraph_columns, summary_columns)
        self.folders = {"paragraphs": out / "paragraphs", "summary": out / "summary"}
        self.ledger = Ledger(out / "_ledger.jsonl")
        self.next_part = 0

    def _reset(self) -> None:
        for folder in self.folders.values():
            shutil.rmtree(folder, ignore_errors=True)
            folder.mkdir(parents=True)
        self.ledger.path.unlink(missing_ok=True)

    def _restore(self, last: dict) -> None:
        self.next_part = last["part"] + 1
        for folder in self.folders.values():
            folder.mkdir(parents=True, exist_ok=True)
            for part in folder.glob("*.parquet"):
                if _part_number(part) >= self.next_part:
                    part.unlink()  # written by a chunk whose ledger line never came

    def wants_commit(self, pending_rows: int) -> bool:
        return pending_rows >= PARQUET_PART_ROWS

    def _write(self, chunk: Chunk) -> dict:
        from trainer.schema import arrow_table

        part = self.next_part
        for name, rows, columns in (("paragraphs", chunk.paragraphs, self.paragraph_columns),
                                    ("summary", chunk.summaries, self.summary_columns)):  # fmt: skip
            target = self.folders[name] / f"part-{part:05d}.parquet"
            tmp = target.with_name(f".{target.name}.tmp")
            import pyarrow.parquet as pq

            pq.write_table(arrow_table(name, rows, columns), tmp, compression="zstd")
            _fsync(tmp)
            os.replace(tmp, target)
            _fsync(target.parent)
        self.next_part += 1
        return {"part": part}


def _part_number(path: Path) -> int:
    try:
        return int(path.stem.split("-")[-1])
    except ValueError:
        return -1


class _XlsxStore(_TextStore):
    """Streams JSONL into a working folder; the workbook is written from it at the end."""

    def __init__(self, out: Path, paragraph_columns: list[str], summary_columns: list[str]):
        folder = stream_folder(out)
        super().__init__(folder / "tags.jsonl", "jsonl", paragraph_columns, summary_columns)
        self.workbook = out

    def _reset(self) -> None:
        stream_folder(self.workbook).mkdir(parents=True, exist_ok=True)
        super()._reset()

    def close(self) -> None:
        rows = self.paragraphs_written
        if rows > EXCEL_MAX_ROWS:
            raise UserError(f"--out {self.workbook}: {rows:,} paragraph rows are more than an Excel sheet holds "
                            f"({EXCEL_MAX_ROWS:,}); every row is kept in {self.out}; tag to .jsonl, .csv or "
                            ".parquet instead (same command, another --out)")  # fmt: skip
        write_xlsx(self.workbook, self.out, self.files["summary"], self.paragraph_columns, self.summary_columns)


@contextmanager
def atomic_path(target: Path):
    """A temporary path beside `target`, moved onto it only when the block completes: never a half-written file."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        os.replace(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def write_xlsx(target: Path, paragraphs: Path, summary: Path, paragraph_columns, summary_columns) -> None:
    """Stream two JSONL files into a write-only workbook (constant memory), moved into place whole."""
    from openpyxl import Workbook

    workbook = Workbook(write_only=True)
    for sheet_name, source, columns in (("paragraphs", paragraphs, paragraph_columns),
                                        ("summary", summary, summary_columns)):  # fmt: skip
        sheet = workbook.create_sheet(sheet_name)
        sheet.append(columns)
        for row in _jsonl_rows(source):
            sheet.append([_cell(c, row.get(c)) for c in columns])
    with atomic_path(target) as tmp:
        workbook.save(tmp)


def _cell(column: str, value):
    value = _flat_value(column, value)
    return "" if isinstance(value, (list, dict)) else value


def _jsonl_rows(path: Path) -> Iterator[dict]:
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            yield json.loads(line)


def open_store(out: Path, fmt: str, paragraph_columns: list[str], summary_columns: list[str]) -> TagStore:
    if fmt == "parquet":
        return _ParquetStore(out, paragraph_columns, summary_columns)
    if fmt == "xlsx":
        return _XlsxStore(out, paragraph_columns, summary_columns)
    return _TextStore(out, fmt, paragraph_columns, summary_columns)


def _resolve(out: Path, fmt: str | None) -> tuple[Path, str]:
    out = Path(out)
    if not out.exists():
        raise UserError(f"{out}: no such tag output; run trainer tag … --out {out} first")
    return out, fmt or ("parquet" if out.is_dir() else output_format(out, None))


@contextmanager
def _reading(out: Path):
    """One-line error for an output that cannot be read."""
    try:
        yield
    except (ValueError, KeyError, OSError) as exc:
        raise UserError(f"{out}: cannot read the tag output ({str(exc).splitlines()[0]})") from None


def read_summary(out: Path, fmt: str | None = None) -> pd.DataFrame:
    """The per-report summary rows of a finished output (small: one row per report)."""
    out, fmt = _resolve(out, fmt)
    with _reading(out):
        if fmt == "parquet":
            summary = _read_parquet(out / "summary")
        elif fmt == "xlsx":
            summary = pd.read_excel(out, sheet_name="summary", engine="openpyxl")
        elif fmt == "jsonl":
            summary = _read_jsonl(summary_path(out, fmt))
        else:
            summary = pd.read_csv(summary_path(out, fmt), encoding="utf-8-sig", keep_default_na=False, na_values=[""])
    return _typed(unflat_frame(summary))


def iter_paragraphs(out: Path, fmt: str | None = None, batch_rows: int = 20_000) -> Iterator[pd.DataFrame]:
    """The paragraph rows of a finished output in frames of at most batch_rows rows (memory stays flat)."""
    out, fmt = _resolve(out, fmt)
    with _reading(out):
        if fmt == "parquet":
            for batch in _dataset(out / "paragraphs").to_batches(batch_size=batch_rows):
                if batch.num_rows:
                    yield _typed(unflat_frame(batch.to_pandas()))
        elif fmt == "xlsx":
            yield _typed(unflat_frame(pd.read_excel(out, sheet_name="paragraphs", engine="openpyxl")))
        elif fmt == "jsonl":
            rows: list[dict] = []
            for row in _jsonl_rows(out):
                rows.append(row)
                if len(rows) == batch_rows:
                    yield _typed(unflat_frame(pd.DataFrame(rows)))
                    rows = []
            if rows:
                yield _typed(unflat_frame(pd.DataFrame(rows)))
        else:
            for frame in pd.read_csv(out, encoding="utf-8-sig", keep_default_na=False, na_values=[""],
                                     chunksize=batch_rows):  # fmt: skip
                yield _typed(unflat_frame(frame))


def read_tags(out: Path, fmt: str | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A finished output as (paragraphs, summary) frames, lists and dicts restored (for tests and small outputs).

    Reads any of this module's layouts, and the Parquet folders `trainer tag --spark` writes.
    """
    frames = list(iter_paragraphs(out, fmt))
    paragraphs = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    return paragraphs, read_summary(out, fmt)


def _typed(frame: pd.DataFrame) -> pd.DataFrame:
    """One dtype per column whatever the format: empty text as '', unknown years as <NA>."""
    import pyarrow as pa

    from trainer.schema import arrow_type

    for column in frame.columns:
        kind = arrow_type(column)
        if kind == pa.string() and column not in JSON_COLUMNS:
            frame[column] = frame[column].map(
                lambda v: "" if v is None or (isinstance(v, float) and v != v) else str(v)
            )
        elif kind == pa.int64():
            frame[column] = pd.to_numeric(frame[column]).astype("Int64")
    return frame


def _read_jsonl(path: Path) -> pd.DataFrame:
    return pd.DataFrame(list(_jsonl_rows(path))) if path.exists() and path.stat().st_size else pd.DataFrame()


def _dataset(folder: Path):
    import pyarrow.dataset as ds

    return ds.dataset(folder, format="parquet", partitioning="hive")


def _read_parquet(folder: Path) -> pd.DataFrame:
    return _dataset(folder).to_table().to_pandas()
