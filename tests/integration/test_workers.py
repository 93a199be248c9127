"""Legacy logins in worker processes (legacy/backend.h, `[workers] count`):
a worker that crashes is started again and only its own users notice, a
login that keeps crashing its worker is set aside, a worker cannot open the
gateway's store or key file, and no worker outlives the gateway.

Every purplegate here names its worker count in its config, so the module
tests workers whatever PG_TEST_WORKERS says; on a purplegate that runs
libpurple in its own process each test fails (no worker processes, or a
worker that reads the store).

- SIGSEGV, then SIGKILL, to one of two workers while four IRC users (two
  per worker) exchange messages with an IRC peer both ways: the users of
  the other worker keep their IRC connection (same TCP connection, same
  WHOIS sign-on time); those of the crashed worker are back on IRC within
  5 s.  Nothing is lost: every message a user sent reaches the peer or comes
  back as an error stanza with its id; every message the peer sent to a nick
  reaches the user unless the IRC server refused it (401, matched to the
  message by a PING sent after each one).  Nothing arrives twice: the
  main process holds each IRC connection of a worker too, so the crash
  does not reset it; it ends it as a client does, the server processes
  every line the worker had written, and what the worker's note says was
  written in full is not sent again (legacy/held-socket.h,
  legacy/sent-note.h, legacy/outbox.h).  How many messages were settled so
  and how many sent again is printed.  The main process holds exactly the
  IRC connections of the logins, none of the crashed worker's once its
  server closed them.
- A worker stopped (SIGSTOP) while an IRC peer writes to its user, then
  killed: the lines it never read, which the IRC server had sent (a PONG
  after them says so), reach the user from the main process, each once and
  in order; then the login comes back.
- A logout, then an unregistration (XEP-0077 §3.2 <remove/>), of a user
  whose IRC connection the main process holds too ends that connection at
  once: the nick leaves IRC within 2 s and neither process keeps a socket
  to the IRC server.
- Quarantine (prpl-pgtest): a login that crashes its worker at login is
  refused after 3 crashes (an error presence from the gateway and a
  headline saying it is set aside); another user's login on the same
  worker works after the last restart.
- A worker cannot open purplegate.db or purplegate.key, and can read its
  own directory (Landlock).
- SIGTERM ends the workers with the gateway (exit status 0, without the
  gateway having to kill them); SIGKILL of the gateway ends them too, even
  stopped ones that cannot see their link close (PR_SET_PDEATHSIG).
- 100 restarts of a worker (SIGKILL; PURPLEGATE_WORKER_RESTART_MS takes the
  backoff away) leak no file descriptor of the main process and leave no
  process behind."""

import contextlib
import os
import re
import signal
import sqlite3
import threading
import time
from pathlib import Path

import harness
from harness import (COMPONENT_JID, NS_CLIENT, NS_STANZAS, WAIT, Purplegate, Timeout, child, is_stanza,
                     local, match, ns_of, register_legacy, text, tostr, wait_until, xml_escape)
from legacy_servers import IrcClient, chat_from, irc_and_prosody_env, send_available, wait_transport_online

GW = COMPONENT_JID
TIMEOUT = 150

# prpl-irc sends one line per 2 s after a burst of 5 by default.
IRC_SETTINGS = {"legacy-settings": {"ratelimit-interval": "0", "ratelimit-burst": "1000000"}}
PGTEST_SETTINGS = {"legacy": {"protocol": harness.PGTEST_PROTOCOL, "name": None},
                   "legacy-settings": {"greeting": "hello from the tests"}}
# legacy/backend.h: PG_BACKEND_RESTART_MS_ENV.
RESTART_MS_ENV = "PURPLEGATE_WORKER_RESTART_MS"
# legacy/backend.h: PG_BACKEND_QUARANTINE_CRASHES.
QUARANTINE_CRASHES = 3

PEER = "wpeer"
LOAD_PERIOD = 0.1  # s between two rounds of messages (one per user each way)


def setup(name):
    """InspIRCd and Prosody; each test starts its own purplegate (_start)."""
    return irc_and_prosody_env(name)


