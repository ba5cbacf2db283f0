"""Walk the ledger's hash chain and report the first altered, inserted or removed row."""

from django.core.management.base import BaseCommand, CommandError

from models_app.ledger import verify_chain


class Command(BaseCommand):
    help = (
        "Verify the audit ledger's hash chain. Prints the first row that was altered, inserted or "
        "removed and exits non-zero; prints the number of rows checked and exits 0 when intact."
    )

    def add_arguments(self, parser):
        parser.add_argument("--batch-size", type=int, default=2000, help="Rows read per query.")

    def handle(self, *args, batch_size: int, **options):
        if batch_size < 1:
            raise CommandError("--batch-size must be at least 1.")
        report = verify_chain(batch_size=batch_size)
        if report.ok:
            self.stdout.write(self.style.SUCCESS(f"Ledger intact: {report.checked} row(s) verified."))
            return
        where = f"row {report.first_bad_id}" if report.first_bad_id is not None else "the end of the chain"
        # CommandError prints to stderr and exits with status 1.
        raise CommandError(
            f"Ledger tampered at {where} ({report.kind}): {report.problem} ({report.checked} row(s) checked)."
        )
