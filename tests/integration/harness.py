"""Integration test harness for purplegate.

Starts a private Prosody (own config and data in a temp dir, ports picked at
run time on 127.0.0.1), a private InspIRCd as the legacy network (every
registration is verified by a real prpl-irc login), the purplegate binary,
real XMPP clients (python3-slixmpp), a fake XEP-0114 server socket and a
fake IRC server.  Tests talk raw XML and assert on parsed stanzas
(namespace, local name, attributes), never on logs.  ejabberd.py adds
ejabberd as a second host server with the interface of Prosody here.

Quirks handled here (Prosody 0.12.3, slixmpp 1.8.3):
- Prosody refuses to run as root unless `run_as_root = true`; `-F` keeps it
  in the foreground; s2s is auto-loaded and must be listed in
  modules_disabled; without certificates it offers no TLS, and
  `c2s_require_encryption = false` + `allow_unencrypted_plain_auth = true`
  let clients authenticate on the loopback.
- internal_plain accounts are files data_path/<host>/accounts/<user>.dat
  with every non-alphanumeric byte %-encoded (otherdomain%2elocalhost).
- A component that is not connected makes Prosody answer
  remote-server-timeout (wait) with <not-connected xmlns='xmpp:prosody.im/
  protocol/component'/>.
- slixmpp's roster automation (auto_authorize/auto_subscribe) is turned off
  so the tests answer subscription requests themselves.

Runs with Debian's /usr/bin/python3 (python3-slixmpp 1.8).  Every process
the harness starts is remembered by PID and stopped by PID (also at exit).
"""

import asyncio
import atexit
import copy
import hashlib
import itertools
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import xml.etree.ElementTree as ET
from pathlib import Path

HERE = Path(__file__).resolve().parent
TOP_SRCDIR = HERE.parent.parent

NS_CLIENT = "jabber:client"
NS_COMPONENT = "jabber:component:accept"
NS_STREAM = "http://etherx.jabber.org/streams"
NS_STANZAS = "urn:ietf:params:xml:ns:xmpp-stanzas"
NS_STREAMS = "urn:ietf:params:xml:ns:xmpp-streams"
NS_XML = "http://www.w3.org/XML/1998/namespace"
NS_DISCO_INFO = "http://jabber.org/protocol/disco#info"
NS_DISCO_ITEMS = "http://jabber.org/protocol/disco#items"
NS_REGISTER = "jabber:iq:register"
NS_GATEWAY = "jabber:iq:gateway"
NS_VERSION = "jabber:iq:version"
NS_PING = "urn:xmpp:ping"
NS_XDATA = "jabber:x:data"
NS_ROSTER = "jabber:iq:roster"
NS_XMPP_ERRORS = "urn:xmpp:errors"
STANZA_NAMESPACES = (NS_CLIENT, NS_COMPONENT)

COMPONENT_JID = "gw.localhost"
USER_DOMAIN = "localhost"
OTHER_DOMAIN = "otherdomain.localhost"

# XEP-0114 §3 example vector.
XEP0114_STREAM_ID = "3BF96D32"
XEP0114_SECRET = "secret"
XEP0114_DIGEST = "b09ea9b3b7f586be8a08d0a3dd7466f110aeb136"

PROSODY = os.environ.get("PROSODY", "/usr/bin/prosody")


# Deadline for anything that should come (a stanza, an answer, a close, a
# server's port): waits end as soon as it is there, so a generous value
# costs nothing when things work and keeps a slow or loaded machine (the
# sanitizer build, a busy CI runner) from failing tests that are right.
# Windows in which nothing may arrive (`nothing`) are not deadlines and are
# not scaled by this.
WAIT = 20.0
# Starting a server or bringing the component link up; under the runner's
# default 60 s per test, so a start that hangs fails with the harness's
# message (and the daemon's stderr) rather than a bare "timed out".
START_WAIT = 45.0


class HarnessError(Exception):
    """The harness itself could not do its job (server did not start...)."""


class Timeout(AssertionError):
    """An expected stanza/event did not arrive in time."""


class Skip(Exception):
    """Raised by a test that cannot run here (reported as SKIP)."""


# ---------------------------------------------------------------------------
# processes: every child is tracked and killed by PID at exit

_children = {}  # pid -> Popen
_children_lock = threading.Lock()


def _track(proc):
    with _children_lock:
        _children[proc.pid] = proc


def _untrack(proc):
    with _children_lock:
        _children.pop(proc.pid, None)


def kill_all_children():
    with _children_lock:
        procs = list(_children.values())
    for proc in procs:
        stop_process(proc, timeout=3)


atexit.register(kill_all_children)


def stop_process(proc, sig=signal.SIGTERM, timeout=10.0):
    """Stop one child by its PID: `sig`, then SIGKILL after `timeout` s.
    Returns the exit status (negative for a signal, as Popen reports it)."""
    if proc is None:
        return None
    if proc.poll() is None:
        try:
            os.kill(proc.pid, sig)
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
    _untrack(proc)
    return proc.returncode


# ---------------------------------------------------------------------------
# ports

_issued_ports = set()
_ports_lock = threading.Lock()


def free_port():
    """A TCP port on 127.0.0.1 nobody listens on now (and not issued before
    by this process, so two servers of one run never get the same port)."""
    with _ports_lock:
        for _ in range(100):
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
                s.bind(("127.0.0.1", 0))
                port = s.getsockname()[1]
            if port not in _issued_ports:
                _issued_ports.add(port)
                return port
    raise HarnessError("no free port")


def port_accepts(port, host="127.0.0.1", timeout=0.5):
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def wait_until(pred, timeout, interval=0.05, what="condition"):
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() >= deadline:
            raise Timeout(f"timed out after {timeout:.1f}s waiting for {what}")
        time.sleep(interval)


def lua_str(s):
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def make_tmpdir(prefix="pg-it-"):
    base = os.environ.get("PG_TEST_TMPDIR") or None
    return Path(tempfile.mkdtemp(prefix=prefix, dir=base))


# ---------------------------------------------------------------------------
# Prosody


