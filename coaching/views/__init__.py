"""The coach's pages, one module per subject: nudges (the nudge center, the bell, the coach's
numbers), credit (thanks after a win, year-end notes, the team feed), settings (rule thresholds,
one's notification preferences) and cockpit (team and director pages, the CSV, the hand-off
suggestion). They share crm.web (request, current user, form errors, pages, regions).

The names are re-exported here so `coaching.views.<name>` keeps working.
"""

from coaching.views.cockpit import director_page, handoff_suggest, team_csv, team_page
from coaching.views.credit import feed, thanks, year_end
from coaching.views.nudges import bell, nudge_dismiss, nudge_list, nudge_snooze, stats
from coaching.views.settings import preferences, rule_settings

__all__ = [
    "bell",
    "director_page",
    "feed",
    "handoff_suggest",
    "nudge_dismiss",
    "nudge_list",
    "nudge_snooze",
    "preferences",
    "rule_settings",
    "stats",
    "team_csv",
    "team_page",
    "thanks",
    "year_end",
]
