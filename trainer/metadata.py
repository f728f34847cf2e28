"""Report metadata for the summaries: place, year covered and kind of document.

Places come from JioNLP's gazetteer of Chinese administrative divisions (Apache-2.0, its table ships inside
the PyPI package, no network): the county (else city, else province) named most often in a report's opening
text, by the gazetteer's names, with the gazetteer's province and city above it; a township named in the title
is kept only when the gazetteer lists it under that county (or under one county of that city). JioNLP's
statistical location recogniser is not used: it costs 700 MB and 15 s to load. Year and kind come from the title, the opening paragraphs and the file name. Whatever is not stated
stays empty: nothing is guessed from weak hints.
"""

from __future__ import annotations

import contextlib
import io
import re
from collections import Counter, defaultdict
from dataclasses import dataclass
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


@dataclass(frozen=True)
class Division:
    province: str
    city: str  # '' for a county directly under its province
    county: str


@lru_cache(maxsize=1)
def _divisions() -> dict:
    """JioNLP's division table down to streets and townships (loaded once: 2 s)."""
    return _quiet(_jionlp().china_location_loader, detail=True)


@lru_cache(maxsize=1)
def _gazetteer() -> tuple[dict[str, list[Division]], dict[str, list[Division]], dict[str, str], int]:
    """Name -> divisions, from JioNLP's table of administrative divisions.

    Counties by full name (宝安区; short forms like 宝安 or 光明 are ordinary words too often), cities and
    provinces by full name or short form (深圳, 广东).
    """
    counties: dict[str, list[Division]] = defaultdict(list)
    cities: dict[str, list[Division]] = defaultdict(list)
    provinces: dict[str, str] = {}
    for province, province_info in _divisions().items():
        for alias in _names(province_info):
            provinces[alias] = province
        for city, city_info in province_info.items():
            if city.startswith("_"):
                continue
            city_name = "" if "直辖" in city else city
            if city_name:
                for alias in _names(city_info):
                    cities[alias].append(Division(province, city_name, ""))
            for county in city_info:
                if not county.startswith("_") and county not in _GENERIC_COUNTIES:
                    counties[county].append(Division(province, city_name, county))
    longest = max(len(n) for n in [*counties, *cities, *provinces])
    return dict(counties), dict(cities), provinces, longest


def _names(info: dict) -> list[str]:
    alias = info.get("_alias") or []
    return [n for n in [info["_full_name"], *([alias] if isinstance(alias, str) else alias)] if len(n) >= 2]


@lru_cache(maxsize=1)
def _name_index() -> tuple[dict[str, int], tuple[int, ...]]:
    """Every name -> which table it is in (0 county, 1 city, 2 province; a county wins a tie), and the name lengths."""
    counties, cities, provinces, _ = _gazetteer()
    index: dict[str, int] = {}
    for table, names in ((2, provinces), (1, cities), (0, counties)):
        index.update(dict.fromkeys(names, table))
    return index, tuple(sorted({len(n) for n in index}, reverse=True))


def _mentions(text: str) -> tuple[Counter, Counter, Counter]:
    """Counts of county, city and province names in the text (the longest name at each position)."""
    index, sizes = _name_index()
    found: tuple[Counter, Counter, Counter] = (Counter(), Counter(), Counter())
    i = 0
    while i < len(text):
        for size in sizes:
            table = index.get(text[i : i + size])
            if table is not None:
                found[table][text[i : i + size]] += 1
                i += size
                break
        else:
            i += 1
    return found


def _leader(counter: Counter) -> str:
    """The name mentioned at least twice and more often than any other; '' when none leads."""
    ranked = counter.most_common(2)
    if not ranked or ranked[0][1] < 2 or (len(ranked) > 1 and ranked[1][1] == ranked[0][1]):
        return ""
    return ranked[0][0]


def detect_place(text: str) -> dict[str, str]:
    """Province, city and county named most often in the text's opening; empty when no place clearly leads."""
    counties, cities, provinces, _ = _gazetteer()
    county_counts, city_counts, province_counts = _mentions(text[:PLACE_CHARS])
    named_cities = Counter()
    for name, n in city_counts.items():
        for division in cities[name]:
            named_cities[(division.province, division.city)] += n
    named_provinces = Counter()
    for name, n in province_counts.items():
        named_provinces[provinces[name]] += n
    county = _leader(county_counts)
    if county:
        candidates = counties[county]
        if len(candidates) > 1:  # 朝阳区, 鼓楼区…: the one whose city or province the text names
            support = [(named_cities[(d.province, d.city)], named_provinces[d.province]) for d in candidates]
            best = max(support)
            candidates = [d for d, s in zip(candidates, support) if s == best] if best > (0, 0) else []
        if len(candidates) == 1:
            d = candidates[0]
            return {"province": d.province, "city": d.city, "county": d.county}
    city = _leader(named_cities)
    if city:
        return {"province": city[0], "city": city[1], "county": ""}
    province = _leader(named_provinces)
    return {"province": province, "city": "", "county": ""} if province else {}


def detect_town(place: dict[str, str], titles: list[str]) -> tuple[str, str]:
    """(county, town) for a township or street named in a title, when the gazetteer lists it under the report's
    county, or under one county of the report's city (which then gives the county)."""
    if not place.get("city") and not place.get("county"):
        return place.get("county", ""), ""
    city = _divisions().get(place["province"], {}).get(place["city"] or _direct(place), {})
    counties = [place["county"]] if place.get("county") else [c for c in city if not c.startswith("_")]
    for title in titles:
        for found, suffix in _TOWN_PATTERN.findall(title):
            # The match may start inside a longer name (大鹏新区葵涌办事处): try its tails, longest first. Shenzhen
            # and others call a street's office 办事处; the gazetteer names the street (街道).
            names = [found[k:] for k in range(len(found) - 1)]
            candidates = [n + s for n in names for s in dict.fromkeys([suffix, "街道", "镇", "乡"])]
            for candidate in dict.fromkeys(candidates):
                for county in counties:
                    if candidate in city.get(county, {}):
                        return county, candidate
    return place.get("county", ""), ""


def _direct(place: dict[str, str]) -> str:
    """The table's pseudo-city that holds a province's directly administered counties."""
    province = _divisions().get(place["province"], {})
    return next((c for c in province if "直辖" in c and place.get("county") in province[c]), "")


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
    place = detect_place("\n".join(paragraphs))
    county, town = detect_town(place, _titles(path, paragraphs)) if place else ("", "")
    return {
        "province": place.get("province", ""),
        "city": place.get("city", ""),
        "county": county,
        "town": town,
        "year": detect_year(path, paragraphs),
        "kind": detect_kind(path, paragraphs),
    }
