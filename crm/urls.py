from django.contrib.auth import views as auth_views
from django.urls import path

from crm import exchange_views, views

urlpatterns = [
    path("", views.my_day, name="my-day"),
    path("login/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("leads/", views.lead_list, name="lead-list"),
    path("leads/new/", views.lead_create, name="lead-create"),
    path("leads/board/", views.pipeline_board, name="lead-board"),
    path("leads/handoff/", views.handoff, name="lead-handoff"),
    path("leads/import/", exchange_views.lead_import, name="lead-import"),
    path("leads/import/<int:pk>/", exchange_views.lead_import_detail, name="lead-import-detail"),
    path(
        "leads/import/<int:pk>/progress/",
        exchange_views.lead_import_progress,
        name="lead-import-progress",
    ),
    path(
        "leads/import/<int:pk>/errors.csv",
        exchange_views.lead_import_errors,
        name="lead-import-errors",
    ),
    path("leads/export.csv", exchange_views.lead_export, {"fmt": "csv"}, name="lead-export-csv"),
    path("leads/export.xlsx", exchange_views.lead_export, {"fmt": "xlsx"}, name="lead-export-xlsx"),
    path("leads/<int:pk>/", views.lead_detail, name="lead-detail"),
    path("leads/<int:pk>/edit/", views.lead_edit, name="lead-edit"),
    path("leads/<int:pk>/activities/", views.lead_log_activity, name="lead-log-activity"),
    path("leads/<int:pk>/stage/", views.lead_change_stage, name="lead-change-stage"),
    path("reports/new/", views.report_compose, name="report-create"),
    path("reports/inbox/", views.report_inbox, name="report-inbox"),
    path("reports/<int:pk>/", views.report_detail, name="report-detail"),
    path("reports/<int:pk>/edit/", views.report_compose, name="report-edit"),
    path("reports/<int:pk>/acknowledge/", views.report_acknowledge, name="report-acknowledge"),
    path("reports/<int:pk>/reply/", views.report_reply, name="report-reply"),
    path("reports/<int:pk>/ask/", views.report_answer_ask, name="report-answer-ask"),
    path("reports/<int:pk>/decide/", views.report_decide, name="report-decide"),
    path("my-manager/", views.my_manager, name="my-manager"),
    path("profile/", views.profile, name="profile"),
    path("audit/", views.audit_trail, name="audit-trail"),
    path("healthz", views.health, name="health"),
]
