"""A local SMTP server and a local webhook receiver for the digest and alert tests.

SmtpServer speaks enough SMTP for smtplib: EHLO/HELO, AUTH PLAIN and LOGIN, STARTTLS (tls="starttls")
or TLS from the first byte (tls="implicit"), MAIL, RCPT, DATA, RSET, NOOP, QUIT. It records every
message (`messages`: sender, recipients, raw bytes, the login used, whether TLS was on) and can
answer 451 to the first `fail_first` DATA commands. WebhookReceiver records each POST (path, JSON)
and answers `statuses` in turn (then 200).
"""
from __future__ import annotations

import base64
import json
import socketserver
import ssl
import subprocess
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path


@dataclass
class Received:
    sender: str
    recipients: list[str]
    data: bytes
    login: tuple[str, str] | None
    tls: bool


def self_signed_cert(folder: Path) -> tuple[Path, Path]:
    """A throw-away certificate for 127.0.0.1 (openssl)."""
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True)
    return cert, key


class _Handler(socketserver.StreamRequestHandler):
    server: "_TCP"

    def reply(self, line: str) -> None:
        self.wfile.write((line + "\r\n").encode())
        self.wfile.flush()

    def _wrap(self) -> None:
        self.connection = self.request = self.server.owner.tls_server_context.wrap_socket(self.request, server_side=True)
        self.rfile = self.connection.makefile("rb")
        self.wfile = self.connection.makefile("wb")
        self.tls = True

    def handle(self) -> None:
        owner = self.server.owner
        self.tls = False
        if owner.tls == "implicit":
            self._wrap()
        self.reply("220 localhost test SMTP")
        sender, rcpts, login = "", [], None
        while True:
            raw = self.rfile.readline()
            if not raw:
                return
            line = raw.decode().rstrip("\r\n")
            verb = line.split(" ", 1)[0].upper()
            arg = line[len(verb):].strip()
            if verb in ("EHLO", "HELO"):
                ext = ["250-localhost", "250-AUTH PLAIN LOGIN", "250-8BITMIME"]
                if owner.tls == "starttls" and not self.tls:
                    ext.append("250-STARTTLS")
                self.reply("\r\n".join(ext + ["250 SMTPUTF8"]))
            elif verb == "STARTTLS":
                self.reply("220 go ahead")
                self._wrap()
            elif verb == "AUTH":
                parts = arg.split()
                if parts[0].upper() == "PLAIN":
                    blob = parts[1] if len(parts) > 1 else None
                    if blob is None:
                        self.reply("334 ")
                        blob = self.rfile.readline().decode().strip()
                    _, user, pw = base64.b64decode(blob).decode().split("\0")
                else:  # LOGIN
                    self.reply("334 VXNlcm5hbWU6")
                    user = base64.b64decode(self.rfile.readline().strip()).decode()
                    self.reply("334 UGFzc3dvcmQ6")
                    pw = base64.b64decode(self.rfile.readline().strip()).decode()
                if owner.password is not None and pw != owner.password:
                    self.reply("535 5.7.8 authentication failed")
                    continue
                login = (user, pw)
                owner.logins.append((user, pw, self.tls))
                self.reply("235 ok")
            elif verb == "MAIL":
                sender, rcpts = arg.split(":", 1)[1].strip().split()[0].strip("<>"), []
                self.reply("250 ok")
            elif verb == "RCPT":
                rcpts.append(arg.split(":", 1)[1].strip().strip("<>"))
                self.reply("250 ok")
            elif verb == "DATA":
                self.reply("354 end with .")
                chunks = []
                while True:
                    data_line = self.rfile.readline()
                    if data_line in (b".\r\n", b".\n", b""):
                        break
                    chunks.append(data_line[1:] if data_line.startswith(b"..") else data_line)
                owner.data_commands += 1
                if owner.data_commands <= owner.fail_first:
                    self.reply("451 4.3.0 try again later")
                    continue
                owner.messages.append(Received(sender, rcpts, b"".join(chunks), login, self.tls))
                self.reply("250 queued")
            elif verb == "QUIT":
                self.reply("221 bye")
                return
            else:  # RSET, NOOP
                self.reply("250 ok")


class _TCP(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True
    owner: "SmtpServer"


@dataclass
class SmtpServer:
    tls: str | None = None  # None | "starttls" | "implicit"
    password: str | None = None  # when set, a login with another password is refused (535)
    fail_first: int = 0
    cert: tuple[Path, Path] | None = None
    messages: list[Received] = field(default_factory=list)
    logins: list[tuple[str, str, bool]] = field(default_factory=list)
    data_commands: int = 0

    def __enter__(self) -> "SmtpServer":
        if self.tls:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(*map(str, self.cert))
            self.tls_server_context = ctx
        self._srv = _TCP(("127.0.0.1", 0), _Handler)
        self._srv.owner = self
        self.port = self._srv.server_address[1]
        threading.Thread(target=self._srv.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        self._srv.shutdown()
        self._srv.server_close()


class WebhookReceiver:
    def __init__(self, statuses: list[int] | None = None):
        self.statuses = list(statuses or [])
        self.posts: list[tuple[str, dict]] = []
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                status = owner.statuses.pop(0) if owner.statuses else 200
                if status == 200:
                    owner.posts.append((self.path, json.loads(body)))
                self.send_response(status)
                self.send_header("Content-Type", "text/plain")
                self.end_headers()
                self.wfile.write(b"ok" if status == 200 else b"no")

            def log_message(self, *args) -> None:
                pass

        self._srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._srv.daemon_threads = True
        self.port = self._srv.server_address[1]

    def url(self, path: str = "/services/T0001/B0002/s3cretHookPath") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def __enter__(self) -> "WebhookReceiver":
        threading.Thread(target=self._srv.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        self._srv.shutdown()
        self._srv.server_close()
