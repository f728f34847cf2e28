"""Table rows as readable paragraphs, the same for HTML and .docx tables.

A row becomes one sentence: with a header row, "header：value" pairs joined by "；"
("项目：行政复议案件；数量：320件"); without one, its cells joined by "；". The row ends with
"。" so that the paragraph splitter never joins two rows as a hard-wrapped line.
"""

from __future__ import annotations

import re

_SENTENCE_END = tuple("。！？!?；;…")


def _clean(cell: str) -> str:
    """One line, without the cell's own closing punctuation (the row gets its separators and end)."""
    return re.sub(r"\s+", " ", cell).strip().rstrip("。；;，,").strip()


def _sentence(parts: list[str]) -> str:
    text = "；".join(parts)
    return text if text.endswith(_SENTENCE_END) else text + "。"


def table_paragraphs(rows: list[list[str]], header: bool = False) -> list[str]:
    """One paragraph per non-empty row; `header`: the first row names the columns of the others."""
    rows = [[_clean(cell) for cell in row] for row in rows]
    if header and rows and any(rows[0]) and any(any(row) for row in rows[1:]):
        names, body = rows[0], [row for row in rows[1:] if any(row)]
        paragraphs = []
        for row in body:
            if len(row) != len(names):  # merged or missing cells: pairs would name the wrong column
                paragraphs.append(_sentence([c for c in row if c]))
                continue
            pairs = [
                f"{name}：{value}" if name and name != value else value for name, value in zip(names, row) if value
            ]
            paragraphs.append(_sentence(pairs))
        return paragraphs
    return [_sentence([c for c in row if c]) for row in rows if any(row)]
