"""Recording once, delivering at most once, retrying, and each channel's own format, against a
real SMTP server and a local server answering as Slack's and Teams' webhooks."""

import datetime as dt

import pytest

from portal.notifications.models import ChatChannel, Delivery, Kind, Notification
from portal.notifications.services import Message, deliver_due, notify, preference_save
from portal.notifications.tests.servers import ChatServer
from streams.integrations.tests.tool_servers import Fault
from teams.tests.factories import MembershipFactory, PersonFactory, TeamFactory

pytestmark = pytest.mark.django_db

MESSAGE = Message(
    subject="3 readiness checks wait on Payments ops",
    url="/readiness/?team=payments-ops",
    lines=(("PAY-1 Refunds: Legal review, waiting 4 days", "/items/1/"), ("PAY-2 <b>Wallets</b> & co", "/items/2/")),
    figures="n = 3 pending as of 2026-12-06; the oldest waits 4 days",
)


def chat_channel(server: ChatServer, hook: str, **fields) -> ChatChannel:
    channel = ChatChannel(name=hook, service="slack" if hook.startswith("slack") else "teams", **fields)
    channel.url = server.url(hook)
    channel.save()
    return channel


def test_an_email_goes_out_once_in_text_and_html_with_its_links_and_unsubscribe(smtp):
    person = PersonFactory(name="Ana Ops", email="ana@example.com")
    assert notify(person, Kind.READINESS_DIGEST, "team:1:2026-12-06", MESSAGE) is not None
    assert notify(person, Kind.READINESS_DIGEST, "team:1:2026-12-06", MESSAGE) is None  # the job ran again
    assert deliver_due() == {"sent": 1, "retry": 0, "failed": 0, "interrupted": 0}
    assert deliver_due()["sent"] == 0  # and the delivery job too
    [mail] = smtp.received
    assert mail.recipients == ["ana@example.com"]
    assert mail.message["Subject"] == MESSAGE.subject
    text, html = mail.part("text/plain"), mail.part("text/html")
    assert "https://portal.example.com/items/1/" in text and "n = 3 pending" in text
    assert '<a href="https://portal.example.com/items/2/">PAY-2 &lt;b&gt;Wallets&lt;/b&gt; &amp; co</a>' in html
    unsubscribe = mail.message["List-Unsubscribe"].strip().strip("<>")
    assert unsubscribe.startswith("https://portal.example.com/notifications/unsubscribe/") and unsubscribe in text
    assert mail.message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    delivery = Delivery.objects.get()
    assert (delivery.status, delivery.attempts) == (Delivery.Status.SENT, 1) and delivery.sent_at


def test_preferences_decide_the_channel_and_off_records_nothing(smtp, chat):
    team = TeamFactory()
    channel = chat_channel(chat, "slack/T000/B000/payments", team=team)
    emailed, chatting, portal_only, off = (MembershipFactory(team=team).person for _ in range(4))
    preference_save(person=chatting, kind=Kind.AGING, channel="chat")
    preference_save(person=portal_only, kind=Kind.AGING, channel="portal")
    preference_save(person=off, kind=Kind.AGING, channel="off")
    for person in (emailed, chatting, portal_only, off):
        notify(person, Kind.AGING, "team:1:2026-12-06", MESSAGE, chats=[channel])
    assert set(Notification.objects.values_list("recipient", flat=True)) == {emailed.pk, chatting.pk, portal_only.pk}
    deliver_due()
    assert [m.recipients for m in smtp.received] == [[emailed.email]]
    assert [hook for hook, _body in chat.posts] == ["slack/T000/B000/payments"]


def test_a_teams_channel_gets_one_post_however_many_members_chose_it(chat, smtp, settings):
    settings.PORTAL_URL = "https://portal.example.com"
    team = TeamFactory()
    channel = chat_channel(chat, "teams/workflows/ops", team=team)
    for _ in range(3):
        person = MembershipFactory(team=team).person
        preference_save(person=person, kind=Kind.READINESS_DIGEST, channel="chat")
        notify(person, Kind.READINESS_DIGEST, "team:1:2026-12-06", MESSAGE, chats=[channel])
    assert Notification.objects.count() == 3 and Delivery.objects.count() == 1
    deliver_due()
    [(hook, body)] = chat.posts
    card = body["attachments"][0]["content"]
    assert card["body"][0]["text"] == MESSAGE.subject
    lines = [block["text"] for block in card["body"][1:]]
    assert lines[0] == "- [PAY-1 Refunds: Legal review, waiting 4 days](https://portal.example.com/items/1/)"
    assert lines[-1] == MESSAGE.figures
    assert card["actions"][0]["type"] == "Action.OpenUrl"


