"""What a simulated person does, through the real services: write and send reports, log work,
answer reports, hand leads out, and do, snooze or dismiss what the coach asked.

Acting on a nudge follows its rule's action target (the button the person would press), so a
rule added to the playbook is acted on without a change here; a target no simulated person
knows is snoozed for three days, as a busy person would.
"""

from __future__ import annotations

import datetime as dt
import importlib
import random
from typing import Any

from django.utils import timezone

from coaching import playbook
from coaching.models import Nudge, NudgeState
from coaching.services import nudge_dismiss, nudge_snooze
from coaching.simulation.company import Person, pool
from coaching.thanks import thanks_send, year_end_note_send
from crm import services
from crm.models import (
    ActivityKind,
    AskState,
    Lead,
    Outcome,
    PlanDecision,
    Report,
    ReportKind,
    User,
)
from crm.pipeline import OPEN_STAGES, Stage

QUESTION = "客户说再考虑考虑，下一步怎么办？你帮我打个电话吧"


def _days(n: int) -> dt.date:
    return timezone.localdate() + dt.timedelta(days=n)


def _optional(module: str, name: str) -> Any:
    """A function another part of the coach may provide (None until it exists)."""
    try:
        return getattr(importlib.import_module(module), name, None)
    except ImportError:
        return None


# --- Reports -----------------------------------------------------------------------------------


def send_report(
    author: User, lead: Lead | None, kind: str = ReportKind.PROGRESS, **extra: Any
) -> Report:
    """Write and send a report as the compose page does: a draft, then send."""
    data: dict[str, Any] = {
        "kind": kind,
        "status_now": "客户技术部认可方案，采购在走流程。",
        "what_i_did": "上门拜访了技术负责人，演示了样机，回答了售后问题。",
        "next_step": "下周约采购和技术一起确认报价",
        "next_step_due": _days(5),
        "backup_plan": "如果采购拖延，请主管出面约对方分管副总。",
    }
    if kind == ReportKind.QUESTION:
        data = {"kind": kind, "status_now": "客户一直没回音。", "ask": QUESTION}
    elif kind == ReportKind.ESCALATION:
        data |= {"ask": "请主管和我一起拜访对方副总", "ask_due": _days(4)}
    elif kind == ReportKind.LOSS_REVIEW:
        data |= {
            "status_now": "客户选了竞争对手，我们价格高了 8%。",
            "what_i_did": "复盘了三次报价和决策链。",
            "next_step": "三个月后回访，看对方交付情况",
            "next_step_due": _days(90),
        }
    if lead is None:
        data |= {
            "status_now": "本周跟进了五个商机，两个进入方案阶段。",
            "learning": "跟主管学到：先摸清决策链，再报价。",
        }
    draft = services.report_save_draft(author=author, data=data | extra, lead=lead)
    return services.report_submit(author=author, report=draft)


def log_work(author: User, lead: Lead, outcome: str = Outcome.REACHED) -> None:
    """Log a call or visit and, when the customer was reached, the next step with its date."""
    kind = ActivityKind.VISIT if outcome == Outcome.REFUSED else ActivityKind.CALL
    services.activity_log(actor=author, lead=lead, kind=kind, outcome=outcome, note="跟进需求")
    if outcome in (Outcome.REACHED, Outcome.INTERESTED):
        services.lead_update(
            actor=author,
            lead=Lead.objects.get(pk=lead.pk),
            data={"next_step": "发送技术方案并约演示", "next_step_due": _days(6)},
        )


# --- Acting on a nudge, by its rule's action target ---------------------------------------------


def _open_lead(nudge: Nudge, person: Person) -> Lead | None:
    lead = nudge.lead
    if lead is None or lead.owner_id != person.pk or lead.stage not in OPEN_STAGES:
        return None
    return lead


def _report_for(nudge: Nudge, person: Person, target: str) -> bool:
    lead = _open_lead(nudge, person)
    if target == "report_loss_review" and nudge.lead is not None:
        send_report(person.user, nudge.lead, ReportKind.LOSS_REVIEW)
    elif target == "report_escalation" and lead is not None:
        send_report(person.user, lead, ReportKind.ESCALATION)
    elif target == "report_shared" and lead is not None:
        send_report(person.user, lead, share_with_director=True)
    else:
        send_report(person.user, lead)
    return True


def _lead_work(nudge: Nudge, person: Person, target: str) -> bool:
    lead = _open_lead(nudge, person)
    if lead is None:
        return False
    log_work(person.user, lead, Outcome.INTERESTED)
    return True


def _thanks(nudge: Nudge, person: Person, target: str) -> bool:
    if nudge.lead is None:
        return False
    thanks_send(
        author=person.user,
        lead=nudge.lead,
        body="谢谢主管把这个客户交给我，关键时候您帮我约到了决策人。以后您招呼，我随时在。",
        public_post="感谢主管的信任和指点，这一单是大家一起拿下的！",
    )
    return True


def _year_end(nudge: Nudge, person: Person, target: str) -> bool:
    if person.manager is None:
        return False
    year_end_note_send(author=person.user, recipient=person.manager, body="这一年谢谢您的带领。")
    return True


