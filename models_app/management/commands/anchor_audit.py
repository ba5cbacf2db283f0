"""python manage.py anchor_audit [--rebase]"""

from django.core.management.base import BaseCommand, CommandError

from models_app.audit_anchor import anchor_write
from models_app.exceptions import RegistryError


class Command(BaseCommand):
    help = (
        "Write a checkpoint of the audit ledger (row count, head hash, time), signed with HMAC-SHA256 under "
        "REGISTRY_AUDIT_ANCHOR_KEY, to the artifact storage under audit-anchors/ (with S3 Object Lock "
        "retention where the bucket has it). Refused while the ledger does not extend the newest checkpoint; "
        "--rebase (after restoring a backup) writes one of the ledger as it is once its chain is intact."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--rebase",
            action="store_true",
            help="After a restore: anchor the ledger as it is now, superseding the newest checkpoint.",
        )

    def handle(self, *args, rebase=False, **options):
        try:
            result = anchor_write(rebase=rebase)
        except RegistryError as exc:
            raise CommandError(str(exc), returncode=1) from exc
        if not result.written:
            self.stdout.write(f"Ledger unchanged since {result.name} ({result.count} rows); nothing written.")
            return
        lock = "under S3 Object Lock retention" if result.locked else "without Object Lock"
        rebased = " (rebased)" if result.rebased else ""
        self.stdout.write(
            self.style.SUCCESS(
                f"Checkpoint {result.name}{rebased}: {result.count} rows, head {result.head_hash}, {lock}."
            )
        )
