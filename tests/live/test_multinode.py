"""Two "machines" on one: nginx (deploy/nginx, TLS) in front of two web processes with their own
ARTIFACTS_DIRs, two Celery workers, one PostgreSQL database and one Redis.

Through nginx: the connection budget is one for both web processes; a web process killed mid-run
loses its customers only for a reconnect, to the other one, with nothing lost or duplicated; a
retrain published by a worker is answered by both web processes, one of which starts afterwards
and fetches the bundle itself.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import time
import urllib.request

import pytest
import redis

from tests.conftest import missing, need_postgres, need_redis_server
from tests import nginx
from tests.nginx import Nginx
from tests.stack import PYTHON, ChatClient, Process, RedisServer, Stack, StackError, free_port
from tests.live.test_faults import QUESTIONS, assert_delivered_exactly_once

pytestmark = [pytest.mark.services, pytest.mark.slow]

CAP = 8  # open chats per address, for the whole deployment
ENV = {
    "CHAT_MAX_CONNECTIONS_PER_IP": str(CAP), "CHAT_RATE_PER_MINUTE": "10000", "CHAT_RATE_PER_IP_PER_MINUTE": "100000",
    "PROXY_HEADERS": "true", "BUNDLE_POLL_SECONDS": "1", "CHAT_ANSWER_PROCESSES": "1",
    # A quick retrain is enough to show where it is served.
    "RETRAIN_EPOCHS": "1", "RETRAIN_MIN_ACCURACY": "0", "RETRAIN_GATE_TOLERANCE": "1",
}


class Deployment:
    """The processes of two nodes, over a Stack's throwaway database."""

    def __init__(self, stack: Stack, redis_url: str) -> None:
        self.stack = stack
        self.redis_url = redis_url
        self.workdir = stack.workdir
        self.processes: dict[str, Process] = {}
        self.web_ports = [free_port(), free_port()]
        self.nginx = Nginx(self.web_ports, self.workdir)

    def node_env(self, node: int) -> dict[str, str]:
        return {**self.stack.env(), "ARTIFACTS_DIR": str(self.workdir / f"node{node}" / "artifacts")}

    def add(self, name: str, argv: list[str], env: dict[str, str], port: int | None = None) -> Process:
        process = Process(name, argv, self.workdir / f"{name}.log", port=port, env=env)
        self.processes[name] = process
        return process

    def start(self) -> None:
        for node in (0, 1):
            self.add(f"web{node}", [PYTHON, "-m", "config.web", "-b", "127.0.0.1", "-p", str(self.web_ports[node]),
                                    "config.asgi:application"], self.node_env(node), self.web_ports[node])
            self.add(f"worker{node}", [PYTHON, "-m", "celery", "-A", "config", "worker", "--concurrency", "1",
                                       "--loglevel", "INFO", "-n", f"worker{node}@%h"], self.node_env(node))
        for process in self.processes.values():
            process.start()
        self.nginx.start()
        for node in (0, 1):
            self.stack.wait_healthy(self.processes[f"web{node}"])
            self.stack.wait_log(self.processes[f"worker{node}"], "ready.")

    def restart(self, name: str) -> None:
        process = self.processes[name]
        process.kill()
        process.start()
        if name.startswith("web"):
            self.stack.wait_healthy(process)

    def stop(self) -> None:
        self.nginx.stop()
        for process in self.processes.values():
            process.kill()

    def readiness(self, node: int) -> dict:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.web_ports[node]}/readyz", timeout=10) as response:
                return json.loads(response.read())
        except urllib.error.HTTPError as error:
            return json.loads(error.read())


@pytest.fixture
def deployment(monkeypatch):
    need_postgres()
    need_redis_server()
    if nginx.binary() is None:
        missing("nginx is not installed (make services-deps installs Debian's)")
    if shutil.which("openssl") is None:
        missing("openssl is not installed")
    with RedisServer() as server, Stack(0, redis_url=server.url, env=ENV) as stack:
        nodes = Deployment(stack, server.url)
        try:
            nodes.start()
            monkeypatch.setenv("SSL_CERT_FILE", str(nodes.nginx.cert))  # clients trust the test's certificate
            yield nodes
        except BaseException:
            print("\n".join(f"--- {p.name} ---\n{p.tail()}" for p in [*nodes.processes.values(), nodes.nginx.process]))
            raise
        finally:
            nodes.stop()


