"""The chat channel form (issue 17): platform, webhook URL, secret, and what the robot gets.
The URL and the secret are write-only: never rendered back into the page, not even after an
error; a blank field on a change keeps what is stored. coaching.chat checks and saves."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from coaching.chat_models import ChatPlatform


class WriteOnlyInput(forms.TextInput):
    """A text field whose value is never written into the page."""

    def format_value(self, value: Any) -> str | None:
        return None


class ChatChannelForm(forms.Form):
    platform = forms.ChoiceField(label=_("Platform"), choices=ChatPlatform.choices)
    webhook_url = forms.CharField(
        label=_("Webhook address"),
        required=False,
        max_length=500,
        widget=WriteOnlyInput(
            attrs={"autocomplete": "off", "spellcheck": "false", "inputmode": "url"}
        ),
        help_text=_("Copy it from the robot's settings in the group chat."),
    )
    secret = forms.CharField(
        label=_("Signing secret (DingTalk, Feishu)"),
        required=False,
        max_length=200,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"}),
        help_text=_("Only if you turned on signing for the robot. It starts with SEC on DingTalk."),
    )
    for_pushes = forms.BooleanField(label=_("Send pushes here"), required=False, initial=True)
    for_digest = forms.BooleanField(label=_("Send the daily digest here"), required=False)


class TeamRobotForm(ChatChannelForm):
    """A team's group robot: credit posts and the weekly summary, no pushes or digest."""

    for_pushes = None  # type: ignore[assignment]
    for_digest = None  # type: ignore[assignment]
