"""Real protocol peers for the notification tests: an SMTP server (aiosmtpd) that keeps what it
receives, and an HTTP server answering as Slack's and Teams' incoming webhooks do, which checks
each payload's shape as their documentation gives it."""

from __future__ import annotations

from dataclasses import dataclass
from email import message_from_bytes, policy
from email.message import EmailMessage
import socket

from aiosmtpd.controller import Controller

from streams.integrations.tests.tool_servers import ToolServer


@dataclass
class Received:
    sender: str
    recipients: list[str]
    message: EmailMessage

    def part(self, content_type: str) -> str:
        for part in self.message.walk():
            if part.get_content_type() == content_type:
                return part.get_content()
        return ""


class SmtpServer:
    """An SMTP server on loopback; `refuse` makes it answer a code to the next messages."""

    def __init__(self):
        self.received: list[Received] = []
        self.refuse: list[str] = []  # SMTP replies for the next DATA commands, e.g. "451 4.3.0 try later"
        server = self

        class Handler:
            async def handle_DATA(self, smtp, session, envelope):
                if server.refuse:
                    return server.refuse.pop(0)
                message = message_from_bytes(envelope.content, policy=policy.default)
                server.received.append(Received(envelope.mail_from, list(envelope.rcpt_tos), message))
                return "250 Message accepted for delivery"

        # aiosmtpd checks the server is up by connecting to the port it was given: give it a free one.
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.controller = Controller(Handler(), hostname="127.0.0.1", port=self.port)

    def __enter__(self) -> SmtpServer:
        self.controller.start()
        return self

    def __exit__(self, *exc) -> None:
        self.controller.stop()


class ChatServer(ToolServer):
    """`POST /slack/<hook>` answers as a Slack incoming webhook (200 "ok"; 400 "invalid_payload";
    404 "no_service" for an unknown hook); `POST /teams/<hook>` as a Teams workflow webhook
    (202 Accepted; 400 for a payload without an Adaptive Card)."""

    def __init__(self):
        super().__init__()
        self.posts: list[tuple[str, dict]] = []
        self.hooks = {"slack/T000/B000/payments", "teams/workflows/ops"}

    def url(self, hook: str) -> str:
        return f"{self.origin}/{hook}"

    def route(self, request, method: str, path: str, query: dict, body):
        hook = path.strip("/")
        if method != "POST" or hook not in self.hooks:
            return 404, "no_service"
        if hook.startswith("slack/"):
            if not _slack_valid(body):
                return 400, "invalid_payload"
            self.posts.append((hook, body))
            return 200, "ok"
        if not _teams_valid(body):
            return 400, {"error": {"code": "InvalidRequestContent", "message": "no Adaptive Card"}}
        self.posts.append((hook, body))
        return 202, {}


def _slack_valid(body) -> bool:
    """Block Kit as Slack documents it: a fallback text, blocks of known types, texts of the
    right kind and within their limits."""
    if not isinstance(body, dict) or not isinstance(body.get("text"), str) or not isinstance(body.get("blocks"), list):
        return False
    for block in body["blocks"]:
        kind = block.get("type")
        if kind == "header":
            text = block.get("text", {})
            if text.get("type") != "plain_text" or len(text.get("text", "")) > 150:
                return False
        elif kind == "section":
            text = block.get("text", {})
            if text.get("type") not in ("mrkdwn", "plain_text") or len(text.get("text", "")) > 3000:
                return False
        elif kind == "context":
            if not block.get("elements") or len(block["elements"]) > 10:
                return False
        else:
            return False
    return True


def _teams_valid(body) -> bool:
    if not isinstance(body, dict) or body.get("type") != "message":
        return False
    attachments = body.get("attachments")
    if not isinstance(attachments, list) or not attachments:
        return False
    card = attachments[0]
    content = card.get("content") or {}
    return (
        card.get("contentType") == "application/vnd.microsoft.card.adaptive"
        and content.get("type") == "AdaptiveCard"
        and isinstance(content.get("version"), str)
        and all(element.get("type") for element in content.get("body", []))
    )