async def converse(client: ChatClient, index: int, messages: int) -> None:
    for i in range(messages):
        await client.say(f"{QUESTIONS[(index + i) % len(QUESTIONS)]} ({i})")
    await client.close()


def test_two_nodes_behind_nginx_share_limits_survive_a_killed_web_process_and_serve_one_model(deployment):
    nodes, stack = deployment, deployment.stack

    # Served over TLS by nginx, through either web process.
    with urllib.request.urlopen(nodes.nginx.https("/readyz"), timeout=10) as response:
        assert json.loads(response.read())["ready"] is True

    async def fill_the_budget() -> tuple[set[int], str]:
        clients = [ChatClient(nodes.nginx.wss(), timeout=30) for _ in range(CAP)]
        for client in clients:
            await client.open()
        # Which web processes hold them: each counts its sockets under its own pid in Redis.
        counted = redis.Redis.from_url(nodes.redis_url).zrange("chatbot-limits:connections:127.0.0.1", 0, -1)
        holders = {int(member.decode().split("-")[0]) for member in counted}
        from websockets.asyncio.client import connect

        async with connect(nodes.nginx.wss()) as ws:
            refused = json.loads(await asyncio.wait_for(ws.recv(), 10))["code"]
        for client in clients:
            await client.close()
        return holders, refused

    holders, refused = asyncio.run(fill_the_budget())
    assert holders == {nodes.processes["web0"].pid, nodes.processes["web1"].pid}, "nginx used one web process"
    assert refused == "too_many_connections", "each web process counted its own connections"

    # One web process killed while four customers talk through nginx.
    clients = [ChatClient(nodes.nginx.wss(), timeout=90) for _ in range(4)]
    killed = []

    async def killer() -> None:
        while sum(len(c.acks) for c in clients) < 6:
            await asyncio.sleep(0.01)
        await asyncio.to_thread(nodes.processes["web0"].kill)
        killed.append(True)

    async def scenario() -> None:
        await asyncio.gather(killer(), *(converse(c, i, 6) for i, c in enumerate(clients)))

    asyncio.run(scenario())
    assert killed
    assert any(c.connections > 1 for c in clients), "no customer was on the killed web process"
    for client in clients:
        assert_delivered_exactly_once(stack, client)

    # A retrain, run by whichever worker takes it, is served by both web processes: web1 (running)
    # picks it up, web0 (started after it, its cache empty) fetches it from the database.
    run = json.loads(stack.manage("retrain", "--async", "--json").stdout.strip().splitlines()[-1])["run"]
    deadline = time.monotonic() + 600
    while (status := stack.sql("SELECT status FROM training_trainingrun WHERE id = %s", [run])[0][0]) in (
            "queued", "running"):
        assert time.monotonic() < deadline, "the retrain did not finish"
        time.sleep(0.5)
    assert status == "published", stack.sql("SELECT error, metrics FROM training_trainingrun WHERE id = %s", [run])
    version = stack.sql("SELECT bundle_id FROM serving_activebundle")[0][0]
    # web0 comes back as a fresh machine would: nothing in its cache.
    shutil.rmtree(nodes.workdir / "node0" / "artifacts" / "bundles", ignore_errors=True)
    nodes.restart("web0")

    async def answered_by(node: int) -> str:
        client = ChatClient(f"ws://127.0.0.1:{nodes.web_ports[node]}/ws/chat/?site=demo", timeout=60)
        answer = await client.say("Where is my order?")
        await client.close()
        return answer["model_version"]

    for node in (0, 1):
        deadline = time.monotonic() + 60
        while nodes.readiness(node)["checks"]["model"]["detail"] != version:
            if time.monotonic() > deadline:
                raise StackError(f"web{node} does not serve {version}: {nodes.readiness(node)}")
            time.sleep(0.2)
        assert asyncio.run(answered_by(node)) == version
        assert (nodes.workdir / f"node{node}" / "artifacts" / "bundles" / version / "manifest.json").exists()
