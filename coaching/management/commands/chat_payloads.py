"""Print the JSON each chat platform receives for three kinds of nudge (README, issue 17).

The nudges are made by the coach itself from a small team written through the CRM's services
(a hand-off, an escalation plan for the manager) plus a stalled-lead finding, then rendered by
coaching.delivery.chat_text and chat_platforms exactly as the worker would; everything is
rolled back afterwards. The DingTalk and Feishu robots are signed with a demo secret at a fixed
moment, so the output is stable. Run on any migrated database:

    python manage.py chat_payloads > /tmp/payloads.md
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from django.core.management.base import BaseCommand
from django.db import transaction
from django.test import override_settings

from coaching.chat_models import ChatChannel, ChatKind, ChatMessage
from coaching.delivery.chat_platforms import payload, signed
from coaching.delivery.chat_text import chat_text
from coaching.models import Nudge, Priority
from coaching.nudges import create_nudges
from coaching.rules import NudgeSpec
from coaching.services import process_pending_events
from crm import services
from crm.models import ReportKind, Role, Source, Team, User

MOMENT = 1_767_225_600  # 2026-01-01 00:00 UTC, for stable signatures
SECRET = "SECdemo0000000000000000000000000000000000000000000000000000000000"
URLS = {
    "wecom": "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=<key>",
    "dingtalk": "https://oapi.dingtalk.com/robot/send?access_token=<token>",
    "feishu": "https://open.feishu.cn/open-apis/bot/v2/hook/<token>",
    "slack": "https://hooks.slack.com/services/<T>/<B>/<token>",
}
LANGUAGE = {"wecom": "zh-hans", "dingtalk": "zh-hans", "feishu": "zh-hans", "slack": "en"}


class Rollback(Exception):
    pass


class Command(BaseCommand):
    help = "Print the JSON each chat platform receives for three kinds of nudge (Markdown)."

    def handle(self, *args: Any, **options: Any) -> None:
        out: list[str] = []
        with override_settings(KAOPU_SITE_URL="https://kaopu.example.com"):
            try:
                with transaction.atomic():
                    out = self._render()
                    raise Rollback
            except Rollback:
                pass
        self.stdout.write("\n".join(out))

    def _people(self, language: str, tag: str) -> tuple[User, User, Any]:
        zh = language == "zh-hans"
        manager = User.objects.create(
            username=f"payload-manager-{tag}",
            first_name="李哥" if zh else "Sarah",
            role=Role.MANAGER,
            language=language,
            email="m@example.com",
        )
        rep = User.objects.create(
            username=f"payload-rep-{tag}",
            first_name="小光" if zh else "Tom",
            role=Role.REP,
            language=language,
            email="r@example.com",
        )
        team = Team.objects.create(name=f"payload team {tag}", manager=manager)
        services.rep_join_team(user=rep, team=team)
        company = "宏达物流集团" if zh else "Northwind Logistics"
        lead = services.lead_create(
            actor=manager, data={"company": company, "value": 380_000, "source": Source.TRADE_SHOW}
        )
        services.lead_hand_off(actor=manager, lead_ids=[lead.pk], to_user=rep, note="")
        draft = services.report_save_draft(
            author=rep,
            lead=lead,
            data={
                "kind": ReportKind.ESCALATION,
                "status_now": "采购不回电话，友商在场。" if zh else "The buyer went quiet.",
                "next_step": "周四去现场蹲点。" if zh else "Wait at their office on Thursday.",
                "next_step_due": dt.date.today() + dt.timedelta(days=3),
                "ask": "下周陪我拜访一次。" if zh else "A joint visit with you next week.",
                "ask_due": dt.date.today() + dt.timedelta(days=7),
            },
        )
        services.report_submit(author=rep, report=draft)
        process_pending_events()
        return manager, rep, lead

    def _render(self) -> list[str]:
        out = []
        for language in ("zh-hans", "en"):
            manager, rep, lead = self._people(language, language)
            create_nudges(
                [
                    NudgeSpec(
                        "stalled_lead",
                        rep.pk,
                        period="payload",
                        lead_id=lead.pk,
                        context={"company": lead.company, "days": 18},
                    )
                ]
            )
            kinds = {
                "A lead handed to you (an event, pushed at once)": Nudge.objects.get(
                    recipient=rep, rule_id="handoff_first_plan"
                ),
                "A stalled lead (a daily check's urgent finding)": Nudge.objects.get(
                    recipient=rep, rule_id="stalled_lead"
                ),
                "A plan waiting for the manager's decision": Nudge.objects.get(
                    recipient=manager, rule_id="plan_decision_due"
                ),
            }
            for title, nudge in kinds.items():
                for platform, lang in LANGUAGE.items():
                    if lang != language:
                        continue
                    out += self._one(title, platform, nudge)
        return out

    def _one(self, title: str, platform: str, nudge: Nudge) -> list[str]:
        secret = SECRET if platform in ("dingtalk", "feishu") else ""
        channel = ChatChannel(
            owner=nudge.recipient, platform=platform, webhook_url=URLS[platform], secret=secret
        )
        row = ChatMessage(
            channel=channel, kind=ChatKind.INSTANT, nudge=nudge, key=f"{nudge.key}|chat1"
        )
        setattr(row, "burst", [nudge])  # noqa: B010 - as the sender sets it
        assert nudge.priority in Priority.values
        url, body = signed(
            platform, URLS[platform], secret, payload(platform, chat_text(row)), now_s=MOMENT
        )
        return [
            f"**{platform}** — {title}: `POST {url}`",
            "",
            "```json",
            json.dumps(body, ensure_ascii=False, indent=2),
            "```",
            "",
        ]
