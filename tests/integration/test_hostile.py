"""Hostile input not covered by test_fake_server/test_limits:
bytes from the legacy side that are not valid UTF-8 or not XML characters
reach the user as valid XML; 10,000 stanzas in one TCP write; a 4 MiB
stanza; stanzas addressed outside our domain; admin rights judged on the
prepared bare JID.

The legacy-side test runs through the real Prosody and InspIRCd with a
slixmpp client (whose parser would drop the stream on anything not
well-formed); the others talk to purplegate through the fake XEP-0114
server, which lets the test write any bytes and any `from`."""

import re
import time

from harness import (COMPONENT_JID, NS_CLIENT, NS_DISCO_ITEMS, NS_PING, NS_STREAM, NS_XDATA,
                     XEP0114_SECRET, FakeServer, Purplegate, assert_error, assert_result, child,
                     children, is_stanza, match, text, tostr)
from harness import WAIT
from legacy_servers import IrcClient, chat_from, irc_env, online_user

GW = COMPONENT_JID
TIMEOUT = 90
NS_COMMANDS = "http://jabber.org/protocol/commands"
NS_ADMIN = "http://jabber.org/protocol/admin"
USER = "alice@localhost"


def setup(name):
    return irc_env(name)


def _fake(env, overrides=None):
    """purplegate of its own on a fake XEP-0114 server (the env's standard
    one stays on Prosody)."""
    fs = env.track(FakeServer())
    settings = env.purplegate_overrides(overrides)
    pg = env.track(Purplegate(env.subdir("pg"), fs.port, XEP0114_SECRET, overrides=settings))
    pg.start()
    conn = fs.accept(timeout=20)
    conn.handshake(XEP0114_SECRET)
    return fs, pg, conn


def _ping(conn, sid, frm=f"{USER}/r"):
    r = conn.iq(f"<iq type='get' from='{frm}' to='{GW}' id='{sid}'><ping xmlns='{NS_PING}'/></iq>",
                timeout=WAIT)
    assert_result(r, sid)
    return r


def _stream_up(conn, pg, sid):
    """No stream error, no close, still answering."""
    errors = [e for e in conn.transcript.elements() if e.tag == f"{{{NS_STREAM}}}error"]
    assert not errors, f"stream error: {tostr(errors[0])}"
    assert conn.eof_at is None and not conn.reader.closed_tag, "purplegate closed the stream"
    _ping(conn, sid)
    assert pg.running()


# ---------------------------------------------------------------------------
# from the legacy side


def _xml_char(c):
    o = ord(c)
    return o in (0x9, 0xA, 0xD) or 0x20 <= o <= 0xD7FF or 0xE000 <= o <= 0xFFFD \
        or 0x10000 <= o <= 0x10FFFF


CASES = [
    # (raw bytes of the IRC message, the ASCII letters and digits that must
    # arrive, in order)
    (b"a\x01b\x0bc\xff", "abc"),                 # SOH, VT, a stray byte
    (b"nul\x7fdel\x1besc\x08bs", "nuldelescbs"),  # DEL is XML; ESC, BS are not
    (b"over\xc0\xaflong", "overlong"),            # overlong '/'
    (b"sur\xed\xa0\x80rogate", "surrogate"),      # UTF-16 surrogate in UTF-8
    (b"non\xef\xbf\xbechar", "nonchar"),          # U+FFFE: UTF-8, not an XML character
    (b"cut\xe2\x82", "cut"),                      # truncated sequence at the end
    (b"latin1 caf\xe9", "latin1caf"),             # ISO-8859-1, as old clients send
]


