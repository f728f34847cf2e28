"""The report reader: real seed files, every input format and encoding, and bad input.

Paragraph ids and texts of the seeds are what labels/gold.jsonl refers to, so the
seed tests pin them down exactly; the format tests build small reports in tmp_path.
"""

from __future__ import annotations

import hashlib
import json
import logging
import random
import re
import zipfile
from pathlib import Path

import pytest

from trainer import cli
from trainer.errors import UserError
from trainer.paragraphs import normalise
from trainer.reader import (
    MAX_PARAGRAPH_CHARS,
    MAX_REPORT_BYTES,
    find_report_files,
    read_report,
    read_reports,
    text_hash,
)

ROOT = Path(__file__).resolve().parent.parent
SEEDS = ROOT / "seeds"
SEED_PARAGRAPHS = {"000": 28, "001": 52, "002": 17, "003": 19, "004": 16}
CHROME_MARKERS = (
    "您现在的位置",
    "信息来源",
    "【字体",
    "触碰右侧展开",
    "扫一扫",
    "二维码",
    "版权所有",
    "All Rights Reserved",
    "欢迎批评指正",
    "发布日期",
    "今天是",
)


def seed_file(prefix: str) -> Path:
    (path,) = SEEDS.glob(f"{prefix}_*.txt")
    return path


@pytest.fixture(scope="module")
def seed_reports():
    return {prefix: read_report(seed_file(prefix)) for prefix in SEED_PARAGRAPHS}


def texts(report) -> list[str]:
    return [p.text for p in report.paragraphs]


# --- the real seed reports -------------------------------------------------------------------


def test_all_seeds_are_present():
    assert sorted(p.name[:3] for p in SEEDS.glob("*.txt")) == sorted(SEED_PARAGRAPHS)


@pytest.mark.parametrize(("prefix", "expected"), sorted(SEED_PARAGRAPHS.items()))
def test_seed_paragraph_count(seed_reports, prefix, expected):
    assert len(seed_reports[prefix].paragraphs) == expected


@pytest.mark.parametrize("marker", CHROME_MARKERS)
def test_seed_web_chrome_is_dropped(seed_reports, marker):
    raw = "".join(seed_file(prefix).read_text(encoding="utf-8") for prefix in SEED_PARAGRAPHS)
    assert marker in raw, "the seeds no longer contain this chrome: the test would prove nothing"
    survivors = [p.id for r in seed_reports.values() for p in r.paragraphs if marker in p.text]
    assert survivors == [], f"web chrome {marker!r} survived in {survivors}"


def test_seed_hard_wrapped_line_is_joined(seed_reports):
    raw = seed_file("002").read_text(encoding="utf-8")
    assert "调\n解工作法" in raw
    joined = [p for p in seed_reports["002"].paragraphs if "调解工作法" in p.text]
    assert [p.index for p in joined] == [6]
    assert "荣获深圳市司法局“一区一品牌”特色调解项目" in joined[0].text
    assert not any(t.startswith("解工作法") for t in texts(seed_reports["002"]))


def test_seed_headings_stay_paragraphs_of_their_own(seed_reports):
    assert "五、存在的不足及原因" in texts(seed_reports["001"])
    assert "六、下一步工作安排" in texts(seed_reports["001"])
    assert "五、推进法治政府建设存在的不足和原因" in texts(seed_reports["004"])
    # seeds 000 and 002 have no blank lines at all: short headings must still stand alone
    assert texts(seed_reports["000"])[1] == "聚焦法律服务业高质量发展创新实施“三个一”系列措施"
    assert texts(seed_reports["002"])[1] == "优化政府职能,法治营商环境全面升级"


@pytest.mark.parametrize("prefix", ["001", "003", "004"])
def test_every_numbered_seed_heading_is_one_paragraph(seed_reports, prefix):
    raw = normalise(seed_file(prefix).read_text(encoding="utf-8"))
    headings = [
        line.strip()
        for line in raw.split("\n")
        if re.match(r"([一二三四五六七八九十]+、|[(（][一二三四五六七八九十]+[)）])", line.strip())
    ]
    assert len(headings) >= 4
    paragraphs = set(texts(seed_reports[prefix]))
    assert [h for h in headings if h not in paragraphs] == []


def test_seed_content_mentioning_saoma_is_kept(seed_reports):
    raw_lines = [line for line in seed_file("000").read_text(encoding="utf-8").splitlines() if "扫码入企" in line]
    kept = [p for p in seed_reports["000"].paragraphs if "扫码入企" in p.text]
    assert len(raw_lines) == 4
    assert [p.text for p in kept] == raw_lines


