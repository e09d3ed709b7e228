"""The demo company keeps the app's own rules: stage changes follow the pipeline one allowed
move at a time, people write in their own language, leads in the pool are untouched, and every
report is one report_submit would have sent."""

from __future__ import annotations

import io
import re
from collections import defaultdict
from itertools import pairwise

import pytest
from django.core.management import call_command
from django.utils import timezone

from crm.models import Activity, Lead, LeadEvent, LeadEventKind, Report, ReportKind, ReportReply
from crm.pipeline import Stage, can_move
from crm.services.reports import _submit_errors

CHINESE = re.compile(r"[\u4e00-\u9fff]")


@pytest.fixture
def demo(db: None) -> None:
    call_command("seed_demo", stdout=io.StringIO())


def _in_language(text: str, language: str) -> bool:
    """Chinese text for a Chinese writer, none for an English one."""
    return bool(CHINESE.search(text)) == (language == "zh-hans")


def test_every_stage_change_is_a_move_the_pipeline_allows(demo: None) -> None:
    walks: dict[int, list[LeadEvent]] = defaultdict(list)
    changes = LeadEvent.objects.filter(kind=LeadEventKind.STAGE_CHANGED).order_by("created_at")
    for event in changes:
        walks[event.lead_id].append(event)
    problems = []
    for lead in Lead.objects.all():
        steps = walks.get(lead.pk, [])
        moves = [(e.from_stage, e.to_stage) for e in steps]
        chained = all(a[1] == b[0] for a, b in pairwise(moves))
        reaches = (moves[-1][1] if moves else Stage.NEW) == lead.stage
        starts = not moves or moves[0][0] == Stage.NEW
        if not (chained and reaches and starts and all(can_move(*m) for m in moves)):
            problems.append(f"{lead.pk} ({lead.stage}): {moves}")
        if moves and lead.stage_changed_at != steps[-1].created_at:
            problems.append(f"{lead.pk}: stage_changed_at is not its last move")
    assert problems == []
    assert Lead.objects.filter(stage=Stage.WON).count() > 10  # the demo still has its wins


def test_leads_in_the_pool_are_untouched(demo: None) -> None:
    pool = Lead.objects.filter(owner__isnull=True)
    assert pool.count() > 10
    assert set(pool.values_list("stage", flat=True)) == {Stage.NEW}
    assert not pool.exclude(notes="").exists()
    assert not pool.exclude(next_step="").exists()
    assert not pool.filter(next_step_due__isnull=False).exists()
    assert not Activity.objects.filter(lead__in=pool).exists()
    assert not Report.objects.filter(lead__in=pool).exists()


def test_everyone_writes_in_their_own_language(demo: None) -> None:
    wrong = [
        f"report {r.pk} by {r.author.username}"
        for r in Report.objects.select_related("author")
        if not _in_language(
            " ".join([r.status_now, r.what_i_did, r.next_step, r.backup_plan, r.ask]),
            r.author.language,
        )
    ]
    wrong += [
        f"reply {r.pk} by {r.author.username}"
        for r in ReportReply.objects.select_related("author")
        if not _in_language(r.body, r.author.language)
    ]
    wrong += [
        f"activity {a.pk} by {a.author.username}"
        for a in Activity.objects.select_related("author")
        if not _in_language(a.note, a.author.language)
    ]
    wrong += [
        f"lead {lead.pk}'s next step"
        for lead in Lead.objects.exclude(next_step="").select_related("owner")
        if lead.owner is None or not _in_language(lead.next_step, lead.owner.language)
    ]
    assert wrong == []
    # Both languages are in the demo.
    assert {r.author.language for r in Report.objects.select_related("author")} == {
        "zh-hans",
        "en",
    }


def test_every_report_is_one_report_submit_would_send(demo: None) -> None:
    problems = []
    reports = Report.objects.select_related("lead")
    assert reports.count() > 50
    for report in reports:
        sent = report.submitted_at
        lead = report.lead
        assert sent is not None and lead is not None and lead.handed_at is not None
        errors = _submit_errors(report, timezone.localdate(sent))
        if errors:
            problems.append(f"report {report.pk} ({report.kind}): {sorted(errors)}")
        if sent < lead.handed_at or sent > timezone.now():
            problems.append(f"report {report.pk} sent outside the rep's time with the lead")
        if report.kind == ReportKind.LOSS_REVIEW and (
            lead.closed_at is None or sent < lead.closed_at
        ):
            problems.append(f"loss review {report.pk} before the loss")
        if report.author_id != lead.owner_id:
            problems.append(f"report {report.pk} by someone else than the lead's rep")
    assert problems == []


def test_every_lead_has_its_company_record_as_lead_create_gives_it(demo: None) -> None:
    assert not Lead.objects.filter(account__isnull=True).exists()
    assert not Lead.objects.exclude(contact_name="").filter(lead_contacts__isnull=True).exists()


def test_loading_the_demo_again_changes_nothing(demo: None) -> None:
    counts = (Lead.objects.count(), Report.objects.count(), Activity.objects.count())
    call_command("seed_demo", stdout=io.StringIO())
    assert (Lead.objects.count(), Report.objects.count(), Activity.objects.count()) == counts