def test_invalid_utf8_and_controls_from_irc(env):
    peer = env.track(IrcClient(env.irc.port, "hpeer"))
    c = online_user(env, env.user("xh"), "hnick")
    peer.wait_online("hnick")
    for i, (raw, letters) in enumerate(CASES):
        since = c.mark()
        with peer._wlock:
            peer.sock.sendall(b"PRIVMSG hnick :" + raw + b"\r\n")
        m = c.expect(chat_from(f"hpeer@{GW}"), timeout=WAIT, since=since,
                     what=f"message {raw!r} from hpeer@{GW}")
        body = text(child(m, NS_CLIENT, "body"))
        assert all(_xml_char(ch) for ch in body), f"{raw!r} arrived as {body!r}"
        assert all(ord(ch) >= 0x20 or ch in "\t\n" for ch in body), \
            f"{raw!r}: control characters reached the user: {body!r}"
        kept = "".join(ch for ch in body if ch.isascii() and ch.isalnum())
        assert kept == letters, f"{raw!r} arrived as {body!r} (letters {kept!r}, " \
            f"expected {letters!r})"
        print(f"# legacy bytes {raw!r} -> body {body!r}", flush=True)
    # The first case exactly: each byte that is not an XML character
    # stands as one replacement character (or, for the stray byte, as
    # libpurple's salvage '?').
    since = c.mark()
    with peer._wlock:
        peer.sock.sendall(b"PRIVMSG hnick :a\x01b\x0bc\xff\r\n")
    m = c.expect(chat_from(f"hpeer@{GW}"), timeout=WAIT, since=since)
    assert text(child(m, NS_CLIENT, "body")) in ("a\ufffdb\ufffdc\ufffd", "a\ufffdb\ufffdc?"), \
        tostr(m)
    # The stream to the client is still up and ordinary text still flows.
    since = c.mark()
    peer.privmsg("hnick", "still fine ✓")
    c.expect(chat_from(f"hpeer@{GW}", "still fine ✓"), timeout=WAIT, since=since)
    assert env.purplegate.running()


# ---------------------------------------------------------------------------
# volume and size on the component stream


def test_10000_stanzas_in_one_write(env):
    fs, pg, conn = _fake(env)
    n = 10000
    data = "".join(f"<iq type='get' from='{USER}/r{i % 7}' to='{GW}' id='burst{i}'>"
                   f"<ping xmlns='{NS_PING}'/></iq>" for i in range(n)).encode()
    t0 = time.monotonic()
    conn.sock.sendall(data)  # one write call (the kernel may split it on the wire)

    def answered():
        return sum(1 for e in conn.transcript.elements()
                   if is_stanza(e, "iq") and (e.get("id") or "").startswith("burst"))
    deadline = time.monotonic() + 60
    while answered() < n and time.monotonic() < deadline and conn.eof_at is None:
        time.sleep(0.05)
    took = time.monotonic() - t0
    got = [e for e in conn.transcript.elements()
           if is_stanza(e, "iq") and (e.get("id") or "").startswith("burst")]
    ids = [e.get("id") for e in got]
    assert len(ids) == n, f"{len(ids)} of {n} answered in {took:.1f}s"
    assert len(set(ids)) == n, "some stanzas answered twice"
    assert ids == [f"burst{i}" for i in range(n)], "answers out of order"
    bad = [tostr(e) for e in got if e.get("type") != "result"]
    assert not bad, f"{len(bad)} errors, first: {bad[0]}"
    print(f"# {n} pings ({len(data)} bytes in one write) answered in {took:.2f}s", flush=True)
    _stream_up(conn, pg, "after-burst")


def test_4mib_stanza(env):
    fs, pg, conn = _fake(env)
    big = "x" * (4 << 20)
    t0 = time.monotonic()
    since = conn.mark()
    conn.send(f"<message type='chat' from='{USER}/r' to='bob@{GW}' id='huge1'><body>{big}</body>"
              f"</message>")
    err = conn.expect(match("message", id="huge1"), timeout=30, since=since,
                      what="the bounce of the 4 MiB message")
    assert_error(err, "huge1", "policy-violation", "modify")
    assert len(tostr(err)) < 65536, "the bounce carries the oversized payload back"
    since = conn.mark()
    conn.send(f"<iq type='set' from='{USER}/r' to='{GW}' id='huge2'>"
              f"<query xmlns='jabber:iq:register'><username>{big}</username></query></iq>")
    err = conn.expect(match("iq", id="huge2"), timeout=30, since=since,
                      what="the bounce of the 4 MiB iq")
    assert_error(err, "huge2", "policy-violation", "modify")
    print(f"# two 4 MiB stanzas bounced in {time.monotonic() - t0:.2f}s", flush=True)
    _stream_up(conn, pg, "after-huge")


