"""People and teams: users with their role, language and time zone; teams with their manager
and +2; the history of which team a rep sold for. Everything else in the CRM hangs off these."""

from __future__ import annotations

from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class Role(models.TextChoices):
    REP = "rep", _("Sales rep")
    MANAGER = "manager", _("Manager")
    DIRECTOR = "director", _("Director (+2)")
    ADMIN = "admin", _("Admin")


class Language(models.TextChoices):
    ZH_HANS = "zh-hans", "简体中文"
    EN = "en", "English"


# A person's name as User.__str__ writes it, from these columns (pages that read people as
# values: the lead list, My day, the report inbox).
NAME_COLUMNS = ("display_name", "first_name", "last_name", "username")


def person_name(display_name: str, first_name: str, last_name: str, username: str) -> str:
    """User.__str__ from NAME_COLUMNS' values."""
    return display_name or f"{first_name} {last_name}".strip() or username


class User(AbstractUser):
    role = models.CharField(_("role"), max_length=16, choices=Role.choices, default=Role.REP)
    language = models.CharField(
        _("language"), max_length=8, choices=Language.choices, default=Language.ZH_HANS
    )
    time_zone = models.CharField(_("time zone"), max_length=64, default="Asia/Shanghai")
    display_name = models.CharField(_("display name"), max_length=100, blank=True)
    team = models.ForeignKey(
        "crm.Team",
        verbose_name=_("team"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="members",
        help_text=_("The team a rep currently sells for."),
    )
    calendar_token = models.CharField(
        _("calendar link secret"),
        max_length=64,
        unique=True,
        null=True,
        blank=True,
        editable=False,
        help_text=_(
            "The secret in the person's calendar feed link; empty while the feed is off. "
            "A reset writes a new one, so the old link stops working."
        ),
    )

    class Meta:
        verbose_name = _("user")
        verbose_name_plural = _("users")

    def __str__(self) -> str:
        return person_name(self.display_name, self.first_name, self.last_name, self.username)

    @property
    def is_admin_role(self) -> bool:
        return self.is_superuser or self.role == Role.ADMIN

    @property
    def is_director(self) -> bool:
        return self.role == Role.DIRECTOR

    @property
    def zone(self) -> ZoneInfo:
        """The user's time zone; the site's (settings.TIME_ZONE) when theirs is blank or unknown."""
        try:
            return ZoneInfo(self.time_zone)
        except (ZoneInfoNotFoundError, ValueError, TypeError):
            return ZoneInfo(settings.TIME_ZONE)


class Team(models.Model):
    name = models.CharField(_("name"), max_length=100, unique=True)
    manager = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        verbose_name=_("manager"),
        on_delete=models.PROTECT,
        related_name="managed_team",
    )
    director = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("director (+2)"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="directed_teams",
    )
    created_at = models.DateTimeField(_("created at"), default=timezone.now)

    class Meta:
        ordering = ["name"]
        verbose_name = _("team")
        verbose_name_plural = _("teams")

    def __str__(self) -> str:
        return self.name


class TeamMembership(models.Model):
    """Which team a rep sold for, and when: moving teams keeps this history."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("user"),
        on_delete=models.CASCADE,
        related_name="memberships",
    )
    team = models.ForeignKey(
        Team, verbose_name=_("team"), on_delete=models.CASCADE, related_name="memberships"
    )
    joined_at = models.DateTimeField(_("joined at"), default=timezone.now)
    left_at = models.DateTimeField(_("left at"), null=True, blank=True)

    class Meta:
        ordering = ["-joined_at"]
        verbose_name = _("team membership")
        verbose_name_plural = _("team memberships")
        constraints = [
            models.UniqueConstraint(
                fields=["user"], condition=Q(left_at__isnull=True), name="one_open_membership"
            )
        ]

    def __str__(self) -> str:
        return f"{self.user} @ {self.team}"
