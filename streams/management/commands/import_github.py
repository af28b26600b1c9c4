"""`manage.py import_github FILE --stream SLUG`: import GitHub issues with their timelines."""

from ._toolchain import ToolchainImportCommand


class Command(ToolchainImportCommand):
    source = "github"
    help = (
        "Import a GitHub issues export (JSON: the issues with their timeline events, and optionally sub_issues and "
        "blocked_by; see README) into a value stream. All or nothing; running it again changes only what changed."
    )
    file_help = "A JSON array of issues, each with 'timeline' (and optionally 'sub_issues', 'blocked_by')."
