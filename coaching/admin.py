from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from coaching.chat_admin import ChatChannelAdmin, ChatMessageAdmin  # noqa: F401 - registers
from coaching.delivery.outbox import outbox_resend
from coaching.models import (
    CreditPost,
    NotificationPreference,
    Nudge,
    OutboundEmail,
    RuleSetting,
    Thanks,
)
from crm.web import current_user


@admin.register(Nudge)
class NudgeAdmin(admin.ModelAdmin):
    list_display = (
        "rule_id",
        "recipient",
        "lead",
        "state",
        "priority",
        "delivery",
        "created_at",
        "acted_at",
    )
    list_filter = ("rule_id", "state", "delivery", "priority")
    search_fields = ("rule_id", "recipient__username", "lead__company", "key")
    list_select_related = ("recipient", "lead")
    raw_id_fields = ("recipient", "lead", "report", "subject_user", "digest")
    date_hierarchy = "created_at"


@admin.register(OutboundEmail)
class OutboundEmailAdmin(admin.ModelAdmin):
    list_display = (
        "pk",
        "kind",
        "recipient",
        "state",
        "attempts",
        "not_before",
        "sent_at",
        "last_error",
    )
    list_filter = ("state", "kind")
    search_fields = ("recipient__username", "recipient__email", "last_error")
    list_select_related = ("recipient",)
    raw_id_fields = ("recipient", "nudge")
    date_hierarchy = "created_at"
    readonly_fields = ("claimed_by", "lease_until", "retry_until")
    actions = ("send_again",)

    @admin.action(description=_("Send the selected failed emails again"))
    def send_again(self, request: HttpRequest, queryset: QuerySet[OutboundEmail]) -> None:
        ids = list(queryset.values_list("pk", flat=True))
        count = outbox_resend(actor=current_user(request), ids=ids)
        self.message_user(
            request,
            ngettext(
                "%(count)d failed email will be sent again.",
                "%(count)d failed emails will be sent again.",
                count,
            )
            % {"count": count},
            messages.SUCCESS if count else messages.WARNING,
        )


@admin.register(RuleSetting)
class RuleSettingAdmin(admin.ModelAdmin):
    list_display = ("team", "rule_id", "enabled", "thresholds", "updated_by", "updated_at")
    list_filter = ("rule_id", "enabled")
    search_fields = ("team__name", "rule_id")


@admin.register(NotificationPreference)
class NotificationPreferenceAdmin(admin.ModelAdmin):
    list_display = (
        "user",
        "daily_push_budget",
        "email_enabled",
        "quiet_start",
        "quiet_end",
        "digest_time",
    )
    search_fields = ("user__username",)


@admin.register(Thanks)
class ThanksAdmin(admin.ModelAdmin):
    list_display = ("author", "recipient", "kind", "lead", "created_at")
    list_filter = ("kind",)
    search_fields = ("author__username", "recipient__username", "body")
    raw_id_fields = ("author", "recipient", "lead")


@admin.register(CreditPost)
class CreditPostAdmin(admin.ModelAdmin):
    list_display = ("author", "team", "lead", "created_at")
    search_fields = ("author__username", "body")
    raw_id_fields = ("author", "lead")
