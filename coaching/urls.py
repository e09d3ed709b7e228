from django.urls import path

from coaching import cockpit_views, views

urlpatterns = [
    path("", views.nudge_list, name="coach-nudges"),
    path("bell/", views.bell, name="coach-bell"),
    path("nudges/<int:pk>/snooze/", views.nudge_snooze, name="coach-nudge-snooze"),
    path("nudges/<int:pk>/dismiss/", views.nudge_dismiss, name="coach-nudge-dismiss"),
    path("thanks/", views.thanks, name="coach-thanks"),
    path("year-end/", views.year_end, name="coach-year-end"),
    path("feed/", views.feed, name="coach-feed"),
    path("numbers/", views.stats, name="coach-stats"),
    path("settings/", views.rule_settings, name="coach-settings"),
    path("preferences/", views.preferences, name="coach-preferences"),
    path("team/", cockpit_views.team_page, name="coach-team"),
    path("team/<int:team_id>/", cockpit_views.team_page, name="coach-team-detail"),
    path("team/export.csv", cockpit_views.team_csv, name="coach-team-csv"),
    path("team/suggest/", cockpit_views.handoff_suggest, name="coach-handoff-suggest"),
    path("director/", cockpit_views.director_page, name="coach-director"),
]