def _start(env, workers, pgtest=False, settings=None, environment=None):
    """A fresh purplegate (its own store) with `[workers] count = workers`,
    on InspIRCd or on prpl-pgtest, linked to Prosody; the one before is
    stopped."""
    if env.purplegate is not None:
        env.purplegate.stop(timeout=5)
    overrides = {group: dict(kv) for group, kv in
                 (PGTEST_SETTINGS if pgtest else env.purplegate_overrides(IRC_SETTINGS)).items()}
    for group, kv in (settings or {}).items():
        overrides.setdefault(group, {}).update(kv)
    overrides.setdefault("workers", {})["count"] = str(workers)
    pg = Purplegate(env.subdir("purplegate"), env.prosody.component_port, env.prosody.secret,
                    overrides=overrides)
    pg.environment.update(environment or {})
    if pgtest:
        pg.install_pgtest()
    env.purplegate = pg
    pg.start()
    env.wait_linked()
    return pg


# ---------------------------------------------------------------------------
# processes, from /proc


def _stat(pid):
    """(state, ppid, start time) of `pid`, or None when there is no such
    process."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = raw.rsplit(")", 1)[1].split()
    return fields[0], int(fields[1]), int(fields[19])


def _children(pid):
    """{child pid: (state, cmdline argv)} of every process whose parent is `pid`."""
    out = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        st = _stat(int(d))
        if st is None or st[1] != pid:
            continue
        try:
            argv = Path(f"/proc/{d}/cmdline").read_bytes().split(b"\0")
        except OSError:
            argv = []
        out[int(d)] = (st[0], [a.decode(errors="replace") for a in argv if a])
    return out


def _workers(pg):
    """{pid: own directory} of pg's running worker processes (children
    started as `purplegate --worker DIR ...`; zombies left out)."""
    return {pid: argv[2] for pid, (state, argv) in _children(pg.pid).items()
            if state != "Z" and len(argv) >= 3 and argv[1] == "--worker"}


def _said_up(pg):
    """The pids of the workers that said hello to pg (its debug log)."""
    return {int(p) for p in re.findall(r"worker \d+ \(pid (\d+)\) is up", pg.stderr_text())}


def _wait_workers(pg, n, exclude=(), timeout=WAIT):
    """Waits until pg has exactly `n` worker processes, none of `exclude`,
    each of which said hello; returns {pid: own directory}."""
    def ready():
        w = _workers(pg)
        return w if len(w) == n and not set(w) & set(exclude) and set(w) <= _said_up(pg) else None
    try:
        return wait_until(ready, timeout, interval=0.02, what=f"{n} workers up")
    except Timeout:
        raise AssertionError(f"purplegate (pid {pg.pid}) has worker processes {_workers(pg)} "
                             f"(children {_children(pg.pid)}), expected {n} up"
                             + (f", none of {sorted(exclude)}" if exclude else ""))


def _gone(pid, start):
    """The process `pid` that started at `start` has ended (or is a zombie
    nobody reaped yet)."""
    st = _stat(pid)
    return st is None or st[2] != start or st[0] in ("Z", "X")


def _fds(pid):
    out = {}
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            out[int(fd)] = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            pass
    return out


def _irc_ports(pid, irc_port, established=True):
    """The local ports of `pid`'s established (or, not `established`, any)
    TCP connections to the IRC server (its sockets matched by inode in
    /proc/net/tcp)."""
    inodes = set()
    for link in _fds(pid).values():
        m = re.fullmatch(r"socket:\[(\d+)\]", link)
        if m:
            inodes.add(m.group(1))
    ports = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        parts = line.split()
        if (parts[3] == "01" or not established) and int(parts[2].split(":")[1], 16) == irc_port \
                and parts[9] in inodes:
            ports.add(int(parts[1].split(":")[1], 16))
    return ports


# ---------------------------------------------------------------------------
# users


def _register_all(env, prefix, names, gw=GW):
    """Registered users of `gw` (registrations in parallel), each through
    the subscription handshake of legacy_servers.registered_user; returns
    their clients, not yet available."""
    clients = [env.client(env.user(prefix), roster=True) for _ in names]
    asked = []
    for c, name in zip(clients, names):
        since = c.mark()
        xml, sid = harness.ensure_id(f"<iq type='set' to='{gw}'>{register_legacy(name, 'pw')}</iq>",
                                     "reg")
        c.send(xml)
        asked.append((c, sid, since))
    for c, sid, since in asked:
        r = c.expect(lambda el, sid=sid: is_stanza(el, "iq") and el.get("id") == sid
                     and el.get("type") in ("result", "error"), timeout=2 * WAIT, since=since,
                     what=f"answer to registration {sid}")
        assert r.get("type") == "result", f"registration refused: {tostr(r)}"
        c.send(f"<presence type='subscribed' to='{gw}'/>")
        c.send(f"<presence type='subscribe' to='{gw}'/>")
        c.expect(match("presence", type="subscribed", frm=gw), timeout=WAIT, since=since,
                 what=f"subscribed from {gw}")
    return clients


def _say(c, who, body, timeout=WAIT):
    """Sends `body` to the prpl-pgtest contact `who`; returns its answer's
    body (from echo: the answer with the same text, since a message sent
    before a worker crashed may be sent again, legacy/outbox.h)."""
    since = c.mark()
    c.send(f"<message type='chat' to='{who}@{GW}'><body>{xml_escape(body)}</body></message>")
    answer = c.expect(chat_from(f"{who}@{GW}", body if who == "echo" else None), timeout=timeout,
                      since=since, what=f"an answer from {who}@{GW}")
    return text(child(answer, NS_CLIENT, "body"))


def _body(el):
    return text(child(el, NS_CLIENT, "body"))


# ---------------------------------------------------------------------------
# 1, 2: a worker crashes under load


class Load:
    """Messages both ways between the users and the IRC peer, one per user
    each way every LOAD_PERIOD s, until stop().  Each message the peer sends
    is followed by a PING whose PONG marks the place of any 401 refusal."""

    def __init__(self, users, peer):
        self.users = users  # [(client, nick)]
        self.peer = peer
        self.out = []  # (nick, stanza id, body): user → peer
        self.into = []  # (nick, text): peer → user; the index is the PING mark
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._xmpp, daemon=True, name="load-xmpp"),
                         threading.Thread(target=self._irc, daemon=True, name="load-irc")]
        self.errors = []

    def start(self):
        for t in self._threads:
            t.start()

    def stop(self):
        self._stop.set()
        for t in self._threads:
            t.join(WAIT)
        assert not self.errors, f"the load could not be sent: {self.errors}"

    def _xmpp(self):
        seq = 0
        try:
            while not self._stop.is_set():
                for c, nick in self.users:
                    sid, body = f"out-{nick}-{seq:04d}", f"{nick} out {seq:04d}"
                    c.send(f"<message type='chat' to='{PEER}@{GW}' id='{sid}'><body>{body}</body></message>")
                    self.out.append((nick, sid, body))
                seq += 1
                time.sleep(LOAD_PERIOD)
        except Exception as e:  # reported by stop()
            self.errors.append(repr(e))

    def _irc(self):
        seq = 0
        try:
            while not self._stop.is_set():
                for _, nick in self.users:
                    body = f"{nick} in {seq:04d}"
                    mark = len(self.into)
                    self.into.append((nick, body))
                    self.peer.privmsg(nick, body)
                    self.peer.send(f"PING :mark-{mark}")
                seq += 1
                time.sleep(LOAD_PERIOD)
        except Exception as e:
            self.errors.append(repr(e))

    # -- what arrived --------------------------------------------------------
    def refused(self):
        """The marks of the peer's messages the IRC server refused (401):
        the server answers one client's lines in order, so a 401 belongs to
        the message after the last PONG."""
        out, next_mark = set(), 0
        with self.peer.cond:
            lines = list(self.peer.lines)
        for m in lines:
            if m.command == "PONG" and m.params and m.params[-1].startswith("mark-"):
                next_mark = int(m.params[-1][5:]) + 1
            elif m.command == "401" and next_mark < len(self.into):
                assert m.params[1].lower() == self.into[next_mark][0].lower(), \
                    f"a 401 for {m.params[1]} where message {next_mark} went to {self.into[next_mark][0]}"
                out.add(next_mark)
        return out

    def at_peer(self):
        """{body: times} of the users' messages the peer read."""
        counts = {}
        with self.peer.cond:
            lines = list(self.peer.lines)
        for m in lines:
            if m.command == "PRIVMSG" and m.params and m.params[0].lower() == PEER:
                counts[m.params[-1]] = counts.get(m.params[-1], 0) + 1
        return counts

    def bounced(self):
        """{stanza id: error stanza} of the users' messages that came back."""
        out = {}
        for c, _ in self.users:
            for el in c.transcript.elements():
                if is_stanza(el, "message") and el.get("type") == "error" \
                        and (el.get("id") or "").startswith("out-"):
                    out[el.get("id")] = el
        return out

    def at_users(self):
        """{body: times} of the peer's messages the users received."""
        counts = {}
        for c, _ in self.users:
            for el in c.transcript.elements():
                if chat_from(f"{PEER}@{GW}")(el):
                    counts[_body(el)] = counts.get(_body(el), 0) + 1
        return counts

    def missing(self):
        """(user → peer messages neither at the peer nor bounced, peer → user
        messages not refused and not received)."""
        at_peer, bounced = self.at_peer(), self.bounced()
        out = [sid for _, sid, body in self.out if body not in at_peer and sid not in bounced]
        refused, at_users = self.refused(), self.at_users()
        into = [body for i, (_, body) in enumerate(self.into) if i not in refused and body not in at_users]
        return out, into


