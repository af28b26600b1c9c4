"""What `import_jira` and `import_github` share: options, the mapping flags, errors as CommandError."""

from django.core.management.base import BaseCommand, CommandError

from core.errors import ImportRefused
from streams.integrations.jobs import toolchain_import
from streams.integrations.toolchain import mapping_for, parse_mapping_option
from streams.models import ValueStream


class ToolchainImportCommand(BaseCommand):
    source = ""
    file_help = ""

    def add_arguments(self, parser):
        parser.add_argument("file", metavar="FILE", help=self.file_help)
        parser.add_argument(
            "--stream", required=True, metavar="SLUG", help="The value stream's slug (created if missing)."
        )
        parser.add_argument("--name", default="", help="Name for a stream created by the import.")
        parser.add_argument(
            "--map",
            action="append",
            default=[],
            metavar="STATUS=CATEGORY",
            help=(
                "Map a status the defaults do not know: 'Ready for UAT=waiting', or to a state of another name: "
                "'Ready for UAT=UAT:waiting'. Categories: backlog, active, waiting, done, removed. Repeatable; "
                "remembered for the stream, like the mapping the import page confirms."
            ),
        )

    def handle(self, *args, file, stream, name, map, verbosity=1, **options):
        mapping = mapping_for(ValueStream.objects.filter(slug=stream).first(), self.source)
        for option in map:
            try:
                status, state_name, category = parse_mapping_option(option)
            except ValueError as error:
                raise CommandError(f"--map {error}") from error
            mapping.statuses[status] = (state_name[:60], category)

        def progress(issues: int, _bytes: int) -> None:
            if issues % 20000 == 0 and verbosity > 1:
                self.stderr.write(f"  read {issues:,} issues")

        try:
            with open(file, "rb") as export:
                result = toolchain_import(
                    source=self.source,
                    stream_slug=stream,
                    stream_name=name,
                    file=export,
                    mapping=mapping,
                    progress=progress,
                )
        except OSError as error:
            raise CommandError(f"Cannot read {error.filename}: {error.strerror}.") from error
        except ImportRefused as refused:
            raise CommandError(str(refused)) from refused
        self.stdout.write(self.style.SUCCESS(result.summary()))
