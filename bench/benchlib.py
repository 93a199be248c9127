"""Servers, raw-socket load generators and process probes for bench/bench.py.

Everything here is bench-specific and light: the servers get configs tuned
for load (no flood control, big backlogs, quiet logs), the clients are raw
sockets driven by one epoll loop, and every stanza or IRC line a phase sends
is serialised before the clock starts.  Counting what arrives is done on
byte chunks (bytes.count/rfind in C), never by parsing XML per message.

Every process started here is remembered by PID and stopped by PID.
"""

import base64
import os
import re
import selectors
import shutil
import signal
import socket
import sqlite3
import subprocess
import time
from pathlib import Path

C2S_PORT = 5222
COMPONENT_PORT = 5347
IRC_PORT = 6667
IRC_HOST = "127.0.0.1"
USER_DOMAIN = "localhost"
PG_JID = "gw.localhost"
BB_JID = "biboumi.localhost"
SECRET = "bench-component-secret"
USER_PASSWORD = "pw"

PROSODY = os.environ.get("PROSODY", "/usr/bin/prosody")
INSPIRCD = os.environ.get("INSPIRCD", "/usr/sbin/inspircd")
BIBOUMI = os.environ.get("BIBOUMI", "/usr/bin/biboumi")

CLK_TCK = os.sysconf("SC_CLK_TCK")


class BenchError(Exception):
    """A phase could not complete (timeout, refused login, lost message...)."""


# ---------------------------------------------------------------------------
# process probes


def _stat_fields(pid):
    """The fields of /proc/PID/stat after the command name (field 3 on)."""
    with open(f"/proc/{pid}/stat") as f:
        s = f.read()
    return s[s.rindex(")") + 2:].split()


def proc_cpu(pid):
    """utime + stime of the whole process (all threads), in seconds."""
    fields = _stat_fields(pid)
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def proc_rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise BenchError(f"no VmRSS for pid {pid}")


def proc_pss_kib(pid):
    """Proportional set size: shared pages divided among their users."""
    with open(f"/proc/{pid}/smaps_rollup") as f:
        for line in f:
            if line.startswith("Pss:"):
                return int(line.split()[1])
    raise BenchError(f"no Pss for pid {pid}")


def proc_snapshot():
    """Every process of the machine: pid -> (ppid, start time in ticks, CPU
    seconds).  /proc lists processes, not their other threads, and a
    process's utime and stime count all its threads."""
    out = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            f = _stat_fields(d)
        except OSError:  # gone meanwhile
            continue
        out[int(d)] = (int(f[1]), int(f[19]), (int(f[11]) + int(f[12])) / CLK_TCK)
    return out


def tree_pids(pid, snap=None):
    """`pid` and its descendants (purplegate's worker processes are its
    children), from a proc_snapshot(): {(pid, start time): CPU seconds}."""
    snap = proc_snapshot() if snap is None else snap
    kids = {}
    for p, (ppid, _, _) in snap.items():
        kids.setdefault(ppid, []).append(p)
    out = {}
    todo = [pid]
    while todo:
        p = todo.pop()
        if p not in snap:
            continue
        out[(p, snap[p][1])] = snap[p][2]
        todo.extend(kids.get(p, []))
    return out


def proc_switches_io(pid):
    """Context switches (voluntary + involuntary: each voluntary one is a
    sleep and a wake-up) and read/write system calls (/proc/PID/io's syscr
    and syscw, every kind of read and write: sockets, pipes, files) of the
    whole process so far."""
    sw = 0
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(("voluntary_ctxt_switches:", "nonvoluntary_ctxt_switches:")):
                sw += int(line.split()[1])
    calls = 0
    with open(f"/proc/{pid}/io") as f:
        for line in f:
            if line.startswith(("syscr:", "syscw:")):
                calls += int(line.split()[1])
    return sw, calls


def tree_switches_io(pid, snap=None):
    """proc_switches_io() of `pid` and its descendants: {(pid, start time):
    (switches, calls)}; a process it cannot read is left out."""
    out = {}
    for key in tree_pids(pid, snap):
        try:
            out[key] = proc_switches_io(key[0])
        except (OSError, ValueError):
            continue
    return out


def tree_cpu(pid):
    """CPU seconds of `pid` and its descendants, as they are now."""
    return sum(tree_pids(pid).values())


