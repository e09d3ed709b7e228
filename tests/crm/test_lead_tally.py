"""The lead tally (crm.models.tally) stays equal to a recount of the leads whatever writes them:
each write path on its own, then random sequences of the real services."""

from __future__ import annotations

import datetime as dt
import random
import threading
import time
from collections import Counter
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection, connections, transaction
from django.db.models import F
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from crm import services
from crm.models import (
    Currency,
    Lead,
    LeadTally,
    Role,
    Source,
    Team,
    User,
    lead_tally_rebuild,
    tally,
)
from crm.pipeline import TRANSITIONS, Stage
from crm.services.leads import leads_insert
from crm.tally import lead_tally, lead_tally_drift
from tests.crm.test_import import csv_bytes, rows, run
from tests.factories import bulk_leads, make_user

if TYPE_CHECKING:
    from tests.conftest import Company

pytestmark = pytest.mark.django_db


def recount() -> dict[tuple[int, int | None, str, str], tuple[int, Decimal, int]]:
    """The leads counted in Python, one lead at a time (not the tally's own GROUP BY)."""
    out: dict[tuple[int, int | None, str, str], list[Any]] = {}
    for lead in Lead.objects.all():
        cell = out.setdefault(
            (lead.team_id, lead.owner_id, lead.stage, lead.currency), [0, Decimal(0), 0]
        )
        cell[0] += 1
        cell[1] += lead.value
        cell[2] += int(lead.is_chicken_rib)
    return {key: (n, value.quantize(Decimal("0.01")), rib) for key, (n, value, rib) in out.items()}


def tallied() -> dict[tuple[int, int | None, str, str], tuple[int, Decimal, int]]:
    return {
        (row.team, row.owner, row.stage, row.currency): (
            row.n,
            Decimal(row.value).quantize(Decimal("0.01")),
            row.rib,
        )
        for row in lead_tally()
    }


def assert_right() -> None:
    assert tallied() == recount()
    assert lead_tally_drift() == {}


def counts(team: Team) -> Counter[str]:
    """Leads per stage of `team`, as the tally says."""
    out: Counter[str] = Counter()
    for row in lead_tally(teams=team):
        out[row.stage] += row.n
    return out


# --- One path at a time -----------------------------------------------------------------------


def test_the_fixture_company_is_counted(company: Company) -> None:
    assert_right()
    assert counts(company.team_a) == {Stage.NEW: 3}
    rows_a1 = lead_tally(owner=company.rep_a1)
    assert [(r.team, r.stage, r.currency, r.n, r.value) for r in rows_a1] == [
        (company.team_a.pk, Stage.NEW, Currency.CNY, 1, Decimal("1000.00"))
    ]
    assert [r.owner for r in lead_tally(teams=[company.team_a]) if r.owner is None] == [None]


def test_create_by_a_rep_and_a_manager(company: Company) -> None:
    services.lead_create(
        actor=company.rep_a1, data={"company": "X", "source": Source.BRAND, "value": 5}
    )
    services.lead_create(
        actor=company.manager_a,
        data={"company": "Y", "source": Source.BRAND, "value": 7, "currency": Currency.USD},
    )
    assert_right()
    assert counts(company.team_a) == {Stage.NEW: 5}


def test_edit_value_currency_and_rib(company: Company) -> None:
    lead = company.lead_a1
    services.lead_update(actor=company.rep_a1, lead=lead, data={"value": Decimal("2500.50")})
    assert_right()
    services.lead_update(actor=company.rep_a1, lead=lead, data={"currency": Currency.EUR})
    assert_right()
    services.lead_update(
        actor=company.rep_a1,
        lead=lead,
        data={"is_chicken_rib": True, "chicken_rib_reasons": ["competitor"]},
    )
    assert_right()
    [row] = lead_tally(owner=company.rep_a1)
    assert (row.currency, row.value, row.rib) == (Currency.EUR, Decimal("2500.50"), 1)


