"""Report metadata for the summaries: place, year covered and kind of document.

Places come from JioNLP's gazetteer of Chinese administrative divisions (Apache-2.0, shipped inside the
PyPI package, no network): its location recogniser finds the province / city / county named most often in a
report's opening text, and a township named in the title is kept only when the gazetteer knows it under that
county. Year and kind come from the title, the opening paragraphs and the file name. Whatever is not stated
stays empty: nothing is guessed from weak hints.
"""

from __future__ import annotations

import contextlib
import io
import re
from functools import lru_cache
from pathlib import Path

# The opening of a report names its place; reading further costs time and adds passing mentions.
PLACE_CHARS = 2000
# Title, dateline and lead: where a report says what it covers.
HEAD_PARAGRAPHS = 3
TITLE_MAX_CHARS = 60

KINDS = ("annual_report", "work_summary", "policy", "news")
# Title words of each kind, most specific first; a title is a short head paragraph or the file name.
_TITLE_KIND_PATTERNS = (
    ("annual_report", r"年度(工作)?报告|法治政府建设.{0,12}(情况)?的?报告|工作报告|述法报告"),
    ("work_summary", r"工作总结|工作情况|总结"),
    ("policy", r"关于印发|通知|实施意见|实施方案|工作方案|工作要点|办法|规定|规划|意见"),
)
# A news piece announces itself in its dateline or byline.
_NEWS_PATTERN = re.compile(r"\d{1,2}日讯|记者|通讯员|新闻网|日报|晚报|电视台|融媒体")
# A year followed by a month is a date (publication, an event), not the year a report covers.
_YEAR_PATTERN = re.compile(r"((?:19|20)\d{2})\s*年(?!\s*\d{1,2}\s*月)")
_FILE_YEAR_PATTERN = re.compile(r"(?<!\d)((?:19|20)\d{2})(?!\d)")
_TOWN_PATTERN = re.compile(r"([\u4e00-\u9fff]{2,5}?)(街道办事处|街道|办事处|镇|乡)")
_GENERIC_COUNTIES = {"新区", "城区", "郊区", "矿区"}


@lru_cache(maxsize=1)
def _jionlp():
    """JioNLP, imported once; it prints a banner on import, which must not reach the tag output."""
    with contextlib.redirect_stdout(io.StringIO()):
        import jionlp

    return jionlp


def _quiet(function, *args, **kwargs):
    with contextlib.redirect_stdout(io.StringIO()):
        return function(*args, **kwargs)


def _titles(path: Path, paragraphs: list[str]) -> list[str]:
    heads = [p for p in paragraphs[:HEAD_PARAGRAPHS] if len(p) <= TITLE_MAX_CHARS]
    return heads + [path.stem]


def detect_place(text: str) -> dict[str, str]:
    """Province, city and county named most often in the text; empty when no place clearly leads."""
    found = _quiet(_jionlp().recognize_location, text[:PLACE_CHARS]) if text.strip() else {}
    counted = [(loc, n) for loc, n in (found or {}).get("domestic") or [] if loc.get("county") not in _GENERIC_COUNTIES]
    if not counted:
        return {}
    counted.sort(key=lambda item: -item[1])
    (best, count), runner_up = counted[0], counted[1][1] if len(counted) > 1 else 0
    if count < 2 or count <= runner_up:
        return {}
    place = {k: best.get(k) or "" for k in ("province", "city", "county")}
    if "直辖" in place["city"]:  # 省直辖县级行政区划 and the like: a county under the province, no city between
        place["city"] = ""
    return place


def detect_town(place: dict[str, str], titles: list[str]) -> str:
    """A township or street named in a title, when the gazetteer lists it under the report's county."""
    if not place.get("county"):
        return ""
    prefix = place["province"] + place["city"] + place["county"]
    for title in titles:
        for name, suffix in _TOWN_PATTERN.findall(title):
            # Shenzhen and others call a street's office 办事处; the gazetteer names the street (街道).
            for candidate in dict.fromkeys([name + suffix, name + "街道", name + "镇", name + "乡"]):
                parsed = _quiet(_jionlp().parse_location, prefix + candidate, town_village=True)
                if parsed.get("town") and parsed.get("county") == place["county"]:
                    return parsed["town"]
    return ""


def detect_year(path: Path, paragraphs: list[str]) -> int | None:
    """The year a report covers: first year (not a date) in its head paragraphs, else in its file name."""
    for paragraph in paragraphs[:HEAD_PARAGRAPHS]:
        match = _YEAR_PATTERN.search(paragraph)
        if match:
            return int(match.group(1))
    match = _FILE_YEAR_PATTERN.search(path.stem)
    return int(match.group(1)) if match else None


def detect_kind(path: Path, paragraphs: list[str]) -> str:
    """annual_report | work_summary | policy from a title, news from a dateline or byline; else empty."""
    for title in _titles(path, paragraphs):
        for kind, pattern in _TITLE_KIND_PATTERNS:
            if re.search(pattern, title):
                return kind
    head = "\n".join(paragraphs[:HEAD_PARAGRAPHS])
    return "news" if _NEWS_PATTERN.search(head) else ""


def describe_report(path: str | Path, paragraphs: list[str]) -> dict:
    """Summary columns province, city, county, town, year, kind for one report ('' / None when unknown)."""
    path = Path(path)
    text = "\n".join(paragraphs)
    place = detect_place(text)
    return {
        "province": place.get("province", ""),
        "city": place.get("city", ""),
        "county": place.get("county", ""),
        "town": detect_town(place, _titles(path, paragraphs)),
        "year": detect_year(path, paragraphs),
        "kind": detect_kind(path, paragraphs),
    }