def test_seed_paragraph_ids_and_hashes(seed_reports):
    for prefix, report in seed_reports.items():
        stem = seed_file(prefix).stem
        assert report.report_id == stem
        assert [p.index for p in report.paragraphs] == list(range(len(report.paragraphs)))
        for p in report.paragraphs:
            assert re.fullmatch(rf"{re.escape(stem)}:\d{{3}}", p.id)
            assert p.id == f"{stem}:{p.index:03d}"
            assert p.hash == hashlib.sha1(p.text.encode("utf-8")).hexdigest()[:12]
        assert report.sha256 == hashlib.sha256(seed_file(prefix).read_bytes()).hexdigest()


def test_seed_paragraph_hashes_are_stable(seed_reports):
    """Known ids/hashes: a change here means labels/gold.jsonl no longer fits the reader."""
    by_id = {p.id: p for r in seed_reports.values() for p in r.paragraphs}
    assert by_id["001_3c7bd2856db37571:043"].text == "五、存在的不足及原因"
    assert by_id["001_3c7bd2856db37571:043"].hash == "317522293ab7"
    assert by_id["002_6416096977825b04:006"].hash == "7417e5d9f1ba"
    assert by_id["003_c2c85aac25e61748:000"].hash == "970b5e83e696"
    assert text_hash("五、存在的不足及原因") == "317522293ab7"
    again = read_report(seed_file("003"))
    assert [(p.id, p.hash) for p in again.paragraphs] == [(p.id, p.hash) for p in seed_reports["003"].paragraphs]


def test_seed_paragraphs_have_no_stray_whitespace(seed_reports):
    for report in seed_reports.values():
        for p in report.paragraphs:
            assert p.text == p.text.strip() and "\n" not in p.text and p.text, p.id


# --- formats and encodings -------------------------------------------------------------------

REPORT_LINES = [
    "一、依法行政工作情况",
    "2023年，区司法局深入推进法治政府建设，全年办理行政复议案件一百二十件，同比增长百分之十五。",
    "二、存在的不足",
    "基层执法人员的法律素养仍需提高，部分规范性文件的合法性审查不够细致。",
]


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gb18030", "gbk"])
def test_text_encodings_decode(tmp_path, encoding):
    path = tmp_path / "report.txt"
    path.write_bytes("\r\n\r\n".join(REPORT_LINES).encode(encoding))
    assert texts(read_report(path)) == REPORT_LINES


@pytest.mark.parametrize("encoding", ["gb18030", "gbk"])
@pytest.mark.parametrize("text", ["调解工作", "法律援助", "行政复议案件办理情况报告", "公证。"])
def test_short_gb_texts_decode(tmp_path, encoding, text):
    """Short GBK files used to be mistaken for Korean (cp949/johab) or UTF-16 by the detector."""
    path = tmp_path / "short.txt"
    path.write_bytes(text.encode(encoding))
    assert texts(read_report(path)) == [text]


# Windows "Unicode" saves: UTF-16 or UTF-32 with a byte order mark, CRLF line ends.
BOM_ENCODINGS = {
    "utf-16-le": b"\xff\xfe",
    "utf-16-be": b"\xfe\xff",
    "utf-32-le": b"\xff\xfe\x00\x00",
    "utf-32-be": b"\x00\x00\xfe\xff",
}


@pytest.mark.parametrize("encoding", sorted(BOM_ENCODINGS))
def test_utf16_and_utf32_with_a_bom_decode(tmp_path, encoding):
    data = BOM_ENCODINGS[encoding] + "\r\n\r\n".join(REPORT_LINES).encode(encoding)
    assert b"\x00" in data  # what the binary check used to refuse
    path = tmp_path / "unicode.txt"
    path.write_bytes(data)
    assert texts(read_report(path)) == REPORT_LINES


def test_broken_utf16_is_a_one_line_error(tmp_path):
    path = tmp_path / "broken.txt"
    path.write_bytes(b"\xff\xfe" + "一、总体情况".encode("utf-16-le") + b"\x00\xdc")  # lone low surrogate
    with pytest.raises(UserError) as exc_info:
        read_report(path)
    assert "UTF-16" in one_line_error(exc_info, path)


# A Taiwan/Hong Kong-style report in traditional characters; every line also decodes as GB18030 (into
# mojibake), which is what the reader used to return without a word.
BIG5_LINES = [
    "一、依法行政工作情況",
    "2023年，區司法局深入推進法治政府建設，全年辦理行政復議案件一百二十件，同比增長百分之十五。",
    "二、人民調解工作",
    "全區各級人民調解組織共排查矛盾糾紛一千二百餘次，調解成功率達到百分之九十八，有效把矛盾糾紛化解在基層。",
    "三、存在的不足",
    "基層執法人員的法律素養仍需提高，部分規範性文件的合法性審查不夠細緻。",
]


@pytest.mark.parametrize("encoding", ["cp950", "big5", "big5hkscs"])
def test_big5_report_decodes_without_a_warning(tmp_path, caplog, encoding):
    data = "\r\n".join(BIG5_LINES).encode(encoding)
    data.decode("gb18030")  # the trap: valid GB18030 too
    path = tmp_path / "big5.txt"
    path.write_bytes(data)
    with caplog.at_level(logging.WARNING, logger="trainer.decoding"):
        assert texts(read_report(path)) == BIG5_LINES
    assert not caplog.records  # a whole report is no close call


