"""The coach's forms: snooze and dismiss, thanks after a win, the year-end note, the ask for
the next lead, and one's notification preferences. Each says what is wrong in the user's
language; the services decide."""

from __future__ import annotations

import datetime as dt
from typing import cast

from django import forms
from django.db.models import QuerySet
from django.utils.translation import gettext_lazy as _

from coaching.models import NotificationPreference
from crm.models import User


class SnoozeForm(forms.Form):
    PERIODS = [
        ("1d", _("1 day")),
        ("3d", _("3 days")),
        ("1w", _("1 week")),
        ("date", _("Until a date")),
    ]
    period = forms.ChoiceField(label=_("Snooze for"), choices=PERIODS)
    until = forms.DateField(
        label=_("Until"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    reason = forms.CharField(label=_("Reason"), required=False, max_length=300)

    def clean(self) -> dict[str, object]:
        data = super().clean() or {}
        if data.get("period") == "date" and not data.get("until"):
            self.add_error("until", _("Choose the date to snooze until."))
        return data


class DismissForm(forms.Form):
    reason = forms.CharField(label=_("Why dismiss?"), max_length=300)


class ThanksForm(forms.Form):
    body = forms.CharField(
        label=_("Private note to your manager"), widget=forms.Textarea(attrs={"rows": 4})
    )
    loyalty = forms.CharField(
        label=_("A word of loyalty (optional)"),
        help_text=_(
            "Added at the end of your private note. Keep it, put it in your own words, or "
            "clear it if it doesn't sound like you."
        ),
        required=False,
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 2}),
    )
    reward_note = forms.CharField(
        label=_("Sharing the reward (optional)"),
        help_text=_(
            "For example: when the commission comes in, dinner for you and the team is on me."
        ),
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
    )
    post_publicly = forms.BooleanField(
        label=_("Also post a credit on the team feed"), required=False
    )
    public_post = forms.CharField(
        label=_("Public credit post"), required=False, widget=forms.Textarea(attrs={"rows": 3})
    )
    credited = forms.ModelMultipleChoiceField(
        label=_("Who helped"),
        queryset=User.objects.none(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )

    def __init__(self, *args: object, people: QuerySet[User], **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        cast(forms.ModelMultipleChoiceField, self.fields["credited"]).queryset = people

    def clean(self) -> dict[str, object]:
        data = super().clean() or {}
        if data.get("post_publicly") and not (data.get("public_post") or "").strip():
            self.add_error("public_post", _("Write the post, or untick the box."))
        return data


class YearEndForm(forms.Form):
    recipient = forms.IntegerField(widget=forms.HiddenInput)
    body = forms.CharField(label=_("Your note"), widget=forms.Textarea(attrs={"rows": 5}))


class PreferenceForm(forms.ModelForm):
    class Meta:
        model = NotificationPreference
        fields = ("daily_push_budget", "email_enabled", "quiet_start", "quiet_end", "digest_time")
        widgets = {
            "quiet_start": forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
            "quiet_end": forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
            "digest_time": forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
        }

    def clean_daily_push_budget(self) -> int:
        value = self.cleaned_data["daily_push_budget"]
        if value > 50:
            raise forms.ValidationError(_("Choose between 0 and 50."))
        return int(value)


def snooze_until(period: str, until: dt.date | None, now: dt.datetime) -> dt.datetime:
    days = {"1d": 1, "3d": 3, "1w": 7}.get(period)
    if days:
        return now + dt.timedelta(days=days)
    assert until is not None
    return dt.datetime.combine(until, dt.time(8, 0), tzinfo=now.tzinfo)


class NextLeadAskForm(forms.Form):
    note = forms.CharField(
        label=_("A word to your manager (optional)"),
        required=False,
        max_length=300,
        widget=forms.Textarea(attrs={"rows": 2}),
    )
