"""When two company names are the same company: the matching key (a table of Chinese and English
name pairs) and the USCC check."""

from __future__ import annotations

import pytest

from crm.models import company_name_key

SAME = [
    ("杭州靠谱科技有限公司", "杭州靠谱科技"),
    ("杭州靠谱科技有限公司", "杭州靠谱科技股份有限公司"),
    ("华东建材集团有限公司", "华东建材"),
    ("华东建材集团", "华东建材有限责任公司"),
    ("宏达机械(杭州)有限公司", "宏达机械（杭州）有限公司"),
    ("宏达机械（杭州）有限公司", "宏达机械有限公司"),
    ("宏达机械【上海】", "宏达机械"),
    ("ＡＢＣ科技有限公司", "abc科技"),
    ("Acme Ltd", "ACME Limited"),
    ("Acme Co., Ltd.", "acme"),
    ("Acme Inc.", "Acme Incorporated"),
    ("Acme (Hangzhou) Co., Ltd.", "Acme Corp"),
    ("Siemens AG", "siemens"),
    ("Bosch GmbH", "BOSCH"),
    ("Smith & Sons Ltd", "Smith and Sons"),
    ("  北方  重工 ", "北方重工有限公司"),
]

DIFFERENT = [
    ("杭州靠谱科技有限公司", "上海靠谱科技有限公司"),
    ("华东建材集团", "华东建工集团"),
    ("Acme Ltd", "Acme Labs Ltd"),
    ("Inc", "Ltd"),  # a name that is only a suffix keeps itself
    ("集团", "公司"),
]


@pytest.mark.parametrize(("one", "other"), SAME)
def test_same_company(one: str, other: str) -> None:
    assert company_name_key(one) == company_name_key(other)


@pytest.mark.parametrize(("one", "other"), DIFFERENT)
def test_different_companies(one: str, other: str) -> None:
    assert company_name_key(one) != company_name_key(other)


def test_key_never_empty() -> None:
    for name in ("有限公司", "Ltd", "()", "集团"):
        assert company_name_key(name)
