"""Numbers and dates decided per column from the whole file, never guessed cell by cell.

A column of amounts is one style: decimal point (1,200,000.50 · 1200000.50) or decimal comma
(1.200.000,50 · 1 200 000,50 · 1200000,50). `profile_cell` notes what each cell proves (a
comma followed by two digits proves a decimal comma; "1,200" proves nothing), `decide` turns a
column's evidence into a style, or ASK when the values never say (every one like "1,200") or
contradict each other — the mapping page then asks. Dates likewise: day first (05/03/2026 with
a day over 12 somewhere) or month first, asked when every such date could be either.

The parsing itself belongs to libraries: Babel's parse_decimal reads the number once the style is
known, cn2an reads Chinese numerals (一百二十万), dateparser reads dates in words (5 March 2026,
2026年3月5日), and openpyxl's from_excel turns an Excel serial number into its date.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
import unicodedata
from decimal import Decimal, InvalidOperation
from typing import Any

from django.utils.translation import gettext as _

POINT = "point"
COMMA = "comma"
DMY = "DMY"
MDY = "MDY"
ASK = "ask"

# Currency marks and units around an amount; 万 and 亿 multiply.
_CURRENCY = re.compile(
    r"^(?:[¥￥$€£]|rmb|cny|usd|eur|人民币)+|(?:元|rmb|cny|usd|eur|人民币)+$", re.IGNORECASE
)
_GROUP_SPACES = re.compile(r"[\s\u00a0\u202f'’]")
_UNITS = {"万": Decimal(10_000), "亿": Decimal(100_000_000), "千": Decimal(1_000)}
_THOUSANDS_ONLY_COMMA = re.compile(r"^\d{1,3}(,\d{3})+$")
_THOUSANDS_ONLY_POINT = re.compile(r"^\d{1,3}(\.\d{3})+$")
_CN_DIGITS = re.compile(r"^[零〇一二两三四五六七八九十百千万亿壹贰叁肆伍陆柒捌玖拾佰仟点]+$")
_NUMERIC = re.compile(r"^[+-]?[\d.,]+$")
# The plain forms of each style (1200 · 1,200,000.50 · 1.200.000,50), read without Babel: its
# strict parse, which the other forms still go through, costs more than the rest of the row.
_PLAIN = {
    POINT: re.compile(r"^(?:\d+|[1-9]\d{0,2}(?:,\d{3})+)(?:\.\d+)?$"),
    COMMA: re.compile(r"^(?:\d+|[1-9]\d{0,2}(?:\.\d{3})+)(?:,\d+)?$"),
}


def _money_text(text: str) -> tuple[str, Decimal]:
    """The amount's digits and separators, and the unit factor (万 → 10000)."""
    text = unicodedata.normalize("NFKC", text).strip()
    text = _CURRENCY.sub("", text).strip()
    factor = Decimal(1)
    if text and text[-1] in _UNITS and not _CN_DIGITS.match(text):
        factor = _UNITS[text[-1]]
        text = text[:-1].strip()
    return text, factor


def number_evidence(text: str) -> str:
    """What one cell proves about its column's style: POINT, COMMA, ASK (could be either) or ""
    (nothing: no separator, or not a number)."""
    text, _factor = _money_text(text)
    spaced = bool(_GROUP_SPACES.search(text))
    text = _GROUP_SPACES.sub("", text)
    if not _NUMERIC.match(text):
        return ""
    digits = text.lstrip("+-")
    commas, points = digits.count(","), digits.count(".")
    if commas and points:
        return COMMA if digits.rfind(",") > digits.rfind(".") else POINT
    if commas:
        if commas > 1:
            return POINT
        if _THOUSANDS_ONLY_COMMA.match(digits) and not spaced:
            return ASK
        return COMMA
    if points:
        if points > 1:
            return COMMA
        if _THOUSANDS_ONLY_POINT.match(digits):
            return COMMA if spaced else ASK
        return POINT
    return ""


def decide(evidence: set[str], *, default: str, choices: tuple[str, str]) -> str:
    """A column's style from what its cells proved: the one style proven, the default when no
    cell says anything, ASK when the cells only say "either" or contradict each other."""
    proven = evidence & set(choices)
    if len(proven) == 1:
        return proven.pop()
    if proven or ASK in evidence:
        return ASK
    return default


def parse_number(cell: Any, style: str) -> Decimal:
    """An amount as the column's style reads it; ValueError (translated) when it is not one."""
    from babel.numbers import NumberFormatError, parse_decimal

    if isinstance(cell, bool):
        raise ValueError(_("Enter an amount such as 12000 or 1.2万."))
    if isinstance(cell, int | float | Decimal):
        value = Decimal(str(cell))
    else:
        text, factor = _money_text(str(cell))
        if _CN_DIGITS.match(text):
            value = _chinese_number(text)
        else:
            text = _GROUP_SPACES.sub("", text)
            locale = "de_DE" if style == COMMA else "en_US"
            plain = _PLAIN.get(style)
            try:
                if plain is not None and plain.match(text):
                    group, decimal = (".", ",") if style == COMMA else (",", ".")
                    value = Decimal(text.replace(group, "").replace(decimal, "."))
                else:
                    value = parse_decimal(text, locale=locale, strict=True)
            except (NumberFormatError, InvalidOperation, ValueError):
                raise ValueError(
                    _("“%(value)s” is not an amount written like the rest of its column.")
                    % {"value": str(cell)[:50]}
                ) from None
        value *= factor
    if not value.is_finite():
        raise ValueError(_("Enter an amount such as 12000 or 1.2万."))
    # 3.500 (three thousand five hundred in a comma column read as a point) is 3.5, not three
    # decimals: trailing zeros after the point say nothing.
    try:
        return value.quantize(Decimal(1)) if value == value.to_integral() else value.normalize()
    except InvalidOperation:  # more digits than any amount has
        raise ValueError(_("Enter an amount such as 12000 or 1.2万.")) from None


