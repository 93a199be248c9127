"""Faults survived: the legacy server dying and coming back, the
daemon killed in the middle of a burst of registrations, a store that can no
longer be written, a database or key file that is not the right one, a
crash under a supervisor (the fd leak check is test_fd_leak.py).
Acceptance is by stanzas, IRC lines, exit statuses and the bytes of the
database file; the log is only read as an extra, where a test wants the log
to say what failed.

Runs as root in a private network namespace (tools/run-tests); the store
tests need `chattr` on a file system that honours the immutable flag (ext4
and the like) and `unshare`/`mount` for a private tmpfs; they are skipped
with the reason when that is not available."""

import contextlib
import hashlib
import os
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import threading
import time
from pathlib import Path

from harness import (COMPONENT_JID, NS_CLIENT, NS_REGISTER, XEP0114_SECRET, FakeServer,
                     Purplegate, Skip, assert_error, assert_result, child, is_stanza, match,
                     purplegate_binary, register_legacy, stop_process, text, tostr, wait_until)
from harness import WAIT
from legacy_servers import IrcClient, chat_from, irc_env, is_presence_from, online_user

GW = COMPONENT_JID
TIMEOUT = 150

# legacy/session.h: the first retry after 1 s, doubling; jitter adds up to a
# quarter of the delay (session.c on_disconnected).
BACKOFF_JITTER = 0.25
# Scheduling slack for a timer on a loaded machine (ASan build included).
SLACK = 0.6


def setup(name):
    return irc_env(name)


def _peer(env, nick):
    return env.track(IrcClient(env.irc.port, nick))


def _body(el):
    return text(child(el, NS_CLIENT, "body"))


def _sha256(path):
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def _db_dir_files(db_dir):
    """sha256 of every regular file of a database directory (the database,
    its WAL files, the key), by name."""
    return {p.name: _sha256(p) for p in sorted(Path(db_dir).iterdir()) if p.is_file()}


@contextlib.contextmanager
def _extra_asan_options(options):
    """Appends to ASAN_OPTIONS for the processes started inside the block
    (the harness copies os.environ at each start)."""
    saved = os.environ.get("ASAN_OPTIONS")
    os.environ["ASAN_OPTIONS"] = f"{saved}:{options}" if saved else options
    try:
        yield
    finally:
        if saved is None:
            os.environ.pop("ASAN_OPTIONS", None)
        else:
            os.environ["ASAN_OPTIONS"] = saved


def _add_contact(c, nick):
    """The user adds IRC nick `nick` as a contact and sees it available."""
    since = c.mark()
    c.send(f"<presence type='subscribe' to='{nick}@{GW}'/>")
    c.expect(match("presence", type="subscribed", frm=f"{nick}@{GW}"), timeout=WAIT, since=since)
    c.expect(is_presence_from(f"{nick}@{GW}"), timeout=WAIT, since=since,
             what=f"available presence from {nick}@{GW}")


def _message_flows(c, peer, nick, token):
    """A PRIVMSG from `peer` to `nick` reaches the XMPP client `c`."""
    since = c.mark()
    peer.privmsg(nick, token)
    m = c.expect(chat_from(f"{peer.nick}@{GW}", token), timeout=WAIT, since=since,
                 what=f"message {token!r} from {peer.nick}@{GW}")
    return m


# ---------------------------------------------------------------------------
# the IRC server killed and restarted


