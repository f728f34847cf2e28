"""Bytes of a report to text: byte order marks, UTF-8, GB18030 or Big5, an HTML page's declared charset.

Chinese reports come as UTF-8, GB18030/GBK/GB2312 (mainland), Big5 (Taiwan, Hong Kong, Macau) and, from
Windows "Unicode" saves, UTF-16 or UTF-32 with a byte order mark. GB18030 and Big5 share their byte ranges:
almost any Big5 text also decodes as GB18030 (into mojibake) and much short GB text decodes as Big5. When
both decode, the reading whose characters are the common ones of written Chinese wins (each reading is
converted to simplified first, so traditional text is not penalised); a close call, or a text too short to
be sure of, is logged as a warning.
charset-normalizer, tried on the same choice, leaves short texts undecided or picks wrongly
(experiments/README.md), so it is only the last resort for bytes that neither codec reads.
"""

from __future__ import annotations

import codecs
import logging
import math
import re
from collections import Counter
from functools import lru_cache

from trainer.errors import UserError
from trainer.textnorm import model_text

log = logging.getLogger(__name__)

# Longest marks first: the UTF-32-LE mark starts with the UTF-16-LE one.
BOMS: tuple[tuple[bytes, str], ...] = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
GB = ("gb18030",)  # GB2312 and GBK are subsets: decoding as the superset loses nothing
BIG5 = ("cp950", "big5hkscs")  # Windows Big5 (Taiwan) first, then Hong Kong's supplementary set
_GB_NAMES = {"gb2312", "gbk", "gb18030"}
_BIG5_NAMES = {"big5", "cp950", "big5hkscs"}

# How many characters of each reading are scored, which count as common, and from which lead in the share of
# common characters and how many characters outside ASCII a choice counts as sure.
PLAUSIBILITY_SAMPLE_CHARS = 4000
COMMON_CHARACTERS = 2000
SURE_MARGIN = 0.2
SURE_CHARS = 6
# Punctuation and full-width forms common in Chinese text of either script.
_COMMON_PUNCTUATION = set("，。、；：？！“”‘’（）《》〈〉【】「」『』—…·％") | {chr(c) for c in range(0xFF01, 0xFF5F)}
_DECLARED_CHARSET = re.compile(rb"<meta[^>]*?charset\s*=\s*[\"']?\s*([A-Za-z0-9_.:-]+)", re.IGNORECASE)
_LATIN_LETTER = re.compile("[A-Za-z]")
_HAN = re.compile(r"[\u3400-\u9fff\uf900-\ufaff\U00020000-\U0003134f]")
_XML_DECLARATION = re.compile(r"\A\s*<\?xml[^>]*\?>")


def _decode_first(data: bytes, encodings: tuple[str, ...]) -> str | None:
    for encoding in encodings:
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    return None


def _refuse_binary(sample: str | bytes, name: str) -> None:
    if ("\x00" if isinstance(sample, str) else b"\x00") in sample[:8192]:
        raise UserError(f"{name}: looks like a binary file, not text; pass a .txt/.html/.docx/.pdf report")


def _decode_bom(data: bytes, name: str) -> str | None:
    """The text of a file that starts with a byte order mark, None without one."""
    for bom, encoding in BOMS:
        if data.startswith(bom):
            try:
                text = data.decode(encoding)
            except UnicodeDecodeError as exc:
                raise UserError(
                    f"{name}: starts with a {exc.encoding.upper()} byte order mark but is not valid "
                    f"{exc.encoding.upper()} (byte {exc.start}); re-save it as UTF-8"
                ) from None
            _refuse_binary(text, name)
            return text.removeprefix("\ufeff")
    return None


@lru_cache(maxsize=1)
def _character_counts() -> tuple[dict[str, float], frozenset[str]]:
    """Log frequency of each simplified character and the most common ones, from jieba's word counts."""
    import jieba

    counts: Counter[str] = Counter()
    with jieba.get_dict_file() as lines:
        for line in lines:
            word, count = line.decode("utf-8").split()[:2]
            for char in word:
                counts[char] += int(count)
    top = frozenset(c for c, _ in counts.most_common(COMMON_CHARACTERS))
    return {c: math.log1p(n) for c, n in counts.items()}, top


