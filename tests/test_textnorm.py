"""Models read traditional characters as simplified: one function, and it leaves simplified text alone."""

from __future__ import annotations

import opencc
import pytest

from trainer.labels import DEFAULT_EXAMPLES, DEFAULT_GOLD, load_examples, load_gold
from trainer.taxonomy import load_taxonomy
from trainer.textnorm import model_text, model_texts

TAXONOMY = load_taxonomy()


@pytest.mark.parametrize(
    ("traditional", "simplified"),
    [
        ("全區各級人民調解組織共排查矛盾糾紛一千二百餘次。", "全区各级人民调解组织共排查矛盾纠纷一千二百余次。"),
        ("發揮人民調解「第一道防線」作用", "发挥人民调解“第一道防线”作用"),  # Taiwan/Hong Kong quotes too
        ("澳門特別行政區法律援助", "澳门特别行政区法律援助"),
        ("著作權法", "著作权法"),  # 著 stays where simplified keeps it
    ],
)
def test_traditional_reads_as_simplified(traditional, simplified):
    assert model_text(traditional) == simplified


def test_labelled_paragraphs_read_as_written():
    """Simplified text passes unchanged, so training on the labels is what it was before the conversion."""
    gold = load_gold(DEFAULT_GOLD, TAXONOMY)
    assert gold.model_texts == gold.texts
    examples = load_examples(DEFAULT_EXAMPLES, TAXONOMY)
    changed = [t for t, m in zip(examples.texts, examples.model_texts) if t != m]
    assert changed == ["无障碍浏览 | 长者模式 | 繁體版"]  # a quoted traditional link label


@pytest.mark.parametrize("config", ["s2t", "s2hk"])
def test_gold_in_traditional_reads_exactly_as_the_gold(config):
    """The team measured micro-F1 0.863 -> 0.524 on the gold paragraphs converted to traditional: the
    models now get back the very texts they were scored on."""
    texts = load_gold(DEFAULT_GOLD, TAXONOMY).texts
    converter = opencc.OpenCC(config)
    traditional = [converter.convert(t) for t in texts]
    assert sum(a != b for a, b in zip(traditional, texts)) > 100  # the conversion did change them
    assert model_texts(traditional) == texts


def test_labelled_set_keeps_the_original_texts():
    gold = load_gold(DEFAULT_GOLD, TAXONOMY).subset([0, 1])
    gold.texts[0] = "全區各級人民調解組織"
    assert gold.model_texts[0] == "全区各级人民调解组织"
    assert gold.texts[0] == "全區各級人民調解組織"