def test_hong_kong_supplementary_characters_decode(tmp_path):
    line = "石硤尾邨居民法律諮詢服務，全年接待市民二百三十人次。"
    path = tmp_path / "hkscs.txt"
    path.write_bytes(line.encode("big5hkscs"))
    assert texts(read_report(path)) == [line]


@pytest.mark.parametrize("text", ["調解工作", "法律援助", "律師", "公證。", "（一）", "行政復議案件辦理情況報告"])
def test_short_big5_texts_decode_and_a_guess_is_flagged(tmp_path, caplog, text):
    """Short texts too: right, and a text too short to be sure of gets a warning instead of silence."""
    path = tmp_path / "short.txt"
    path.write_bytes(text.encode("big5"))
    with caplog.at_level(logging.WARNING, logger="trainer.decoding"):
        assert texts(read_report(path)) == [text]
    warned = [r.getMessage() for r in caplog.records if "guessed Big5 over GB18030" in r.getMessage()]
    assert bool(warned) == (len(text) < 6)


@pytest.mark.parametrize("text", ["水平", "学习", "实施"])
def test_short_gb_texts_that_are_also_valid_utf8(tmp_path, text):
    data = text.encode("gbk")
    data.decode("utf-8")  # valid UTF-8 (Latin and Greek letters), no Chinese in that reading
    path = tmp_path / "short.txt"
    path.write_bytes(data)
    assert texts(read_report(path)) == [text]


def test_non_chinese_utf8_text_is_not_guessed_at(tmp_path, caplog):
    path = tmp_path / "english.txt"
    path.write_text("Café résumé naïve: the report's English summary.", encoding="utf-8")
    with caplog.at_level(logging.WARNING, logger="trainer.decoding"):
        assert texts(read_report(path)) == ["Café résumé naïve: the report's English summary."]
    assert not caplog.records


def test_traditional_utf8_text_is_kept_as_written(tmp_path):
    """The reader never converts: outputs show the report's own characters (models read them simplified)."""
    path = tmp_path / "mirror.txt"
    path.write_text("\n".join(BIG5_LINES), encoding="utf-8")
    assert texts(read_report(path)) == BIG5_LINES


def test_bom_does_not_leak_into_first_paragraph(tmp_path):
    path = tmp_path / "bom.txt"
    path.write_bytes(b"\xef\xbb\xbf" + "一、总体情况".encode())
    assert texts(read_report(path)) == ["一、总体情况"]


def test_full_width_alphanumerics_become_half_width(tmp_path):
    path = tmp_path / "fullwidth.txt"
    path.write_text("ＡＢＣ１２３公司，“合规”管理。（一）《条例》！？：；\u3000共２０２４件", encoding="utf-8")
    assert texts(read_report(path)) == ["ABC123公司，“合规”管理。（一）《条例》！？：； 共2024件"]


HTML_PAGE = """<!DOCTYPE html><html><head><meta charset="{charset}"><title>某区司法局2024年法治政府建设年度报告</title></head>
<body>
<header><nav><ul><li><a href="/">首页</a></li><li><a href="/zwgk">政务公开</a></li>
<li><a href="/fzzf">法治政府建设</a></li><li><a href="/hd">互动交流</a></li></ul></nav></header>
<div class="breadcrumb">您现在的位置：<a href="/">首页</a> &gt; <a href="/zwgk">政务公开</a> &gt; 法治政府建设</div>
<main><article>
<h1>某区司法局2024年法治政府建设年度报告</h1>
<p>信息来源：某区司法局 发布日期：2024-12-19</p>
<p>【字体：大 中 小】</p>
<p>2024年，区司法局坚持以习近平新时代中国特色社会主义思想为指导，深入推进法治政府建设，全区行政执法规范化水平持续提升。</p>
<h2>一、行政复议工作</h2>
<p>全年共收到行政复议申请三百二十件，依法受理二百九十八件，审结二百七十六件，行政复议化解行政争议的主渠道作用进一步发挥。</p>
<h2>二、人民调解工作</h2>
<p>全区各级人民调解组织共排查矛盾纠纷一千二百余次，调解成功率达到百分之九十八，有效把矛盾纠纷化解在基层。</p>
</article></main>
<footer><p>主办单位：某区司法局 版权所有 2024 All Rights Reserved</p><p>粤ICP备12345678号 网站标识码：4403000001</p>
<p>扫一扫在手机打开当前页</p></footer>
</body></html>"""
HTML_PARAGRAPHS = [
    "某区司法局2024年法治政府建设年度报告",
    "2024年，区司法局坚持以习近平新时代中国特色社会主义思想为指导，深入推进法治政府建设，全区行政执法规范化水平持续提升。",
    "一、行政复议工作",
    "全年共收到行政复议申请三百二十件，依法受理二百九十八件，审结二百七十六件，行政复议化解行政争议的主渠道作用进一步发挥。",
    "二、人民调解工作",
    "全区各级人民调解组织共排查矛盾纠纷一千二百余次，调解成功率达到百分之九十八，有效把矛盾纠纷化解在基层。",
]