class Prosody:
    """A private Prosody 0.12: own config, data and log under `workdir`,
    c2s and component ports on 127.0.0.1 only, no s2s, no HTTP, no TLS."""

    def __init__(self, workdir, secret="s3cret-component", component=COMPONENT_JID,
                 hosts=(USER_DOMAIN, OTHER_DOMAIN), log_level="debug", privileges=None):
        self.workdir = Path(workdir)
        # XEP-0356 grants of the first host to components:
        # {component JID: {"roster": "both", "message": "outgoing"}}, in
        # the protocol's own words (§4.1, §5.1), so that another host
        # server's harness can take the same dict (Prosody: mod_privilege).
        self.privileges = dict(privileges or {})
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.secret = secret
        self.component = component
        self.hosts = tuple(hosts)
        self.log_level = log_level
        self.c2s_port = free_port()
        self.component_port = free_port()
        self.data_path = self.workdir / "data"
        self.config_path = self.workdir / "prosody.cfg.lua"
        self.log_path = self.workdir / "prosody.log"
        self.console_path = self.workdir / "prosody.console"
        self.pid_path = self.workdir / "prosody.pid"
        self.proc = None
        self.users = {}
        self.data_path.mkdir(parents=True, exist_ok=True)
        (self.workdir / "certs").mkdir(exist_ok=True)  # no certificates: no TLS
        self.write_config()

    def write_config(self):
        w = str(self.workdir)
        lines = [
            "-- written by purplegate tests/integration/harness.py",
            # Prosody refuses to start as root unless told so (mod_posix).
            "run_as_root = true",
            f"pidfile = {lua_str(str(self.pid_path))}",
            f"data_path = {lua_str(str(self.data_path))}",
            f"certificates = {lua_str(w + '/certs')}",
            'modules_enabled = { "roster"; "saslauth"; "disco"; "ping"%s }'
            % ('; "privilege"' if self.privileges else ""),
            # s2s is auto-loaded by Prosody: turn it off explicitly.
            'modules_disabled = { "s2s"; "s2s_auth_certs"; "dialback" }',
            f"c2s_ports = {{ {self.c2s_port} }}",
            'c2s_interfaces = { "127.0.0.1" }',
            "c2s_direct_tls_ports = { }",
            f"component_ports = {{ {self.component_port} }}",
            'component_interfaces = { "127.0.0.1" }',
            "s2s_ports = { }",
            "http_ports = { }",
            "https_ports = { }",
            "c2s_require_encryption = false",
            "s2s_require_encryption = false",
            "allow_unencrypted_plain_auth = true",
            'authentication = "internal_plain"',
            'storage = "internal"',
            "log = {",
            f'  {{ levels = {{ min = {lua_str(self.log_level)} }}, to = "file", '
            f"filename = {lua_str(str(self.log_path))} }};",
            "}",
            "",
        ]
        for h in self.hosts:
            lines.append(f"VirtualHost {lua_str(h)}")
            if h == self.hosts[0] and self.privileges:
                # Debian's prosody-modules: mod_privilege reads the grants
                # per host from privileged_entities.
                entities = "; ".join(
                    f"[{lua_str(jid)}] = {{ "
                    + "; ".join(f"{k} = {lua_str(v)}" for k, v in perms.items()) + " }"
                    for jid, perms in self.privileges.items())
                lines.append(f"  privileged_entities = {{ {entities} }}")
        lines.append("")
        lines += self.component_lines(self.component)
        self.config_path.write_text("\n".join(lines) + "\n")

    def component_lines(self, jid):
        """The config section of the external component `jid`;
        mod_privilege is loaded on a privileged component too, where it
        sends the hosts' grants once the component authenticates."""
        lines = [f"Component {lua_str(jid)}", f"  component_secret = {lua_str(self.secret)}"]
        if jid in self.privileges:
            lines.append('  modules_enabled = { "privilege" }')
        return lines

    @staticmethod
    def _encode(s):
        # util.datamanager's encode: every non-alphanumeric byte as %xx.
        return "".join(c if c.isascii() and c.isalnum() else "".join(
            "%%%02x" % b for b in c.encode()) for c in s)

    def add_user(self, user, password="password", host=USER_DOMAIN):
        """Create an internal_plain account by writing Prosody's account file
        (data_path/<host %-encoded>/accounts/<user>.dat); works while running."""
        d = self.data_path / self._encode(host) / "accounts"
        d.mkdir(parents=True, exist_ok=True)
        (d / (self._encode(user) + ".dat")).write_text(
            "return {\n\t[\"password\"] = %s;\n};\n" % lua_str(password))
        self.users[f"{user}@{host}"] = password
        return f"{user}@{host}"

    def start(self, timeout=START_WAIT):
        if self.proc and self.proc.poll() is None:
            raise HarnessError("prosody already running")
        out = open(self.console_path, "ab")
        self.proc = subprocess.Popen(
            [PROSODY, "-F", "--config", str(self.config_path)],
            stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
            cwd=str(self.workdir), start_new_session=True)
        out.close()
        _track(self.proc)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise HarnessError(
                    f"prosody exited with {self.proc.returncode}: {self.tail()}")
            if port_accepts(self.c2s_port) and port_accepts(self.component_port):
                return self
            time.sleep(0.05)
        raise HarnessError(f"prosody did not open its ports in {timeout}s: {self.tail()}")

    def stop(self, timeout=10):
        rc = stop_process(self.proc, timeout=timeout)
        # The next start must be able to bind the same ports again.
        wait_until(lambda: not port_accepts(self.c2s_port), WAIT, what="c2s port closed")
        return rc

    def restart(self):
        self.stop()
        return self.start()

    @property
    def pid(self):
        return self.proc.pid if self.proc else None

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def log_text(self):
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def tail(self, n=30):
        text = ""
        for p in (self.console_path, self.log_path):
            try:
                text += "\n".join(p.read_text(errors="replace").splitlines()[-n:]) + "\n"
            except FileNotFoundError:
                pass
        return text

    def component_auth_count(self):
        """How many times a component authenticated with this Prosody
        (mod_component's info line): a reconnect makes it grow."""
        return self.log_text().count("External component successfully authenticated")


# ---------------------------------------------------------------------------
# IRC server (the legacy network of prpl-irc)

INSPIRCD = os.environ.get("INSPIRCD", "/usr/sbin/inspircd")


