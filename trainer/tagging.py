"""`trainer tag`: tag every paragraph of incoming reports with a registered model.

Reports are read with the project's reader, paragraphs of several reports are
scored together (length-sorted batches inside the model), and per-paragraph
rows plus per-report summaries are streamed to the output in committed chunks
of whole reports (`trainer.outputs`): memory stays flat, a crash or kill loses
no finished report, and `--resume` skips what the output's ledger lists.
"""

from __future__ import annotations

import hashlib
import re
import sys
import time
from pathlib import Path

import numpy as np

from trainer.errors import UserError
from trainer.lineage import BATCH_EXPERIMENT
from trainer.metadata import describe_report
from trainer.outputs import Chunk, check_writable, open_store, output_format
from trainer.pyfunc import Bundle, is_quantized
from trainer.reader import Report, file_bytes, find_report_files, read_report
from trainer.schema import META_COLUMNS, paragraph_columns, summary_columns
from trainer.taxonomy import Taxonomy
from trainer.textnorm import model_text

# Paragraphs scored together (several reports, length-sorted batches inside the model).
CHUNK_PARAGRAPHS = 256
TOP_PARAGRAPHS = 3


def resolve_model_uri(model: str | None, registered_name: str, tracking_uri: str | None) -> str:
    """An explicit URI or folder as given; else the champion, falling back to the candidate."""
    if model:
        return model
    from mlflow.exceptions import MlflowException
    from mlflow.tracking import MlflowClient

    from trainer import tracking

    uri = tracking_uri or tracking.connect()
    client = MlflowClient(uri, registry_uri=uri)
    for alias in ("champion", "candidate"):
        try:
            client.get_model_version_by_alias(registered_name, alias)
        except MlflowException:
            continue
        if alias == "candidate":
            print(f"notice: no '{registered_name}@champion' yet; using @candidate "
                  f"(promote one with: trainer promote {registered_name} VERSION)", file=sys.stderr)  # fmt: skip
        return f"models:/{registered_name}@{alias}"
    raise UserError(f"no registered model '{registered_name}' with alias champion or candidate in {uri}; "
                    "train one first (trainer train configs/default.yaml) or pass --model")  # fmt: skip


def load_bundle(model_uri: str, int8: bool | None, tracking_uri: str | None) -> Bundle:
    """The model bundle behind an MLflow model URI or a local folder; int8=None keeps the model's logged default."""
    local = Path(model_uri)
    if local.is_dir() and (local / "thresholds.json").exists():
        return Bundle(local, int8=bool(int8))
    import mlflow.pyfunc
    from mlflow.exceptions import MlflowException

    from trainer import tracking

    if tracking_uri:
        import mlflow

        mlflow.set_tracking_uri(tracking_uri)
        mlflow.set_registry_uri(tracking_uri)
    elif not local.is_dir():
        tracking.connect()
    try:
        loaded = mlflow.pyfunc.load_model(model_uri, model_config=None if int8 is None else {"int8": int8})
    except (MlflowException, OSError) as exc:
        message = getattr(exc, "message", str(exc)).splitlines()[0]
        raise UserError(f"--model {model_uri}: cannot load the model ({message})") from None
    return loaded.unwrap_python_model().bundle


def salient_span(text: str, keywords: tuple[str, ...]) -> str:
    """The sentence sharing most characters with a theme's keywords (evidence when none occurs verbatim)."""
    chars = set("".join(keywords))
    sentences = [s for s in re.split(r"(?<=[。；;！？!?])", text) if s.strip()]
    if not sentences:
        return ""
    best = max(sentences, key=lambda s: sum(c in chars for c in s) / (len(s) ** 0.5))
    return best[:80]


def _as_written(span: str, text: str, read: str) -> str:
    """`span` of the model's reading `read` in the script of the original `text` (where their characters align)."""
    at = read.find(span)
    return text[at : at + len(span)] if span and at >= 0 and len(read) == len(text) else span


def evidence_for(taxonomy: Taxonomy, themes: list[str], text: str) -> dict[str, list[str]]:
    """Keywords (or the most keyword-like sentence) of each theme, looked up in the text the model read."""
    read = model_text(text)
    evidence = {}
    for theme in themes:
        found = taxonomy.keywords_found(theme, read)
        spans = found if found else [salient_span(read, taxonomy.theme(theme).keywords)]
        evidence[theme] = [_as_written(span, text, read) for span in spans]
    return evidence


def paragraph_rows(report: Report, scores: np.ndarray, cut: np.ndarray, taxonomy: Taxonomy) -> list[dict]:
    rows = []
    for p, row in zip(report.paragraphs, scores):
        themes = [taxonomy.ids[j] for j in np.flatnonzero(row >= cut)]
        rows.append({
            "report_path": str(report.path), "report_hash": report.sha256, "paragraph_index": p.index,
            "paragraph_id": p.id, "text": p.text, "themes": themes,
            "evidence": evidence_for(taxonomy, themes, p.text),
            **{f"score_{t}": round(float(row[j]), 4) for j, t in enumerate(taxonomy.ids)},
        })  # fmt: skip
    return rows