class AttemptListener:
    """Stands on a dead IRC server's port and records each connection
    attempt (arrival time, the NICK the client sent), then closes it: to
    prpl-irc this is a server that hangs up, a network failure."""

    def __init__(self, port):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", port))
        self.sock.listen(64)
        self.attempts = []  # (monotonic time, nick or None)
        self.lock = threading.Lock()
        self.open = True
        threading.Thread(target=self._accept_loop, daemon=True, name="attempts").start()

    def _accept_loop(self):
        while self.open:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            at = time.monotonic()
            threading.Thread(target=self._serve, args=(conn, at), daemon=True).start()

    def _serve(self, conn, at):
        nick, buf = None, b""
        conn.settimeout(0.5)
        try:
            while nick is None:
                data = conn.recv(4096)
                if not data:
                    break
                buf += data
                found = re.search(rb"^NICK :?(\S+)", buf, re.M)
                if found:
                    nick = found.group(1).decode()
        except OSError:
            pass
        finally:
            conn.close()
        with self.lock:
            self.attempts.append((at, nick))

    def by_nick(self, nick):
        with self.lock:
            return sorted(t for t, n in self.attempts if n == nick)

    def close(self):
        self.open = False
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()


def test_irc_server_killed_and_restarted(env):
    nicks = ["kra", "krb", "krc", "krd"]
    peer = _peer(env, "krpeer")
    users = [online_user(env, env.user("xkr"), n) for n in nicks]
    for n in nicks:
        peer.wait_online(n)
    c = users[0]
    _add_contact(c, peer.nick)

    since = [u.mark() for u in users]
    t_kill = time.monotonic()
    stop_process(env.irc.proc, sig=signal.SIGKILL, timeout=5)
    listener = env.track(AttemptListener(env.irc.port))

    # The user sees why: the contact goes offline, the transport shows xa
    # with the reason, and one headline explains it.
    c.expect(is_presence_from(f"{peer.nick}@{GW}", "unavailable"), timeout=WAIT, since=since[0],
             what=f"unavailable from {peer.nick}@{GW} after the IRC server died")
    xa = c.expect(lambda el: is_presence_from(GW)(el)
                  and text(child(el, NS_CLIENT, "show")) == "xa",
                  timeout=WAIT, since=since[0], what=f"xa presence from {GW}")
    reason = text(child(xa, NS_CLIENT, "status"))
    assert reason, f"the xa presence says no reason: {tostr(xa)}"
    headline = c.expect(match("message", type="headline", frm=GW), timeout=WAIT, since=since[0],
                        what=f"headline from {GW} saying why")
    subject = text(child(headline, NS_CLIENT, "subject"))
    body = _body(headline)
    assert subject and "lost" in subject.lower(), f"headline subject: {tostr(headline)}"
    assert body.startswith(f"IRC: {reason}"), f"headline body does not give the reason " \
        f"{reason!r}: {tostr(headline)}"

    # Backoff: each user retries after 1 s, then 2 s (each attempt fails at
    # once), plus up to 25 % jitter.
    wait_until(lambda: all(len(listener.by_nick(n)) >= 2 for n in nicks), 3 * (1 + 2) + 2 * SLACK,
               interval=0.05, what=f"two reconnection attempts of each of {nicks}")
    listener.close()
    env.irc.start()  # same port: the third attempt (after 4 s) gets in

    first_delays = []
    report = []
    for n in nicks:
        a1, a2 = listener.by_nick(n)[:2]
        d1, d2 = a1 - t_kill, a2 - a1
        first_delays.append(d1)
        report.append(f"{n}: {d1:.2f}s, {d2:.2f}s")
        assert 1.0 - 0.05 <= d1 <= 1.0 * (1 + BACKOFF_JITTER) + SLACK, \
            f"{n}: first retry {d1:.2f}s after the loss, expected 1 s .. 1.25 s"
        assert 2.0 - 0.05 <= d2 <= 2.0 * (1 + BACKOFF_JITTER) + SLACK, \
            f"{n}: second retry {d2:.2f}s after the first, expected 2 s .. 2.5 s"
    # Jitter: the users did not all come back in the same instant.
    spread = max(first_delays) - min(first_delays)
    assert spread > 0.005, f"no jitter between users: {report}"
    print(f"# backoff (first, second retry) per user: {'; '.join(report)}; "
          f"first-retry spread {spread * 1000:.0f} ms", flush=True)

    # Back: the nick is on IRC again, the transport and the contact are
    # available again, and messages flow.
    peer2 = _peer(env, "krpeer")
    for n in nicks:
        peer2.wait_online(n, timeout=4 * (1 + BACKOFF_JITTER) + 2 + 2 * SLACK)
    c.expect(lambda el: is_presence_from(GW)(el) and child(el, NS_CLIENT, "show") is None,
             timeout=WAIT, since=since[0], what=f"available presence from {GW} again")
    c.expect(is_presence_from(f"{peer.nick}@{GW}"), timeout=WAIT, since=since[0],
             what=f"available presence from {peer.nick}@{GW} again")
    for u, n in zip(users, nicks):
        _message_flows(u, peer2, n, f"back-{n}")
    # One headline for the outage, not one per failed retry.
    headlines = [el for el in c.transcript.elements()[since[0]:]
                 if match("message", type="headline", frm=GW)(el)]
    assert len(headlines) == 1, f"{len(headlines)} headlines for one outage"


