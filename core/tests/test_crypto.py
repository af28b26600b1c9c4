"""Secrets at rest: encrypted under CREDENTIAL_KEYS, rotated, and a lost key said in words."""

from cryptography.fernet import Fernet
import pytest

from core.crypto import SecretUnreadable, decrypt, encrypt, rotate

OLD, NEW = Fernet.generate_key().decode(), Fernet.generate_key().decode()


def test_a_secret_is_stored_encrypted_and_read_back(settings):
    settings.CREDENTIAL_KEYS = [OLD]
    token = encrypt("pat-1234")
    assert "pat-1234" not in token and decrypt(token) == "pat-1234"
    assert encrypt("") == "" and decrypt("") == ""


def test_without_keys_one_derived_from_the_secret_key_is_used(settings):
    settings.CREDENTIAL_KEYS = []
    token = encrypt("pat")
    assert decrypt(token) == "pat"
    settings.SECRET_KEY = "another secret key"
    with pytest.raises(SecretUnreadable, match="enter it again"):
        decrypt(token)


def test_rotation_re_encrypts_under_the_first_key_and_the_old_key_can_go(settings):
    settings.CREDENTIAL_KEYS = [OLD]
    token = encrypt("pat")
    settings.CREDENTIAL_KEYS = [NEW, OLD]
    assert decrypt(token) == "pat"
    rotated = rotate(token)
    settings.CREDENTIAL_KEYS = [NEW]
    assert decrypt(rotated) == "pat"
    with pytest.raises(SecretUnreadable):
        decrypt(token)


def test_a_malformed_key_is_a_configuration_error_that_says_how_to_make_one(settings):
    from django.core.exceptions import ImproperlyConfigured

    settings.CREDENTIAL_KEYS = ["not-a-key"]
    with pytest.raises(ImproperlyConfigured, match="Fernet.generate_key"):
        encrypt("pat")