class IrcServer:
    """A private InspIRCd (Debian's inspircd): own config in `workdir`, one
    client port on 127.0.0.1, no DNS or ident lookups, no flood control.
    `password` makes it a connect-class password (PASS), so a registration
    with another password is refused by the legacy network."""

    def __init__(self, workdir, password=None, extra_conf=""):
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.password = password
        self.port = free_port()
        self.config_path = self.workdir / "inspircd.conf"
        self.log_path = self.workdir / "inspircd.log"
        self.console_path = self.workdir / "inspircd.console"
        self.proc = None
        motd = self.workdir / "motd"
        motd.write_text("purplegate integration tests\n")
        pw = f' password="{password}"' if password else ""
        self.config_path.write_text(f"""\
<server name="irc.localhost" description="purplegate tests" network="PgTest">
<admin name="test" nick="test" email="test@localhost">
<bind address="127.0.0.1" port="{self.port}" type="clients">
<connect name="main" allow="*"{pw} timeout="60" threshold="1000000"
  commandrate="1000000" fakelag="no" pingfreq="600" hardsendq="1048576"
  softsendq="1048576" recvq="65536" localmax="1000" globalmax="1000"
  resolvehostnames="no" useident="no">
<dns server="127.0.0.1" timeout="1">
<pid file="{self.workdir}/inspircd.pid">
<log method="file" type="* -USERINPUT -USEROUTPUT" level="default" target="{self.log_path}">
<options prefixquit="Quit: " syntaxhints="no" announcets="yes" pingwarning="15">
<security hideserver="" userstats="Pu" flatlinks="no" maxtargets="20">
<performance quietbursts="yes" softlimit="1024" somaxconn="128">
<whowas groupsize="10" maxgroups="1000" maxkeep="3d">
<files motd="{motd}">
{extra_conf}""")

    @staticmethod
    def available():
        return os.access(INSPIRCD, os.X_OK)

    def start(self, timeout=START_WAIT):
        if not self.available():
            raise HarnessError(f"{INSPIRCD} not found (apt-get install inspircd)")
        argv = [INSPIRCD, "--config", str(self.config_path), "--nofork"]
        if os.getuid() == 0:
            argv.append("--runasroot")
        out = open(self.console_path, "ab")
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out,
                                     stderr=subprocess.STDOUT, cwd=str(self.workdir),
                                     start_new_session=True)
        out.close()
        _track(self.proc)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise HarnessError(f"inspircd exited with {self.proc.returncode}: {self.tail()}")
            if port_accepts(self.port):
                return self
            time.sleep(0.05)
        raise HarnessError(f"inspircd did not open its port in {timeout}s: {self.tail()}")

    def stop(self, timeout=10):
        return stop_process(self.proc, timeout=timeout)

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def tail(self, n=20):
        text = ""
        for p in (self.console_path, self.log_path):
            try:
                text += "\n".join(p.read_text(errors="replace").splitlines()[-n:]) + "\n"
            except FileNotFoundError:
                pass
        return text

    def purplegate_overrides(self):
        """The purplegate config that makes prpl-irc log in here: a
        registered username `nick` becomes the legacy account nick@127.0.0.1
        (an IP literal: no DNS), on this server's port."""
        return {"legacy": {"username_suffix": "@127.0.0.1"},
                "legacy-settings": {"port": str(self.port)}}


class FakeIrcServer:
    """A minimal IRC server for what InspIRCd cannot show: it refuses a
    wrong PASS with 464 ERR_PASSWDMISMATCH (as most ircds do; InspIRCd's
    connect-class password only closes the link, which prpl-irc cannot tell
    from a network error).  Enough for prpl-irc to log in: PASS, NICK,
    USER, then 001-004 and the MOTD; answers PING; QUIT ends."""

    name = "fake.localhost"

    def __init__(self, password=None):
        self.password = password
        self.port = free_port()
        self.log_path = None
        self.logins = []   # (nick, password given, accepted)
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", self.port))
        self._conns = []
        self._open = False

    def start(self):
        self._sock.listen(16)
        self._open = True
        threading.Thread(target=self._accept_loop, daemon=True, name="fake-irc").start()
        return self

    def _accept_loop(self):
        while self._open:
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            self._conns.append(conn)
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn):
        buf, nick, user, given, welcomed = b"", None, None, None, False

        def send(line):
            conn.sendall((line + "\r\n").encode())
        try:
            while True:
                data = conn.recv(4096)
                if not data:
                    return
                buf += data
                while b"\n" in buf:
                    raw, buf = buf.split(b"\n", 1)
                    line = raw.decode("utf-8", "replace").rstrip("\r")
                    parts = line.split(" ")
                    cmd = parts[0].upper()
                    arg = line.split(" ", 1)[1] if " " in line else ""
                    if cmd == "PASS":
                        given = arg[1:] if arg.startswith(":") else arg
                    elif cmd == "NICK":
                        nick = arg.lstrip(":")
                    elif cmd == "USER":
                        user = arg
                    elif cmd == "CAP":
                        if len(parts) > 1 and parts[1].upper() == "LS":
                            send(f":{self.name} CAP * LS :")
                    elif cmd == "PING":
                        send(f":{self.name} PONG {self.name} {arg}")
                    elif cmd == "QUIT":
                        send("ERROR :Closing link: (quit)")
                        return
                    if nick and user and not welcomed:
                        ok = self.password is None or given == self.password
                        self.logins.append((nick, given, ok))
                        if not ok:
                            send(f":{self.name} 464 {nick} :Password incorrect")
                            send(f"ERROR :Closing link: ({nick}@127.0.0.1) [Bad password]")
                            return
                        welcomed = True
                        for num, text_ in (("001", f":Welcome to the fake network {nick}"),
                                           ("002", f":Your host is {self.name}"),
                                           ("003", ":This server was created today"),
                                           ("004", f"{self.name} fake-1.0 iosw biklmnopstv"),
                                           ("375", f":- {self.name} Message of the day -"),
                                           ("372", ":- purplegate tests"),
                                           ("376", ":End of MOTD command")):
                            send(f":{self.name} {num} {nick} {text_}")
        except OSError:
            return
        finally:
            try:
                conn.close()
            except OSError:
                pass

    def stop(self, timeout=None):
        self._open = False
        try:
            # shutdown() wakes the thread blocked in accept(); close() alone
            # would leave the port listening until accept returns.
            self._sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        try:
            self._sock.close()
        except OSError:
            pass
        for c in self._conns:
            try:
                c.shutdown(socket.SHUT_RDWR)
                c.close()
            except OSError:
                pass
        return 0

    close = stop

    def running(self):
        return self._open

    def tail(self, n=20):
        return "logins (nick, password, accepted): " + repr(self.logins[-n:])

    purplegate_overrides = IrcServer.purplegate_overrides


# ---------------------------------------------------------------------------
# purplegate


def purplegate_binary():
    env = os.environ.get("PURPLEGATE")
    if env:
        return Path(env).resolve()
    for cand in (TOP_SRCDIR / "purplegate", TOP_SRCDIR / "_build" / "purplegate"):
        if cand.exists():
            return cand
    return TOP_SRCDIR / "purplegate"


PGTEST_PROTOCOL = "prpl-pgtest"
# purplegate on prpl-pgtest; the legacy network's name comes from the plugin.
PGTEST_SETTINGS = {"legacy": {"protocol": PGTEST_PROTOCOL, "name": None}}


def pgtest_plugin(binary=None):
    """prpl-pgtest (tests/prpl/pgtest.c) as `make check` built it beside
    `binary` (default: the purplegate under test)."""
    return Path(binary or purplegate_binary()).parent / "tests" / "prpl" / "pgtest.so"


# PG_TEST_WORKERS=N writes `[workers] count = N` into the config of every
# purplegate the harness starts whose settings do not name a count (so CI
# can run the suite with libpurple in the main process, N = 0); unset, the
# config has no [workers] and purplegate runs its default (auto).
WORKERS_ENV = "PG_TEST_WORKERS"


