"""Leads: the lead itself, its choices (source, currency, chicken-rib reasons) and its queryset,
whose bulk writes keep the lead tally. What happens to a lead lives beside it: the activities
logged on it (crm.models.activities) and its history (crm.models.history)."""

from __future__ import annotations

from collections.abc import Collection, Iterable
from decimal import Decimal
from typing import Any, cast

from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import connections, models, router, transaction
from django.db.models import Q
from django.db.models.functions import Cast, Coalesce
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from crm.models import stalls, tally
from crm.models.people import Team
from crm.pipeline import OPEN_STAGES, Stage


class Source(models.TextChoices):
    BRAND = "brand", _("Company brand / inbound request")
    TRADE_SHOW = "trade_show", _("Trade show")
    WEBSITE = "website", _("Website (SEO)")
    MARKETING = "marketing", _("Marketing")
    PROSPECTING = "prospecting", _("Own prospecting")
    COLD_VISIT = "cold_visit", _("Cold visit")
    REFERRAL = "referral", _("Referral")


class Currency(models.TextChoices):
    CNY = "CNY", _("CNY ¥")
    USD = "USD", _("USD $")
    EUR = "EUR", _("EUR €")


class ChickenRibReason(models.TextChoices):
    WORKED_BEFORE = "worked_before", _("Worked before without closing")
    COMPETITOR = "competitor", _("Competitor entrenched")
    UNREACHABLE = "unreachable", _("Unreachable")
    NO_BUDGET = "no_budget", _("No purchasing power")
    WILL_BUY_FOREVER = "will_buy_forever", _("“Will buy” for a long time")
    OTHER = "other", _("Other")


def _attname(name: str) -> str:
    """A Lead field's column attribute ("owner" → "owner_id")."""
    return cast("models.Field[Any, Any]", Lead._meta.get_field(name)).attname


