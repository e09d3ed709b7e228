"""Mapping a file's columns to lead fields: the fields a file may fill, the header names people
use for each (English and Chinese), the mapping suggested for a new upload (the user's last
mapping where the header names match, otherwise a guess from the names), and the check of the
mapping the user chose.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Mapping, Sequence

from django.utils import translation
from django.utils.translation import gettext as _

from crm import services
from crm.models import ImportJob, ImportState, Lead, User

IMPORTABLE_FIELDS: tuple[str, ...] = services.EDITABLE_FIELDS

# Header names people use for each field, besides the field's own name and labels: the columns
# of Salesforce, HubSpot, Pipedrive, Zoho, Odoo and 纷享销客 exports (their documented export
# columns, vendor prefixes such as "Deal - " removed), and the Chinese headers of hand-made
# spreadsheets.
ALIASES: dict[str, tuple[str, ...]] = {
    "company": (
        "company name",
        "company / account",
        "customer",
        "customer name",
        "account",
        "account name",
        "organization",
        "organization name",
        "organization - name",
        "associated company",
        "firma",
        "société",
        "empresa",
        "公司",
        "公司名称",
        "客户",
        "客户名称",
        "单位",
        "单位名称",
        "企业名称",
        "客户公司",
    ),
    "contact_name": (
        "contact",
        "name",
        "full name",
        "contact person",
        "person",
        "person name",
        "first name",
        "last name",
        "ansprechpartner",
        "联系人",
        "姓名",
        "联系人姓名",
        "客户联系人",
        "姓",
        "名",
    ),
    "phone": (
        "mobile",
        "mobile phone",
        "mobile phone number",
        "phone number",
        "phone - work",
        "phone - mobile",
        "business phone",
        "tel",
        "telephone",
        "telefon",
        "téléphone",
        "电话",
        "手机",
        "手机号",
        "手机号码",
        "联系电话",
        "电话号码",
        "联系方式",
    ),
    "email": (
        "e-mail",
        "mail",
        "email address",
        "email - work",
        "邮箱",
        "电子邮件",
        "电子邮箱",
        "邮件",
        "邮箱地址",
    ),
    "source": (
        "lead source",
        "original source",
        "source origin",
        "deal source",
        "来源",
        "线索来源",
        "客户来源",
        "渠道",
    ),
    "value": (
        "amount",
        "deal value",
        "value",
        "expected revenue",
        "opportunity amount",
        "betrag",
        "montant",
        "金额",
        "预计金额",
        "商机金额",
        "价值",
        "预算",
    ),
    "currency": ("currency of value", "deal currency", "währung", "devise", "币种", "货币"),
    "expected_close": (
        "close date",
        "closing date",
        "expected close date",
        "expected closing",
        "预计成交日期",
        "成交日期",
        "预计签约日期",
        "abschlussdatum",
        "date de clôture",
        "fecha de cierre",
    ),
    "tender_date": ("招标日期", "投标日期"),
    "competitor": ("competitors", "竞争对手", "竞品"),
    "next_step": ("下一步", "下一步计划"),
    "next_step_due": ("下一步日期", "下一步截止"),
    "is_chicken_rib": ("chicken rib", "鸡肋", "鸡肋线索"),
    "chicken_rib_reasons": ("鸡肋原因",),
    "notes": (
        "note",
        "notes",
        "remarks",
        "comment",
        "comments",
        "description",
        "internal notes",
        "bemerkung",
        "notiz",
        "remarques",
        "备注",
        "说明",
        "描述",
    ),
}

# Fields two columns may feed, joined in column order (First Name + Last Name, 姓 + 名, two
# note columns).
JOINABLE: frozenset[str] = frozenset({"contact_name", "notes"})
# Vendor prefixes in export headers: Pipedrive's "Deal - Value", "Person - Name"…
_VENDOR_PREFIX = re.compile(r"^(deal|person|organization|lead|contact|account|opportunity)\s*-\s*")
# How close a header must be to a known name (rapidfuzz ratio, 0–100) to be guessed.
FUZZY_CUTOFF = 90


def _norm(text: str) -> str:
    """Text compared loosely: full-width folded, spaces collapsed, case ignored."""
    return re.sub(r"\s+", " ", unicodedata.normalize("NFKC", text)).strip().casefold()


def field_label(name: str) -> str:
    return str(getattr(Lead._meta.get_field(name), "verbose_name", name))


def _header_names() -> dict[str, str]:
    names: dict[str, str] = {}
    for name in IMPORTABLE_FIELDS:
        names[_norm(name)] = name
        names[_norm(name.replace("_", " "))] = name
        for language in ("en", "zh-hans"):
            with translation.override(language):
                names[_norm(field_label(name))] = name
        for alias in ALIASES.get(name, ()):
            names[_norm(alias)] = name
    return names


def _remembered(user: User) -> dict[str, str]:
    """Header name → field, from the user's last configured import."""
    last = (
        ImportJob.objects.filter(created_by=user)
        .exclude(state=ImportState.UPLOADED)
        .exclude(mapping={})
        .order_by("-created_at", "-id")
        .values_list("header", "mapping")
        .first()
    )
    remembered: dict[str, str] = {}
    if last is not None:
        old_header, old_mapping = last
        for index, name in enumerate(old_header):
            if old_mapping.get(str(index)) in IMPORTABLE_FIELDS:
                remembered[_norm(name)] = old_mapping[str(index)]
    return remembered


