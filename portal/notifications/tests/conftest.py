import pytest

from portal.notifications.tests.servers import ChatServer, SmtpServer


@pytest.fixture
def smtp(settings):
    """Email goes through Django's SMTP backend to a real SMTP server on loopback."""
    with SmtpServer() as server:
        settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
        settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", server.port
        settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
        settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
        settings.EMAIL_TIMEOUT = 5
        settings.PORTAL_URL = "https://portal.example.com"
        yield server


@pytest.fixture
def chat():
    with ChatServer() as server:
        yield server
