"""A private ejabberd (Debian's ejabberd 23.01) as the host server of the
integration tests, beside harness.Prosody and with the same interface
(c2s_port, component_port, secret, users, add_user, start, stop, tail...),
so harness.Client and harness.Env work with it unchanged.

How it runs (Debian's ejabberd 23.01, Erlang/OTP 25):
- `erl -s ejabberd` directly, not ejabberdctl: ejabberdctl starts a
  distributed Erlang node, and distribution starts `epmd`, a daemon that
  outlives ejabberd.  Without -sname/-name the node is nonode@nohost, no
  epmd is started, and the Popen PID is beam.smp itself (erl execs it), so
  SIGTERM to that PID stops ejabberd cleanly (OTP turns SIGTERM into
  init:stop()); its helpers (erl_child_setup, memsup) end with it.
- Config, Mnesia spool, logs and HOME live in the work dir; c2s, the
  external component listener (ejabberd_service, XEP-0114) and an HTTP
  listener for mod_http_api listen on 127.0.0.1 on free ports.
- Accounts are created through mod_http_api's `register` command (a POST
  from 127.0.0.1, which api_permissions allows): ejabberdctl would need
  distribution, and in-band registration is what the tests must not depend
  on.  Accounts asked for before the start are created right after it;
  mod_admin_extra adds commands such as change_password and get_roster.
- mod_privilege (XEP-0356) grants nothing by default; `privileges` grants
  the component the roster permission `both` and the message permission
  `outgoing`, through an ACL naming the component domains.
- mod_disco's extra_domains lists the gateway in the host's disco#items
  (XEP-0030 §4) even while it is not connected; mod_carboncopy (XEP-0280),
  mod_offline and mod_ping are loaded as a deployment would.

Quirks of ejabberd 23.01 the tests meet:
- One ejabberd_service listener serves every domain of its `hosts` to
  whichever component connects: each component gets a listener of its own.
- mod_privilege's options name access rules, not ACLs; it announces the
  grant (urn:xmpp:privilege:1) from each virtual host when the component
  connects; a privileged roster get works, a privileged roster set is
  answered with internal-server-error.
- A subscription approval (`subscribed`) that arrives before the request
  is dropped (no pre-approval, RFC 6121 §3.4), and inbound `subscribed` is
  delivered only to available resources (the roster push reaches every
  resource that fetched the roster): legacy_servers.registered_user copes.
"""

import glob
import hashlib
import json
import os
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import harness
from harness import (COMPONENT_JID, NS_COMPONENT, NS_STREAM, OTHER_DOMAIN, START_WAIT,
                     USER_DOMAIN, WAIT, HarnessError, _track, free_port,
                     port_accepts, stop_process, wait_until)

ERL = os.environ.get("ERL", "/usr/bin/erl")


def _debian_libs():
    # Debian puts ejabberd's and its dependencies' OTP applications
    # (ejabberd-23.01-1/, p1_xmpp-*/...) in the multiarch library directory,
    # which ejabberdctl passes as ERL_LIBS.
    found = sorted(glob.glob("/usr/lib/*/ejabberd-*/ebin/ejabberd.app"))
    return str(Path(found[-1]).parents[2]) if found else "/usr/lib/x86_64-linux-gnu"


EJABBERD_LIBS = os.environ.get("EJABBERD_LIBS") or _debian_libs()
PRIVILEGES = ("roster", "message")


def available():
    """True when erl and Debian's ejabberd application are installed."""
    return os.access(ERL, os.X_OK) and bool(
        glob.glob(os.path.join(EJABBERD_LIBS, "ejabberd-*", "ebin", "ejabberd.app")))


def yaml_str(s):
    # A JSON string is a YAML double-quoted scalar.
    return json.dumps(s)


