"""What a chat message says (issue 17), in its reader's language: short, a title, one sentence,
the action link into Kaopu (KAOPU_SITE_URL). A push is the nudge's card (a burst of one rule
folded into it says how many), a digest its at most seven lines, a credit post the rep's words
and who was credited, the weekly summary the team's week in four figures.

A person's channel speaks the person's language (User.language); a team's robot the team
manager's.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from django.conf import settings
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from coaching import cards
from coaching.chat_models import ChatKind, ChatMessage
from coaching.delivery.chat_platforms import ChatText
from coaching.delivery.messages import digest_lines, folded_burst
from coaching.models import Nudge
from crm.models import User


def chat_burst(row: ChatMessage, now: dt.datetime | None = None) -> list[Nudge]:
    """A push's burst on a robot: the nudges folded into it with no message of their own on
    this channel."""
    until = row.claimed_at or now or timezone.now()
    return folded_burst(row.nudge, until, ~Q(chat_messages__channel_id=row.channel_id))


SENTENCE_END = re.compile(r"(?<=[。！？])|(?<=[.!?])\s+(?=[A-Z“\"(])")


def first_sentence(text: str) -> str:
    """The advice's first sentence: a chat message is a title, one sentence and a link (the
    rest of the advice is one tap away, on the nudge's page)."""
    parts = [p for p in SENTENCE_END.split(text.strip(), maxsplit=1) if p and p.strip()]
    return parts[0].strip() if parts else text.strip()


def reader(row: ChatMessage) -> User | None:
    """Whose language the message is in: the channel's owner, or the team's manager."""
    channel = row.channel
    if channel.owner_id:
        return channel.owner
    team = channel.team
    return team.manager if team is not None else None


def _site(path: str) -> str:
    return settings.KAOPU_SITE_URL + path


def _instant(row: ChatMessage, language: str) -> ChatText:
    burst: list[Nudge] = getattr(row, "burst", None) or chat_burst(row)
    if not burst and row.nudge is not None:
        burst = [row.nudge]
    card = cards.build_cards(burst, language=language)[0]
    # A rule the playbook no longer has still makes a message every platform takes.
    return ChatText(
        title=card.title,
        sentence=first_sentence(card.advice) or card.title,
        link_label=card.action_label or _("Open Kaopu"),
        link_url=_site(card.action_url),
    )


def _digest(row: ChatMessage) -> ChatText:
    user = row.channel.owner
    assert user is not None
    lines, more = digest_lines(user=user)
    return ChatText(
        title=_("Your Kaopu coaching digest for %(date)s") % {"date": row.digest_date},
        sentence=_("What the coach would do first today:"),
        link_label=_("All your nudges"),
        link_url=_site(reverse("coach-nudges")),
        lines=[(line.text, _site(line.url)) for line in lines],
        more=cards.more_label(more) if more else "",
    )


def _credit(row: ChatMessage) -> ChatText:
    post = row.credit_post
    assert post is not None
    names = "、" if translation.get_language() == "zh-hans" else ", "
    credited = names.join(str(u) for u in post.credited.all())
    body = post.body if len(post.body) <= 280 else post.body[:279] + "…"
    sentence = body
    if credited:
        sentence = _("%(post)s (credited: %(names)s)") % {"post": body, "names": credited}
    return ChatText(
        title=_("%(author)s gives credit for a win") % {"author": post.author},
        sentence=sentence,
        link_label=_("Open the team feed"),
        link_url=_site(reverse("coach-feed")),
    )


def _summary(row: ChatMessage) -> ChatText:
    from coaching.cockpit.figures import team_rows
    from crm.models import Team

    team = row.channel.team
    assert team is not None and row.week is not None
    end = dt.datetime.combine(row.week + dt.timedelta(days=7), dt.time(), tzinfo=dt.UTC)
    figures = team_rows(teams=Team.objects.filter(pk=team.pk), days=7, now=end)[0]
    sentence = _(
        "Last week: %(won)s won, %(reports)s reports, %(handed)s leads handed out; "
        "%(stalled)s leads stalled now."
    ) % {
        "won": figures.handed_won,
        "reports": figures.reports,
        "handed": figures.handed_out,
        "stalled": figures.stalled,
    }
    return ChatText(
        title=_("%(team)s: the week of %(date)s") % {"team": team, "date": row.week},
        sentence=sentence,
        link_label=_("Open the team page"),
        link_url=_site(reverse("coach-team-detail", args=[team.pk])),
    )


def _test() -> ChatText:
    return ChatText(
        title=_("Kaopu test message"),
        sentence=_("If you can read this, Kaopu can reach you here."),
        link_label=_("Your notification settings"),
        link_url=_site(reverse("coach-preferences")),
    )


def chat_text(row: ChatMessage) -> ChatText:
    """The message a row carries, in its reader's language."""
    person = reader(row)
    language = (person.language if person else None) or settings.LANGUAGE_CODE
    with translation.override(language):
        if row.kind == ChatKind.INSTANT and row.nudge is not None:
            return _instant(row, language)
        if row.kind == ChatKind.DIGEST:
            return _digest(row)
        if row.kind == ChatKind.CREDIT:
            return _credit(row)
        if row.kind == ChatKind.SUMMARY:
            return _summary(row)
        return _test()


def describe(text: ChatText) -> dict[str, Any]:
    """The text as plain data (for the README's payload examples and the tests)."""
    return {"title": text.title, "sentence": text.sentence, "link": text.link_url}
