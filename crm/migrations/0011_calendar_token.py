"""A personal calendar feed (issue 17): the secret in its link, empty while the person has not
turned the feed on; unique, so a link names one person."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("crm", "0010_activity_client_key"),
    ]

    operations = [
        migrations.AddField(
            model_name="user",
            name="calendar_token",
            field=models.CharField(
                blank=True,
                editable=False,
                help_text=(
                    "The secret in the person's calendar feed link; empty while the feed is "
                    "off. A reset writes a new one, so the old link stops working."
                ),
                max_length=64,
                null=True,
                unique=True,
                verbose_name="calendar link secret",
            ),
        ),
    ]
