"""Chat channels: configured through one service (the admin's form included), their webhook
address checked, encrypted, never echoed, and rotated with the other secrets."""

from cryptography.fernet import Fernet
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command
import pytest

from portal.notifications.models import ChatChannel
from portal.notifications.services import chat_channel_save
from streams.models import Connection
from streams.tests.factories import ValueStreamFactory
from teams.tests.factories import TeamFactory

pytestmark = pytest.mark.django_db

HOOK = "https://hooks.slack.com/services/T000/B000/secret-part"
OLD, NEW = Fernet.generate_key().decode(), Fernet.generate_key().decode()


def test_a_channel_needs_one_owner_and_a_web_address_that_is_never_echoed(settings):
    settings.OUTBOUND_ALLOW_PRIVATE = False
    with pytest.raises(ValidationError) as refused:
        chat_channel_save(channel=ChatChannel(name="#ops", service="slack"), url="ftp://hooks.example/secret-part")
    errors = refused.value.message_dict
    assert "one of them" in errors["team"][0]
    assert "https://" in errors["url"][0] and "secret-part" not in errors["url"][0]
    with pytest.raises(ValidationError, match="private or local"):
        chat_channel_save(
            channel=ChatChannel(name="#ops", service="slack", team=TeamFactory()), url="http://10.0.0.5/x"
        )
    settings.OUTBOUND_ALLOW_PRIVATE = True  # the tests resolve no name on the internet
    both = ChatChannel(name="#ops", service="slack", team=TeamFactory(), stream=ValueStreamFactory())
    with pytest.raises(ValidationError, match="one of them"):
        chat_channel_save(channel=both, url=HOOK)
    teams = "https://prod-01.westeurope.logic.azure.com/workflows/abc/triggers/manual/paths/invoke?api-version=1&sig=x"
    saved = chat_channel_save(channel=ChatChannel(name="Ops", service="teams", team=TeamFactory()), url=teams)
    assert ChatChannel.objects.get(pk=saved.pk).url == teams  # a workflow's signature rides in its query


def test_the_admin_form_saves_through_the_service_and_keeps_the_address_when_left_empty(admin_client):
    team = TeamFactory()
    form = {"name": "#payments", "service": "slack", "team": team.pk, "url": HOOK, "kinds": ["aging"], "active": "on"}
    response = admin_client.post("/admin/portal/chatchannel/add/", form)
    assert response.status_code == 302, response.content.decode()[:2000]
    channel = ChatChannel.objects.get()
    assert channel.url == HOOK and channel.kinds == ["aging"] and "secret-part" not in channel.url_encrypted
    change = admin_client.get(f"/admin/portal/chatchannel/{channel.pk}/change/").content.decode()
    assert "secret-part" not in change
    admin_client.post(f"/admin/portal/chatchannel/{channel.pk}/change/", form | {"url": "", "name": "#pay"})
    channel.refresh_from_db()
    assert channel.name == "#pay" and channel.url == HOOK
    refused = admin_client.post("/admin/portal/chatchannel/add/", form | {"team": "", "name": "#none"})
    assert refused.status_code == 200 and "one of them" in refused.content.decode()


def test_rotate_credentials_re_encrypts_tokens_and_webhook_addresses(settings, capsys):
    settings.CREDENTIAL_KEYS = [OLD]
    stream = ValueStreamFactory()
    connection = Connection(stream=stream, tool="jira_cloud", base_url="https://acme.atlassian.net")
    connection.token = "jira-token"
    connection.save()
    chat_channel_save(channel=ChatChannel(name="#ops", service="slack", stream=stream), url=HOOK)
    settings.CREDENTIAL_KEYS = [NEW, OLD]
    call_command("rotate_credentials")
    assert "2 secret(s) re-encrypted" in capsys.readouterr().out
    settings.CREDENTIAL_KEYS = [NEW]
    assert Connection.objects.get().token == "jira-token" and ChatChannel.objects.get().url == HOOK
    settings.CREDENTIAL_KEYS = [Fernet.generate_key().decode()]
    with pytest.raises(CommandError, match="connection .* chat channel"):
        call_command("rotate_credentials")