# ---------------------------------------------------------------------------
# spoofing


def test_foreign_to_dropped(env):
    fs, pg, conn = _fake(env)
    _ping(conn, "before")
    log_mark = len(pg.stderr_text())
    foreign = ["other.example", "gw.localhost.evil", "evil.gw.localhost", "bob@other.example/r",
               "localhost", "gwxlocalhost", "gw.localhost@evil.example"]
    since = conn.mark()
    for i, to in enumerate(foreign):
        conn.send(f"<iq type='get' from='{USER}/r' to='{to}' id='sp{i}'><ping xmlns='{NS_PING}'/></iq>")
        conn.send(f"<message type='chat' from='{USER}/r' to='{to}' id='spm{i}'><body>x</body>"
                  f"</message>")
        conn.send(f"<presence type='subscribe' from='{USER}/r' to='{to}' id='spp{i}'/>")
    conn.send(f"<iq type='get' from='{USER}/r' id='spnone'><ping xmlns='{NS_PING}'/></iq>")
    # Our domain spelled in upper case is our domain (nameprep).
    r = conn.iq(f"<iq type='get' from='{USER}/r' to='GW.LOCALHOST' id='spcase'>"
                f"<ping xmlns='{NS_PING}'/></iq>", timeout=WAIT)
    assert_result(r, "spcase")
    conn.nothing(lambda el: is_stanza(el) and (el.get("id") or "").startswith("sp")
                 and el.get("id") != "spcase", wait=1.5, since=since,
                 what="an answer to a stanza not addressed to us")
    _stream_up(conn, pg, "after-spoof")
    log = pg.stderr_text()[log_mark:]
    for to in foreign:
        assert re.search(rf"dropping <iq/> addressed to '{re.escape(to)}'", log), \
            f"no log line for the iq to {to}:\n{log[-1500:]}"


def _command(conn, frm, node, sid):
    return conn.iq(f"<iq type='set' from='{frm}' to='{GW}' id='{sid}'>"
                   f"<command xmlns='{NS_COMMANDS}' node='{node}' action='execute'/></iq>",
                   timeout=WAIT)


def test_admin_judged_on_prepared_bare_jid(env):
    # Configured in mixed case; requests differ by case, resource, a final
    # dot in the domain, or Unicode case: all the same prepared bare JID.
    fs, pg, conn = _fake(env, {"admin": {"jids": "Admin@LocalHost;\u00e4dmin@localhost"}})
    node = f"{NS_ADMIN}#get-registered-users-num"
    allowed = ["admin@localhost/console", "ADMIN@LOCALHOST/Other", "aDmIn@localhost",
               "admin@localhost./r", "\u00c4DMIN@localhost/x"]
    refused = ["xadmin@localhost/r", "admin@localhost.evil/r", "admin@otherdomain.localhost/r",
               "admin2@localhost/admin", "localhost/admin@localhost", "\u00e4dmin2@localhost/r"]
    for i, frm in enumerate(allowed):
        r = _command(conn, frm, node, f"ok{i}")
        assert r.get("type") == "result", f"{frm} refused: {tostr(r)}"
        cmd = child(r, NS_COMMANDS, "command")
        assert cmd is not None and cmd.get("status") == "completed", tostr(r)
        assert child(cmd, NS_XDATA, "x") is not None, tostr(r)
        items = conn.iq(f"<iq type='get' from='{frm}' to='{GW}' id='it{i}'>"
                        f"<query xmlns='{NS_DISCO_ITEMS}' node='{NS_COMMANDS}'/></iq>")
        nodes = [e.get("node") for e in children(child(items, NS_DISCO_ITEMS, "query"),
                                                 NS_DISCO_ITEMS, "item")]
        assert node in nodes, f"{frm} is not shown the admin commands: {nodes}"
    for i, frm in enumerate(refused):
        r = _command(conn, frm, node, f"no{i}")
        assert_error(r, f"no{i}", "forbidden", "auth")
    _stream_up(conn, pg, "after-admin")