def summary_row(
    report_path: str, report_hash: str, rows: list[dict], taxonomy: Taxonomy, error: str = "", meta: dict | None = None
) -> dict:
    """Per-report picture: place, year and kind; paragraphs, share of text and top paragraphs per theme."""
    total_chars = sum(len(r["text"]) for r in rows) or 1
    summary = {"report_path": report_path, "report_hash": report_hash, "status": "error" if error else "ok",
               "error": error, **{c: (meta or {}).get(c, None if c == "year" else "") for c in META_COLUMNS},
               "paragraphs": len(rows), "chars": sum(len(r["text"]) for r in rows),
               "no_theme_paragraphs": sum(1 for r in rows if not r["themes"])}  # fmt: skip
    for theme in taxonomy.ids:
        tagged = [r for r in rows if theme in r["themes"]]
        top = sorted(tagged, key=lambda r: -r[f"score_{theme}"])[:TOP_PARAGRAPHS]
        summary[f"paragraphs_{theme}"] = len(tagged)
        summary[f"share_{theme}"] = round(sum(len(r["text"]) for r in tagged) / total_chars, 4)
        summary[f"top_{theme}"] = [r["paragraph_index"] for r in top]
    return summary


def report_rows(report: Report, scores: np.ndarray, cut: np.ndarray, taxonomy: Taxonomy) -> tuple[list[dict], dict]:
    """Paragraph rows and the summary row of one scored report (the single-machine and Spark paths share it)."""
    rows = paragraph_rows(report, scores, cut, taxonomy)
    meta = describe_report(report.path, [p.text for p in report.paragraphs])
    return rows, summary_row(str(report.path), report.sha256, rows, taxonomy, meta=meta)


class Progress:
    def __init__(self, total: int, enabled: bool):
        from tqdm import tqdm

        self.bar = tqdm(total=total, unit="report", disable=not enabled, file=sys.stderr, dynamic_ncols=True)
        self.started, self.paragraphs = time.time(), 0

    def update(self, reports: int, paragraphs: int) -> None:
        self.paragraphs += paragraphs
        elapsed = max(time.time() - self.started, 1e-6)
        self.bar.update(reports)
        self.bar.set_postfix(reports_s=f"{self.bar.n / elapsed:.2f}", paragraphs_s=f"{self.paragraphs / elapsed:.1f}")

    def close(self) -> None:
        self.bar.close()


def _prepare(args) -> tuple[Path, str, list[Path]]:
    """Every argument and the output checked before a model is loaded: mistakes fail in a second, in one line."""
    out = Path(args.out)
    fmt = output_format(out, args.format)
    if args.batch_size < 1:
        raise UserError(f"--batch-size {args.batch_size}: must be at least 1")
    if args.threshold is not None and not 0 < args.threshold < 1:
        raise UserError(f"--threshold {args.threshold}: must be between 0 and 1")
    if args.spark:
        from trainer.spark_tagging import check_spark_args

        check_spark_args(args, fmt)
        if args.model and (Path(args.model) / "thresholds.json").exists():
            raise UserError(f"--model {args.model}: --spark needs an MLflow model (models:/…, runs:/… or a logged "
                            "model folder with an MLmodel file), not a bare bundle folder")  # fmt: skip
    check_writable(out, fmt)
    if not (args.model and Path(args.model).is_dir()):  # a local model folder needs no tracking server
        from trainer.tracking import check_reachable

        check_reachable(args.tracking_uri)
    files = find_report_files(args.inputs)
    if not files:
        raise UserError(f"no report files found in {' '.join(args.inputs)}")
    return out, fmt, files


def _file_key(path: Path) -> tuple[str, bytes | None, str]:
    """(content key, bytes, error): a report is known by the SHA-256 of its bytes, an unreadable file by its path."""
    try:
        raw = file_bytes(path)
    except UserError as exc:
        return f"unreadable:{path}", None, str(exc)
    return hashlib.sha256(raw).hexdigest(), raw, ""


def _log_run(args, out: Path, fmt: str, uri: str, keys: list[str], reports: int, paragraphs: int, failed: int,
             seconds: float) -> None:  # fmt: skip
    from trainer.lineage import log_tag_run

    params = {"inputs": " ".join(args.inputs)[:500], "out": str(out), "format": fmt, "threshold": args.threshold,
              "int8": args.int8, "batch_size": args.batch_size, "spark": getattr(args, "spark", None)}  # fmt: skip
    counts = {"reports": reports - failed, "failed_reports": failed, "paragraphs": paragraphs,
              "seconds": round(seconds, 1), "paragraphs_per_second": round(paragraphs / max(seconds, 1e-6), 1)}  # fmt: skip
    run_id = log_tag_run(out=out, fmt=fmt, model_uri=uri, tracking_uri=args.tracking_uri, params=params, keys=keys,
                         counts=counts)  # fmt: skip
    print(f"logged run {run_id} (experiment {BATCH_EXPERIMENT})", file=sys.stderr)