@pytest.mark.parametrize(("suffix", "charset", "encoding"), [(".html", "utf-8", "utf-8"), (".htm", "gb2312", "gbk")])
def test_html_main_text_without_chrome(tmp_path, suffix, charset, encoding):
    """Article paragraphs kept one by one; nav, breadcrumb, meta lines and footer dropped."""
    path = tmp_path / f"page{suffix}"
    path.write_bytes(HTML_PAGE.format(charset=charset).encode(encoding))
    assert texts(read_report(path)) == HTML_PARAGRAPHS


def test_short_html_page_keeps_its_paragraphs(tmp_path):
    """A short news item (under trafilatura's 250-character minimum) whose meta line trafilatura
    drops used to come back as one flattened line, meta line included (its baseline rescue)."""
    cut = HTML_PAGE.index("<h2>二、人民调解工作</h2>")
    page = HTML_PAGE[:cut] + HTML_PAGE[HTML_PAGE.index("</article>") :]
    page = page.replace("<p>信息来源：", '<div class="meta">信息来源：').replace("2024-12-19</p>", "2024-12-19</div>")
    assert '<div class="meta">' in page
    path = tmp_path / "short.html"
    path.write_text(page.format(charset="utf-8"), encoding="utf-8")
    assert texts(read_report(path)) == HTML_PARAGRAPHS[:4]


@pytest.mark.parametrize(
    "declared", ['<meta charset="big5">', '<meta http-equiv="Content-Type" content="text/html; charset=big5">', ""]
)
def test_big5_html_page(tmp_path, declared):
    import opencc

    to_traditional = opencc.OpenCC("s2tw").convert
    page = to_traditional(HTML_PAGE).replace('<meta charset="{charset}">', declared)
    path = tmp_path / "page.html"
    path.write_bytes(page.encode("cp950"))
    assert texts(read_report(path)) == [to_traditional(p) for p in HTML_PARAGRAPHS]


def test_utf16_html_page_with_a_bom(tmp_path):
    path = tmp_path / "unicode.html"
    path.write_bytes(b"\xff\xfe" + HTML_PAGE.format(charset="utf-16").encode("utf-16-le"))
    assert texts(read_report(path)) == HTML_PARAGRAPHS


TABLE_PAGE = """<html><head><meta charset="utf-8"><title>某区司法局2024年工作总结</title></head><body><article>
<h1>某区司法局2024年工作总结</h1>
<p>2024年，区司法局深入推进法治政府建设，主要业务数据如下：</p>
<table>
<thead><tr><th>项目</th><th>数量</th><th>同比</th></tr></thead>
<tbody>
<tr><td>行政复议案件</td><td>320件</td><td>增长15%</td></tr>
<tr><td>人民调解案件</td><td>1200件</td><td>增长8%</td></tr>
<tr><td>法律援助案件</td><td>608件</td><td></td></tr>
</tbody></table>
<p>基层调解组织情况：</p>
<table><tr><td>调解组织</td><td>一百二十个</td></tr><tr><td>调解成功率</td><td>百分之九十八</td></tr>
<tr><td><p>专职</p><p>调解员</p></td><td>四十五名</td></tr></table>
<p>下一步，区司法局将继续加强行政复议和人民调解工作。</p>
</article></body></html>"""


def test_html_tables_become_one_readable_paragraph_per_row(tmp_path):
    """trafilatura writes "| cell | cell |" lines; each row is a sentence instead, with header names when
    the table has a header row, and never a pipe."""
    path = tmp_path / "table.html"
    path.write_text(TABLE_PAGE, encoding="utf-8")
    paragraphs = texts(read_report(path))
    assert paragraphs == [
        "某区司法局2024年工作总结",
        "2024年，区司法局深入推进法治政府建设，主要业务数据如下：",
        "项目：行政复议案件；数量：320件；同比：增长15%。",
        "项目：人民调解案件；数量：1200件；同比：增长8%。",
        "项目：法律援助案件；数量：608件。",
        "基层调解组织情况：",
        "调解组织；一百二十个。",
        "调解成功率；百分之九十八。",
        "专职 调解员；四十五名。",
        "下一步，区司法局将继续加强行政复议和人民调解工作。",
    ]
    assert not any("|" in p for p in paragraphs)


