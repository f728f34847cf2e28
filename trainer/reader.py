"""Read raw reports (.txt, .html, .docx, .pdf; UTF-8/16/32, GB18030 or Big5) into clean paragraphs.

Every format is reduced to plain text with one line per source paragraph and
then handed to the project's one paragraph splitter (`trainer.paragraphs`):
bytes are decoded by `trainer.decoding`, table rows become sentences
(`trainer.tables`) and PDF page numbers and running headers/footers are
dropped (`trainer.pages`).
Problems with a file raise `UserError` with a one-line reason, so a batch can
report the file and carry on with the others.
"""

from __future__ import annotations

import glob
import hashlib
import io
import logging
import re
import zipfile
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from trainer.decoding import decode_html, decode_text
from trainer.errors import UserError
from trainer.pages import strip_page_furniture
from trainer.paragraphs import split_paragraphs
from trainer.tables import table_paragraphs

log = logging.getLogger(__name__)

SUPPORTED_SUFFIXES = (".txt", ".html", ".htm", ".docx", ".pdf")
MAX_REPORT_BYTES = 16 * 1024 * 1024
# A paragraph longer than this (a file of one huge line, say) is cut at sentence ends.
MAX_PARAGRAPH_CHARS = 3000


@dataclass(frozen=True)
class Paragraph:
    """One paragraph of a report; its id is stable as long as the report and the splitter are."""

    report_id: str
    index: int
    text: str

    @property
    def id(self) -> str:
        return f"{self.report_id}:{self.index:03d}"

    @property
    def hash(self) -> str:
        return text_hash(self.text)


@dataclass(frozen=True)
class Report:
    path: Path
    report_id: str
    sha256: str
    paragraphs: tuple[Paragraph, ...]


def text_hash(text: str) -> str:
    """Short content hash of a paragraph, used to notice when the reader's output changes."""
    return hashlib.sha1(text.encode("utf-8")).hexdigest()[:12]


def _html_tables_as_rows(body) -> None:
    """Replace each <table> of trafilatura's XML by one <p> per row (`trainer.tables`), in place."""
    from lxml import etree

    for table in reversed(list(body.iter("table"))):  # inner tables first
        rows = [list(row.iterchildren("cell")) for row in table.iterchildren("row")]
        header = bool(rows and rows[0]) and all(cell.get("role") == "head" for cell in rows[0])
        texts = [[" ".join(cell.itertext()) for cell in row] for row in rows]
        parent, tail = table.getparent(), table.tail
        position = parent.index(table)
        parent.remove(table)
        added = []
        for offset, text in enumerate(table_paragraphs(texts, header)):
            paragraph = etree.Element("p")
            paragraph.text = text
            parent.insert(position + offset, paragraph)
            added.append(paragraph)
        if tail and tail.strip():
            if added:
                added[-1].tail = tail
            elif position:
                parent[position - 1].tail = (parent[position - 1].tail or "") + tail
            else:
                parent.text = (parent.text or "") + tail


def _text_from_html(data: bytes, name: str) -> str:
    import trafilatura
    from trafilatura.settings import use_config
    from trafilatura.utils import normalize_unicode
    from trafilatura.xml import xmltotxt

    # Below MIN_EXTRACTED_SIZE (250 chars by default) trafilatura swaps a short article for its
    # baseline, which flattens the page, headings and meta lines included, onto one line.
    config = use_config()
    config.set("DEFAULT", "MIN_EXTRACTED_SIZE", "1")
    document = trafilatura.bare_extraction(decode_html(data, name), include_comments=False, include_tables=True,
                                           favor_recall=True, config=config)  # fmt: skip
    if document is None or document.body is None:
        raise UserError(f"{name}: no main text found in the HTML page")
    # trafilatura writes tables as "| cell | cell |" lines: each row becomes a sentence instead
    _html_tables_as_rows(document.body)
    text = normalize_unicode(xmltotxt(document.body, False))
    if not text.strip():
        raise UserError(f"{name}: no main text found in the HTML page")
    return text


def _docx_header_row(table) -> bool:
    """Whether the table's first row is marked as its header ("repeat as header row" in Word)."""
    from docx.oxml.ns import qn

    if not table.rows:
        return False
    marks = table.rows[0]._tr.xpath("./w:trPr/w:tblHeader")
    return bool(marks) and marks[0].get(qn("w:val"), "true") not in ("0", "false")


def _docx_rows(table) -> list[list[str]]:
    """Cell texts per row; a merged cell (which python-docx repeats for each grid column) counts once."""
    rows = []
    for row in table.rows:
        cells = []
        for cell in row.cells:
            if not cells or cell._tc is not cells[-1]._tc:
                cells.append(cell)
        rows.append([cell.text for cell in cells])
    return rows


