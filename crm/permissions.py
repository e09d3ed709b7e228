"""Who may see and do what. Visibility lives here and nowhere else.

rep → own leads; manager → the team's; director (+2) → their teams'; admin → all.
Anything outside that answers 404, never 403: a lead one may not see does not exist for them.
"""

from __future__ import annotations

from typing import Any

from django.db.models import Exists, F, OuterRef, Q, QuerySet
from django.db.models.lookups import In
from django.shortcuts import get_object_or_404

from crm.models import (
    Company,
    Contact,
    Lead,
    LeadContact,
    LeadTally,
    Report,
    ReportState,
    Role,
    Team,
    User,
)

# --- Roles: who may do what ------------------------------------------------------------------


def _leads_a_team(user: User) -> bool:
    """A manager (their own team) or an admin (any team): the people who run a team's leads."""
    return user.is_authenticated and (user.role == Role.MANAGER or user.is_admin_role)


def managed_team(user: User) -> Team | None:
    """The team `user` manages, if any (a team has one manager, a manager one team)."""
    if not user.is_authenticated:
        return None
    return Team.objects.filter(manager=user).first()


def can_create_leads(user: User) -> bool:
    """Reps, managers and admins create leads; a director leaves that to their teams."""
    return user.is_authenticated and (user.role != Role.DIRECTOR or user.is_admin_role)


def can_import(user: User) -> bool:
    """Managers (into their team's pool) and admins (into a team they choose) import leads:
    the same people who hand leads down."""
    return can_hand_off(user)


def can_tune_coach(user: User) -> bool:
    """Managers tune the coach's thresholds for their team; admins for any team."""
    return _leads_a_team(user)


def can_see_rep_figures(user: User) -> bool:
    """Per-rep report figures are for the manager (and admins), who see every report counted;
    a +2 sees only what was shared with them."""
    return _leads_a_team(user)


def can_view_cockpit(user: User) -> bool:
    """Managers, directors and admins see a team's cockpit; a rep does not (404)."""
    return user.is_authenticated and (
        user.is_admin_role or user.role in (Role.MANAGER, Role.DIRECTOR)
    )


def can_view_director_page(user: User) -> bool:
    """The +2's page with one row per team: directors and admins."""
    return user.is_authenticated and (user.is_admin_role or user.role == Role.DIRECTOR)


def cockpit_starts_at_director_page(user: User) -> bool:
    """A director (who is not also an admin) starts from their teams, not from one team."""
    return user.is_authenticated and user.role == Role.DIRECTOR and not user.is_admin_role


def can_view_audit(user: User) -> bool:
    """Admins read the audit trail in the app; for everyone else it does not exist."""
    return user.is_authenticated and user.is_admin_role


def reports_to_a_manager(user: User) -> bool:
    """A rep writes reports to their manager and has a page about them; everyone else reads
    reports in an inbox."""
    return user.is_authenticated and user.role == Role.REP


# --- Visibility ------------------------------------------------------------------------------


class LikelyIn(In):
    """`column IN (…)` marked as mostly true for SQLite's planner (`likely(…)`), as it is
    elsewhere (a lead's team; My day's hand-off kinds, crm.selectors.my_day). Its index still
    answers a count, but a page in (updated_at) order walks lead_updated and stops at its rows
    instead of reading each team's leads and sorting them all (issue 22)."""

    def as_sqlite(self, compiler: Any, connection: Any) -> tuple[str, Any]:
        sql, params = self.as_sql(compiler, connection)
        return f"likely({sql})", params