def tree_mem_kib(pid):
    """VmRSS and Pss of `pid` and its descendants, summed, and how many
    processes that is: {"rss": KiB, "pss": KiB, "procs": n}.  RSS counts
    the pages the processes share (libraries) once per process."""
    rss = pss = n = 0
    for p, _ in tree_pids(pid):
        try:
            r, q = proc_rss_kib(p), proc_pss_kib(p)
        except (OSError, BenchError):  # exited meanwhile
            continue
        rss, pss, n = rss + r, pss + q, n + 1
    if n == 0:
        raise BenchError(f"no process {pid}")
    return {"rss": rss, "pss": pss, "procs": n}


def self_cpu():
    t = os.times()
    return t.user + t.system


def machine_busy():
    """Busy CPU seconds of the whole machine (all CPUs, /proc/stat)."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    return (sum(v[:8]) - v[3] - v[4]) / CLK_TCK  # minus idle and iowait


def tcp_inuse():
    """TCP sockets in use in this network namespace (/proc/net/sockstat)."""
    with open("/proc/net/sockstat") as f:
        for line in f:
            if line.startswith("TCP:"):
                parts = line.split()
                return int(parts[parts.index("inuse") + 1])
    return 0


def tcp_settled(timeout=5.0):
    """Waits until no TCP socket of the namespace is still closing (the
    servers of the previous phase), so that the count of sockets in use only
    grows during a login storm."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        with open("/proc/net/sockstat") as f:
            line = next(ln for ln in f if ln.startswith("TCP:")).split()
        now = (int(line[line.index("inuse") + 1]), int(line[line.index("orphan") + 1]))
        if now == last and now[1] == 0:
            return True
        last = now
        time.sleep(0.1)
    return False


def tcp_established_to(port):
    """ESTABLISHED client-side TCP connections to 127.0.0.1:port."""
    n = 0
    with open("/proc/net/tcp") as f:
        next(f)
        for line in f:
            parts = line.split()
            if parts[3] == "01" and int(parts[2].split(":")[1], 16) == port:
                n += 1
    return n


def tcp_conns_by_proc(pid, port):
    """ESTABLISHED client-side TCP connections to 127.0.0.1:port held by
    `pid` and by each of its descendants: [count], `pid`'s first, then its
    descendants' in pid order."""
    inodes = set()
    with open("/proc/net/tcp") as f:
        next(f)
        for line in f:
            parts = line.split()
            if parts[3] == "01" and int(parts[2].split(":")[1], 16) == port:
                inodes.add(f"socket:[{parts[9]}]")
    pids = sorted((p for p, _ in tree_pids(pid)), key=lambda p: (p != pid, p))
    out = []
    for p in pids:
        n = 0
        try:
            for fd in os.listdir(f"/proc/{p}/fd"):
                try:
                    n += os.readlink(f"/proc/{p}/fd/{fd}") in inodes
                except OSError:
                    pass
        except OSError:
            continue
        out.append(n)
    return out


class CpuProbe:
    """CPU seconds of named processes, each with its descendants (a
    gateway's worker processes count as the gateway), and of this load
    generator, between start() and stop().  A descendant started meanwhile
    counts whole; one that ended meanwhile is missing from the figure
    (`lost` says how many)."""

    def __init__(self, pids):
        self.pids = dict(pids)  # name -> pid

    def start(self):
        self.t0 = time.perf_counter()
        snap = proc_snapshot()
        self.c0 = {n: tree_pids(p, snap) for n, p in self.pids.items()}
        self.k0 = {n: tree_switches_io(p, snap) for n, p in self.pids.items()}
        self.s0 = self_cpu()
        self.m0 = machine_busy()
        return self

    def stop(self):
        self.t1 = time.perf_counter()
        snap = proc_snapshot()
        self.cpu, self.split, self.lost, self.procs = {}, {}, {}, {}
        # Context switches and read/write calls of each tree over the phase:
        # the kernel's share of a message, which instruction counts miss.
        self.switches, self.calls = {}, {}
        for n, p in self.pids.items():
            c1 = tree_pids(p, snap)
            c0 = self.c0[n]
            d = {k: v - c0.get(k, 0.0) for k, v in c1.items()}
            self.cpu[n] = sum(d.values())
            # The process itself, and its descendants (worker processes).
            main = sum(v for (q, _), v in d.items() if q == p)
            self.split[n] = {"main": main, "children": self.cpu[n] - main}
            self.lost[n] = len(set(c0) - set(c1))
            self.procs[n] = len(c1)
            k0, k1 = self.k0[n], tree_switches_io(p, snap)
            self.switches[n] = sum(v[0] - k0.get(k, (0, 0))[0] for k, v in k1.items())
            self.calls[n] = sum(v[1] - k0.get(k, (0, 0))[1] for k, v in k1.items())
        self.cpu["loadgen"] = self_cpu() - self.s0
        # Everything else the machine did meanwhile (other users of a shared
        # machine, the kernel's softirqs): shown so a busy run can be told.
        self.cpu["other"] = max(0.0, machine_busy() - self.m0 - sum(self.cpu.values()))
        self.wall = self.t1 - self.t0
        return self

    def percent(self):
        return {n: 100.0 * c / self.wall for n, c in self.cpu.items()}