class Purplegate:
    """The daemon under test: writes its INI config, runs it in the
    foreground with stderr captured to a file, stops it by PID.
    `environment` holds variables added to its environment at start."""

    def __init__(self, workdir, port, secret, jid=COMPONENT_JID, host="127.0.0.1",
                 overrides=None, binary=None, db_dir=None):
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.binary = Path(binary) if binary else purplegate_binary()
        db_dir = Path(db_dir) if db_dir else self.workdir
        self.settings = {
            "component": {"jid": jid, "host": host, "port": str(port), "secret": secret},
            "legacy": {"protocol": "prpl-irc", "name": "IRC"},
            "database": {"path": str(db_dir / "purplegate.db"),
                         "key_file": str(db_dir / "purplegate.key")},
            "registration": {"allowed_domains": USER_DOMAIN},
            "limits": {"max_stanza_bytes": "65536"},
            "log": {"level": "debug"},
        }
        for group, kv in (overrides or {}).items():
            g = self.settings.setdefault(group, {})
            for k, v in kv.items():
                if v is None:
                    g.pop(k, None)
                else:
                    g[k] = str(v)
        workers = os.environ.get(WORKERS_ENV, "")
        if workers and "count" not in self.settings.get("workers", {}):
            self.settings.setdefault("workers", {})["count"] = workers
        self.environment = {}
        self.config_path = self.workdir / "purplegate.conf"
        self.stderr_path = self.workdir / "purplegate.stderr"
        self.proc = None
        self.starts = 0
        self.stopping = False
        self.write_config()

    @property
    def jid(self):
        return self.settings["component"]["jid"]

    @property
    def purple_dir(self):
        """libpurple's user directory: `purple` beside the database, the
        database path taken from purplegate's working directory (as
        pg_transport_dup_purple_dir() in transport/transport.c does)."""
        db = self.workdir / self.settings["database"]["path"]
        return Path(os.path.normpath(db)).parent / "purple"

    def install_pgtest(self):
        """Copies prpl-pgtest into the plugins folder of purple_dir, where
        libpurple looks for protocols when purplegate starts."""
        src = pgtest_plugin(self.binary)
        if not src.is_file():
            raise HarnessError(f"{src} not found (`make check` builds it beside purplegate)")
        plugins = self.purple_dir / "plugins"
        plugins.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.chmod(self.purple_dir, 0o700)
        shutil.copyfile(src, plugins / src.name)
        return plugins / src.name

    def write_config(self):
        out = []
        for group, kv in self.settings.items():
            out.append(f"[{group}]")
            out.extend(f"{k} = {v}" for k, v in kv.items())
            out.append("")
        self.config_path.write_text("\n".join(out))

    def start(self):
        if not self.binary.exists():
            raise HarnessError(f"purplegate binary not found at {self.binary} "
                               "(build it, or set PURPLEGATE)")
        if self.proc and self.proc.poll() is None:
            raise HarnessError("purplegate already running")
        self.starts += 1
        self.stopping = False
        err = open(self.stderr_path, "ab")
        err.write(f"==== start {self.starts} ====\n".encode())
        err.flush()
        env = dict(os.environ)
        env.update(self.environment)
        # No G_DEBUG=fatal-criticals: purplegate logs its error level with
        # g_critical (e.g. a refused handshake), which must not abort.
        self.proc = subprocess.Popen(
            [str(self.binary), "--config", str(self.config_path)],
            stdin=subprocess.DEVNULL, stdout=err, stderr=err,
            cwd=str(self.workdir), start_new_session=True, env=env)
        err.close()
        _track(self.proc)
        return self

    def stop(self, timeout=10):
        """SIGTERM, SIGKILL after `timeout`; returns the exit status."""
        self.stopping = True
        return stop_process(self.proc, timeout=timeout)

    def kill(self):
        self.stopping = True
        return stop_process(self.proc, sig=signal.SIGKILL, timeout=5)

    def signal(self, sig):
        """Send a signal the test expects to end the process (e.g. SIGTERM)."""
        self.stopping = True
        self.proc.send_signal(sig)

    def crashed(self):
        """The process died of a signal nobody in the harness sent."""
        return (self.proc is not None and self.proc.poll() is not None
                and self.proc.returncode < 0 and not self.stopping)

    @property
    def pid(self):
        return self.proc.pid if self.proc else None

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def stderr_text(self):
        try:
            return self.stderr_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def tail(self, n=40):
        return "\n".join(self.stderr_text().splitlines()[-n:])

    def wait_connected(self, client, timeout=START_WAIT):
        """Poll disco#info to the component through `client` until it is
        answered with a result (the component is connected to Prosody)."""
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            if not self.running():
                raise HarnessError(
                    f"purplegate exited with {self.proc.returncode}:\n{self.tail()}")
            try:
                last = client.iq(
                    f"<iq type='get' to='{self.jid}'><query xmlns='{NS_DISCO_INFO}'/></iq>",
                    timeout=2)
                if last.get("type") == "result":
                    return last
            except Timeout:
                pass
            time.sleep(0.2)
        raise HarnessError(f"component {self.jid} not connected after {timeout}s "
                           f"(last answer: {tostr(last) if last is not None else None});\n"
                           f"purplegate stderr:\n{self.tail()}")


# ---------------------------------------------------------------------------
# XML helpers


def tostr(el):
    if el is None:
        return "None"
    return ET.tostring(el, encoding="unicode")


def parse(xml):
    """Parse an XML string (e.g. a stanza as a test writes it)."""
    return ET.fromstring(xml)


def ns_of(el):
    m = re.match(r"\{(.*)\}", el.tag)
    return m.group(1) if m else ""


def local(el):
    return el.tag.rsplit("}", 1)[-1]


def q(ns, name):
    return f"{{{ns}}}{name}"


def child(el, ns, name):
    return el.find(q(ns, name)) if el is not None else None


def children(el, ns, name):
    return el.findall(q(ns, name)) if el is not None else []


def text(el):
    return (el.text or "") if el is not None else None


def bare(jid):
    return (jid or "").split("/", 1)[0].lower()


def is_stanza(el, name=None):
    return ns_of(el) in STANZA_NAMESPACES and local(el) in ("iq", "message", "presence") \
        and (name is None or local(el) == name)


def match(name=None, type=None, id=None, frm=None, to=None, payload=None):
    """A predicate on stanzas: local name (iq, message, presence), `type`
    (None in the predicate means "any"; "" means "no type attribute"),
    `id`, `frm` (compared case-insensitively; a bare JID pattern matches
    only a bare from), `to`, and `payload` = (ns, local) of a child."""
    def pred(el):
        if not is_stanza(el, name):
            return False
        if type is not None and el.get("type", "") != type:
            return False
        if id is not None and el.get("id") != id:
            return False
        if frm is not None and (el.get("from") or "").lower() != frm.lower():
            return False
        if to is not None and (el.get("to") or "").lower() != to.lower():
            return False
        if payload is not None and el.find(q(*payload)) is None:
            return False
        return True
    pred.__doc__ = f"{name or 'stanza'} type={type} id={id} from={frm} to={to} payload={payload}"
    return pred


