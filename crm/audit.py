"""The audit trail: one row per sensitive change, with the address it came from.

The web request's client address is kept in a context variable by AuditContextMiddleware, so
services record it without knowing about requests; background work records no address.
"""

from __future__ import annotations

from contextvars import ContextVar

from django.db import models

from crm.models import AuditEntry, User

current_ip: ContextVar[str | None] = ContextVar("kaopu_current_ip", default=None)


def record(*, actor: User | None, action: str, obj: models.Model, summary: str = "") -> AuditEntry:
    """Write one audit row in the caller's transaction."""
    return AuditEntry.objects.create(
        actor=actor if actor is not None and actor.pk else None,
        action=action,
        object_type=obj._meta.model_name or "",
        object_id=str(obj.pk or ""),
        summary=summary[:300],
        ip_address=current_ip.get(),
    )


def record_many(
    *, actor: User | None, action: str, objects: list[models.Model], summary: str = ""
) -> None:
    ip = current_ip.get()
    AuditEntry.objects.bulk_create(
        AuditEntry(
            actor=actor,
            action=action,
            object_type=obj._meta.model_name or "",
            object_id=str(obj.pk),
            summary=summary[:300],
            ip_address=ip,
        )
        for obj in objects
    )


def record_admin_action(sender: object, instance: object, created: bool, **kwargs: object) -> None:
    """Every change made in the Django admin also lands in the audit trail."""
    from django.contrib.admin.models import LogEntry

    if not created or not isinstance(instance, LogEntry):
        return
    verb = {1: "added", 2: "changed", 3: "deleted"}.get(instance.action_flag, "acted")
    AuditEntry.objects.create(
        actor_id=instance.user_id,
        action=f"admin.{verb}",
        object_type=instance.content_type.model if instance.content_type else "",
        object_id=str(instance.object_id or ""),
        summary=f"{instance.object_repr}: {instance.get_change_message()}"[:300],
        ip_address=current_ip.get(),
    )
