"""The persistent outbox (legacy/outbox.h):
messages wait in the store while a link is down and are delivered in order
once it is back; what cannot be delivered is bounced or reported, never
dropped in silence.

- 1,000 IRC→XMPP messages with Prosody stopped cleanly and started again in
  the middle: all 1,000 reach the user, in order.  A clean stop logs every
  user out just before it closes the component link; the transport's
  sessions outlive that (a quarter-second logout grace, then [limits]
  session_grace_s for the user to be back), so the IRC nick stays and
  nothing sent meanwhile is refused.
- The same with Prosody killed (SIGKILL).
  In both, a message may come twice only as a redelivery of the same stanza
  (same id and XEP-0359 origin-id, by which a client drops it); how many
  did is printed.  XEP-0114 acknowledges nothing, and a server that exits
  leaves no trace of what it routed last.
- A clean restart of purplegate (SIGTERM) while messages flow both ways:
  nothing arrives twice, either way.
- 200 XMPP→IRC messages with the IRC server restarted in the middle: every
  one arrives at the IRC peer or is bounced to the sender with an error
  carrying its id.
- Expiry: queued messages that the legacy login cannot deliver in time come
  back as <remote-server-timeout/> errors with their id and text.
- A full outbox: messages from the legacy network past the bound are
  refused and the user gets a headline saying how many, after the ones
  kept.

A crash keeps the transport's sessions and leaves stanzas that Prosody had
accepted but not routed, which is what the acknowledgement pings are for.
Prosody's offline storage (mod_offline, not in the harness's module list)
keeps what reaches the user while their client reconnects."""

import contextlib
import re
import signal
import sqlite3
import threading
import time

import harness
from harness import (COMPONENT_JID, NS_CLIENT, Env, Prosody, Purplegate, Skip, child, is_stanza,
                     stop_process, text, tostr, wait_until)
from harness import WAIT
from legacy_servers import IrcClient, IrcServer, online_user, send_available

GW = COMPONENT_JID
TIMEOUT = 240
NS_STANZAS = harness.NS_STANZAS
NS_SID = "urn:xmpp:sid:0"

SETTINGS = {
    # prpl-irc sends one line per 2 s after a burst of 5 by default.
    "legacy-settings": {"ratelimit-interval": "0", "ratelimit-burst": "1000000"},
    "limits": {"outbox_max_per_user": "5000"},
}


class OfflineProsody(Prosody):
    """The harness's Prosody with mod_offline: what reaches a user while no
    client is connected waits for the next one."""

    def write_config(self):
        super().write_config()
        text_ = self.config_path.read_text()
        old = 'modules_enabled = { "roster"; "saslauth"; "disco"; "ping" }'
        assert old in text_, "the harness's module list changed"
        self.config_path.write_text(
            text_.replace(old, 'modules_enabled = { "roster"; "saslauth"; "disco"; "ping"; "offline" }'))

    def kill(self):
        stop_process(self.proc, sig=signal.SIGKILL, timeout=5)
        wait_until(lambda: not harness.port_accepts(self.c2s_port), 10, what="c2s port closed")


def setup(name):
    if not IrcServer.available():
        raise Skip("inspircd is not installed")
    env = Env(name)
    try:
        env.start_irc()
        env.prosody = OfflineProsody(env.tmp / "prosody").start()
        env.purplegate = Purplegate(env.tmp / "purplegate", env.prosody.component_port, env.prosody.secret,
                                    overrides=env.purplegate_overrides(SETTINGS))
        env.purplegate.start()
        env.wait_linked()
        return env
    except BaseException:
        env.close(keep=True)
        raise


def _peer(env, nick):
    return env.track(IrcClient(env.irc.port, nick))


def _body(el):
    return text(child(el, NS_CLIENT, "body"))


def _chats_from(client, jid, origin_ids=False):
    """(id, body) of every chat message from `jid` the client received, in
    arrival order; (id, body, XEP-0359 origin-id) with `origin_ids`."""
    out = []
    for el in client.transcript.elements():
        if is_stanza(el, "message") and el.get("type") == "chat" \
                and (el.get("from") or "").split("/")[0].lower() == jid.lower() and _body(el) is not None:
            if origin_ids:
                origin = child(el, NS_SID, "origin-id")
                out.append((el.get("id"), _body(el), origin.get("id") if origin is not None else None))
            else:
                out.append((el.get("id"), _body(el)))
    return out


