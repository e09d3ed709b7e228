from collections.abc import Iterable
from typing import Any

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from crm.models import (
    Activity,
    Company,
    Contact,
    DomainEvent,
    ImportJob,
    Lead,
    LeadContact,
    LeadEvent,
    Report,
    ReportReply,
    Team,
    TeamMembership,
    User,
    company_name_key,
    tally,
)
from crm.pipeline import CLOSED_STAGES
from crm.services.reports import lead_last_report_refresh


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    list_display = ("username", "display_name", "email", "role", "team", "language", "is_active")
    list_filter = ("role", "team", "language", "is_active", "is_staff")
    search_fields = ("username", "display_name", "first_name", "last_name", "email")
    fieldsets = (
        *(BaseUserAdmin.fieldsets or ()),
        (_("Kaopu"), {"fields": ("display_name", "role", "team", "language", "time_zone")}),
    )
    list_select_related = ("team",)


class MembershipInline(admin.TabularInline):
    model = TeamMembership
    extra = 0
    readonly_fields = ("user", "joined_at", "left_at")
    can_delete = False


@admin.register(Team)
class TeamAdmin(admin.ModelAdmin):
    list_display = ("name", "manager", "director", "created_at")
    search_fields = ("name", "manager__username", "director__username")
    list_select_related = ("manager", "director")
    inlines = [MembershipInline]


@admin.register(TeamMembership)
class TeamMembershipAdmin(admin.ModelAdmin):
    list_display = ("user", "team", "joined_at", "left_at")
    list_filter = ("team",)
    search_fields = ("user__username", "team__name")
    list_select_related = ("user", "team")


class ActivityInline(admin.TabularInline):
    model = Activity
    extra = 0
    fields = ("happened_at", "kind", "outcome", "author", "note")
    readonly_fields = fields
    can_delete = False
    show_change_link = True


@admin.register(Lead)
class LeadAdmin(admin.ModelAdmin):
    list_display = (
        "company",
        "contact_name",
        "stage",
        "value",
        "currency",
        "owner",
        "team",
        "source",
        "is_chicken_rib",
        "next_step_due",
        "updated_at",
    )
    list_filter = ("stage", "source", "is_chicken_rib", "team", "currency")
    search_fields = ("company", "contact_name", "phone", "email")
    list_select_related = ("owner", "team")
    date_hierarchy = "created_at"
    raw_id_fields = ("owner", "handed_by", "created_by", "account")
    # Kept by the report services (the coach's "report due" reads it): a lead form opened before
    # a report was sent must not write the older time back. The latest hand-off's and stage
    # move's times are kept with their history entries by the hand-off and stage services: the
    # +2's hand-offs of the period and the pipeline a week ago find the leads by them.
    readonly_fields = ("last_reported_at", "handed_at", "stage_changed_at")
    inlines = [ActivityInline]

    def save_model(self, request: HttpRequest, obj: Lead, form: Any, change: bool) -> None:
        # Open ⇔ closed_at empty, as the stage service keeps it (My day, the cockpit and the
        # idle indexes rely on it).
        if obj.stage in CLOSED_STAGES:
            if obj.closed_at is None:
                obj.closed_at = timezone.now()
        else:
            obj.closed_at = None
        if change and obj.pk is not None:
            # The form may be stale (opened before a hand-off or a stage move): the lead
            # tally's difference starts from the row as it is now, locked until the commit.
            current = (
                Lead.objects.select_for_update()
                .filter(pk=obj.pk)
                .values(*tally.COUNTED_ATTNAMES)
                .first()
            )
            if current is not None:
                obj._tally_seen = current
        super().save_model(request, obj, form, change)


@admin.register(Activity)
class ActivityAdmin(admin.ModelAdmin):
    list_display = ("lead", "kind", "outcome", "author", "happened_at")
    list_filter = ("kind", "outcome")
    search_fields = ("lead__company", "author__username", "note")
    list_select_related = ("lead", "author")
    raw_id_fields = ("lead", "author", "contacts")
    date_hierarchy = "happened_at"