def _guess(name: str, guesses: Mapping[str, str]) -> str | None:
    """The field a header names: exactly (its name, label or a known export column, with or
    without a vendor prefix), else the closest known name when it is very close (a typo, a
    plural, "E-Mail-Adresse")."""
    from rapidfuzz import fuzz, process

    key = _norm(name)
    for candidate in (key, _VENDOR_PREFIX.sub("", key)):
        if candidate in guesses:
            return guesses[candidate]
    found = process.extractOne(
        _VENDOR_PREFIX.sub("", key), list(guesses), scorer=fuzz.ratio, score_cutoff=FUZZY_CUTOFF
    )
    return guesses[found[0]] if found else None


def header_key(header: Sequence[str]) -> str:
    """The same set of header names, whatever their order: what picklist choices are
    remembered by."""
    names = "\x1f".join(sorted(_norm(name) for name in header))
    return hashlib.sha1(names.encode(), usedforsecurity=False).hexdigest()


def suggested_mapping(*, user: User, header: Sequence[str]) -> dict[str, str]:
    """Column index → field: the user's last mapping where the header names match, otherwise a
    guess from the header's name (English, Chinese, or a CRM export's column). Two columns feed
    one field only where that joins (first and last name)."""
    remembered = _remembered(user)
    guesses = _header_names()
    mapping: dict[str, str] = {}
    used: set[str] = set()
    for index, name in enumerate(header):
        choice = remembered.get(_norm(name)) or _guess(name, guesses)
        if choice and (choice not in used or choice in JOINABLE):
            mapping[str(index)] = choice
            used.add(choice)
    return mapping


def mapping_clean(
    *, header: Sequence[str], mapping: Mapping[str, str], errors: dict[str, str]
) -> dict[str, str]:
    """The chosen mapping without its empty choices (column index → field). A problem is noted
    in `errors` under "mapping": an unknown field or column, a field chosen twice, or no
    company column."""
    clean: dict[str, str] = {}
    seen: dict[str, str] = {}
    for column, name in mapping.items():
        if not name:
            continue
        if name not in IMPORTABLE_FIELDS or not column.isdigit():
            errors["mapping"] = _("Unknown lead field.")
            continue
        if int(column) >= len(header):
            errors["mapping"] = _("Unknown column.")
            continue
        if name in seen and name not in JOINABLE:
            errors["mapping"] = _("“%(field)s” is chosen for two columns: %(a)s and %(b)s.") % {
                "field": field_label(name),
                "a": seen[name],
                "b": header[int(column)],
            }
        seen[name] = header[int(column)]
        clean[column] = name
    if "company" not in clean.values() and "mapping" not in errors:
        errors["mapping"] = _("Choose the column that holds the company name.")
    return clean