class LeadQuerySet(models.QuerySet["Lead"]):
    """Leads, whose bulk writes keep the lead tally (crm.models.tally) in their transaction:
    one grouped difference per statement, or a recount of the teams touched when an update's
    new values are expressions."""

    def bulk_create(  # type: ignore[override]
        self, objs: Iterable[Lead], *args: Any, **kwargs: Any
    ) -> list[Lead]:
        objs = list(objs)
        now = timezone.now()
        for lead in objs:
            stalls.stamp(lead, now)
        if tally.is_suspended():
            return cast("list[Lead]", super().bulk_create(objs, *args, **kwargs))  # type: ignore[arg-type]
        with transaction.atomic(using=self.db, savepoint=False):
            made = cast("list[Lead]", super().bulk_create(objs, *args, **kwargs))  # type: ignore[arg-type]
            if kwargs.get("ignore_conflicts") or kwargs.get("update_conflicts"):
                # Which rows went in is unknown: recount their teams.
                tally.lead_tally_rebuild({lead.team_id for lead in made}, using=self.db)
            else:
                tally.apply(tally.leads_deltas(made), using=self.db)
        return made

    def update(self, **kwargs: Any) -> int:
        change = {_attname(name): value for name, value in kwargs.items()}
        if stalls.STALL_INPUTS_SET.isdisjoint(change) or "stalls_at" in change:
            return self._update_counted(kwargs, change)
        # An input of stalls_at changes: each lead's is set again from its row as written.
        with transaction.atomic(using=self.db, savepoint=False):
            leads = self._locked()
            ids = list(leads.order_by().values_list("pk", flat=True))
            updated = leads._update_counted(kwargs, change)
            stalls_restamp(ids, using=self.db)
            return updated

    update.alters_data = True  # type: ignore[attr-defined]

    def _update_counted(self, kwargs: dict[str, Any], change: dict[str, Any]) -> int:
        counted = change.keys() & set(tally.COUNTED_ATTNAMES)
        if not counted or tally.is_suspended():
            return super().update(**kwargs)
        change = {
            name: value.pk if isinstance(value, models.Model) else value
            for name, value in change.items()
            if name in counted
        }
        with transaction.atomic(using=self.db, savepoint=False):
            leads = self._locked()
            if any(hasattr(value, "resolve_expression") for value in change.values()):
                teams = set(leads.order_by().values_list("team_id", flat=True).distinct())
                updated = super(LeadQuerySet, leads).update(**kwargs)
                if isinstance(change.get("team_id"), int):
                    teams.add(change["team_id"])
                elif "team_id" in change:
                    teams = None  # type: ignore[assignment]  # moved to teams unknown: all
                tally.lead_tally_rebuild(teams, using=self.db)
                return updated
            groups = list(tally.tally_groups(leads))
            updated = super(LeadQuerySet, leads).update(**kwargs)
            tally.apply(
                tally.merged(
                    tally.groups_deltas(groups, -1), tally.groups_deltas(groups, 1, change)
                ),
                using=self.db,
            )
            return updated

    def delete(self) -> tuple[int, dict[str, int]]:
        if tally.is_suspended() or self._fields is not None:  # type: ignore[attr-defined]
            return super().delete()  # after values(): for Django to refuse
        with transaction.atomic(using=self.db, savepoint=False):
            leads = self._locked()
            groups = list(tally.tally_groups(leads))
            deleted = super(LeadQuerySet, leads).delete()
            tally.apply(tally.groups_deltas(groups, -1), using=self.db)
            return deleted

    delete.alters_data = True  # type: ignore[attr-defined]
    delete.queryset_only = True  # type: ignore[attr-defined]

    def _locked(self) -> LeadQuerySet:
        """These leads, their rows locked first (FOR UPDATE, in id order, so that two bulk
        writes over the same leads queue rather than deadlock) and named by id, where the
        database locks rows: the grouped read that follows then counts each lead as the write
        will find it (not as it was before a concurrent save committed), and the write touches
        no lead that came to match meanwhile, uncounted. Locked through `pk IN (these)`, so
        that a DISTINCT of theirs (PostgreSQL refuses FOR UPDATE beside one) stays inside. On
        SQLite one writer at a time (BEGIN IMMEDIATE): these leads as they are; a sliced
        queryset as it is too, for Django to refuse its write as it does."""
        if not connections[self.db].features.has_select_for_update or self.query.is_sliced:
            return self
        fresh = type(self)(self.model, using=self.db)
        locked = fresh.filter(pk__in=self.values("pk")).order_by("pk")
        ids = locked.select_for_update(of=("self",)).values_list("pk", flat=True)
        return fresh.filter(pk__in=list(ids))


# What the cockpit's stalled count reads of each stalled lead beside the key of lead_team_idle
# and lead_team_stalls: the stalled rule's columns (crm.selectors.stalled_q) and the count's
# group. What the cockpit's count of the period's closed leads reads of each beside its range of
# lead_team_closed_group (coaching.cockpit.cube.clock_query): its group, whether it was handed
# down, and its id for the owner's thank-you.
CLOSED_COLUMNS = ["owner", "stage", "currency", "handed_by", "id"]

STALLED_COLUMNS = [
    "stage",
    "owner",
    "currency",
    "next_step_due",
    "parked_until",
    "last_activity_at",
    "handed_at",
    "created_at",
]