def _chinese_number(text: str) -> Decimal:
    import cn2an

    try:
        return Decimal(str(cn2an.cn2an(text, "smart")))
    except (ValueError, KeyError, InvalidOperation):
        raise ValueError(_("Enter an amount such as 12000 or 1.2万.")) from None


# --- Dates -------------------------------------------------------------------------------------

_YMD = re.compile(r"^(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?$")
_COMPACT = re.compile(r"^(\d{4})(\d{2})(\d{2})$")
_XY_YEAR = re.compile(r"^(\d{1,2})\s*[-/.]\s*(\d{1,2})\s*[-/.]\s*(\d{4})$")
_TIME_TAIL = re.compile(r"[ T]\d{1,2}:\d{2}(:\d{2}(\.\d+)?)?([+-]\d{2}:?\d{2}|Z)?$")
# Excel serial numbers of the years people plan in (1982–2064).
_SERIAL = (30_000, 60_000)


def date_evidence(text: str) -> str:
    """What one cell proves about the file's date order: DMY, MDY, ASK or ""."""
    match = _XY_YEAR.match(_TIME_TAIL.sub("", text.strip()))
    if not match:
        return ""
    first, second = int(match.group(1)), int(match.group(2))
    if first > 12 and second <= 12:
        return DMY
    if second > 12 and first <= 12:
        return MDY
    return ASK if first != second else ""


def parse_date(cell: Any, order: str) -> dt.date:
    """A date cell as a date: a spreadsheet date, an Excel serial number, year-first forms
    (2026-03-05, 2026/3/5, 2026年3月5日, 20260305), day/month forms in the file's order, or
    words (5 March 2026) through dateparser."""
    if isinstance(cell, dt.datetime):
        return cell.date()
    if isinstance(cell, dt.date):
        return cell
    if isinstance(cell, int | float) and not isinstance(cell, bool):
        return _serial(cell)
    text = _TIME_TAIL.sub("", unicodedata.normalize("NFKC", str(cell)).strip())
    try:
        if match := _YMD.match(text) or _COMPACT.match(text):
            year, month, day = (int(part) for part in match.groups())
            return dt.date(year, month, day)
        if match := _XY_YEAR.match(text):
            first, second, year = (int(part) for part in match.groups())
            day, month = (first, second) if order != MDY else (second, first)
            return dt.date(year, month, day)
    except ValueError:
        raise ValueError(_("“%(value)s” is not a date.") % {"value": text[:50]}) from None
    if text.isdigit() and _SERIAL[0] <= int(text) <= _SERIAL[1]:
        return _serial(int(text))
    parsed = _words_date(text, order)
    if parsed is None:
        raise ValueError(_("Enter a date like 2026-03-31."))
    return parsed


def _serial(number: float) -> dt.date:
    from openpyxl.utils.datetime import from_excel

    if not _SERIAL[0] <= number <= _SERIAL[1]:
        raise ValueError(_("Enter a date like 2026-03-31."))
    moment = from_excel(number)
    return moment.date() if isinstance(moment, dt.datetime) else dt.date(1900, 1, 1)


@functools.lru_cache(maxsize=4096)
def _words_date(text: str, order: str) -> dt.date | None:
    import dateparser

    if len(text) > 40 or not re.search(r"\d", text):
        return None
    moment = dateparser.parse(
        text,
        languages=["zh", "en", "de", "fr", "es", "it", "nl"],
        settings={"DATE_ORDER": order if order in (DMY, MDY) else DMY, "STRICT_PARSING": True},
    )
    return moment.date() if moment else None


# --- The whole file ----------------------------------------------------------------------------

MAX_DISTINCT = 40
_DIGIT = re.compile(r"\d")


class Profiler:
    """Reads every row once (while the upload counts them) and keeps what the columns say:
    their number evidence, the file's date evidence, and up to MAX_DISTINCT distinct values per
    column (a column with more is no picklist)."""

    def __init__(self, width: int) -> None:
        self.width = width
        self.numbers: list[set[str]] = [set() for _i in range(width)]
        self.dates: set[str] = set()
        self.values: list[dict[str, None] | None] = [{} for _i in range(width)]

    def add(self, texts: list[str]) -> None:
        for index, text in enumerate(texts[: self.width]):
            if not text:
                continue
            seen = self.values[index]
            if seen is not None and text not in seen:
                self.values[index] = None if len(seen) >= MAX_DISTINCT else seen | {text: None}
            if len(text) > 40 or not _DIGIT.search(text):
                continue
            evidence = self.numbers[index]
            if not (POINT in evidence and COMMA in evidence) and (found := number_evidence(text)):
                evidence.add(found)
            if not (DMY in self.dates and MDY in self.dates) and (found := date_evidence(text)):
                self.dates.add(found)

    def result(self) -> dict[str, Any]:
        return {
            "numbers": {
                str(index): decide(evidence, default=POINT, choices=(POINT, COMMA))
                for index, evidence in enumerate(self.numbers)
                if evidence
            },
            "date_order": decide(self.dates, default=DMY, choices=(DMY, MDY)),
            "values": {
                str(index): list(seen)
                for index, seen in enumerate(self.values)
                if seen is not None and seen
            },
        }