def _text_from_docx(data: bytes, name: str) -> str:
    import docx
    from docx.table import Table
    from lxml.etree import XMLSyntaxError

    try:
        document = docx.Document(io.BytesIO(data))
        blocks = list(document.iter_inner_content())
    # damaged zip data surfaces as zlib.error, an unknown zip compression as NotImplementedError
    except (zipfile.BadZipFile, KeyError, ValueError, XMLSyntaxError, zlib.error, EOFError, NotImplementedError) as exc:
        raise UserError(f"{name}: not a valid .docx file ({exc.__class__.__name__}); re-save it from Word") from None
    lines = []
    for block in blocks:  # paragraphs and tables in document order
        if isinstance(block, Table):
            lines.extend(table_paragraphs(_docx_rows(block), _docx_header_row(block)))
        else:
            lines.append(block.text)
    # Word paragraphs are real paragraphs: a blank line between them stops line joining.
    return "\n\n".join(lines)


def _text_from_pdf(data: bytes, name: str) -> str:
    from pypdf import PdfReader
    from pypdf.errors import PyPdfError

    try:
        reader = PdfReader(io.BytesIO(data))
        pages = [(page.extract_text() or "").strip("\n").split("\n") for page in reader.pages]
    except (PyPdfError, ValueError, KeyError, TypeError, zlib.error, NotImplementedError) as exc:
        raise UserError(f"{name}: not a readable PDF ({exc}); check the file or convert it to .docx/.txt") from None
    # no blank line between pages: a paragraph running over a page break is joined again
    return "\n".join(line for page in strip_page_furniture(pages) for line in page)


def _read_bytes(path: Path) -> bytes:
    """The file's bytes, refusing unsupported types and oversized files before reading."""
    name = str(path)
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        raise UserError(f"{name}: unsupported file type '{suffix}' (supported: {' '.join(SUPPORTED_SUFFIXES)})")
    try:
        size = path.stat().st_size
        if size > MAX_REPORT_BYTES:
            raise UserError(
                f"{name}: {size / 2**20:.1f} MB is larger than the {MAX_REPORT_BYTES // 2**20} MB limit "
                "for one report; split the file"
            )
        return path.read_bytes()
    except OSError as exc:
        raise UserError(f"{name}: cannot read the file ({exc.strerror})") from None


def extract_text(path: Path, data: bytes | None = None) -> str:
    """Plain text of one report file, whatever its format."""
    name = str(path)
    suffix = path.suffix.lower()
    data = _read_bytes(path) if data is None else data
    if not data.strip():
        return ""
    if suffix == ".txt":
        return decode_text(data, name)
    if suffix in (".html", ".htm"):
        return _text_from_html(data, name)
    if suffix == ".docx":
        return _text_from_docx(data, name)
    return _text_from_pdf(data, name)


def _cut_long(text: str) -> list[str]:
    """Cut an over-long paragraph at sentence ends into pieces of at most MAX_PARAGRAPH_CHARS."""
    if len(text) <= MAX_PARAGRAPH_CHARS:
        return [text]
    pieces, current = [], ""
    for sentence in re.findall(r"[^。！？!?]*[。！？!?]?", text):
        while len(sentence) > MAX_PARAGRAPH_CHARS:
            pieces.append(current + sentence[: MAX_PARAGRAPH_CHARS - len(current)])
            sentence = sentence[MAX_PARAGRAPH_CHARS - len(current) :]
            current = ""
        if len(current) + len(sentence) > MAX_PARAGRAPH_CHARS:
            pieces.append(current)
            current = ""
        current += sentence
    if current:
        pieces.append(current)
    return [p for p in pieces if p.strip()]


def paragraphs_from_text(text: str, report_id: str) -> tuple[Paragraph, ...]:
    chunks = [piece for p in split_paragraphs(text) for piece in _cut_long(p)]
    return tuple(Paragraph(report_id, i, chunk) for i, chunk in enumerate(chunks))


def file_bytes(path: str | Path) -> bytes:
    """A report file's bytes (unsupported types and oversized files refused before reading)."""
    return _read_bytes(Path(path))


def read_report(path: str | Path, raw: bytes | None = None) -> Report:
    """Read one report into paragraphs (from its bytes when already read); an empty file gives no paragraphs."""
    path = Path(path)
    raw = _read_bytes(path) if raw is None else raw
    text = extract_text(path, raw)
    if not text.strip():
        log.warning("%s: empty file, no paragraphs", path)
    return Report(path, path.stem, hashlib.sha256(raw).hexdigest(), paragraphs_from_text(text, path.stem))


def find_report_files(inputs: Iterable[str | Path]) -> list[Path]:
    """Expand files, folders (recursively) and glob patterns into report files, in a stable order."""
    found: list[Path] = []
    for item in inputs:
        item = str(item)
        path = Path(item)
        if path.is_dir():
            found.extend(p for p in sorted(path.rglob("*")) if p.is_file() and not p.name.startswith("."))
        elif path.exists():
            found.append(path)
        else:
            matches = sorted(glob.glob(item, recursive=True))
            if not matches:
                raise UserError(f"{item}: no such file, folder or matching glob")
            found.extend(Path(m) for m in matches if Path(m).is_file())
    unique: dict[Path, None] = {}
    for path in found:
        unique.setdefault(path, None)
    return list(unique)


def read_reports(paths: Iterable[Path]) -> Iterator[tuple[Path, Report | None, str | None]]:
    """Read many reports; a bad file yields its error text and the others still get read."""
    for path in paths:
        try:
            yield path, read_report(path), None
        except UserError as exc:
            yield path, None, str(exc)
