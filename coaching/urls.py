from django.urls import path

from coaching.views import cockpit, credit, nudges, reliability, settings

urlpatterns = [
    path("", nudges.nudge_list, name="coach-nudges"),
    path("bell/", nudges.bell, name="coach-bell"),
    path("nudges/<int:pk>/snooze/", nudges.nudge_snooze, name="coach-nudge-snooze"),
    path("nudges/<int:pk>/dismiss/", nudges.nudge_dismiss, name="coach-nudge-dismiss"),
    path("cards/<slug:rule_id>/snooze/", nudges.card_snooze, name="coach-card-snooze"),
    path("cards/<slug:rule_id>/dismiss/", nudges.card_dismiss, name="coach-card-dismiss"),
    path("thanks/", credit.thanks, name="coach-thanks"),
    path("year-end/", credit.year_end, name="coach-year-end"),
    path("feed/", credit.feed, name="coach-feed"),
    path("numbers/", nudges.stats, name="coach-stats"),
    path("settings/", settings.rule_settings, name="coach-settings"),
    path("preferences/", settings.preferences, name="coach-preferences"),
    path("team/", cockpit.team_page, name="coach-team"),
    path("team/<int:team_id>/", cockpit.team_page, name="coach-team-detail"),
    path("team/export.csv", cockpit.team_csv, name="coach-team-csv"),
    path("team/suggest/", cockpit.handoff_suggest, name="coach-handoff-suggest"),
    path("director/", cockpit.director_page, name="coach-director"),
    path("me/", reliability.my_reliability, name="coach-me"),
    path("me/withdraw/", reliability.my_ask_withdraw, name="coach-me-withdraw"),
    path("rep/<int:rep_id>/", reliability.rep_page, name="coach-rep"),
]
