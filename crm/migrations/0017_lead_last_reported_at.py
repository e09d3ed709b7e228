"""Lead.last_reported_at: when the latest report on the lead was sent, kept by
crm.services.reports.report_submit, so the coach's report-due scan compares a column on the
lead instead of looking into each open lead's reports (issue 22). Filled here from the sent
reports."""

from django.db import migrations, models
from django.db.models import Max, OuterRef, Subquery


def fill(apps, schema_editor):
    Lead = apps.get_model("crm", "Lead")
    Report = apps.get_model("crm", "Report")
    latest = (
        Report.objects.filter(lead=OuterRef("pk"), state="submitted")
        .order_by()
        .values("lead")
        .annotate(at=Max("submitted_at"))
        .values("at")
    )
    Lead.objects.filter(reports__state="submitted").order_by().update(
        last_reported_at=Subquery(latest)
    )


class Migration(migrations.Migration):
    dependencies = [("crm", "0016_lead_team_cube")]

    operations = [
        migrations.AddField(
            model_name="lead",
            name="last_reported_at",
            field=models.DateTimeField(blank=True, null=True, verbose_name="last report"),
        ),
        migrations.RunPython(fill, migrations.RunPython.noop, elidable=False),
    ]