def _queued(env, bare_jid):
    """(messages waiting for the user, messages a loss report stands for)
    in the transport's store, read without a lock of our own (read-only:
    the running daemon keeps the database open in WAL mode)."""
    path = env.purplegate.settings["database"]["path"]
    with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)) as db:
        kept, lost = db.execute(
            "SELECT count(body), coalesce(sum(lost), 0) FROM outbox "
            "WHERE bare_jid = ? AND direction = 'to-user'", (bare_jid,)).fetchone()
    return kept, lost


def _wait_queued(env, bare_jid, kept, lost=0, timeout=30):
    """Waits until the store holds `kept` messages for the user (and loss
    reports for `lost` more): everything the peer sent has been handled."""
    try:
        wait_until(lambda: _queued(env, bare_jid) == (kept, lost), timeout, interval=0.05,
                   what="the messages queued")
    except harness.Timeout:
        raise harness.Timeout(f"after {timeout}s the store holds (kept, lost) = "
                              f"{_queued(env, bare_jid)} for {bare_jid}, expected {(kept, lost)}")


def _restart_config(env, limits):
    """Restarts purplegate with [limits] changed (and waits for its link)."""
    env.purplegate.stop()
    env.purplegate.settings["limits"].update(limits)
    env.purplegate.write_config()
    env.purplegate.start()
    env.wait_linked()


def _thousand_across_an_outage(env, clean, tag):
    """1,000 IRC→XMPP messages with Prosody stopped (clean) or killed in
    the middle and started again; the user logs in again once it is back.
    Returns (distinct in order, repeats)."""
    n = 1000
    jid = f"{tag}peer@{GW}"
    user = env.user(f"x{tag}")
    peer = _peer(env, f"{tag}peer")
    c = online_user(env, user, f"{tag}nick")
    peer.wait_online(f"{tag}nick")

    killed = threading.Event()
    back = threading.Event()

    def outage():
        # Once the first third is under way: stop or kill, stay down, start again.
        killed.wait(60)
        if clean:
            env.prosody.stop()
        else:
            env.prosody.kill()
        time.sleep(2.0)
        env.prosody.start()
        back.set()

    t = threading.Thread(target=outage, daemon=True)
    t.start()
    t0 = time.monotonic()
    for i in range(n):
        peer.privmsg(f"{tag}nick", f"seq {i:04d}")
        if i == n // 3:
            killed.set()
        if i % 50 == 49:
            time.sleep(0.1)  # about 2 s in all: the outage falls in the middle
    t.join(30)
    assert back.is_set(), "Prosody did not come back"
    sent_s = time.monotonic() - t0

    # The same user logs in again; Prosody hands over what it stored.
    c2 = env.client(user, resource="test", roster=True)
    send_available(c2)

    def got():
        return {b for _, b in _chats_from(c, jid) + _chats_from(c2, jid)}
    want = {f"seq {i:04d}" for i in range(n)}
    try:
        wait_until(lambda: want <= got(), 90, interval=0.5, what="all 1,000 messages")
    except harness.Timeout:
        missing = sorted(want - got())
        raise AssertionError(f"{len(missing)} of {n} messages never arrived, e.g. {missing[:10]}")

    arrived = _chats_from(c, jid, origin_ids=True) + _chats_from(c2, jid, origin_ids=True)
    first = {}
    order = []
    repeats = 0
    for sid, body, origin in arrived:
        # Every copy carries an origin-id (XEP-0359), by which a client
        # drops a copy it already has.
        assert origin, f"{body!r} arrived without an origin-id"
        # The row's id (a stored row's number, or the boot and serial of one
        # written from memory), then its creation time in hex.
        assert re.fullmatch(r"pg-out-(m[0-9a-f]+-[0-9]+|[0-9]+)", sid or "") \
            and re.fullmatch(re.escape(sid) + r"-[0-9a-f]+", origin), (sid, origin)
        if body in first:
            repeats += 1
            # A repeat is a redelivery of the same row: same id, same origin-id.
            assert sid is not None and (sid, origin) == first[body], \
                f"{body!r} arrived twice as different stanzas: {first[body]!r} and {(sid, origin)!r}"
            continue
        first[body] = (sid, origin)
        order.append(body)
    assert order == sorted(want), \
        "messages out of order: " + str([b for a, b in zip(order, sorted(want)) if a != b][:10])
    assert len({sid for sid, _ in first.values()}) == n, "two messages shared an id"
    assert len({origin for _, origin in first.values()}) == n, "two messages shared an origin-id"
    # No loss report: nothing was refused or expired.
    for cl in (c, c2):
        cl.nothing(lambda el: is_stanza(el, "message") and el.get("type") == "headline"
                   and el.get("from") == GW, wait=0.2, what="a loss report")
    resent = sum(int(x) for x in re.findall(r"(\d+) outbox rows written without acknowledgement",
                                            env.purplegate.stderr_text()))
    print(f"# outbox: {n} IRC→XMPP messages sent in {sent_s:.1f}s across a Prosody "
          f"{'clean stop' if clean else 'kill'} and restart ({resent} written but unacknowledged when "
          f"the link went, sent again): {len(order)} distinct arrived, in order; {repeats} redelivered "
          f"with the same id and origin-id (before the restart: {len({b for _, b in _chats_from(c, jid)})}, "
          f"after: {len({b for _, b in _chats_from(c2, jid)})})", flush=True)
    return len(order), repeats


