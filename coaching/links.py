"""Where a nudge's "do it" button leads: the page where its action happens."""

from __future__ import annotations

from urllib.parse import urlencode

from django.urls import reverse

from coaching.models import Nudge


def _report(kind: str, lead_id: int | None, **extra: str) -> str:
    params: dict[str, str | int] = {"kind": kind, **extra}
    if lead_id:
        params["lead"] = lead_id
    return f"{reverse('report-create')}?{urlencode(params)}"


def action_url(nudge: Nudge, target: str) -> str:
    lead_id = nudge.lead_id
    if target == "report_progress":
        return _report("progress", lead_id)
    if target == "report_escalation":
        return _report("escalation", lead_id)
    if target == "report_loss_review":
        return _report("loss_review", lead_id)
    if target == "report_general":
        return _report("progress", None)
    if target == "report_question":
        return _report("question", None)
    if target == "report_shared":
        return _report("progress", lead_id, share="1")
    if target in ("report_detail", "report_decide") and nudge.report_id:
        return reverse("report-detail", args=[nudge.report_id])
    if target == "thanks" and lead_id:
        return f"{reverse('coach-thanks')}?{urlencode({'lead': lead_id})}"
    if target == "year_end_thanks":
        return reverse("coach-year-end")
    if target == "handoff":
        return reverse("lead-handoff")
    if target == "feed":
        return reverse("coach-feed")
    if target == "team_page":
        team_id = (nudge.context or {}).get("team_id")
        return reverse("coach-team-detail", args=[team_id]) if team_id else reverse("coach-team")
    if target == "team_leads" and nudge.subject_user_id:
        return f"{reverse('lead-list')}?{urlencode({'owner': nudge.subject_user_id})}"
    if lead_id:
        return reverse("lead-detail", args=[lead_id])
    return reverse("coach-nudges")
