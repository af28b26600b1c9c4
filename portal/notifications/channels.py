"""The channels a notification goes out through: email (Django's email backends: SMTP from the
environment, the console for `make run`), Slack incoming webhooks (blocks) and Microsoft Teams
incoming webhooks or workflows (an Adaptive Card).

Each sender raises `SendFailed` with words a person can act on; `retry` says whether another
attempt may succeed (a timeout, a 5xx, a 429) or not (a webhook removed: 404, 410).
A webhook URL is a credential: no message here contains it.
"""

from __future__ import annotations

from email.utils import formataddr
import smtplib

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string
import httpx

from core.outbound import AddressRefused, check_url
from portal.notifications.models import ChatChannel, Notification

TIMEOUT_SECONDS = 10


class SendFailed(Exception):
    def __init__(self, message: str, *, retry: bool):
        super().__init__(message)
        self.message, self.retry = message, retry


def absolute(path: str) -> str:
    return settings.PORTAL_URL.rstrip("/") + path if path.startswith("/") else path


def message_context(notification: Notification, *, unsubscribe_url: str = "") -> dict:
    return {
        "notification": notification,
        "url": absolute(notification.url),
        "lines": [
            {"text": line.get("text", ""), "url": absolute(line.get("url") or "")} for line in notification.lines
        ],
        "unsubscribe_url": unsubscribe_url,
        "preferences_url": absolute("/notifications/preferences/"),
    }


def send_email(notification: Notification, address: str, *, unsubscribe_url: str, connection=None) -> None:
    """A plain-text and HTML email, with one-click unsubscribe headers (RFC 8058)."""
    context = message_context(notification, unsubscribe_url=unsubscribe_url)
    email = EmailMultiAlternatives(
        subject=notification.subject,
        body=render_to_string("notifications/email.txt", context),
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[formataddr((notification.recipient.name, address))],
        headers={
            "List-Unsubscribe": f"<{unsubscribe_url}>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
            "Auto-Submitted": "auto-generated",
        },
        connection=connection,
    )
    email.attach_alternative(render_to_string("notifications/email.html", context), "text/html")
    try:
        email.send()
    except smtplib.SMTPRecipientsRefused as error:
        raise SendFailed(f"the mail server refused the address: {_smtp_words(error)}", retry=False) from None
    except smtplib.SMTPResponseException as error:
        # 4xx replies are temporary by SMTP's own rule; 5xx are not.
        raise SendFailed(
            f"the mail server answered {error.smtp_code} {error.smtp_error.decode(errors='replace')[:200]}",
            retry=400 <= error.smtp_code < 500,
        ) from None
    except (TimeoutError, smtplib.SMTPException, OSError) as error:
        raise SendFailed(
            f"the mail server could not be reached ({type(error).__name__}: {error})", retry=True
        ) from None


def _smtp_words(error: smtplib.SMTPRecipientsRefused) -> str:
    return "; ".join(f"{who}: {code} {text.decode(errors='replace')}" for who, (code, text) in error.recipients.items())


def slack_payload(notification: Notification) -> dict:
    """Slack's Block Kit: a header, one linked line a thing, the figures as context."""
    context = message_context(notification)

    def link(text: str, url: str) -> str:
        text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
        return f"<{url}|{text}>" if url else text

    lines = "\n".join(f"• {link(line['text'], line['url'])}" for line in context["lines"][:40])
    blocks = [
        {"type": "header", "text": {"type": "plain_text", "text": notification.subject[:150]}},
    ]
    if lines:
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": lines[:3000]}})
    elements = [{"type": "mrkdwn", "text": link("Open in the portal", context["url"])}]
    if notification.figures:
        elements.insert(0, {"type": "mrkdwn", "text": notification.figures})
    blocks.append({"type": "context", "elements": elements})
    return {"text": notification.subject, "blocks": blocks}


def teams_payload(notification: Notification) -> dict:
    """A Teams message carrying an Adaptive Card (what incoming webhooks and workflows take)."""
    context = message_context(notification)
    body = [{"type": "TextBlock", "text": notification.subject, "weight": "Bolder", "size": "Medium", "wrap": True}]
    for line in context["lines"][:40]:
        text = f"[{line['text']}]({line['url']})" if line["url"] else line["text"]
        body.append({"type": "TextBlock", "text": f"- {text}", "wrap": True, "spacing": "Small"})
    if notification.figures:
        body.append({"type": "TextBlock", "text": notification.figures, "isSubtle": True, "wrap": True})
    card = {
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": "1.4",
        "body": body,
        "actions": [{"type": "Action.OpenUrl", "title": "Open in the portal", "url": context["url"]}],
    }
    return {
        "type": "message",
        "attachments": [
            {"contentType": "application/vnd.microsoft.card.adaptive", "contentUrl": None, "content": card}
        ],
    }


def send_chat(notification: Notification, chat: ChatChannel) -> None:
    payload = slack_payload(notification) if chat.service == ChatChannel.Service.SLACK else teams_payload(notification)
    where = f"{chat.get_service_display()} channel {chat.name!r}"
    try:
        url = check_url(chat.url, query=True)
    except AddressRefused as error:
        raise SendFailed(f"{where}: its webhook address is refused ({error})", retry=False) from None
    try:
        response = httpx.post(url, json=payload, timeout=TIMEOUT_SECONDS, follow_redirects=False)
    except httpx.TimeoutException:
        raise SendFailed(f"{where} did not answer within {TIMEOUT_SECONDS} s", retry=True) from None
    except httpx.TransportError as error:
        raise SendFailed(f"{where} could not be reached ({type(error).__name__})", retry=True) from None
    status = response.status_code
    if 200 <= status < 300:
        return
    said = response.text[:200].strip()
    if status == 429 or status >= 500:
        raise SendFailed(f"{where} answered {status} {said}".rstrip(), retry=True)
    if status in (404, 410):
        raise SendFailed(f"{where} answered {status} {said}: the webhook was removed; set a new one.", retry=False)
    raise SendFailed(f"{where} refused the message: {status} {said}".rstrip(), retry=False)
