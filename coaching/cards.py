"""Cards: how the coach shows a person's nudges — one card per rule, not one per lead.

A Nudge row stays per subject (its key, idempotency and resolution are unchanged); this module
only groups and ranks them for reading. A card holds its rule's subjects (leads, reports,
reps) ranked by what matters — a tender or close date near, then value, a chicken-rib lead,
then how long it has waited —, shows the top few and folds the rest ("and 16 more"), and says
the rule's advice once. A card's title carries the count (the playbook's per-rule `card` title
when it has one). Cards about reports (a manager's "reports waiting for you") also name the
oldest and the biggest.

`cards_for` builds a person's cards from their due nudges in one query, however many nudges;
`lead_card` builds the one block a lead's page shows to its viewer; `card_lines` gives the
digest's one-sentence lines, the most important first.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db.models import Min, Q, QuerySet
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import ngettext, pgettext

from coaching import playbook
from coaching.links import action_url
from coaching.models import Nudge
from coaching.selectors import due_q
from crm.models import Lead, User

SHOWN = 3  # subjects shown on a card before the rest fold
NEAR_DAYS = 14  # a tender or close date this close ranks a subject first
DIGEST_LINES = 7  # lines in the digest before "and N more"


@dataclass(frozen=True)
class CardItem:
    """One subject on a card: its nudge, its own one-line title, the facts that ranked it."""

    nudge: Nudge
    title: str
    action_url: str
    tags: tuple[str, ...]
    rank: tuple[Any, ...]
    tags_text: str = ""  # the facts as one phrase, joined the reader's way ("、" in Chinese)


@dataclass(frozen=True)
class Card:
    """One rule's advice for one person, with its subjects ranked."""

    rule_id: str
    title: str
    advice: str
    action_label: str
    priority: int
    items: list[CardItem]
    summary: str = ""
    audience: str = ""
    nudge_ids: list[int] = field(default_factory=list)

    @property
    def count(self) -> int:
        return len(self.items)

    @property
    def top(self) -> CardItem:
        return self.items[0]

    @property
    def action_url(self) -> str:
        """The card's "do it": the most important subject's action."""
        return self.top.action_url

    @property
    def shown(self) -> list[CardItem]:
        return self.items[:SHOWN]

    @property
    def folded(self) -> list[CardItem]:
        return self.items[SHOWN:]

    @property
    def more(self) -> int:
        return max(self.count - SHOWN, 0)

    @property
    def more_label(self) -> str:
        return more_label(self.more)

    @property
    def rank(self) -> tuple[Any, ...]:
        return (-self.priority, self.top.rank, -self.count)


def more_label(n: int) -> str:
    """ "and 16 more" / "还有 16 个"."""
    return ngettext("and %(n)s more", "and %(n)s more", n) % {"n": n}


# --- Ranking -----------------------------------------------------------------------------------


def _subject_lead(nudge: Nudge) -> Lead | None:
    if nudge.lead_id:
        return nudge.lead
    if nudge.report_id and nudge.report is not None:
        return nudge.report.lead
    return None


def _deadline(lead: Lead | None, today: dt.date) -> tuple[str, dt.date] | None:
    """The nearest tender or close date still ahead, and which it is."""
    if lead is None:
        return None
    dates = [
        (kind, day)
        for kind, day in (("tender", lead.tender_date), ("close", lead.expected_close))
        if day is not None and day >= today
    ]
    return min(dates, key=lambda d: d[1]) if dates else None


def money(value: Decimal | int | None, currency: str = "CNY") -> str:
    symbol = {"CNY": "¥", "USD": "$", "EUR": "€"}.get(currency, currency + " ")
    return f"{symbol}{int(value or 0):,}"


def _waiting_days(nudge: Nudge, now: dt.datetime) -> int:
    if nudge.report_id and nudge.report is not None and nudge.report.submitted_at:
        return (now - nudge.report.submitted_at).days
    days = nudge.context.get("days")
    return int(days) if isinstance(days, int) else (now - nudge.created_at).days


