"""The form of a paragraph that every model sees: traditional characters read as simplified.

Reports from Taiwan, Hong Kong and Macau, and the 繁體 mirrors of mainland sites, write
traditional characters; the base model, the TF-IDF vocabulary and the taxonomy keywords are
simplified, so a traditional paragraph would score as a different text. Training
(`LabelledSet.model_texts`), tagging, serving and Spark (`pyfunc.Bundle.scores`) and tagging
evidence all pass texts through `model_text`; outputs keep the original text.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache

# OpenCC's character-and-phrase conversion from traditional (any region) to simplified. Simplified text
# passes unchanged (of the 4000 labelled paragraphs only a quoted "繁體版" changes); "tw2s" would also turn
# the simplified 显著 into 显着, so it is not used.
OPENCC_CONFIG = "t2s"
# Taiwan and Hong Kong quote with corner brackets, the mainland texts the models learnt from with curly quotes
# (207 “ in the gold paragraphs, no 「): OpenCC leaves punctuation alone.
_QUOTES = str.maketrans("「」『』", "“”‘’")


@lru_cache(maxsize=1)
def _converter():
    import opencc

    return opencc.OpenCC(OPENCC_CONFIG)


def model_text(text: str) -> str:
    """`text` as the models read it: traditional characters as simplified, corner-bracket quotes as curly ones.

    Usually character for character, which lets tagging show evidence found in this reading in the
    original script (it checks that the lengths agree).
    """
    return _converter().convert(text).translate(_QUOTES) if text else text


def model_texts(texts: Iterable[str]) -> list[str]:
    return [model_text(t) for t in texts]
