"""The sales pipeline as data: the stages and which moves between them are allowed.

Every stage change is checked here (`can_move`) and nowhere else; the lead page's stage form
and the board's drag offer or accept only these moves, and each one is a row in the lead's
history.

The moves (issue 18):
- Won and lost are one step from every open stage: a deal closes when the customer says so,
  whatever stage the rep had it at (a loss asks for its reason: crm.services).
- Forward one stage at a time, plus new → qualified (a customer who calls in already knows
  what they want); a skipped stage is a step the team did not take with the customer.
- Back one stage, for a deal that slipped; not further (start it again from there).
- A lost lead reopens as contacted, when the customer comes back; a won lead stays won.
"""

from django.db import models
from django.utils.translation import gettext_lazy as _


class Stage(models.TextChoices):
    NEW = "new", _("New")
    CONTACTED = "contacted", _("Contacted")
    QUALIFIED = "qualified", _("Qualified")
    PROPOSAL = "proposal", _("Proposal")
    NEGOTIATION = "negotiation", _("Negotiation")
    WON = "won", _("Won")
    LOST = "lost", _("Lost")


TRANSITIONS: dict[str, frozenset[str]] = {
    Stage.NEW: frozenset({Stage.CONTACTED, Stage.QUALIFIED, Stage.WON, Stage.LOST}),
    Stage.CONTACTED: frozenset({Stage.QUALIFIED, Stage.NEW, Stage.WON, Stage.LOST}),
    Stage.QUALIFIED: frozenset({Stage.PROPOSAL, Stage.CONTACTED, Stage.WON, Stage.LOST}),
    Stage.PROPOSAL: frozenset({Stage.NEGOTIATION, Stage.QUALIFIED, Stage.WON, Stage.LOST}),
    Stage.NEGOTIATION: frozenset({Stage.WON, Stage.PROPOSAL, Stage.LOST}),
    Stage.WON: frozenset(),
    # A lost lead can be reopened when the customer comes back.
    Stage.LOST: frozenset({Stage.CONTACTED}),
}

OPEN_STAGES: tuple[str, ...] = (
    Stage.NEW,
    Stage.CONTACTED,
    Stage.QUALIFIED,
    Stage.PROPOSAL,
    Stage.NEGOTIATION,
)
CLOSED_STAGES: tuple[str, ...] = (Stage.WON, Stage.LOST)


# Days without an activity after which a card on the board turns amber, and red at twice as
# many (Pipedrive's "rotting"): the early stages are expected to move fastest.
IDLE_DAYS: dict[str, int] = {
    Stage.NEW: 3,
    Stage.CONTACTED: 7,
    Stage.QUALIFIED: 10,
    Stage.PROPOSAL: 10,
    Stage.NEGOTIATION: 7,
}


def idle_level(stage: str, days: int) -> str:
    """ "red" past twice the stage's idle days, "amber" past them, else "" (closed stages: "")."""
    limit = IDLE_DAYS.get(stage)
    if limit is None or days <= limit:
        return ""
    return "red" if days > 2 * limit else "amber"


def can_move(from_stage: str, to_stage: str) -> bool:
    """True when the pipeline allows moving a lead from `from_stage` to `to_stage`."""
    return to_stage in TRANSITIONS.get(from_stage, frozenset())


def next_stages(from_stage: str) -> list[tuple[str, str]]:
    """The stages a lead may move to next, in pipeline order, as (value, label) pairs."""
    allowed = TRANSITIONS.get(from_stage, frozenset())
    return [(value, str(label)) for value, label in Stage.choices if value in allowed]