# ---------------------------------------------------------------------------
# SIGKILL during 200 concurrent registrations


def _fake_purplegate(env, db_dir):
    """purplegate on a fake XEP-0114 server (it can send stanzas from any
    user, as the server does on behalf of 200 different users)."""
    fs = env.track(FakeServer())
    pg = env.track(Purplegate(env.subdir("pg"), fs.port, XEP0114_SECRET, db_dir=db_dir,
                              overrides=env.purplegate_overrides()))
    pg.start()
    conn = fs.accept(timeout=20)
    conn.handshake(XEP0114_SECRET)
    return fs, pg, conn


def _unseal(key, blob, aad):
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM
    return AESGCM(key).decrypt(blob[:12], blob[12:], aad.encode()).decode()


def test_sigkill_during_200_registrations(env):
    n_users = 200
    db = env.subdir("db")
    fs, pg, conn = _fake_purplegate(env, db)

    # Every registration is checked by a real IRC login first (InspIRCd
    # takes a second to welcome), then stored; every 10th has a password,
    # stored sealed.  The first ten of those are sent ahead and answered
    # before the burst, so sealed rows sit in the WAL at the kill; the burst
    # is still being checked, or being stored, when it comes.
    def password(i):
        return f"pw-{i}-\u00e9t\u00e9" if i % 10 == 0 else None

    stanzas = {i: f"<iq type='set' from='kr{i}@localhost/r' to='{GW}' id='reg{i}'>"
                  f"{register_legacy(f'kn{i}', password(i))}</iq>" for i in range(n_users)}
    early = [i for i in range(n_users // 2) if password(i)]
    burst = [i for i in range(n_users) if i not in early]

    def answered():
        return {el.get("id"): el for el in conn.transcript.elements()
                if is_stanza(el, "iq") and (el.get("id") or "").startswith("reg")}

    conn.send("".join(stanzas[i] for i in early))
    wait_until(lambda: len(answered()) >= len(early), 30, interval=0.01,
               what="the registrations with a password sent first answered")
    stop_sending = threading.Event()

    def sender():
        # As fast as purplegate takes them (about 0.5 ms each), in writes of
        # several stanzas.
        for k in range(0, len(burst), 8):
            if stop_sending.is_set():
                return
            try:
                conn.send("".join(stanzas[i] for i in burst[k:k + 8]))
            except OSError:
                return
            time.sleep(0.004)
    t = threading.Thread(target=sender, daemon=True)
    t.start()
    # The kill comes once the whole burst is in, while its checking logins
    # run: every registration of it is in flight.
    t.join(10)
    pg.kill()
    stop_sending.set()
    t.join(5)
    got = answered()
    results = {i for i in range(n_users) if got.get(f"reg{i}") is not None
               and got[f"reg{i}"].get("type") == "result"}
    errors = [tostr(el) for el in got.values() if el.get("type") != "result"]
    assert not errors, f"registrations refused: {errors[:3]}"
    assert len(results) < n_users, "every registration was answered before the kill: " \
        "nothing was in flight"
    print(f"# SIGKILL after {len(results)} of {n_users} registrations were answered", flush=True)

    # Restart on the same database.
    pg.start()
    conn2 = fs.accept(timeout=20)
    conn2.handshake(XEP0114_SECRET)

    def registered(i):
        r = conn2.iq(f"<iq type='get' from='kr{i}@localhost/r' to='{GW}' id='get{i}'>"
                     f"<query xmlns='{NS_REGISTER}'/></iq>", timeout=WAIT)
        assert_result(r, f"get{i}")
        q = child(r, NS_REGISTER, "query")
        if child(q, NS_REGISTER, "registered") is None:
            return None
        return text(child(q, NS_REGISTER, "username"))

    present = {}
    for i in range(n_users):
        present[i] = registered(i)
        if i in results:
            assert present[i] == f"kn{i}", f"kr{i} got its iq result but after the restart " \
                f"the registration shows {present[i]!r}"
        else:
            assert present[i] in (None, f"kn{i}"), f"kr{i}: {present[i]!r}"

    print(f"# after the restart: {sum(1 for v in present.values() if v)} registered "
          f"({len(results)} answered before the kill, "
          f"{sum(1 for i in results if password(i))} of them with a password)", flush=True)

    # Nothing half-written in the file.
    key = (db / "purplegate.key").read_bytes()
    with sqlite3.connect(f"file:{db / 'purplegate.db'}?mode=ro", uri=True) as sql:
        assert sql.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        rows = sql.execute("SELECT bare_jid, username, password, created FROM users").fetchall()
    by_jid = {r[0]: r for r in rows}
    assert len(rows) == sum(1 for v in present.values() if v), \
        f"{len(rows)} rows, {sum(1 for v in present.values() if v)} registered by the get"
    for i in range(n_users):
        row = by_jid.get(f"kr{i}@localhost")
        if row is None:
            assert present[i] is None
            continue
        _, username, blob, created = row
        assert username == f"kn{i}", f"row {row!r}"
        assert created and created > 0, f"row {row!r}"
        if password(i) is None:
            assert blob is None, f"kr{i}: a password where none was given"
        else:
            want = password(i)
            assert blob is not None and len(blob) == 12 + len(want.encode()) + 16, \
                f"kr{i}: sealed password of {len(blob or b'')} bytes"
            assert _unseal(key, blob, f"kr{i}@localhost") == want, f"kr{i}: wrong password"

    # Usable: a sample of those answered logs in (one with a password).
    sample = sorted(results)[:2] + [i for i in sorted(results) if password(i)][:1]
    peer = _peer(env, "krwatch")
    for i in sample:
        conn2.send(f"<presence from='kr{i}@localhost/r' to='{GW}'/>")
    for i in sample:
        peer.wait_online(f"kn{i}", timeout=20)


# ---------------------------------------------------------------------------
# the store unwritable


def _running_session(env, nick):
    peer = _peer(env, f"{nick}p")
    c = online_user(env, env.user("xst"), nick)
    peer.wait_online(nick)
    return c, peer


def _session_continues(c, peer, nick, token):
    _message_flows(c, peer, nick, token + "-in")
    since = peer.mark()
    c.send(f"<message type='chat' to='{peer.nick}@{GW}'><body>{token}-out</body></message>")
    peer.expect(lambda m: m.command == "PRIVMSG" and m.params[-1] == f"{token}-out",
                timeout=WAIT, since=since, what=f"PRIVMSG {token}-out")


def _registration_refused_wait(env, prefix):
    c = env.client(env.user(prefix))
    r = c.iq(f"<iq type='set' to='{GW}' id='{prefix}1'>{register_legacy(prefix + 'n', None)}</iq>",
             timeout=WAIT)
    assert_error(r, f"{prefix}1", "internal-server-error", "wait")
    return c


def _chattr_works(probe_dir):
    """Whether this file system makes `chattr +i` fail writes through a file
    descriptor opened before (ext4 does since Linux 5.3)."""
    if shutil.which("chattr") is None:
        return "chattr is not installed"
    p = Path(probe_dir) / "immutable-probe"
    with open(p, "wb", buffering=0) as f:
        f.write(b"x")
        r = subprocess.run(["chattr", "+i", str(p)], capture_output=True, text=True)
        if r.returncode != 0:
            return f"chattr +i failed here: {r.stderr.strip()}"
        try:
            f.write(b"y")
            ok = "writes to an immutable file still succeed on this file system"
        except OSError:
            ok = None
        finally:
            subprocess.run(["chattr", "-i", str(p)], check=False)
    p.unlink()
    return ok


def test_store_read_only(env):
    # The database and its WAL made immutable (root ignores file modes; the
    # immutable flag stops root too): the registration is refused with
    # internal-server-error (wait), the running session carries on, the log
    # names the failure, and writing works again once the flag is gone.
    db_files = []
    pg = env.purplegate
    db = Path(pg.settings["database"]["path"])
    why = _chattr_works(db.parent)
    if why:
        raise Skip(why)
    c, peer = _running_session(env, "rosess")
    db_files = [str(db), str(db) + "-wal"]
    log_mark = len(pg.stderr_text())
    subprocess.run(["chattr", "+i"] + db_files, check=True)
    try:
        reg = _registration_refused_wait(env, "rof")
        _session_continues(c, peer, "rosess", "ro")
        log = pg.stderr_text()[log_mark:]
        assert re.search(r"cannot store the registration of rof\d+@localhost: .*"
                         r"(disk I/O error|readonly|read-only|permission)", log, re.I), \
            f"the log does not say what failed:\n{log[-2000:]}"
    finally:
        subprocess.run(["chattr", "-i"] + db_files, check=False)
    # Writable again: the same request succeeds.
    r = reg.iq(f"<iq type='set' to='{GW}' id='rof2'>{register_legacy('rofn', None)}</iq>",
               timeout=WAIT)
    assert_result(r, "rof2")
    assert pg.running()


def _mountns_wrapper(env, mountpoint, size):
    """A start script for purplegate that mounts a tmpfs of `size` on
    `mountpoint` in a private mount namespace of its own, then execs the
    daemon (same PID): the rest of the system never sees the mount."""
    for tool in ("unshare", "mount"):
        if shutil.which(tool) is None:
            raise Skip(f"{tool} is not installed")
    probe = subprocess.run(["unshare", "--mount", "--propagation", "private", "true"],
                           capture_output=True, text=True)
    if probe.returncode != 0:
        raise Skip(f"cannot make a mount namespace: {probe.stderr.strip()}")
    script = env.tmp / f"pg-tmpfs-{os.path.basename(mountpoint)}.sh"
    script.write_text(
        "#!/bin/sh\n"
        "# purplegate with its database directory on a tiny private tmpfs\n"
        f"exec unshare --mount --propagation private -- /bin/sh -c "
        f"'mount -t tmpfs -o size={size},mode=0700 pg-tiny \"$0\" || exit 97; exec \"$@\"' "
        f"'{mountpoint}' '{purplegate_binary()}' \"$@\"\n")
    script.chmod(0o755)
    return script


def _fill(path):
    """Writes `path` until the file system is full; returns bytes written."""
    n = 0
    with open(path, "wb", buffering=0) as f:
        for chunk in (1 << 16, 1 << 12, 1 << 9, 1):
            block = b"\0" * chunk
            while True:
                try:
                    f.write(block)
                    n += chunk
                except OSError:
                    break
    return n


def test_store_disk_full(env):
    # The database on a 1 MiB tmpfs that the test fills up: SQLITE_FULL.
    dbdir = env.subdir("tinyfs")
    script = _mountns_wrapper(env, dbdir, "1m")
    pg = env.track(Purplegate(env.subdir("pgfull"), env.prosody.component_port,
                              env.prosody.secret, db_dir=dbdir, binary=script,
                              overrides=env.purplegate_overrides()))
    env.purplegate.stop()  # the standard one would answer for the same domain
    pg.start()
    probe = env.client("fullprobe")
    pg.wait_connected(probe)
    inside = Path(f"/proc/{pg.pid}/root") / str(dbdir).lstrip("/")
    assert (inside / "purplegate.db").exists(), "the database is not on the private tmpfs"
    assert not (dbdir / "purplegate.db").exists(), "the tmpfs is visible outside"

    c = online_user(env, env.user("xfull"), "fullsess")
    peer = _peer(env, "fullsessp")
    peer.wait_online("fullsess")
    log_mark = len(pg.stderr_text())
    filler = inside / "filler"
    written = _fill(filler)
    try:
        reg = _registration_refused_wait(env, "dff")
        _session_continues(c, peer, "fullsess", "full")
        log = pg.stderr_text()[log_mark:]
        assert re.search(r"cannot store the registration of dff\d+@localhost: .*"
                         r"(full|no space)", log, re.I), \
            f"the log does not say what failed:\n{log[-2000:]}"
    finally:
        filler.unlink()
    print(f"# disk full: filled {written} bytes", flush=True)
    r = reg.iq(f"<iq type='set' to='{GW}' id='dff2'>{register_legacy('dffn', None)}</iq>",
               timeout=WAIT)
    assert_result(r, "dff2")
    assert pg.running()
    pg.stop()
    env.purplegate.start()
    env.purplegate.wait_connected(probe)


def test_store_file_size_limit(env):
    # RLIMIT_FSIZE set on the running daemon (prlimit) below the size its
    # WAL needs: a write past it fails with EFBIG, which must be a refused
    # registration, not a dead process (SIGXFSZ kills by default).
    if shutil.which("prlimit") is None:
        raise Skip("prlimit is not installed")
    pg = env.purplegate
    c, peer = _running_session(env, "fszsess")
    wal = Path(pg.settings["database"]["path"] + "-wal")
    limit = max(wal.stat().st_size, 1)
    # Only the soft limit: lowering the hard one could not be undone.
    subprocess.run(["prlimit", f"--pid={pg.pid}", f"--fsize={limit}:"], check=True)
    try:
        try:
            reg = _registration_refused_wait(env, "fsz")
        except AssertionError:  # no answer, or Prosody's: the component is gone
            time.sleep(0.5)
            if pg.running():
                raise
            rc = pg.proc.returncode
            name = signal.Signals(-rc).name if rc < 0 else f"exit status {rc}"
            raise AssertionError(f"purplegate died ({name}) when a write passed RLIMIT_FSIZE "
                                 "(SIGXFSZ is not ignored; the write should fail with EFBIG)")
        _session_continues(c, peer, "fszsess", "fsz")
    finally:
        if pg.running():
            subprocess.run(["prlimit", f"--pid={pg.pid}", "--fsize=unlimited:"], check=True)
    r = reg.iq(f"<iq type='set' to='{GW}' id='fsz2'>{register_legacy('fszn', None)}</iq>",
               timeout=WAIT)
    assert_result(r, "fsz2")


# ---------------------------------------------------------------------------
# corrupt or foreign database, wrong key file


def _store_fixture(env):
    """A real purplegate database with one registration (with a password)
    and its key, made by purplegate itself and closed cleanly."""
    db = env.subdir("good")
    fs, pg, conn = _fake_purplegate(env, db)
    r = conn.iq(f"<iq type='set' from='ok@localhost/r' to='{GW}' id='g1'>"
                f"{register_legacy('oknick', None)}</iq>", timeout=WAIT)
    assert_result(r, "g1")
    assert pg.stop() == 0
    return db


def _refused(env, db_dir, *words, key_file=None):
    """purplegate refuses to start on the store in `db_dir`: exit status 1,
    a message naming the file and the problem, no file of the directory
    changed, none created."""
    before = _db_dir_files(db_dir)
    overrides = env.purplegate_overrides()
    if key_file is not None:
        overrides.setdefault("database", {})["key_file"] = str(key_file)
    pg = Purplegate(env.subdir("refuse"), 9, XEP0114_SECRET, db_dir=db_dir, overrides=overrides)
    env.track(pg)
    pg.start()
    try:
        rc = pg.proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        raise AssertionError(f"purplegate started on a bad store:\n{pg.tail()}")
    pg.stopping = True
    err = pg.stderr_text()
    assert rc == 1, f"exit status {rc}, expected 1:\n{err[-1500:]}"
    lines = [line for line in err.splitlines() if "cannot start" in line]
    assert lines, f"no 'cannot start' message:\n{err[-1500:]}"
    for w in words:
        assert w.lower() in lines[-1].lower(), f"{w!r} not in the message {lines[-1]!r}"
    assert _db_dir_files(db_dir) == before, "the store's files changed"
    message = lines[-1].split("cannot start: ", 1)[1]
    print(f"# refused: {message}", flush=True)
    return message


def test_refuses_file_that_is_not_a_database(env):
    db = env.subdir("garbage")
    (db / "purplegate.db").write_bytes(os.urandom(8192))
    _refused(env, db, str(db / "purplegate.db"), "not a database")


def test_refuses_foreign_database(env):
    db = env.subdir("foreign")
    with sqlite3.connect(db / "purplegate.db") as sql:
        sql.execute("CREATE TABLE accounts (id INTEGER PRIMARY KEY, name TEXT)")
        sql.execute("INSERT INTO accounts (name) VALUES ('someone else''s data')")
    sql.close()
    _refused(env, db, str(db / "purplegate.db"), "not a purplegate database")


def test_refuses_corrupt_database(env):
    # Ours, then damaged: the pages after the first overwritten.
    db = _store_fixture(env)
    path = db / "purplegate.db"
    data = bytearray(path.read_bytes())
    page = int.from_bytes(data[16:18], "big") or 65536
    assert len(data) > page, "the fixture database has a single page"
    data[page:] = os.urandom(len(data) - page)
    path.write_bytes(bytes(data))
    msg = _refused(env, db, str(path))
    assert re.search(r"malformed|corrupt|not a database|damaged", msg, re.I), msg


def test_refuses_truncated_database(env):
    db = _store_fixture(env)
    path = db / "purplegate.db"
    data = path.read_bytes()
    path.write_bytes(data[:len(data) // 2 + 100])
    msg = _refused(env, db, str(path))
    assert re.search(r"malformed|corrupt|not a database|damaged|truncated", msg, re.I), msg


def test_refuses_wrong_key_file(env):
    db = _store_fixture(env)
    other = env.subdir("otherkey") / "other.key"
    other.write_bytes(os.urandom(32))
    other.chmod(0o600)
    before = _sha256(other)
    _refused(env, db, str(other), str(db / "purplegate.db"), "does not match", key_file=other)
    assert _sha256(other) == before


def test_refuses_missing_key_file(env):
    db = _store_fixture(env)
    (db / "purplegate.key").rename(db.parent / "purplegate.key.saved")
    _refused(env, db, str(db / "purplegate.key"), "missing")


def test_refuses_damaged_key_file(env):
    db = _store_fixture(env)
    key = db / "purplegate.key"
    key.write_bytes(key.read_bytes()[:20])
    _refused(env, db, str(key), "20 bytes", "32 bytes")


# ---------------------------------------------------------------------------
# a crash under a supervisor


class Supervisor:
    """What systemd does with the shipped unit (tools/purplegate.service.in:
    Restart=on-failure, RestartSec=1): when the process exits with a
    failure (non-zero status, or killed by a signal other than the clean
    SIGHUP/SIGINT/SIGTERM/SIGPIPE), start it again one second later."""

    CLEAN_SIGNALS = {signal.SIGHUP, signal.SIGINT, signal.SIGTERM, signal.SIGPIPE}

    def __init__(self, pg, restart_sec=1.0):
        self.pg = pg
        self.restart_sec = restart_sec
        self.restarts = []  # (exit status, monotonic time of the restart)
        self.running = True
        # The test may hold the restart back (past restart_sec) until it has
        # looked at the world without a purplegate.
        self.release = threading.Event()
        self.release.set()
        self.thread = threading.Thread(target=self._watch, daemon=True, name="supervisor")
        self.thread.start()

    def _watch(self):
        while self.running:
            proc = self.pg.proc
            rc = proc.wait()
            if not self.running:
                return
            failed = rc > 0 or (rc < 0 and signal.Signals(-rc) not in self.CLEAN_SIGNALS)
            if not failed:
                return
            time.sleep(self.restart_sec)
            while self.running and not self.release.wait(0.1):
                pass
            if not self.running:
                return
            self.pg.start()
            self.restarts.append((rc, time.monotonic()))

    def close(self):
        self.running = False


def test_crash_supervisor(env):
    pg = env.purplegate
    # Under ASan, SIGSEGV must kill as it does in production, not be caught
    # and reported as a memory error: the daemon that gets it, and the one
    # the supervisor starts, run with handle_segv=0.
    with _extra_asan_options("handle_segv=0"):
        if "ASAN_OPTIONS" in os.environ:
            pg.stop()
            pg.start()
            env.wait_linked()
        peer = _peer(env, "svpeer")
        nicks = ["sva", "svb"]
        users = [online_user(env, env.user("xsv"), n) for n in nicks]
        for n in nicks:
            peer.wait_online(n)
        sup = env.track(Supervisor(pg))
        sup.release.clear()
        pg.stopping = True  # the signal is ours, not a crash of the code
        t0 = time.monotonic()
        os.kill(pg.pid, signal.SIGSEGV)
        # The dead process's IRC connections are gone (before the restart,
        # which waits for this look however long a loaded machine takes).
        wait_until(lambda: not any(peer.online(n) for n in nicks), 15, interval=0.02,
                   what=f"{nicks} off IRC after the crash")
        sup.release.set()
        wait_until(lambda: sup.restarts, 15, what="the supervisor restarting purplegate")
    rc, t_restart = sup.restarts[0]
    assert rc == -signal.SIGSEGV, f"exit status {rc}"
    back = {}
    deadline = t0 + 20
    pending = dict(zip(nicks, users))
    while pending and time.monotonic() < deadline:
        for n in list(pending):
            if peer.online(n):
                _message_flows(pending.pop(n), peer, n, f"after-crash-{n}")
                back[n] = time.monotonic() - t0
        time.sleep(0.1)
    sup.close()
    assert not pending, f"not back within 20 s: {sorted(pending)}"
    worst = max(back.values())
    print(f"# supervisor: restarted {t_restart - t0:.2f}s after SIGSEGV; every user back "
          f"(nick on IRC + a message through) after "
          + ", ".join(f"{n} {t:.2f}s" for n, t in sorted(back.items())), flush=True)
    assert worst <= 10.0, f"online users back only after {worst:.1f}s (limit 10 s)"


def test_refuses_database_with_a_damaged_table(env):
    # Only the users table's page damaged: the schema, the version and the
    # key check still read fine, so only a check of the whole file finds it.
    db = _store_fixture(env)
    path = db / "purplegate.db"
    with sqlite3.connect(path) as sql:
        root = sql.execute("SELECT rootpage FROM sqlite_master WHERE name = 'users'").fetchone()[0]
    sql.close()
    data = bytearray(path.read_bytes())
    page = int.from_bytes(data[16:18], "big") or 65536
    start = (root - 1) * page
    data[start:start + page] = os.urandom(page)
    path.write_bytes(bytes(data))
    msg = _refused(env, db, str(path))
    assert re.search(r"malformed|corrupt|damaged|integrity", msg, re.I), msg
