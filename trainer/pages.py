"""Page furniture of paginated reports (PDF): page numbers and running headers and footers.

They sit among the first or last lines of a page's text, so only those lines are examined:
a line there is a page number when it is nothing but one ("- 3 -", "第3页", "第 3 页 共 12 页",
"3/12", "3"), and a running header or footer when the same line (digits aside) is at the top or
bottom of at least half of the pages (alternating odd/even headers included); it is dropped once per
page, so a first page whose title is also the running header keeps its title. Removing them lets a
paragraph that runs over a page break join up again.
"""

from __future__ import annotations

import math
import re

from trainer.paragraphs import normalise

# How many non-blank lines at the top and at the bottom of a page can be furniture.
EDGE_LINES = 3
_NUMBER = r"(?:\d{1,4}|[一二三四五六七八九十百零〇]{1,5})"
# Page-number tokens, each matched against a whole line (is_page_number) or inside a footer line (_key).
_PAGE_NUMBERS = (
    r"[-–—－~·•]\s*\d{1,4}\s*[-–—－~·•]",  # - 3 -, — 3 —
    rf"第\s*{_NUMBER}\s*[页頁](\s*[,，/、]?\s*共\s*{_NUMBER}\s*[页頁])?",  # 第3页, 第 3 页 共 12 页
    rf"共\s*{_NUMBER}\s*[页頁]\s*[,，/、]?\s*第\s*{_NUMBER}\s*[页頁]",  # 共12页 第3页
    r"\d{1,4}\s*/\s*\d{1,4}",  # 3/12
    r"(?:page|p\.)\s*\d{1,4}(?:\s*(?:of|/)\s*\d{1,4})?",  # Page 3 of 12
)
_PAGE_NUMBER_LINE_RE = re.compile("|".join([*_PAGE_NUMBERS, r"\d{1,4}"]), re.IGNORECASE)
# inside a line: one of the tokens above, or a number standing apart ("某区司法局   3")
_PAGE_NUMBER_TOKEN_RE = re.compile("|".join([*_PAGE_NUMBERS, r"(?:^|\s)\d{1,4}(?:\s|$)"]), re.IGNORECASE)


def is_page_number(line: str) -> bool:
    return bool(_PAGE_NUMBER_LINE_RE.fullmatch(normalise(line).strip()))


def _edges(lines: list[str]) -> list[int]:
    """Indices of the first and last EDGE_LINES non-blank lines."""
    filled = [i for i, line in enumerate(lines) if line.strip()]
    return sorted(set(filled[:EDGE_LINES] + filled[-EDGE_LINES:]))


def _key(line: str) -> str:
    """A line with its page number masked, so "某区司法局 第3页" and "某区司法局 第4页" are the same furniture
    (other digits stay: "正文第3行" and "正文第4行" are different lines)."""
    return re.sub(r"\s+", "", _PAGE_NUMBER_TOKEN_RE.sub("#", normalise(line).strip()))


def _drop_page_numbers(page: list[str]) -> list[str]:
    edges = _edges(page)
    return [line for i, line in enumerate(page) if not (i in edges and is_page_number(line))]


def _drop_running(page: list[str], running: set[str]) -> list[str]:
    """Drop each running line once: a first page whose title repeats the header keeps its title."""
    edges, dropped, kept = _edges(page), set(), []
    for i, line in enumerate(page):
        key = _key(line)
        if i in edges and key in running and key not in dropped:
            dropped.add(key)
        else:
            kept.append(line)
    return kept


def strip_page_furniture(pages: list[list[str]]) -> list[list[str]]:
    """Each page's lines without page numbers and running headers/footers."""
    pages = [_drop_page_numbers(page) for page in pages]
    if len(pages) < 2:
        return pages
    seen_on: dict[str, int] = {}
    for page in pages:
        for key in {_key(page[i]) for i in _edges(page)}:
            seen_on[key] = seen_on.get(key, 0) + 1
    needed = max(2, math.ceil(len(pages) / 2))
    running = {key for key, count in seen_on.items() if count >= needed}
    return [_drop_running(page, running) for page in pages]
