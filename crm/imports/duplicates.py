"""Duplicates' keys: what makes two leads the same within a team (phone, email, the same
contact person at the same company, or the company name, but not a second contact person at a
company), as small digests, and the keys of the team's leads read once before the file is
checked. What a matching row then does (update, merge, skip) is decided in
crm.imports.checking.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from typing import Any

from crm.imports.mapping import _norm
from crm.models import Lead, Team

# (what matched, a digest of it): 100,000 rows have 400,000 keys, so the dicts hold 8-byte
# digests (blake2b; a collision is a 1 in 2^64 chance), not the normalised text.
Key = tuple[str, bytes]


def _digest(kind: str, value: str) -> bytes:
    return hashlib.blake2b(f"{kind}\x1f{value}".encode(), digest_size=8).digest()


def _person(data: Mapping[str, Any]) -> str:
    return _norm(str(data.get("contact_name") or ""))


def _keys(data: Mapping[str, Any]) -> list[Key]:
    """What makes two leads the same within a team: phone, email, the same contact person at
    the same company, or the company name (see _other_person: not when the contact persons
    differ, as a second contact at a company is not a duplicate)."""
    keys = []
    digits = re.sub(r"\D", "", str(data.get("phone") or ""))
    if len(digits) >= 5:
        keys.append(("phone", _digest("phone", digits)))
    email = _norm(str(data.get("email") or ""))
    if email:
        keys.append(("email", _digest("email", email)))
    company = _norm(str(data.get("company") or ""))
    person = _person(data)
    if company and person:
        keys.append(("contact_name", _digest("contact_name", f"{company}\x1f{person}")))
    if company:
        keys.append(("company", _digest("company", company)))
    return keys


def _other_person(key: Key, person: str, theirs: str) -> bool:
    """True when `key` matched on the company alone and both rows name different people: the
    second contact at a company (as every CRM's export has them) is a new lead there, not a
    duplicate."""
    return key[0] == "company" and bool(person) and bool(theirs) and person != theirs


def _person_id(person: str) -> int:
    """A contact person as a signed 64-bit digest (0 for none), as the file's rows keep them."""
    if not person:
        return 0
    return int.from_bytes(_digest("person", person), signed=True) or 1


def _same_person_or_none(key: Key, person_id: int, theirs: int) -> bool:
    """_other_person's opposite, on the digests of the persons (see _person_id)."""
    return not (key[0] == "company" and person_id and theirs and person_id != theirs)


def _existing_keys(team: Team) -> dict[bytes, tuple[int, str, str]]:
    """Every duplicate key's digest of the team's leads → (lead id, company, contact person)."""
    existing: dict[bytes, tuple[int, str, str]] = {}
    for pk, phone, email, company, contact in Lead.objects.filter(team=team).values_list(
        "pk", "phone", "email", "company", "contact_name"
    ):
        data = {"phone": phone, "email": email, "company": company, "contact_name": contact}
        for _kind, digest in _keys(data):
            existing.setdefault(digest, (pk, company, _person(data)))
    return existing
