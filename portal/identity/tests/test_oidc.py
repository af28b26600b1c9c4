"""Single sign-on against a real OpenID Connect provider on loopback (node-oidc-provider):
users created from the claims and matched to people, groups mapped to roles at every sign-in,
passwords switched off, and every tampered or failed step refused in words."""

from urllib.parse import parse_qs, urlsplit

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.test import Client
import pytest

from core import access
from portal.identity.models import Identity
from portal.identity.tests.helpers import provider_pages, sign_in
from portal.tokens import token_create
from teams.tests.factories import PersonFactory, UserFactory

pytestmark = pytest.mark.django_db
User = get_user_model()


def roles(user) -> set[str]:
    return set(user.groups.values_list("name", flat=True))


def test_first_sign_in_creates_the_user_matches_the_person_and_maps_groups_to_roles(provider, client):
    person = PersonFactory(name="Lena Lead", email="lena@acme.example")
    provider.account("lena", email="LENA@acme.example", name="Lena Lead", groups=["pom-leaders", "unrelated"])
    page = client.get("/login/")
    assert "Sign in with Acme ID" in page.content.decode()
    response = sign_in(client, "lena", next_url="/okrs/")
    assert response.status_code == 302 and response["Location"] == "/okrs/"
    user = User.objects.get(email__iexact="lena@acme.example")
    person.refresh_from_db()
    assert person.user == user and roles(user) == {access.LEADER} and not user.has_usable_password()
    assert Identity.objects.get(user=user).groups == ["pom-leaders", "unrelated"]
    assert client.get("/").status_code == 200  # signed in


def test_group_changes_take_effect_at_the_next_sign_in(provider):
    provider.account("olivia", email="olivia@acme.example", name="Olivia", groups=["pom-owners"])
    sign_in(Client(), "olivia")
    user = User.objects.get(email="olivia@acme.example")
    assert roles(user) == {access.PRODUCT_OWNER}
    provider.account("olivia", email="olivia@acme.example", name="Olivia", groups=["pom-readers"])
    sign_in(Client(), "olivia")
    assert roles(User.objects.get(pk=user.pk)) == {access.VIEWER}  # removed from the owners: no longer one
    assert User.objects.filter(email="olivia@acme.example").count() == 1


def test_no_mapped_group_lets_in_a_viewer_or_is_refused_by_the_setting(provider, settings):
    provider.account("nia", email="nia@acme.example", name="Nia", groups=["elsewhere"])
    sign_in(Client(), "nia")
    assert roles(User.objects.get(email="nia@acme.example")) == {access.VIEWER}
    settings.OIDC_UNMAPPED = "refuse"
    provider.account("noe", email="noe@acme.example", name="Noe", groups=[])
    refused = sign_in(Client(), "noe")
    assert refused.status_code == 403
    assert "noe@acme.example is in none of the groups that give access" in refused.content.decode()
    assert not User.objects.filter(email="noe@acme.example").exists()


def test_without_a_group_mapping_roles_are_the_portals_and_kept(provider, settings):
    settings.OIDC_ROLE_GROUPS = ""  # a provider that sends no groups (Google)
    provider.account("gus", email="gus@acme.example", name="Gus", groups=[])
    sign_in(Client(), "gus")
    user = User.objects.get(email="gus@acme.example")
    assert roles(user) == {access.VIEWER}  # a newcomer reads
    user.groups.set([Group.objects.get_or_create(name=access.PRODUCT_DIRECTOR)[0]])  # given in the admin
    sign_in(Client(), "gus")
    assert roles(user) == {access.PRODUCT_DIRECTOR}


def test_a_user_disabled_in_the_portal_is_refused(provider):
    UserFactory(username="dan", email="dan@acme.example", is_active=False)
    provider.account("dan", email="dan@acme.example", name="Dan", groups=["pom-leaders"])
    refused = sign_in(Client(), "dan")
    assert refused.status_code == 403 and "disabled" in refused.content.decode()


def test_a_tampered_or_replayed_state_is_refused(provider):
    provider.account("lena", email="lena@acme.example", name="Lena", groups=["pom-leaders"])
    client = Client()
    start = client.get("/login/oidc/")
    back = provider_pages(start["Location"], "lena")
    path, query = urlsplit(back).path, parse_qs(urlsplit(back).query)
    forged = client.get(path, {"code": query["code"][0], "state": "forged-state"})
    assert forged.status_code == 400 and "does not match one this browser started" in forged.content.decode()
    # The genuine answer, in another browser (no session that started it): refused too.
    other = Client().get(path, {"code": query["code"][0], "state": query["state"][0]})
    assert other.status_code == 400
    assert not User.objects.filter(email="lena@acme.example").exists()


