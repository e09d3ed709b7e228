"""How good is a report? Pure functions: the report's parts in, a score and its weaknesses out.

The shape comes from the coach's talks: status now · what I did · next step (with a date) ·
backup plan · what I need (saying what and by when). An escalation plan is the facts · what I
will do · what I need; a plan with only the facts filled is not a plan. An ask that hands the
work back to the manager ("can you call them?", "下一步怎么办") costs points: the talks want the
rep's own plan and one clear thing only the manager can give.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from django.utils.translation import gettext_lazy

# code → the message shown to the rep before sending (and to the manager afterwards)
ISSUES: dict[str, object] = {
    "no_status": gettext_lazy("Say where things stand now."),
    "no_effort": gettext_lazy("Say what you did since the last report."),
    "no_next_step": gettext_lazy("Say what you will do next."),
    "next_step_without_date": gettext_lazy("Your next step has no date: by when will you do it?"),
    "no_backup": gettext_lazy("No backup plan: what will you do if the next step fails?"),
    "vague_ask": gettext_lazy(
        "Your ask does not say clearly what you need and by when; give both."
    ),
    "facts_only": gettext_lazy(
        "Only the facts are filled in. A plan says what you will do and what you need."
    ),
    "no_question": gettext_lazy("Write the question you want your manager's advice on."),
    "no_lesson": gettext_lazy("Say what you would do differently next time."),
    "hands_work_back": gettext_lazy(
        "Asks the manager to do the work: say what you will do yourself, and ask only for what "
        "you cannot do alone."
    ),
}

# Points an ask that hands the work back costs (the score never goes below 0).
HANDS_BACK_PENALTY = 20

# Asks that give the rep's work to the manager, in English and Chinese. Asking for a joint
# visit ("come with me") or for a resource is not handing work back.
_HANDS_BACK_EN = re.compile(
    r"\b(?:can|could|would|will)\s+you\s+(?:please\s+|just\s+)?"
    r"(?:call|phone|ring|contact|e-?mail|talk\s+to|speak\s+to|reach\s+out|handle|deal\s+with"
    r"|follow\s+up|take\s+care\s+of|sort\s+(?:it|this|them)\s+out)\b"
    r"|\bplease\s+(?:call|phone|contact|handle|deal\s+with|talk\s+to)\b"
    r"|\bwhat\s+(?:do|should|shall|can)\s+i\s+do\b"
    r"|\bwhat(?:'s|\s+is)\s+(?:my|the)\s+next\s+step\b"
    r"|\bwhat\s+now\b"
    r"|\bi\s+don'?t\s+know\s+what\s+to\s+do\b"
    r"|\btell\s+me\s+what\s+to\s+do\b",
    re.IGNORECASE,
)
_HANDS_BACK_ZH = re.compile(
    r"(?:你|您)来?帮我?(?:打|联系|沟通|搞定|处理|跟进|谈|问)"
    r"|帮我(?:打|联系|沟通|搞定|处理|跟进|谈一下)"
    r"|(?:你|您)来?(?:打个电话|联系一下|沟通一下|处理一下|跟进一下|谈一下)"
    r"|怎么办"
    r"|(?:该|要|应该)怎么(?:做|弄|搞|跟)"
    r"|下一步(?:该|要)?(?:做什么|干什么|干嘛)"
    r"|不知道(?:该|要)?怎么"
)


def hands_work_back(text: str) -> bool:
    """True when an ask gives the rep's own work to the manager ("can you call them?",
    "what do I do next?", "下一步怎么办", "你帮我打个电话", "您帮我联系一下")."""
    text = " ".join((text or "").split())
    return bool(text) and bool(_HANDS_BACK_EN.search(text) or _HANDS_BACK_ZH.search(text))


# Each kind's parts and their weight (out of 100).
WEIGHTS: dict[str, dict[str, int]] = {
    "progress": {
        "status_now": 20,
        "what_i_did": 20,
        "next_step": 20,
        "next_step_due": 15,
        "backup_plan": 15,
        "ask": 10,
    },
    "escalation": {"status_now": 25, "next_step": 30, "next_step_due": 15, "ask": 30},
    "question": {"ask": 50, "status_now": 30, "what_i_did": 20},
    "loss_review": {"status_now": 35, "what_i_did": 30, "next_step": 35},
}

MIN_ASK_LENGTH = 8


@dataclass(frozen=True)
class ReportParts:
    kind: str
    status_now: str = ""
    what_i_did: str = ""
    next_step: str = ""
    next_step_due: dt.date | None = None
    backup_plan: str = ""
    ask: str = ""
    ask_due: dt.date | None = None


@dataclass(frozen=True)
class Quality:
    score: int
    issues: list[str]


def _filled(text: str) -> bool:
    return bool(text and text.strip())


def assess(parts: ReportParts) -> Quality:
    """Score a report out of 100 and list its weaknesses, in the order a rep should fix them."""
    weights = WEIGHTS.get(parts.kind, WEIGHTS["progress"])
    ask_given = _filled(parts.ask)
    ask_clear = ask_given and len(parts.ask.strip()) >= MIN_ASK_LENGTH and parts.ask_due is not None
    earned = {
        "status_now": _filled(parts.status_now),
        "what_i_did": _filled(parts.what_i_did),
        "next_step": _filled(parts.next_step),
        "next_step_due": _filled(parts.next_step) and parts.next_step_due is not None,
        "backup_plan": _filled(parts.backup_plan),
        # No ask is fine in a progress report; a vague one is not.
        "ask": ask_clear or (parts.kind == "progress" and not ask_given),
    }
    if parts.kind == "question":
        earned["ask"] = ask_given
    score = sum(weight for part, weight in weights.items() if earned[part])

    issues: list[str] = []
    if not earned["status_now"]:
        issues.append("no_status")
    if parts.kind == "progress" and not earned["what_i_did"]:
        issues.append("no_effort")
    if parts.kind == "question" and not ask_given:
        issues.append("no_question")
    if parts.kind in ("progress", "escalation"):
        if not earned["next_step"]:
            issues.append("no_next_step")
        elif parts.next_step_due is None:
            issues.append("next_step_without_date")
    if parts.kind == "progress" and not earned["backup_plan"]:
        issues.append("no_backup")
    if (parts.kind == "escalation" and not ask_given) or (
        ask_given and not ask_clear and parts.kind != "question"
    ):
        issues.append("vague_ask")
    if parts.kind == "loss_review" and not earned["next_step"]:
        issues.append("no_lesson")
    if (
        parts.kind == "escalation"
        and earned["status_now"]
        and not earned["next_step"]
        and not ask_given
    ):
        issues.insert(0, "facts_only")
        score = min(score, weights["status_now"])
    if ask_given and hands_work_back(parts.ask):
        issues.append("hands_work_back")
        score = max(0, score - HANDS_BACK_PENALTY)
    return Quality(score=score, issues=issues)


# A lead worth at least this much is a big deal: the report form opens its big-deal parts
# (concessions, departments to align with) by itself. The coach's big-deal rule has its own
# per-team threshold; this default matches the playbook's.
BIG_DEAL_VALUE = 1_000_000


def is_big_deal(lead: object) -> bool:
    """True for a lead worth at least `settings.KAOPU_BIG_DEAL_VALUE` (default 1,000,000)."""
    from django.conf import settings

    threshold = getattr(settings, "KAOPU_BIG_DEAL_VALUE", BIG_DEAL_VALUE)
    return (getattr(lead, "value", 0) or 0) >= threshold


def issue_label(code: str) -> str:
    return str(ISSUES.get(code, code))


def report_due_days(*, close_or_tender: dt.date | None, today: dt.date) -> int:
    """Days a lead may go without a progress report: 7, or 3 when a deadline is near."""
    if close_or_tender is not None and today <= close_or_tender <= today + dt.timedelta(days=14):
        return 3
    return 7


def was_on_time(*, previous: dt.datetime | None, now: dt.datetime, allowed_days: int) -> bool:
    """A report is on time when it comes within the allowed days of the last one (or of the
    hand-off, for the first report on a lead)."""
    if previous is None:
        return True
    return now - previous <= dt.timedelta(days=allowed_days)
