"""Only the configured proxy hops are believed in X-Forwarded-For (issue 14, item 3)."""

import ipaddress

import pytest

from config.proxy import client_address
from tests.conftest import chat_communicator


def test_without_trusted_proxies_the_peer_is_the_client():
    assert client_address("203.0.113.5", "198.51.100.1", hops=0) == "203.0.113.5"


def test_with_one_trusted_hop_the_address_our_proxy_appended_is_the_client():
    # The client forged "198.51.100.1"; our proxy appended the address it really came from.
    assert client_address("10.0.0.2", "198.51.100.1, 203.0.113.5", hops=1) == "203.0.113.5"


def test_two_hops_skip_two_proxies_and_no_more():
    assert client_address("10.0.0.2", "198.51.100.1, 203.0.113.5, 10.0.0.9", hops=2) == "203.0.113.5"


def test_trusted_networks_are_skipped_wherever_they_sit():
    networks = [ipaddress.ip_network("10.0.0.0/8")]
    assert client_address("10.0.0.2", "198.51.100.1, 203.0.113.5, 10.1.1.1", hops=0, networks=networks) == "203.0.113.5"


def test_a_request_that_bypassed_the_proxy_cannot_pick_an_address_beyond_the_hops():
    assert client_address("203.0.113.5", "", hops=1) == "203.0.113.5"
    assert client_address("203.0.113.5", "198.51.100.1", hops=1) == "198.51.100.1"  # at most the one hop


def socket_from(peer: str, forwarded_for: str):
    ws = chat_communicator(client=(peer, 5000))
    ws.scope["headers"] = [*ws.scope["headers"], (b"x-forwarded-for", forwarded_for.encode())]
    return ws


@pytest.mark.django_db(transaction=True)
async def test_a_forged_forwarded_for_cannot_lock_out_another_address(site, fake_bundle, settings):
    settings.TRUSTED_PROXY_HOPS = 1
    settings.CHAT_MAX_CONNECTIONS_PER_IP = 2
    victim = "198.51.100.77"
    opened = []
    for _ in range(4):  # the attacker names the victim; the proxy appends the attacker's address
        ws = socket_from("10.0.0.2", f"{victim}, 203.0.113.66")
        await ws.connect()
        opened.append((ws, (await ws.receive_json_from())["type"]))
    assert [kind for _, kind in opened] == ["conversation", "conversation", "error", "error"]
    customer = socket_from("10.0.0.2", victim)
    await customer.connect()
    assert (await customer.receive_json_from())["type"] == "conversation"
    for ws, _ in [*opened, (customer, None)]:
        await ws.disconnect()