@pytest.mark.parametrize("fault, said", [("signature", "signature"), ("expired", "expired")])
def test_a_tampered_or_expired_token_is_refused(provider, fault, said):
    provider.account("lena", email="lena@acme.example", name="Lena", groups=["pom-leaders"])
    provider.tamper = fault
    provider.write()
    refused = sign_in(Client(), "lena")
    assert refused.status_code == 403 and "token was refused" in refused.content.decode()
    assert said in refused.content.decode().lower()
    assert not User.objects.filter(email="lena@acme.example").exists()


def test_a_token_whose_nonce_is_not_the_one_asked_for_is_refused(provider):
    provider.account("lena", email="lena@acme.example", name="Lena", groups=["pom-leaders"])
    client = Client()
    start = client.get("/login/oidc/")
    back = provider_pages(start["Location"], "lena")
    session = client.session
    for key, value in list(session.items()):  # the sign-in this browser started expects another nonce
        if key.startswith("_state_") and isinstance(value, dict) and "data" in value:
            value["data"]["nonce"] = "another-nonce"
            session[key] = value
    session.save()
    refused = client.get(back.removeprefix("http://testserver"))
    assert refused.status_code == 403 and "nonce" in refused.content.decode()
    assert not User.objects.filter(email="lena@acme.example").exists()


def test_a_wrong_issuer_or_an_unreachable_provider_is_said_in_words(provider, settings):
    from portal.identity import oidc

    settings.OIDC_ISSUER = provider.issuer.replace("127.0.0.1", "localhost")  # not the name it gives itself
    oidc.forget()
    refused = Client().get("/login/oidc/")
    assert refused.status_code == 502 and "names itself" in refused.content.decode()
    settings.OIDC_ISSUER = "http://127.0.0.1:9"  # nothing listens there
    oidc.forget()
    unreachable = Client().get("/login/oidc/")
    assert unreachable.status_code == 502 and "could not be reached" in unreachable.content.decode()


def test_with_local_login_off_only_the_break_glass_superuser_uses_a_password(provider, settings):
    settings.LOCAL_LOGIN = False
    UserFactory(username="olivia", roles=[access.PRODUCT_OWNER])
    User.objects.create_superuser("breakglass", "root@acme.example", "a-long-pass-phrase-42")
    refused = Client().post("/login/", {"username": "olivia", "password": "pw-for-tests-1"})
    assert refused.status_code == 200 and "Signing in with a password is switched off" in refused.content.decode()
    admin_door = Client().post("/admin/login/", {"username": "olivia", "password": "pw-for-tests-1"})
    assert admin_door.status_code == 200  # the admin's login form refuses too
    root = Client()
    assert root.post("/login/", {"username": "breakglass", "password": "a-long-pass-phrase-42"}).status_code == 302
    assert root.get("/").status_code == 200


def test_logout_ends_the_provider_session_too(provider):
    provider.account("lena", email="lena@acme.example", name="Lena", groups=["pom-leaders"])
    client = Client()
    sign_in(client, "lena")
    response = client.post("/logout/")
    assert response.status_code == 302
    target = urlsplit(response["Location"])
    assert f"{target.scheme}://{target.netloc}" == provider.issuer and target.path.endswith("/session/end")
    query = parse_qs(target.query)
    assert query["post_logout_redirect_uri"] == ["http://testserver/login/"] and "id_token_hint" in query
    assert client.get("/").status_code == 302  # the portal's session is over


def test_api_tokens_stay_for_scripts_and_die_with_a_disabled_user(settings):
    settings.LOCAL_LOGIN = False  # passwords off: tokens are not passwords
    user = UserFactory(username="reporter", roles=[access.VIEWER])
    _token, key = token_create(user=user, name="weekly report")
    script = Client(HTTP_AUTHORIZATION=f"Token {key}")
    assert script.get("/api/v1/streams/").status_code == 200
    user.is_active = False
    user.save()
    refused = script.get("/api/v1/streams/")
    assert refused.status_code in (401, 403) and refused["Content-Type"].startswith("application/json")
