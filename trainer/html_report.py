"""`trainer report`: one self-contained HTML page that shows analysts what a tag output says.

Charts are Plotly figures built here (plotly.js inlined: no server, no internet): places × themes (share of
text), themes over the years, and the theme profile of each place and year. Below them, each theme's top
paragraphs with the evidence marked and a link back to the report. Filters by place, year and kind re-aggregate
the per-report summary rows embedded in the page and hand the new numbers to the same figures.
"""

from __future__ import annotations

import heapq
import html
import json
import os
from collections import defaultdict
from pathlib import Path
from urllib.parse import quote

import pandas as pd

from trainer.errors import UserError
from trainer.outputs import iter_paragraphs, read_summary

KIND_NAMES = {"annual_report": "年度报告", "work_summary": "工作总结", "policy": "政策文件", "news": "新闻报道"}
UNKNOWN_KIND = "类型未知"
UNKNOWN_PLACE = "地点未知"
# Rows a heatmap shows at most (the largest places by text); the place filter reaches the others.
MAX_ROWS = 60
# Candidate paragraphs kept per theme and place-year-kind group, and per theme overall, for the filtered top lists.
GROUP_CANDIDATES = 3
THEME_CANDIDATES = 400
SNIPPET_CHARS = 360
FONT = '"Noto Sans CJK SC", "Source Han Sans SC", "Microsoft YaHei", "PingFang SC", sans-serif'


def place_label(row: dict) -> str:
    """City and county (or province and county), the unit analysts compare; towns fold into their county."""
    county, city, province = row.get("county") or "", row.get("city") or "", row.get("province") or ""
    if county:
        return (city or province) + county
    return city or province or UNKNOWN_PLACE


def _theme_names(theme_ids: list[str]) -> list[str]:
    from trainer.taxonomy import load_taxonomy

    try:
        taxonomy = load_taxonomy()
        names = {t.id: t.name for t in taxonomy.themes}
    except UserError:
        names = {}
    return [names.get(t, t) for t in theme_ids]


def _reports(summary: pd.DataFrame, theme_ids: list[str]) -> pd.DataFrame:
    ok = summary[summary["status"] == "ok"].copy()
    if ok.empty:
        raise UserError("the tag output has no tagged report to show")
    ok["place"] = [place_label(r) for r in ok.to_dict("records")]
    ok["kind_name"] = [KIND_NAMES.get(k, UNKNOWN_KIND) if k else UNKNOWN_KIND for k in ok["kind"]]
    for t in theme_ids:
        ok[f"chars_{t}"] = (ok[f"share_{t}"].astype(float) * ok["chars"].astype(float)).round()
    return ok.reset_index(drop=True)


def share_table(reports: pd.DataFrame, by: list[str], theme_ids: list[str]) -> pd.DataFrame:
    """Share of text per theme for each group: theme characters over all characters of the group's reports."""
    grouped = reports.groupby(by, dropna=False)[["chars", *[f"chars_{t}" for t in theme_ids]]].sum()
    grouped = grouped[grouped["chars"] > 0].sort_values("chars", ascending=False)
    shares = grouped[[f"chars_{t}" for t in theme_ids]].astype(float).div(grouped["chars"].astype(float), axis=0)
    shares.columns = theme_ids
    return shares


def _figures(reports: pd.DataFrame, theme_ids: list[str], names: list[str]):
    import plotly.graph_objects as go

    layout = dict(font=dict(family=FONT, size=12), margin=dict(l=10, r=10, t=110, b=10), template="plotly_white")
    hover = "%{y} · %{x}<br>文本占比 %{z:.1%}<extra></extra>"

    by_place = share_table(reports, ["place"], theme_ids).head(MAX_ROWS)
    heatmap = go.Figure(go.Heatmap(z=by_place.to_numpy(), x=names, y=list(by_place.index), colorscale="Blues",
                                   zmin=0, hovertemplate=hover, colorbar=dict(tickformat=".0%")),
                        layout=dict(layout, height=_height(len(by_place)),
                                    yaxis=dict(autorange="reversed", automargin=True), xaxis=dict(side="top")))  # fmt: skip

    dated = reports[reports["year"].notna()]
    by_year = share_table(dated, ["year"], theme_ids).sort_index() if len(dated) else pd.DataFrame(columns=theme_ids)
    years = [int(y) for y in by_year.index]
    lines = go.Figure(layout=dict(layout, height=460, margin=dict(l=10, r=10, t=30, b=10),
                                  xaxis=dict(tickmode="array", tickvals=years, title="年份"),
                                  yaxis=dict(tickformat=".0%", title="文本占比")))  # fmt: skip
    for theme, name in zip(theme_ids, names):
        lines.add_trace(go.Scatter(x=years, y=list(by_year[theme]) if len(by_year) else [], name=name,
                                   mode="lines+markers", hovertemplate=f"{name} %{{x}}: %{{y:.1%}}<extra></extra>"))  # fmt: skip

    profile_rows = _profile_rows(reports, theme_ids)
    profile = go.Figure(go.Heatmap(z=profile_rows.to_numpy(), x=names, y=list(profile_rows.index),
                                   colorscale="Viridis", zmin=0, hovertemplate=hover,
                                   colorbar=dict(tickformat=".0%")),
                        layout=dict(layout, height=_height(len(profile_rows)),
                                    yaxis=dict(autorange="reversed", automargin=True), xaxis=dict(side="top")))  # fmt: skip
    return {"heatmap": heatmap, "years": lines, "profile": profile}


def _profile_rows(reports: pd.DataFrame, theme_ids: list[str]) -> pd.DataFrame:
    with_year = reports.assign(year_label=[f"{int(y)}" if pd.notna(y) else "年份未知" for y in reports["year"]])
    table = share_table(with_year, ["place", "year_label"], theme_ids).head(MAX_ROWS)
    table.index = [f"{place} · {year}" for place, year in table.index]
    return table


