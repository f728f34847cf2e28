"""Candidate paragraphs for labelling, with the context an annotator needs (report title, nearest heading).

Three kinds of input, told apart by what they hold:
- tag outputs of `trainer tag` (.jsonl/.csv/.xlsx with `paragraph_id` and `score_<theme>` columns): paragraphs
  already scored by a model;
- report files or folders (.txt/.html/.docx/.pdf), read with the project's reader;
- unlabelled pools: JSONL rows with `text` (and optionally `id`, `report`, `index`, `title`, `heading`).
"""

from __future__ import annotations

import glob
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from trainer.errors import UserError
from trainer.labels import read_jsonl
from trainer.outputs import read_tags
from trainer.paragraphs import looks_like_heading
from trainer.reader import SUPPORTED_SUFFIXES, find_report_files, read_reports

TABLE_SUFFIXES = (".jsonl", ".csv", ".xlsx")


@dataclass
class Candidate:
    """One paragraph that could be labelled; `scores` is set when a tag output already scored it."""

    id: str
    text: str
    report: str = ""
    index: int | None = None
    title: str = ""
    heading: str = ""
    source: str = ""
    scores: dict[str, float] | None = None
    tagged: list[str] = field(default_factory=list)


def report_context(texts: list[str]) -> list[tuple[str, str]]:
    """(title, nearest heading above) for each paragraph of one report, in reading order.

    The title is the first paragraph when it looks like a heading; a heading paragraph's own
    nearest heading is the one above it.
    """
    title = texts[0].strip() if texts and looks_like_heading(texts[0]) else ""
    context, heading = [], ""
    for i, text in enumerate(texts):
        context.append((title, heading))
        if i > 0 and looks_like_heading(text):
            heading = text.strip()
    return context


def fill_context(candidates: list[Candidate]) -> None:
    """Derive missing title/heading from the other paragraphs of the same report (by index, else file order)."""
    by_report: dict[str, list[Candidate]] = {}
    for c in candidates:
        if c.report:
            by_report.setdefault(c.report, []).append(c)
    for members in by_report.values():
        ordered = sorted(members, key=lambda c: (c.index is None, c.index or 0))
        for c, (title, heading) in zip(ordered, report_context([m.text for m in ordered])):
            c.title = c.title or title
            c.heading = c.heading or heading


def _is_tag_output(columns: list[str]) -> bool:
    return "paragraph_id" in columns and any(c.startswith("score_") for c in columns)


def _from_tag_output(path: Path) -> list[Candidate]:
    paragraphs, _summary = read_tags(path)
    if not len(paragraphs):
        return []
    missing = [c for c in ("paragraph_id", "text", "report_path", "paragraph_index") if c not in paragraphs.columns]
    if missing:
        raise UserError(f"{path}: not a `trainer tag` output (missing column(s) {', '.join(missing)})")
    score_columns = [c for c in paragraphs.columns if c.startswith("score_")]
    out = []
    for row in paragraphs.to_dict("records"):
        themes = row.get("themes")
        out.append(Candidate(
            id=str(row["paragraph_id"]), text=str(row["text"]), report=Path(str(row["report_path"])).stem,
            index=int(row["paragraph_index"]), source=str(path),
            scores={c[len("score_"):]: float(row[c]) for c in score_columns},
            tagged=list(themes) if isinstance(themes, list) else [],
        ))  # fmt: skip
    return out


def _from_pool(path: Path) -> list[Candidate]:
    out = []
    for lineno, row in read_jsonl(path):
        text = row.get("text")
        if not isinstance(text, str) or not text.strip():
            raise UserError(f"{path}:{lineno}: every pool row needs a non-empty 'text'")
        index = row.get("index")
        out.append(Candidate(
            id=str(row.get("id") or f"{path.stem}:{lineno}"), text=text, report=str(row.get("report") or ""),
            index=index if isinstance(index, int) else None, title=str(row.get("title") or ""),
            heading=str(row.get("heading") or ""), source=str(path),
        ))  # fmt: skip
    # rows of one report without an index keep their file order
    positions: dict[str, int] = {}
    for c in out:
        if c.report and c.index is None:
            c.index = positions.get(c.report, 0)
            positions[c.report] = c.index + 1
    return out