def _crash_under_load(env, sig):
    pg = _start(env, workers=2)
    workers = _wait_workers(pg, 2)
    nicks = [f"w{sig.name[3:].lower()}{i}" for i in range(1, 5)]
    clients = _register_all(env, "wload", nicks)
    users = list(zip(clients, nicks))

    # One login at a time: the worker that gains an IRC connection serves it.
    serving, port_of = {}, {}
    for c, nick in users:
        before = {pid: _irc_ports(pid, env.irc.port) for pid in workers}
        since = c.mark()
        send_available(c)
        wait_transport_online(c, GW, since)

        def gained():
            new = [(pid, port) for pid in workers
                   for port in _irc_ports(pid, env.irc.port) - before[pid]]
            return new if len(new) == 1 else None
        [(serving[nick], port_of[nick])] = wait_until(gained, WAIT, what=f"{nick}'s IRC connection")
    by_worker = {pid: [n for n in nicks if serving[n] == pid] for pid in workers}
    assert all(by_worker.values()), f"a worker serves nobody: {by_worker}"
    victim = serving[nicks[0]]
    survivor = next(pid for pid in workers if pid != victim)
    crashed, kept = by_worker[victim], by_worker[survivor]

    peer = env.track(IrcClient(env.irc.port, PEER))
    watch = env.track(IrcClient(env.irc.port, "wwatch"))
    signon = {n: (watch.whois(n) or {}).get("signon") for n in nicks}
    assert all(signon.values()), f"WHOIS sign-on times: {signon}"

    load = Load(users, peer)
    load.start()
    time.sleep(2.0)
    victim_start = _stat(victim)[2]
    killed_at = time.monotonic()
    os.kill(victim, sig)

    # IRC's view: each nick of the crashed worker goes, then comes back.
    gone, back = {}, {}
    deadline = killed_at + 3 * WAIT
    while len(back) < len(crashed) and time.monotonic() < deadline:
        on = {n.lower() for n in watch.ison(*crashed)}
        now = time.monotonic()
        for n in crashed:
            if n not in gone and n not in on:
                gone[n] = now
            elif n in gone and n not in back and n in on:
                back[n] = now - killed_at
        time.sleep(0.05)
    time.sleep(2.0)
    load.stop()

    new_workers = _wait_workers(pg, 2, exclude=[victim])
    assert _gone(victim, victim_start), f"the worker {victim} is still there"
    assert survivor in new_workers, f"the other worker {survivor} ended too: {new_workers}"

    def settled():
        out, into = load.missing()
        return not out and not into
    try:
        wait_until(settled, 3 * WAIT, interval=0.5, what="every message delivered, bounced or refused")
    except Timeout:
        pass
    lost_out, lost_in = load.missing()
    at_peer, at_users, bounced, refused = load.at_peer(), load.at_users(), load.bounced(), load.refused()
    twice_out = {b: n for b, n in at_peer.items() if n > 1}
    twice_in = {b: n for b, n in at_users.items() if n > 1}
    resent = sum(int(x) for x in re.findall(
        r"(\d+) messages handed to the legacy login without confirmation", pg.stderr_text()))
    claimed = sum(int(x) for x in re.findall(
        r"(\d+) messages the legacy server had processed or received before the login was lost",
        pg.stderr_text()))
    print(f"# {sig.name} to worker {victim} ({', '.join(crashed)}; {', '.join(kept)} on {survivor}): "
          f"back on IRC after {', '.join(f'{back[n]:.1f}' for n in crashed if n in back)} s; "
          f"user→peer {len(load.out)} sent, {len(at_peer)} arrived, {len(bounced)} bounced, "
          f"{len(twice_out)} twice ({claimed} received unconfirmed, {resent} sent again when the login "
          f"dropped); "
          f"peer→user {len(load.into)} sent, {len(refused)} refused (401), {len(at_users)} arrived, "
          f"{len(twice_in)} twice", flush=True)

    problems = []
    for n in kept:
        after = watch.whois(n)
        if after is None or after.get("signon") != signon[n]:
            problems.append(f"{n} (worker {survivor}) has a new IRC connection: sign-on "
                            f"{signon[n]} before, {after and after.get('signon')} after")
        if port_of[n] not in _irc_ports(survivor, env.irc.port):
            problems.append(f"{n}'s IRC connection (port {port_of[n]}) on worker {survivor} is gone")
    for n in crashed:
        if n not in gone:
            problems.append(f"{n} never left IRC after the {sig.name} of its worker")
        elif n not in back:
            problems.append(f"{n} not back on IRC {3 * WAIT:.0f} s after the {sig.name} of its worker")
        elif back[n] > 5.0:
            problems.append(f"{n} back on IRC only {back[n]:.1f} s after the {sig.name} of its worker")
    refused_kept = [load.into[i][1] for i in refused if load.into[i][0] in kept]
    if refused_kept:
        problems.append(f"the IRC server refused messages to users of the other worker: {refused_kept[:10]}")
    if lost_out:
        problems.append(f"{len(lost_out)} user→peer messages neither arrived nor bounced: {lost_out[:10]}")
    if lost_in:
        problems.append(f"{len(lost_in)} peer→user messages accepted by IRC never reached the user: "
                        f"{lost_in[:10]}")
    # What the crashed worker had written on its IRC connections reaches
    # the server, which the main process held, and is not sent again
    # (legacy/outbox.h): nothing arrives twice.
    if twice_out:
        problems.append(f"{len(twice_out)} user→peer messages arrived more than once ({claimed} received "
                        f"unconfirmed, {resent} sent again): {sorted(twice_out.items())[:10]}")
    if twice_in:
        problems.append(f"{len(twice_in)} peer→user messages arrived more than once: "
                        f"{sorted(twice_in.items())[:10]}")
    for sid, el in bounced.items():
        err = [e for e in el if local(e) == "error"]
        if not err or not any(ns_of(x) == NS_STANZAS for x in err[0]):
            problems.append(f"a bounce without a condition: {tostr(el)}")
    # The main process holds the live logins' IRC connections, and none of
    # the crashed worker's old ones once the server closed them.
    def held():
        live = set().union(*(_irc_ports(pid, env.irc.port) for pid in _workers(pg)))
        mine = _irc_ports(pg.pid, env.irc.port)
        return (live, mine) if mine == live and len(live) == len(nicks) else None
    try:
        wait_until(held, WAIT, interval=0.2, what="the main process holding the live IRC connections")
    except Timeout:
        live = set().union(*(_irc_ports(pid, env.irc.port) for pid in _workers(pg)))
        problems.append(f"the main process holds the IRC connections {_irc_ports(pg.pid, env.irc.port)}, "
                        f"the workers have {live}")
    assert not problems, "\n".join(problems)