class Lead(models.Model):
    company = models.CharField(_("company"), max_length=200)
    contact_name = models.CharField(_("contact person"), max_length=100, blank=True)
    phone = models.CharField(_("phone"), max_length=40, blank=True)
    email = models.EmailField(_("email"), blank=True)
    source = models.CharField(_("source"), max_length=20, choices=Source.choices)
    value = models.DecimalField(
        _("estimated value"),
        max_digits=14,
        decimal_places=2,
        default=Decimal("0"),
        validators=[MinValueValidator(Decimal("0"))],
    )
    currency = models.CharField(
        _("currency"), max_length=3, choices=Currency.choices, default=Currency.CNY
    )
    stage = models.CharField(_("stage"), max_length=16, choices=Stage.choices, default=Stage.NEW)
    expected_close = models.DateField(_("expected close date"), null=True, blank=True)
    tender_date = models.DateField(_("tender date"), null=True, blank=True)
    competitor = models.CharField(_("competitor"), max_length=200, blank=True)
    next_step = models.CharField(_("next step"), max_length=300, blank=True)
    next_step_due = models.DateField(_("next step due"), null=True, blank=True)
    # Set by the manager's "park until" decision: the lead leaves the stalled lists until then.
    parked_until = models.DateField(_("parked until"), null=True, blank=True)
    is_chicken_rib = models.BooleanField(_("chicken-rib lead (鸡肋)"), default=False)
    chicken_rib_reasons = models.JSONField(_("chicken-rib reasons"), default=list, blank=True)
    notes = models.TextField(_("notes"), blank=True)
    lost_reason = models.CharField(_("reason lost"), max_length=300, blank=True)
    # The company as a record (crm.models.companies); `company` above stays the name as typed.
    account = models.ForeignKey(
        "crm.Company",
        verbose_name=_("company record"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="leads",
    )

    team = models.ForeignKey(
        Team, verbose_name=_("team"), on_delete=models.PROTECT, related_name="leads"
    )
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("owner"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="owned_leads",
    )
    handed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("handed down by"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="handed_leads",
    )
    handed_at = models.DateTimeField(_("handed down at"), null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("created by"),
        on_delete=models.SET_NULL,
        null=True,
        related_name="+",
    )
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    updated_at = models.DateTimeField(_("updated at"), default=timezone.now)
    stage_changed_at = models.DateTimeField(_("stage changed at"), default=timezone.now)
    closed_at = models.DateTimeField(_("closed at"), null=True, blank=True)
    last_activity_at = models.DateTimeField(_("last activity"), null=True, blank=True)
    # When the latest report on the lead was sent (crm.services.reports keeps it in the
    # transaction that sends one), so "no report for N days" is a comparison on the lead
    # rather than a look into its reports, for every open lead a scan reads.
    last_reported_at = models.DateTimeField(_("last report"), null=True, blank=True)
    # When the lead, left alone, may start to count as stalled, and whether the stall sweep has
    # marked it stalled in every time zone (counted by the tally): crm.models.stalls, kept by
    # every write of its inputs. Never shown, so never translated.
    stalls_at = models.DateTimeField("may stall from", null=True, blank=True, editable=False)
    stalled_swept = models.BooleanField("marked stalled", default=False, editable=False)
    # Its latest stage move (crm.services.lead_change_stage): the stage it left, and its
    # stage_changed_at before it. The cockpit's pipeline a week ago reads where a lead moved
    # once since then from these, and looks into the history only for a lead that moved
    # twice or more (coaching.cockpit.pipeline). NULL: never moved (a move may have left ""
    # in the history, so NULL rather than ""). Never shown.
    moved_from = models.CharField(  # noqa: DJ001
        "moved from", max_length=16, null=True, blank=True, editable=False
    )
    moved_before_at = models.DateTimeField("moved before at", null=True, blank=True, editable=False)

    objects = LeadQuerySet.as_manager()

    # The counted columns as the database has them (crm.models.tally): the row as loaded, then
    # the columns as saved or refreshed; a column missing (deferred) is read again before a save.
    _tally_row: tuple[Collection[str], Collection[Any]]
    _tally_seen: dict[str, Any]
    _tally_saved: _Saved | None

    class Meta:
        # Related managers' add()/remove() (user.owned_leads.add(lead)) update through the base
        # manager: LeadQuerySet's update keeps the tally; a save's own UPDATE uses _update.
        base_manager_name = "objects"
        ordering = ["-updated_at", "-id"]
        verbose_name = _("lead")
        verbose_name_plural = _("leads")
        indexes = [
            models.Index(fields=["owner", "-updated_at"], name="lead_owner_updated"),
            models.Index(fields=["team", "-updated_at"], name="lead_team_updated"),
            # The director's and admin's list (several teams, newest first): PostgreSQL walks
            # this index and stops at a page's 50 rows instead of sorting every visible lead.
            models.Index(fields=["-updated_at", "-id"], name="lead_updated"),
            # The board's biggest leads of each column (issue 22): per team and stage, walked by
            # value, a column's 20 cards read 20 index entries. Also every (team, stage) lookup:
            # the plain (team, stage) index it begins with was dropped (crm 0026).
            models.Index(fields=["team", "stage", "-value", "-id"], name="lead_team_stage_value"),
            # A manager's My day: the team's open leads with a next step due, by date.
            models.Index(
                fields=["team", "next_step_due"],
                name="lead_team_due",
                condition=Q(closed_at__isnull=True),
            ),
            models.Index(fields=["owner", "next_step_due"], name="lead_owner_due"),
            # The cockpit's clock-dependent counts beside the lead tally (crm.models.tally): the
            # team's leads created since a week ago, and those closed in the period, read as
            # index ranges rather than the team's leads (issue 22).
            # Its group's columns in the key: both databases count from the index alone.
            models.Index(
                fields=["team", "created_at", "owner", "stage", "currency"],
                name="lead_team_created_group",
            ),
            # With what the count of the period's closed leads reads of each (handed down, won
            # or lost, thanked by its owner, its group), so that PostgreSQL counts them from the
            # index alone (a +2's 2,400: 9.4 → 2.3 ms); in the key rather than INCLUDE, which
            # SQLite does not keep, so SQLite does too (a team of 50,000: 2,776 closed leads).
            models.Index(
                fields=["team", "closed_at", *CLOSED_COLUMNS[:-1]],
                name="lead_team_closed_group",
                condition=Q(closed_at__isnull=False),
                include=CLOSED_COLUMNS[-1:],
            ),
            # The +2's leads handed down in the period, per team (a lead's handed_at is its
            # latest hand-off's, crm.services.handoffs): a range of the period's hand-offs, not a
            # join of every hand-off in the company to its lead (issue 22).
            models.Index(
                fields=["team", "handed_at", "is_chicken_rib"],
                name="lead_team_handed",
                condition=Q(handed_at__isnull=False),
            ),
            # The cockpit's pipeline a week ago (coaching.cockpit.pipeline): the team's leads
            # that moved since then, found by their latest move, with all it reads of them
            # (issue 22): both databases answer from the index alone.
            models.Index(
                fields=[
                    "team",
                    "stage_changed_at",
                    "created_at",
                    "stage",
                    "moved_before_at",
                    "moved_from",
                ],
                name="lead_team_moves",
                include=["id"],
            ),
            models.Index(fields=["stage", "last_activity_at"], name="lead_stage_activity"),
            # Open leads idle the longest first (crm.selectors.with_idle_since), per team and per
            # rep: the cockpit's stalled list and oldest stalled lead read a few index entries
            # instead of sorting a team's leads (issue 22). Partial on "not closed" (the stage
            # service clears closed_at on every open stage) rather than on the open stages: a
            # query's stage IN list is bound parameters, which SQLite cannot match to an index
            # condition, while IS NULL has none.
            # The team's also carries what the cockpit's stalled count reads of each stalled
            # lead (crm.selectors.stalled_q and the count's group), so PostgreSQL counts a
            # team's stalled leads from the index alone instead of visiting each row: 15 → 4 ms
            # for 11,500 stalled leads (issue 22). SQLite keeps no INCLUDE columns.
            *(
                models.Index(
                    key,
                    Coalesce("last_activity_at", "handed_at", "created_at"),
                    "id",
                    name=f"lead_{key}_idle",
                    condition=Q(closed_at__isnull=True),
                    include=STALLED_COLUMNS if key == "team" else None,
                )
                for key in ("team", "owner")
            ),
            # The cockpit's stalled counts beside the tally's marked leads (crm.models.stalls):
            # per team, the unmarked leads that may be stalled by now and the marked ones that
            # might not be yet (none but at a moment before the sweep), two short ranges
            # whatever the team's size; PostgreSQL checks each against the stalled rule from
            # the INCLUDE columns. Also the sweep's candidates (every team's unmarked range).
            models.Index(
                fields=["team", "stalled_swept", "stalls_at"],
                name="lead_team_stalls",
                condition=Q(stalls_at__isnull=False),
                include=STALLED_COLUMNS,
            ),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(value__gte=0), name="lead_value_not_negative"),
            models.CheckConstraint(
                condition=~Q(stage=Stage.LOST) | ~Q(lost_reason=""),
                name="lost_lead_has_reason",
            ),
        ]

    def __str__(self) -> str:
        return self.company

    def save(self, *args: Any, **kwargs: Any) -> None:
        using = kwargs.get("using") or router.db_for_write(type(self), instance=self)
        update_fields = kwargs.get("update_fields")
        if update_fields is None or not stalls.STALL_INPUTS_SET.isdisjoint(update_fields):
            stalls.stamp(self)
            if update_fields is not None:
                kwargs["update_fields"] = {*update_fields, "stalls_at", "stalled_swept"}
        if tally.is_suspended():
            super().save(*args, **kwargs)
            return
        with transaction.atomic(using=using, savepoint=False):
            before = None if self.pk is None else self._tally_before(using)
            super().save(*args, **kwargs)
            update_fields = kwargs.get("update_fields")
            written = (
                tally.COUNTED_ATTNAMES
                if update_fields is None or before is None
                else {_attname(name) for name in update_fields}
            )
            after = {
                name: getattr(self, name) if name in written or before is None else before[name]
                for name in tally.COUNTED_ATTNAMES
            }
            if before != after:
                parts = [tally.leads_deltas([_Counted(after)])]
                if before is not None:
                    parts.append(tally.leads_deltas([_Counted(before)], -1))
                tally.apply(tally.merged(*parts), using=using)
            self._tally_seen = after
            # Known true only if this save is not rolled back (a savepoint's or the whole
            # transaction's rollback drops the callback): see _tally_state.
            self._tally_saved = _Saved(using)
            transaction.on_commit(self._tally_saved, using=using)

    def get_absolute_url(self) -> str:
        return reverse("lead-detail", args=[self.pk])

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        using = kwargs.get("using") or router.db_for_write(type(self), instance=self)
        if tally.is_suspended():
            return super().delete(*args, **kwargs)
        with transaction.atomic(using=using, savepoint=False):
            before = self._tally_before(using)
            deleted = super().delete(*args, **kwargs)
            # Not when the row was gone already (deleted twice from two loaded copies).
            if before is not None and deleted[1].get(self._meta.label, 0):
                tally.apply(tally.leads_deltas([_Counted(before)], -1), using=using)
            return deleted

    @classmethod
    def from_db(
        cls, db: str | None, field_names: Collection[str], values: Collection[Any], **kwargs: Any
    ) -> Lead:
        lead = super().from_db(db, field_names, values, **kwargs)
        # The row as read, kept as it came (a list of 100,000 leads pays one attribute each);
        # the counted columns are picked from it only if the lead is saved.
        lead._tally_row = (field_names, values)
        return lead

    def refresh_from_db(self, *args: Any, **kwargs: Any) -> None:
        super().refresh_from_db(*args, **kwargs)
        fields = kwargs.get("fields")
        if fields is None and len(args) > 1:
            fields = args[1]
        seen = self._tally_state() or {}
        self._tally_saved = None
        attnames = tally.COUNTED_ATTNAMES if fields is None else [_attname(name) for name in fields]
        for name in attnames:
            if name in tally.COUNTED_ATTNAMES and name in self.__dict__:
                seen[name] = self.__dict__[name]
        self._tally_seen = seen

    def _tally_state(self) -> dict[str, Any] | None:
        """The counted columns last read from or written to the database (those known)."""
        seen = self.__dict__.get("_tally_seen")
        saved = self.__dict__.get("_tally_saved")
        if saved is not None and saved.rolled_back():
            # The last save was rolled back: what the lead remembers is not the row any more.
            self.__dict__.pop("_tally_row", None)
            self.__dict__.pop("_tally_seen", None)
            self._tally_saved = None
            return None
        if seen is not None:
            return dict(seen)
        row = self.__dict__.get("_tally_row")
        if row is None:
            return None
        return {
            name: value for name, value in zip(*row, strict=True) if name in tally.COUNTED_ATTNAMES
        }

    def _tally_before(self, using: str) -> dict[str, Any] | None:
        """The counted columns of this lead in the database before a save (None: new)."""
        seen = self._tally_state()
        if seen is not None and len(seen) == len(tally.COUNTED_ATTNAMES):
            return seen
        found = (
            type(self)
            ._base_manager.using(using)
            .filter(pk=self.pk)
            .values(*tally.COUNTED_ATTNAMES)
            .first()
        )
        return found

    @property
    def is_open(self) -> bool:
        return self.stage in OPEN_STAGES

    def chicken_rib_reason_labels(self) -> list[str]:
        labels = dict(ChickenRibReason.choices)
        return [str(labels.get(code, code)) for code in self.chicken_rib_reasons]