def _report_failures(failures: list[tuple[str, str]]) -> int:
    if failures:
        print(f"{len(failures)} report(s) could not be read:", file=sys.stderr)
        for _path, reason in failures:
            print(f"  {reason}", file=sys.stderr)
        return 1
    return 0


def _run_on_spark(args, out: Path, files: list[Path], uri: str, bundle: Bundle, cut: np.ndarray) -> int:
    from trainer.spark_tagging import tag_on_spark

    started = time.time()
    print(f"spark: {args.spark}", file=sys.stderr)
    result = tag_on_spark(args, out, files, uri, bundle, cut)
    failures = result["failures"]
    print(f"tagged {result['reports'] - len(failures)} report(s), {result['paragraphs']} paragraph(s) -> {out}",
          file=sys.stderr)  # fmt: skip
    if args.log_run:
        _log_run(args, out, "parquet", uri, result["keys"], result["reports"], result["paragraphs"], len(failures),
                 time.time() - started)  # fmt: skip
    return _report_failures(failures)


def run_tagging(args) -> int:
    out, fmt, files = _prepare(args)
    uri = resolve_model_uri(args.model, args.registered_name, args.tracking_uri)
    bundle = load_bundle(uri, args.int8, args.tracking_uri)
    taxonomy = bundle.taxonomy
    cut = bundle.thresholds if args.threshold is None else np.full(len(taxonomy), args.threshold)
    print(f"model: {uri}{' (int8)' if is_quantized(bundle.model) else ''}; {len(files)} file(s)", file=sys.stderr)
    if args.spark:
        return _run_on_spark(args, out, files, uri, bundle, cut)

    store = open_store(out, fmt, paragraph_columns(taxonomy.ids), summary_columns(taxonomy.ids))
    resumed = store.open(resume=args.resume)
    if resumed.reports:
        print(f"resume: {resumed.reports} report(s) already in {out}", file=sys.stderr)
    failures: list[tuple[str, str]] = list(resumed.failures)
    seen: set[str] = set(resumed.done)
    keys: list[str] = []  # every input file's content key, for the run's input digest
    started = time.time()
    progress = Progress(len(files), enabled=not args.no_progress)
    pending: list[Report] = []
    chunk = Chunk()

    def score_pending() -> None:
        texts = [p.text for r in pending for p in r.paragraphs]
        scores = bundle.scores(texts, batch_size=args.batch_size)
        start = 0
        for report in pending:
            rows, summary = report_rows(report, scores[start : start + len(report.paragraphs)], cut, taxonomy)
            start += len(report.paragraphs)
            chunk.paragraphs.extend(rows)
            chunk.summaries.append(summary)
            chunk.reports.append({"key": report.sha256, "path": str(report.path), "status": "ok", "error": ""})
        progress.update(len(pending), len(texts))
        pending.clear()

    def commit() -> None:
        nonlocal chunk
        store.commit(chunk)
        chunk = Chunk()

    try:
        for path in files:
            key, raw, error = _file_key(path)
            keys.append(key)
            if key in seen:  # finished by an earlier run, or the same content twice
                progress.update(1, 0)
                continue
            seen.add(key)
            report = None
            if not error:
                try:
                    report = read_report(path, raw)
                except UserError as exc:
                    error = str(exc)
            if error:
                failures.append((str(path), error))
                chunk.summaries.append(summary_row(str(path), key, [], taxonomy, error=error))
                chunk.reports.append({"key": key, "path": str(path), "status": "error", "error": error})
                progress.update(1, 0)
                continue
            pending.append(report)
            if sum(len(r.paragraphs) for r in pending) >= CHUNK_PARAGRAPHS:
                score_pending()
                if store.wants_commit(len(chunk.paragraphs)):
                    commit()
        score_pending()
        commit()
    except KeyboardInterrupt:
        pending.clear()
        # Ctrl-C may land between a report's rows and its ledger entry: commit only whole reports.
        listed = {r["key"] for r in chunk.reports}
        chunk.paragraphs = [r for r in chunk.paragraphs if r["report_hash"] in listed]
        chunk.summaries = [r for r in chunk.summaries if r["report_hash"] in listed]
        commit()
        progress.close()
        print(f"interrupted: {store.reports_written} report(s) saved in {out}; run again with --resume",
              file=sys.stderr)  # fmt: skip
        return 130
    progress.close()
    store.close()
    print(f"tagged {store.reports_written - len(failures)} report(s), {store.paragraphs_written} paragraph(s) "
          f"-> {out}", file=sys.stderr)  # fmt: skip
    if args.log_run:
        _log_run(args, out, fmt, uri, keys, store.reports_written, store.paragraphs_written, len(failures),
                 time.time() - started)  # fmt: skip
    return _report_failures(failures)
