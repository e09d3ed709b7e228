"""The test kit: users from a factory; leads, hand-offs and reports built through crm.services,
so a test gets the same history rows and outbox events as real use; and `bulk_leads()`, the
one way to write many leads straight to the table for query-count tests."""

from __future__ import annotations

from typing import Any, cast

import factory
from django.utils import timezone
from factory.django import DjangoModelFactory

from crm import services
from crm.models import Lead, Report, Role, Source, User


class UserFactory(DjangoModelFactory[User]):
    class Meta:
        model = User
        django_get_or_create = ("username",)

    username = factory.Sequence(lambda n: f"user{n}")
    display_name = factory.LazyAttribute(lambda o: o.username)
    email = factory.LazyAttribute(lambda o: f"{o.username}@example.com")
    role = Role.REP
    language = "en"
    password = factory.django.Password("correct-horse-battery")


def make_user(**kwargs: object) -> User:
    """A saved user (typed, unlike calling the factory class)."""
    return cast(User, UserFactory(**kwargs))


def lead_new(
    actor: User,
    company: str = "Acme",
    *,
    to: User | None = None,
    note: str = "",
    source: str = Source.BRAND,
    value: int = 1000,
    **data: Any,
) -> Lead:
    """A lead `actor` creates with `services.lead_create` (a manager's lands in the team pool)
    and, if `to` is given, hands down to `to` with `note`; read back from the database."""
    payload = {"company": company, "source": source, "value": value} | data
    lead = services.lead_create(actor=actor, data=payload)
    if to is not None:
        services.lead_hand_off(actor=actor, lead_ids=[lead.pk], to_user=to, note=note)
    lead.refresh_from_db()
    return lead


def hand_off(actor: User, *leads: Lead, to: User, note: str = "") -> None:
    """Hand `leads` down to `to` in one `services.lead_hand_off`, then refresh them."""
    services.lead_hand_off(actor=actor, lead_ids=[lead.pk for lead in leads], to_user=to, note=note)
    for lead in leads:
        lead.refresh_from_db()


def report_sent(author: User, lead: Lead | None = None, **data: Any) -> Report:
    """A report written and sent the way the compose page does: `report_save_draft` with
    exactly `data`, then `report_submit`."""
    draft = services.report_save_draft(author=author, data=data, lead=lead)
    return services.report_submit(author=author, report=draft)


def bulk_leads(count: int, *, batch_size: int | None = None, **fields: Any) -> list[Lead]:
    """`count` leads written straight to the table in one `bulk_create`: no history rows, no
    outbox events, for tests that need volume (query counts, scale), not realism.

    Each keyword is a Lead field: either one value for every lead or a function of the lead's
    index i (0 … count-1). created_at, updated_at and stage_changed_at default to one `now`."""
    now = timezone.now()
    fields = {"created_at": now, "updated_at": now, "stage_changed_at": now} | fields

    def field_values(i: int) -> dict[str, Any]:
        return {name: v(i) if callable(v) else v for name, v in fields.items()}

    leads = [Lead(**field_values(i)) for i in range(count)]
    return Lead.objects.bulk_create(leads, batch_size=batch_size)
