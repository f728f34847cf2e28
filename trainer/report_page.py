"""The page around `trainer report`'s Plotly figures: filters, top paragraphs and the re-aggregation on filtering.

The figures themselves (traces, colours, axes) are built with plotly in `trainer.html_report`; the script here
only filters the embedded per-report rows, sums them the same way (share of text = theme characters / all
characters) and hands the new arrays to those figures with Plotly.restyle.
"""

from __future__ import annotations

from string import Template

PAGE = Template("""<!DOCTYPE html>
<html lang="zh-CN">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>$title</title>
<style>
  body { font-family: $font; margin: 0 auto; max-width: 1280px; padding: 16px 24px; color: #1f2933; }
  h1 { font-size: 22px; margin: 8px 0; }
  h2 { font-size: 18px; margin: 28px 0 8px; border-bottom: 1px solid #d9e2ec; padding-bottom: 4px; }
  .filters { position: sticky; top: 0; background: #fff; padding: 8px 0; z-index: 10; border-bottom: 1px solid #eee; }
  .filters label { margin-right: 16px; }
  .filters select { font-family: inherit; font-size: 14px; padding: 2px 4px; }
  .note { color: #52606d; font-size: 13px; }
  details { margin: 8px 0; }
  summary { cursor: pointer; font-weight: 600; }
  ol.top { margin: 4px 0 12px; padding-left: 24px; }
  ol.top li { margin: 6px 0; }
  ol.top p { margin: 2px 0; line-height: 1.6; }
  mark { background: #ffe08a; padding: 0 1px; }
  .score { color: #52606d; font-size: 12px; margin-left: 8px; }
</style>
<script>$plotlyjs</script>
</head>
<body>
<h1>$title</h1>
<p class="note">$reports 份报告，$paragraphs 个段落。文本占比 = 标注为该主题的段落字数 / 全部段落字数。
显示 <span id="shown">$reports</span> 份报告。</p>
<div class="filters">
  <label>地点 <select id="f-place"><option value="">全部</option>$place_options</select></label>
  <label>年份 <select id="f-year"><option value="">全部</option>$year_options</select></label>
  <label>类型 <select id="f-kind"><option value="">全部</option>$kind_options</select></label>
</div>
<h2>地点 × 主题</h2>
<div class="chart">$heatmap</div>
<h2>主题随年份变化</h2>
<div class="chart">$years</div>
<h2>各地各年的主题构成</h2>
<div class="chart">$profile</div>
<h2>各主题的代表段落</h2>
<p class="note">每个主题得分最高的段落（随筛选变化），<mark>标记</mark>为证据；链接打开原报告。</p>
<div id="top"></div>
<script type="application/json" id="report-data">$data</script>
<script>
(function () {
  "use strict";
  var TOP = 5;
  var D = JSON.parse(document.getElementById("report-data").textContent);
  function byId(id) { return document.getElementById(id); }
  function chosen() {
    return { place: byId("f-place").value, year: byId("f-year").value, kind: byId("f-kind").value };
  }
  function keep(r, f) {
    if (f.place && D.places[r.p] !== f.place) return false;
    if (f.year && (f.year === "年份未知" ? r.y !== null : String(r.y) !== f.year)) return false;
    if (f.kind && D.kinds[r.k] !== f.kind) return false;
    return true;
  }
  // Share of text per theme for each group of reports, largest groups (by text) first.
  function groups(rows, keyOf) {
    var found = new Map();
    rows.forEach(function (r) {
      var key = keyOf(r), g = found.get(key);
      if (!g) { g = { key: key, c: 0, t: D.themes.map(function () { return 0; }) }; found.set(key, g); }
      g.c += r.c;
      r.t.forEach(function (v, i) { g.t[i] += v; });
    });
    return Array.from(found.values()).filter(function (g) { return g.c > 0; })
      .sort(function (a, b) { return b.c - a.c; })
      .map(function (g) { return { key: g.key, share: g.t.map(function (v) { return v / g.c; }) }; });
  }
  function heat(id, gs) {
    var shown = gs.slice(0, D.max_rows);
    Plotly.restyle(id, { z: [shown.map(function (g) { return g.share; })],
                         y: [shown.map(function (g) { return g.key; })] });
    Plotly.relayout(id, { height: 140 + 24 * Math.max(shown.length, 1) });
  }
  function renderTop(f) {
    var box = byId("top");
    box.innerHTML = "";
    D.top.forEach(function (items, t) {
      var picked = items.filter(function (it) { return keep(D.reports[it[0]], f); }).slice(0, TOP);
      var details = document.createElement("details");
      details.open = picked.length > 0;
      details.className = "theme-top";
      details.dataset.theme = D.theme_ids[t];
      var head = document.createElement("summary");
      head.textContent = D.themes[t] + "（" + picked.length + "）";
      details.appendChild(head);
      var list = document.createElement("ol");
      list.className = "top";
      picked.forEach(function (it) {
        var li = document.createElement("li"), link = document.createElement("a"), score = document.createElement("span");
        link.href = it[4];
        link.textContent = D.reports[it[0]].n + " · 段落 " + it[1];
        score.className = "score";
        score.textContent = "得分 " + it[2].toFixed(2);
        var text = document.createElement("p");
        text.innerHTML = it[3];
        li.appendChild(link); li.appendChild(score); li.appendChild(text);
        list.appendChild(li);
      });
      details.appendChild(list);
      box.appendChild(details);
    });
  }
  function update() {
    var f = chosen();
    var rows = D.reports.filter(function (r) { return keep(r, f); });
    heat("heatmap", groups(rows, function (r) { return D.places[r.p]; }));
    heat("profile", groups(rows, function (r) { return D.places[r.p] + " · " + (r.y === null ? "年份未知" : r.y); }));
    var years = groups(rows.filter(function (r) { return r.y !== null; }), function (r) { return r.y; })
      .sort(function (a, b) { return a.key - b.key; });
    Plotly.restyle("years", {
      x: D.themes.map(function () { return years.map(function (g) { return g.key; }); }),
      y: D.themes.map(function (_, i) { return years.map(function (g) { return g.share[i]; }); })
    });
    renderTop(f);
    byId("shown").textContent = rows.length;
    document.body.dataset.updated = String(Number(document.body.dataset.updated || 0) + 1);
  }
  ["f-place", "f-year", "f-kind"].forEach(function (id) { byId(id).addEventListener("change", update); });
  update();
})();
</script>
</body>
</html>
""")