class Ejabberd:
    """A private ejabberd: own config, Mnesia spool and logs under
    `workdir`, c2s, component and HTTP API ports on 127.0.0.1, no s2s, no
    TLS.  `privileges`: False (the default: mod_privilege grants nothing),
    True (roster both and message outgoing) or a subset of PRIVILEGES.
    `extra_components`: more component domains, each on a listener of its
    own (component_ports), with the same secret and privileges."""

    kind = "ejabberd"

    def __init__(self, workdir, secret="s3cret-component", component=COMPONENT_JID,
                 hosts=(USER_DOMAIN, OTHER_DOMAIN), privileges=False, extra_components=(),
                 log_level="info"):
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.secret = secret
        self.component = component
        self.hosts = tuple(hosts)
        if privileges is True:
            privileges = PRIVILEGES
        self.privileges = tuple(privileges or ())
        unknown = set(self.privileges) - set(PRIVILEGES)
        if unknown:
            raise HarnessError(f"unknown privileges {sorted(unknown)}")
        self.extra_components = tuple(extra_components)
        self.log_level = log_level
        self.c2s_port = free_port()
        self.component_port = free_port()
        # One listener per component: ejabberd_service routes every domain
        # of a listener's `hosts` to whichever component connects to it.
        self.component_ports = {component: self.component_port}
        for comp in self.extra_components:
            self.component_ports[comp] = free_port()
        self.http_port = free_port()
        self.spool_path = self.workdir / "spool"
        self.log_dir = self.workdir / "log"
        self.config_path = self.workdir / "ejabberd.yml"
        self.log_path = self.log_dir / "ejabberd.log"
        self.console_path = self.workdir / "ejabberd.console"
        self.proc = None
        self.users = {}
        self._pending_users = []
        self.spool_path.mkdir(parents=True, exist_ok=True)
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.write_config()

    @property
    def components(self):
        return (self.component,) + self.extra_components

    def write_config(self):
        q = yaml_str
        lines = [
            "# written by purplegate tests/integration/ejabberd.py",
            "hosts:",
            *[f"  - {q(h)}" for h in self.hosts],
            f"loglevel: {self.log_level}",
            "log_rotate_count: 0",
            "hide_sensitive_log_data: false",
            "certfiles: []",
            "auth_method: internal",
            "auth_password_format: plain",
            "listen:",
            "  -",
            f"    port: {self.c2s_port}",
            '    ip: "127.0.0.1"',
            "    module: ejabberd_c2s",
            "    starttls: false",
        ]
        for comp, port in self.component_ports.items():
            lines += [
                "  -",
                f"    port: {port}",
                '    ip: "127.0.0.1"',
                "    module: ejabberd_service",
                "    hosts:",
                f"      {q(comp)}:",
                f"        password: {q(self.secret)}",
            ]
        lines += [
            "  -",
            f"    port: {self.http_port}",
            '    ip: "127.0.0.1"',
            "    module: ejabberd_http",
            "    request_handlers:",
            "      /api: mod_http_api",
            "acl:",
            "  purplegate:",
            "    server:",
            *[f"      - {q(c)}" for c in self.components],
            # mod_privilege's options name access rules, not ACLs.
            "access_rules:",
            "  purplegate_privileged:",
            "    - allow: purplegate",
            "api_permissions:",
            "  harness:",
            "    from:",
            "      - mod_http_api",
            "    who:",
            "      ip: 127.0.0.1/8",
            '    what: "*"',
            "modules:",
            "  mod_roster: {}",
            "  mod_disco:",
            "    extra_domains:",
            f"      - {q(self.component)}",
            "  mod_carboncopy: {}",
            "  mod_offline: {}",
            "  mod_ping: {}",
            # change_password, get_roster... for the harness (HTTP API).
            "  mod_admin_extra: {}",
            "  mod_privilege:",
        ]
        # Absent permissions stay at mod_privilege's default (none).
        if "roster" in self.privileges:
            lines += ["    roster:", "      both: purplegate_privileged"]
        if "message" in self.privileges:
            lines += ["    message:", "      outgoing: purplegate_privileged"]
        if not self.privileges:
            lines[-1] += " {}"
        self.config_path.write_text("\n".join(lines) + "\n")

    # -- accounts ----------------------------------------------------------
    def api(self, command, args, timeout=WAIT, ok_codes=(200,)):
        """Calls a mod_http_api command; returns (HTTP status, decoded JSON
        answer); raises HarnessError on a status not in `ok_codes`."""
        req = urllib.request.Request(
            f"http://127.0.0.1:{self.http_port}/api/{command}",
            data=json.dumps(args).encode(), headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=timeout) as r:
                code, body = r.status, r.read()
        except urllib.error.HTTPError as e:
            code, body = e.code, e.read()
        if code not in ok_codes:
            raise HarnessError(f"ejabberd API {command} {args}: HTTP {code} "
                               f"{body.decode(errors='replace')}")
        return code, json.loads(body.decode() or "null")

    def _set_account(self, user, password, host):
        # register answers 409 for an existing account (one a test made
        # before a restart, say): then its password is set.
        code, _ = self.api("register", {"user": user, "host": host, "password": password},
                           ok_codes=(200, 409))
        if code == 409:
            self.api("change_password", {"user": user, "host": host, "newpass": password})

    def add_user(self, user, password="password", host=USER_DOMAIN):
        """Creates an account or sets its password (mod_http_api `register`,
        `change_password`); before the start, as soon as ejabberd runs."""
        if self.running():
            self._set_account(user, password, host)
        else:
            self._pending_users.append((user, password, host))
        self.users[f"{user}@{host}"] = password
        return f"{user}@{host}"

    def roster(self, user, host=USER_DOMAIN):
        """The user's roster as ejabberd stores it (mod_admin_extra's
        get_roster): {bare JID: {"nick", "subscription", "ask", "group"}}
        (one group per item, as that command reports it)."""
        _, items = self.api("get_roster", {"user": user, "server": host})
        return {item["jid"]: item for item in items}

    # -- process -------------------------------------------------------------
    def start(self, timeout=START_WAIT):
        if not available():
            raise HarnessError(f"ejabberd not found ({ERL}, {EJABBERD_LIBS}/ejabberd-*; "
                               "apt-get install ejabberd)")
        if self.proc and self.proc.poll() is None:
            raise HarnessError("ejabberd already running")
        env = dict(os.environ)
        env.update({
            "EJABBERD_CONFIG_PATH": str(self.config_path),
            "EJABBERD_LOG_PATH": str(self.log_path),
            "ERL_LIBS": EJABBERD_LIBS,
            "HOME": str(self.workdir),
            "ERL_CRASH_DUMP": str(self.workdir / "erl_crash.dump"),
            "ERL_CRASH_DUMP_BYTES": "0",
        })
        out = open(self.console_path, "ab")
        # No -sname/-name: no distribution, hence no epmd.  The schedulers
        # do not busy-wait: the tests share two cores with other servers.
        self.proc = subprocess.Popen(
            [ERL, "-noinput", "-noshell", "+sbwt", "none", "+sbwtdcpu", "none",
             "+sbwtdio", "none", "-mnesia", "dir", f'"{self.spool_path}"', "-s", "ejabberd"],
            stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
            cwd=str(self.workdir), start_new_session=True, env=env)
        out.close()
        _track(self.proc)
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                raise HarnessError(f"ejabberd exited with {self.proc.returncode}: {self.tail()}")
            if all(port_accepts(p) for p in (self.c2s_port, self.http_port,
                                             *self.component_ports.values())):
                break
            if time.monotonic() >= deadline:
                raise HarnessError(f"ejabberd did not open its ports in {timeout}s: "
                                   f"{self.tail()}")
            time.sleep(0.05)
        pending, self._pending_users = self._pending_users, []
        for user, password, host in pending:
            self._set_account(user, password, host)
        return self

    def stop(self, timeout=10):
        rc = stop_process(self.proc, timeout=timeout)
        # The next start must be able to bind the same ports again.
        wait_until(lambda: not port_accepts(self.c2s_port), WAIT, what="c2s port closed")
        return rc

    close = stop

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


