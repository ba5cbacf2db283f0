"""Walk the ledger's hash chain, compare it with the newest signed checkpoint, report what is wrong."""

from django.core.management.base import BaseCommand, CommandError

from models_app.audit_anchor import verify_ledger


class Command(BaseCommand):
    help = (
        "Verify the audit ledger's hash chain and compare it with the newest checkpoint of anchor_audit. "
        "Prints the first row that was altered, inserted or removed, or that the ledger was rewound (with "
        "the checkpoint's row count and time), and exits non-zero; prints the number of rows checked and "
        "exits 0 when intact."
    )

    def add_arguments(self, parser):
        parser.add_argument("--batch-size", type=int, default=2000, help="Rows read per query.")
        parser.add_argument(
            "--checkpoint",
            default=None,
            help="Compare with this checkpoint (audit-anchors/....json) instead of the newest: after a "
            "restore, the last one written before the backup was taken.",
        )

    def handle(self, *args, batch_size: int, checkpoint=None, **options):
        if batch_size < 1:
            raise CommandError("--batch-size must be at least 1.")
        report = verify_ledger(batch_size=batch_size, checkpoint_name=checkpoint)
        if checkpoint and report.anchor is not None and report.anchor.status == "none":
            raise CommandError(report.anchor.detail)
        anchor = report.anchor
        if report.ok:
            self.stdout.write(self.style.SUCCESS(f"Ledger intact: {report.checked} row(s) verified."))
            if anchor is not None and anchor.status == "consistent":
                self.stdout.write(f"Checkpoint {anchor.checkpoint.name}: {anchor.detail}")
            elif anchor is not None:
                self.stderr.write(
                    self.style.WARNING(f"Checkpoint not compared ({anchor.status}): {anchor.detail}")
                )
            return
        where = f"row {report.first_bad_id}" if report.first_bad_id is not None else "the end of the chain"
        if report.kind == "rewound":
            checkpoint = anchor.checkpoint
            raise CommandError(
                f"Ledger rewound: {report.problem} (checkpoint {checkpoint.name}: {checkpoint.count} rows at "
                f"{checkpoint.created_at.isoformat()}; {report.checked} row(s) checked)."
            )
        # CommandError prints to stderr and exits with status 1.
        raise CommandError(
            f"Ledger tampered at {where} ({report.kind}): {report.problem} ({report.checked} row(s) checked)."
        )
