"""The notifications page, the count in the navigation, preferences, and the unsubscribe link."""

import time

from django.core import signing
from django.test import Client
from django.urls import reverse
from django.utils import timezone
import pytest

from portal.notifications.models import Delivery, Kind, Notification, NotificationPreference
from portal.notifications.services import UNSUBSCRIBE_SALT, Message, notify, unsubscribe_token
from teams.tests.factories import PersonFactory, UserFactory

pytestmark = pytest.mark.django_db


def message(subject):
    return Message(subject=subject, url="/readiness/", lines=(("PAY-1 Refunds", "/items/1/"),), figures="n = 1")


@pytest.fixture
def ana(client):
    person = PersonFactory(name="Ana", user=UserFactory(username="ana"))
    client.force_login(person.user)
    return person


def test_unread_come_first_with_a_count_in_the_navigation_and_others_notifications_stay_hidden(client, ana):
    old = notify(ana, Kind.AGING, "a", message("Old and read"))
    Notification.objects.filter(pk=old.pk).update(read_at=timezone.now())
    notify(ana, Kind.READINESS_DIGEST, "b", message("Newer unread"))
    notify(ana, Kind.GATE_REFUSED, "c", message("Newest unread"))
    notify(PersonFactory(name="Ben"), Kind.AGING, "a", message("Ben's only"))
    page = client.get(reverse("notifications:inbox")).content.decode()
    order = [page.index(s) for s in ("Newest unread", "Newer unread", "Old and read")]
    assert order == sorted(order) and "Ben's only" not in page
    assert 'aria-label="Notifications, 2 unread"' in page and "Email: waiting to be sent" in page
    client.post(reverse("notifications:read"), {"id": [str(old.pk + 1)]})
    assert Notification.objects.filter(recipient=ana, read_at__isnull=True).count() == 1
    client.post(reverse("notifications:read"))
    assert not Notification.objects.filter(recipient=ana, read_at__isnull=True).exists()
    assert 'aria-label="Notifications' not in client.get(reverse("notifications:inbox")).content.decode()


def test_one_query_more_for_the_count_however_many_notifications(client, ana, django_assert_max_num_queries):
    for n in range(30):
        notify(ana, Kind.AGING, f"k{n}", message(f"Note {n}"))
    with django_assert_max_num_queries(8):
        assert client.get(reverse("notifications:inbox")).status_code == 200


def test_preferences_are_saved_per_kind_and_refuse_unknown_values(client, ana):
    url = reverse("notifications:preferences")
    form = {f"{kind}-channel": "email" for kind in Kind.values} | {f"{kind}-frequency": "daily" for kind in Kind.values}
    form |= {"aging-channel": "off", "readiness_digest-channel": "chat", "readiness_digest-frequency": "weekly"}
    assert client.post(url, form).status_code == 302
    saved = {p.kind: (p.channel, p.frequency) for p in NotificationPreference.objects.filter(person=ana)}
    assert saved["aging"] == ("off", "daily") and saved["readiness_digest"] == ("chat", "weekly")
    assert saved["gate_refused"] == ("email", "daily")  # not a digest: no frequency to keep
    assert notify(ana, Kind.AGING, "x", message("Off")) is None
    refused = client.post(url, {"aging-channel": "pigeon"})
    assert refused.status_code == 400 and "choose one of the channels" in refused.content.decode()


def test_the_unsubscribe_link_works_without_logging_in_and_says_what_it_stopped(ana):
    anonymous = Client()
    token = unsubscribe_token(ana, Kind.READINESS_DIGEST)
    url = reverse("notifications:unsubscribe", args=[token])
    page = anonymous.get(url).content.decode()
    assert "Stop emails of “Readiness checks waiting on your team” to Ana?" in page
    assert not NotificationPreference.objects.exists()  # a GET (a mail client's preview) changes nothing
    done = anonymous.post(url).content.decode()
    assert "Ana will no longer get “Readiness checks waiting on your team” by email" in done
    assert NotificationPreference.objects.get(person=ana, kind=Kind.READINESS_DIGEST).channel == "portal"
    note = notify(ana, Kind.READINESS_DIGEST, "after", message("After unsubscribing"))
    assert note is not None and not Delivery.objects.filter(notification=note).exists()  # in the portal only
    assert Delivery.objects.filter(notification=notify(ana, Kind.AGING, "x", message("Other kind"))).count() == 1


def test_a_forged_or_expired_unsubscribe_link_is_refused_with_words(ana, settings):
    anonymous = Client()
    forged = anonymous.get(reverse("notifications:unsubscribe", args=["eyJwIjoxfQ:forged:sig"]))
    assert forged.status_code == 400 and "not one the portal sent" in forged.content.decode()

    class Past(signing.TimestampSigner):  # signed three days ago
        def timestamp(self):
            return signing.b62_encode(int(time.time()) - 3 * 86400)

    token = Past(salt=UNSUBSCRIBE_SALT).sign_object({"p": ana.pk, "k": Kind.AGING}, compress=True)
    settings.NOTIFY_UNSUBSCRIBE_DAYS = 2
    expired = anonymous.post(reverse("notifications:unsubscribe", args=[token]))
    assert expired.status_code == 400 and "older than 2 days" in expired.content.decode()
    assert not NotificationPreference.objects.exists()
    settings.NOTIFY_UNSUBSCRIBE_DAYS = 4
    assert anonymous.post(reverse("notifications:unsubscribe", args=[token])).status_code == 200