def test_stage_moves_won_lost_and_reopen(company: Company) -> None:
    lead = company.lead_a1
    services.lead_change_stage(actor=company.rep_a1, lead=lead, to_stage=Stage.CONTACTED)
    assert_right()
    services.lead_change_stage(actor=company.rep_a1, lead=lead, to_stage=Stage.LOST, reason="no")
    assert_right()
    services.lead_change_stage(actor=company.rep_a1, lead=lead, to_stage=Stage.CONTACTED)
    services.lead_change_stage(actor=company.rep_a2, lead=company.lead_a2, to_stage=Stage.WON)
    assert_right()
    assert counts(company.team_a) == {Stage.NEW: 1, Stage.CONTACTED: 1, Stage.WON: 1}


def test_hand_off_one_and_many(company: Company) -> None:
    services.lead_hand_off(
        actor=company.manager_a, lead_ids=[company.lead_a_pool.pk], to_user=company.rep_a1
    )
    assert_right()
    services.lead_hand_off(
        actor=company.manager_a,
        lead_ids=[company.lead_a1.pk, company.lead_a_pool.pk],
        to_user=company.rep_a2,
    )
    assert_right()
    assert [r.n for r in lead_tally(owner=company.rep_a2)] == [3]
    assert lead_tally(owner=company.rep_a1) == []


def test_return_to_pool(company: Company) -> None:
    services.lead_return_to_pool(actor=company.manager_a, lead=company.lead_a1)
    assert_right()
    assert [r.n for r in lead_tally(teams=company.team_a) if r.owner is None] == [2]


def test_a_rep_moving_team_leaves_their_leads_in_the_pool(company: Company) -> None:
    services.rep_move_team(actor=company.admin, user=company.rep_a1, team=company.team_b)
    assert_right()
    assert lead_tally(owner=company.rep_a1) == []


def test_a_deleted_user_s_leads_count_as_the_pool_s(company: Company) -> None:
    lead = company.lead_a1
    Lead.objects.filter(pk=lead.pk).update(owner=company.rep_a2)  # keeps the tally itself
    assert_right()
    gone = make_user(username="gone", role=Role.REP)
    services.rep_join_team(user=gone, team=company.team_a)
    Lead.objects.filter(pk=lead.pk).update(owner=gone)
    gone.delete()  # the collector nulls the owner without the lead's hooks
    assert_right()


def test_import_small_and_through_copy(company: Company) -> None:
    """An import of 3 rows (bulk_create) and one of 150 (COPY on PostgreSQL, crm.inserts)."""
    run(company.manager_a, csv_bytes(rows(3)))
    assert_right()
    run(company.manager_a, csv_bytes(rows(150, start=10)))
    assert_right()
    assert counts(company.team_a)[Stage.NEW] == 3 + 3 + 150


def test_import_updating_duplicates(company: Company) -> None:
    run(company.manager_a, csv_bytes(rows(4)))
    table = rows(4)
    for row in table:
        row[5] = "9999"
    run(company.manager_a, csv_bytes(table), on_duplicate="update")
    assert_right()


def test_lead_bulk_create(company: Company) -> None:
    services.lead_bulk_create(
        actor=company.manager_b,
        rows=[{"company": f"B{i}", "source": Source.BRAND, "value": i} for i in range(30)],
        batch_size=7,
    )
    assert_right()
    assert counts(company.team_b) == {Stage.NEW: 31}


def test_delete_one_and_many(company: Company) -> None:
    company.lead_a1.delete()
    assert_right()
    Lead.objects.filter(team=company.team_a).delete()
    assert_right()
    assert counts(company.team_a) == {}


def test_admin_like_save_and_a_stale_or_partial_instance(company: Company) -> None:
    lead = Lead.objects.get(pk=company.lead_a1.pk)
    lead.stage = Stage.PROPOSAL
    lead.value = Decimal("123.45")
    lead.owner = company.rep_a2
    lead.save()
    assert_right()
    # Saved through a partial instance: the columns it did not load are read before the save.
    partial = Lead.objects.only("pk", "stage").get(pk=lead.pk)
    partial.stage = Stage.NEGOTIATION
    partial.save(update_fields=["stage"])
    assert_right()
    # Built with a pk, not loaded: the row as it was is read first.
    row = Lead.objects.values().get(pk=lead.pk)
    rebuilt = Lead(**{k: v for k, v in row.items()})
    rebuilt.currency = Currency.USD
    rebuilt.save()
    assert_right()
    # update_fields leaves the columns it does not name as they are in the database.
    lead.refresh_from_db()
    lead.stage = Stage.WON
    lead.value = Decimal("1")
    lead.save(update_fields=["value"])
    assert_right()