def plausibility(text: str) -> tuple[float, float, int]:
    """How much `text` reads like Chinese: (share of common characters, mean log frequency, characters scored).

    Only non-ASCII characters count (ASCII reads the same in every candidate); the text is scored as
    simplified so that Big5 (traditional) and GB (simplified) readings compete on equal terms.
    """
    log_counts, common = _character_counts()
    chars = [c for c in model_text(text[:PLAUSIBILITY_SAMPLE_CHARS]) if not c.isascii() and not c.isspace()]
    if not chars:
        return 0.0, 0.0, 0
    top_log = max(log_counts.values())
    share = sum(c in common or c in _COMMON_PUNCTUATION for c in chars) / len(chars)
    mean_log = sum(top_log if c in _COMMON_PUNCTUATION else log_counts.get(c, 0.0) for c in chars) / len(chars)
    return share, mean_log, len(chars)


def _most_plausible(readings: list[tuple[str, str]], name: str) -> str:
    """The reading (encoding, text) that reads most like Chinese; ties go to the earlier, more common encoding.

    An alternative without a single Chinese character is no contest. A close call, or a text too short to
    tell (fewer than SURE_CHARS characters outside ASCII), is logged as a warning naming both readings.
    """
    scored = [(encoding, text, plausibility(text)) for encoding, text in readings]
    scored = scored[:1] + [r for r in scored[1:] if _HAN.search(r[1])]
    best = max(scored, key=lambda r: r[2][:2])  # max keeps the first of equals
    others = [r for r in scored if r is not best]
    if others and best[2][0] > 0:  # nothing reads like Chinese: not a close call between Chinese readings
        runner_up = max(others, key=lambda r: r[2][:2])
        if best[2][0] - runner_up[2][0] < SURE_MARGIN or best[2][2] < SURE_CHARS:
            log.warning(
                "%s: guessed %s over %s (%.0f%% vs %.0f%% common characters in %d%s); "
                "check the text or re-save it as UTF-8",
                name, best[0], runner_up[0], 100 * best[2][0], 100 * runner_up[2][0], best[2][2],
                ", too short to be sure" if best[2][2] < SURE_CHARS else "",
            )  # fmt: skip
    return best[1]


def decode_text(data: bytes, name: str) -> str:
    """Decode a text report: byte order mark, else UTF-8, else GB18030 or Big5, else the detected encoding."""
    text = _decode_bom(data, name)
    if text is not None:
        return text
    _refuse_binary(data, name)
    utf8 = _decode_first(data, ("utf-8",))
    if utf8 is not None and (utf8.isascii() or _HAN.search(utf8) or _LATIN_LETTER.search(utf8)):
        return utf8
    # Valid UTF-8 with neither a Chinese character nor a Latin letter (just "ˮƽ", say) can be a few GB or
    # Big5 bytes: a short Chinese text is valid UTF-8 surprisingly often. The detector takes
    # short Chinese texts for Korean (cp949, johab) or UTF-16 and would return mojibake: the two
    # Chinese families are read first, and it is only asked when neither reads.
    readings = [("UTF-8", utf8)] if utf8 is not None else []
    for label, encodings in (("GB18030", GB), ("Big5", BIG5)):
        reading = _decode_first(data, encodings)
        if reading is not None:
            readings.append((label, reading))
    if readings:
        return _most_plausible(readings, name)
    from charset_normalizer import from_bytes

    best = from_bytes(data).best()
    if best is None:
        raise UserError(f"{name}: cannot decode the text (not UTF-8, GB18030/GBK or Big5); re-save it as UTF-8")
    return str(best)


def _declared_encodings(data: bytes) -> tuple[str, ...]:
    """The codecs for a page's <meta charset> when it names GB or Big5 (what settles the choice between
    them), widened to their supersets; () otherwise: other declarations are left to detection."""
    match = _DECLARED_CHARSET.search(data[:4096])
    if not match:
        return ()
    try:
        declared = codecs.lookup(match.group(1).decode("ascii")).name
    except (LookupError, UnicodeDecodeError):
        return ()
    if declared in _GB_NAMES:
        return GB
    if declared in _BIG5_NAMES:
        return BIG5
    return ()


def decode_html(data: bytes, name: str) -> str:
    """Decode an HTML page: byte order mark, UTF-8, a declared GB or Big5 charset that fits, else as `decode_text`.

    The text goes to the HTML parser as str, so a declaration inside it cannot make the parser decode again.
    """
    text = _decode_bom(data, name)
    if text is None:
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            declared = _declared_encodings(data)
            text = _decode_first(data, declared) if declared else None
            if text is None:
                text = decode_text(data, name)
    return _XML_DECLARATION.sub("", text, count=1)
