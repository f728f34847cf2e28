"""How well the reader tells Big5 from GB18030, and how well `model_text` undoes traditional characters.

Snippets of n characters are cut from the gold paragraphs (fixed seed) and encoded three times: as GB18030
(the simplified text), as Big5 (Taiwan: converted with OpenCC s2tw, encoded cp950) and as Big5-HKSCS (Hong
Kong: OpenCC s2hk, big5hkscs). Each is
decoded by `trainer.decoding.decode_text` and by charset-normalizer (restricted to the two codecs, and
unrestricted); a decoding is right when it gives back the exact text. `warned` counts files the reader
flagged as a close call (a logged warning); "wrong without a warning" is silent mojibake. The second table converts every gold paragraph to traditional (OpenCC s2t,
s2hk, s2tw) and counts paragraphs whose `model_text` differs from the original simplified text.

    .venv/bin/python experiments/encoding_detection.py
"""

from __future__ import annotations

import logging
import random

import opencc
from charset_normalizer import from_bytes

from trainer.decoding import decode_text
from trainer.labels import DEFAULT_GOLD, load_gold
from trainer.taxonomy import load_taxonomy
from trainer.textnorm import model_text

LENGTHS = (2, 3, 4, 8, 16, 0)  # 0: the whole paragraph
SNIPPETS = 400


class _Count(logging.Handler):
    def __init__(self):
        super().__init__(logging.WARNING)
        self.n = 0

    def emit(self, record):
        self.n += 1


def _detector(data: bytes, **kwargs) -> str | None:
    best = from_bytes(data, **kwargs).best()
    return str(best) if best is not None else None


def main() -> None:
    texts = load_gold(DEFAULT_GOLD, load_taxonomy()).texts
    variants = {"Big5": (opencc.OpenCC("s2tw"), "cp950"), "Big5-HKSCS": (opencc.OpenCC("s2hk"), "big5hkscs")}
    counter = _Count()
    logging.getLogger("trainer.decoding").addHandler(counter)
    rng = random.Random(0)
    print("| snippet | encoding | files | reader right | reader warned | reader wrong without a warning "
          "| charset-normalizer (GB/Big5 only) right | charset-normalizer right |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|")
    for n in LENGTHS:
        cases: dict[str, list[tuple[str, bytes]]] = {"GB18030": [], "Big5": [], "Big5-HKSCS": []}
        while len(cases["GB18030"]) < SNIPPETS:
            text = rng.choice(texts)
            if n:
                if len(text) < n:
                    continue
                start = rng.randrange(len(text) - n + 1)
                text = text[start : start + n]
            if text.isascii():
                continue  # reads the same in every encoding
            cases["GB18030"].append((text, text.encode("gb18030")))
            for name, (converter, codec) in variants.items():
                traditional = converter.convert(text)
                try:
                    cases[name].append((traditional, traditional.encode(codec)))
                except UnicodeEncodeError:
                    pass
        for name, pairs in cases.items():
            reader = warned = silent_wrong = 0
            for text, data in pairs:
                before = counter.n
                right = decode_text(data, "snippet") == text
                flagged = counter.n > before
                reader, warned, silent_wrong = (
                    reader + right,
                    warned + flagged,
                    silent_wrong + (not right and not flagged),
                )
            isolated = sum(_detector(data, cp_isolation=["gb18030", "big5"]) == text for text, data in pairs)
            free = sum(_detector(data) == text for text, data in pairs)
            size = f"{n} chars" if n else "whole paragraph"
            print(f"| {size} | {name} | {len(pairs)} | {reader / len(pairs):.1%} | {warned / len(pairs):.1%} "
                  f"| {silent_wrong} | {isolated / len(pairs):.1%} | {free / len(pairs):.1%} |")  # fmt: skip
    print()
    print("| traditional by | gold paragraphs | model_text differs from the simplified original |")
    print("|---|---|---|")
    for config in ("s2t", "s2hk", "s2tw"):
        converter = opencc.OpenCC(config)
        differ = sum(model_text(converter.convert(t)) != t for t in texts)
        print(f"| OpenCC {config} | {len(texts)} | {differ} |")


if __name__ == "__main__":
    main()
