"""`trainer report`: a self-contained page whose charts draw, whose filters change them, without console errors.

The browser test drives Debian's chromium through playwright (playwright cannot download its own browser
here). CI installs it (`apt-get install -y chromium fonts-noto-cjk`); with CI=true a missing browser fails.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import ROOT
from trainer.cli import main
from trainer.html_report import place_label, share_table
from trainer.outputs import read_summary

PLACES = {"深圳市宝安区", "深圳市光明区", "深圳市坪山区", "深圳市龙岗区", "青岛市李沧区"}


@pytest.fixture(scope="module")
def seed_report(bundle_dir, tmp_path_factory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("report")
    tags = folder / "tags.parquet"
    assert main(["tag", str(ROOT / "seeds"), "--model", str(bundle_dir), "--out", str(tags), "--no-progress"]) == 0
    page = folder / "report.html"
    assert main(["report", str(tags), "--out", str(page)]) == 0
    return tags, page


def test_the_page_is_self_contained(seed_report):
    _, page = seed_report
    text = page.read_text(encoding="utf-8")
    plotly_js, rest = text.split("</script>", 1)
    assert len(plotly_js) > 1_000_000  # plotly.js inlined
    assert not re.search(r"<script[^>]+src=|<link[^>]+href=|https?://", rest)  # the page itself fetches nothing
    assert "Plotly.newPlot" in rest and "行政执法" in rest and "深圳市宝安区" in rest


def test_a_report_of_an_unreadable_or_wrong_target_is_one_line(tmp_path, capsys):
    assert main(["report", str(tmp_path / "none.jsonl"), "--out", str(tmp_path / "r.html")]) == 2
    assert main(["report", str(tmp_path / "none.jsonl"), "--out", str(tmp_path / "r.pdf")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2 and all(line.startswith("error: ") for line in err)


def _chromium() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path:
        return path
    message = "chromium is not installed: apt-get install -y chromium fonts-noto-cjk"
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)


def _has_cjk_font() -> bool:
    try:
        listed = subprocess.run(["fc-list", ":lang=zh"], capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.TimeoutExpired):
        return False
    return bool(listed.strip())


@pytest.mark.slow
def test_charts_draw_and_filters_change_them_in_a_real_browser(seed_report, tmp_path):
    sync_api = pytest.importorskip("playwright.sync_api") if os.environ.get("CI") != "true" else None
    if sync_api is None:
        import playwright.sync_api as sync_api
    executable = _chromium()
    if os.environ.get("CI") == "true":
        assert _has_cjk_font(), "no Chinese font: apt-get install -y fonts-noto-cjk"
    tags, page_path = seed_report
    summary = read_summary(tags)
    summary["place"] = [place_label(r) for r in summary.to_dict("records")]
    theme_ids = [c[len("share_") :] for c in summary.columns if c.startswith("share_")]
    for t in theme_ids:
        summary[f"chars_{t}"] = (summary[f"share_{t}"].astype(float) * summary["chars"]).round()

    problems: list[str] = []
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: problems.append(str(e)))
            page.on("request", lambda r: None if r.url.startswith("file:") else problems.append(f"fetched {r.url}"))
            page.goto(page_path.as_uri())
            for chart in ("heatmap", "years", "profile"):
                page.wait_for_selector(f"#{chart} .main-svg", timeout=30_000)
            # the heatmap drew one row per place, its cells as an image, theme names as Chinese tick labels
            assert set(page.evaluate("document.getElementById('heatmap').data[0].y")) == PLACES
            assert page.locator("#heatmap .hm image").count() == 1
            ticks = page.locator("#heatmap .xtick text").evaluate_all("ts => ts.map(t => t.textContent)")
            assert "行政执法" in ticks and "法律援助" in ticks
            assert page.locator("details.theme-top mark").count() > 0  # evidence marked in the top paragraphs
            screenshot = Path(os.environ.get("REPORT_SCREENSHOT", tmp_path / "report.png"))
            page.screenshot(path=str(screenshot))
            assert screenshot.stat().st_size > 20_000

            updated = page.evaluate("document.body.dataset.updated")
            page.select_option("#f-place", "深圳市宝安区")
            page.wait_for_function(f"document.body.dataset.updated !== '{updated}'")
            assert page.evaluate("document.getElementById('heatmap').data[0].y") == ["深圳市宝安区"]
            z = page.evaluate("document.getElementById('heatmap').data[0].z")[0]
            expected = share_table(summary[summary["place"] == "深圳市宝安区"], ["place"], theme_ids).iloc[0]
            assert z == pytest.approx(list(expected), abs=1e-9)
            assert page.inner_text("#shown") == "1"
            links = page.locator("details.theme-top a").evaluate_all("links => links.map(a => a.textContent)")
            assert links and all(link.startswith("001_3c7bd2856db37571.txt") for link in links)

            page.select_option("#f-place", "")
            page.select_option("#f-year", "2024")
            assert page.inner_text("#shown") == "2"  # 宝安 and 坪山 report on 2024
            assert page.evaluate("document.getElementById('years').data[0].x") == [2024]
            page.select_option("#f-year", "")
            page.select_option("#f-kind", "年度报告")
            assert set(page.evaluate("document.getElementById('heatmap').data[0].y")) == {
                "深圳市宝安区",
                "深圳市龙岗区",
            }
        finally:
            browser.close()
    assert problems == []
