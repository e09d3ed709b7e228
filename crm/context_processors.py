"""What every template may ask about the signed-in user's rights: a `can` object whose answers
come from crm.permissions, computed only when a template reads them (no query, no role strings
in templates).
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.utils.functional import cached_property

from crm import permissions
from crm.models import User


class Can:
    """`{% if can.hand_off %}` and friends; all false for a visitor who is not signed in."""

    def __init__(self, user: object) -> None:
        self._user = user if isinstance(user, User) and user.is_authenticated else None

    def _ask(self, question: Any) -> bool:
        return self._user is not None and bool(question(self._user))

    @cached_property
    def create_leads(self) -> bool:
        return self._ask(permissions.can_create_leads)

    @cached_property
    def hand_off(self) -> bool:
        return self._ask(permissions.can_hand_off)

    @cached_property
    def import_leads(self) -> bool:
        return self._ask(permissions.can_import)

    @cached_property
    def tune_coach(self) -> bool:
        return self._ask(permissions.can_tune_coach)

    @cached_property
    def view_cockpit(self) -> bool:
        return self._ask(permissions.can_view_cockpit)

    @cached_property
    def view_director(self) -> bool:
        return self._ask(permissions.can_view_director_page)

    @cached_property
    def start_at_director(self) -> bool:
        return self._ask(permissions.cockpit_starts_at_director_page)

    @cached_property
    def view_audit(self) -> bool:
        return self._ask(permissions.can_view_audit)

    @cached_property
    def write_reports(self) -> bool:
        return self._ask(permissions.reports_to_a_manager)


def can(request: HttpRequest) -> dict[str, Any]:
    """Put `can` in every template's context."""
    return {"can": Can(getattr(request, "user", None))}