def test_legacy_to_xmpp_prosody_restart(env):
    # A clean stop logs every user out first; the sessions outlive it
    # (session_grace_s), so nothing the IRC peer sends meanwhile is refused.
    # Prosody 0.12 goes on reading the component stream while it waits for
    # its clients to close, stores those messages offline, and exits without
    # writing out what it routed back to the component: the pings after
    # those messages never arrive, and they come twice (same stanza).
    _thousand_across_an_outage(env, clean=True, tag="o")


def test_legacy_to_xmpp_prosody_crash(env):
    # A crash (SIGKILL) can leave messages that Prosody routed but had not
    # acknowledged: those come twice, as the same stanza (same id and
    # origin-id), which clients drop; no more can be promised over XEP-0114.
    _thousand_across_an_outage(env, clean=False, tag="k")


def _settled(count, quiet=2.0, timeout=60):
    """Waits until count() stops changing for `quiet` seconds."""
    last, since = count(), time.monotonic()
    deadline = time.monotonic() + timeout
    while time.monotonic() - since < quiet:
        assert time.monotonic() < deadline, f"still moving after {timeout}s: {count()}"
        time.sleep(0.2)
        now = count()
        if now != last:
            last, since = now, time.monotonic()
    return last


def test_clean_restart_sends_nothing_twice(env):
    # Exactly once across a clean restart of purplegate (SIGTERM) while
    # messages flow both ways: what is on its way is acknowledged (by the
    # XMPP server, by the IRC server) before the links close, and what comes
    # meanwhile is stored and sent after the restart.  Nothing arrives twice;
    # what arrives is the beginning of what was sent, in order (what the
    # IRC server refused once the nick had quit never reached purplegate);
    # a user's message not delivered came back as an error.
    n_in, n_out = 400, 100
    user = env.user("xclean")
    peer = _peer(env, "lpeer")
    c = online_user(env, user, "lnick")
    peer.wait_online("lnick")
    jid = f"lpeer@{GW}"
    peer_since = peer.mark()
    for i in range(n_out):
        c.send(f"<message type='chat' to='{jid}' id='out{i}'><body>out {i:04d}</body></message>")
    for i in range(n_in):
        peer.privmsg("lnick", f"in {i:04d}")
        if i % 50 == 49:
            time.sleep(0.1)
        if i == 100:
            stopper = threading.Thread(target=env.purplegate.stop, daemon=True)
            t0 = time.monotonic()
            stopper.start()
    stopper.join(30)
    stop_s = time.monotonic() - t0
    assert not env.purplegate.running(), "purplegate did not stop"
    env.purplegate.start()
    peer.wait_online("lnick", timeout=WAIT)

    def received_in():
        return [b for _, b in _chats_from(c, jid)]

    def received_out():
        return [m.params[-1] for m in peer.lines[peer_since:]
                if m.command == "PRIVMSG" and (m.prefix or "").split("!")[0] == "lnick"]

    def bounced_out():
        return {el.get("id") for el in c.transcript.elements()
                if is_stanza(el, "message") and el.get("type") == "error" and (el.get("id") or "").startswith("out")}

    def refused_in():
        return sum(1 for m in peer.lines[peer_since:] if m.command == "401")

    _settled(lambda: (len(received_in()), len(received_out()), len(bounced_out()), refused_in()))
    got_in, got_out, bounced = received_in(), received_out(), bounced_out()
    # Every line of the peer's either reached the user or came back to the
    # peer as 401: the stop ends the login with QUIT and reads up to the
    # server's close, so nothing the server delivered before is lost.
    assert len(got_in) + refused_in() == n_in, \
        f"IRC→XMPP: {n_in - len(got_in) - refused_in()} neither arrived nor refused ({len(got_in)} arrived, " \
        f"{refused_in()} refused)"
    assert len(set(got_in)) == len(got_in), \
        f"IRC→XMPP: {len(got_in) - len(set(got_in))} arrived twice"
    assert got_in == [f"in {i:04d}" for i in range(len(got_in))], \
        "IRC→XMPP: not the beginning of what was sent, in order: " + \
        str([b for i, b in enumerate(got_in) if b != f"in {i:04d}"][:5])
    assert len(got_in) > 100, f"IRC→XMPP: only {len(got_in)} arrived"
    assert len(set(got_out)) == len(got_out), \
        f"XMPP→IRC: {len(got_out) - len(set(got_out))} arrived twice"
    assert got_out == sorted(got_out), "XMPP→IRC: out of order"
    arrived = {int(b.split()[1]) for b in got_out}
    lost = [i for i in range(n_out) if i not in arrived and f"out{i}" not in bounced]
    assert not lost, f"XMPP→IRC: neither arrived nor bounced: {lost[:10]}"
    assert not (arrived & {int(b[3:]) for b in bounced}), "XMPP→IRC: arrived and bounced"
    print(f"# clean restart while messages flowed: stop took {stop_s:.2f}s; IRC→XMPP {len(got_in)} of {n_in} "
          f"arrived, each once, in order (the rest refused by IRC after the quit); XMPP→IRC "
          f"{len(got_out)} of {n_out} arrived once, {len(bounced)} bounced", flush=True)


