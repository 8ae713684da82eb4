#!/usr/bin/python3
"""smtp_server.py - a real SMTP server (Debian's python3-aiosmtpd) on
loopback for the tests of e-mail notifications.

It listens on 127.0.0.1 on a free port chosen by the kernel (or on --port,
for a server that comes up after its client was told where), writes the
port to --port-file once it accepts connections (as the HTTP doubles do),
and appends each message it accepts to --out as one JSON line: {"from",
"to", "data" (the message as received, CRLF lines), "tls" (after
STARTTLS), "auth" (the user who logged in, or null)}.  With --tls CERT KEY
it offers STARTTLS; with --auth USER PASSWORD it requires AUTH LOGIN or
PLAIN with those credentials (over plain text too, for the tests).  It
exits on SIGTERM or when its parent goes away.

Run it with Debian's /usr/bin/python3: the package installs for it.
"""
import argparse
import asyncio
import json
import os
import signal
import ssl
import sys
import threading

from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from double_serve import watch_parent, write_port  # noqa: E402


class Recorder:
    def __init__(self, path):
        self.path = path

    async def handle_DATA(self, server, session, envelope):
        rec = {
            "from": envelope.mail_from,
            "to": envelope.rcpt_tos,
            "data": envelope.original_content.decode("utf-8", "replace"),
            "tls": session.ssl is not None,
            "auth": session.auth_data if session.authenticated else None,
        }
        with open(self.path, "a") as f:
            f.write(json.dumps(rec) + "\n")
        return "250 OK"


def authenticator(user, password):
    def check(server, session, envelope, mechanism, auth_data):
        if mechanism not in ("LOGIN", "PLAIN"):
            return AuthResult(success=False, handled=False)
        ok = (isinstance(auth_data, LoginPassword)
              and auth_data.login.decode() == user
              and auth_data.password.decode() == password)
        return AuthResult(success=ok, handled=False,
                          auth_data=user if ok else None)
    return check


def factory(args):
    kw = {}
    if args.tls:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(args.tls[0], args.tls[1])
        kw["tls_context"] = ctx
    if args.auth:
        kw["authenticator"] = authenticator(args.auth[0], args.auth[1])
        kw["auth_required"] = True
        kw["auth_require_tls"] = False
    handler = Recorder(args.out)
    return lambda: SMTP(handler, hostname="localhost", **kw)


async def main(args):
    loop = asyncio.get_running_loop()
    server = await loop.create_server(factory(args), "127.0.0.1",
                                      args.port)
    loop.add_signal_handler(signal.SIGTERM, server.close)
    write_port(args.port_file, server.sockets[0].getsockname()[1])
    try:
        await server.serve_forever()
    except asyncio.CancelledError:
        pass


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--tls", nargs=2, metavar=("CERT", "KEY"))
    ap.add_argument("--auth", nargs=2, metavar=("USER", "PASSWORD"))
    a = ap.parse_args()
    threading.Thread(target=watch_parent, daemon=True).start()
    asyncio.run(main(a))
