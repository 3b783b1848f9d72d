"""nginx in front of web processes, from the project's own deploy/nginx files (TLS included).

    with Nginx([port_a, port_b], workdir) as nginx:
        nginx.wss("/ws/chat/?site=demo")   # through nginx, TLS with a self-signed certificate
        nginx.cert                         # trust it: SSL_CERT_FILE=nginx.cert

deploy/nginx/chatbot.conf is used as an operator installs it, with this machine's ports, a fresh
self-signed certificate for localhost and the snippet paths of the checkout. Used by
tests/live/test_multinode.py and `bench/load.py --nginx`.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

from tests.stack import ROOT, Process, StackError, _wait_port, free_port

DEPLOY = ROOT / "deploy" / "nginx"


def binary() -> str | None:
    return shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)


def render_site(web_ports: list[int], http_port: int, https_port: int, cert: Path, key: Path) -> str:
    """deploy/nginx/chatbot.conf with these ports, this certificate and the checkout's snippets."""
    site = "".join(line for line in (DEPLOY / "chatbot.conf").read_text().splitlines(keepends=True)
                   if not line.lstrip().startswith("#"))
    site = site.replace("/etc/nginx/snippets/", f"{DEPLOY}/")
    site = re.sub(r"(upstream chatbot_web \{\n)(?:.*\n)*?(\s*keepalive)",
                  lambda m: m.group(1) + "".join(f"    server 127.0.0.1:{p} max_fails=1 fail_timeout=5s;\n"
                                                 for p in web_ports) + m.group(2), site)
    site = re.sub(r"\n\s*listen \[::\]:\d+[^;]*;", "", site)
    site = site.replace("listen 80;", f"listen 127.0.0.1:{http_port};")
    site = site.replace("listen 443 ssl http2;", f"listen 127.0.0.1:{https_port} ssl http2;")
    site = site.replace("chat.example.com;", "localhost;")
    site = re.sub(r"ssl_certificate\s+\S+;", f"ssl_certificate {cert};", site)
    site = re.sub(r"ssl_certificate_key\s+\S+;", f"ssl_certificate_key {key};", site)
    if "example.com" in site or "10.0.0." in site:
        raise StackError(f"deploy/nginx/chatbot.conf changed shape; could not render it:\n{site}")
    return site


class Nginx:
    def __init__(self, web_ports: list[int], workdir: Path) -> None:
        path = binary()
        if path is None:
            raise StackError("nginx is not installed (make services-deps)")
        self.binary = path
        self.dir = workdir / "nginx"
        self.dir.mkdir(parents=True, exist_ok=True)
        self.http_port, self.https_port = free_port(), free_port()
        self.cert, self.key = self.dir / "cert.pem", self.dir / "key.pem"
        self.web_ports = web_ports
        self.conf = self.dir / "nginx.conf"
        self.process = Process("nginx", [self.binary, "-p", str(self.dir), "-c", str(self.conf)],
                               self.dir / "nginx.log", port=self.https_port, env=dict(os.environ))

    def configure(self) -> None:
        """Write a certificate and the configuration, and have nginx check it (`nginx -t`)."""
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj",
                        "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
                        "-keyout", str(self.key), "-out", str(self.cert)], check=True, capture_output=True)
        site = self.dir / "site.conf"
        site.write_text(render_site(self.web_ports, self.http_port, self.https_port, self.cert, self.key))
        d = self.dir
        user = "user root;\n" if os.geteuid() == 0 else ""  # workers able to read the checkout
        self.conf.write_text(
            f"{user}daemon off;\nworker_processes 1;\npid {d}/nginx.pid;\nerror_log {d}/error.log warn;\n"
            "events { worker_connections 4096; }\n"
            f"http {{\n  access_log off;\n  client_body_temp_path {d}/body;\n  proxy_temp_path {d}/proxy;\n"
            f"  fastcgi_temp_path {d}/fastcgi;\n  uwsgi_temp_path {d}/uwsgi;\n  scgi_temp_path {d}/scgi;\n"
            f"  include {site};\n}}\n")
        checked = subprocess.run([self.binary, "-t", "-p", str(d), "-c", str(self.conf)], capture_output=True, text=True)
        if checked.returncode != 0:
            raise StackError(f"nginx -t refused the configuration:\n{checked.stderr}")

    def start(self) -> Nginx:
        self.configure()
        self.process.start()
        _wait_port(self.https_port, 10, self.process.alive)
        return self

    def stop(self) -> None:
        self.process.kill()

    def __enter__(self) -> Nginx:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def https(self, path: str = "/") -> str:
        return f"https://localhost:{self.https_port}{path}"

    def wss(self, path: str = "/ws/chat/?site=demo") -> str:
        return f"wss://localhost:{self.https_port}{path}"
