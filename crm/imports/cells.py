"""Cells to field values: every mapped cell of a row read into a field value by that field's
own check (money and dates in the file's decided style, yes/no, picklists and choices in English
or Chinese, text within its field's length), two columns feeding one field joined, and a
picklist value matched to nothing kept in the notes. `convert_row` is the row's whole reading;
nothing is looked up in the database here. The row is then checked in crm.imports.checking.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.utils import translation
from django.utils.text import capfirst
from django.utils.translation import gettext as _

from crm.imports import values
from crm.imports.mapping import _norm, field_label
from crm.imports.reading import _text
from crm.models import ChickenRibReason, Currency, ImportJob, Lead, Source

TRUE_WORDS = {"1", "y", "yes", "true", "x", "是", "对", "√", "✓"}
FALSE_WORDS = {"0", "n", "no", "false", "否", "不是", ""}
# A text cell longer than its field holds is that row's error; notes (a text field with no limit
# of its own) stop where the lead form's would.
NOTES_MAX = 10_000

# Picklist values of other CRMs' exports and Chinese spreadsheets, as the source they mean.
SOURCE_SYNONYMS: dict[str, str] = {
    "inbound": "brand",
    "direct traffic": "brand",
    "walk-in": "brand",
    "phone inquiry": "brand",
    "来电咨询": "brand",
    "客户来电": "brand",
    "主动咨询": "brand",
    "展会": "trade_show",
    "trade show": "trade_show",
    "tradeshow": "trade_show",
    "exhibition": "trade_show",
    "messe": "trade_show",
    "官网": "website",
    "web": "website",
    "website": "website",
    "web site": "website",
    "organic search": "website",
    "seo": "website",
    "web form": "website",
    "网站": "website",
    "官方网站": "website",
    "百度搜索": "website",
    "advertisement": "marketing",
    "paid search": "marketing",
    "paid social": "marketing",
    "social media": "marketing",
    "email marketing": "marketing",
    "seminar - internal": "marketing",
    "webinar": "marketing",
    "campaign": "marketing",
    "广告": "marketing",
    "市场活动": "marketing",
    "线上推广": "marketing",
    "cold call": "prospecting",
    "outbound": "prospecting",
    "电话陌拜": "prospecting",
    "电话营销": "prospecting",
    "陌拜": "cold_visit",
    "陌生拜访": "cold_visit",
    "上门拜访": "cold_visit",
    "扫街": "cold_visit",
    "转介绍": "referral",
    "referral": "referral",
    "employee referral": "referral",
    "external referral": "referral",
    "partner": "referral",
    "seminar - partner": "referral",
    "partner referral": "referral",
    "referrals": "referral",
    "search engine": "website",
    "newsletter": "marketing",
    "facebook": "marketing",
    "linkedin": "marketing",
    "合作伙伴": "referral",
    "老客户介绍": "referral",
    "客户介绍": "referral",
}
PICKLISTS = ("source", "currency")


def _choice_lookup(choices: Sequence[tuple[str, Any]], extra: Mapping[str, str]) -> dict[str, str]:
    lookup = {_norm(value): value for value, _label in choices}
    for language in ("en", "zh-hans"):
        with translation.override(language):
            lookup.update({_norm(str(label)): value for value, label in choices})
    lookup.update({_norm(key): value for key, value in extra.items()})
    return lookup


@dataclass
class Lookups:
    source: dict[str, str]
    currency: dict[str, str]
    reason: dict[str, str]
    # The file's decisions: the amount column's number style and the dates' order.
    number_style: str = values.POINT
    date_order: str = values.DMY
    # A picklist column's own values → the value chosen on the preview ("" = other).
    chosen: dict[str, dict[str, str]] = field(default_factory=dict)

    @classmethod
    def build(cls, job: ImportJob | None = None) -> Lookups:
        lookups = cls(
            source=_choice_lookup(Source.choices, SOURCE_SYNONYMS),
            currency=_choice_lookup(
                Currency.choices,
                {
                    "¥": "CNY",
                    "￥": "CNY",
                    "rmb": "CNY",
                    "人民币": "CNY",
                    "元": "CNY",
                    "$": "USD",
                    "美元": "USD",
                    "€": "EUR",
                    "欧元": "EUR",
                },
            ),
            reason=_choice_lookup(ChickenRibReason.choices, {}),
        )
        if job is not None:
            decisions = file_decisions(job)
            lookups.number_style = decisions["number_style"]
            lookups.date_order = decisions["date_order"]
            lookups.chosen = {
                name: {_norm(k): v for k, v in chosen.items()}
                for name, chosen in job.answers.get("values", {}).items()
            }
        return lookups

    def propose(self, name: str, text: str) -> str:
        """The value a picklist cell most likely means: exact (a value or label in either
        language), a known synonym, or a very close spelling; "" when none (other)."""
        from rapidfuzz import fuzz, process

        lookup: dict[str, str] = getattr(self, name)
        key = _norm(text)
        if key in lookup:
            return lookup[key]
        found = process.extractOne(key, list(lookup), scorer=fuzz.ratio, score_cutoff=88)
        return lookup[found[0]] if found else ""


def file_decisions(job: ImportJob) -> dict[str, str]:
    """The amount column's number style and the file's date order: the user's answer on the
    preview where the file left it open, else what the whole file showed."""
    profile, answers = job.profile or {}, job.answers or {}
    value_column = next((c for c, name in job.mapping.items() if name == "value"), None)
    style = values.POINT
    if value_column is not None:
        style = answers.get("numbers", {}).get(value_column) or profile.get("numbers", {}).get(
            value_column, values.POINT
        )
    order = answers.get("date_order") or profile.get("date_order", values.DMY)
    return {"number_style": style, "date_order": order}


def _parse_bool(cell: Any) -> bool:
    if isinstance(cell, bool):
        return cell
    word = _norm(_text(cell))
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise ValueError(_("Enter yes or no."))


def _parse_choice(cell: Any, lookup: Mapping[str, str]) -> str:
    value = lookup.get(_norm(_text(cell)))
    if value is None:
        raise ValueError(_("Unknown value “%(value)s”.") % {"value": _text(cell)[:50]})
    return value


def _parse_picklist(name: str, cell: Any, lookups: Lookups) -> str:
    """A picklist cell as the value chosen for it on the preview, else as proposed; "" is
    other (the caller keeps the original)."""
    text = _text(cell)
    chosen = lookups.chosen.get(name, {})
    key = _norm(text)
    value = chosen[key] if key in chosen else lookups.propose(name, text)
    if not value and name == "currency":
        raise ValueError(_("Unknown currency “%(value)s”.") % {"value": text[:50]})
    return value


def _parse_reasons(cell: Any, lookup: Mapping[str, str]) -> list[str]:
    parts = [p for p in re.split(r"[,;、，；/|\n]+", _text(cell)) if p.strip()]
    return [_parse_choice(part, lookup) for part in parts]


def _date(cell: Any, lookups: Lookups) -> dt.date:
    return values.parse_date(cell, lookups.date_order)


# One check per field that is more than text: the cell in, the field's value out, or ValueError
# with the message the user sees. Any other field keeps the cell's text.
FIELD_CHECKS: dict[str, Callable[[Any, Lookups], Any]] = {
    "value": lambda cell, lookups: values.parse_number(cell, lookups.number_style),
    "expected_close": _date,
    "tender_date": _date,
    "next_step_due": _date,
    "is_chicken_rib": lambda cell, _lookups: _parse_bool(cell),
    "source": lambda cell, lookups: _parse_picklist("source", cell, lookups),
    "currency": lambda cell, lookups: _parse_picklist("currency", cell, lookups),
    "chicken_rib_reasons": lambda cell, lookups: _parse_reasons(cell, lookups.reason),
}


def _max_length(name: str) -> int:
    return getattr(Lead._meta.get_field(name), "max_length", None) or NOTES_MAX


def _check_text(name: str, cell: Any) -> str:
    text = _text(cell)
    if text[:1] == "'" and text[1:2] in ("=", "+", "-", "@"):
        text = text[1:]  # our own CSV export's guard against formulas, taken off again
    limit = _max_length(name)
    if len(text) > limit:
        raise ValueError(
            _("Longer than %(limit)s characters (it has %(count)s); shorten it.")
            % {"limit": f"{limit:,}", "count": f"{len(text):,}"}
        )
    return text


def _join(name: str, first: str, second: str) -> str:
    """Two columns feeding one field: a first and last name (姓 and 名 without a space), or
    two note columns on their own lines."""
    if name == "notes":
        return f"{first}\n{second}"
    both_chinese = _CJK.search(first[-1:]) and _CJK.search(second[:1])
    return f"{first}{second}" if both_chinese else f"{first} {second}"


_CJK = re.compile(r"[\u4e00-\u9fff]")


def convert_row(
    cells: Sequence[Any], mapping: Mapping[int, str], lookups: Lookups
) -> tuple[dict[str, Any], dict[str, str]]:
    """The row's non-empty mapped cells as field values, and the cells that could not be read
    (field → message). A picklist value mapped to "other" leaves the field to the import's
    default and keeps the original in the notes."""
    data: dict[str, Any] = {}
    errors: dict[str, str] = {}
    others: list[str] = []
    for index, name in mapping.items():
        cell = cells[index] if index < len(cells) else None
        if cell is None or (isinstance(cell, str) and not cell.strip()):
            continue
        try:
            if name in FIELD_CHECKS:
                value = FIELD_CHECKS[name](cell, lookups)
            else:
                value = _check_text(name, cell)
                if name in data:
                    value = _check_text(name, _join(name, data[name], value))
        except ValueError as error:
            errors[name] = str(error)
            continue
        if name in PICKLISTS and not value:
            others.append(
                _("%(field)s in the file: %(value)s")
                % {"field": capfirst(field_label(name)), "value": _text(cell)[:100]}
            )
            continue
        data[name] = value
    if others:
        notes = "\n".join([data.get("notes", ""), *others]).strip()
        data["notes"] = notes[:NOTES_MAX]
    if data.get("chicken_rib_reasons") and "is_chicken_rib" not in data:
        data["is_chicken_rib"] = True
    return data, errors
