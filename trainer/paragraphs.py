"""Text normalisation, web-chrome removal and paragraph splitting.

This is the one paragraph splitter of the project: the reader, gold-label
checks, training and tagging all go through `split_paragraphs`, so a paragraph
id means the same thing everywhere.
"""

from __future__ import annotations

import re

from trainer.textnorm import model_text

# Full-width ASCII letters/digits/symbols (U+FF01..U+FF5E) become half-width,
# but Chinese punctuation keeps its form and meaning: ，。！？：；（）“”《》 stay.
_KEEP_FULLWIDTH = set("！，：；？（）")
_FULL_TO_HALF = {cp: cp - 0xFEE0 for cp in range(0xFF01, 0xFF5F) if chr(cp) not in _KEEP_FULLWIDTH}
_FULL_TO_HALF.update({0x3000: 0x20, 0x00A0: 0x20, 0x200B: None, 0xFEFF: None, 0x200C: None, 0x200D: None})

# A line ending in one of these closes a sentence: it is never joined to the next.
_SENTENCE_END = tuple("。！？!?；;：:…”’」』）)")
# A line at least this long that does not end a sentence was hard-wrapped
# (headings are shorter than this in real reports). PDFs wrap at the page
# width, often shorter: there the limit follows the document's own long lines.
_WRAP_MIN_CHARS = 40
_WRAP_WIDTH_SHARE = 0.8

# Web chrome: lines that belong to the page around a report, not the report.
# Each rule is a regular expression matched against a whole stripped line.
CHROME_LINE_PATTERNS: tuple[str, ...] = (
    r"(您|你)?(现在|当前)?(所在)?的?位置[:：>\s].*",  # breadcrumbs
    r"当前位置.*",
    r".*(信息来源|信息提供日期|发布日期|发布时间|来源)[:：].{0,80}",  # article meta lines
    r".*【\s*字体.*",
    r".*(字号|字体)[:：]\s*[大中小].*",
    r".*视力保护色.*",
    r"触碰右侧展开",
    r"今天是.{0,30}",
    r"无障碍(浏览)?",
    r".*(手机)?扫一扫.{0,30}",
    r"扫码下载.{0,40}",
    r".*扫一下",
    r".*二维码.{0,40}(分享|朋友圈|关注|下载).*",
    r".*分享(到|至)[:：]?.{0,20}",
    r".*(微信|微博|QQ空间)(分享|好友).*",
    r".*(版权所有|All Rights Reserved|Copyright|©).*",
    r".*(ICP备|网站标识码|公网安备).*",
    r"[\d\-\s]{7,}\s*欢迎批评指正",
    r"(打印(本页|此页)?|关闭(窗口|本页)?|返回顶部|【?(打印|关闭)】?)(\s*(打印(本页|此页)?|关闭(窗口|本页)?|返回顶部|【?(打印|关闭)】?))*",
    r"(上一篇|下一篇)[:：].*",
    r"(责任编辑|编辑|审核|校对)[:：].{0,20}",
    r"(相关链接|相关阅读|热点推荐)[:：]?",
)
_CHROME_RE = re.compile("|".join(f"(?:{p})" for p in CHROME_LINE_PATTERNS), re.IGNORECASE)
# Breadcrumbs sit under the site's header: lines above one, near the top, are header too.
_BREADCRUMB_RE = re.compile(r"(您|你)?(现在|当前)?(所在)?的?位置[:：>\s]|当前位置")
_BREADCRUMB_SCAN_LINES = 8


def normalise(text: str) -> str:
    """Unify newlines, full-width alphanumerics and odd spaces; keep Chinese punctuation."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").translate(_FULL_TO_HALF)
    return re.sub(r"[ \t\f\v]+", " ", text)


def is_chrome(line: str) -> bool:
    """True when a stripped line is web chrome (navigation, meta data, share prompts), in either script:
    the patterns are simplified, and 繁體 mirrors write the same chrome in traditional characters."""
    return bool(_CHROME_RE.fullmatch(model_text(line)))


def _drop_header(lines: list[str]) -> list[str]:
    for i, line in enumerate(lines[:_BREADCRUMB_SCAN_LINES]):
        if _BREADCRUMB_RE.match(model_text(line)):
            return lines[i:]
    return lines


def _blocks(lines: list[str]) -> list[list[str]]:
    """Group consecutive non-empty lines; a blank line ends a block."""
    blocks: list[list[str]] = [[]]
    for line in lines:
        if line:
            blocks[-1].append(line)
        elif blocks[-1]:
            blocks.append([])
    return [b for b in blocks if b]


def _wrap_limit(lines: list[str]) -> int:
    """Length from which a line counts as running to the right margin."""
    lengths = sorted(len(line) for line in lines if line)
    if not lengths:
        return _WRAP_MIN_CHARS
    typical_full_line = lengths[int(0.9 * (len(lengths) - 1))]
    return max(8, min(_WRAP_MIN_CHARS, int(_WRAP_WIDTH_SHARE * typical_full_line)))


def _join_wrapped(block: list[str], limit: int) -> list[str]:
    """Within a block, join a long line that stops mid-sentence to the next line."""
    out: list[str] = []
    for line in block:
        prev = out[-1] if out else ""
        if prev and len(prev) >= limit and not prev.endswith(_SENTENCE_END):
            out[-1] = prev + line
        else:
            out.append(line)
    return out


def split_paragraphs(text: str) -> list[str]:
    """Turn raw report text into clean paragraphs: headings stay paragraphs of their own."""
    lines = [line.strip() for line in normalise(text).split("\n")]
    lines = _drop_header(lines)
    lines = ["" if is_chrome(line) else line for line in lines]
    limit = _wrap_limit(lines)
    paragraphs: list[str] = []
    for block in _blocks(lines):
        paragraphs.extend(_join_wrapped(block, limit))
    return [p for p in paragraphs if re.search(r"\w", p)]


# A title or section heading: short and closing no sentence (聚焦法律服务业高质量发展), or numbered
# (一、… / (二)… / 3.…) and at most twice as long.
_HEADING_MAX_CHARS = 40
_SENTENCE_STOP = re.compile(r"[。！？!?；;]")
_NUMBERED = re.compile(r"(第?[一二三四五六七八九十]+[、是章节部分]|[(（][一二三四五六七八九十\d]+[)）]|\d+[.、．])")


def looks_like_heading(paragraph: str) -> bool:
    """True for a short paragraph with no sentence stop: a report title or a section heading, not body text."""
    text = paragraph.strip()
    limit = 2 * _HEADING_MAX_CHARS if _NUMBERED.match(text) else _HEADING_MAX_CHARS
    return 0 < len(text) <= limit and not _SENTENCE_STOP.search(text) and not text.endswith("…")
