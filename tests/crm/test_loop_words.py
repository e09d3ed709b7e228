"""Pure functions of the loop: asks that hand the work back to the manager (both languages)
and what they cost a report's score; durations and lists as a person writes them in English and
Chinese (crm.templatetags.kaopu_text)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.template import Context, Template
from django.utils import translation

from crm.reporting import HANDS_BACK_PENALTY, ReportParts, assess, hands_work_back
from crm.templatetags.kaopu_text import format_days, format_span, join_words

NEXT_WEEK = dt.date(2025, 3, 10)

HANDS_BACK = [
    pytest.param("Can you call them?", True, id="en-can-you-call"),
    pytest.param("Could you please contact the buyer for me", True, id="en-could-you-contact"),
    pytest.param("What do I do next?", True, id="en-what-do-i-do"),
    pytest.param("what's the next step?", True, id="en-whats-the-next-step"),
    pytest.param("I don't know what to do", True, id="en-dont-know"),
    pytest.param("下一步怎么办", True, id="zh-xiayibu-zenmeban"),
    pytest.param("你帮我打个电话", True, id="zh-ni-bang-wo-da"),
    pytest.param("您帮我联系一下", True, id="zh-nin-bang-wo-lianxi"),
    pytest.param("客户不回复，怎么办？", True, id="zh-zenmeban"),
    pytest.param("您来跟进一下吧", True, id="zh-nin-lai-genjin"),
    pytest.param("Approve a 5% discount for the pilot order by Friday", False, id="en-clear-ask"),
    pytest.param("Call their director with me before the tender", False, id="en-joint-call"),
    pytest.param("Can you approve the budget by Friday?", False, id="en-approval"),
    pytest.param("请您周五前批准 5% 的折扣", False, id="zh-approval"),
    pytest.param("请您下周二陪我去拜访采购总监", False, id="zh-joint-visit"),
    pytest.param("", False, id="empty"),
]


@pytest.mark.parametrize(("ask", "expected"), HANDS_BACK)
def test_asks_that_hand_the_work_back_are_recognised(ask: str, expected: bool) -> None:
    assert hands_work_back(ask) is expected


FULL: dict[str, Any] = {
    "status_now": "Buyer likes the demo.",
    "what_i_did": "Visited the plant.",
    "next_step": "Send the revised quote",
    "next_step_due": NEXT_WEEK,
    "backup_plan": "Offer the starter package.",
}

SCORES = [
    pytest.param(
        "progress",
        FULL | {"ask": "Can you call the buyer for me?", "ask_due": NEXT_WEEK},
        100 - HANDS_BACK_PENALTY,
        ["hands_work_back"],
        id="progress-clear-but-hands-back",
    ),
    pytest.param(
        "progress",
        FULL | {"ask": "下一步怎么办", "ask_due": None},
        100 - 10 - HANDS_BACK_PENALTY,
        ["vague_ask", "hands_work_back"],
        id="progress-zh-vague-and-hands-back",
    ),
    pytest.param(
        "question",
        {"ask": "你帮我打个电话给采购", "status_now": "采购不回消息", "what_i_did": "打了三次"},
        100 - HANDS_BACK_PENALTY,
        ["hands_work_back"],
        id="question-zh-hands-back",
    ),
    pytest.param(
        "escalation",
        {
            "status_now": "Unreachable.",
            "next_step": "Wait at their door Monday",
            "next_step_due": NEXT_WEEK,
            "ask": "What do I do next?",
            "ask_due": NEXT_WEEK,
        },
        100 - HANDS_BACK_PENALTY,
        ["hands_work_back"],
        id="escalation-hands-back",
    ),
    pytest.param(
        "progress",
        FULL | {"ask": "Approve a 5% discount for the pilot", "ask_due": NEXT_WEEK},
        100,
        [],
        id="progress-clear-ask-not-penalised",
    ),
]


@pytest.mark.parametrize(("kind", "parts", "score", "issues"), SCORES)
def test_handing_the_work_back_costs_points_with_the_reason_shown(
    kind: str, parts: dict[str, Any], score: int, issues: list[str]
) -> None:
    quality = assess(ReportParts(kind=kind, **parts))
    assert (quality.score, quality.issues) == (score, issues)


DAYS = [
    pytest.param(0, "0 days", "0 天", id="zero"),
    pytest.param(1, "1 day", "1 天", id="one"),
    pytest.param(75, "75 days", "75 天", id="75"),
    pytest.param(90, "90 days", "90 天", id="90"),
    pytest.param(74 + 30, "3 months 2 weeks", "3 个月零 2 周", id="104"),
    pytest.param(120, "4 months", "4 个月", id="120"),
    pytest.param(365 + 95, "1 year 3 months", "1 年零 3 个月", id="460"),
]


@pytest.mark.parametrize(("days", "english", "chinese"), DAYS)
def test_days_read_as_people_write_them(days: int, english: str, chinese: str) -> None:
    with translation.override("en"):
        assert format_days(days) == english
    with translation.override("zh-hans"):
        assert format_days(days) == chinese
        assert "月，" not in format_days(days)


def test_two_months_two_weeks_never_reads_as_february() -> None:
    with translation.override("zh-hans"):
        text = format_days(2 * 30 + 14 + 30 + 1)  # past the 90 days shown in days
    assert text == "3 个月零 2 周"
    with translation.override("zh-hans"):
        assert format_span(dt.timedelta(hours=5)) == "5 小时"
        assert format_span(dt.timedelta(minutes=3)) == "3 分钟"


def test_lists_use_the_chinese_enumeration_comma() -> None:
    with translation.override("zh-hans"):
        assert join_words(["财务", "法务", "交付"]) == "财务、法务、交付"
    with translation.override("en"):
        assert join_words(["finance", "legal"]) == "finance, legal"


def test_the_filters_in_a_template() -> None:
    template = Template("{% load kaopu_text %}{{ days|duration }}|{{ items|join_list }}")
    with translation.override("zh-hans"):
        html = template.render(Context({"days": 75, "items": ["甲", "乙"]}))
    assert html == "75 天|甲、乙"
