"""Drop the single-column index on messaging_message.account_id: the (account, is_test,
-created_at) and (account, batch_id) indexes serve every lookup by account, and each index costs
the INSERT of every message.

Django's AlterField would drop and re-create the account foreign key to do this, checking every
message row while it holds a lock that blocks sends. So the model's state changes alone, and the
database only loses the index, concurrently on PostgreSQL (no lock on writes; hence not atomic).
"""

import django.db.models.deletion
from django.db import migrations, models

INDEX = "messaging_message_account_id_21900bb3"


def drop_index(apps, schema_editor):
    concurrently = " CONCURRENTLY" if schema_editor.connection.vendor == "postgresql" else ""
    schema_editor.execute(f'DROP INDEX{concurrently} IF EXISTS "{INDEX}"')


def create_index(apps, schema_editor):
    concurrently = " CONCURRENTLY" if schema_editor.connection.vendor == "postgresql" else ""
    schema_editor.execute(f'CREATE INDEX{concurrently} IF NOT EXISTS "{INDEX}" ON "messaging_message" ("account_id")')


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("accounts", "0004_account_api_rate_limit_per_minute_and_more"),
        ("messaging", "0004_remove_message_messaging_m_account_b1097b_idx_and_more"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="message",
                    name="account",
                    field=models.ForeignKey(
                        blank=True,
                        db_index=False,
                        null=True,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="messages",
                        to="accounts.account",
                    ),
                ),
            ],
            database_operations=[migrations.RunPython(drop_index, create_index)],
        ),
    ]
