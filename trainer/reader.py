"""Read raw reports (.txt, .html, .docx, .pdf; UTF-8 or GB18030) into clean paragraphs.

Every format is reduced to plain text with one line per source paragraph and
then handed to the project's one paragraph splitter (`trainer.paragraphs`).
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

from trainer.errors import UserError
from trainer.paragraphs import split_paragraphs

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


def decode_bytes(data: bytes, name: str) -> str:
    """Decode text bytes: UTF-8 (with or without BOM), then GB18030, else the detected encoding."""
    if b"\x00" in data[:8192]:
        raise UserError(f"{name}: looks like a binary file, not text; pass a .txt/.html/.docx/.pdf report")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    # Reports that are not UTF-8 are GB18030, GBK or GB2312 (both subsets of GB18030: decoding
    # as the superset loses nothing). Try it before guessing: the detector takes short Chinese
    # texts for Korean (cp949, johab) or UTF-16 and would return mojibake.
    try:
        return data.decode("gb18030")
    except UnicodeDecodeError:
        pass
    from charset_normalizer import from_bytes

    best = from_bytes(data).best()
    if best is None:
        raise UserError(f"{name}: cannot decode the text (not UTF-8 or GB18030/GBK); re-save it as UTF-8")
    return str(best)


def _text_from_html(data: bytes, name: str) -> str:
    import trafilatura
    from trafilatura.settings import use_config

    # Below MIN_EXTRACTED_SIZE (250 chars by default) trafilatura swaps a short article for its
    # baseline, which flattens the page, headings and meta lines included, onto one line.
    config = use_config()
    config.set("DEFAULT", "MIN_EXTRACTED_SIZE", "1")
    text = trafilatura.extract(data, include_comments=False, include_tables=True, favor_recall=True, config=config)
    if not text:
        raise UserError(f"{name}: no main text found in the HTML page")
    return text


def _text_from_docx(data: bytes, name: str) -> str:
    import docx
    from lxml.etree import XMLSyntaxError

    try:
        document = docx.Document(io.BytesIO(data))
    # damaged zip data surfaces as zlib.error, an unknown zip compression as NotImplementedError
    except (zipfile.BadZipFile, KeyError, ValueError, XMLSyntaxError, zlib.error, EOFError, NotImplementedError) as exc:
        raise UserError(f"{name}: not a valid .docx file ({exc.__class__.__name__}); re-save it from Word") from None
    lines = [p.text for p in document.paragraphs]
    for table in document.tables:
        for row in table.rows:
            lines.append(" ".join(cell.text for cell in row.cells))
    # Word paragraphs are real paragraphs: a blank line between them stops line joining.
    return "\n\n".join(lines)


def _text_from_pdf(data: bytes, name: str) -> str:
    from pypdf import PdfReader
    from pypdf.errors import PyPdfError

    try:
        reader = PdfReader(io.BytesIO(data))
        # no blank line between pages: a paragraph running over a page break is joined again
        return "\n".join((page.extract_text() or "").strip("\n") for page in reader.pages)
    except (PyPdfError, ValueError, KeyError, TypeError, zlib.error, NotImplementedError) as exc:
        raise UserError(f"{name}: not a readable PDF ({exc}); check the file or convert it to .docx/.txt") from None


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
        return decode_bytes(data, name)
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
