"""Small helpers shared by the coaching tests: run the coach, write reports as a rep would,
and find the nudges a person got."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any
from zoneinfo import ZoneInfo

from django.db import connection
from django.utils import timezone

from coaching import playbook, selectors, services
from coaching.models import Nudge
from crm import services as crm_services
from crm.models import Lead, Report, ReportKind, Source, User
from crm.pipeline import Stage
from tests.factories import lead_new, report_sent

SHANGHAI = ZoneInfo("Asia/Shanghai")
START = dt.datetime(2025, 3, 3, 10, 0, tzinfo=SHANGHAI)  # a Monday, office hours
CJK = re.compile(r"[\u4e00-\u9fff]")


def at(days: float = 0, hours: float = 0) -> dt.datetime:
    """A moment counted from START."""
    return START + dt.timedelta(days=days, hours=hours)


def process() -> int:
    """Let the coach read the CRM's pending domain events."""
    return services.process_pending_events()


def scan() -> dict[str, int]:
    return services.run_scans()


def new_lead(manager: User, company: str, to: User | None = None, **data: Any) -> Lead:
    """A lead the manager creates in the team pool and (optionally) hands down to a rep."""
    return lead_new(
        manager,
        company,
        to=to,
        note="Please follow up",
        **({"source": Source.TRADE_SHOW, "value": 20_000} | data),
    )


def report(
    author: User, lead: Lead | None = None, kind: str = ReportKind.PROGRESS, **parts: Any
) -> Report:
    """Write and send a report the way the compose page does: save a draft, then submit."""
    today = timezone.localdate()
    table: dict[str, dict[str, Any]] = {
        ReportKind.PROGRESS: {
            "status_now": "Met the buyer; they compare us with the incumbent.",
            "what_i_did": "Visited the site and sent the revised quote.",
            "next_step": "Demo for the engineering team.",
            "next_step_due": today + dt.timedelta(days=3),
            "backup_plan": "If the demo slips, invite them to our reference customer.",
        },
        ReportKind.QUESTION: {
            "status_now": "The buyer went quiet after the quote.",
            "ask": "How would you reopen the talk with a silent buyer?",
        },
        ReportKind.ESCALATION: {
            "status_now": "The buyer stopped answering; the competitor is entrenched.",
            "next_step": "Wait at their office on Thursday and meet the plant manager.",
            "next_step_due": today + dt.timedelta(days=3),
            "ask": "A joint visit with you next week to meet their director.",
            "ask_due": today + dt.timedelta(days=7),
        },
        ReportKind.LOSS_REVIEW: {
            "status_now": "Lost on price: the competitor offered 12% less.",
            "what_i_did": "Two demos and a site visit.",
            "next_step": "Next time, involve the technical buyer before the price talk.",
        },
    }
    defaults = table[kind]
    data = {"kind": kind, **defaults, **parts}
    return report_sent(author, lead, **data)


def win(lead: Lead, actor: User) -> None:
    """Take an open lead to won through the pipeline's allowed steps."""
    for stage in (Stage.QUALIFIED, Stage.PROPOSAL, Stage.WON):
        crm_services.lead_change_stage(actor=actor, lead=lead, to_stage=stage)


def nudges(rule_id: str, **filters: Any) -> list[Nudge]:
    return list(Nudge.objects.filter(rule_id=rule_id, **filters).order_by("id"))


def only_nudge(rule_id: str, to: User, /, **filters: Any) -> Nudge:
    """The single nudge of `rule_id` (matching `filters`), and it went to `to`."""
    found = nudges(rule_id, **filters)
    assert [n.recipient.username for n in found] == [to.username], (
        f"expected one {rule_id} nudge for {to.username}, got "
        f"{[(n.recipient.username, n.state, n.key) for n in found]}"
    )
    return found[0]


def state_of(nudge: Nudge) -> str:
    nudge.refresh_from_db()
    return nudge.state


def check_texts(nudge: Nudge, *names: str) -> None:
    """The nudge reads in Chinese and in English, each naming the company (where the rule's
    title has {company}) and the other `names` it should mention."""
    rule = playbook.rule(nudge.rule_id)
    zh = selectors.show(nudge, "zh-hans")
    en = selectors.show(nudge, "en")
    assert zh.title != en.title
    assert CJK.search(zh.title), zh.title
    assert not CJK.search(rule.title["en"]), rule.title["en"]
    assert "…" not in zh.title and "…" not in en.title, (zh.title, en.title)
    if "{company}" in rule.title["en"]:
        company = nudge.lead.company if nudge.lead else nudge.context["company"]
        assert company in zh.title, zh.title
        assert company in en.title, en.title
    for name in names:
        assert name in zh.title, zh.title
        assert name in en.title, en.title
    assert zh.advice and en.advice and zh.advice != en.advice
    assert zh.action_label != en.action_label


def held_by(index: str) -> set[str]:
    """The columns of PostgreSQL's `index`, its key and INCLUDE columns."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT a.attname FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid"
            " JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey)"
            " WHERE c.relname = %s",
            [index],
        )
        return {row[0] for row in cursor.fetchall()}
