"""A client that never reads cannot make the server hold more than the cap for it (issue 14, item 5)."""

import base64
import os
import re
import socket
import subprocess
import sys
import time

from tests.stack import ROOT, _wait_port, free_port


def test_a_client_that_never_reads_is_dropped_once_its_unsent_data_passes_the_cap(tmp_path):
    port = free_port()
    log = tmp_path / "web.log"
    env = {**os.environ, "SECRET_KEY": "test-" + "k" * 50, "CHAT_MAX_UNSENT_BYTES": str(2**20)}
    with log.open("w") as sink:
        web = subprocess.Popen([sys.executable, "-m", "config.web", "-p", str(port), "tests.flood_asgi:application"],
                               cwd=ROOT, env=env, stdout=sink, stderr=subprocess.STDOUT)
        try:
            _wait_port(port, timeout=60, alive=lambda: web.poll() is None)
            client = socket.socket()
            client.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8192)
            client.connect(("127.0.0.1", port))
            key = base64.b64encode(os.urandom(16)).decode()
            client.sendall((f"GET /flood HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
                            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n").encode())
            # Never read: wait for the app to say how its flood ended.
            deadline = time.monotonic() + 120
            while "flood:" not in log.read_text() and web.poll() is None and time.monotonic() < deadline:
                time.sleep(0.2)  # polling a log file for a condition, not a timed wait
            client.close()
        finally:
            web.terminate()
            web.wait(timeout=15)
    text = log.read_text()
    found = re.search(r"flood: (\w+) after (\d+) bytes", text)
    assert found, text
    assert found.group(1) == "disconnected"
    # Kernel socket buffers take a few MiB before Twisted's own buffer grows past the 1 MiB cap.
    assert int(found.group(2)) < 16 * 2**20
    assert "does not read" in text
