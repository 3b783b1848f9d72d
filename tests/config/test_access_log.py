"""Every log line goes through the redaction, Daphne's access log too (issue 14, item 11)."""

import http.client
import io
import os
import subprocess
import sys

from daphne.access import AccessLogGenerator

from privacy.redaction import RedactingFilter
from config.web import RedactingStream
from tests.stack import _wait_port, free_port


def test_an_admin_search_for_an_email_or_a_card_is_logged_redacted():
    out = io.StringIO()
    log = AccessLogGenerator(RedactingStream(out))
    path = "/admin/chat/message/?q=pat%40example.com&card=4111+1111+1111+1111"
    log("http", "complete", {"path": path, "status": 200, "method": "GET", "client": "10.0.0.9:5555", "size": 10})
    line = out.getvalue()
    assert "GET /admin/chat/message/?q=[EMAIL]&card=[CARD]" in line
    assert "pat" not in line and "4111" not in line


def test_a_log_record_quoting_a_url_is_redacted_after_decoding():
    import logging

    record = logging.LogRecord("django.request", logging.WARNING, __file__, 1, "Not Found: %s",
                               ("/x?iban=NL91%20ABNA%200417%201643%2000",), None)
    RedactingFilter().filter(record)
    assert record.getMessage() == "Not Found: /x?iban=[IBAN]"


def test_the_web_process_prints_its_access_log_redacted(tmp_path):
    port = free_port()
    log = tmp_path / "web.log"
    with log.open("w") as sink:
        web = subprocess.Popen(
            [sys.executable, "-m", "config.web", "-b", "127.0.0.1", "-p", str(port), "config.asgi:application"],
            stdout=sink, stderr=subprocess.STDOUT, env={**os.environ, "SECRET_KEY": "test-" + "k" * 50},
        )
        try:
            _wait_port(port, timeout=60, alive=lambda: web.poll() is None)
            client = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            client.request("GET", "/no-such-page?q=pat%40example.com&card=4111+1111+1111+1111")
            client.getresponse().read()  # any answer (a redirect to https without DEBUG) is logged
            client.close()
        finally:
            web.terminate()
            web.wait(timeout=15)
    text = log.read_text()
    assert "/no-such-page?q=[EMAIL]&card=[CARD]" in text
    assert "pat@example.com" not in text and "pat%40example.com" not in text and "4111" not in text
