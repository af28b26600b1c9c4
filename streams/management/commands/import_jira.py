"""`manage.py import_jira FILE --stream SLUG`: import a Jira search export with its changelog."""

from ._toolchain import ToolchainImportCommand


class Command(ToolchainImportCommand):
    source = "jira"
    help = (
        "Import a Jira search export (REST API JSON with expand=changelog) into a value stream: items, their "
        "status history from the changelog, parents and 'is blocked by' links. All or nothing; running it again "
        "with the same or a newer export changes only what changed."
    )
    file_help = "The JSON of GET /rest/api/2/search?jql=...&expand=changelog (one page or all pages merged)."