def test_xmpp_to_irc_irc_restart(env):
    n = 200
    peer_nick = "ipeer"
    c = online_user(env, env.user("xin"), "inick")
    peers = [_peer(env, peer_nick)]
    peers[0].wait_online("inick")

    def irc_outage():
        env.irc.stop()
        time.sleep(1.5)
        env.irc.start()
        # The peer is back before the transport's next attempt (1 s, then
        # 2 s later): IRC has no offline messages.
        peers.append(_peer(env, peer_nick))

    t = None
    for i in range(n):
        c.send(f"<message type='chat' to='{peer_nick}@{GW}' id='out-{i:03d}'>"
               f"<body>out {i:03d}</body></message>")
        if i == n // 2:
            t = threading.Thread(target=irc_outage, daemon=True)
            t.start()
        time.sleep(0.015)
    t.join(30)

    def arrived():
        out = set()
        for p in peers:
            with p.cond:
                for m in p.lines:
                    if m.command == "PRIVMSG" and (m.nick or "").lower() == "inick":
                        out.add(m.params[-1])
        return out

    def bounced():
        out = {}
        for el in c.transcript.elements():
            if is_stanza(el, "message") and el.get("type") == "error" and (el.get("id") or "").startswith("out-"):
                out[el.get("id")] = el
        return out

    def settled():
        a, b = arrived(), bounced()
        return all(f"out {i:03d}" in a or f"out-{i:03d}" in b for i in range(n))
    try:
        wait_until(settled, 90, interval=0.5, what="every message delivered or bounced")
    except harness.Timeout:
        a, b = arrived(), bounced()
        lost = [i for i in range(n) if f"out {i:03d}" not in a and f"out-{i:03d}" not in b]
        raise AssertionError(f"{len(lost)} of {n} messages neither arrived nor bounced: {lost[:20]}")
    a, b = arrived(), bounced()
    for sid, el in b.items():
        err = [e for e in el if harness.local(e) == "error"]
        assert err and any(harness.ns_of(x) == NS_STANZAS for x in err[0]), f"bounce without a condition: {tostr(el)}"
    # The order of first arrival at the peers is the order sent.
    firsts = []
    for p in peers:
        with p.cond:
            for m in p.lines:
                if m.command == "PRIVMSG" and (m.nick or "").lower() == "inick" and m.params[-1] not in firsts:
                    firsts.append(m.params[-1])
    assert firsts == sorted(firsts), f"out of order at the IRC peer: {firsts[:20]}..."
    total = 0
    for p in peers:
        with p.cond:
            total += sum(1 for m in p.lines if m.command == "PRIVMSG" and (m.nick or "").lower() == "inick")
    resent = sum(int(x) for x in re.findall(r"(\d+) messages handed to the legacy login without confirmation",
                                            env.purplegate.stderr_text()))
    print(f"# outbox: {n} XMPP→IRC messages across an IRC server restart: {len(a)} arrived, "
          f"{len(b)} bounced, {sum(1 for i in range(n) if f'out {i:03d}' in a and f'out-{i:03d}' in b)} both; "
          f"{resent} handed to the login unconfirmed when it dropped, sent again; "
          f"{total - len(a)} arrived twice", flush=True)


