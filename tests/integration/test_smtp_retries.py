"""SMTP failures against a real SMTP server, in this process, with the production settings
(backoff, 48-hour retry period, SMTP timeout) and travelled time: temporary refusals are retried
until they go through, permanent ones fail at once, a failed row is shown to the admin (who
sends it again in one click) and to the person; a bad row or a hung server blocks no other row.
Each test prints the figure it measured."""

from __future__ import annotations

import datetime as dt
import os
import time

import pytest
import time_machine
from django.db.models import Min
from django.test import Client
from django.utils import timezone

from coaching import delivery
from coaching.models import EmailState, OutboundEmail
from crm.models import User
from tests.integration.harness import hung_server
from tests.integration.test_delivery_faults import _queue_emails

pytestmark = pytest.mark.django_db


def _mailers(port: int) -> dict[str, object]:
    # EMAIL_TIMEOUT as production has it (10 s unless the environment says otherwise).
    timeout = int(os.environ.get("EMAIL_TIMEOUT", "10"))
    return {
        "default": {
            "BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "OPTIONS": {"host": "127.0.0.1", "port": port, "timeout": timeout},
        }
    }


@pytest.fixture
def real_smtp(settings, mailbox):
    box, port = mailbox
    settings.MAILERS = _mailers(port)
    return box


def _deliver_until_quiet(max_rounds: int = 500) -> tuple[int, dt.timedelta]:
    """Deliver, then travel to the next row's retry time and deliver again, until no row is
    waiting; returns the rounds and the time travelled."""
    start = now = timezone.now()
    rounds = 0
    while rounds < max_rounds:
        with time_machine.travel(now, tick=False):
            delivery.deliver_due(limit=100_000)
        rounds += 1
        waiting = OutboundEmail.objects.filter(state=EmailState.PENDING).aggregate(
            Min("not_before")
        )
        if waiting["not_before__min"] is None:
            break
        now = max(now, waiting["not_before__min"]) + dt.timedelta(seconds=1)
    return rounds, now - start


def test_smtp_fails_three_times_then_recovers_one_email(real_smtp):
    real_smtp.refuse_next = 3
    (email,) = _queue_emails(1)
    _deliver_until_quiet()
    email.refresh_from_db()
    assert real_smtp.refused == 3
    assert real_smtp.message_ids() == [email.message_id]
    assert real_smtp.keys() == [email.nudge.key]  # the idempotency header: the nudge's key
    assert email.state == EmailState.SENT
    assert email.attempts == 4


def test_backoff_waits_longer_after_each_failure(real_smtp):
    real_smtp.refuse_next = 2
    (email,) = _queue_emails(1)
    delivery.deliver_due()
    email.refresh_from_db()
    first_wait = email.not_before - timezone.now()
    assert email.state == EmailState.PENDING
    assert dt.timedelta(seconds=25) < first_wait <= dt.timedelta(seconds=30)
    # Not due yet: a run now sends nothing and does not count an attempt.
    assert delivery.deliver_due() == {"sent": 0, "retry": 0, "failed": 0}
    with time_machine.travel(email.not_before + dt.timedelta(seconds=1), tick=False):
        delivery.deliver_due()
        email.refresh_from_db()
        assert email.not_before - timezone.now() > dt.timedelta(seconds=55)
    assert real_smtp.count == 0
    assert delivery.backoff_seconds(30) == 3600  # capped at an hour between tries


def test_flaky_smtp_30_percent_of_500_emails_none_lost(real_smtp):
    real_smtp.refuse_rate = 0.3
    emails = _queue_emails(500)
    rounds, travelled = _deliver_until_quiet()
    ids = real_smtp.message_ids()
    most = max(OutboundEmail.objects.values_list("attempts", flat=True))
    print(
        f"\nflaky SMTP (30% refused with 451), 500 emails: {real_smtp.refused} refusals, "
        f"{len(set(ids))} delivered, {len(ids) - len(set(ids))} twice, 0 lost; the unluckiest "
        f"took {most} tries; all out after {travelled.total_seconds() / 60:.0f} min of "
        f"retry time in {rounds} rounds"
    )
    assert set(ids) == {e.message_id for e in emails}
    assert len(ids) == 500
    assert OutboundEmail.objects.exclude(state=EmailState.SENT).count() == 0
    assert real_smtp.refused > 100


