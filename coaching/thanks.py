"""Giving back (ideas I4, I12, I13): thanks after a win, public credit on the team feed, and the
year-end note to the managers and seniors who helped.

Each service writes its rows in one transaction and resolves the nudge that asked for it, so
the advice closes the moment it is followed. Thanks and public credit are heard at once: the
thanked manager gets a thanks_received update and anyone else named in the post a credit_named
one (the playbook's `moment` rules).
"""

from __future__ import annotations

from collections.abc import Sequence

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from coaching.chat import queue_credit_post
from coaching.models import CreditPost, Thanks, ThanksKind
from coaching.nudges import create_nudges, resolve
from coaching.rules import NudgeSpec
from crm.models import Lead, User
from crm.permissions import visible_leads


@transaction.atomic
def thanks_send(
    *,
    author: User,
    lead: Lead,
    body: str,
    reward_note: str = "",
    public_post: str = "",
    credited: Sequence[User] = (),
) -> Thanks:
    """After a win: a private note to the manager who handed the lead down, an optional public
    credit post on the team feed naming who helped, an optional note on sharing the reward."""
    lead = visible_leads(author).select_related("team").get(pk=lead.pk)
    if lead.owner_id != author.pk:
        raise ValidationError(_("Only the lead's owner sends thanks for it."))
    if lead.handed_by_id is None:
        raise ValidationError(_("Nobody handed this lead down; there is no manager to thank."))
    body = body.strip()
    if not body:
        raise ValidationError({"body": _("Write a few words of thanks.")})
    thanks = Thanks.objects.create(
        author=author,
        recipient_id=lead.handed_by_id,
        lead=lead,
        kind=ThanksKind.WIN,
        body=body,
        reward_note=reward_note.strip(),
    )
    named: list[int] = []
    if public_post.strip():
        post = CreditPost.objects.create(
            team=lead.team, author=author, lead=lead, body=public_post.strip()
        )
        people = [u for u in credited if u.pk != author.pk]
        post.credited.set(people or [lead.handed_by_id])
        queue_credit_post(post)  # the team's chat robot carries it too (issue 17)
        named = [u.pk for u in people] or [lead.handed_by_id]
    resolve("thanks_sent", recipient_id=author.pk, lead_id=lead.pk)
    create_nudges(_heard(author=author, lead=lead, thanks=thanks, named=named))
    return thanks


def _heard(*, author: User, lead: Lead, thanks: Thanks, named: Sequence[int]) -> list[NudgeSpec]:
    """The thanked manager hears it at once (credited in public too, when so); everyone else
    named in the public post hears that they were credited."""
    context = {"company": lead.company, "rep": str(author)}
    manager_id = thanks.recipient_id
    specs = [
        NudgeSpec(
            "thanks_received",
            manager_id,
            period=f"t{thanks.pk}",
            lead_id=lead.pk,
            context=context | {"public": manager_id in named},
        )
    ]
    specs += [
        NudgeSpec("credit_named", pk, period=f"t{thanks.pk}", lead_id=lead.pk, context=context)
        for pk in dict.fromkeys(named)
        if pk not in (manager_id, author.pk)
    ]
    return specs


@transaction.atomic
def year_end_note_send(*, author: User, recipient: User, body: str) -> Thanks:
    """A year-end thank-you note to a manager or senior who helped."""
    body = body.strip()
    if not body:
        raise ValidationError({"body": _("Write a few words of thanks.")})
    if recipient.pk == author.pk:
        raise ValidationError(_("Thank someone else."))
    thanks = Thanks.objects.create(
        author=author, recipient=recipient, kind=ThanksKind.YEAR_END, body=body
    )
    resolve("year_end_note_sent", recipient_id=author.pk)
    return thanks