@pytest.mark.parametrize(
    ("rows", "header", "expected"),
    [
        ([["项目", "数量"], ["", ""], ["调解案件", "1200件。"]], True, ["项目：调解案件；数量：1200件。"]),
        ([["项目", "数量"]], True, ["项目；数量。"]),  # a header row alone is a row like any other
        ([["", ""], ["调解组织", "一百二十个"]], True, ["调解组织；一百二十个。"]),  # no header names to pair
        ([], True, []),
    ],
)
def test_table_rows_as_sentences(rows, header, expected):
    from trainer.tables import table_paragraphs

    assert table_paragraphs(rows, header) == expected


def test_html_without_main_text_is_a_user_error(tmp_path):
    path = tmp_path / "empty.html"
    path.write_text("<html><head><title>x</title></head><body><script>var a = 1;</script></body></html>")
    with pytest.raises(UserError, match=r"empty\.html: no main text"):
        read_report(path)


def test_docx_paragraphs_and_tables(tmp_path):
    import docx

    document = docx.Document()
    document.add_heading("某区司法局2024年法治政府建设年度报告", level=1)
    document.add_paragraph("一、行政复议工作")
    document.add_paragraph(
        "全年共收到行政复议申请三百二十件，依法受理二百九十八件，审结二百七十六件，纠错率为百分之八点五"
    )
    document.add_paragraph("")
    document.add_paragraph("二、人民调解工作")
    table = document.add_table(rows=2, cols=2)
    table.cell(0, 0).text, table.cell(0, 1).text = "调解组织", "一百二十个"
    table.cell(1, 0).text, table.cell(1, 1).text = "调解成功率", "百分之九十八"
    path = tmp_path / "report.docx"
    document.save(path)
    # a Word paragraph that stops mid-sentence is still a paragraph of its own (no joining)
    assert texts(read_report(path)) == [
        "某区司法局2024年法治政府建设年度报告",
        "一、行政复议工作",
        "全年共收到行政复议申请三百二十件，依法受理二百九十八件，审结二百七十六件，纠错率为百分之八点五",
        "二、人民调解工作",
        "调解组织；一百二十个。",
        "调解成功率；百分之九十八。",
    ]


def test_docx_tables_read_like_html_tables_in_document_order(tmp_path):
    """A header row (Word's "repeat as header row") names the columns, a merged cell counts once, and a
    table stays where it is in the document."""
    import docx
    from docx.oxml import OxmlElement

    document = docx.Document()
    document.add_paragraph("一、主要数据")
    table = document.add_table(rows=3, cols=3)
    for row, cells in enumerate(
        [("项目", "数量", "同比"), ("行政复议案件", "320件", "增长15%"), ("人民调解案件", "", "")]
    ):
        for col, text in enumerate(cells):
            table.cell(row, col).text = text
    table.cell(2, 1).merge(table.cell(2, 2)).text = "1200件"
    table.rows[0]._tr.get_or_add_trPr().append(OxmlElement("w:tblHeader"))
    document.add_paragraph("二、下一步工作")
    path = tmp_path / "table.docx"
    document.save(path)
    assert texts(read_report(path)) == [
        "一、主要数据",
        "项目：行政复议案件；数量：320件；同比：增长15%。",
        "人民调解案件；1200件。",  # two cells merged: the row no longer lines up with the header
        "二、下一步工作",
    ]


PDF_PARAGRAPHS = [
    "某区司法局2024年度法治政府建设工作报告",
    "一、行政复议工作",
    "全年共收到行政复议申请三百二十件，依法受理二百九十八件，审结二百七十六件，纠错率为百分之八点五，"
    "行政复议化解行政争议的主渠道作用进一步发挥，行政机关负责人出庭应诉率保持在百分之百。",
    "二、人民调解工作",
    "全区各级人民调解组织共排查矛盾纠纷一千二百余次，调解成功率达到百分之九十八，有效把矛盾纠纷化解在基层，"
    "消除在萌芽状态，全区未发生因矛盾纠纷激化引发的重大案件，群众满意度持续提升，"
    "人民调解在基层社会治理中的作用更加突出。",
]


def make_pdf(path: Path, paragraphs: list[str], width: int = 36, lines_per_page: int = 9) -> None:
    """Draw paragraphs hard-wrapped at `width` characters, like a typeset report."""
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont
    from reportlab.pdfgen import canvas

    pdfmetrics.registerFont(UnicodeCIDFont("STSong-Light"))
    lines = [p[i : i + width] for p in paragraphs for i in range(0, len(p), width)]
    pdf = canvas.Canvas(str(path), pagesize=A4)
    for start in range(0, len(lines), lines_per_page):
        pdf.setFont("STSong-Light", 12)
        for row, line in enumerate(lines[start : start + lines_per_page]):
            pdf.drawString(50, 780 - 20 * row, line)
        pdf.showPage()
    pdf.save()