def lead_scope(
    user: User,
    prefix: str = "",
    *,
    teams_by_id: bool = False,
    walking: bool = False,
    team_ids: list[int] | None = None,
) -> Q:
    """The visibility rule as a Q object; `prefix` reaches the lead from a related model.

    With `teams_by_id` a manager's or +2's teams are read first (one query) and named by id
    (`team_id IN (…)`) instead of reached through a join to crm_team: the same leads, but a
    page that walks an ordered index, (team, updated_at) or (updated_at), can stop at its 50
    rows; through the join SQLite sorted all 50,000 of a +2's leads (issue 22). `walking` (with
    it) says the query walks another ordered index, the leads' (updated_at) or a related row's
    own (the history's hand-offs by time, leadevent_handoff_time), and checks the teams on the
    way: the condition is then one for SQLite to check rather than to start from (LikelyIn) —
    on the leads for several teams (one team has its own (team, …) index), from a related row
    for any.
    `team_ids`: scope_team_ids(user) read already, for a page that scopes several queries.
    """
    if user.is_admin_role:
        return Q()
    if user.role in (Role.DIRECTOR, Role.MANAGER):
        if teams_by_id:
            if team_ids is None:
                team_ids = scope_team_ids(user) or []
            if walking and (len(team_ids) > 1 or prefix):
                return Q(LikelyIn(F(f"{prefix}team_id"), team_ids))
            return Q(**{f"{prefix}team_id__in": team_ids})
        if user.role == Role.DIRECTOR:
            return Q(**{f"{prefix}team__director": user})
        return Q(**{f"{prefix}team__manager": user})
    return Q(**{f"{prefix}owner": user})


def scope_team_ids(user: User) -> list[int] | None:
    """The teams lead_scope(teams_by_id=True) names by id for `user`, a manager's or a +2's
    (one query); None for whom it names none (an admin sees every lead, a rep their own). For
    a page that scopes several queries by them (`team_ids`): the teams read once."""
    if user.is_admin_role or user.role not in (Role.DIRECTOR, Role.MANAGER):
        return None
    return list(visible_teams(user).order_by("pk").values_list("pk", flat=True))


def visible_leads(
    user: User,
    *,
    teams_by_id: bool = False,
    walking: bool = False,
    team_ids: list[int] | None = None,
) -> QuerySet[Lead]:
    """All leads `user` may see (`teams_by_id`, `walking`, `team_ids`: see lead_scope; one
    query more for a manager or a +2, for the lists that stop at a page)."""
    if not user.is_authenticated or not user.is_active:
        return Lead.objects.none()
    scope = lead_scope(user, teams_by_id=teams_by_id, walking=walking, team_ids=team_ids)
    return Lead.objects.filter(scope)


def sees_whole_teams(user: User) -> bool:
    """Whether the leads `user` may see are whole teams' (lead_scope): a manager's, a +2's, an
    admin's (every team); a rep sees their own leads in any team; an inactive user none."""
    return (
        user.is_authenticated
        and user.is_active
        and (user.is_admin_role or user.role in (Role.MANAGER, Role.DIRECTOR))
    )


def visible_tally(user: User) -> QuerySet[LeadTally]:
    """The lead tally's groups (crm.models.tally) of the leads `user` may see, as visible_leads
    counts them: their teams' (every team for an admin; the teams a subquery), a rep's own
    leads in any team, none for an inactive user. Empty groups left out."""
    if not user.is_authenticated or not user.is_active:
        return LeadTally.objects.none()
    groups = LeadTally.objects.filter(n__gt=0)
    if user.is_admin_role:
        return groups
    if sees_whole_teams(user):
        return groups.filter(team__in=visible_teams(user).values("pk"))
    return groups.filter(owner_key=user.pk)


def visible_companies(user: User) -> QuerySet[Company]:
    """Companies `user` sees through a lead they may see, or that they created themselves."""
    if not user.is_authenticated or not user.is_active:
        return Company.objects.none()
    if user.is_admin_role:
        return Company.objects.all()
    if user.role == Role.REP:
        # A rep's few hundred leads drive the query (measured 5x faster at 100k than the
        # EXISTS-or-creator scan below, which suits a team's or a director's thousands).
        mine = Lead.objects.filter(lead_scope(user), account__isnull=False).values("account_id")
        made = Company.objects.filter(created_by=user).values("pk")
        return Company.objects.filter(pk__in=mine.union(made, all=True))
    leads = Lead.objects.filter(lead_scope(user), account=OuterRef("pk"))
    return Company.objects.filter(Exists(leads) | Q(created_by=user))