def test_sigsegv_worker_under_load(env):
    _crash_under_load(env, signal.SIGSEGV)


def test_sigkill_worker_under_load(env):
    _crash_under_load(env, signal.SIGKILL)


def test_lines_a_dead_worker_never_read_reach_the_user(env):
    """The worker is stopped (SIGSTOP) while the peer writes, so the IRC
    server's lines wait on the connection the main process holds too (the
    peer's PONG after them says the server sent them); then it is killed.
    The main process reads them as it ends the connection and the user
    gets each message once, in order; then the login comes back and a
    message still reaches the user once."""
    pg = _start(env, workers=1)
    [worker] = _wait_workers(pg, 1)
    nick = "wunread1"
    [c] = _register_all(env, "wunread", [nick])
    since = c.mark()
    send_available(c)
    wait_transport_online(c, GW, since)
    wait_until(lambda: _irc_ports(pg.pid, env.irc.port) and
               _irc_ports(pg.pid, env.irc.port) == _irc_ports(worker, env.irc.port),
               WAIT, interval=0.05, what="the main process holding the IRC connection")
    peer = env.track(IrcClient(env.irc.port, PEER))
    assert _say_from_peer(c, peer, nick, "before the stop") == 1
    bodies = [f"unread {i} <&>" for i in range(5)]
    since = c.mark()
    os.kill(worker, signal.SIGSTOP)
    try:
        mark = peer.mark()
        for b in bodies:
            peer.privmsg(nick, b)
        peer.send("PING :unread-barrier")
        peer.expect(lambda m: m.command == "PONG" and m.params[-1] == "unread-barrier", since=mark,
                    what="the PONG after the messages")
        with peer.cond:
            refused = [m.raw for m in peer.lines[mark:] if m.command == "401"]
        assert not refused, f"the IRC server refused the messages: {refused}"
    finally:
        os.kill(worker, signal.SIGKILL)
    c.expect(chat_from(f"{PEER}@{GW}", bodies[-1]), timeout=WAIT, since=since,
             what="the last message the worker never read")
    got = [_body(el) for el in c.transcript.elements()[since:] if chat_from(f"{PEER}@{GW}")(el)]
    assert got == bodies, f"the user got {got}, the peer sent {bodies}"
    _wait_workers(pg, 1, exclude=[worker])
    assert _say_from_peer(c, peer, nick, "after the restart") == 1


