"""Issue 22: the cockpit's report figures by team and author read from one covering index."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("crm", "0022_lead_team_idle_covering"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="report",
            index=models.Index(
                fields=[
                    "team",
                    "state",
                    "author",
                    "submitted_at",
                    "on_time",
                    "quality_score",
                    "ask_state",
                    "acknowledged_at",
                ],
                name="report_team_figures",
            ),
        ),
    ]