def _from_table(path: Path) -> list[Candidate]:
    if path.suffix.lower() == ".jsonl":
        rows = read_jsonl(path)
        if not rows or not _is_tag_output(list(rows[0][1])):
            return _from_pool(path)
        return _from_tag_output(path)
    return _from_tag_output(path)


def _from_reports(paths: list[Path]) -> list[Candidate]:
    out = []
    for path, report, error in read_reports(paths):
        if error:
            raise UserError(error)
        out.extend(Candidate(id=p.id, text=p.text, report=report.report_id, index=p.index, source=str(path))
                   for p in report.paragraphs)  # fmt: skip
    return out


def load_candidates(inputs: list[str]) -> list[Candidate]:
    """All candidate paragraphs of the inputs, with report context filled in; ids must be unique."""
    candidates: list[Candidate] = []
    for item in inputs:
        path = Path(item)
        if path.is_dir():
            files = [p for p in find_report_files([path]) if p.suffix.lower() in SUPPORTED_SUFFIXES]
            if not files:
                raise UserError(f"{item}: no report files ({' '.join(SUPPORTED_SUFFIXES)}) in this folder")
            candidates.extend(_from_reports(files))
            continue
        matches = [path] if path.exists() else sorted(Path(m) for m in glob.glob(item, recursive=True))
        if not matches:
            raise UserError(f"{item}: no such file, folder or matching glob")
        for match in matches:
            suffix = match.suffix.lower()
            if suffix in TABLE_SUFFIXES:
                candidates.extend(_from_table(match))
            elif suffix in SUPPORTED_SUFFIXES:
                candidates.extend(_from_reports([match]))
            else:
                raise UserError(f"{match}: cannot label from '{suffix}' files; give tag outputs "
                                f"({' '.join(TABLE_SUFFIXES)}), JSONL pools with 'text', or reports")  # fmt: skip
    seen: dict[str, str] = {}
    for c in candidates:
        if c.id in seen:
            raise UserError(f"paragraph id '{c.id}' occurs twice ({seen[c.id]} and {c.source}); give each input once")
        seen[c.id] = c.source
    fill_context(candidates)
    return candidates


def scores_matrix(candidates: list[Candidate], theme_ids: list[str]) -> np.ndarray | None:
    """Scores from tag outputs as an (n, themes) matrix; None unless every candidate has all themes scored."""
    if not candidates or any(c.scores is None for c in candidates):
        return None
    missing = sorted({t for c in candidates for t in theme_ids if t not in c.scores})
    if missing:
        raise UserError(f"{candidates[0].source}: no score column(s) for {', '.join(missing)}; "
                        "tag with a model of the same taxonomy, or pass --model to score again")  # fmt: skip
    return np.array([[c.scores[t] for t in theme_ids] for c in candidates], dtype=np.float64)


def tagged_thresholds(candidates: list[Candidate], scores: np.ndarray, theme_ids: list[str],
                      default: float = 0.5) -> np.ndarray:  # fmt: skip
    """Per-theme cut-offs a tag output was made with: the lowest score that got the theme (else `default`)."""
    cut = np.full(len(theme_ids), default)
    for j, theme in enumerate(theme_ids):
        tagged = [scores[i, j] for i, c in enumerate(candidates) if theme in c.tagged]
        if tagged:
            cut[j] = min(tagged)
    return cut


def labelled_texts(paths: list[Path]) -> set[str]:
    """Texts that already carry labels (gold, examples, earlier imports), to keep them out of new tasks."""
    texts: set[str] = set()
    for path in paths:
        if path.exists():
            texts.update(str(row.get("text", "")) for _, row in read_jsonl(path))
    return texts