def _say_from_peer(c, peer, nick, body):
    """The peer writes `body` to `nick` (retried while the nick is away);
    returns how many times the user got it, after a barrier."""
    since = c.mark()
    deadline = time.monotonic() + 2 * WAIT
    while True:
        peer.privmsg(nick, body)
        try:
            c.expect(chat_from(f"{PEER}@{GW}", body), timeout=2, since=since, what=f"'{body}' from the peer")
            break
        except Timeout:
            if time.monotonic() > deadline:
                raise
    r = c.iq(f"<iq type='get' to='{GW}'><ping xmlns='{harness.NS_PING}'/></iq>")
    assert r.get("type") == "result", f"ping refused: {tostr(r)}"
    return sum(1 for el in c.transcript.elements()[since:] if chat_from(f"{PEER}@{GW}", body)(el))


# ---------------------------------------------------------------------------
# 2b: a held connection ends with its login


def test_logout_and_unregister_end_held_connection(env):
    pg = _start(env, workers=1)
    [worker] = _wait_workers(pg, 1)
    nick = "wheld1"
    [c] = _register_all(env, "wheld", [nick])
    watch = env.track(IrcClient(env.irc.port, "wheldwatch"))

    def online():
        since = c.mark()
        send_available(c)
        wait_transport_online(c, GW, since)
        watch.wait_online(nick, timeout=WAIT)

        def held():
            mine, its = _irc_ports(pg.pid, env.irc.port), _irc_ports(worker, env.irc.port)
            return mine if mine and mine == its else None
        return wait_until(held, WAIT, interval=0.05, what="the main process holding the IRC connection")

    def ended(what, ports, t0):
        watch.wait_online(nick, want=False, timeout=WAIT)
        took = time.monotonic() - t0
        try:
            wait_until(lambda: not _irc_ports(pg.pid, env.irc.port, established=False)
                       and not _irc_ports(worker, env.irc.port, established=False),
                       WAIT, interval=0.05, what="no IRC socket left")
        except Timeout:
            raise AssertionError(f"after the {what}, purplegate keeps sockets of "
                                 f"{_irc_ports(pg.pid, env.irc.port, established=False)} and its worker of "
                                 f"{_irc_ports(worker, env.irc.port, established=False)} (the connection was "
                                 f"{ports})")
        print(f"# {what}: {nick} left IRC {took:.2f} s after, no socket left", flush=True)
        assert took < 2.0, f"{nick} left IRC only {took:.1f} s after the {what}"

    ports = online()
    t0 = time.monotonic()
    c.send(f"<presence type='unavailable' to='{GW}'/>")
    ended("logout", ports, t0)

    ports = online()
    t0 = time.monotonic()
    r = c.iq(f"<iq type='set' to='{GW}' id='wh1'><query xmlns='{harness.NS_REGISTER}'><remove/></query></iq>")
    assert r.get("type") == "result", f"<remove/> refused: {tostr(r)}"
    ended("unregistration", ports, t0)