def test_queryset_update_with_constants_and_expressions(company: Company) -> None:
    Lead.objects.filter(team=company.team_a).update(stage=Stage.QUALIFIED, currency=Currency.USD)
    assert_right()
    Lead.objects.filter(team=company.team_a).update(value=F("value") * 2)
    assert_right()
    Lead.objects.filter(team=company.team_a).update(is_chicken_rib=True)
    assert_right()
    Lead.objects.filter(pk=company.lead_b1.pk).update(team=company.team_a, owner=None)
    assert_right()
    with transaction.atomic():  # a locked queryset's update (PostgreSQL: no FOR UPDATE + GROUP BY)
        Lead.objects.select_for_update().filter(team=company.team_a).update(stage=Stage.NEW)
        Lead.objects.select_for_update().filter(team=company.team_a).delete()
    assert_right()
    assert counts(company.team_b) == {}


def test_bulk_leads_and_ignore_conflicts(company: Company) -> None:
    bulk_leads(40, team=company.team_b, company="Z", source=Source.BRAND, value=3)
    assert_right()
    Lead.objects.bulk_create(
        [Lead(team=company.team_b, company="W", source=Source.BRAND)], ignore_conflicts=True
    )
    assert_right()


def test_rebuild_and_the_check_command(
    company: Company, capsys: pytest.CaptureFixture[str]
) -> None:
    call_command("check_lead_tally")
    assert "matches" in capsys.readouterr().out
    # Drift made on purpose, round the hooks.
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE crm_lead SET stage = %s WHERE id = %s", [Stage.WON, company.lead_b1.pk]
        )
    assert list(lead_tally_drift()) == [company.team_b.pk]
    with pytest.raises(CommandError) as failed:
        call_command("check_lead_tally")
    assert failed.value.returncode == 1
    out = capsys.readouterr().out
    assert f"team {company.team_b.pk}: 2 group(s) differ" in out
    with pytest.raises(CommandError):
        call_command("check_lead_tally", "--fix")
    assert "recounted 1 team(s)" in capsys.readouterr().out
    call_command("check_lead_tally")
    assert_right()
    LeadTally.objects.all().delete()
    lead_tally_rebuild()
    assert_right()


# --- Random sequences of the services ---------------------------------------------------------


