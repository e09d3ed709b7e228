from django.contrib.auth import views as auth_views
from django.urls import path

from crm.views import app, board, calendar, companies, exchange, leads, people, reports, search

urlpatterns = [
    path("", leads.my_day, name="my-day"),
    path("login/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("leads/", leads.lead_list, name="lead-list"),
    path("leads/new/", leads.lead_create, name="lead-create"),
    path("leads/board/", leads.pipeline_board, name="lead-board"),
    path("leads/handoff/", leads.handoff, name="lead-handoff"),
    path("leads/import/", exchange.lead_import, name="lead-import"),
    path("leads/import/<int:pk>/", exchange.lead_import_detail, name="lead-import-detail"),
    path(
        "leads/import/<int:pk>/progress/",
        exchange.lead_import_progress,
        name="lead-import-progress",
    ),
    path(
        "leads/import/<int:pk>/errors.csv", exchange.lead_import_errors, name="lead-import-errors"
    ),
    path("leads/export.csv", exchange.lead_export, {"fmt": "csv"}, name="lead-export-csv"),
    path("leads/export.xlsx", exchange.lead_export, {"fmt": "xlsx"}, name="lead-export-xlsx"),
    path("search/", search.site_search, name="search"),
    path("sw.js", app.service_worker, name="service-worker"),
    path("offline/", app.offline, name="offline"),
    path("leads/<int:pk>/", leads.lead_detail, name="lead-detail"),
    path("leads/<int:pk>/edit/", leads.lead_edit, name="lead-edit"),
    path("leads/<int:pk>/move/", board.lead_board_move, name="lead-board-move"),
    path("leads/<int:pk>/activities/", leads.lead_log_activity, name="lead-log-activity"),
    path("leads/<int:pk>/stage/", leads.lead_change_stage, name="lead-change-stage"),
    path("leads/<int:pk>/contacts/", companies.lead_contact_add, name="lead-contact-add"),
    path(
        "leads/<int:pk>/contacts/<int:link_pk>/remove/",
        companies.lead_contact_remove,
        name="lead-contact-remove",
    ),
    path("companies/", companies.company_list, name="company-list"),
    path("companies/new/", companies.company_create, name="company-create"),
    path(
        "companies/export.csv", companies.company_export, {"fmt": "csv"}, name="company-export-csv"
    ),
    path(
        "companies/export.xlsx",
        companies.company_export,
        {"fmt": "xlsx"},
        name="company-export-xlsx",
    ),
    path("companies/<int:pk>/", companies.company_detail, name="company-detail"),
    path("companies/<int:pk>/edit/", companies.company_edit, name="company-edit"),
    path("companies/<int:pk>/contacts/", companies.company_add_contact, name="company-add-contact"),
    path("companies/<int:pk>/merge/", companies.company_merge, name="company-merge"),
    path("contacts/", companies.contact_list, name="contact-list"),
    path(
        "contacts/export.csv", companies.contact_export, {"fmt": "csv"}, name="contact-export-csv"
    ),
    path(
        "contacts/export.xlsx",
        companies.contact_export,
        {"fmt": "xlsx"},
        name="contact-export-xlsx",
    ),
    path("contacts/<int:pk>/edit/", companies.contact_edit, name="contact-edit"),
    path("reports/new/", reports.report_compose, name="report-create"),
    path("reports/inbox/", reports.report_inbox, name="report-inbox"),
    path("reports/<int:pk>/", reports.report_detail, name="report-detail"),
    path("reports/<int:pk>/edit/", reports.report_compose, name="report-edit"),
    path("reports/<int:pk>/acknowledge/", reports.report_acknowledge, name="report-acknowledge"),
    path("reports/<int:pk>/reply/", reports.report_reply, name="report-reply"),
    path("reports/<int:pk>/ask/", reports.report_answer_ask, name="report-answer-ask"),
    path("reports/<int:pk>/decide/", reports.report_decide, name="report-decide"),
    path("my-manager/", people.my_manager, name="my-manager"),
    path("profile/", people.profile, name="profile"),
    path("calendar/<str:token>.ics", calendar.calendar_feed, name="calendar-feed"),
    path("audit/", people.audit_trail, name="audit-trail"),
    path("healthz", people.health, name="health"),
]