@pytest.mark.parametrize("lines_per_page", [8, 9])
def test_pdf_with_cid_font(tmp_path, lines_per_page):
    """STSong-Light (a built-in CID font) comes back as exact Chinese text from pypdf; lines wrapped
    at the page width are joined again, also across a page break (which used to split the paragraph
    and, with 9 lines a page, drop its lone last "。"), and headings stay on their own."""
    path = tmp_path / "report.pdf"
    make_pdf(path, PDF_PARAGRAPHS, lines_per_page=lines_per_page)
    from pypdf import PdfReader

    assert len(PdfReader(path).pages) == 2  # the last paragraph runs over the page break
    assert texts(read_report(path)) == PDF_PARAGRAPHS


FURNITURE_PARAGRAPHS = PDF_PARAGRAPHS + [
    "三、法律援助工作",
    "全年受理法律援助案件六百零八宗，接待来访来电群众咨询六千七百零六次，帮助受援人挽回经济损失约五千五百三十六万元，"
    "法律援助覆盖面进一步扩大，公共法律服务体系建设取得新进展。",
]
RUNNING_HEADER = "某区司法局2024年度法治政府建设工作报告"  # the title again, as Word headers often are
PAGE_FOOTERS = {
    "dashes": lambda n, total: [f"- {n} -"],
    "chinese": lambda n, total: [f"第{n}页"],
    "chinese of total": lambda n, total: [f"第 {n} 页 共 {total} 页"],
    "slash": lambda n, total: [f"{n}/{total}"],
    "digits": lambda n, total: [f"{n}"],
    "footer line and number": lambda n, total: ["某区司法局办公室印发", f"— {n} —"],
}


def make_paginated_pdf(path: Path, paragraphs: list[str], footer, lines_per_page: int = 6) -> int:
    """A report typeset like a real one: running header, body hard-wrapped at 36 characters, footer."""
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont
    from reportlab.pdfgen import canvas

    pdfmetrics.registerFont(UnicodeCIDFont("STSong-Light"))
    lines = [p[i : i + 36] for p in paragraphs for i in range(0, len(p), 36)]
    pages = [lines[i : i + lines_per_page] for i in range(0, len(lines), lines_per_page)]
    pdf = canvas.Canvas(str(path), pagesize=A4)
    for n, page in enumerate(pages, start=1):
        pdf.setFont("STSong-Light", 9)
        pdf.drawString(50, 810, RUNNING_HEADER)
        pdf.setFont("STSong-Light", 12)
        for row, line in enumerate(page):
            pdf.drawString(50, 760 - 20 * row, line)
        pdf.setFont("STSong-Light", 9)
        for row, line in enumerate(footer(n, len(pages))):
            pdf.drawString(260, 50 - 14 * row, line)
        pdf.showPage()
    pdf.save()
    return len(pages)


@pytest.mark.parametrize("style", sorted(PAGE_FOOTERS))
def test_pdf_page_numbers_and_running_headers_are_dropped(tmp_path, style):
    """Over three pages: header, page numbers and footer lines go; paragraphs running over both page breaks
    are joined again; the title (the same text as the running header) stays once."""
    path = tmp_path / "paginated.pdf"
    assert make_paginated_pdf(path, FURNITURE_PARAGRAPHS, PAGE_FOOTERS[style]) == 3
    from pypdf import PdfReader

    raw = "\n".join(page.extract_text() for page in PdfReader(path).pages)
    assert raw.count(RUNNING_HEADER) == 4  # the test PDF does carry its furniture
    assert texts(read_report(path)) == FURNITURE_PARAGRAPHS


@pytest.mark.parametrize(
    ("line", "expected"),
    [("- 3 -", True), ("—12—", True), ("第3页", True), ("第 3 页 共 12 页", True), ("共12页 第3页", True),
     ("3/12", True), ("３", True), ("第三页", True), ("第3頁", True), ("Page 3 of 12", True), ("17", True),
     ("一、总体情况", False), ("2024年工作总结", False), ("第三章 总则", False), ("3.加强执法", False)],
)  # fmt: skip
def test_page_number_lines(line, expected):
    from trainer.pages import is_page_number

    assert is_page_number(line) is expected


def test_lines_repeated_only_inside_pages_are_kept():
    from trainer.pages import strip_page_furniture

    body = [f"正文第{i}行，内容各不相同。" for i in range(12)]
    pages = [["报告标题", *body[:6]], ["（一）总体情况", *body[6:], "（一）总体情况", "结束。"]]
    assert strip_page_furniture(pages) == pages  # 报告标题 heads one page only; the repeat sits mid-page


def test_pdf_full_width_letters(tmp_path):
    path = tmp_path / "fullwidth.pdf"
    make_pdf(path, ["ＡＢＣ１２３公司，“合规”管理。"])
    assert texts(read_report(path)) == ["ABC123公司，“合规”管理。"]


# --- bad input -------------------------------------------------------------------------------


def one_line_error(exc_info, path: Path) -> str:
    message = str(exc_info.value)
    assert "\n" not in message
    assert str(path) in message
    return message