def _step(rng: random.Random, company: Company, made: list[int]) -> str:
    managers = {company.team_a.pk: company.manager_a, company.team_b.pk: company.manager_b}
    leads = list(Lead.objects.order_by("pk"))
    choice = rng.choice(
        [
            "create",
            "edit",
            "stage",
            "stage",
            "hand",
            "bulk_hand",
            "pool",
            "import",
            "delete",
            "save",
            "move_rep",
            "bulk_create",
        ]
    )
    if choice == "create" or not leads:
        actor = rng.choice([company.manager_a, company.manager_b, company.rep_a1, company.rep_b1])
        new: dict[str, Any] = {
            "company": f"R{rng.randrange(10**6)}",
            "source": Source.BRAND,
            "value": Decimal(rng.randrange(0, 10**6)) / 100,
            "currency": rng.choice(Currency.values),
        }
        made.append(services.lead_create(actor=actor, data=new).pk)
        return choice
    lead = rng.choice(leads)
    manager = managers[lead.team_id]
    if choice == "edit":
        rib = rng.random() < 0.5
        data: dict[str, Any] = {
            "value": Decimal(rng.randrange(0, 10**7)) / 100,
            "currency": rng.choice(Currency.values),
            "is_chicken_rib": rib,
            "chicken_rib_reasons": ["no_budget"] if rib else [],
        }
        services.lead_update(actor=manager, lead=lead, data=data)
    elif choice == "stage":
        moves = sorted(TRANSITIONS[lead.stage])
        if moves:
            to = rng.choice(moves)
            services.lead_change_stage(actor=manager, lead=lead, to_stage=to, reason="price")
    elif choice in ("hand", "bulk_hand"):
        reps = [
            rep
            for rep in (company.rep_a1, company.rep_a2, company.rep_b1)
            if User.objects.get(pk=rep.pk).team_id == lead.team_id
        ]
        open_ids = [x.pk for x in leads if x.team_id == lead.team_id and x.is_open]
        if reps and open_ids:
            ids = rng.sample(open_ids, min(len(open_ids), 1 if choice == "hand" else 4))
            services.lead_hand_off(actor=manager, lead_ids=ids, to_user=rng.choice(reps))
    elif choice == "pool":
        services.lead_return_to_pool(actor=manager, lead=lead)
    elif choice == "import":
        start = rng.randrange(10**6)
        run(manager, csv_bytes(rows(rng.randint(1, 3), start=start)))
    elif choice == "delete":
        lead.delete()
    elif choice == "save":  # as the admin's change form does
        lead.stage = rng.choice(Stage.values)
        lead.lost_reason = "price" if lead.stage == Stage.LOST else ""
        lead.value = Decimal(rng.randrange(0, 10**5))
        lead.save()
    elif choice == "move_rep":
        rep = rng.choice([company.rep_a1, company.rep_a2, company.rep_b1])
        rep.refresh_from_db()
        team = company.team_b if rep.team_id == company.team_a.pk else company.team_a
        services.rep_move_team(actor=company.admin, user=rep, team=team)
    elif choice == "bulk_create":
        bulk_leads(
            rng.randint(1, 5),
            team=rng.choice([company.team_a, company.team_b]),
            company="bulk",
            source=Source.BRAND,
            created_by=company.manager_a,
            stage=rng.choice(Stage.values),
            lost_reason="price",
            value=lambda i: Decimal(i * 3),
        )
    return choice


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_random_sequences_of_the_services(company: Company, seed: int) -> None:
    rng = random.Random(seed)
    made: list[int] = []
    done: Counter[str] = Counter()
    for _ in range(45):
        done[_step(rng, company, made)] += 1
        assert tallied() == recount(), done
    assert_right()
    assert len(done) >= 8, done  # the sequence went through most paths


# --- After review ---------------------------------------------------------------------------


def test_a_lead_deleted_twice_from_two_loaded_copies(company: Company) -> None:
    """Two admins (or a double-submitted delete) each load the lead and delete it: the second
    DELETE removes no row and must not count the lead out a second time."""
    first = Lead.objects.get(pk=company.lead_a1.pk)
    second = Lead.objects.get(pk=company.lead_a1.pk)
    first.delete()
    assert second.delete()[0] == 0
    assert_right()


def test_related_managers_add(company: Company) -> None:
    """`user.owned_leads.add(lead)` and `team.leads.add(lead)` update through Lead's base
    manager, which is the lead queryset's (the tally follows), and a save is counted once."""
    company.rep_a2.owned_leads.add(company.lead_a1)
    company.team_b.leads.add(company.lead_a_pool)
    assert_right()
    lead = Lead.objects.get(pk=company.lead_a1.pk)
    lead.value = Decimal("77.70")
    lead.save()
    assert_right()


def test_values_added_stay_in_cents(company: Company) -> None:
    """SQLite adds decimals as REAL: ten leads of 0.10 added one by one must make 1.00, not
    0.9999999999999999, in the table itself."""
    for i in range(10):
        services.lead_create(
            actor=company.manager_b,
            data={
                "company": f"Cent {i}",
                "source": Source.BRAND,
                "value": Decimal("0.10"),
                "currency": Currency.USD,
            },
        )
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT value FROM crm_leadtally WHERE team_id = %s AND currency = %s",
            [company.team_b.pk, Currency.USD],
        )
        ((raw,),) = cursor.fetchall()
    assert str(raw) in {"1", "1.0", "1.00"}, raw
    assert_right()


