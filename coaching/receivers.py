"""How the coach listens to the CRM.

Every CRM domain event is a crm.DomainEvent row written in the transaction that caused it; the
background task `coaching.tasks.process_events` reads those rows and applies the playbook
(coaching.services.handle_event). Nothing here runs inside a web request, so a slow or dead
broker never slows a page down, and an event is never lost between a commit and a signal.
"""

from __future__ import annotations

from crm import events


def connect() -> None:
    """Check that every event the playbook listens to is one the CRM sends."""
    from coaching import playbook

    known = set(events.NAMES.values())
    for rule in playbook.rules().values():
        if rule.event and rule.event not in known:
            raise playbook.PlaybookError(
                f"{playbook.settings.KAOPU_PLAYBOOK}: rule '{rule.id}' listens to unknown "
                f"event '{rule.event}'"
            )