@admin.register(LeadEvent)
class LeadEventAdmin(admin.ModelAdmin):
    list_display = (
        "lead",
        "kind",
        "actor",
        "from_user",
        "to_user",
        "from_stage",
        "to_stage",
        "created_at",
    )
    list_filter = ("kind",)
    search_fields = ("lead__company", "actor__username", "note")
    list_select_related = ("lead", "actor", "from_user", "to_user")
    raw_id_fields = ("lead", "actor", "from_user", "to_user")
    date_hierarchy = "created_at"


class ReplyInline(admin.TabularInline):
    model = ReportReply
    extra = 0
    raw_id_fields = ("author",)


@admin.register(Report)
class ReportAdmin(admin.ModelAdmin):
    list_display = (
        "pk",
        "kind",
        "author",
        "lead",
        "state",
        "quality_score",
        "on_time",
        "submitted_at",
        "acknowledged_at",
        "ask_state",
    )
    list_filter = ("kind", "state", "ask_state", "on_time", "share_with_director")
    search_fields = ("author__username", "lead__company", "status_now", "ask")
    list_select_related = ("author", "lead")
    raw_id_fields = ("author", "lead", "acknowledged_by", "decided_by")
    date_hierarchy = "submitted_at"
    inlines = [ReplyInline]

    # An admin may change a report's state, lead or time, or delete it, past the services:
    # the leads it was and is on get their "last report" recounted (Lead.last_reported_at).
    def save_model(self, request: object, obj: Report, form: object, change: bool) -> None:
        before = Report.objects.filter(pk=obj.pk).values_list("lead_id", flat=True).first()
        super().save_model(request, obj, form, change)  # type: ignore[arg-type]
        _recount_last_report({before, obj.lead_id})

    def delete_model(self, request: object, obj: Report) -> None:
        lead_id = obj.lead_id
        super().delete_model(request, obj)  # type: ignore[arg-type]
        _recount_last_report({lead_id})

    def delete_queryset(self, request: object, queryset: QuerySet[Report]) -> None:
        lead_ids = set(queryset.values_list("lead_id", flat=True))
        super().delete_queryset(request, queryset)  # type: ignore[arg-type]
        _recount_last_report(lead_ids)


def _recount_last_report(lead_ids: Iterable[int | None]) -> None:
    ids = [pk for pk in lead_ids if pk is not None]
    if ids:
        lead_last_report_refresh(leads=Lead.objects.filter(pk__in=ids))


@admin.register(DomainEvent)
class DomainEventAdmin(admin.ModelAdmin):
    list_display = ("pk", "name", "created_at", "processed_at", "attempts", "last_error")
    list_filter = ("name",)
    search_fields = ("name", "last_error")
    date_hierarchy = "created_at"


@admin.register(ImportJob)
class ImportJobAdmin(admin.ModelAdmin):
    list_display = (
        "pk",
        "file_name",
        "team",
        "created_by",
        "state",
        "row_count",
        "created_count",
        "updated_count",
        "error_count",
    )
    list_filter = ("state", "file_format")
    search_fields = ("file_name", "created_by__username", "team__name")
    list_select_related = ("team", "created_by")
    exclude = ("content",)
    raw_id_fields = ("created_by",)


class ContactInline(admin.TabularInline):
    model = Contact
    extra = 0
    fields = ("name", "title", "department", "mobile", "email", "wechat")
    show_change_link = True


@admin.register(Company)
class CompanyAdmin(admin.ModelAdmin):
    list_display = ("name", "uscc", "industry", "city", "created_at")
    search_fields = ("name", "name_key", "uscc", "city")
    list_filter = ("industry",)
    raw_id_fields = ("created_by",)
    inlines = [ContactInline]

    def save_model(self, request: object, obj: Company, form: object, change: bool) -> None:
        obj.name_key = company_name_key(obj.name)[:200]  # duplicates are found on it
        super().save_model(request, obj, form, change)  # type: ignore[arg-type]


class LeadContactInline(admin.TabularInline):
    model = LeadContact
    extra = 0
    fields = ("lead", "role", "created_at")
    raw_id_fields = ("lead",)


@admin.register(Contact)
class ContactAdmin(admin.ModelAdmin):
    list_display = ("name", "company", "title", "mobile", "email", "wechat")
    search_fields = ("name", "mobile", "phone", "email", "wechat", "company__name")
    list_select_related = ("company",)
    raw_id_fields = ("company", "created_by")
    inlines = [LeadContactInline]
