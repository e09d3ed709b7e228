"""The outbox's claims, in this process against a real SMTP server: a claim names its holder
and lasts a short lease; once it lapses another sender takes the rows, and from then on only
the new holder can send them or mark them sent."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.conf import settings as django_settings
from django.utils import timezone

from coaching import delivery
from coaching.delivery import outbox
from coaching.delivery.channels import EmailChannel
from coaching.models import EmailState, OutboundEmail
from tests.integration.test_delivery_faults import _queue_emails
from tests.integration.test_smtp_retries import _mailers

pytestmark = pytest.mark.django_db


def test_a_lapsed_claim_passes_to_the_next_sender_and_only_it_sends(settings, mailbox):
    box, port = mailbox
    settings.MAILERS = _mailers(port)
    emails = _queue_emails(3)
    start = timezone.now()
    mine = delivery.claim(owner="A", size=10, now=start)
    assert len(mine) == 3
    # Within the lease nobody else gets them.
    assert delivery.claim(owner="B", size=10, now=start + dt.timedelta(seconds=10)) == []
    # Sender A stalls past its lease (a kill, a long pause): B takes the rows.
    later = start + dt.timedelta(seconds=django_settings.KAOPU_EMAIL_LEASE_SECONDS + 1)
    assert sorted(delivery.claim(owner="B", size=10, now=later)) == sorted(mine)
    with time_machine.travel(later, tick=False):
        # A wakes up: it neither sends the rows nor marks them.
        counts = {"sent": 0, "retry": 0, "failed": 0}
        outbox.send_claimed(mine, owner="A", channel=EmailChannel(), counts=counts)
        assert counts == {"sent": 0, "retry": 0, "failed": 0}
        row = OutboundEmail.objects.get(pk=mine[0])
        outbox._finish(row, "A", state=EmailState.SENT)
        assert OutboundEmail.objects.get(pk=mine[0]).state == EmailState.SENDING
        assert box.count == 0
        # B, the holder, sends them, once each.
        outbox.send_claimed(mine, owner="B", channel=EmailChannel(), counts=counts)
    assert counts["sent"] == 3
    assert sorted(box.message_ids()) == sorted(e.message_id for e in emails)
    assert set(OutboundEmail.objects.values_list("state", flat=True)) == {EmailState.SENT}
    assert set(OutboundEmail.objects.values_list("claimed_by", flat=True)) == {""}


def test_a_claim_is_small_so_a_killed_sender_strands_few_rows(settings, mailbox):
    _queue_emails(50)
    claimed = delivery.claim(
        owner="A", size=django_settings.KAOPU_EMAIL_CLAIM_SIZE, now=timezone.now()
    )
    assert len(claimed) == django_settings.KAOPU_EMAIL_CLAIM_SIZE == 10
    assert OutboundEmail.objects.filter(state=EmailState.PENDING).count() == 40
