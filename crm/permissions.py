"""Who may see and do what. Visibility lives here and nowhere else.

rep → own leads; manager → the team's; director (+2) → their teams'; admin → all.
Anything outside that answers 404, never 403: a lead one may not see does not exist for them.
"""

from __future__ import annotations

from django.db.models import Q, QuerySet

from crm.models import Lead, Report, ReportState, Role, Team, User


def lead_scope(user: User, prefix: str = "") -> Q:
    """The visibility rule as a Q object; `prefix` reaches the lead from a related model."""
    if user.is_admin_role:
        return Q()
    if user.role == Role.DIRECTOR:
        return Q(**{f"{prefix}team__director": user})
    if user.role == Role.MANAGER:
        return Q(**{f"{prefix}team__manager": user})
    return Q(**{f"{prefix}owner": user})


def visible_leads(user: User) -> QuerySet[Lead]:
    """All leads `user` may see."""
    if not user.is_authenticated or not user.is_active:
        return Lead.objects.none()
    return Lead.objects.filter(lead_scope(user))


def visible_teams(user: User) -> QuerySet[Team]:
    """The teams whose leads `user` may see."""
    if user.is_admin_role:
        return Team.objects.all()
    if user.role == Role.DIRECTOR:
        return Team.objects.filter(director=user)
    if user.role == Role.MANAGER:
        return Team.objects.filter(manager=user)
    return Team.objects.none()


def visible_people(user: User) -> QuerySet[User]:
    """The reps whose leads `user` may see (used for owner filters)."""
    if user.is_admin_role:
        return User.objects.filter(role=Role.REP)
    if user.role in (Role.DIRECTOR, Role.MANAGER):
        return User.objects.filter(role=Role.REP, team__in=visible_teams(user))
    return User.objects.filter(pk=user.pk)


def can_hand_off(user: User) -> bool:
    """Managers (their own team) and admins hand leads down; reps and directors do not."""
    return user.is_authenticated and (user.role == Role.MANAGER or user.is_admin_role)


def hand_off_targets(user: User, team: Team | None = None) -> QuerySet[User]:
    """The reps `user` may hand a lead to: the active reps of their own team."""
    if not can_hand_off(user):
        return User.objects.none()
    reps = User.objects.filter(role=Role.REP, is_active=True, team__isnull=False)
    if user.is_admin_role:
        return reps.filter(team=team) if team is not None else reps
    return reps.filter(team__manager=user)


def visible_reports(user: User) -> QuerySet[Report]:
    """Reports `user` may read: their own (drafts too); submitted ones of the teams they
    manage; those shared with them as the +2; all submitted ones for an admin."""
    if not user.is_authenticated or not user.is_active:
        return Report.objects.none()
    submitted = Q(state=ReportState.SUBMITTED)
    if user.is_admin_role:
        scope = submitted
    elif user.role == Role.DIRECTOR:
        scope = submitted & Q(share_with_director=True, team__director=user)
    elif user.role == Role.MANAGER:
        scope = submitted & Q(team__manager=user)
    else:
        scope = Q(pk__in=[])
    return Report.objects.filter(scope | Q(author=user))


def can_answer_report(user: User, report: Report) -> bool:
    """The author's manager (or an admin) acknowledges, answers asks and decides on plans."""
    return user.is_admin_role or (user.role == Role.MANAGER and report.team.manager_id == user.pk)