def admin_lead_post(company: Company, lead: Lead, **changes: Any) -> Any:
    """The admin's change form of `lead` as opened now, posted with `changes`."""
    client = Client()
    client.force_login(company.admin)
    url = f"/admin/crm/lead/{lead.pk}/change/"
    page = client.get(url)
    form = page.context["adminform"].form
    data: dict[str, Any] = {}
    for name, field in form.fields.items():
        value = form.initial.get(name)
        if value is None:
            continue
        if isinstance(value, list):
            value = [getattr(item, "pk", item) for item in value]
        if isinstance(value, list):
            data[name] = value
        elif hasattr(field.widget, "decompress"):  # the admin's date and time, split
            for index, part in enumerate(field.widget.decompress(value)):
                data[f"{name}_{index}"] = part
        else:
            data[name] = field.prepare_value(value)
    for inline in page.context["inline_admin_formsets"]:
        management = inline.formset.management_form
        for name in management.fields:
            data[f"{management.prefix}-{name}"] = management.initial.get(name, 0)
    data.update(changes)
    return client.post(url, data)


def test_the_admin_keeps_closed_at_with_the_stage_and_the_tally(company: Company) -> None:
    lead = company.lead_a1
    answer = admin_lead_post(company, lead, stage=Stage.WON)
    assert answer.status_code == 302, answer.context["adminform"].form.errors
    won = Lead.objects.get(pk=lead.pk)
    assert won.stage == Stage.WON and won.closed_at is not None
    assert_right()
    # Back to an open stage in the admin: open again in My day and the cockpit.
    answer = admin_lead_post(company, lead, stage=Stage.CONTACTED, owner=company.rep_a2.pk)
    assert answer.status_code == 302
    reopened = Lead.objects.get(pk=lead.pk)
    assert reopened.stage == Stage.CONTACTED and reopened.closed_at is None
    assert reopened.owner_id == company.rep_a2.pk
    assert_right()


def test_an_import_leaves_the_tally_recounted_with_its_duplicates_updated(
    company: Company,
) -> None:
    run(company.manager_a, csv_bytes(rows(5)))
    table = rows(8)
    for row in table:
        row[5] = "12.34"
    job = run(company.manager_a, csv_bytes(table), on_duplicate="update")
    assert (job.created_count, job.updated_count) == (3, 5)
    assert_right()


@pytest.mark.skipif(connection.vendor != "postgresql", reason="row locks")
@pytest.mark.django_db(transaction=True)
def test_an_open_import_does_not_hold_up_a_hand_off_in_its_team(company: Company) -> None:
    """An import writes the team's pool leads in one transaction for minutes: meanwhile a
    manager hands another pool lead off at once (the import leaves the pool's tally row alone
    and recounts the team at its end)."""
    started, release = threading.Event(), threading.Event()
    failed: list[BaseException] = []

    def long_import() -> None:
        try:
            with tally.tally_suspended(), transaction.atomic():
                now = timezone.now()
                built = [
                    services.lead_build(
                        actor=company.manager_a,
                        team=company.team_a,
                        data={"company": "Imported Ltd", "source": Source.BRAND},
                        now=now,
                    )
                ]
                leads_insert(actor=company.manager_a, leads=built, now=now)
                started.set()
                release.wait(10)
                lead_tally_rebuild([company.team_a.pk])
        except BaseException as error:
            failed.append(error)
            started.set()
        finally:
            connections.close_all()

    worker = threading.Thread(target=long_import)
    worker.start()
    try:
        assert started.wait(10)
        with transaction.atomic():
            with connection.cursor() as cursor:
                # Test plumbing: fail in a second rather than wait for the import.
                cursor.execute("SET LOCAL lock_timeout = '1s'")
            services.lead_hand_off(
                actor=company.manager_a, lead_ids=[company.lead_a_pool.pk], to_user=company.rep_a1
            )
    finally:
        release.set()
        worker.join()
    assert not failed
    assert_right()