# ---------------------------------------------------------------------------
# child processes

_children = {}


def start_process(argv, workdir, log_name, env=None):
    log = open(Path(workdir) / log_name, "ab")
    proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                            cwd=str(workdir), start_new_session=True, env=env)
    log.close()
    _children[proc.pid] = proc
    return proc


def stop_process(proc, timeout=5.0):
    if proc is None:
        return
    if proc.poll() is None:
        try:
            os.kill(proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            try:
                os.kill(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            proc.wait(timeout=10)
    _children.pop(proc.pid, None)


def stop_all_children():
    for proc in list(_children.values()):
        stop_process(proc, timeout=3)


def port_accepts(port, host="127.0.0.1"):
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def wait_port(proc, port, what, timeout=20):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise BenchError(f"{what} exited with status {proc.returncode}")
        if port_accepts(port):
            return
        time.sleep(0.02)
    raise BenchError(f"{what} did not open port {port} within {timeout}s")


def wait_port_closed(port, timeout=10):
    deadline = time.monotonic() + timeout
    while port_accepts(port):
        if time.monotonic() > deadline:
            raise BenchError(f"port {port} still open after {timeout}s")
        time.sleep(0.02)


def lua_str(s):
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def wait_quiet(pid, interval=0.3, timeout=10.0):
    """Waits until process `pid` and its descendants used no CPU tick during
    `interval` seconds."""
    deadline = time.monotonic() + timeout
    last = tree_cpu(pid)
    while time.monotonic() < deadline:
        time.sleep(interval)
        now = tree_cpu(pid)
        if now == last:
            return True
        last = now
    return False


# ---------------------------------------------------------------------------
# servers


class Prosody:
    """A private Prosody 0.12 on fixed ports (the bench runs in its own
    network namespace): c2s 5222, components 5347, warnings-only log,
    Nagle off on every socket, large accept backlog, plain SASL allowed."""

    def __init__(self, workdir, users):
        self.workdir = Path(workdir)
        self.data = self.workdir / "data"
        self.data.mkdir(parents=True, exist_ok=True)
        (self.workdir / "certs").mkdir(exist_ok=True)
        self.config = self.workdir / "prosody.cfg.lua"
        w = str(self.workdir)
        self.config.write_text("\n".join([
            "-- written by purplegate bench/benchlib.py",
            "run_as_root = true",
            f"pidfile = {lua_str(w + '/prosody.pid')}",
            f"data_path = {lua_str(str(self.data))}",
            f"certificates = {lua_str(w + '/certs')}",
            'modules_enabled = { "roster"; "saslauth"; "disco" }',
            'modules_disabled = { "s2s"; "s2s_auth_certs"; "dialback"; "offline" }',
            # TCP_NODELAY on every socket; room for a login storm's connects.
            "network_settings = { nagle = false; tcp_backlog = 4096 }",
            f"c2s_ports = {{ {C2S_PORT} }}",
            'c2s_interfaces = { "127.0.0.1" }',
            "c2s_direct_tls_ports = { }",
            f"component_ports = {{ {COMPONENT_PORT} }}",
            'component_interfaces = { "127.0.0.1" }',
            "s2s_ports = { }", "http_ports = { }", "https_ports = { }",
            "c2s_require_encryption = false",
            "s2s_require_encryption = false",
            "allow_unencrypted_plain_auth = true",
            'authentication = "internal_plain"',
            'storage = "internal"',
            f'log = {{ {{ levels = {{ min = "warn" }}, to = "file", '
            f"filename = {lua_str(w + '/prosody.log')} }} }}",
            "",
            f"VirtualHost {lua_str(USER_DOMAIN)}",
            "",
            f"Component {lua_str(PG_JID)}",
            f"  component_secret = {lua_str(SECRET)}",
            f"Component {lua_str(BB_JID)}",
            f"  component_secret = {lua_str(SECRET)}",
            "",
        ]))
        acc = self.data / USER_DOMAIN / "accounts"
        acc.mkdir(parents=True, exist_ok=True)
        for u in users:
            (acc / f"{u}.dat").write_text(f'return {{\n\t["password"] = "{USER_PASSWORD}";\n}};\n')
        self.proc = None

    def start(self):
        self.proc = start_process([PROSODY, "-F", "--config", str(self.config)], self.workdir,
                                  "prosody.console")
        wait_port(self.proc, C2S_PORT, "prosody")
        wait_port(self.proc, COMPONENT_PORT, "prosody")
        return self

    def stop(self):
        stop_process(self.proc)
        wait_port_closed(C2S_PORT)

    @property
    def pid(self):
        return self.proc.pid


class InspIRCd:
    """A private InspIRCd 3 on 127.0.0.1:6667 with flood control off: no fake
    lag, huge command rate and penalty threshold, clone limits lifted, big
    send/receive queues, netbuffersize at its 65534 maximum, a 4096 backlog."""

    def __init__(self, workdir):
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        motd = self.workdir / "motd"
        motd.write_text("bench\n")
        self.config = self.workdir / "inspircd.conf"
        self.config.write_text(f"""\
<server name="irc.localhost" description="purplegate bench" network="Bench">
<admin name="bench" nick="bench" email="bench@localhost">
<bind address="127.0.0.1" port="{IRC_PORT}" type="clients">
<connect name="main" allow="*" timeout="60" threshold="1000000000"
  commandrate="1000000000" fakelag="no" pingfreq="3600" hardsendq="67108864"
  softsendq="67108864" recvq="65536" localmax="100000" globalmax="100000"
  limit="100000" maxchans="100" resolvehostnames="no" useident="no">
<dns server="127.0.0.1" timeout="1">
<pid file="{self.workdir}/inspircd.pid">
<log method="file" type="* -USERINPUT -USEROUTPUT" level="sparse" target="{self.workdir}/inspircd.log">
<options prefixquit="Quit: " syntaxhints="no" announcets="yes" pingwarning="15">
<security hideserver="" userstats="Pu" flatlinks="no" maxtargets="20">
<performance quietbursts="yes" softlimit="16384" somaxconn="4096" netbuffersize="65534">
<whowas groupsize="10" maxgroups="1000" maxkeep="3d">
<files motd="{motd}">
""")
        self.proc = None

    def start(self):
        argv = [INSPIRCD, "--config", str(self.config), "--nofork"]
        if os.getuid() == 0:
            argv.append("--runasroot")
        self.proc = start_process(argv, self.workdir, "inspircd.console")
        wait_port(self.proc, IRC_PORT, "inspircd")
        return self

    def stop(self):
        stop_process(self.proc)

    @property
    def pid(self):
        return self.proc.pid


class PurplegateProc:
    def __init__(self, workdir, binary, wrapper=(), extra_config=""):
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.binary = binary
        self.wrapper = list(wrapper)
        self.config = self.workdir / "purplegate.conf"
        self.config.write_text(f"""\
[component]
jid = {PG_JID}
host = 127.0.0.1
port = {COMPONENT_PORT}
secret = {SECRET}

[legacy]
protocol = prpl-irc
name = IRC
username_suffix = @{IRC_HOST}

[legacy-settings]
port = {IRC_PORT}
# prpl-irc queues every outgoing line and sends one per ratelimit-interval
# (2 s) after a burst: off for the benchmark, as Biboumi's throttle is.
ratelimit-interval = 0
ratelimit-burst = 1000000

[database]
path = {self.workdir}/purplegate.db
key_file = {self.workdir}/purplegate.key

[registration]
allowed_domains = {USER_DOMAIN}

[log]
level = warning
""" + extra_config)
        self.proc = None

    def start(self):
        self.proc = start_process(self.wrapper + [str(self.binary), "--config", str(self.config)],
                                  self.workdir, "purplegate.stderr")
        return self

    def stop(self):
        stop_process(self.proc)

    @property
    def pid(self):
        return self.proc.pid


class BiboumiProc:
    """Biboumi with a sqlite database pre-seeded with every user's options for
    the IRC server 127.0.0.1: plain port 6667 only, and throttle_limit -1
    (what each user's ad-hoc `configure` command would store); with
    record_history=False, the users' global option "record history" off
    too (by default Biboumi archives every channel line, once per user)."""

    def __init__(self, workdir, owners, wrapper=(), record_history=True):
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.wrapper = list(wrapper)
        self.db = self.workdir / "biboumi.sqlite"
        self.owners = list(owners)
        self.record_history = record_history
        self.proc = None

    def _write_config(self, port):
        cfg = self.workdir / "biboumi.cfg"
        cfg.write_text("\n".join([
            f"hostname={BB_JID}",
            f"password={SECRET}",
            "xmpp_server_ip=127.0.0.1",
            f"port={port}",
            f"db_name={self.db}",
            "identd_port=0",
            "log_level=2",
            "realname_customization=true",
            "",
        ]))
        return cfg

    def seed(self):
        # Biboumi creates its schema when it opens the database, before it
        # connects to the XMPP server: let it do that against a closed port.
        cfg = self._write_config(1)
        subprocess.run([BIBOUMI, str(cfg)], cwd=str(self.workdir), stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL, timeout=30)
        con = sqlite3.connect(str(self.db))
        cols = {r[1] for r in con.execute("PRAGMA table_info(ircserveroptions_)")}
        if "throttlelimit_" not in cols:
            raise BenchError("biboumi's ircserveroptions_ table has no throttlelimit_ column "
                             f"(columns: {sorted(cols)})")
        con.executemany(
            "INSERT INTO ircserveroptions_ (owner_, server_, pass_, tlsports_, ports_, username_, "
            "realname_, verifycert_, trustedfingerprint_, encodingout_, encodingin_, "
            "maxhistorylength_, address_, nick_, saslpassword_, throttlelimit_) "
            "VALUES (?, ?, '', '', ?, '', '', 1, '', '', '', 20, '', '', '', -1)",
            [(o, IRC_HOST, str(IRC_PORT)) for o in self.owners])
        if not self.record_history:
            # What each user's global `configure` ad-hoc command stores with
            # "Record history" unticked: no channel line is archived.
            con.executemany(
                "INSERT INTO globaloptions_ (owner_, maxhistorylength_, recordhistory_, "
                "persistent_) VALUES (?, 20, 0, 0)", [(o,) for o in self.owners])
        con.commit()
        con.close()

    def start(self):
        self.seed()
        cfg = self._write_config(COMPONENT_PORT)
        self.proc = start_process(self.wrapper + [BIBOUMI, str(cfg)], self.workdir, "biboumi.log")
        return self

    def stop(self):
        stop_process(self.proc)

    @property
    def pid(self):
        return self.proc.pid


# ---------------------------------------------------------------------------
# raw clients on one epoll loop


class Loop:
    def __init__(self):
        self.sel = selectors.EpollSelector()

    def add(self, conn):
        self.sel.register(conn.sock, selectors.EVENT_READ, conn)

    def remove(self, conn):
        try:
            self.sel.unregister(conn.sock)
        except (KeyError, ValueError):
            pass

    def poll(self, timeout):
        for key, _ in self.sel.select(timeout):
            conn = key.data
            try:
                data = conn.sock.recv(262144)
            except (BlockingIOError, InterruptedError):
                continue
            except OSError as e:
                data = b""
                conn.closed = str(e)
            now = time.perf_counter()
            if not data:
                self.remove(conn)
                conn.closed = conn.closed or "EOF"
                conn.on_close()
                continue
            conn.on_data(data, now)

    def run_until(self, pred, timeout, what, tick=None):
        deadline = time.perf_counter() + timeout
        while not pred():
            left = deadline - time.perf_counter()
            if left <= 0:
                raise BenchError(f"timed out after {timeout:.0f}s waiting for {what}")
            self.poll(min(left, 0.05))
            if tick:
                tick()

    def run_for(self, seconds):
        deadline = time.perf_counter() + seconds
        while True:
            left = deadline - time.perf_counter()
            if left <= 0:
                return
            self.poll(min(left, 0.5))


def h_discard(conn, now):
    if len(conn.buf) > 65536:
        conn.buf = conn.buf[-4096:]


class Conn:
    def __init__(self, loop, port):
        self.loop = loop
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=30)
        self.sock.settimeout(None)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""
        self.handler = h_discard
        self.closed = None
        self.flag = False
        self.match = None
        self.rooms = set()  # group chats whose join completed (channel phase)
        self.got = 0        # marked groupchat messages received (channel phase)
        loop.add(self)

    def send(self, data):
        self.sock.sendall(data)

    def on_close(self):
        pass

    def close(self):
        self.loop.remove(self)
        try:
            self.sock.close()
        except OSError:
            pass


STREAM_HEADER = (b"<?xml version='1.0'?><stream:stream xmlns='jabber:client' "
                 b"xmlns:stream='http://etherx.jabber.org/streams' to='" +
                 USER_DOMAIN.encode() + b"' version='1.0'>")


class Xmpp(Conn):
    """A c2s client: SASL PLAIN over plain TCP, resource bind, initial
    presence; then every byte goes to `handler(conn, arrival_time)`."""

    def __init__(self, loop, user, resource="bench"):
        super().__init__(loop, C2S_PORT)
        self.user = user
        self.bare = f"{user}@{USER_DOMAIN}"
        self.resource = resource
        self.state = "auth"
        cred = base64.b64encode(f"\0{user}\0{USER_PASSWORD}".encode())
        self.send(STREAM_HEADER + b"<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' "
                  b"mechanism='PLAIN'>" + cred + b"</auth>")

    def on_data(self, data, now):
        self.buf += data
        if self.state == "ready":
            self.handler(self, now)
        elif self.state == "auth":
            if b"<success" in self.buf:
                self.state = "bind"
                self.buf = b""
                self.send(STREAM_HEADER +
                          b"<iq type='set' id='bind1'><bind xmlns='urn:ietf:params:xml:ns:"
                          b"xmpp-bind'><resource>" + self.resource.encode() +
                          b"</resource></bind></iq><presence/>")
            elif b"<failure" in self.buf:
                raise BenchError(f"SASL failure for {self.user}: {self.buf[-300:]!r}")
        elif self.state == "bind":
            i = self.buf.find(b"</jid>")
            if i >= 0:
                self.state = "ready"
                self.buf = self.buf[i + 6:]
                self.handler(self, now)

    def on_close(self):
        if self.state != "closing":
            raise BenchError(f"c2s connection of {self.user} closed ({self.closed}): "
                             f"{self.buf[-300:]!r}")


class Irc(Conn):
    """A raw IRC client: NICK/USER, ready after the end of the MOTD; then
    every byte goes to `handler(conn, arrival_time)`."""

    def __init__(self, loop, nick):
        super().__init__(loop, IRC_PORT)
        self.nick = nick
        self.state = "reg"
        self.send(f"NICK {nick}\r\nUSER {nick} 0 * :bench {nick}\r\n".encode())

    def on_data(self, data, now):
        self.buf += data
        if self.state == "ready":
            self.handler(self, now)
            return
        if b"PING" in self.buf:
            pong_lines(self, self.buf)
        if re.search(rb" (376|422) ", self.buf):
            self.state = "ready"
            self.buf = b""
        elif re.search(rb" 433 ", self.buf):
            raise BenchError(f"IRC nick {self.nick} in use")

    def on_close(self):
        if self.state != "closing":
            raise BenchError(f"IRC connection of {self.nick} closed ({self.closed}): "
                             f"{self.buf[-300:]!r}")


def pong_lines(conn, chunk):
    for line in chunk.split(b"\n"):
        if line.startswith(b"PING"):
            conn.send(b"PONG" + line[4:].rstrip(b"\r") + b"\r\n")


def connect_many(loop, make, names, batch=200, timeout=60, what="logins"):
    """Connects clients in batches (each batch logs in concurrently)."""
    out = []
    for i in range(0, len(names), batch):
        chunk = [make(loop, n) for n in names[i:i + batch]]
        loop.run_until(lambda: all(c.state == "ready" for c in chunk), timeout, what)
        out.extend(chunk)
    return out


def close_all(conns):
    for c in conns:
        c.state = "closing"
        c.close()


# ---------------------------------------------------------------------------
# handlers: counting marked messages and waiting for patterns

MARK = b"PGB"


class Counter:
    """Marked messages arrived (n), error bounces (err), arrival time of the
    latest (t)."""

    def __init__(self):
        self.n = 0
        self.err = 0
        self.t = 0.0
        self.err_sample = None

    def error(self, sample):
        self.err += 1
        if self.err_sample is None:
            self.err_sample = sample[-600:]


def _is_error(stanza):
    head = stanza[:stanza.find(b">") + 1]
    return b"type='error'" in head or b'type="error"' in head


def take_complete(conn, end_tag=b"</message>"):
    """What CONN has buffered up to its last END_TAG (taken out of the
    buffer), or None; a buffer that never ends one is cut to 64 KiB."""
    b = conn.buf
    end = b.rfind(end_tag)
    if end < 0:
        if len(b) > 1 << 20:
            conn.buf = b[-65536:]
        return None
    conn.buf = b[end + len(end_tag):]
    return b[:end]


def take_lines(conn):
    """The complete lines CONN has buffered (taken out of the buffer, each
    with its newline), or None."""
    b = conn.buf
    end = b.rfind(b"\n")
    if end < 0:
        return None
    conn.buf = b[end + 1:]
    return b[:end + 1]


def h_xmpp_count(cnt):
    """Counts <message/>s carrying the mark; error bounces are counted apart."""
    def h(conn, now):
        chunk = take_complete(conn)
        if chunk is None:
            return
        if b"error" in chunk:
            for part in chunk.split(b"</message>"):
                m = part[part.rfind(b"<message"):]
                if MARK not in m:
                    continue
                if _is_error(m):
                    cnt.error(m)
                else:
                    cnt.n += 1
        else:
            cnt.n += chunk.count(MARK)
        cnt.t = now
    return h


def h_xmpp_sender(cnt):
    """A sender's own stream: marked error bounces count as lost messages."""
    def h(conn, now):
        chunk = take_complete(conn)
        if chunk is None:
            return
        if b"error" in chunk:
            for part in chunk.split(b"</message>"):
                m = part[part.rfind(b"<message"):]
                if MARK in m and _is_error(m):
                    cnt.error(m)
    return h


def h_irc_count(cnt):
    def h(conn, now):
        chunk = take_lines(conn)
        if chunk is None:
            return
        n = chunk.count(MARK)
        if n:
            cnt.n += n
            cnt.t = now
        if b"PING" in chunk:
            pong_lines(conn, chunk)
    return h


def h_irc_sender(cnt):
    """An IRC sender: numerics about a marked line (401 no such nick...) are
    losses; PINGs are answered."""
    def h(conn, now):
        chunk = take_lines(conn)
        if chunk is None:
            return
        if b"PING" in chunk:
            pong_lines(conn, chunk)
        for line in chunk.split(b"\n"):
            if re.match(rb":\S+ (401|404|411|412) ", line):
                cnt.error(line)
    return h


def h_until(regex, keep_watching=False):
    """Sets conn.flag (and conn.match) once `regex` matches the stream."""
    def h(conn, now):
        m = regex.search(conn.buf)
        if m:
            conn.flag = True
            conn.match = m.group(0)
            conn.flag_t = now
            conn.buf = conn.buf[m.end():]
            if not keep_watching:
                conn.handler = h_discard
        elif len(conn.buf) > 1 << 16:
            conn.buf = conn.buf[-8192:]
    return h


def iq_result_regex(iq_id):
    return re.compile(rb"<iq(?=[^>]*\sid=['\"]" + re.escape(iq_id.encode()) +
                      rb"['\"])[^>]*>")


def iq_roundtrip(loop, conn, xml, iq_id, timeout=10):
    """Sends an iq and returns the start tag of the answer."""
    conn.flag = False
    conn.handler = h_until(iq_result_regex(iq_id))
    conn.send(xml.encode())
    loop.run_until(lambda: conn.flag, timeout, f"answer to iq {iq_id}")
    return conn.match


def copy_logs(src, dst):
    """Copies the configs and logs under `src` to `dst`, keeping the
    per-repetition folders."""
    src, dst = Path(src), Path(dst)
    for p in src.rglob("*"):
        if p.is_file() and p.suffix in (".log", ".console", ".stderr", ".conf", ".lua", ".cfg"):
            out = dst / p.relative_to(src)
            out.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(p, out)


# ---------------------------------------------------------------------------
# group chats (the channel phase)

SUBJECT_TAG = b"<subject"
_MSG_FROM_RE = re.compile(rb"<message(?=[^>]*\stype=['\"]groupchat['\"])[^>]*\sfrom=['\"]([^'\"/]+)")
PRESENCE_ERROR_RE = re.compile(rb"<presence(?=[^>]*\stype=['\"]error['\"])[^>]*>")


class JoinCounter:
    """Joins completed (done: one subject message per room and user, the last
    stanza of a XEP-0045 join), presences delivered during the joins, presence
    errors (a refused join), arrival time of the latest completion (t)."""

    def __init__(self):
        self.done = 0
        self.presences = 0
        self.err = 0
        self.err_sample = None
        self.t = 0.0

    def error(self, sample):
        self.err += 1
        if self.err_sample is None:
            self.err_sample = sample[-600:]


def h_join_watch(jc):
    """Per connection: each room whose subject message arrived counts as one
    join done (conn.rooms holds the rooms, so a second subject from the same
    room is not counted twice); presences are counted, presence errors are
    failures."""
    def h(conn, now):
        b = conn.buf
        end = b.rfind(b">")
        if end < 0:
            return
        chunk = b[:end + 1]
        conn.buf = b[end + 1:]
        jc.presences += chunk.count(b"<presence")
        if b"error" in chunk:
            m = PRESENCE_ERROR_RE.search(chunk)
            if m:
                i = chunk.find(b"</presence>", m.end())
                jc.error(chunk[m.start():i + 11 if i >= 0 else m.start() + 600])
        i = chunk.find(SUBJECT_TAG)
        while i >= 0:
            start = chunk.rfind(b"<message", 0, i)
            room = None
            if start >= 0:
                mm = _MSG_FROM_RE.match(chunk, start)
                room = mm.group(1) if mm else None
            if room is None:
                # The start tag came in an earlier chunk: count it anyway,
                # under a name of its own.
                room = b"?%d" % len(conn.rooms)
            if room not in conn.rooms:
                conn.rooms.add(room)
                jc.done += 1
                jc.t = now
            i = chunk.find(SUBJECT_TAG, i + 1)
    return h


def h_chan_count(cnt, arrivals=None):
    """Counts the groupchat <message/>s carrying the mark, per connection
    (conn.got) and in all (cnt.n); error bounces are counted apart; with
    `arrivals` (a list), the arrival time of each one is appended to it."""
    def h(conn, now):
        chunk = take_complete(conn)
        if chunk is None or MARK not in chunk:
            return
        n = 0
        for part in chunk.split(b"</message>"):
            if MARK not in part:
                continue
            if b"error" in part and _is_error(part[part.rfind(b"<message"):]):
                cnt.error(part)
            else:
                n += 1
        if n:
            conn.got += n
            cnt.n += n
            cnt.t = now
            if arrivals is not None:
                arrivals.extend([now] * n)
    return h


def irc_join(loop, conn, channels, timeout=30):
    """JOINs `channels` (the first client to join a channel creates it and
    is its operator) and waits for the end of the last NAMES list."""
    conn.flag = False
    conn.handler = h_until(re.compile(rb" 366 \S+ " + re.escape(channels[-1].encode()) +
                                      rb" ", re.I))
    conn.send(b"JOIN " + ",".join(channels).encode() + b"\r\n")
    loop.run_until(lambda: conn.flag, timeout, f"IRC JOIN {','.join(channels)}")


def run_progress(loop, done, progress, stall_s, what, tick=None, hard_s=600):
    """Runs the loop until done(); fails when progress() (a number) has not
    changed for stall_s seconds, or after hard_s."""
    last = [progress(), time.perf_counter()]
    t_end = time.perf_counter() + hard_s

    def t():
        now = time.perf_counter()
        p = progress()
        if p != last[0]:
            last[0], last[1] = p, now
        elif now - last[1] > stall_s:
            raise BenchError(f"{what}: no progress for {stall_s:.0f}s")
        if now > t_end:
            raise BenchError(f"{what}: not done after {hard_s:.0f}s")
        if tick:
            tick()
    loop.run_until(done, hard_s + 1, what, tick=t)