def visible_contacts(user: User) -> QuerySet[Contact]:
    """Contacts `user` sees: those taking part in a lead they may see, or that they created.
    Never through the company alone, so a rep does not see another rep's contacts there."""
    if not user.is_authenticated or not user.is_active:
        return Contact.objects.none()
    if user.is_admin_role:
        return Contact.objects.all()
    if user.role == Role.REP:  # as in visible_companies: the rep's own leads drive the query
        mine = LeadContact.objects.filter(lead_scope(user, "lead__")).values("contact_id")
        made = Contact.objects.filter(created_by=user).values("pk")
        return Contact.objects.filter(pk__in=mine.union(made, all=True))
    roles = LeadContact.objects.filter(lead_scope(user, "lead__"), contact=OuterRef("pk"))
    return Contact.objects.filter(Exists(roles) | Q(created_by=user))


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
    return _leads_a_team(user)


def hand_off_targets(user: User, team: Team | None = None) -> QuerySet[User]:
    """The reps `user` may hand a lead to: the active reps of their own team."""
    if not can_hand_off(user):
        return User.objects.none()
    reps = User.objects.filter(role=Role.REP, is_active=True, team__isnull=False)
    if user.is_admin_role:
        return reps.filter(team=team) if team is not None else reps
    return reps.filter(team__manager=user)


def visible_reports(user: User, *, addressed_only: bool = False) -> QuerySet[Report]:
    """Reports `user` may read: their own (drafts too); submitted ones of the teams they
    manage; those shared with them as the +2; all submitted ones for an admin.

    `addressed_only`: the others' reports alone (an inbox), their teams named by id (one query
    first; as a subquery SQLite still started from the authors), so that the inbox walks (team,
    state, -submitted_at) and stops at its page instead of reading every report of the team or
    by the user (issue 22)."""
    if not user.is_authenticated or not user.is_active:
        return Report.objects.none()
    submitted = Q(state=ReportState.SUBMITTED)
    if user.is_admin_role:
        scope = submitted
    elif user.role in (Role.DIRECTOR, Role.MANAGER):
        if addressed_only:
            team_ids = visible_teams(user).order_by("pk").values_list("pk", flat=True)
            teams = Q(team_id__in=list(team_ids))
        elif user.role == Role.DIRECTOR:
            teams = Q(team__director=user)
        else:
            teams = Q(team__manager=user)
        shared = Q(share_with_director=True) if user.role == Role.DIRECTOR else Q()
        scope = submitted & shared & teams
    else:
        scope = Q(pk__in=[])
    if addressed_only:
        return Report.objects.filter(scope).exclude(author=user)
    return Report.objects.filter(scope | Q(author=user))


def can_manage_team(user: User, team: Team) -> bool:
    """The team's own manager, or an admin: who answers its reports and tunes its coach."""
    return user.is_admin_role or (user.role == Role.MANAGER and team.manager_id == user.pk)


def can_answer_report(user: User, report: Report) -> bool:
    """The author's manager (or an admin) acknowledges, answers asks and decides on plans."""
    return can_manage_team(user, report.team)


# --- Permission-checked fetches: one per object, 404 when not visible ------------------------


def lead_get_for(user: User, pk: object) -> Lead:
    """The lead if `user` may see it, with the people a lead page shows; 404 otherwise,
    whatever the reason."""
    return get_object_or_404(
        visible_leads(user).select_related(
            "owner", "team", "handed_by", "created_by", "team__manager"
        ),
        pk=pk,
    )


def report_get_for(user: User, pk: object, *, submitted_only: bool = False) -> Report:
    """The report if `user` may read it (only a sent one when `submitted_only`); 404 otherwise."""
    reports = visible_reports(user)
    if submitted_only:
        reports = reports.filter(state=ReportState.SUBMITTED)
    return get_object_or_404(
        reports.select_related(
            "author", "team", "team__manager", "lead", "acknowledged_by", "decided_by"
        ),
        pk=pk,
    )


def company_get_for(user: User, pk: object) -> Company:
    """The company if `user` may see it; 404 otherwise."""
    return get_object_or_404(visible_companies(user), pk=pk)


def contact_get_for(user: User, pk: object) -> Contact:
    """The contact if `user` may see it, with its company; 404 otherwise."""
    return get_object_or_404(visible_contacts(user).select_related("company"), pk=pk)
