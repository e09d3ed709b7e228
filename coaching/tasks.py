"""Celery tasks: thin, idempotent, JSON arguments; each calls one service."""

from __future__ import annotations

from celery import shared_task

from coaching import delivery, handlers, scans


@shared_task(acks_late=True)
def process_events() -> int:
    return handlers.process_pending_events()


@shared_task(acks_late=True)
def run_scans() -> dict[str, int]:
    return scans.run_scans()


@shared_task(acks_late=True)
def deliver_emails() -> dict[str, int]:
    return delivery.deliver_due()


@shared_task(acks_late=True)
def build_digests() -> int:
    return delivery.build_digests()