def assert_error(el, id, condition, etype, code=None, frm=None):
    """The four checks of every error assertion (RFC 6120 §8.3):
    type='error', the same id, the condition element in
    urn:ietf:params:xml:ns:xmpp-stanzas, the <error type> value; plus the
    legacy code when given."""
    assert el is not None, "no error reply"
    assert el.get("type") == "error", f"expected type='error', got: {tostr(el)}"
    assert el.get("id") == id, f"expected id={id!r}, got: {tostr(el)}"
    if frm is not None:
        assert (el.get("from") or "").lower() == frm.lower(), f"expected from={frm}: {tostr(el)}"
    errs = [c for c in el if local(c) == "error" and ns_of(c) in STANZA_NAMESPACES]
    assert len(errs) == 1, f"expected one <error/> child: {tostr(el)}"
    err = errs[0]
    conds = [c for c in err if ns_of(c) == NS_STANZAS and local(c) != "text"]
    assert conds, f"no defined condition in {NS_STANZAS}: {tostr(el)}"
    assert len(conds) == 1, f"several defined conditions: {tostr(el)}"
    assert local(conds[0]) == condition, \
        f"expected <{condition}/>, got <{local(conds[0])}/>: {tostr(el)}"
    assert err.get("type") == etype, \
        f"expected <error type='{etype}'>, got {err.get('type')!r}: {tostr(el)}"
    if code is not None:
        assert err.get("code") == str(code), \
            f"expected code='{code}', got {err.get('code')!r}: {tostr(el)}"
    return err


def assert_result(el, id):
    assert el is not None, "no reply"
    assert el.get("type") == "result", f"expected a result for {id}, got: {tostr(el)}"
    assert el.get("id") == id, f"expected id={id!r}: {tostr(el)}"
    return el


def register_form_submit(username, password, form_type="submit", form_type_field=True, extra=None):
    """A jabber:iq:register query with a x:data form of `form_type`;
    `extra` maps more field vars (account options…) to their values."""
    fields = ""
    if form_type_field:
        fields += (f"<field var='FORM_TYPE' type='hidden'><value>{NS_REGISTER}</value></field>")
    if username is not None:
        fields += f"<field var='username'><value>{xml_escape(username)}</value></field>"
    if password is not None:
        fields += f"<field var='password'><value>{xml_escape(password)}</value></field>"
    for var, value in (extra or {}).items():
        fields += f"<field var='{xml_escape(var)}'><value>{xml_escape(value)}</value></field>"
    return (f"<query xmlns='{NS_REGISTER}'><x xmlns='{NS_XDATA}' type='{form_type}'>"
            f"{fields}</x></query>")


def register_legacy(username, password):
    u = "" if username is None else f"<username>{xml_escape(username)}</username>"
    p = "" if password is None else f"<password>{xml_escape(password)}</password>"
    return f"<query xmlns='{NS_REGISTER}'>{u}{p}</query>"


def xml_escape(s):
    return (s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            .replace("'", "&apos;").replace('"', "&quot;"))


_ids = itertools.count(1)


def new_id(prefix="t"):
    return f"{prefix}{next(_ids)}"


def ensure_id(xml, prefix="t"):
    """Give a stanza written as a string an id if it has none; returns
    (xml, id)."""
    el = ET.fromstring(xml)
    sid = el.get("id")
    if sid:
        return xml, sid
    sid = new_id(prefix)
    m = re.match(r"\s*<([A-Za-z][\w:.-]*)", xml)
    xml = xml[:m.end()] + f" id='{sid}'" + xml[m.end():]
    return xml, sid


# ---------------------------------------------------------------------------
# transcripts (shared by Client and FakeConn)


class Transcript:
    """Everything received, in order, with arrival time; `expect` returns
    the first not-yet-claimed element matching a predicate, including
    elements that arrived before the call (no race)."""

    def __init__(self):
        self.items = []   # (monotonic time, Element)
        self.claimed = set()
        self.cond = threading.Condition()
        self.closed = None  # reason string once the stream is gone

    def add(self, el):
        with self.cond:
            self.items.append((time.monotonic(), el))
            self.cond.notify_all()

    def close(self, reason):
        with self.cond:
            if self.closed is None:
                self.closed = reason
            self.cond.notify_all()

    def mark(self):
        with self.cond:
            return len(self.items)

    def find(self, pred, since=0, claim=True):
        with self.cond:
            for i in range(since, len(self.items)):
                if i in self.claimed:
                    continue
                if pred(self.items[i][1]):
                    if claim:
                        self.claimed.add(i)
                    return i
        return None

    def expect(self, pred, timeout=WAIT, since=0, what=None, fail_on_close=True):
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                i = self.find(pred, since)
                if i is not None:
                    return self.items[i][1]
                if fail_on_close and self.closed is not None:
                    raise Timeout(f"stream closed ({self.closed}) while waiting for "
                                  f"{what or pred.__doc__}; received:\n{self.dump(since)}")
                left = deadline - time.monotonic()
                if left <= 0:
                    raise Timeout(f"no {what or pred.__doc__ or 'matching stanza'} within "
                                  f"{timeout:.1f}s; received:\n{self.dump(since)}")
                self.cond.wait(left)

    def nothing(self, pred, wait=1.0, since=0, what=None):
        """Assert that nothing matching `pred` arrives within `wait` s."""
        deadline = time.monotonic() + wait
        with self.cond:
            while True:
                i = self.find(pred, since, claim=False)
                if i is not None:
                    raise AssertionError(f"unexpected {what or pred.__doc__}: "
                                         f"{tostr(self.items[i][1])}")
                left = deadline - time.monotonic()
                if left <= 0:
                    return
                self.cond.wait(left)

    def index_of(self, el):
        with self.cond:
            for i, (_, e) in enumerate(self.items):
                if e is el:
                    return i
        return None

    def time_of(self, el):
        i = self.index_of(el)
        return self.items[i][0] if i is not None else None

    def elements(self):
        with self.cond:
            return [e for _, e in self.items]

    def dump(self, since=0, limit=20, width=600):
        with self.cond:
            items = self.items[since:][-limit:]
        out = []
        for _, el in items:
            s = tostr(el)
            out.append("  " + (s if len(s) <= width else s[:width] + "..."))
        return "\n".join(out) or "  (nothing)"


# ---------------------------------------------------------------------------
# slixmpp clients on one background asyncio loop

_loop = None
_loop_lock = threading.Lock()


def event_loop():
    global _loop
    with _loop_lock:
        if _loop is None:
            _loop = asyncio.new_event_loop()
            t = threading.Thread(target=_loop.run_forever, name="xmpp-loop", daemon=True)
            t.start()
        return _loop


def in_loop(fn, *args, timeout=WAIT):
    """Run a plain function in the asyncio loop thread and return its value."""
    async def wrapper():
        return fn(*args)
    fut = asyncio.run_coroutine_threadsafe(wrapper(), event_loop())
    return fut.result(timeout)


_live_clients = []


def close_all_clients():
    for c in list(_live_clients):
        try:
            c.close()
        except Exception:
            pass