# ---------------------------------------------------------------------------
# 3: quarantine


def test_crashing_login_is_quarantined(env):
    # One worker: both logins share it.
    pg = _start(env, workers=1, pgtest=True)
    [worker] = _wait_workers(pg, 1)
    n = next(env._n)
    ok, crasher = _register_all(env, "wq", [f"ok-{n}", f"later-{n}"])
    since = ok.mark()
    send_available(ok)
    wait_transport_online(ok, GW, since)
    assert _say(ok, "echo", "before") == "before"

    # prpl-pgtest crashes at the login of a crashlogin… user, the check of
    # the registration's login included: the registered name changes in
    # the store (read at each login) instead.
    path = pg.settings["database"]["path"]
    with contextlib.closing(sqlite3.connect(path, timeout=10)) as db:
        with db:
            changed = db.execute("UPDATE users SET username = ? WHERE bare_jid = ?",
                                 (f"crashlogin-{n}", crasher.bare)).rowcount
    assert changed == 1, f"no user row for {crasher.bare}"

    # A retry that finds the worker not started again yet is told
    # <remote-server-timeout/> first: only the quarantine's answer counts.
    def unavailable(el):
        errs = [e for e in el if local(e) == "error"] if match("presence", type="error", frm=GW)(el) else []
        return bool(errs) and errs[0].find(harness.q(NS_STANZAS, "service-unavailable")) is not None

    def set_aside(el):
        return match("message", type="headline", frm=GW)(el) and "set aside" in (_body(el) or "")
    since = crasher.mark()
    send_available(crasher)
    crasher.expect(unavailable, timeout=3 * WAIT, since=since,
                   what=f"an error presence from {GW} with <service-unavailable/>")
    crasher.expect(set_aside, timeout=WAIT, since=since, what=f"a headline from {GW} saying it is set aside")

    ended = pg.stderr_text().count("legacy worker 1 ended")
    assert ended == QUARANTINE_CRASHES, f"the worker ended {ended} times, expected {QUARANTINE_CRASHES}"
    _wait_workers(pg, 1, exclude=[worker])
    # The other login is back on the restarted worker.
    assert _say(ok, "echo", "after", timeout=2 * WAIT) == "after"
    ok.nothing(match("presence", type="error", frm=GW), wait=0.5, what="an error presence to the other user")
    # Set aside for good: no more crashes.
    time.sleep(1.5)
    assert pg.stderr_text().count("legacy worker 1 ended") == QUARANTINE_CRASHES, \
        "the worker crashed again after the quarantine"