def _height(rows: int) -> int:
    return 140 + 24 * max(rows, 1)


def _snippet(text: str, evidence: list[str]) -> str:
    """The paragraph (cut around its first evidence when long) as HTML with the evidence marked."""
    evidence = sorted({e for e in evidence if e}, key=len, reverse=True)
    if len(text) > SNIPPET_CHARS:
        first = min((text.find(e) for e in evidence if e in text), default=0)
        start = max(0, min(first - SNIPPET_CHARS // 3, len(text) - SNIPPET_CHARS))
        text = ("…" if start else "") + text[start : start + SNIPPET_CHARS] + "…"
    marked = html.escape(text)
    for piece in evidence:
        escaped = html.escape(piece)
        marked = marked.replace(escaped, f"\0{escaped}\1")
    return marked.replace("\0", "<mark>").replace("\1", "</mark>")


def _link(report_path: str, text: str, page: Path) -> str:
    """A relative link to the report file, scrolled to the paragraph where the browser supports text fragments."""
    target = Path(report_path).resolve()
    try:
        relative = os.path.relpath(target, page.resolve().parent)
    except ValueError:  # another drive
        relative = target.as_uri()
    return quote(relative.replace(os.sep, "/")) + "#:~:text=" + quote(text[:24])


def top_paragraphs(tags: Path, reports: pd.DataFrame, theme_ids: list[str], page: Path) -> list[list[list]]:
    """Per theme, candidate paragraphs (best per place-year-kind group, then best overall), streamed."""
    index = {h: i for i, h in enumerate(reports["report_hash"])}
    group = [(r["place"], r["year"], r["kind_name"]) for r in reports.to_dict("records")]
    heaps: dict[tuple[int, tuple], list] = defaultdict(list)
    counter = 0
    for frame in iter_paragraphs(tags):
        for row in frame.to_dict("records"):
            report = index.get(row["report_hash"])
            if report is None:
                continue
            for theme in row["themes"]:
                if theme not in theme_ids:
                    continue
                t = theme_ids.index(theme)
                counter += 1
                item = (float(row[f"score_{theme}"]), counter, report, row)
                heap = heaps[(t, group[report])]
                if len(heap) < GROUP_CANDIDATES:
                    heapq.heappush(heap, item)
                elif item[0] > heap[0][0]:
                    heapq.heapreplace(heap, item)
    per_theme: list[list[list]] = [[] for _ in theme_ids]
    for (t, _group), heap in heaps.items():
        per_theme[t].extend(heap)
    out = []
    for t, items in enumerate(per_theme):
        best = heapq.nlargest(THEME_CANDIDATES, items)
        theme = theme_ids[t]
        out.append([[report, int(row["paragraph_index"]), round(score, 3),
                     _snippet(row["text"], (row.get("evidence") or {}).get(theme, [])),
                     _link(row["report_path"], row["text"], page)]
                    for score, _, report, row in best])  # fmt: skip
    return out


def build_report(tags: Path, out: Path) -> dict:
    """Write the page; returns counts for the command's last line."""
    import plotly.io as pio
    from plotly.offline import get_plotlyjs

    out = Path(out)
    if out.suffix.lower() not in (".html", ".htm"):
        raise UserError(f"--out {out}: the report is one HTML file; give a name ending in .html")
    summary = read_summary(tags)
    theme_ids = [c[len("share_") :] for c in summary.columns if c.startswith("share_")]
    names = _theme_names(theme_ids)
    reports = _reports(summary, theme_ids)
    figures = _figures(reports, theme_ids, names)
    charts = {
        key: pio.to_html(fig, full_html=False, include_plotlyjs=False, div_id=key,
                         config={"displaylogo": False, "responsive": True})
        for key, fig in figures.items()
    }  # fmt: skip
    places = sorted(set(reports["place"]), key=lambda p: (p == UNKNOWN_PLACE, p))
    years = sorted({int(y) for y in reports["year"].dropna()})
    kinds = [*KIND_NAMES.values(), UNKNOWN_KIND]
    data = {
        "themes": names,
        "theme_ids": theme_ids,
        "places": places,
        "kinds": kinds,
        "max_rows": MAX_ROWS,
        "reports": [
            {"p": places.index(r["place"]), "y": None if pd.isna(r["year"]) else int(r["year"]),
             "k": kinds.index(r["kind_name"]), "c": int(r["chars"]), "n": Path(r["report_path"]).name,
             "t": [int(r[f"chars_{t}"]) for t in theme_ids]}
            for r in reports.to_dict("records")
        ],
        "top": top_paragraphs(tags, reports, theme_ids, out),
    }  # fmt: skip
    from trainer.report_page import PAGE

    options = {
        "place_options": _options(places),
        "year_options": _options([str(y) for y in years] + ["年份未知"]),
        "kind_options": _options([k for k in kinds if k in set(reports["kind_name"])]),
    }
    page = PAGE.substitute(
        title=html.escape(f"主题报告 · {Path(tags).name}"),
        font=FONT,
        plotlyjs=get_plotlyjs(),
        data=json.dumps(data, ensure_ascii=False).replace("</", "<\\/"),
        reports=len(reports),
        paragraphs=int(reports["paragraphs"].sum()),
        **charts,
        **options,
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.part")
    tmp.write_text(page, encoding="utf-8")
    os.replace(tmp, out)
    return {"reports": len(reports), "places": len(places), "years": len(years)}


def _options(values: list[str]) -> str:
    return "".join(f'<option value="{html.escape(v)}">{html.escape(v)}</option>' for v in values)