class Client:
    """A real XMPP client (slixmpp ClientXMPP) for synchronous test code.

    Connects without TLS to Prosody's c2s port, authenticates (SCRAM or
    PLAIN over the loopback), binds a resource.  It does NOT fetch the
    roster or send presence unless asked: `fetch_roster()`,
    `send_presence()` (Prosody delivers inbound subscribed/unsubscribe/
    unsubscribed only to resources that fetched the roster, and presence
    only to available resources).  slixmpp's own roster automation
    (auto-authorize, auto-subscribe) is off: the test answers subscription
    requests itself.  Every stanza received is kept in `transcript`.
    """

    def __init__(self, prosody, user, password=None, host=USER_DOMAIN, resource="test",
                 roster=False, presence=False, timeout=START_WAIT):
        import slixmpp  # Debian's python3-slixmpp

        self.prosody = prosody
        if password is None:
            password = prosody.users.get(f"{user}@{host}") or "password"
            if f"{user}@{host}" not in prosody.users:
                prosody.add_user(user, password, host)
        self.jid = f"{user}@{host}/{resource}"
        self.bare = f"{user}@{host}"
        self.transcript = Transcript()
        self._started = threading.Event()
        self._failed = None
        self._disconnected = threading.Event()

        def build():
            x = slixmpp.ClientXMPP(self.jid, password)
            x["feature_mechanisms"].unencrypted_plain = True
            x.roster.auto_authorize = None
            x.roster.auto_subscribe = False
            x.add_filter("in", self._incoming)
            x.add_event_handler("session_start", lambda *_: self._started.set())
            x.add_event_handler("failed_all_auth", lambda *_: self._fail("authentication failed"))
            x.add_event_handler("connection_failed",
                                lambda e: self._fail(f"connection failed: {e}"))
            x.add_event_handler("disconnected", self._on_disconnected)
            x.connect(address=("127.0.0.1", prosody.c2s_port), use_ssl=False,
                      force_starttls=False, disable_starttls=True)
            return x

        self.xmpp = in_loop(build)
        _live_clients.append(self)
        deadline = time.monotonic() + timeout
        while not self._started.wait(0.05):
            if self._failed or time.monotonic() > deadline:
                reason = self._failed or f"no session within {timeout}s"
                self.close()
                raise HarnessError(f"client {self.jid}: {reason}")
        self.jid = str(self.xmpp.boundjid)
        if roster:
            self.fetch_roster()
        if presence:
            self.send_presence()

    def _fail(self, reason):
        self._failed = reason
        try:
            self.xmpp.cancel_connection_attempt()
        except Exception:
            pass

    def _on_disconnected(self, *args):
        self._disconnected.set()
        self.transcript.close("disconnected")

    def _incoming(self, stanza):
        self.transcript.add(copy.deepcopy(stanza.xml))
        return stanza

    # -- sending ---------------------------------------------------------
    def send(self, xml):
        """Send raw XML (a stanza in the jabber:client default namespace;
        Prosody stamps the from address)."""
        if isinstance(xml, ET.Element):
            xml = tostr(xml)
        in_loop(self.xmpp.send_raw, xml)

    def iq(self, xml, timeout=WAIT):
        """Send an iq (an id is added if missing) and return the answer
        (result or error with the same id) as an Element."""
        xml, sid = ensure_id(xml, "iq")
        since = self.transcript.mark()
        self.send(xml)
        return self.transcript.expect(
            lambda el: is_stanza(el, "iq") and el.get("id") == sid
            and el.get("type") in ("result", "error"),
            timeout=timeout, since=since, what=f"iq answer id={sid}")

    def fetch_roster(self, timeout=WAIT):
        r = self.iq(f"<iq type='get'><query xmlns='{NS_ROSTER}'/></iq>", timeout)
        assert r.get("type") == "result", f"roster fetch failed: {tostr(r)}"
        return r

    def send_presence(self, type=None, to=None):
        attrs = ""
        if type:
            attrs += f" type='{type}'"
        if to:
            attrs += f" to='{to}'"
        self.send(f"<presence{attrs}/>")

    # -- receiving -------------------------------------------------------
    def expect(self, pred, timeout=WAIT, since=0, what=None):
        return self.transcript.expect(pred, timeout, since, what)

    def nothing(self, pred, wait=1.0, since=0, what=None):
        return self.transcript.nothing(pred, wait, since, what)

    def mark(self):
        return self.transcript.mark()

    # -- shutdown --------------------------------------------------------
    def close(self, timeout=3.0):
        if self in _live_clients:
            _live_clients.remove(self)
        x = getattr(self, "xmpp", None)
        if x is None:
            return

        def do_close():
            try:
                x.cancel_connection_attempt()
            except Exception:
                pass
            if x.transport:
                x.disconnect(wait=1.0)
            else:
                self._disconnected.set()
        try:
            in_loop(do_close)
        except Exception:
            pass
        if not self._disconnected.wait(timeout):
            try:
                in_loop(x.abort)
            except Exception:
                pass


# ---------------------------------------------------------------------------
# fake XEP-0114 server


class StreamReader:
    """Incremental parser for what purplegate writes on its component
    stream: the stream header, then one Element per depth-2 element."""

    def __init__(self):
        self.parser = ET.XMLPullParser(events=("start", "end", "start-ns"))
        self.depth = 0
        self.header = None          # Element of <stream:stream> (attributes only)
        self.header_ns = {}         # prefix -> uri declared on the header
        self.closed_tag = False     # saw </stream:stream>
        self.error = None           # purplegate wrote something not well-formed
        self._pending_ns = {}

    def feed(self, data):
        out = []
        if self.error:
            return out
        try:
            self.parser.feed(data)
            for ev, obj in self.parser.read_events():
                if ev == "start-ns":
                    self._pending_ns[obj[0]] = obj[1]
                elif ev == "start":
                    self.depth += 1
                    if self.depth == 1:
                        self.header = obj
                        self.header_ns = dict(self._pending_ns)
                    self._pending_ns = {}
                elif ev == "end":
                    self.depth -= 1
                    if self.depth == 1:
                        out.append(obj)
                        self.header.remove(obj)
                    elif self.depth == 0:
                        self.closed_tag = True
        except ET.ParseError as e:
            self.error = str(e)
        return out


