"""`manage.py import_delivery_csv`: import deployments or incidents from a CSV file."""

from django.core.management.base import BaseCommand, CommandError

from core.errors import ImportRefused
from streams.delivery.records import CSV_COLUMNS, CSV_REQUIRED, delivery_csv_import
from streams.integrations.writer import open_text


class Command(BaseCommand):
    help = (
        "Import deployments or incidents from a CSV file. Deployment columns: "
        f"{','.join(CSV_COLUMNS['deployments'])}; incident columns: {','.join(CSV_COLUMNS['incidents'])}. "
        f"Required: deployments {', '.join(CSV_REQUIRED['deployments'])}; incidents "
        f"{', '.join(CSV_REQUIRED['incidents'])}. Times are ISO 8601 with a UTC offset; items are keys (PAY-12) or "
        "#ids separated by spaces, commas or semicolons. All or nothing; importing the same file again changes "
        "nothing (rows are matched by external_id)."
    )

    def add_arguments(self, parser):
        parser.add_argument("kind", choices=sorted(CSV_COLUMNS), help="What the file holds.")
        parser.add_argument("file", metavar="FILE")

    def handle(self, *args, kind, file, **options):
        try:
            with open_text(file) as text:
                counts = delivery_csv_import(kind, text)
        except OSError as error:
            raise CommandError(f"Cannot read {error.filename}: {error.strerror}.") from error
        except UnicodeDecodeError as error:
            raise CommandError(f"The file is not UTF-8 text ({error.reason} at byte {error.start}).") from error
        except ImportRefused as refused:
            raise CommandError(str(refused)) from refused
        self.stdout.write(
            self.style.SUCCESS(
                f"Imported {kind}: {counts['created']} new, {counts['updated']} changed, "
                f"{counts['unchanged']} unchanged."
            )
        )
