"""Gold labels and team-written examples: loading, validation against the reader, statistics.

Gold rows (labels/gold.jsonl) name a seed paragraph by id and carry its text and
hash, so `check_gold` can tell when the reader's output and the labels drift apart.
Team-written rows (labels/examples.jsonl) are training data only.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from trainer.errors import UserError
from trainer.reader import SUPPORTED_SUFFIXES, Report, read_report, text_hash
from trainer.taxonomy import PROJECT_ROOT, Taxonomy
from trainer.textnorm import model_texts

DEFAULT_GOLD = PROJECT_ROOT / "labels" / "gold.jsonl"
DEFAULT_EXAMPLES = PROJECT_ROOT / "labels" / "examples.jsonl"
DEFAULT_SEEDS = PROJECT_ROOT / "seeds"
GOLD_FIELDS = ("id", "report", "index", "hash", "text", "themes")


@dataclass
class LabelledSet:
    """Texts with multi-label targets; `groups` holds the report of each row (for grouped CV)."""

    ids: list[str]
    texts: list[str]
    themes: list[list[str]]
    groups: list[str]
    theme_ids: list[str]
    sources: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.texts)

    @property
    def model_texts(self) -> list[str]:
        """The texts as every model reads them (`trainer.textnorm`); `texts` stay as written, for outputs."""
        return model_texts(self.texts)

    @property
    def y(self) -> np.ndarray:
        """Multi-hot label matrix, columns in taxonomy order."""
        index = {t: j for j, t in enumerate(self.theme_ids)}
        y = np.zeros((len(self.texts), len(self.theme_ids)), dtype=np.int64)
        for i, themes in enumerate(self.themes):
            for t in themes:
                y[i, index[t]] = 1
        return y

    def subset(self, rows: np.ndarray | list[int]) -> LabelledSet:
        pick = [int(i) for i in rows]
        return LabelledSet(
            [self.ids[i] for i in pick],
            [self.texts[i] for i in pick],
            [self.themes[i] for i in pick],
            [self.groups[i] for i in pick],
            self.theme_ids,
            [self.sources[i] for i in pick] if self.sources else [],
        )

    def concat(self, other: LabelledSet) -> LabelledSet:
        return LabelledSet(
            self.ids + other.ids,
            self.texts + other.texts,
            self.themes + other.themes,
            self.groups + other.groups,
            self.theme_ids,
            (self.sources or ["gold"] * len(self)) + (other.sources or ["gold"] * len(other)),
        )

    def to_dataset(self):
        """A `datasets.Dataset` with a report column, for grouped splits and MLflow dataset logging."""
        from datasets import Dataset

        return Dataset.from_dict(
            {
                "id": self.ids,
                "report": self.groups,
                "text": self.texts,
                "themes": self.themes,
                "source": self.sources or ["gold"] * len(self),
            }
        )


def read_jsonl(path: Path) -> list[tuple[int, dict]]:
    """(line number, object) for each non-blank line; a broken line is a one-line error."""
    if not path.exists():
        raise UserError(f"{path}: no such file")
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise UserError(f"{path}: not UTF-8 text (byte {exc.start}); re-save it as UTF-8") from None
    rows = []
    for lineno, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            raise UserError(f"{path}:{lineno}: not valid JSON ({exc.msg})") from None
        if not isinstance(obj, dict):
            raise UserError(f"{path}:{lineno}: expected a JSON object")
        rows.append((lineno, obj))
    return rows


def _theme_errors(where: str, themes: object, taxonomy: Taxonomy) -> list[str]:
    if not isinstance(themes, list) or not all(isinstance(t, str) for t in themes):
        return [f"{where}: 'themes' must be a list of theme ids"]
    errors = [
        f"{where}: unknown theme '{t}' (known: {', '.join(taxonomy.ids)})" for t in themes if t not in taxonomy.ids
    ]
    if len(set(themes)) != len(themes):
        errors.append(f"{where}: a theme is listed twice in {themes}")
    return errors


def find_seed_file(report_id: str, seeds_dir: Path) -> Path | None:
    for suffix in SUPPORTED_SUFFIXES:
        candidate = seeds_dir / f"{report_id}{suffix}"
        if candidate.exists():
            return candidate
    return None


def check_gold(gold_path: Path, taxonomy: Taxonomy, seeds_dir: Path = DEFAULT_SEEDS) -> list[str]:
    """All problems of a gold file, each a one-line message naming file and line; [] when clean."""
    rows = read_jsonl(gold_path)
    errors: list[str] = []
    seen: dict[str, int] = {}
    reports: dict[str, Report | None] = {}
    covered: dict[str, set[int]] = {}
    for lineno, row in rows:
        where = f"{gold_path}:{lineno}"
        missing = [f for f in GOLD_FIELDS if f not in row]
        if missing:
            errors.append(f"{where}: missing field(s) {', '.join(missing)}")
            continue
        not_text = [f for f in ("id", "report", "hash", "text") if not isinstance(row[f], str)]
        if not_text:
            errors.append(f"{where}: field(s) {', '.join(not_text)} must be strings")
            continue
        pid = row["id"]
        if pid in seen:
            errors.append(f"{where}: duplicate id '{pid}' (first on line {seen[pid]})")
            continue
        seen[pid] = lineno
        errors.extend(_theme_errors(where, row["themes"], taxonomy))
        report_id, index = row["report"], row["index"]
        if not isinstance(index, int) or pid != f"{report_id}:{index:03d}":
            errors.append(f"{where}: id '{pid}' does not match report '{report_id}' and index {index!r}")
            continue
        if report_id not in reports:
            seed = find_seed_file(report_id, seeds_dir)
            reports[report_id] = read_report(seed) if seed else None
        report = reports[report_id]
        if report is None:
            errors.append(f"{where}: report '{report_id}' has no file in {seeds_dir}")
            continue
        covered.setdefault(report_id, set()).add(index)
        if index >= len(report.paragraphs):
            errors.append(f"{where}: the reader gives only {len(report.paragraphs)} paragraphs for '{report_id}'")
            continue
        current = report.paragraphs[index].text
        if row["text"] != current or row["hash"] != text_hash(row["text"]):
            errors.append(
                f"{where}: text of '{pid}' no longer matches the reader "
                f"(gold: {row['text'][:20]!r}…, reader: {current[:20]!r}…); re-label or fix the reader"
            )
    for report_id, report in reports.items():
        if report is None:
            continue
        for p in report.paragraphs:
            if p.index not in covered.get(report_id, set()):
                errors.append(f"{gold_path}: paragraph '{p.id}' of the reader output has no gold row")
    return errors


def load_gold(path: Path, taxonomy: Taxonomy) -> LabelledSet:
    rows = read_jsonl(path)
    for lineno, row in rows:
        missing = [f for f in ("id", "report", "text", "themes") if f not in row]
        if missing:
            raise UserError(f"{path}:{lineno}: missing field(s) {', '.join(missing)}")
        errors = _theme_errors(f"{path}:{lineno}", row["themes"], taxonomy)
        if errors:
            raise UserError(errors[0])
    return LabelledSet(
        [r["id"] for _, r in rows],
        [r["text"] for _, r in rows],
        [list(r["themes"]) for _, r in rows],
        [r["report"] for _, r in rows],
        taxonomy.ids,
        ["gold"] * len(rows),
    )


def load_examples(path: Path, taxonomy: Taxonomy) -> LabelledSet:
    """Team-written training paragraphs; each is its own group so it never joins a test fold."""
    rows = read_jsonl(path)
    for lineno, row in rows:
        if not isinstance(row.get("text"), str) or not row["text"].strip():
            raise UserError(f"{path}:{lineno}: every example needs a non-empty 'text'")
        errors = _theme_errors(f"{path}:{lineno}", row.get("themes"), taxonomy)
        if errors:
            raise UserError(errors[0])
    return LabelledSet(
        [str(r.get("id", f"{path.stem}:{n}")) for n, r in rows],
        [r["text"] for _, r in rows],
        [list(r["themes"]) for _, r in rows],
        [f"example:{r.get('id', n)}" for n, r in rows],
        taxonomy.ids,
        [str(r.get("source", "team-written")) for _, r in rows],
    )


REAL_FIELDS = ("id", "report", "index", "hash", "text", "themes", "split")
REAL_SPLITS = ("train", "dev")


def documents_path(real_path: Path) -> Path:
    """The collected documents behind a real-paragraph file: `documents.jsonl` beside it."""
    return Path(real_path).with_name("documents.jsonl")


def _read_real(path: Path, taxonomy: Taxonomy) -> list[tuple[int, dict]]:
    rows = read_jsonl(path)
    for lineno, row in rows:
        where = f"{path}:{lineno}"
        missing = [f for f in REAL_FIELDS if f not in row]
        if missing:
            raise UserError(f"{where}: missing field(s) {', '.join(missing)}")
        if row["split"] not in REAL_SPLITS:
            raise UserError(f"{where}: 'split' must be one of {', '.join(REAL_SPLITS)} (got {row['split']!r})")
        errors = _theme_errors(where, row["themes"], taxonomy)
        if errors:
            raise UserError(errors[0])
    return rows


def load_real(path: Path, taxonomy: Taxonomy) -> tuple[LabelledSet, LabelledSet]:
    """(training part, dev part) of the real-document labels; a document lies wholly in one part."""
    rows = _read_real(Path(path), taxonomy)
    parts = []
    for split in REAL_SPLITS:
        picked = [r for _, r in rows if r["split"] == split]
        parts.append(LabelledSet([r["id"] for r in picked], [r["text"] for r in picked],
                                 [list(r["themes"]) for r in picked], [r["report"] for r in picked],
                                 taxonomy.ids, [f"real-{split}"] * len(picked)))  # fmt: skip
    return parts[0], parts[1]


def check_real(path: Path, taxonomy: Taxonomy) -> list[str]:
    """Problems of a real-paragraph file: themes, ids, splits, and texts that no longer match the reader's
    paragraphs of the collected documents (documents.jsonl beside it)."""
    from trainer.reader import paragraphs_from_text

    path = Path(path)
    try:
        rows = _read_real(path, taxonomy)
    except UserError as exc:
        return [str(exc)]
    docs_file = documents_path(path)
    documents = {row.get("doc"): row for _, row in read_jsonl(docs_file)}
    errors: list[str] = []
    seen: set[str] = set()
    paragraphs: dict[str, tuple] = {}
    for lineno, row in rows:
        where = f"{path}:{lineno}"
        if row["id"] in seen:
            errors.append(f"{where}: duplicate id '{row['id']}'")
            continue
        seen.add(row["id"])
        doc = documents.get(row["report"])
        if doc is None:
            errors.append(f"{where}: document '{row['report']}' is not in {docs_file}")
            continue
        if doc.get("split") != row["split"]:
            errors.append(f"{where}: split '{row['split']}' differs from its document's ('{doc.get('split')}')")
        if row["report"] not in paragraphs:
            paragraphs[row["report"]] = paragraphs_from_text(doc["text"], row["report"])
        found = paragraphs[row["report"]]
        index = row["index"]
        if not isinstance(index, int) or index >= len(found) or row["id"] != f"{row['report']}:{index:03d}":
            errors.append(f"{where}: id '{row['id']}' is not a paragraph the reader makes of '{row['report']}'")
        elif found[index].text != row["text"] or row["hash"] != text_hash(row["text"]):
            errors.append(f"{where}: text of '{row['id']}' no longer matches the reader; re-label or fix the reader")
    return errors


def stats_table(data: LabelledSet) -> str:
    """Paragraphs and theme counts per report, as a plain-text table."""
    reports = sorted(set(data.groups))
    by_report = {r: [i for i, g in enumerate(data.groups) if g == r] for r in reports}
    header = ["theme"] + [r.split("_")[0] for r in reports] + ["total"]
    lines = [header, ["paragraphs"] + [str(len(by_report[r])) for r in reports] + [str(len(data))]]
    lines.append(
        ["no theme"]
        + [str(sum(1 for i in by_report[r] if not data.themes[i])) for r in reports]
        + [str(sum(1 for t in data.themes if not t))]
    )
    for theme in data.theme_ids:
        counts = [sum(1 for i in by_report[r] if theme in data.themes[i]) for r in reports]
        lines.append([theme] + [str(c) for c in counts] + [str(sum(counts))])
    widths = [max(len(row[c]) for row in lines) for c in range(len(header))]
    return "\n".join("  ".join(cell.ljust(w) for cell, w in zip(row, widths)) for row in lines)


def theme_counts(data: LabelledSet) -> Counter:
    return Counter(t for themes in data.themes for t in themes)
