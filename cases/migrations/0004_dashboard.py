# Dashboard work: agent administrations become versioned (optimistic locking on corrections)
# and carry a note explaining an unusual dose.

import django.utils.timezone
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("cases", "0003_meeting"),
    ]

    operations = [
        migrations.AddField(
            model_name="agentadministration",
            name="note",
            field=models.CharField(blank=True, max_length=300),
        ),
        migrations.AddField(
            model_name="agentadministration",
            name="version",
            field=models.PositiveIntegerField(default=1, editable=False),
        ),
        migrations.AddField(
            model_name="agentadministration",
            name="updated_at",
            field=models.DateTimeField(auto_now=True, default=django.utils.timezone.now),
            preserve_default=False,
        ),
    ]