@pytest.mark.parametrize("content", [b"", b"  \r\n\n\t \n"])
def test_empty_file_warns_and_gives_no_paragraphs(tmp_path, caplog, content):
    path = tmp_path / "empty.txt"
    path.write_bytes(content)
    with caplog.at_level(logging.WARNING, logger="trainer.reader"):
        report = read_report(path)
    assert report.paragraphs == ()
    assert any("empty file" in r.getMessage() and str(path) in r.getMessage() for r in caplog.records)


def test_binary_file_is_refused(tmp_path):
    path = tmp_path / "image.txt"
    path.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)))
    with pytest.raises(UserError) as exc_info:
        read_report(path)
    assert "binary" in one_line_error(exc_info, path)


@pytest.mark.parametrize("name", ["report.rtf", "report.doc", "report", "report.TXT.bak"])
def test_unsupported_extension(tmp_path, name):
    path = tmp_path / name
    path.write_text("一、总体情况", encoding="utf-8")
    with pytest.raises(UserError) as exc_info:
        read_report(path)
    message = one_line_error(exc_info, path)
    assert "unsupported file type" in message and ".docx" in message and ".pdf" in message


def test_upper_case_extension_is_supported(tmp_path):
    path = tmp_path / "REPORT.TXT"
    path.write_text("一、总体情况", encoding="utf-8")
    assert texts(read_report(path)) == ["一、总体情况"]


def test_undecodable_bytes(tmp_path):
    data = bytes(b for b in random.Random(0).randbytes(600) if b)  # no NUL: not taken for binary
    path = tmp_path / "noise.txt"
    path.write_bytes(data)
    with pytest.raises(UserError) as exc_info:
        read_report(path)
    assert "cannot decode" in one_line_error(exc_info, path)


def test_file_over_16_mb_is_refused(tmp_path):
    path = tmp_path / "huge.txt"
    with path.open("wb") as f:  # sparse: costs no disk and is never read
        f.truncate(MAX_REPORT_BYTES + 1)
    with pytest.raises(UserError) as exc_info:
        read_report(path)
    assert "16 MB" in one_line_error(exc_info, path)


def test_one_huge_line_is_cut_at_sentence_ends(tmp_path):
    sentence = "全区行政执法规范化水平持续提升，各项工作取得明显成效。"
    text = sentence * 1000
    path = tmp_path / "oneline.txt"
    path.write_text(text, encoding="utf-8")
    pieces = texts(read_report(path))
    assert len(pieces) > 1
    assert all(len(p) <= MAX_PARAGRAPH_CHARS for p in pieces)
    assert "".join(pieces) == text  # nothing lost, nothing repeated
    assert all(p.endswith("。") for p in pieces)


def test_one_huge_line_without_sentence_ends_is_cut_hard(tmp_path):
    text = "法治政府建设" * 2000
    path = tmp_path / "oneline.txt"
    path.write_text(text, encoding="utf-8")
    pieces = texts(read_report(path))
    assert [len(p) for p in pieces] == [MAX_PARAGRAPH_CHARS] * 4
    assert "".join(pieces) == text


