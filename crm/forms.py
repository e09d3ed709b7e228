"""Forms: they parse and validate input; services decide and write.

A business rule (a chicken-rib lead needs a reason, a lost lead a reason, no activity in the
future, a parked lead a date...) is checked once, in the service; the view shows the service's
refusal on the form with crm.web.apply_errors, next to the field it names.
"""

from __future__ import annotations

from typing import cast
from zoneinfo import available_timezones

from django import forms
from django.db.models import QuerySet
from django.utils.translation import gettext_lazy as _

from crm.models import (
    ActivityKind,
    AskKind,
    AskState,
    ChickenRibReason,
    Contact,
    Language,
    Lead,
    Outcome,
    PlanDecision,
    Report,
    ReportKind,
    Source,
    Team,
    User,
)
from crm.pipeline import Stage, next_stages
from crm.services import EDITABLE_FIELDS
from crm.services.reports import ASK_STEPS

COMMON_TIME_ZONES = [
    "Asia/Shanghai",
    "Asia/Hong_Kong",
    "Asia/Taipei",
    "Asia/Singapore",
    "Asia/Tokyo",
    "Europe/Berlin",
    "Europe/London",
    "America/New_York",
    "America/Los_Angeles",
    "UTC",
]


class DateInput(forms.DateInput):
    input_type = "date"

    def __init__(self, attrs: dict[str, str] | None = None) -> None:
        super().__init__(attrs=attrs, format="%Y-%m-%d")


class DateTimeInput(forms.DateTimeInput):
    input_type = "datetime-local"

    def __init__(self, attrs: dict[str, str] | None = None) -> None:
        super().__init__(attrs=attrs, format="%Y-%m-%dT%H:%M")