class FakeConn:
    """One component connection accepted by FakeServer."""

    def __init__(self, server, sock, accepted_at):
        self.server = server
        self.sock = sock
        self.accepted_at = accepted_at
        self.reader = StreamReader()
        self.transcript = Transcript()
        self.raw = bytearray()
        self.eof_at = None
        self.sent_stream_id = None
        self._lock = threading.Lock()
        self._header_seen = threading.Event()
        self._thread = threading.Thread(target=self._read_loop, daemon=True,
                                        name=f"fake-conn-{server.port}")
        self._thread.start()

    def _read_loop(self):
        while True:
            try:
                data = self.sock.recv(65536)
            except OSError as e:
                self.eof_at = time.monotonic()
                self.transcript.close(f"recv error {e}")
                return
            if not data:
                self.eof_at = time.monotonic()
                self.transcript.close("EOF")
                return
            with self._lock:
                self.raw += data
            for el in self.reader.feed(data):
                self.transcript.add(el)
                self._route_to_itself(el)
            if self.reader.header is not None and not self._header_seen.is_set():
                self._header_seen.set()
            if self.reader.closed_tag:
                self.transcript.close("</stream:stream>")

    def _route_to_itself(self, el):
        """A real server routes the component's pings to its own address
        back to it (purplegate's keepalive and outbox acknowledgements,
        transport/ping.h, rely on that)."""
        domain = self.server.domain
        if local(el) != "iq" or el.get("type") != "get" or child(el, NS_PING, "ping") is None \
                or el.get("to") != domain or el.get("from") != domain:
            return
        sid = xml_escape(el.get("id") or "")
        try:
            self.send(f"<iq type='get' from='{domain}' to='{domain}' id='{sid}'><ping xmlns='{NS_PING}'/></iq>")
        except OSError:
            pass

    # -- raw I/O ---------------------------------------------------------
    def send(self, data):
        if isinstance(data, str):
            data = data.encode()
        self.sock.sendall(data)

    def close(self):
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()

    def raw_text(self):
        with self._lock:
            return bytes(self.raw).decode("utf-8", errors="replace")

    # -- XEP-0114 --------------------------------------------------------
    def read_header(self, timeout=WAIT):
        if not self._header_seen.wait(timeout):
            raise Timeout(f"no stream header from purplegate within {timeout}s; "
                          f"got: {self.raw_text()[:500]!r}")
        return self.reader.header

    def send_header(self, stream_id=XEP0114_STREAM_ID, prolog="<?xml version='1.0'?>",
                    frm=None):
        self.sent_stream_id = stream_id
        self.send(f"{prolog}<stream:stream xmlns='{NS_COMPONENT}' "
                  f"xmlns:stream='{NS_STREAM}' from='{frm or self.server.domain}' "
                  f"id='{stream_id}'>")

    def read_handshake(self, timeout=WAIT):
        el = self.expect(lambda e: local(e) == "handshake", timeout, what="<handshake>")
        return el

    def handshake(self, secret, stream_id=XEP0114_STREAM_ID, timeout=WAIT):
        """Full server side of the XEP-0114 handshake; checks the digest and
        answers <handshake/>.  Returns the digest purplegate sent."""
        header = self.read_header(timeout)
        assert header.tag == q(NS_STREAM, "stream"), f"bad stream header {header.tag}"
        assert self.reader.header_ns.get("") == NS_COMPONENT, \
            f"default namespace is {self.reader.header_ns.get('')!r}, not {NS_COMPONENT}"
        self.send_header(stream_id)
        hs = self.read_handshake(timeout)
        digest = (hs.text or "").strip()
        want = hashlib.sha1((stream_id + secret).encode()).hexdigest()
        assert digest == want, f"handshake digest {digest!r}, expected {want!r}"
        self.send("<handshake/>")
        return digest

    # -- stanzas ---------------------------------------------------------
    def expect(self, pred, timeout=WAIT, since=0, what=None, fail_on_close=True):
        return self.transcript.expect(pred, timeout, since, what, fail_on_close)

    def nothing(self, pred, wait=1.0, since=0, what=None):
        return self.transcript.nothing(pred, wait, since, what)

    def mark(self):
        return self.transcript.mark()

    def iq(self, xml, timeout=WAIT):
        xml, sid = ensure_id(xml, "fiq")
        since = self.mark()
        self.send(xml)
        return self.expect(lambda el: is_stanza(el, "iq") and el.get("id") == sid
                           and el.get("type") in ("result", "error"),
                           timeout, since, what=f"iq answer id={sid}")

    def wait_closed(self, timeout=WAIT):
        """Wait until purplegate closed the TCP connection (EOF)."""
        deadline = time.monotonic() + timeout
        answered = False
        while self.eof_at is None:
            if time.monotonic() > deadline:
                raise Timeout(f"connection not closed within {timeout}s")
            if self.reader.closed_tag and not answered:
                # purplegate ended its stream: end ours too, as a server would
                answered = True
                try:
                    self.send("</stream:stream>")
                except OSError:
                    pass
            time.sleep(0.02)
        return self.eof_at

    def stream_error(self, timeout=WAIT):
        """Wait for <stream:error> and return its defined condition's local
        name (checked to be in urn:ietf:params:xml:ns:xmpp-streams)."""
        el = self.expect(lambda e: e.tag == q(NS_STREAM, "error"), timeout,
                         what="<stream:error>", fail_on_close=False)
        conds = [c for c in el if ns_of(c) == NS_STREAMS and local(c) != "text"]
        assert len(conds) == 1, f"stream error without one condition in {NS_STREAMS}: {tostr(el)}"
        return local(conds[0]), el

    def check_addressing(self, domain=None):
        """XEP-0114 §3: every stanza purplegate wrote has `to` and a `from`
        whose domain is exactly the component's."""
        domain = domain or self.server.domain
        for el in self.transcript.elements():
            if not is_stanza(el):
                continue
            frm, to = el.get("from"), el.get("to")
            assert to, f"stanza without 'to': {tostr(el)}"
            assert frm, f"stanza without 'from': {tostr(el)}"
            d = frm.split("@", 1)[-1].split("/", 1)[0] if "@" in frm.split("/", 1)[0] \
                else frm.split("/", 1)[0]
            assert d == domain, f"'from' not in {domain}: {tostr(el)}"


class FakeServer:
    """A TCP listener on 127.0.0.1 playing the XMPP server's side of
    XEP-0114: the test accepts connections from purplegate, runs the
    handshake, injects raw bytes and reads what purplegate writes."""

    def __init__(self, domain=COMPONENT_JID):
        self.domain = domain
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.port = free_port()
        self.sock.bind(("127.0.0.1", self.port))
        self.sock.listen(8)
        self.conns = []

    def accept(self, timeout=WAIT):
        self.sock.settimeout(timeout)
        try:
            s, _ = self.sock.accept()
        except socket.timeout:
            raise Timeout(f"no connection to the fake server within {timeout:.1f}s")
        s.settimeout(None)
        conn = FakeConn(self, s, time.monotonic())
        self.conns.append(conn)
        return conn

    def close(self):
        for c in self.conns:
            c.close()
        self.sock.close()


# ---------------------------------------------------------------------------
# environments used by test modules


