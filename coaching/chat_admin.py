"""The admin's view of the chat robots (issue 17): every channel with its state and why it
broke, every message with its state, the failed ones resent with one action. The webhook URL
and the secret are never listed or shown: the change form takes a new one (write-only, checked
like the owner's form) and keeps the stored one when left empty."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from coaching.chat import SIGNED
from coaching.chat_forms import WriteOnlyInput
from coaching.chat_models import ChatChannel, ChatMessage
from coaching.delivery.chat_urls import check_url
from coaching.delivery.outbox import outbox_resend
from crm import audit
from crm.web import current_user


class ChatChannelAdminForm(forms.ModelForm):
    webhook_url = forms.CharField(
        label=_("Webhook address"),
        required=False,
        widget=WriteOnlyInput(attrs={"autocomplete": "off", "size": 60}),
        help_text=_("Leave the address or the secret empty to keep the one saved."),
    )
    secret = forms.CharField(
        label=_("Signing secret (DingTalk, Feishu)"),
        required=False,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"}),
    )

    class Meta:
        model = ChatChannel
        fields = (
            "owner",
            "team",
            "platform",
            "webhook_url",
            "secret",
            "for_pushes",
            "for_digest",
            "state",
            "broken_reason",
        )

    def clean_webhook_url(self) -> str:
        url = (self.cleaned_data.get("webhook_url") or "").strip()
        if not url:
            if not self.instance.webhook_url:
                raise ValidationError(_("Paste the robot's webhook address."))
            return str(self.instance.webhook_url)
        return check_url(url)

    def clean_secret(self) -> str:
        return (self.cleaned_data.get("secret") or "").strip() or str(self.instance.secret or "")

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        entered = (self.data.get("secret") or "").strip()
        if entered and data.get("platform") not in SIGNED:
            self.add_error(
                "secret", _("Only DingTalk and Feishu robots sign. Leave the secret empty.")
            )
        elif data.get("platform") not in SIGNED:
            data["secret"] = ""  # a switch to an unsigned platform drops the stored one
        return data


@admin.register(ChatChannel)
class ChatChannelAdmin(admin.ModelAdmin):
    form = ChatChannelAdminForm
    list_display = (
        "pk",
        "platform",
        "owner",
        "team",
        "masked_url",
        "for_pushes",
        "for_digest",
        "state",
        "broken_reason",
        "broken_at",
    )
    list_filter = ("state", "platform", "for_pushes", "for_digest")
    search_fields = ("owner__username", "team__name", "broken_reason")
    list_select_related = ("owner", "team")
    raw_id_fields = ("owner", "team")

    @admin.display(description=_("webhook URL"))
    def masked_url(self, channel: ChatChannel) -> str:
        return channel.masked_url

    def save_model(self, request: HttpRequest, obj: ChatChannel, form: Any, change: bool) -> None:
        super().save_model(request, obj, form, change)
        audit.record(
            actor=current_user(request),
            action="chat_channel_changed" if change else "chat_channel_added",
            obj=obj,
            summary=str(obj),
        )


@admin.register(ChatMessage)
class ChatMessageAdmin(admin.ModelAdmin):
    list_display = (
        "pk",
        "kind",
        "channel",
        "recipient",
        "state",
        "attempts",
        "not_before",
        "sent_at",
        "fell_back",
        "last_error",
    )
    list_filter = ("state", "kind", "channel__platform", "fell_back")
    search_fields = ("recipient__username", "key", "last_error")
    list_select_related = ("channel", "recipient")
    raw_id_fields = ("channel", "recipient", "nudge", "credit_post")
    date_hierarchy = "created_at"
    readonly_fields = ("claimed_by", "lease_until", "retry_until", "key")
    actions = ("send_again",)

    @admin.action(description=_("Send the selected failed chat messages again"))
    def send_again(self, request: HttpRequest, queryset: QuerySet[ChatMessage]) -> None:
        ids = list(queryset.values_list("pk", flat=True))
        count = outbox_resend(actor=current_user(request), ids=ids, model=ChatMessage)
        self.message_user(
            request,
            _("Failed chat messages sent again: %(count)s") % {"count": count},
            messages.SUCCESS if count else messages.WARNING,
        )
