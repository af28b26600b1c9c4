"""Forms of the connection pages: what a director types to connect a stream to its tool."""

from __future__ import annotations

from django import forms

from streams.models import Connection

TOOLS_AVAILABLE = [
    (tool.value, tool.label)
    for tool in (
        Connection.Tool.AZURE_DEVOPS,
        Connection.Tool.JIRA_CLOUD,
        Connection.Tool.JIRA_DATA_CENTER,
        Connection.Tool.GITHUB,
    )
]
SCOPE_FIELDS = {
    Connection.Tool.AZURE_DEVOPS: ("project", "area_path", "team", "board"),
    Connection.Tool.JIRA_CLOUD: ("jql", "filter"),
    Connection.Tool.JIRA_DATA_CENTER: ("jql", "filter"),
    Connection.Tool.GITHUB: ("repository",),
}


class ConnectionForm(forms.Form):
    """Tool, address, credentials and scope. The token is never shown again once saved."""

    tool = forms.ChoiceField(choices=TOOLS_AVAILABLE, initial=Connection.Tool.AZURE_DEVOPS)
    base_url = forms.CharField(
        max_length=300,
        label="Address",
        help_text="Azure DevOps: https://dev.azure.com/your-organisation (Server: https://server/tfs/Collection); "
        "Jira Cloud: https://your-site.atlassian.net; Jira Data Center: its address; GitHub: https://api.github.com "
        "(Enterprise Server: https://host/api/v3).",
    )
    username = forms.CharField(
        max_length=200, required=False, label="Account email", help_text="Jira Cloud: the account the API token is of."
    )
    token = forms.CharField(
        required=False,
        strip=True,
        max_length=2000,
        widget=forms.PasswordInput(render_value=False),
        label="Token",
        help_text="Azure DevOps, Jira Data Center or GitHub: a personal access token; Jira Cloud: an API token. "
        "Read access is enough. Stored encrypted, never shown again; leave empty to keep it.",
    )
    project = forms.CharField(max_length=200, required=False, help_text="Azure DevOps: the project.")
    area_path = forms.CharField(
        max_length=400, required=False, help_text=r"Optional: only work under this area path, e.g. Payments\Cards."
    )
    team = forms.CharField(max_length=200, required=False, help_text="Optional, with a board: the team that owns it.")
    board = forms.CharField(
        max_length=200,
        required=False,
        help_text="Optional: a board (e.g. Stories) whose columns become the workflow; split columns' Done halves "
        "become waiting states.",
    )
    jql = forms.CharField(
        max_length=2000, required=False, label="JQL", help_text="Jira: the issues to read, e.g. project = PAY."
    )
    filter = forms.CharField(max_length=20, required=False, help_text="Jira: or a saved filter's id instead of JQL.")
    repository = forms.CharField(max_length=200, required=False, help_text="GitHub: owner/name, e.g. acme/payments.")
    rate = forms.FloatField(
        min_value=0.1, max_value=100, initial=5, label="Requests per second", help_text="At most; be kind to the tool."
    )

    def __init__(self, *args, connection: Connection | None = None, **kwargs):
        if connection is not None and "initial" not in kwargs:
            kwargs["initial"] = {
                "tool": connection.tool,
                "base_url": connection.base_url,
                "username": connection.username,
                "rate": connection.rate,
                **{key: connection.scope.get(key, "") for fields in SCOPE_FIELDS.values() for key in fields},
            }
        super().__init__(*args, **kwargs)
        self.connection = connection
        if connection is not None:
            self.fields["tool"].disabled = True  # another tool is another connection
            others = {key for keys in SCOPE_FIELDS.values() for key in keys} - set(SCOPE_FIELDS[connection.tool])
            if connection.tool != Connection.Tool.JIRA_CLOUD:
                others.add("username")
            for name in others:  # only the fields of this connection's tool
                del self.fields[name]
        if connection is None:
            self.fields["token"].required = True
            self.fields["token"].help_text = self.fields["token"].help_text.replace("; leave empty to keep it", "")

    def scope(self) -> dict:
        """The scope fields of the chosen tool (the others are ignored)."""
        data = self.cleaned_data
        keys = SCOPE_FIELDS.get(data.get("tool") or (self.connection and self.connection.tool), ())
        return {key: data[key].strip() for key in keys if data.get(key, "").strip()}