class _Saved:
    """Marks a lead's save in its transaction's on-commit callbacks: run at the commit, dropped
    by Django when a savepoint around the save (or the transaction) is rolled back."""

    __slots__ = ("committed", "using")

    def __init__(self, using: str) -> None:
        self.using, self.committed = using, False

    def __call__(self) -> None:
        self.committed = True

    def rolled_back(self) -> bool:
        if self.committed:
            return False
        pending = connections[self.using].run_on_commit
        return not any(entry[1] is self for entry in reversed(pending))


class _Counted:
    """A lead's counted columns as attributes, for tally.leads_deltas."""

    def __init__(self, columns: dict[str, Any]) -> None:
        self.__dict__.update(columns)


def stalls_restamp(ids: list[int], *, using: str = "default") -> None:
    """Set `stalls_at` and the sweep's mark again on these leads from their rows, and the
    tally's marked counts with them: after a bulk update of an input (LeadQuerySet.update)."""
    now = timezone.now()
    columns = ("pk", "team_id", "owner_id", "stage", "currency", "stalls_at", "stalled_swept")
    for start in range(0, len(ids), tally.UPSERT_ROWS):
        chunk = ids[start : start + tally.UPSERT_ROWS]
        rows = (
            Lead._base_manager.using(using)
            .filter(pk__in=chunk)
            .values(*columns, *stalls.STALL_INPUTS)
        )
        moments: dict[int, Any] = {}
        marks: dict[int, bool] = {}
        deltas: dict[tally.TallyKey, tally.TallyDelta] = {}
        for row in rows:
            moment = stalls.stall_moment(**row)
            mark = stalls.swept(moment, now)
            if moment == row["stalls_at"] and mark == row["stalled_swept"]:
                continue
            moments[row["pk"]], marks[row["pk"]] = moment, mark
            if mark != row["stalled_swept"]:
                key = (row["team_id"], row["owner_id"] or 0, row["stage"], row["currency"])
                tally.add(deltas, key, 0, 0, 0, 1 if mark else -1)
        if not moments:
            continue
        # Past LeadQuerySet.update: the marks' difference is applied here.
        moment_case: models.Expression = models.Case(
            *(models.When(pk=pk, then=models.Value(m)) for pk, m in moments.items()),
            output_field=models.DateTimeField(),
        )
        mark_case: models.Expression = models.Case(
            *(models.When(pk=pk, then=models.Value(m)) for pk, m in marks.items()),
            output_field=models.BooleanField(),
        )
        if connections[using].features.requires_casted_case_in_updates:
            # As bulk_update does: PostgreSQL reads a CASE of parameters as text. (Not SQLite,
            # whose cast to a datetime drops the microseconds.)
            moment_case = Cast(moment_case, models.DateTimeField())
            mark_case = Cast(mark_case, models.BooleanField())
        models.QuerySet.update(
            Lead._base_manager.using(using).filter(pk__in=list(moments)),
            stalls_at=moment_case,
            stalled_swept=mark_case,
        )
        tally.apply(deltas, using=using)