class LeadForm(forms.ModelForm):
    """The lead's editable fields, and only those: owner, team and stage cannot be posted."""

    chicken_rib_reasons = forms.MultipleChoiceField(
        label=_("Chicken-rib reasons"),
        choices=ChickenRibReason.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    team = forms.ModelChoiceField(label=_("Team"), queryset=Team.objects.none(), required=False)

    class Meta:
        model = Lead
        fields = EDITABLE_FIELDS
        widgets = {
            "expected_close": DateInput(),
            "tender_date": DateInput(),
            "next_step_due": DateInput(),
            "notes": forms.Textarea(attrs={"rows": 4}),
        }

    def __init__(self, *args: object, user: User, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        # Only an admin creating a lead picks its team; everyone else's is implied.
        if user.is_admin_role and self.instance.pk is None:
            cast(forms.ModelChoiceField, self.fields["team"]).queryset = Team.objects.all()
            self.fields["team"].required = True
        else:
            del self.fields["team"]
        self.fields["value"].widget.attrs["min"] = "0"


class ActivityForm(forms.Form):
    """An activity, and the lead's next step after it (pre-filled with the lead's own, as in
    Pipedrive; left as it is, the lead's next step does not change)."""

    kind = forms.ChoiceField(label=_("Kind"), choices=ActivityKind.choices)
    outcome = forms.ChoiceField(label=_("Outcome"), choices=Outcome.choices)
    happened_at = forms.DateTimeField(
        label=_("When"), widget=DateTimeInput(), required=False, help_text=_("Empty means now.")
    )
    note = forms.CharField(
        label=_("Note"), widget=forms.Textarea(attrs={"rows": 3}), required=False
    )
    next_step = forms.CharField(
        label=_("Next step"),
        max_length=300,
        required=False,
        help_text=_("What will you do next, and by when? You may leave it as it is."),
    )
    next_step_due = forms.DateField(label=_("Next step by"), required=False, widget=DateInput())
    contacts = forms.ModelMultipleChoiceField(
        label=_("With whom"),
        queryset=Contact.objects.none(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )

    def __init__(
        self,
        *args: object,
        lead: Lead | None = None,
        people: list[Contact] | None = None,
        **kwargs: object,
    ) -> None:
        """`people`: the people on the lead when the page has read them already (the lead page
        does, for its "People on this deal"), so the form asks the database nothing."""
        if lead is not None and not args and "initial" not in kwargs:
            kwargs["initial"] = {"next_step": lead.next_step, "next_step_due": lead.next_step_due}
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        # The people on the lead (crm.models.companies); with none, the question is not asked.
        on_lead = Contact.objects.filter(lead_roles__lead=lead) if lead is not None else None
        if on_lead is None or not (on_lead.exists() if people is None else people):
            del self.fields["contacts"]
            return
        field = self.fields["contacts"]
        field.queryset = on_lead.order_by("name", "id")  # type: ignore[attr-defined]
        if people is not None:  # the checkboxes the queryset would give, from the list
            choice = field.iterator(field).choice  # type: ignore[attr-defined]
            people = sorted(people, key=lambda c: (c.name, c.pk))
            field.choices = [choice(c) for c in people]  # type: ignore[attr-defined]


class StageForm(forms.Form):
    to_stage = forms.ChoiceField(label=_("Move to"), choices=Stage.choices)
    reason = forms.CharField(label=_("Reason (needed when lost)"), max_length=300, required=False)

    def __init__(self, *args: object, lead: Lead, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.lead = lead
        # Any stage parses; the pipeline (the service) says which moves are allowed, in words.
        # The menu offers only the allowed ones.
        self.fields["to_stage"].widget.choices = next_stages(lead.stage)  # type: ignore[attr-defined]
        self.allowed = next_stages(lead.stage)


class HandOffForm(forms.Form):
    leads = forms.TypedMultipleChoiceField(label=_("Leads"), coerce=int, choices=())
    to_user = forms.ModelChoiceField(label=_("Hand to"), queryset=User.objects.none())
    note = forms.CharField(
        label=_("Note for the rep"),
        max_length=500,
        required=False,
        widget=forms.TextInput(attrs={"placeholder": _("e.g. practice lead; report weekly")}),
    )

    def __init__(
        self, *args: object, lead_choices: list[int], reps: QuerySet[User], **kwargs: object
    ) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        cast(forms.ChoiceField, self.fields["leads"]).choices = [
            (pk, str(pk)) for pk in lead_choices
        ]
        cast(forms.ModelChoiceField, self.fields["to_user"]).queryset = reps
        self.fields["leads"].error_messages["required"] = _("Pick at least one lead to hand down.")
        self.fields["leads"].error_messages["invalid_choice"] = _(
            "Some of the chosen leads are not in your team."
        )
        self.fields["to_user"].error_messages["invalid_choice"] = _(
            "You can only hand leads to a rep of your own team."
        )


class LeadFilterForm(forms.Form):
    q = forms.CharField(label=_("Search"), required=False, max_length=100)
    stage = forms.ChoiceField(
        label=_("Stage"),
        required=False,
        choices=[("", _("Any stage")), ("open", _("Open")), *Stage.choices],
    )
    owner = forms.ChoiceField(label=_("Owner"), required=False)
    source = forms.ChoiceField(
        label=_("Source"), required=False, choices=[("", _("Any source")), *Source.choices]
    )
    chicken_rib = forms.ChoiceField(
        label=_("Chicken-rib"),
        required=False,
        choices=[
            ("", _("All leads")),
            ("yes", _("Chicken-rib only")),
            ("no", _("Not chicken-rib")),
        ],
    )
    view = forms.ChoiceField(
        label=_("Needs attention"),
        required=False,
        choices=[("", _("Everything")), ("due", _("Next step due")), ("stalled", _("Stalled"))],
    )
    sort = forms.ChoiceField(
        label=_("Sort by"),
        required=False,
        choices=[
            ("updated", _("Recently updated")),
            ("company", _("Company A–Z")),
            ("-value", _("Value, highest first")),
            ("value", _("Value, lowest first")),
            ("due", _("Next step due")),
            ("close", _("Expected close")),
            ("activity", _("Last activity")),
            ("stage", _("Stage")),
        ],
    )

    def __init__(self, *args: object, owners: list[tuple[str, str]], **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        cast(forms.ChoiceField, self.fields["owner"]).choices = [
            ("", _("Anyone")),
            ("none", _("Unassigned")),
            *owners,
        ]


class ProfileForm(forms.Form):
    language = forms.ChoiceField(label=_("Language"), choices=Language.choices)
    time_zone = forms.ChoiceField(label=_("Time zone"))

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        zones = sorted(available_timezones())
        ordered = COMMON_TIME_ZONES + [z for z in zones if z not in COMMON_TIME_ZONES]
        cast(forms.ChoiceField, self.fields["time_zone"]).choices = [(z, z) for z in ordered]


# Each kind of report reads its parts under its own names (the coach's shapes).
REPORT_LABELS: dict[str, dict[str, object]] = {
    ReportKind.PROGRESS: {
        "status_now": _("Status now"),
        "what_i_did": _("What I did"),
        "next_step": _("Next step"),
        "next_step_due": _("Next step by"),
        "backup_plan": _("Backup plan if it fails"),
        "ask_kind": _("Kind of ask"),
        "ask": _("What I need from my manager (optional)"),
        "ask_due": _("Needed by"),
    },
    ReportKind.ESCALATION: {
        "status_now": _("1. The facts"),
        "next_step": _("2. Given the facts, what I will do"),
        "next_step_due": _("By when"),
        "ask_kind": _("Kind of ask"),
        "ask": _("3. What I need from you"),
        "ask_due": _("Needed by"),
    },
    ReportKind.QUESTION: {
        "ask": _("My question"),
        "status_now": _("The situation"),
        "what_i_did": _("What I have tried"),
        "ask_due": _("I need an answer by (optional)"),
    },
    ReportKind.LOSS_REVIEW: {
        "status_now": _("What happened"),
        "what_i_did": _("Why we lost, honestly"),
        "next_step": _("What I will do differently"),
    },
}


# The optional parts folded under the main ones: the big-deal parts (I14) on a lead's progress
# report or plan, and "what I learned" (I12) on the weekly update (a progress report on no lead).
BIG_DEAL_PARTS: dict[str, object] = {
    "concessions": _("Terms or price conceded"),
    "departments": _("Departments to align with"),
}
BIG_DEAL_HELP: dict[str, object] = {
    "concessions": _(
        "Which terms, service or price have you offered or conceded? Your manager answers for them."
    ),
    "departments": _(
        "Which departments must agree or deliver (finance, legal, delivery…), and where do "
        "they stand?"
    ),
}
LEARNING_PART: dict[str, object] = {"learning": _("What I learned (思想汇报)")}
LEARNING_HELP = _(
    "Optional: what you learned this week, from a customer, a colleague or your manager, and "
    "what you will do differently."
)


class ReportForm(forms.ModelForm):
    """The report's parts; the author, team, lead and state are never posted."""

    report_id = forms.IntegerField(widget=forms.HiddenInput, required=False)

    class Meta:
        model = Report
        fields = (
            "kind",
            "status_now",
            "what_i_did",
            "next_step",
            "next_step_due",
            "backup_plan",
            "ask_kind",
            "ask",
            "ask_due",
            "concessions",
            "departments",
            "learning",
            "share_with_director",
        )
        widgets = {
            "kind": forms.HiddenInput,
            "status_now": forms.Textarea(attrs={"rows": 3}),
            "what_i_did": forms.Textarea(attrs={"rows": 3}),
            "next_step": forms.Textarea(attrs={"rows": 2}),
            "backup_plan": forms.Textarea(attrs={"rows": 2}),
            "ask": forms.Textarea(attrs={"rows": 2}),
            "concessions": forms.Textarea(attrs={"rows": 2}),
            "departments": forms.Textarea(attrs={"rows": 2}),
            "learning": forms.Textarea(attrs={"rows": 3}),
            "next_step_due": DateInput(),
            "ask_due": DateInput(),
            "ask_kind": forms.RadioSelect,
        }

    def __init__(self, *args: object, kind: str, on_lead: bool = True, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        labels = dict(REPORT_LABELS.get(kind, REPORT_LABELS[ReportKind.PROGRESS]))
        if not on_lead:
            labels.pop("ask_kind", None)  # a joint visit is asked for on a lead
        self.folded: dict[str, object] = {}
        if on_lead and kind in (ReportKind.PROGRESS, ReportKind.ESCALATION):
            self.folded = dict(BIG_DEAL_PARTS)
        elif not on_lead and kind == ReportKind.PROGRESS:
            self.folded = dict(LEARNING_PART)
        shown = labels | self.folded
        for name in list(self.fields):
            if name in ("kind", "report_id", "share_with_director"):
                continue
            if name not in shown:
                del self.fields[name]
            else:
                self.fields[name].label = shown[name]  # type: ignore[assignment]
        for name, text in BIG_DEAL_HELP.items():
            if name in self.fields:
                self.fields[name].help_text = text  # type: ignore[assignment]
        if "learning" in self.fields:
            self.fields["learning"].help_text = LEARNING_HELP  # type: ignore[assignment]
        if "ask_kind" in self.fields:
            field = cast(forms.ChoiceField, self.fields["ask_kind"])
            field.choices = AskKind.choices
            field.required = False
        # Order the visible parts as the kind reads them.
        order = ["kind", "report_id", *labels, *self.folded, "share_with_director"]
        self.order_fields(order)

    def main_fields(self) -> list[forms.BoundField]:
        """The parts shown open."""
        return [f for f in self.visible_fields() if f.name not in self.folded]

    def folded_fields(self) -> list[forms.BoundField]:
        """The optional parts shown in a fold (big-deal parts, or what I learned)."""
        return [f for f in self.visible_fields() if f.name in self.folded]


class ReplyForm(forms.Form):
    body = forms.CharField(
        label=_("Reply"), widget=forms.Textarea(attrs={"rows": 3}), max_length=4000
    )


# The manager's answers to an ask, in the order an ask moves.
ASK_ANSWERS: list[tuple[str, object]] = [
    (AskState.ACCEPTED, _("Accepted")),
    (AskState.IN_PROGRESS, _("I'll handle it (我来办)")),
    (AskState.DONE, _("Done")),
    (AskState.DECLINED, _("Decline")),
]


class AskAnswerForm(forms.Form):
    """Answer an ask: accepted, in progress, done or declined (only later steps than now)."""

    state = forms.ChoiceField(label=_("Answer"), choices=ASK_ANSWERS, widget=forms.RadioSelect)
    note = forms.CharField(label=_("Note (needed to decline)"), required=False, max_length=2000)

    def __init__(self, *args: object, current: str = "", **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        if current:
            field = cast(forms.ChoiceField, self.fields["state"])
            field.choices = [
                (value, label)
                for value, label in ASK_ANSWERS
                if ASK_STEPS[value] > ASK_STEPS.get(current, 0)
            ]


class DecisionForm(forms.Form):
    """The manager's decision on a plan; the date is "until" for keep pushing and parking, the
    visit's day for "I'll come with you"."""

    decision = forms.ChoiceField(
        label=_("Decision"), choices=PlanDecision.choices, widget=forms.RadioSelect
    )
    until = forms.DateField(
        label=_("Date"),
        required=False,
        widget=DateInput(),
        help_text=_(
            "Keep pushing until, the day of the joint visit, or park until (needed to park or "
            "to visit)."
        ),
    )
    note = forms.CharField(
        label=_("Note to the rep"), required=False, widget=forms.Textarea(attrs={"rows": 2})
    )
