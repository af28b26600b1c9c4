"""`manage.py import_flow_csv`: import a stream's workflow, items and history from CSV files."""

from django.core.management.base import BaseCommand, CommandError

from core.errors import ImportRefused
from streams.integrations.writer import flow_csv_import, open_text


class Command(BaseCommand):
    help = (
        "Import states.csv (name,category,order), items.csv (key,title,type,created_at[,parent_key,team]) and "
        "transitions.csv (key,to_state,at) into a value stream, creating it if needed. All or nothing; "
        "running it again with the same files changes nothing."
    )
    # Django's system checks (every URLconf, model, admin and template setting: 0.25 s of CPU,
    # 0.76 s under load) are left to the commands that deploy and serve, as flow_metrics does.
    requires_system_checks = []

    def add_arguments(self, parser):
        parser.add_argument("--stream", required=True, metavar="SLUG", help="The value stream's slug.")
        parser.add_argument("--name", default="", help="Name for a stream created by the import.")
        parser.add_argument("--states", required=True, metavar="FILE")
        parser.add_argument("--items", required=True, metavar="FILE")
        parser.add_argument("--transitions", required=True, metavar="FILE")

    def handle(self, *args, stream, name, states, items, transitions, **options):
        try:
            with open_text(states) as s, open_text(items) as i, open_text(transitions) as t:
                result = flow_csv_import(
                    stream_slug=stream, stream_name=name, states_file=s, items_file=i, transitions_file=t
                )
        except OSError as error:
            raise CommandError(f"Cannot read {error.filename}: {error.strerror}.") from error
        except UnicodeDecodeError as error:
            raise CommandError(f"A file is not UTF-8 text ({error.reason} at byte {error.start}).") from error
        except ImportRefused as refused:
            raise CommandError(str(refused)) from refused
        self.stdout.write(self.style.SUCCESS(result.summary()))