class Env:
    """What a test module gets: a temp dir and, for the standard setup, a
    Prosody with purplegate connected.  Per-test objects (clients, extra
    processes, fake servers) registered with `track` are closed after each
    test by the runner (`end_test`)."""

    def __init__(self, name):
        self.name = name
        self.tmp = make_tmpdir(f"pg-it-{name}-")
        self.prosody = None
        self.purplegate = None
        self.irc = None
        self._tracked = []
        self._n = itertools.count(1)

    def start_irc(self, password=None, fake=False):
        """The legacy IRC network for this env (registration logs in there):
        InspIRCd, or with `fake` the FakeIrcServer."""
        self.irc = (FakeIrcServer(password) if fake
                    else IrcServer(self.tmp / "ircd", password=password)).start()
        return self.irc

    def purplegate_overrides(self, overrides=None):
        """purplegate settings pointing prpl-irc at this env's IRC server,
        merged with `overrides`."""
        merged = {}
        for src in ((self.irc.purplegate_overrides() if self.irc else {}), overrides or {}):
            for group, kv in src.items():
                merged.setdefault(group, {}).update(kv)
        return merged

    def start_purplegate(self, overrides, jid=COMPONENT_JID, before_start=None):
        """purplegate with `overrides` as its settings, attached to this
        env's XMPP server as `jid`; returns once its link is up.
        `before_start(purplegate)` runs before it starts."""
        self.purplegate = Purplegate(self.tmp / "purplegate", self.prosody.component_port,
                                     self.prosody.secret, jid=jid, overrides=overrides)
        if before_start is not None:
            before_start(self.purplegate)
        self.purplegate.start()
        self.wait_linked()
        return self

    # standard setup: IRC server, Prosody, purplegate connected to Prosody
    def start_standard(self, overrides=None, irc_password=None, privileges=None):
        if self.irc is None:
            self.start_irc(irc_password)
        self.prosody = Prosody(self.tmp / "prosody", privileges=privileges).start()
        return self.start_purplegate(self.purplegate_overrides(overrides))

    def start_pgtest(self, overrides=None):
        """Prosody and purplegate on prpl-pgtest (the plugin installed
        first), connected to Prosody; no legacy server."""
        settings = {group: dict(kv) for group, kv in PGTEST_SETTINGS.items()}
        for group, kv in (overrides or {}).items():
            settings.setdefault(group, {}).update(kv)
        self.prosody = Prosody(self.tmp / "prosody").start()
        return self.start_purplegate(settings, before_start=Purplegate.install_pgtest)

    def wait_linked(self, timeout=START_WAIT):
        """Waits until purplegate's component link is up (a throw-away
        client asks it)."""
        probe = self.client(self.user("probe"))
        try:
            self.purplegate.wait_connected(probe, timeout=timeout)
        finally:
            probe.close()

    def client(self, user, host=USER_DOMAIN, **kw):
        c = Client(self.prosody, user, host=host, **kw)
        self._tracked.append(c)
        return c

    def user(self, prefix="user"):
        """A fresh, unique user name for this module's Prosody."""
        return f"{prefix}{next(self._n)}"

    def track(self, obj):
        self._tracked.append(obj)
        return obj

    def subdir(self, name):
        d = self.tmp / f"{name}-{next(self._n)}"
        d.mkdir(parents=True)
        return d

    def end_test(self):
        for obj in reversed(self._tracked):
            try:
                if isinstance(obj, (Purplegate, Prosody, IrcServer, FakeIrcServer)):
                    obj.stop(timeout=5)
                else:
                    obj.close()
            except Exception:
                pass
        self._tracked = []

    def crashes(self):
        """Messages for every purplegate of this env that died of a signal
        during the test (a crash: SIGSEGV, SIGABRT...)."""
        out = []
        for pg in [self.purplegate] + [o for o in self._tracked if isinstance(o, Purplegate)]:
            if pg is not None and pg.crashed():
                sig = -pg.proc.returncode
                try:
                    name = signal.Signals(sig).name
                except ValueError:
                    name = str(sig)
                out.append(f"purplegate (pid {pg.pid}) died of {name}; stderr:\n{pg.tail()}")
        return out

    def healthy(self):
        if self.prosody and not self.prosody.running():
            return False
        if self.irc and not self.irc.running():
            return False
        if self.purplegate and not self.purplegate.running():
            return False
        return True

    def diagnostics(self):
        out = []
        if self.purplegate:
            out.append(f"--- purplegate stderr ({self.purplegate.stderr_path}):\n"
                       + self.purplegate.tail())
        if self.prosody:
            kind = getattr(self.prosody, "kind", "prosody")  # or ejabberd.Ejabberd
            out.append(f"--- {kind} ({self.prosody.log_path}):\n" + self.prosody.tail(15))
        if self.irc:
            out.append(f"--- IRC server ({self.irc.log_path}):\n" + self.irc.tail(10))
        return "\n".join(out)

    def close(self, keep=False):
        self.end_test()
        for p in (self.purplegate, self.prosody, self.irc):
            if p:
                try:
                    p.stop(timeout=5)
                except Exception:
                    pass
        if not keep:
            shutil.rmtree(self.tmp, ignore_errors=True)


def setup_env(name, start):
    """A module's Env, set up by `start(env)`; when that fails, whatever it
    started is stopped and the directory kept for reading."""
    env = Env(name)
    try:
        start(env)
        return env
    except BaseException:
        env.close(keep=True)
        raise


def standard_setup(name, overrides=None, irc_password=None, privileges=None):
    """Env.start_standard; `privileges` are XEP-0356 grants of localhost
    (Prosody's `privileges`)."""
    return setup_env(name, lambda env: env.start_standard(overrides, irc_password, privileges))


def pgtest_setup(name, overrides=None):
    """Prosody and purplegate with `[legacy] protocol = prpl-pgtest`
    (Env.start_pgtest), `overrides` merged into purplegate's settings."""
    return setup_env(name, lambda env: env.start_pgtest(overrides))


# ---------------------------------------------------------------------------
# flows shared by several test modules


def register_set(client, query_xml, to=COMPONENT_JID, timeout=WAIT):
    """Send a jabber:iq:register set with the given <query/> and return the
    answer (result or error)."""
    return client.iq(f"<iq type='set' to='{to}'>{query_xml}</iq>", timeout=timeout)


def register_get(client, to=COMPONENT_JID, timeout=WAIT):
    r = client.iq(f"<iq type='get' to='{to}'><query xmlns='{NS_REGISTER}'/></iq>", timeout)
    assert r.get("type") == "result", f"register get failed: {tostr(r)}"
    query = child(r, NS_REGISTER, "query")
    assert query is not None, f"no jabber:iq:register query in {tostr(r)}"
    return r, query


def register(client, username, password, form=False, to=COMPONENT_JID):
    """Register through the legacy fields (or the x:data form) and assert
    the result."""
    q_xml = register_form_submit(username, password) if form else \
        register_legacy(username, password)
    r = register_set(client, q_xml, to)
    assert r.get("type") == "result", f"registration refused: {tostr(r)}"
    return r


def registered_username(client, to=COMPONENT_JID):
    """None when the get shows no <registered/>, else the <username> text."""
    _, query = register_get(client, to)
    if child(query, NS_REGISTER, "registered") is None:
        return None
    return text(child(query, NS_REGISTER, "username"))