# ---------------------------------------------------------------------------
# 4: files


def test_worker_cannot_open_store_or_key(env):
    pg = _start(env, workers=2, pgtest=True)
    workers = _wait_workers(pg, 2)
    [c] = _register_all(env, "wf", ["files"])
    since = c.mark()
    send_available(c)
    wait_transport_online(c, GW, since)
    pid = int(_say(c, "pid", "which process?"))
    assert pid in workers, f"the login runs in pid {pid}, not in a worker of {pg.pid} ({workers})"
    own = Path(workers[pid])
    probe = own / "probe.txt"
    probe.write_text("x\n")
    db, key = pg.settings["database"]["path"], pg.settings["database"]["key_file"]
    outbox = db + "-outbox"
    assert os.path.isfile(db) and os.path.isfile(key) and os.path.isfile(outbox), \
        "no store, outbox or key file to test with"
    lines = _say(c, "files", f"{db} {outbox} {key} {own} {probe}").split("\n")
    answers = dict(line.split(": ", 1) for line in lines)
    assert answers.get(db, "").startswith("denied"), f"the worker can open the store: {lines}"
    assert answers.get(outbox, "").startswith("denied"), f"the worker can open the outbox: {lines}"
    assert answers.get(key, "").startswith("denied"), f"the worker can open the key file: {lines}"
    assert answers.get(str(own)) == "readable", f"the worker cannot read its directory: {lines}"
    assert answers.get(str(probe)) == "readable", f"the worker cannot read its own file: {lines}"


# ---------------------------------------------------------------------------
# 5: the workers end with the gateway


