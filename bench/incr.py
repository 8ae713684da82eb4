#!/usr/bin/env python3
"""Incremental reloads of bench/scale.sh (see there): one daemon, timed.

  incr.py DISTCROND JOBS_DIR NODES_DIR STATE_DIR LABEL PUTS ROUNDS FULL

Starts DISTCROND on the directories (a fresh STATE_DIR), waits until it is
scheduling, then measures, printing one line per figure prefixed by LABEL:

  - PUT /jobs/job000123, alternating its schedule between two minutes
    (so each PUT re-plans it), PUTS times on one keep-alive connection
    (Python's http.client), answered: p50/p99/max in ms (this includes the
    API's writing of the file: two fsyncs); beside it the reloads' own time
    (from their log lines: loader started to jobs planned) and the same
    client's GET /health, i.e. what the client and HTTP cost alone;
  - SIGHUP with nothing changed: from the signal to the "reloaded:" line;
  - with FULL "yes", SIGUSR2 (every file parsed) likewise;
  - the daemon restarted with reload_delay 0: a one-file change (a new
    version renamed over job000456.json) to the "reloaded:" line, ROUNDS
    times.

The daemon is started with reload_delay 1h for the first three, so that the
inotify events of the PUTs' own writes do not reload in between.  The log
is polled every 0.2 ms.  It measures; it never passes or fails on a time.
"""
import http.client
import os
import signal
import socket
import subprocess
import sys
import time

JOB = "job000123"
EDITED = "job000456"


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def job_text(minute):
    return ('{"description": "bench job (changed)", "policy": {"hosts": '
            '"any", "roles": ["bench"]}, "schedule": {"cron": "%d * * * *", '
            '"timezone": "UTC"}, "command": ["/bin/true"]}\n' % minute)


class Daemon:
    def __init__(self, prog, jobs, nodes, state, delay):
        self.port = free_port()
        self.log = os.path.join(state, "incr-daemon.log")
        self.logf = open(self.log, "w")
        self.proc = subprocess.Popen(
            [prog, "--config", "/dev/null", "--jobs-dir", jobs,
             "--nodes-dir", nodes, "--state-dir", state, "--listen",
             "127.0.0.1:%d" % self.port, "--log-level", "info",
             "--reload-delay", delay], stderr=self.logf)
        self.seen = 0
        self.off = 0
        self.text = ""
        self.wait_line("scheduling", 600)
        self.token = open(os.path.join(state, "api.token")).read().strip()

    def read_log(self):
        with open(self.log) as f:
            f.seek(self.off)
            new = f.read()
        self.off += len(new.encode())
        self.text += new
        return self.text

    def wait_line(self, what, timeout):
        end = time.time() + timeout
        while what not in self.read_log():
            if time.time() > end or self.proc.poll() is not None:
                sys.exit("error: no %r in %s" % (what, self.log))
            time.sleep(0.05)

    def reloads(self):
        return self.read_log().count("reloaded:")

    def time_reload(self, action, timeout=600):
        """Seconds from action() to the next "reloaded:" line."""
        n = self.reloads()
        t0 = time.perf_counter()
        action()
        end = t0 + timeout
        while self.reloads() <= n:
            if time.perf_counter() > end or self.proc.poll() is not None:
                sys.exit("error: no reload after %s" % action.__name__)
            time.sleep(0.0002)
        return time.perf_counter() - t0

    def reload_ms(self, n):
        """The durations the last n "reloaded:" lines give, in seconds."""
        lines = [l for l in self.read_log().splitlines() if "reloaded:" in l]
        return [float(l.rsplit(" in ", 1)[1].split()[0]) / 1e3
                for l in lines[-n:] if " ms" in l.rsplit(" in ", 1)[-1]]

    def last_reload(self):
        lines = [l for l in self.read_log().splitlines() if "reloaded:" in l]
        return lines[-1].split("reloaded: ", 1)[-1] if lines else "?"

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait()
        self.logf.close()


def pct(v):
    v = sorted(v)
    q = lambda p: v[min(len(v) - 1, int(round(p * (len(v) - 1))))]
    return "p50 %.2f ms, p99 %.2f ms, max %.2f ms (n=%d)" % (
        q(.5) * 1e3, q(.99) * 1e3, v[-1] * 1e3, len(v))


def timed_requests(d, method, path, bodies):
    conn = http.client.HTTPConnection("127.0.0.1", d.port)
    hdrs = {"Authorization": "Bearer " + d.token}
    out = []
    for body in bodies:
        t0 = time.perf_counter()
        conn.request(method, path, body=body, headers=hdrs)
        r = conn.getresponse()
        r.read()
        out.append(time.perf_counter() - t0)
        if r.status not in (200, 201):
            sys.exit("error: %s %s: %d" % (method, path, r.status))
    conn.close()
    return out


def main():
    prog, jobs, nodes, state, label = sys.argv[1:6]
    puts, rounds, full = int(sys.argv[6]), int(sys.argv[7]), sys.argv[8]
    m = (time.gmtime().tm_min + 30) % 60
    pre = "%s: " % label
    os.makedirs(state, mode=0o700, exist_ok=True)

    d = Daemon(prog, jobs, nodes, state, "1h")
    bodies = [job_text((m + i % 2) % 60) for i in range(puts)]
    put = timed_requests(d, "PUT", "/jobs/" + JOB, bodies)
    health = timed_requests(d, "GET", "/health", [None] * puts)
    print(pre + "PUT /jobs/x answered (new schedule planned): " + pct(put))
    print(pre + "  its reload: " + d.last_reload())
    own = d.reload_ms(puts)
    if own:
        print(pre + "  the reloads alone (their log lines): " + pct(own))
    print(pre + "  the client alone (GET /health): " + pct(health))
    hup = [d.time_reload(lambda: d.proc.send_signal(signal.SIGHUP))
           for _ in range(3)]
    print(pre + "SIGHUP, nothing changed, to the reload line: " + pct(hup))
    print(pre + "  its reload: " + d.last_reload())
    if full == "yes":
        usr2 = [d.time_reload(lambda: d.proc.send_signal(signal.SIGUSR2))
                for _ in range(2)]
        print(pre + "SIGUSR2 (every file) to the reload line: " + pct(usr2))
        print(pre + "  its reload: " + d.last_reload())
    d.stop()

    d = Daemon(prog, jobs, nodes, state, "0s")
    path = os.path.join(jobs, EDITED + ".json")

    def edit(i=[0]):
        i[0] += 1
        # written beside the directory: only the rename is an event in it
        tmp = os.path.join(os.path.dirname(jobs), "%s.new" % EDITED)
        with open(tmp, "w") as f:
            f.write(job_text((m + i[0] % 2) % 60))
        os.rename(tmp, path)
    ino = [d.time_reload(edit) for _ in range(rounds)]
    print(pre + "one file changed (inotify, reload_delay 0) to the reload "
          "line: " + pct(ino))
    print(pre + "  its reload: " + d.last_reload())
    d.stop()


if __name__ == "__main__":
    main()