def test_expired_messages_bounce(env):
    _restart_config(env, {"outbox_expiry_s": "3"})
    try:
        c = online_user(env, env.user("xexp"), "enick")
        env.irc.stop()
        try:
            # The transport shows xa while it waits to reconnect.
            c.expect(lambda el: is_stanza(el, "presence") and (el.get("from") or "") == GW
                     and text(child(el, NS_CLIENT, "show")) == "xa", timeout=WAIT, what="xa from the transport")
            since = c.mark()
            t0 = time.monotonic()
            for i in range(5):
                c.send(f"<message type='chat' to='gone@{GW}' id='exp-{i}'><body>late {i}</body></message>")
            for i in range(5):
                err = c.expect(lambda el, i=i: is_stanza(el, "message") and el.get("id") == f"exp-{i}",
                               timeout=WAIT, since=since, what=f"bounce of exp-{i}")
                harness.assert_error(err, f"exp-{i}", "remote-server-timeout", "wait", frm=f"gone@{GW}")
                assert _body(err) == f"late {i}", f"the bounce does not carry the text: {tostr(err)}"
            waited = time.monotonic() - t0
            assert 2.0 <= waited <= 12, f"bounced after {waited:.1f}s with outbox_expiry_s = 3"
        finally:
            env.irc.start()
    finally:
        _restart_config(env, {"outbox_expiry_s": "86400"})


def test_full_outbox_is_reported(env):
    _restart_config(env, {"outbox_max_per_user": "5"})
    try:
        user = env.user("xfull")
        peer = _peer(env, "fpeer")
        c = online_user(env, user, "fnick")
        peer.wait_online("fnick")
        env.prosody.kill()
        for i in range(8):
            peer.privmsg("fnick", f"full {i}")
        # All eight have been handled by the transport (five stored, three
        # refused and counted) before Prosody is back: after a fixed pause a
        # slow or loaded machine could still be reading them when the link
        # comes back, and deliver the rest straight away.
        _wait_queued(env, f"{user}@localhost", 5, lost=3)
        env.prosody.start()
        c2 = env.client(user, resource="test", roster=True)
        send_available(c2)
        jid = f"fpeer@{GW}"
        report = c2.expect(lambda el: is_stanza(el, "message") and el.get("type") == "headline"
                           and el.get("from") == GW, timeout=30, what="the loss report")
        body = _body(report)
        assert "3" in body and "fpeer" in body, f"the report does not say 3 from fpeer: {tostr(report)}"
        got = [b for _, b in _chats_from(c2, jid)]
        assert got == [f"full {i}" for i in range(5)], f"kept messages: {got}"
        # The report comes after the messages kept: the place of the loss.
        idx = c2.transcript.index_of(report)
        last = max(i for i, el in enumerate(c2.transcript.elements())
                   if is_stanza(el, "message") and el.get("type") == "chat")
        assert idx > last, "the report came before the messages kept"
    finally:
        _restart_config(env, {"outbox_max_per_user": "5000"})


def test_queue_survives_purplegate_crash(env):
    # Messages stored while Prosody is down survive a SIGKILL of purplegate
    # and reach the user after both are back, once each, in order, stamped
    # with the time the IRC network gave them (XEP-0203).
    user = env.user("xcrash")
    peer = _peer(env, "cpeer")
    c = online_user(env, user, "cnick")
    peer.wait_online("cnick")
    env.prosody.kill()
    for i in range(20):
        peer.privmsg("cnick", f"crash {i:02d}")
    # The kill comes once all 20 are in the store (not after a fixed pause,
    # which on a slow machine could kill the transport while it still reads
    # them: those would be lost by the test, not by the transport).
    _wait_queued(env, f"{user}@localhost", 20)
    env.purplegate.kill()
    time.sleep(2.0)  # the transport's stamp is for messages 2 s old or more
    env.prosody.start()
    env.purplegate.start()
    c2 = env.client(user, resource="test", roster=True)
    send_available(c2)
    jid = f"cpeer@{GW}"
    wait_until(lambda: len(_chats_from(c2, jid)) >= 20, 30, interval=0.3, what="the 20 stored messages")
    time.sleep(1.0)  # anything sent twice would come now
    got = _chats_from(c2, jid)
    assert [b for _, b in got] == [f"crash {i:02d}" for i in range(20)], f"after the crash: {got}"
    assert len({sid for sid, _ in got}) == 20 and all((sid or "").startswith("pg-out-") for sid, _ in got), got
    stamped = [el for el in c2.transcript.elements() if is_stanza(el, "message") and el.get("type") == "chat"
               and el.find("{urn:xmpp:delay}delay[@from='" + GW + "']") is not None]
    sample = [el for el in c2.transcript.elements() if is_stanza(el, "message") and el.get("type") == "chat"][:1]
    assert len(stamped) == 20, \
        f"{len(stamped)} of 20 messages carry the transport's delay stamp: {tostr(sample[0]) if sample else None}"
