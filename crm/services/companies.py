"""Companies and contacts: creating and editing them, putting a contact on a lead with their
role in the deal, and merging two records of one company.

Each service is one transaction with an audit row; a refusal raises ValidationError in the
active language and saves nothing. Who may see what comes from crm.permissions: a service only
acts on a lead, company or contact its actor may see (404 before it gets here otherwise).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any, cast

from django.core.exceptions import ValidationError
from django.core.validators import URLValidator, validate_email
from django.db import IntegrityError, connection, transaction
from django.db.models import Q, QuerySet
from django.db.models.expressions import RawSQL
from django.utils import timezone
from django.utils.translation import gettext as _
from stdnum.cn import uscc as uscc_number
from stdnum.exceptions import ValidationError as NumberError

from crm import audit
from crm.inserts import insert_many
from crm.models import Company, Contact, ContactRole, Lead, LeadContact, User, company_name_key
from crm.permissions import can_hand_off, visible_contacts, visible_leads

COMPANY_FIELDS = ("name", "uscc", "industry", "city", "address", "website", "notes")
CONTACT_FIELDS = ("name", "title", "department", "mobile", "phone", "email", "wechat", "notes")
_LIMITS = {
    "name": 200,
    "uscc": 18,
    "industry": 100,
    "city": 100,
    "address": 300,
    "website": 300,
    "title": 100,
    "department": 100,
    "mobile": 40,
    "phone": 40,
    "email": 254,
    "wechat": 60,
}


def _clean(data: Mapping[str, Any], fields: tuple[str, ...]) -> dict[str, str]:
    """Only the known fields, as trimmed text (notes keep their lines)."""
    out: dict[str, str] = {}
    for name in fields:
        if name in data:
            value = str(data[name] or "")
            out[name] = value.strip() if name == "notes" else " ".join(value.split())
    return out


def _check_lengths(values: dict[str, str], errors: dict[str, str]) -> None:
    for name, value in values.items():
        limit = _LIMITS.get(name)
        if limit and len(value) > limit:
            errors.setdefault(
                name, _("Ensure this has at most %(max)d characters.") % {"max": limit}
            )


def uscc_clean(value: str) -> str:
    """The unified social credit code in its compact form; ValidationError if it is not one."""
    if not value:
        return ""
    try:
        return str(uscc_number.validate(value))
    except NumberError:
        raise ValidationError(
            {
                "uscc": _(
                    "This is not a valid unified social credit code (18 characters, "
                    "the last one a check character)."
                )
            }
        ) from None


def _code_taken() -> str:
    return _(
        "Another company already has this unified social credit code; "
        "ask your manager to merge the two."
    )


@contextmanager
def _code_unique() -> Iterator[None]:
    """Two people saving the same code at once: the second is refused as the check above would
    refuse it, not with a server error (the database's unique constraint decides the race)."""
    try:
        with transaction.atomic():
            yield
    except IntegrityError:
        raise ValidationError({"uscc": _code_taken()}) from None


def _company_values(values: dict[str, str], *, company: Company | None) -> dict[str, str]:
    errors: dict[str, str] = {}
    if "name" in values and not values["name"]:
        errors["name"] = _("Give the company's name.")
    if "uscc" in values:
        try:
            values["uscc"] = uscc_clean(values["uscc"])
        except ValidationError as error:
            errors.update({k: " ".join(v) for k, v in error.message_dict.items()})
        else:
            taken = Company.objects.filter(uscc=values["uscc"])
            if company is not None:
                taken = taken.exclude(pk=company.pk)
            if values["uscc"] and taken.exists():
                errors["uscc"] = _code_taken()
    if values.get("website"):
        website = values["website"]
        if "://" not in website:
            website = f"https://{website}"
        try:
            URLValidator()(website)
        except ValidationError:
            errors["website"] = _("Enter a valid web address.")
        values["website"] = website
    _check_lengths(values, errors)
    if errors:
        raise ValidationError(errors)
    if "name" in values:
        values["name_key"] = company_name_key(values["name"])[:200]
    return values


def _save_changes(row: Company | Contact, values: Mapping[str, Any]) -> list[str]:
    """Set on `row` the values that differ from its own and save just those (and updated_at);
    the names changed, none when nothing did (then nothing is written)."""
    changed = [name for name, value in values.items() if getattr(row, name) != value]
    if changed:
        for name in changed:
            setattr(row, name, values[name])
        row.updated_at = timezone.now()
        row.save(update_fields=[*changed, "updated_at"])
    return changed


@transaction.atomic
def company_create(*, actor: User, data: Mapping[str, Any]) -> Company:
    """A new company; its name, code and web address checked, nothing saved on a refusal."""
    values = _company_values(_clean(data, COMPANY_FIELDS), company=None)
    if "name" not in values:
        raise ValidationError({"name": _("Give the company's name.")})
    now = timezone.now()
    with _code_unique():
        company = Company.objects.create(**values, created_by=actor, created_at=now, updated_at=now)
    audit.record(actor=actor, action="company.created", obj=company, summary=company.name)
    return company


@transaction.atomic
def company_update(*, actor: User, company: Company, data: Mapping[str, Any]) -> Company:
    """Change some of a company's fields; fields left out keep their value."""
    # The stored row, not the caller's copy (a ModelForm has already changed that one).
    company = Company.objects.select_for_update().get(pk=company.pk)
    values = _company_values(_clean(data, COMPANY_FIELDS), company=company)
    with _code_unique():
        changed = _save_changes(company, values)
    if not changed:
        return company
    audit.record(
        actor=actor,
        action="company.updated",
        obj=company,
        summary=f"{company.name}: {', '.join(n for n in changed if n != 'name_key')}",
    )
    return company


def company_for_lead(*, actor: User, lead: Lead) -> Company:
    """The lead's company record: its own, else the one whose key matches the lead's company
    name, else a new one. The lead points at it afterwards."""
    if lead.account_id is not None:
        return Company.objects.get(pk=lead.account_id)
    key = company_name_key(lead.company)[:200]
    company = Company.objects.filter(name_key=key).order_by("pk").first()
    if company is None:
        # Made from the lead's own name, already checked: no audit row of its own.
        now = timezone.now()
        company = Company.objects.create(
            name=" ".join(lead.company.split())[:200] or "?",
            name_key=key,
            created_by=actor,
            created_at=now,
            updated_at=now,
        )
    Lead.objects.filter(pk=lead.pk).update(account=company)
    lead.account = company
    return company


@transaction.atomic
def company_merge(*, actor: User, keep: Company, merge: Company) -> Company:
    """Fold `merge` into `keep`: every lead and contact of `merge` moves to `keep`, fields
    `keep` lacks are taken from `merge`, and the audit trail says who merged what. Managers
    and admins merge; both companies must be ones they see (the caller checked)."""
    if not can_hand_off(actor):
        raise ValidationError(_("Only a manager or an admin merges companies."))
    if keep.pk == merge.pk:
        raise ValidationError(_("Pick two different companies to merge."))
    # Both rows locked in one statement, in key order: two merges of the same pair in opposite
    # directions wait for each other instead of deadlocking.
    locked = {
        c.pk: c
        for c in Company.objects.select_for_update()
        .filter(pk__in=[keep.pk, merge.pk])
        .order_by("pk")
    }
    if len(locked) < 2:
        raise ValidationError(_("One of the two companies is gone: it was merged meanwhile."))
    keep, merge = locked[keep.pk], locked[merge.pk]
    leads = Lead.objects.filter(account=merge).update(account=keep)
    contacts = Contact.objects.filter(company=merge).update(company=keep)
    filled = []
    for name in ("industry", "city", "address", "website", "notes"):
        if not getattr(keep, name) and getattr(merge, name):
            setattr(keep, name, getattr(merge, name))
            filled.append(name)
    uscc = merge.uscc
    # Stored as written, in no one's language, like the other entries of the audit trail.
    summary = (
        f"{merge.name} (#{merge.pk}) merged into {keep.name} (#{keep.pk}): "
        f"{leads} leads, {contacts} contacts moved"
    )
    merge.delete()
    if not keep.uscc and uscc:
        keep.uscc = uscc
        filled.append("uscc")
    keep.updated_at = timezone.now()
    keep.save(update_fields=[*filled, "updated_at"])
    audit.record(actor=actor, action="company.merged", obj=keep, summary=summary)
    return keep


def _contact_values(values: dict[str, str]) -> dict[str, str]:
    errors: dict[str, str] = {}
    if "name" in values and not values["name"]:
        errors["name"] = _("Give the contact's name.")
    if values.get("email"):
        try:
            validate_email(values["email"])
        except ValidationError:
            errors["email"] = _("Enter a valid email address.")
    _check_lengths(values, errors)
    if errors:
        raise ValidationError(errors)
    return values


@transaction.atomic
def contact_create(*, actor: User, company: Company, data: Mapping[str, Any]) -> Contact:
    """A new contact at `company`."""
    values = _contact_values(_clean(data, CONTACT_FIELDS))
    if not values.get("name"):
        raise ValidationError({"name": _("Give the contact's name.")})
    now = timezone.now()
    contact = Contact.objects.create(
        company=company, **values, created_by=actor, created_at=now, updated_at=now
    )
    audit.record(
        actor=actor, action="contact.created", obj=contact, summary=f"{contact} @ {company}"
    )
    return contact


@transaction.atomic
def contact_update(*, actor: User, contact: Contact, data: Mapping[str, Any]) -> Contact:
    """Change some of a contact's fields; fields left out keep their value."""
    contact = Contact.objects.select_for_update().get(pk=contact.pk)
    values = _contact_values(_clean(data, CONTACT_FIELDS))
    changed = _save_changes(contact, values)
    if not changed:
        return contact
    audit.record(
        actor=actor,
        action="contact.updated",
        obj=contact,
        summary=f"{contact.name}: {', '.join(changed)}",
    )
    return contact


def _role(role: str) -> str:
    if role not in ContactRole.values:
        raise ValidationError({"role": _("Pick the contact's role in this deal.")})
    return role


@transaction.atomic
def lead_contact_add(
    *, actor: User, lead: Lead, contact: Contact, role: str = ContactRole.OTHER
) -> LeadContact:
    """Put `contact` on `lead` with their role in the deal (a second time changes the role).
    The contact must work at the lead's company; a lead without a company record takes the
    contact's."""
    role = _role(role)
    lead = visible_leads(actor).select_for_update().get(pk=lead.pk)
    if lead.account_id is None:
        lead.account_id = contact.company_id
        lead.save(update_fields=["account"])
    elif lead.account_id != contact.company_id:
        raise ValidationError({"contact": _("This contact works at another company.")})
    link, created = LeadContact.objects.get_or_create(
        lead=lead, contact=contact, defaults={"role": role}
    )
    if not created and link.role != role:
        link.role = role
        link.save(update_fields=["role"])
    audit.record(
        actor=actor,
        action="lead.contact_added" if created else "lead.contact_role",
        obj=lead,
        summary=f"{contact.name}: {link.get_role_display()}",
    )
    return link


@transaction.atomic
def lead_contact_create(
    *, actor: User, lead: Lead, data: Mapping[str, Any], role: str = ContactRole.OTHER
) -> LeadContact:
    """A new contact at the lead's company, put on the lead with their role."""
    role = _role(role)
    company = company_for_lead(actor=actor, lead=lead)
    contact = contact_create(actor=actor, company=company, data=data)
    return lead_contact_add(actor=actor, lead=lead, contact=contact, role=role)


@transaction.atomic
def lead_contact_remove(*, actor: User, link: LeadContact) -> None:
    """Take a contact off a lead; the contact stays at the company."""
    lead = visible_leads(actor).get(pk=link.lead_id)
    name = link.contact.name
    link.delete()
    audit.record(actor=actor, action="lead.contact_removed", obj=lead, summary=name)


def _reusable_contacts(actor: User, *, owner_id: int | None, team_id: int) -> QuerySet[Contact]:
    """The contacts a new lead may be linked to when it names the same person: only ones the
    actor already sees, so typing a name never hands over another rep's (or another team's)
    contact, with their mobile, WeChat and notes. An admin sees every contact; theirs are the
    ones on leads of the same owner in the same team, or that they created."""
    if not actor.is_admin_role:
        return visible_contacts(actor)
    same_hands = LeadContact.objects.filter(lead__team_id=team_id, lead__owner_id=owner_id)
    return Contact.objects.filter(Q(pk__in=same_hands.values("contact_id")) | Q(created_by=actor))


def _new_contact(
    company_id: int, name: str, phone: str, email: str, *, actor: User, now: dt.datetime
) -> Contact:
    """The contact a lead names, made by the lead (unsaved): named by the name, else the phone,
    else the email, each cut to its column."""
    return Contact(
        company_id=company_id,
        name=(name or phone or email)[:100],
        phone=phone[:40],
        email=email[:254],
        created_by=actor,
        created_at=now,
        updated_at=now,
    )


def lead_people_link(*, actor: User, lead: Lead) -> LeadContact | None:
    """Give a new lead its company record and, when it names one, its contact (role "other"),
    matched as the migration matched the existing leads: the company by its name's key, the
    contact by name, phone and email at that company."""
    company = company_for_lead(actor=actor, lead=lead)
    name = " ".join(lead.contact_name.split())
    phone, email = lead.phone.strip(), lead.email.strip()
    if not (name or phone or email):
        return None
    contact = (
        _reusable_contacts(actor, owner_id=lead.owner_id, team_id=lead.team_id)
        .filter(company=company, name=name or phone or email, phone=phone, email__iexact=email)
        .order_by("pk")
        .first()
    )
    if contact is None:
        contact = _new_contact(company.pk, name, phone, email, actor=actor, now=timezone.now())
        contact.save(force_insert=True)
    link, _created = LeadContact.objects.get_or_create(lead=lead, contact=contact)
    return link


def _person_key(name: str, phone: str, email: str) -> tuple[str, str, str]:
    return (" ".join(name.split()), phone.strip(), email.strip().casefold())


def leads_people_link(*, actor: User, leads: Sequence[Lead]) -> None:
    """lead_people_link for a batch of saved leads, in a few queries whatever the batch's size:
    leads_company_set, the leads' new account saved, then leads_contacts_link."""
    if not leads:
        return
    leads_company_set(actor=actor, leads=leads)
    Lead.objects.bulk_update(leads, ["account"], batch_size=1000)
    leads_contacts_link(actor=actor, leads=leads)


def _name_keys(keys: set[str]) -> set[str] | RawSQL:
    """Company name keys to look up, as the right side of `name_key__in`. On PostgreSQL one
    array, unnested: over a list of 1,000 literals the planner chose the trigram index
    (company_name_key_trgm), whose entries for names sharing their characters (an import's
    华东客户…号) grow with every batch — 2 s a lookup at 100,000 such companies, against 2 ms
    through the B-tree that the unnested array is joined on."""
    if connection.vendor != "postgresql":
        return keys
    return RawSQL("SELECT unnest(%s::varchar[])", (sorted(keys),))


def leads_company_set(*, actor: User, leads: Sequence[Lead]) -> None:
    """Each lead's company record (`account`), found by its name's key or made when missing,
    set on the lead objects but not saved: an import sets it before the leads' one insert."""
    if not leads:
        return
    now = timezone.now()
    keys = [company_name_key(lead.company)[:200] for lead in leads]
    companies = dict(
        Company.objects.filter(name_key__in=_name_keys(set(keys)))
        .order_by("-pk")
        .values_list("name_key", "pk")
    )  # the oldest wins: ordered newest first, later rows overwrite
    missing: dict[str, Lead] = {}
    for key, lead in zip(keys, leads, strict=True):  # the batch's first spelling names it
        if key not in companies:
            missing.setdefault(key, lead)
    made = insert_many(
        [
            Company(
                name=" ".join(lead.company.split())[:200] or "?",
                name_key=key,
                created_by=actor,
                created_at=now,
                updated_at=now,
            )
            for key, lead in missing.items()
        ]
    )
    companies |= {company.name_key: company.pk for company in made}
    for key, lead in zip(keys, leads, strict=True):
        lead.account_id = companies[key]


def leads_contacts_link(*, actor: User, leads: Sequence[Lead]) -> None:
    """The contacts of a batch of saved leads with their company set (leads_company_set): found
    by name, phone and email at their company (made when missing), each on its lead."""
    if not leads:
        return
    now = timezone.now()
    wanted = {
        lead.pk: (
            cast(int, lead.account_id),
            *_person_key(lead.contact_name, lead.phone, lead.email),
        )
        for lead in leads
        if lead.contact_name.strip() or lead.phone.strip() or lead.email.strip()
    }
    if not wanted:
        return
    known: dict[tuple[Any, ...], int] = {}
    first = leads[0]  # an import's leads share their team and owner
    rows = _reusable_contacts(actor, owner_id=first.owner_id, team_id=first.team_id).filter(
        company_id__in={key[0] for key in wanted.values()}
    )
    for pk, company_id, name, phone, email in rows.values_list(
        "pk", "company_id", "name", "phone", "email"
    ):
        known.setdefault((company_id, *_person_key(name, phone, email)), pk)
        known.setdefault((company_id, *_person_key("", phone, email)), pk)
    new = {key for key in wanted.values() if key not in known}
    for contact in insert_many([_new_contact(*key, actor=actor, now=now) for key in new]):
        known[(contact.company_id, *_person_key(contact.name, contact.phone, contact.email))] = (
            contact.pk
        )
        known.setdefault(
            (contact.company_id, *_person_key("", contact.phone, contact.email)), contact.pk
        )
    LeadContact.objects.bulk_create(
        [LeadContact(lead_id=pk, contact_id=known[key]) for pk, key in wanted.items()],
        ignore_conflicts=True,
    )
