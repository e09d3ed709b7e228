"""Two workers at once (a second beat started by mistake, a retried task): the database's
unique keys and guarded claims keep every nudge, email and event single. PostgreSQL only:
SQLite serialises writers, so it cannot show a race."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pytest
import time_machine
from django.db import connection

from coaching import services
from coaching.models import Nudge, OutboundEmail
from crm.models import DomainEvent
from tests.coaching.helpers import at, new_lead

if TYPE_CHECKING:
    from tests.conftest import Company

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        connection.vendor != "postgresql", reason="needs PostgreSQL to run two writers at once"
    ),
]


def _at_once(work: Callable[[], Any], workers: int = 2) -> list[Any]:
    """Run `work` in `workers` threads released together; each closes its own connection."""
    barrier = threading.Barrier(workers)
    results: list[Any] = [None] * workers
    errors: list[BaseException] = []

    def run(index: int) -> None:
        from django.db import connection as thread_connection

        try:
            barrier.wait(timeout=10)
            results[index] = work()
        except BaseException as error:
            errors.append(error)
        finally:
            thread_connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(t.is_alive() for t in threads), "a worker hung"
    assert not errors, errors
    return results


def _snapshot() -> tuple[Counter[str], int, int]:
    keys = Counter(Nudge.objects.values_list("key", flat=True))
    emails = Counter(OutboundEmail.objects.exclude(nudge=None).values_list("nudge_id", flat=True))
    return keys, len(keys), max(emails.values(), default=0)


def _busy_company(company: Company) -> None:
    """Enough going on that every kind of scan has something to say."""
    for n in range(5):
        new_lead(company.manager_a, f"Race Lead {n}", to=company.rep_a1, value=2_000_000)
    new_lead(company.manager_a, "Race Deadline", to=company.rep_a2, tender_date=at(20).date())


def test_two_scans_at_once_make_each_nudge_once(
    company: Company, clock: time_machine.Traveller
) -> None:
    _busy_company(company)
    clock.move_to(at(days=15))

    _at_once(services.run_scans)
    keys, together, most_emails = _snapshot()
    assert together > 10
    assert max(keys.values()) == 1
    assert most_emails <= 1
    pushed = Nudge.objects.filter(delivery="push").count()

    OutboundEmail.objects.all().delete()
    Nudge.objects.all().delete()
    services.run_scans()
    _keys, alone, _emails = _snapshot()
    assert together == alone
    assert Nudge.objects.filter(delivery="push").count() == pushed


def test_two_event_workers_at_once_handle_each_event_once(company: Company) -> None:
    _busy_company(company)
    # Events no rule listens to are closed in one update and not counted as handled.
    pending = DomainEvent.objects.filter(
        processed_at=None, name__in=services.HANDLED_EVENTS
    ).count()
    assert pending > 5

    handled = _at_once(services.process_pending_events)
    assert sum(handled) == pending
    assert not DomainEvent.objects.filter(processed_at=None).exists()
    assert not DomainEvent.objects.exclude(attempts=0).exists()  # no worker tripped on another
    handoffs = Counter(
        Nudge.objects.filter(rule_id="handoff_first_plan").values_list("lead_id", flat=True)
    )
    handed_down = DomainEvent.objects.filter(name="lead_handed_down").count()
    assert len(handoffs) == handed_down
    assert set(handoffs.values()) == {1}
    _keys, _count, most_emails = _snapshot()
    assert most_emails <= 1