def rank(nudge: Nudge, *, today: dt.date, now: dt.datetime) -> tuple[Any, ...]:
    """What matters first: a deadline near (the nearest first), then value, a chicken-rib
    lead, then how long it has waited. Smaller sorts first."""
    lead = _subject_lead(nudge)
    deadline = _deadline(lead, today)
    near = deadline is not None and (deadline[1] - today).days <= NEAR_DAYS
    days_left = (deadline[1] - today).days if near and deadline else 0
    value = int(lead.value or 0) if lead is not None else 0
    rib = bool(lead and lead.is_chicken_rib)
    return (0 if near else 1, days_left, -value, 0 if rib else 1, -_waiting_days(nudge, now))


def _tags(nudge: Nudge, today: dt.date) -> tuple[str, ...]:
    """The facts that ranked the subject, in the reader's words."""
    lead = _subject_lead(nudge)
    if lead is None:
        return ()
    tags: list[str] = []
    deadline = _deadline(lead, today)
    if deadline is not None and (deadline[1] - today).days <= NEAR_DAYS:
        days = (deadline[1] - today).days
        if deadline[0] == "tender":
            tags.append(
                _("tender today")
                if days == 0
                else ngettext("tender in %(n)s day", "tender in %(n)s days", days) % {"n": days}
            )
        else:
            tags.append(
                _("closes today")
                if days == 0
                else ngettext("closes in %(n)s day", "closes in %(n)s days", days) % {"n": days}
            )
    if lead.value:
        tags.append(money(lead.value, lead.currency))
    if lead.is_chicken_rib:
        tags.append(_("chicken-rib"))
    return tuple(tags)


# --- Building cards ----------------------------------------------------------------------------


def _item(nudge: Nudge, rule: playbook.Rule | None, language: str, **clock: Any) -> CardItem:
    if rule is None:
        return CardItem(nudge, nudge.rule_id, action_url(nudge, "lead"), (), rank(nudge, **clock))
    tags = _tags(nudge, clock["today"])
    return CardItem(
        nudge=nudge,
        title=rule.text("title", language, nudge.context),
        action_url=action_url(nudge, rule.action_target),
        tags=tags,
        rank=rank(nudge, **clock),
        tags_text=pgettext("between list items", ", ").join(tags),
    )


def _card_title(rule: playbook.Rule, items: list[CardItem], language: str) -> str:
    """One subject: its own title. Several: the playbook's card title with the count, or the
    top subject's title and how many more."""
    if len(items) == 1:
        return items[0].title
    card_title: dict[str, str] | None = getattr(rule, "card_title", None)
    context = dict(items[0].nudge.context) | {"count": len(items)}
    if card_title:
        lang = language if language in card_title else "en"
        return card_title[lang].format_map(_Fill(context))
    return _("%(title)s, %(more)s") % {"title": items[0].title, "more": more_label(len(items) - 1)}


class _Fill(dict[str, Any]):
    def __missing__(self, key: str) -> str:
        return "…"


def _report_summary(items: list[CardItem], now: dt.datetime) -> str:
    """For cards about reports: the oldest and the biggest, by name."""
    reports = [i.nudge.report for i in items if i.nudge.report is not None]
    if len(reports) < 2:
        return ""
    oldest = min(reports, key=lambda r: r.submitted_at or now)
    biggest = max(reports, key=lambda r: (r.lead.value or 0) if r.lead else 0)
    days = (now - (oldest.submitted_at or now)).days
    parts = [
        ngettext(
            "oldest: %(name)s's, waiting %(days)s day",
            "oldest: %(name)s's, waiting %(days)s days",
            days,
        )
        % {"name": oldest.author, "days": days}
    ]
    if biggest.lead is not None and biggest.lead.value:
        parts.append(
            _("biggest: %(company)s, %(value)s")
            % {"company": biggest.lead.company, "value": money(biggest.lead.value)}
        )
    return _("; ").join(parts)


def build_cards(
    nudges: Iterable[Nudge], *, language: str, now: dt.datetime | None = None
) -> list[Card]:
    """Group nudges into cards, one per rule, each ranked inside; cards most important first;
    every text in `language`."""
    with translation.override(language):
        return _build_cards(nudges, language=language, now=now or timezone.now())