class RawComponent:
    """A bare XEP-0114 component connection to a server (in place of
    purplegate): the handshake of XEP-0114 §3, then every stanza the server
    routes to the component is kept in `transcript`."""

    def __init__(self, port, domain, secret, timeout=WAIT):
        self.domain = domain
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.sock.settimeout(None)
        self.reader = harness.StreamReader()
        self.transcript = harness.Transcript()
        self._header = threading.Event()
        threading.Thread(target=self._read_loop, daemon=True, name=f"raw-{domain}").start()
        self.send(f"<?xml version='1.0'?><stream:stream xmlns='{NS_COMPONENT}' "
                  f"xmlns:stream='{NS_STREAM}' to='{domain}'>")
        if not self._header.wait(timeout):
            self.close()
            raise harness.Timeout(f"no stream header from the server within {timeout}s")
        sid = self.reader.header.get("id") or ""
        digest = hashlib.sha1((sid + secret).encode()).hexdigest()
        self.send(f"<handshake>{digest}</handshake>")
        self.expect(lambda e: harness.local(e) == "handshake", timeout,
                    what="<handshake/> (the server accepted the component)")

    def _read_loop(self):
        while True:
            try:
                data = self.sock.recv(65536)
            except OSError as e:
                self.transcript.close(f"recv error {e}")
                return
            if not data:
                self.transcript.close("EOF")
                return
            for el in self.reader.feed(data):
                self.transcript.add(el)
            if self.reader.header is not None:
                self._header.set()

    def send(self, data):
        self.sock.sendall(data.encode() if isinstance(data, str) else data)

    def expect(self, pred, timeout=WAIT, since=0, what=None):
        return self.transcript.expect(pred, timeout, since, what)

    def mark(self):
        return self.transcript.mark()

    def close(self):
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()


def session_processes(sid):
    """PIDs of the processes in session `sid` (the server was started in a
    session of its own, whose id is its PID)."""
    out = []
    for stat in glob.glob("/proc/[0-9]*/stat"):
        try:
            data = Path(stat).read_text()
        except OSError:
            continue
        # pid (comm) state ppid pgrp session ...; comm may hold spaces.
        fields = data[data.rindex(")") + 2:].split()
        if int(fields[3]) == sid:
            out.append(int(stat.split("/")[2]))
    return out


def ejabberd_setup(name, privileges=False, extra_components=(), overrides=None):
    """InspIRCd, an Ejabberd (as env.prosody, the env's host server) and
    purplegate on prpl-irc connected to it as gw.localhost; Skip when
    ejabberd or inspircd is not installed."""
    if not available():
        raise harness.Skip(f"ejabberd is not installed ({ERL}, {EJABBERD_LIBS}/ejabberd-*): "
                           "tools/install-deps installs it")
    if not harness.IrcServer.available():
        raise harness.Skip("inspircd is not installed")

    def start(env):
        env.start_irc()
        env.prosody = Ejabberd(env.tmp / "ejabberd", privileges=privileges,
                               extra_components=extra_components).start()
        env.start_purplegate(env.purplegate_overrides(overrides))

    return harness.setup_env(name, start)

