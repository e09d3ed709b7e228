"""Issue 22: the cockpit's period figures read as ranges of the team's leads: the leads handed
down in the period (by their latest hand-off), and those that moved stage since a week ago (by
their latest move), instead of every event of the company in the period joined to its lead."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("crm", "0023_report_team_figures"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="lead",
            index=models.Index(
                condition=models.Q(("handed_at__isnull", False)),
                fields=["team", "handed_at", "is_chicken_rib"],
                name="lead_team_handed",
            ),
        ),
        migrations.AddIndex(
            model_name="lead",
            index=models.Index(fields=["team", "stage_changed_at"], name="lead_team_moved"),
        ),
    ]