def docx_bytes() -> bytes:
    import io

    import docx

    document = docx.Document()
    document.add_paragraph("全年共收到行政复议申请三百二十件。" * 20)
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def corrupt_docx_variants() -> dict[str, bytes]:
    import io

    good = docx_bytes()
    variants = {"not-a-zip": b"PK\x03\x04 this is not really a zip", "truncated": good[:1500]}
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        z.writestr("hello.txt", "a zip, but no Word document inside")
    variants["zip-not-docx"] = buffer.getvalue()
    # document.xml cut in half: used to escape as lxml's XMLSyntaxError
    src, buffer = zipfile.ZipFile(io.BytesIO(good)), io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as z:
        for item in src.infolist():
            data = src.read(item.filename)
            z.writestr(item, data[: len(data) // 2] if item.filename == "word/document.xml" else data)
    variants["broken-xml"] = buffer.getvalue()
    # damaged deflate data inside document.xml: used to escape as zlib.error
    info = src.getinfo("word/document.xml")
    start = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra) + 20
    damaged = bytearray(good)
    for i in range(start, start + 40):
        damaged[i] ^= 0x5A
    variants["damaged-deflate"] = bytes(damaged)
    return variants


@pytest.mark.parametrize("variant", ["not-a-zip", "truncated", "zip-not-docx", "broken-xml", "damaged-deflate"])
def test_corrupt_docx(tmp_path, variant):
    path = tmp_path / f"{variant}.docx"
    path.write_bytes(corrupt_docx_variants()[variant])
    with pytest.raises(UserError) as exc_info:
        read_report(path)
    assert "not a valid .docx" in one_line_error(exc_info, path)


@pytest.mark.parametrize("variant", ["garbage", "html", "truncated", "encrypted"])
def test_corrupt_pdf(tmp_path, variant):
    good = tmp_path / "good.pdf"
    make_pdf(good, PDF_PARAGRAPHS[:2])
    path = tmp_path / f"{variant}.pdf"
    if variant == "garbage":
        path.write_bytes(b"%PDF-1.4\n garbage garbage \n%%EOF")
    elif variant == "html":
        path.write_text("<html><body>not a pdf</body></html>", encoding="utf-8")
    elif variant == "truncated":
        path.write_bytes(good.read_bytes()[:300])
    else:
        from pypdf import PdfReader, PdfWriter

        writer = PdfWriter()
        writer.append(PdfReader(good))
        writer.encrypt("secret-user-password", "owner")
        writer.write(path)
    with pytest.raises(UserError) as exc_info:
        read_report(path)
    assert "not a readable PDF" in one_line_error(exc_info, path)


def test_directory_named_like_a_report(tmp_path):
    path = tmp_path / "folder.txt"
    path.mkdir()
    with pytest.raises(UserError) as exc_info:
        read_report(path)
    assert "cannot read" in one_line_error(exc_info, path)


@pytest.fixture
def mixed_folder(tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "a_good.txt").write_text("\n\n".join(REPORT_LINES), encoding="utf-8")
    (folder / "b_broken.docx").write_bytes(b"PK\x03\x04 not a zip")
    (folder / "c_empty.txt").write_bytes(b"")
    (folder / "d_page.html").write_text(HTML_PAGE.format(charset="utf-8"), encoding="utf-8")
    (folder / "e_notes.rtf").write_text("{\\rtf1 hello}", encoding="utf-8")
    (folder / "f_broken.pdf").write_bytes(b"%PDF-1.4 garbage")
    (folder / "g_gbk.txt").write_bytes("\n".join(REPORT_LINES).encode("gbk"))
    (folder / ".hidden.txt").write_text("隐藏文件", encoding="utf-8")
    return folder


def test_read_reports_keeps_going_past_bad_files(mixed_folder):
    results = list(read_reports(find_report_files([mixed_folder])))
    names = [path.name for path, _, _ in results]
    assert names == [
        "a_good.txt",
        "b_broken.docx",
        "c_empty.txt",
        "d_page.html",
        "e_notes.rtf",
        "f_broken.pdf",
        "g_gbk.txt",
    ]  # sorted, hidden files skipped
    by_name = {path.name: (report, error) for path, report, error in results}
    for bad in ("b_broken.docx", "e_notes.rtf", "f_broken.pdf"):
        report, error = by_name[bad]
        assert report is None and bad in error and "\n" not in error
    assert texts(by_name["a_good.txt"][0]) == REPORT_LINES
    assert texts(by_name["g_gbk.txt"][0]) == REPORT_LINES
    assert texts(by_name["d_page.html"][0]) == HTML_PARAGRAPHS
    empty_report, empty_error = by_name["c_empty.txt"]
    assert empty_error is None and empty_report.paragraphs == ()


def test_find_report_files_globs_and_missing_inputs(tmp_path, mixed_folder):
    found = find_report_files([str(mixed_folder / "*.txt"), mixed_folder / "a_good.txt"])
    assert [p.name for p in found] == ["a_good.txt", "c_empty.txt", "g_gbk.txt"]  # no duplicates
    with pytest.raises(UserError, match="no such file, folder or matching glob"):
        find_report_files([tmp_path / "nowhere" / "*.pdf"])


# --- `trainer data paragraphs` ---------------------------------------------------------------


def test_cli_paragraphs_on_the_seeds(capsys):
    assert cli.main(["data", "paragraphs", str(SEEDS)]) == 0
    out, err = capsys.readouterr()
    rows = [json.loads(line) for line in out.splitlines()]
    assert len(rows) == sum(SEED_PARAGRAPHS.values())
    assert all(set(row) == {"id", "hash", "text"} for row in rows)
    assert all(row["hash"] == text_hash(row["text"]) for row in rows)
    assert rows[0]["id"] == "000_9f0686e880e1bc07:000"
    assert "error" not in err


def test_cli_paragraphs_reports_each_bad_file_and_fails(mixed_folder, capsys):
    assert cli.main(["data", "paragraphs", str(mixed_folder)]) == 1
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    errors = [line for line in err.splitlines() if line.startswith("error: ")]
    assert len(errors) == 3
    for bad, line in zip(("b_broken.docx", "e_notes.rtf", "f_broken.pdf"), errors):
        assert bad in line
    ids = [json.loads(line)["id"] for line in out.splitlines()]
    assert sorted({i.split(":")[0] for i in ids}) == ["a_good", "d_page", "g_gbk"]
    assert len(ids) == len(REPORT_LINES) * 2 + len(HTML_PARAGRAPHS)


def test_cli_paragraphs_missing_input(tmp_path, capsys):
    assert cli.main(["data", "paragraphs", str(tmp_path / "missing.txt")]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.strip().splitlines() == [f"error: {tmp_path / 'missing.txt'}: no such file, folder or matching glob"]
