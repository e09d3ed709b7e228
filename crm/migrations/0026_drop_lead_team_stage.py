"""Issue 22: lead_team_stage (team, stage) is the first two columns of lead_team_stage_value,
which serves every (team, stage) lookup: one index fewer to write with each lead and for the
planner to weigh, beside the two crm 0024 added."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("crm", "0025_lead_team_closed_covering"),
    ]

    operations = [
        migrations.RemoveIndex(model_name="lead", name="lead_team_stage"),
    ]
