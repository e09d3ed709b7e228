"""SMTP failures against a real SMTP server: retries with backoff, then success or a failed row
the admin can see. Nothing is dropped silently."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.test import Client
from django.utils import timezone

from coaching import delivery
from coaching.models import EmailState, OutboundEmail
from tests.integration.test_delivery_faults import _queue_emails


@pytest.fixture
def real_smtp(settings, mailbox):
    box, port = mailbox
    settings.MAILERS = {
        "default": {
            "BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "OPTIONS": {"host": "127.0.0.1", "port": port, "timeout": 5},
        }
    }
    settings.KAOPU_EMAIL_MAX_ATTEMPTS = 5
    settings.KAOPU_EMAIL_BACKOFF_SECONDS = 30
    return box


def _deliver_over(minutes: int) -> list[dict[str, int]]:
    """Run the delivery every minute for `minutes` minutes of (travelled) time."""
    results = []
    start = timezone.now()
    for minute in range(minutes):
        with time_machine.travel(start + dt.timedelta(minutes=minute), tick=False):
            results.append(delivery.deliver_due())
    return results


@pytest.mark.django_db
def test_smtp_fails_three_times_then_recovers_one_email(real_smtp):
    real_smtp.refuse_next = 3
    (email,) = _queue_emails(1)
    _deliver_over(30)
    email.refresh_from_db()
    assert real_smtp.refused == 3
    assert real_smtp.count == 1
    assert real_smtp.message_ids() == [email.message_id]
    assert email.state == EmailState.SENT
    assert email.attempts == 4


@pytest.mark.django_db
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


@pytest.mark.django_db
def test_smtp_always_fails_row_marked_failed_and_admin_sees_it(real_smtp, company):
    real_smtp.refuse_next = 1000
    (email,) = _queue_emails(1)
    _deliver_over(60)
    email.refresh_from_db()
    assert email.state == EmailState.FAILED
    assert email.attempts == 5
    assert "451" in email.last_error
    assert real_smtp.count == 0
    # Nothing more is tried once it has failed.
    _deliver_over(5)
    email.refresh_from_db()
    assert email.attempts == 5
    admin = Client()
    admin.force_login(company.admin)
    page = admin.get("/admin/coaching/outboundemail/?state__exact=failed")
    assert page.status_code == 200
    assert "451" in page.content.decode()
    assert OutboundEmail.objects.filter(state=EmailState.FAILED).count() == 1