def _report_answer(nudge: Nudge, person: Person, target: str) -> bool:
    report = nudge.report
    if report is None:
        return False
    if report.kind == ReportKind.ESCALATION and not report.decision:
        services.report_decide(
            actor=person.user, report=report, decision=PlanDecision.KEEP_PUSHING, note="继续推进"
        )
    else:
        services.report_acknowledge(actor=person.user, report=report)
    return True


def _handoff(nudge: Nudge, person: Person, target: str) -> bool:
    rep = nudge.subject_user
    leads = pool(person.team) if person.team is not None else []
    if rep is None or rep.team_id != getattr(person.team, "pk", None) or not leads:
        return False
    services.lead_hand_off(
        actor=person.user, lead_ids=[leads[0].pk], to_user=rep, note="你跟得靠谱，这个好商机给你"
    )
    return True


TARGETS = {
    "report_progress": _report_for,
    "report_escalation": _report_for,
    "report_loss_review": _report_for,
    "report_general": _report_for,
    "report_question": _report_for,
    "report_shared": _report_for,
    "lead": _lead_work,
    "thanks": _thanks,
    "year_end_thanks": _year_end,
    "report_detail": _report_answer,
    "report_decide": _report_answer,
    "handoff": _handoff,
}


def snooze(person: Person, nudge: Nudge, days: int = 3, reason: str = "这几天先忙别的") -> None:
    nudge_snooze(
        user=person.user,
        nudge=nudge,
        until=timezone.now() + dt.timedelta(days=days),
        reason=reason,
    )


def snooze_card(person: Person, rule_id: str, days: int, reason: str) -> int:
    """Snooze a whole card (every open nudge of one rule) with coaching's card service."""
    until = timezone.now() + dt.timedelta(days=days)
    card_snooze = _optional("coaching.nudges", "card_snooze")
    if card_snooze is not None:
        return int(card_snooze(user=person.user, rule_id=rule_id, until=until, reason=reason))
    nudges = Nudge.objects.filter(recipient=person.user, rule_id=rule_id, state=NudgeState.OPEN)
    for nudge in nudges:
        nudge_snooze(user=person.user, nudge=nudge, until=until, reason=reason)
    return len(nudges)


def see_update(person: Person, nudge: Nudge) -> bool:
    """An update (an answer, a thanks) only asks to be seen: open it."""
    mark_seen = _optional("coaching.updates", "mark_seen")
    if mark_seen is None:
        return False
    mark_seen(user=person.user, nudge=nudge)
    return True


def respond(person: Person, nudge_id: int, rng: random.Random) -> str:
    """Act on one open nudge as a conscientious person would: mostly do it, now and then
    snooze it (1 in 12) or dismiss it with a reason (1 in 40). Returns what was done."""
    nudge = (
        Nudge.objects.filter(pk=nudge_id, recipient=person.user, state=NudgeState.OPEN)
        .select_related("lead", "report", "subject_user")
        .first()
    )
    rule = playbook.rules().get(nudge.rule_id) if nudge is not None else None
    if nudge is None or rule is None:
        return "gone"
    if getattr(rule, "kind", "advice") == "update":
        return "seen" if see_update(person, nudge) else "left"
    roll = rng.random()
    if roll < 1 / 40:
        nudge_dismiss(user=person.user, nudge=nudge, reason="这个客户情况特殊，我另有安排")
        return "dismissed"
    act = TARGETS.get(rule.action_target)
    if roll < 1 / 12 + 1 / 40 or act is None or not act(nudge, person, rule.action_target):
        snooze(person, nudge)
        return "snoozed"
    return "done"


# --- Managers ----------------------------------------------------------------------------------


def answer(manager: Person, report_id: int, rng: random.Random) -> None:
    """A manager who answers: decide a plan, answer the ask, acknowledge, sometimes reply."""
    report = Report.objects.select_related("lead").get(pk=report_id)
    if report.kind == ReportKind.ESCALATION and not report.decision and report.lead:
        services.report_decide(
            actor=manager.user, report=report, decision=PlanDecision.KEEP_PUSHING, note="继续推进"
        )
    if report.ask_state == AskState.OPEN:
        services.report_answer_ask(
            actor=manager.user, report=report, state=AskState.DONE, note="我来打这个电话"
        )
    if report.kind == ReportKind.QUESTION or rng.random() < 0.25:
        services.report_reply(
            actor=manager.user, report=report, body="先别急，把客户的顾虑列出来，我们明天过一下。"
        )
    services.report_acknowledge(actor=manager.user, report=report)


def hand_out(manager: Person, leads: list[Lead], rep: Person) -> None:
    services.lead_hand_off(
        actor=manager.user,
        lead_ids=[lead.pk for lead in leads],
        to_user=rep.user,
        note="这个客户以前跟过没成，你试试看，先发个初步计划给我",
    )


def close_one(person: Person, lead: Lead, *, won: bool) -> None:
    """A rep closes a lead: won from proposal or negotiation, or lost with the reason."""
    if won:
        if lead.stage not in (Stage.PROPOSAL, Stage.NEGOTIATION):
            return
        services.lead_change_stage(actor=person.user, lead=lead, to_stage=Stage.WON)
    else:
        services.lead_change_stage(
            actor=person.user, lead=lead, to_stage=Stage.LOST, reason="客户预算冻结"
        )