def test_refused_for_two_days_then_failed_the_admin_resends_in_one_click(real_smtp, company):
    real_smtp.refuse_next = 100_000
    (email,) = _queue_emails(1)
    _rounds, travelled = _deliver_until_quiet()
    email.refresh_from_db()
    print(
        f"\n451 for ever: {email.attempts} tries over {travelled.total_seconds() / 3600:.1f} h, "
        f"then failed"
    )
    assert email.state == EmailState.FAILED
    assert dt.timedelta(hours=47) < travelled < dt.timedelta(hours=49)
    assert "451" in email.last_error
    assert real_smtp.count == 0
    # Nothing more is tried once it has failed.
    delivery.deliver_due()
    email.refresh_from_db()
    assert email.state == EmailState.FAILED
    admin = Client()
    admin.force_login(company.admin)
    page = admin.get("/admin/coaching/outboundemail/?state__exact=failed")
    assert "451" in page.content.decode()
    # One click: the "send again" action on the failed row.
    real_smtp.refuse_next = 0
    answer = admin.post(
        "/admin/coaching/outboundemail/",
        {"action": "send_again", "_selected_action": [email.pk]},
        follow=True,
    )
    assert "1 failed email will be sent again" in answer.content.decode()
    delivery.deliver_due()
    email.refresh_from_db()
    assert email.state == EmailState.SENT
    assert real_smtp.message_ids() == [email.message_id]


def test_unknown_mailbox_fails_at_once_and_the_person_is_told(real_smtp):
    real_smtp.refuse_next = 1
    real_smtp.refuse_reply = "550 5.1.1 No such mailbox"
    (email,) = _queue_emails(1)
    assert delivery.deliver_due() == {"sent": 0, "retry": 0, "failed": 1}
    email.refresh_from_db()
    assert email.state == EmailState.FAILED
    assert email.attempts == 1
    assert "550" in email.last_error
    person = Client()
    person.force_login(email.recipient)
    page = person.get("/coach/preferences/").content.decode()
    assert "could not be delivered" in page or "没有送达" in page


def test_one_bad_row_does_not_stop_the_others(real_smtp):
    emails = _queue_emails(5)
    # A recipient address no message can be built for (a header injection attempt).
    User.objects.filter(pk=emails[2].recipient_id).update(email="bad\nBcc: x@example.com")
    counts = delivery.deliver_due()
    bad = OutboundEmail.objects.filter(recipient_id=emails[2].recipient_id)
    assert counts["failed"] == bad.count() >= 1
    assert counts["sent"] == 5 - bad.count() == real_smtp.count
    assert all(row.state == EmailState.FAILED for row in bad)


def test_hung_smtp_server_costs_one_timeout_per_batch_not_per_email(settings, mailbox):
    box, port = mailbox
    emails = _queue_emails(20)
    timeout = _mailers(0)["default"]["OPTIONS"]["timeout"]  # type: ignore[index]
    with hung_server() as hung_port:
        settings.MAILERS = _mailers(hung_port)
        started = time.monotonic()
        counts = delivery.deliver_due()
        took = time.monotonic() - started
    states = dict(
        OutboundEmail.objects.values_list("state").annotate(n=Min("id")).values_list("state", "n")
    )
    tried = OutboundEmail.objects.filter(attempts=1).count()
    print(
        f"\nhung SMTP server ({timeout} s timeout): the batch gave up after {took:.1f} s with "
        f"{tried} email tried and {20 - tried} handed back untried; {counts}"
    )
    assert took < timeout * 2 + 2  # one timeout (connect is quick, the greeting never comes)
    assert tried == 1
    assert set(states) == {EmailState.PENDING}
    # The server is back: after the first backoff every email goes out, once.
    settings.MAILERS = _mailers(port)
    later = timezone.now() + dt.timedelta(seconds=delivery.backoff_seconds(1) + 1)
    with time_machine.travel(later, tick=False):
        delivery.deliver_due()
    assert sorted(box.message_ids()) == sorted(e.message_id for e in emails)