def _build_cards(nudges: Iterable[Nudge], *, language: str, now: dt.datetime) -> list[Card]:
    clock = {"today": timezone.localdate(now), "now": now}
    rulebook = playbook.rules()
    groups: dict[str, list[Nudge]] = defaultdict(list)
    for nudge in nudges:
        groups[nudge.rule_id].append(nudge)
    cards = []
    for rule_id, members in groups.items():
        rule = rulebook.get(rule_id)
        items = sorted((_item(n, rule, language, **clock) for n in members), key=lambda i: i.rank)
        cards.append(
            Card(
                rule_id=rule_id,
                title=_card_title(rule, items, language) if rule else rule_id,
                advice=rule.text("advice", language, items[0].nudge.context) if rule else "",
                action_label=rule.label(language) if rule else "",
                priority=rule.priority if rule else 0,
                items=items,
                summary=_report_summary(items, now),
                audience=rule.audience if rule else "",
                nudge_ids=[i.nudge.pk for i in items],
            )
        )
    cards.sort(key=lambda c: c.rank)
    return cards


def _due(user: User, now: dt.datetime) -> QuerySet[Nudge]:
    return (
        Nudge.objects.filter(due_q(now), recipient=user)
        .select_related("lead", "report", "report__lead", "report__author")
        .order_by()
    )


def cards_for(*, user: User, language: str, now: dt.datetime | None = None) -> list[Card]:
    """The person's open cards (due nudges, grouped and ranked), in one query."""
    now = now or timezone.now()
    return build_cards(_due(user, now), language=language, now=now)


def open_card_count(*, user: User, now: dt.datetime | None = None) -> int:
    """How many cards the person has open (the bell's number), in one query."""
    now = now or timezone.now()
    return (
        Nudge.objects.filter(due_q(now), recipient=user)
        .order_by()
        .values("rule_id")
        .distinct()
        .count()
    )


def lead_card(*, user: User, lead_id: int, language: str) -> list[CardItem]:
    """The viewer's due nudges on one lead, as the one block its page shows (most important
    rule first), in one query."""
    now = timezone.now()
    return _lead_items(_due(user, now).filter(lead_id=lead_id), language, now)


def lead_card_and_count(*, user: User, lead_id: int, language: str) -> tuple[int, list[CardItem]]:
    """The bell's count (open_card_count) and the lead's block (lead_card) in one query, for
    the lead's page: the lead's due nudges and the first due nudge of each of the viewer's
    rules; the rules among those are the open cards."""
    now = timezone.now()
    first_of_each_rule = (
        Nudge.objects.filter(due_q(now), recipient=user)
        .order_by()
        .values("rule_id")
        .annotate(first=Min("pk"))
        .values("first")
    )
    nudges = list(_due(user, now).filter(Q(lead_id=lead_id) | Q(pk__in=first_of_each_rule)))
    count = len({n.rule_id for n in nudges})
    return count, _lead_items([n for n in nudges if n.lead_id == lead_id], language, now)


def _lead_items(nudges: Iterable[Nudge], language: str, now: dt.datetime) -> list[CardItem]:
    rulebook = playbook.rules()
    clock = {"today": timezone.localdate(now), "now": now}
    # By id first, so that nudges ranked alike keep one order whichever query read them.
    ordered = sorted(nudges, key=lambda n: n.pk)
    with translation.override(language):
        items = [_item(n, rulebook.get(n.rule_id), language, **clock) for n in ordered]
    items.sort(key=lambda i: (-i.nudge.priority, i.rank))
    return items


# --- The digest's lines ------------------------------------------------------------------------


@dataclass(frozen=True)
class Line:
    """One sentence of the digest, with its link."""

    text: str
    url: str
    rule_id: str


def card_line(card: Card) -> Line:
    """A card as one sentence: its title, and which subject to start with."""
    if card.count == 1:
        text = card.title
    else:
        start = card.top.title
        if card.top.tags:
            start = _("%(first)s (%(facts)s)") % {"first": start, "facts": card.top.tags_text}
        text = _("%(card)s. Start with: %(first)s") % {"card": card.title, "first": start}
    return Line(text=text, url=card.action_url, rule_id=card.rule_id)


def card_lines(cards: Sequence[Card], limit: int = DIGEST_LINES) -> tuple[list[Line], int]:
    """At most `limit` lines, the most important first, and how many cards did not fit."""
    return [card_line(c) for c in cards[:limit]], max(len(cards) - limit, 0)
