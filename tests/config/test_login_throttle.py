"""Repeated wrong passwords lock the account and the address (django-axes); password reset is
offered only with a mail server, and throttled (issue 14, item 9)."""

import uuid

import pytest
from django.contrib.auth.models import User
from django.http import HttpResponse
from django.test import Client, RequestFactory

from config.throttle import per_address_per_hour

pytestmark = [pytest.mark.django_db]

PASSWORD = "right-horse-battery-staple"


@pytest.fixture
def agent(db):
    return User.objects.create_user("alex", password=PASSWORD, is_staff=True)


def sign_in(client: Client, password: str, path: str = "/accounts/login/") -> int:
    response = client.post(path, {"username": "alex", "password": password}, secure=True, REMOTE_ADDR="203.0.113.4")
    return response.status_code


def signed_in(client: Client) -> bool:
    return "_auth_user_id" in client.session


def test_thirty_wrong_passwords_lock_the_account_and_the_right_one_no_longer_works(agent, settings):
    client = Client()
    codes = [sign_in(client, f"wrong-{i}") for i in range(30)]
    assert codes[: settings.AXES_FAILURE_LIMIT - 1] == [200] * (settings.AXES_FAILURE_LIMIT - 1)
    assert set(codes[settings.AXES_FAILURE_LIMIT :]) == {429}
    assert sign_in(client, PASSWORD) == 429
    assert not signed_in(client)


def test_the_admin_login_is_throttled_too(agent, settings):
    client = Client()
    for i in range(settings.AXES_FAILURE_LIMIT):
        sign_in(client, f"wrong-{i}", path="/admin/login/?next=/admin/")
    assert sign_in(client, PASSWORD, path="/admin/login/?next=/admin/") == 429
    assert not signed_in(client)


def test_the_locked_account_stays_locked_from_another_address(agent, settings):
    for i in range(settings.AXES_FAILURE_LIMIT):
        sign_in(Client(), f"wrong-{i}")
    other = Client()
    response = other.post("/accounts/login/", {"username": "alex", "password": PASSWORD}, secure=True,
                          REMOTE_ADDR="198.51.100.20")
    assert response.status_code == 429


def test_a_few_typos_then_the_right_password_sign_in(agent):
    client = Client()
    assert [sign_in(client, "typo") for _ in range(3)] == [200, 200, 200]
    assert sign_in(client, PASSWORD) == 302
    assert signed_in(client)


def test_password_reset_is_not_offered_without_a_mail_server(settings):
    assert not settings.EMAIL_HOST
    assert Client().get("/accounts/password_reset/", secure=True).status_code == 404
    assert Client().post("/accounts/password_reset/", {"email": "a@example.com"}, secure=True).status_code == 404


def test_password_reset_posts_are_limited_per_address():
    view = per_address_per_hour(2)(lambda request: HttpResponse("sent"))
    factory = RequestFactory()
    path = f"/accounts/password_reset/{uuid.uuid4().hex}/"  # the count lives in the (maybe shared) cache for an hour
    codes = [view(factory.post(path, REMOTE_ADDR="192.0.2.9")).status_code for _ in range(4)]
    other = view(factory.post(path, REMOTE_ADDR="192.0.2.10")).status_code
    assert codes == [200, 200, 429, 429] and other == 200