def test_a_lead_saved_again_after_its_savepoint_was_rolled_back(
    company: Company, django_assert_max_num_queries: Any
) -> None:
    """The row (and the tally) went back to NEW with the savepoint; the instance still says
    CONTACTED and is saved again: its difference starts from the row as it is."""
    lead = Lead.objects.get(pk=company.lead_a1.pk)
    assert lead.stage == Stage.NEW
    with pytest.raises(RuntimeError), transaction.atomic():
        lead.stage = Stage.CONTACTED
        lead.save()
        raise RuntimeError("refused after the save")
    lead.save()
    assert Lead.objects.get(pk=lead.pk).stage == Stage.CONTACTED
    assert_right()
    # A save kept (its savepoint released) is trusted: the next save reads nothing first.
    with transaction.atomic():
        lead.value = Decimal("5.00")
        lead.save()
    lead.stage = Stage.QUALIFIED
    with django_assert_max_num_queries(2):  # the UPDATE and the tally's upsert
        lead.save()
    assert_right()


def _waits_on_a_lock(timeout: float = 10.0) -> bool:
    """Whether another session of this database waits on a lock (within `timeout`)."""
    deadline = timezone.now() + dt.timedelta(seconds=timeout)
    with connections["default"].cursor() as cursor:
        while timezone.now() < deadline:
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity"
                " WHERE datname = current_database() AND wait_event_type = 'Lock'"
            )
            if cursor.fetchone()[0]:
                return True
            time.sleep(0.05)
    return False


@pytest.mark.skipif(connection.vendor != "postgresql", reason="row locks")
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("write", ["update", "delete"])
def test_a_bulk_write_counts_a_lead_saved_meanwhile_as_it_finds_it(
    company: Company, write: str
) -> None:
    """A rep saves a new value on a lead while a bulk write (not through a service that locks
    its leads first) waits for that lead's row: the write counts the lead as the rep left it,
    so the tally still equals a recount."""
    saved, release = threading.Event(), threading.Event()
    failed: list[BaseException] = []
    target = company.lead_a1.pk

    def rep_saves() -> None:
        try:
            with transaction.atomic():
                lead = Lead.objects.get(pk=target)
                lead.value = Decimal("987654.32")
                lead.save()
                saved.set()
                release.wait(10)
        except BaseException as error:
            failed.append(error)
            saved.set()
        finally:
            connections.close_all()

    def bulk_write() -> None:
        try:
            leads = Lead.objects.filter(team=company.team_a)
            if write == "update":
                leads.update(owner=company.rep_a2)
            else:
                leads.filter(pk=target).delete()
        except BaseException as error:
            failed.append(error)
        finally:
            connections.close_all()

    rep = threading.Thread(target=rep_saves)
    rep.start()
    assert saved.wait(10)
    bulk = threading.Thread(target=bulk_write)
    bulk.start()
    try:
        assert _waits_on_a_lock(), "the bulk write should wait for the rep's row"
    finally:
        release.set()
        rep.join()
        bulk.join()
    assert not failed
    assert_right()


def test_a_distinct_bulk_write_keeps_the_tally(company: Company) -> None:
    """A DISTINCT queryset (a join that repeats leads) updated and deleted in bulk: its rows are
    locked through their ids on PostgreSQL, which refuses FOR UPDATE beside a DISTINCT."""
    team_leads = Lead.objects.filter(team=company.team_a).distinct()
    assert team_leads.update(stage=Stage.QUALIFIED, is_chicken_rib=True) > 0
    assert_right()
    team_leads.filter(pk=company.lead_a1.pk).delete()
    assert_right()
    with pytest.raises(TypeError):
        Lead.objects.values("pk").delete()


def test_a_values_querysets_update_locks_and_keeps_the_tally(company: Company) -> None:
    """An update through values() is a bulk write like any other: its rows locked first where
    the database locks rows, the tally kept."""
    with CaptureQueriesContext(connection) as ctx:
        Lead.objects.values("pk").filter(team=company.team_a).update(value=Decimal("1234.00"))
    locked = any("FOR UPDATE" in query["sql"] for query in ctx.captured_queries)
    assert locked == connection.features.has_select_for_update
    assert_right()