def test_slack_blocks_escape_and_link_each_line(chat, settings):
    settings.PORTAL_URL = "https://portal.example.com"
    person = PersonFactory()
    preference_save(person=person, kind=Kind.AGING, channel="chat")
    channel = chat_channel(chat, "slack/T000/B000/payments", team=TeamFactory())
    notify(person, Kind.AGING, "k", MESSAGE, chats=[channel])
    deliver_due()
    [(_hook, body)] = chat.posts
    section = next(block for block in body["blocks"] if block["type"] == "section")["text"]["text"]
    assert "<https://portal.example.com/items/2/|PAY-2 &lt;b&gt;Wallets&lt;/b&gt; &amp; co>" in section
    assert body["text"] == MESSAGE.subject


def test_a_channel_answering_500_is_retried_later_and_does_not_block_the_others(chat, smtp, settings):
    settings.NOTIFY_BACKOFF_SECONDS = 60
    team = TeamFactory()
    channel = chat_channel(chat, "slack/T000/B000/payments", team=team)
    chatting, emailed = MembershipFactory(team=team).person, MembershipFactory(team=team).person
    preference_save(person=chatting, kind=Kind.AGING, channel="chat")
    notify(chatting, Kind.AGING, "k", MESSAGE, chats=[channel])
    notify(emailed, Kind.AGING, "k", MESSAGE, chats=[channel])
    chat.faults.append(Fault(path="slack", status=500, body={"error": "internal"}))
    now = dt.datetime.now(dt.UTC)
    assert deliver_due(now) == {"sent": 1, "retry": 1, "failed": 0, "interrupted": 0}
    assert len(smtp.received) == 1 and chat.posts == []
    post = Delivery.objects.get(channel="slack")
    assert post.status == Delivery.Status.PENDING and "answered 500" in post.last_error and post.attempts == 1
    assert post.next_attempt_at == now + dt.timedelta(seconds=60)
    assert deliver_due(now)["sent"] == 0  # not yet due
    assert deliver_due(now + dt.timedelta(seconds=61))["sent"] == 1
    assert len(chat.posts) == 1 and len(smtp.received) == 1  # the email was not sent again


def test_a_removed_webhook_and_a_mail_server_refusing_end_failed_with_words(chat, smtp, settings):
    settings.NOTIFY_MAX_ATTEMPTS = 2
    person = PersonFactory()
    preference_save(person=person, kind=Kind.AGING, channel="chat")
    gone = ChatChannel(name="old", service="slack", team=TeamFactory())
    gone.url = chat.url("slack/T000/B000/removed")
    gone.save()
    notify(person, Kind.AGING, "k", MESSAGE, chats=[gone])
    other = PersonFactory()
    notify(other, Kind.AGING, "k", MESSAGE)
    smtp.refuse = ["451 4.3.0 Mailbox busy, try later", "451 4.3.0 Mailbox busy, try later"]
    now = dt.datetime.now(dt.UTC)
    assert deliver_due(now) == {"sent": 0, "retry": 1, "failed": 1, "interrupted": 0}
    slack = Delivery.objects.get(channel="slack")
    assert slack.status == Delivery.Status.FAILED and "webhook was removed" in slack.last_error
    assert deliver_due(now + dt.timedelta(days=1))["failed"] == 1  # the second attempt was the last
    email = Delivery.objects.get(channel="email")
    assert email.status == Delivery.Status.FAILED and "451" in email.last_error and email.attempts == 2
    assert smtp.received == []


def test_a_delivery_claimed_by_a_worker_that_died_is_not_sent_twice(smtp):
    notify(PersonFactory(), Kind.AGING, "k", MESSAGE)
    long_ago = dt.datetime.now(dt.UTC) - dt.timedelta(hours=2)
    Delivery.objects.update(status=Delivery.Status.SENDING, claimed_at=long_ago, attempts=1)
    assert deliver_due()["interrupted"] == 1
    delivery = Delivery.objects.get()
    assert delivery.status == Delivery.Status.FAILED and "not sent again" in delivery.last_error
    assert smtp.received == []


def test_the_webhook_url_is_stored_encrypted():
    channel = ChatChannel(name="c", service="slack", team=TeamFactory())
    channel.url = "https://hooks.slack.com/services/T000/B000/secret"
    channel.save()
    stored = ChatChannel.objects.values_list("url_encrypted", flat=True).get()
    assert "secret" not in stored and ChatChannel.objects.get().url.endswith("/secret")