def test_sigterm_stops_workers(env):
    pg = _start(env, workers=2, pgtest=True)
    workers = _wait_workers(pg, 2)
    [c] = _register_all(env, "wt", ["term"])
    since = c.mark()
    send_available(c)
    wait_transport_online(c, GW, since)
    starts = {pid: _stat(pid)[2] for pid in workers}
    t0 = time.monotonic()
    pg.signal(signal.SIGTERM)
    rc = pg.proc.wait(WAIT)
    took = time.monotonic() - t0
    left = [pid for pid in workers if not _gone(pid, starts[pid])]
    assert rc == 0, f"purplegate exited with {rc} on SIGTERM:\n{pg.tail()}"
    assert not left, f"workers {left} still running after purplegate exited"
    # The gateway waits up to 3 s for its workers to exit before it kills
    # them (legacy/backend-workers.c): exiting sooner, it killed none.
    assert took < 2.5, f"purplegate took {took:.1f} s to stop: a worker did not exit by itself"


def test_sigkill_of_gateway_ends_workers(env):
    pg = _start(env, workers=2, pgtest=True)
    workers = _wait_workers(pg, 2)
    starts = {pid: _stat(pid)[2] for pid in workers}
    # A worker that runs leaves when its link to the gateway closes; a
    # stopped one (as one stuck in a plugin would be) only by the signal
    # its parent's death sends it.
    for pid in workers:
        os.kill(pid, signal.SIGSTOP)
    try:
        pg.kill()
        t0 = time.monotonic()
        try:
            wait_until(lambda: all(_gone(pid, starts[pid]) for pid in workers), 2.0, interval=0.02,
                       what="the workers ended")
        except Timeout:
            left = [pid for pid in workers if not _gone(pid, starts[pid])]
            raise AssertionError(f"workers {left} still there 2 s after purplegate died of SIGKILL")
        print(f"# stopped workers gone {time.monotonic() - t0:.2f} s after the gateway's SIGKILL",
              flush=True)
    finally:
        for pid in workers:
            if not _gone(pid, starts[pid]):
                os.kill(pid, signal.SIGKILL)


# ---------------------------------------------------------------------------
# 6: restarts leak nothing


RESTARTS = 100


def test_restarts_leak_nothing(env):
    # Without the backoff: 100 restarts would otherwise take hours.
    pg = _start(env, workers=2, pgtest=True, environment={RESTART_MS_ENV: "10"})
    workers = _wait_workers(pg, 2)

    def restart(workers):
        pid = min(workers)
        start = _stat(pid)[2]
        os.kill(pid, signal.SIGKILL)
        workers = _wait_workers(pg, 2, exclude=[pid])
        assert _gone(pid, start), f"worker {pid} still there after its restart"
        return workers

    for _ in range(2):  # warm-up: what the first restarts allocate for good
        workers = restart(workers)
    time.sleep(0.3)
    fds_before = _fds(pg.pid)
    t0 = time.monotonic()
    for _ in range(RESTARTS):
        workers = restart(workers)
    took = time.monotonic() - t0
    try:
        wait_until(lambda: len(_fds(pg.pid)) <= len(fds_before), 5, interval=0.1,
                   what="the fd count back where it started")
    except Timeout:
        pass
    fds_after = _fds(pg.pid)
    children = _children(pg.pid)
    restarts = pg.stderr_text().count("legacy worker 1 ended") + pg.stderr_text().count("legacy worker 2 ended")
    print(f"# {RESTARTS} worker restarts in {took:.1f} s: purplegate has {len(fds_before)} fds before, "
          f"{len(fds_after)} after, {len(children)} children", flush=True)
    assert restarts == RESTARTS + 2, f"{restarts} restarts logged, expected {RESTARTS + 2}"
    extra = {fd: fds_after[fd] for fd in fds_after if fds_before.get(fd) != fds_after[fd]}
    assert len(fds_after) <= len(fds_before), f"{len(fds_after) - len(fds_before)} more fds: {extra}"
    # Beside the workers, the names process (legacy/names.h), which the
    # workers' restarts leave alone.
    names = {pid for pid, (state, argv) in children.items() if len(argv) >= 2 and argv[1] == "--names-worker"}
    assert set(children) - names == set(workers) and len(children) == 3 and len(names) == 1, \
        f"children of purplegate after the restarts: {children}, expected the 2 workers {sorted(workers)} " \
        "and the names process"
