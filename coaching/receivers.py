"""How the coach listens to the CRM, and the start-up check that it can.

Every CRM domain event is a crm.DomainEvent row written in the transaction that caused it; the
background task `coaching.tasks.process_events` reads those rows and hands each to the handler
registered for its name (coaching.handlers). Nothing here runs inside a web request, so a slow
or dead broker never slows a page down, and an event is never lost between a commit and a
signal.

`connect()` runs at start-up (CoachingConfig.ready): a playbook rule that listens to an event
(any of its events) the CRM never sends or no handler answers, or that names a scan no function
is registered for, stops the app with a PlaybookError naming the file and the rule. A rule
triggered by a `moment` is made by the coach's own services (coaching.thanks).
"""

from __future__ import annotations

from django.conf import settings

from crm import events


def connect() -> None:
    """Check every playbook rule's event and scan against what the CRM sends and what the
    coach's registries can answer."""
    from coaching import handlers, playbook, scans

    sent = set(events.NAMES.values())
    for rule in playbook.rules().values():
        where = f"{settings.KAOPU_PLAYBOOK}: rule '{rule.id}'"
        for event in rule.events:
            if event not in sent:
                raise playbook.PlaybookError(f"{where} listens to unknown event '{event}'")
            if event not in handlers.HANDLERS:
                raise playbook.PlaybookError(
                    f"{where} listens to event '{event}', which no handler answers; "
                    f"handled: {sorted(handlers.HANDLERS)}"
                )
        if rule.scan and rule.scan not in scans.SCANS:
            raise playbook.PlaybookError(
                f"{where} names unknown scan '{rule.scan}'; known: {sorted(scans.SCANS)}"
            )
