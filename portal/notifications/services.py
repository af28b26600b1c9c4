"""Recording notifications once and delivering them at most once, with retries.

`notify` records a notification for a person (unless they turned its kind off) and the
deliveries their preference asks for, in one transaction; the same (recipient, kind, key)
again records nothing. `deliver_due` sends what is due: each delivery is claimed (status
"sending", committed) before the send and marked after it, so two workers, or a job run twice,
never send one delivery twice. A send that fails is tried again later (1, 5, 25 ... minutes)
up to NOTIFY_MAX_ATTEMPTS, its error kept; one that was interrupted mid-send is not sent again
(it may have gone out) and says so.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
import datetime as dt
import logging

from django.conf import settings
from django.core import signing
from django.core.exceptions import ValidationError
from django.core.mail import get_connection
from django.db import IntegrityError, transaction
from django.db.models import F
from django.urls import reverse
from django.utils import timezone

from core.outbound import AddressRefused, check_url
from portal.notifications.channels import SendFailed, absolute, send_chat, send_email
from portal.notifications.models import (
    DIGESTS,
    Channel,
    ChatChannel,
    Delivery,
    Frequency,
    Kind,
    Notification,
    NotificationPreference,
)
from teams.models import Person

logger = logging.getLogger(__name__)

UNSUBSCRIBE_SALT = "portal.notifications.unsubscribe"
CLAIM_BATCH = 50
INTERRUPTED_AFTER = dt.timedelta(hours=1)  # a delivery "sending" this long was interrupted


@dataclass(frozen=True)
class Message:
    """What a notification says: its subject, one line a thing (each linked), the figures' n
    and window, and the page that explains them."""

    subject: str
    url: str
    lines: tuple[tuple[str, str], ...] = ()  # (text, url)
    figures: str = ""


# --- Preferences ---------------------------------------------------------------------------


def preferences_of(person: Person) -> dict[str, NotificationPreference]:
    """Every kind's preference, stored or the default (email; digests daily, the leaders' weekly)."""
    stored = {p.kind: p for p in NotificationPreference.objects.filter(person=person)}
    return {kind: stored.get(kind) or default_preference(person, kind) for kind in Kind.values}


def default_preference(person: Person, kind: str) -> NotificationPreference:
    frequency = Frequency.WEEKLY if kind == Kind.LEADER_DIGEST else Frequency.DAILY
    return NotificationPreference(person=person, kind=kind, channel=Channel.EMAIL, frequency=frequency)


def preferences_for(people: Iterable[Person], kind: str) -> dict[int, NotificationPreference]:
    """One query for many people (a digest's recipients)."""
    people = list(people)
    stored = {
        p.person_id: p for p in NotificationPreference.objects.filter(person__in=[p.pk for p in people], kind=kind)
    }
    return {person.pk: stored.get(person.pk) or default_preference(person, kind) for person in people}


def preference_save(*, person: Person, kind: str, channel: str, frequency: str = Frequency.DAILY):
    if kind not in Kind.values or channel not in Channel.values or frequency not in Frequency.values:
        raise ValueError(f"unknown kind, channel or frequency: {kind!r}, {channel!r}, {frequency!r}")
    if kind not in DIGESTS:
        frequency = Frequency.DAILY
    NotificationPreference.objects.update_or_create(
        person=person, kind=kind, defaults={"channel": channel, "frequency": frequency}
    )


def digest_due(preference: NotificationPreference, today: dt.date) -> bool:
    """A daily digest is due every day; a weekly one on Mondays."""
    return preference.frequency == Frequency.DAILY or today.isoweekday() == 1


def period_key(preference: NotificationPreference, today: dt.date) -> str:
    """The period a digest covers: the day, or for a weekly one the ISO week."""
    if preference.frequency == Frequency.WEEKLY:
        year, week, _ = today.isocalendar()
        return f"{year}-W{week:02d}"
    return today.isoformat()


# --- Recording -----------------------------------------------------------------------------


def notify(
    person: Person,
    kind: str,
    key: str,
    message: Message,
    *,
    chats: Iterable[ChatChannel] = (),
    preference: NotificationPreference | None = None,
) -> Notification | None:
    """Record `message` for `person` once per (kind, key), with the deliveries their preference
    asks for; None when it was recorded before or the person turned the kind off. `chats` are
    the team's or stream's channels that a person who chose "chat" is reached through."""
    preference = preference or preferences_for([person], kind)[person.pk]
    if preference.channel == Channel.OFF:
        return None
    try:
        with transaction.atomic():
            notification = Notification.objects.create(
                recipient=person,
                kind=kind,
                key=key[:120],
                subject=message.subject[:200],
                lines=[{"text": text, "url": url} for text, url in message.lines],
                figures=message.figures[:300],
                url=message.url[:300],
            )
            deliveries = []
            if preference.channel == Channel.EMAIL and person.email:
                deliveries.append(Delivery(channel="email", address=person.email.lower()))
            elif preference.channel == Channel.CHAT:
                deliveries += [
                    Delivery(channel=chat.service, address=f"chat:{chat.pk}", chat=chat)
                    for chat in chats
                    if chat.takes(kind)
                ]
            for delivery in deliveries:
                delivery.notification, delivery.kind, delivery.key = notification, kind, notification.key
            # A team's channel gets one post however many of its members chose it.
            Delivery.objects.bulk_create(deliveries, ignore_conflicts=True)
    except IntegrityError:  # recorded before (this job ran already, or runs twice at once)
        return None
    return notification


# --- Delivering ----------------------------------------------------------------------------


def deliver_due(now: dt.datetime | None = None) -> dict[str, int]:
    """Send every delivery that is due; returns counts by outcome."""
    now = now or timezone.now()
    counts = {"sent": 0, "retry": 0, "failed": 0, "interrupted": _fail_interrupted(now)}
    while ids := _claim(now):
        deliveries = Delivery.objects.filter(pk__in=ids).select_related("notification__recipient", "chat")
        with get_connection(fail_silently=False) as mail:
            for delivery in deliveries:
                counts[_send(delivery, mail, now)] += 1
    return counts


def _claim(now: dt.datetime) -> list[int]:
    """Take up to CLAIM_BATCH due deliveries for this worker (others skip them), committed."""
    with transaction.atomic():
        ids = list(
            Delivery.objects.select_for_update(skip_locked=True)
            .filter(status=Delivery.Status.PENDING, next_attempt_at__lte=now)
            .order_by("next_attempt_at", "pk")
            .values_list("pk", flat=True)[:CLAIM_BATCH]
        )
        Delivery.objects.filter(pk__in=ids).update(
            status=Delivery.Status.SENDING, claimed_at=now, attempts=F("attempts") + 1
        )
    return ids


def _send(delivery: Delivery, mail, now: dt.datetime) -> str:
    notification = delivery.notification
    try:
        if delivery.channel == "email":
            send_email(notification, delivery.address, unsubscribe_url=unsubscribe_url(notification), connection=mail)
        elif delivery.chat is None:
            raise SendFailed("its chat channel was removed", retry=False)
        else:
            send_chat(notification, delivery.chat)
    except SendFailed as error:
        attempts = delivery.attempts  # counted when claimed
        if error.retry and attempts < settings.NOTIFY_MAX_ATTEMPTS:
            wait = dt.timedelta(seconds=settings.NOTIFY_BACKOFF_SECONDS * 5 ** (attempts - 1))
            _mark(delivery, Delivery.Status.PENDING, f"attempt {attempts}: {error.message}", next_attempt_at=now + wait)
            return "retry"
        _mark(delivery, Delivery.Status.FAILED, f"attempt {attempts}: {error.message}")
        return "failed"
    except Exception as error:  # a bug must not leave the delivery claimed for ever, nor stop the others
        logger.exception("delivery %s failed unexpectedly", delivery.pk)
        _mark(delivery, Delivery.Status.FAILED, f"unexpected error: {type(error).__name__}: {error}"[:500])
        return "failed"
    _mark(delivery, Delivery.Status.SENT, "", sent_at=timezone.now())
    return "sent"


def _mark(delivery: Delivery, status: str, error: str, **fields) -> None:
    Delivery.objects.filter(pk=delivery.pk, status=Delivery.Status.SENDING).update(
        status=status, last_error=error, **fields
    )


def _fail_interrupted(now: dt.datetime) -> int:
    """Deliveries claimed long ago and never marked: the process died mid-send. Not sent again:
    the message may have gone out, and sending it twice is what this module promises not to do."""
    return Delivery.objects.filter(status=Delivery.Status.SENDING, claimed_at__lt=now - INTERRUPTED_AFTER).update(
        status=Delivery.Status.FAILED,
        last_error="interrupted while sending (the worker stopped); not sent again, as it may have gone out",
    )


# --- Reading and unsubscribing ---------------------------------------------------------------


def unread_count(user) -> int:
    """Unread notifications of the person the user is: one query per request, kept on the user
    (the header's count and the home's first steps both ask)."""
    if getattr(user, "_unread_notifications", None) is None:
        user._unread_notifications = Notification.objects.filter(recipient__user=user, read_at__isnull=True).count()
    return user._unread_notifications


def mark_read(person: Person, ids: Iterable[int] | None = None) -> int:
    """Mark the person's notifications read (all of them without `ids`)."""
    rows = Notification.objects.filter(recipient=person, read_at__isnull=True)
    if ids is not None:
        rows = rows.filter(pk__in=list(ids))
    return rows.update(read_at=timezone.now())


def unsubscribe_token(person: Person, kind: str) -> str:
    return signing.dumps({"p": person.pk, "k": kind}, salt=UNSUBSCRIBE_SALT, compress=True)


def unsubscribe_url(notification: Notification) -> str:
    token = unsubscribe_token(notification.recipient, notification.kind)
    return absolute(reverse("notifications:unsubscribe", args=[token]))


class UnsubscribeRefused(Exception):
    pass


def unsubscribe_read(token: str) -> tuple[Person, str]:
    """The person and kind a link names, or UnsubscribeRefused saying why it does not work."""
    try:
        data = signing.loads(token, salt=UNSUBSCRIBE_SALT, max_age=dt.timedelta(days=settings.NOTIFY_UNSUBSCRIBE_DAYS))
    except signing.SignatureExpired:
        raise UnsubscribeRefused(
            f"This link is older than {settings.NOTIFY_UNSUBSCRIBE_DAYS} days. Use the link of a newer email, or "
            "log in and change your notification preferences."
        ) from None
    except signing.BadSignature:
        raise UnsubscribeRefused("This link is not one the portal sent (it may have been cut short).") from None
    person = Person.objects.filter(pk=data.get("p")).first()
    if person is None or data.get("k") not in Kind.values:
        raise UnsubscribeRefused("This link names nobody the portal knows any more.")
    return person, data["k"]


def unsubscribe(token: str) -> tuple[Person, str]:
    """Stop emails of the link's kind for its person; they stay on the notifications page."""
    person, kind = unsubscribe_read(token)
    current = preferences_for([person], kind)[person.pk]
    if current.channel == Channel.EMAIL:
        preference_save(person=person, kind=kind, channel=Channel.PORTAL, frequency=current.frequency)
    return person, kind


# --- Chat channels -----------------------------------------------------------------------------


def chat_channel_clean(channel: ChatChannel, url: str | None) -> None:
    """ValidationError naming each problem: the webhook address (http(s), public unless
    OUTBOUND_ALLOW_PRIVATE, a query allowed), one team or one stream, known kinds."""
    errors: dict[str, list[str]] = {}
    if url is not None:
        try:
            check_url(url, query=True)
        except AddressRefused as error:
            errors["url"] = [str(error).replace(url.strip(), "the address")]  # the URL is a secret: not echoed
    elif not channel.url_encrypted:
        errors["url"] = ["Enter the channel's incoming webhook address."]
    if (channel.team_id is None) == (channel.stream_id is None):
        errors["team"] = ["Choose the team or the stream this channel belongs to (one of them)."]
    unknown = [kind for kind in channel.kinds or [] if kind not in Kind.values]
    if unknown:
        errors["kinds"] = [f"Unknown kinds: {', '.join(map(str, unknown))}."]
    if errors:
        raise ValidationError(errors)


@transaction.atomic
def chat_channel_save(*, channel: ChatChannel, url: str | None = None) -> ChatChannel:
    """Create or update a team's or stream's Slack or Teams channel; `url` None keeps the stored one."""
    chat_channel_clean(channel, url)
    if url is not None:
        channel.url = url.strip()
    channel.save()
    return channel
