"""Issue 22: the hand-offs in the history by time alone (partial on the two hand-off kinds), so
that My day walks the week's newest and stops at the 15 it shows."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("crm", "0020_lead_base_manager"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="leadevent",
            index=models.Index(
                condition=models.Q(("kind__in", ["handed_down", "reassigned"])),
                fields=["created_at"],
                name="leadevent_handoff_time",
            ),
        ),
    ]
