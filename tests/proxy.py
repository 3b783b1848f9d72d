"""A TCP proxy that a test can cut: the service behind it becomes unreachable, then comes back.

    with Proxy("127.0.0.1", 5432) as proxy:   # clients connect to proxy.port
        proxy.cut()       # every open connection is reset, new ones are closed at once
        proxy.restore()   # connections go through again

Used to take PostgreSQL away from a live stack without stopping the shared server.
"""

from __future__ import annotations

import socket
import struct
import threading


class Proxy:
    def __init__(self, host: str, port: int) -> None:
        self.upstream = (host, port)
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.open: set[socket.socket] = set()
        self.lock = threading.Lock()
        self.is_cut = False
        self.closed = False

    def __enter__(self) -> Proxy:
        threading.Thread(target=self._accept, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.closed = True
        self.listener.close()
        self._reset_all()

    def cut(self) -> None:
        self.is_cut = True
        self._reset_all()

    def restore(self) -> None:
        self.is_cut = False

    def _reset_all(self) -> None:
        with self.lock:
            sockets, self.open = list(self.open), set()
        for sock in sockets:
            try:
                # RST, as when a server goes away, rather than a polite FIN.
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                sock.close()
            except OSError:
                pass

    def _accept(self) -> None:
        while not self.closed:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            if self.is_cut:
                client.close()
                continue
            try:
                upstream = socket.create_connection(self.upstream, timeout=5)
                upstream.settimeout(None)
            except OSError:
                client.close()
                continue
            with self.lock:
                self.open.update((client, upstream))
            threading.Thread(target=self._pump, args=(client, upstream), daemon=True).start()
            threading.Thread(target=self._pump, args=(upstream, client), daemon=True).start()

    def _pump(self, source: socket.socket, target: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                target.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (source, target):
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
