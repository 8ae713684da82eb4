"""double_serve.py - what the tests' HTTP(S) protocol doubles share: a
threading server on 127.0.0.1, a free port chosen by the kernel and written
atomically to a file once it accepts connections, optional TLS, and a clean
exit on SIGTERM or when the parent (the test) goes away, so a crashed test
leaves nothing behind.

    from double_serve import Server, add_arguments, serve
    ap = argparse.ArgumentParser(); add_arguments(ap); args = ap.parse_args()
    serve(Server(("127.0.0.1", 0), Handler), args)
"""
import os
import signal
import ssl
import sys
import threading
import time
from http.server import ThreadingHTTPServer


class Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128

    def handle_error(self, request, client_address):
        pass  # clients that give up (timeouts, rejected certificates)


def add_arguments(ap):
    """--port-file PATH and --tls CERT KEY."""
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--tls", nargs=2, metavar=("CERT", "KEY"))


def write_port(path, port):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write("%d\n" % port)
    os.rename(tmp, path)


def watch_parent():
    ppid = os.getppid()
    while os.getppid() == ppid:
        time.sleep(0.5)
    os._exit(0)


def serve(server, args):
    """Serves until SIGTERM, SIGINT or the parent's exit."""
    if args.tls:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(args.tls[0], args.tls[1])
        server.socket = ctx.wrap_socket(server.socket, server_side=True,
                                        do_handshake_on_connect=False)
    signal.signal(signal.SIGTERM, lambda *a: sys.exit(0))
    threading.Thread(target=watch_parent, daemon=True).start()
    write_port(args.port_file, server.server_address[1])
    try:
        server.serve_forever()
    except (KeyboardInterrupt, SystemExit):
        pass
    finally:
        server.server_close()
