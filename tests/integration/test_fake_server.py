"""The XEP-0114 link seen from the server's side: a fake server socket
(harness.FakeServer) lets the test choose the stream id, inject bytes and
watch the exact stream error, close and reconnect (XEP-0114 §3).

Each test starts its own purplegate against its own fake server."""

import hashlib
import signal
import socket
import time

from harness import (COMPONENT_JID, NS_COMPONENT, NS_PING, NS_REGISTER, NS_STREAM,
                     NS_STREAMS, XEP0114_DIGEST, XEP0114_SECRET, XEP0114_STREAM_ID, Env,
                     FakeServer, Purplegate, Timeout, assert_error, assert_result, child,
                     free_port, is_stanza, local, match, q, register_legacy, text, tostr)
from harness import WAIT

GW = COMPONENT_JID
USER = "alice@localhost"
TIMEOUT = 60

# backoff starts at 1 s: the first reconnect comes after about 1 s
RECONNECT_MIN, RECONNECT_MAX = 0.5, 3.5


def setup(name):
    env = Env(name)
    try:
        env.start_irc()  # registrations are verified by a real IRC login
    except BaseException:
        env.close(keep=True)
        raise
    return env


def _purplegate(env, port, secret=XEP0114_SECRET, db_dir=None):
    return env.track(Purplegate(env.subdir("pg"), port, secret, db_dir=db_dir,
                                overrides=env.purplegate_overrides()))


def _start(env, secret=XEP0114_SECRET, db_dir=None, handshake=True):
    fs = env.track(FakeServer())
    pg = _purplegate(env, fs.port, secret, db_dir)
    pg.start()
    try:
        conn = fs.accept(timeout=WAIT)
    except Timeout:
        raise AssertionError(f"purplegate did not connect; stderr:\n{pg.tail()}")
    if handshake:
        conn.handshake(secret)
    return fs, pg, conn


def _ping(conn, sid):
    r = conn.iq(f"<iq type='get' from='{USER}/r' to='{GW}' id='{sid}'><ping xmlns='{NS_PING}'/></iq>")
    assert_result(r, sid)
    return r


def _register(conn, username="alicenick", password="pw-fake-1", user=USER):
    since = conn.mark()
    r = conn.iq(f"<iq type='set' from='{user}/r' to='{GW}' id='freg'>"
                f"{register_legacy(username, password)}</iq>", timeout=WAIT)
    assert_result(r, "freg")
    sub = conn.expect(match("presence", type="subscribe"), timeout=WAIT, since=since,
                      what="<presence type='subscribe'/> after registration")
    assert sub.get("from") == GW, f"subscribe not from the bare component JID: {tostr(sub)}"
    assert sub.get("to") == user, f"subscribe not to the user's bare JID: {tostr(sub)}"
    return r


def _registered(conn, user=USER, sid="fget"):
    r = conn.iq(f"<iq type='get' from='{user}/r' to='{GW}' id='{sid}'>"
                f"<query xmlns='{NS_REGISTER}'/></iq>")
    assert_result(r, sid)
    query = child(r, NS_REGISTER, "query")
    if query is None or child(query, NS_REGISTER, "registered") is None:
        return None
    return text(child(query, NS_REGISTER, "username"))


def _expect_close(conn, condition, timeout=WAIT):
    cond, el = conn.stream_error(timeout)
    assert cond == condition, f"stream error <{cond}/>, expected <{condition}/>: {tostr(el)}"
    return conn.wait_closed(timeout)


def _expect_reconnect(fs, t_close, secret=XEP0114_SECRET):
    conn = fs.accept(timeout=RECONNECT_MAX + 3)
    delay = conn.accepted_at - t_close
    assert delay >= RECONNECT_MIN, f"reconnected after {delay:.2f}s: no backoff"
    assert delay <= RECONNECT_MAX, f"reconnected only after {delay:.2f}s"
    conn.handshake(secret)
    return conn


def _check_addressing(fs):
    for c in fs.conns:
        c.check_addressing()


# ---------------------------------------------------------------------------


def test_handshake_vector(env):
    fs, pg, conn = _start(env, handshake=False)
    header = conn.read_header()
    assert header.tag == q(NS_STREAM, "stream"), f"not a stream header: {header.tag}"
    assert conn.reader.header_ns.get("") == NS_COMPONENT, \
        f"default namespace {conn.reader.header_ns.get('')!r}"
    assert conn.reader.header_ns.get("stream") == NS_STREAM, "stream prefix not bound"
    assert header.get("to") == GW, f"stream to={header.get('to')!r}, expected {GW}"
    conn.send_header(XEP0114_STREAM_ID)
    hs = conn.read_handshake()
    assert hs.tag == q(NS_COMPONENT, "handshake"), f"handshake element is {hs.tag}"
    assert (hs.text or "") == XEP0114_DIGEST, \
        f"digest {hs.text!r}, expected {XEP0114_DIGEST} (XEP-0114 vector)"
    # XEP-0114 §3: nothing before the server's <handshake/>
    conn.nothing(lambda el: is_stanza(el), wait=0.7, what="stanza before <handshake/>")
    conn.send("<handshake/>")
    _ping(conn, "hp1")
    _check_addressing(fs)


def test_handshake_decodes_stream_id(env):
    # XEP-0114 §3: the id is taken after XML attribute decoding.
    fs, pg, conn = _start(env, handshake=False)
    conn.read_header()
    conn.send("<?xml version='1.0'?><stream:stream xmlns='jabber:component:accept' "
              "xmlns:stream='http://etherx.jabber.org/streams' from='gw.localhost' "
              "id='a&amp;b&lt;c'>")
    hs = conn.read_handshake()
    want = hashlib.sha1(("a&b<c" + XEP0114_SECRET).encode()).hexdigest()
    assert (hs.text or "") == want, f"digest {hs.text!r}, expected {want}"


def test_malformed_xml_reconnects_and_keeps_registrations(env):
    fs, pg, conn = _start(env)
    _register(conn)
    conn.send(f"<message from='{USER}/r' to='{GW}'><body></message>")
    t_close = _expect_close(conn, "not-well-formed")
    conn2 = _expect_reconnect(fs, t_close)
    assert _registered(conn2) == "alicenick", "registration lost over the reconnect"
    _ping(conn2, "mp1")
    assert pg.running()
    _check_addressing(fs)


def test_backoff_doubles(env):
    # 1 s after the first failure, 2 s after the second (the link never
    # stayed up for the "stable minute" that resets the backoff).
    fs, pg, conn = _start(env)
    conn.send("<message><body></message>")
    t1 = _expect_close(conn, "not-well-formed")
    conn2 = _expect_reconnect(fs, t1)
    conn2.send("<message><body></message>")
    t2 = _expect_close(conn2, "not-well-formed")
    conn3 = fs.accept(timeout=8)
    delay = conn3.accepted_at - t2
    assert 1.5 <= delay <= 4.5, f"second reconnect after {delay:.2f}s, expected about 2 s"


def test_doctype_after_handshake(env):
    fs, pg, conn = _start(env)
    conn.send("<!DOCTYPE x [<!ENTITY a 'b'>]>")
    t_close = _expect_close(conn, "restricted-xml")
    conn2 = _expect_reconnect(fs, t_close)
    _ping(conn2, "dp1")


def test_doctype_at_stream_start(env):
    fs, pg, conn = _start(env, handshake=False)
    conn.read_header()
    conn.send_header(XEP0114_STREAM_ID,
                     prolog="<?xml version='1.0'?><!DOCTYPE stream:stream [<!ENTITY a 'b'>]>")
    t_close = _expect_close(conn, "restricted-xml")
    assert not [e for e in conn.transcript.elements() if local(e) == "handshake"], \
        "purplegate answered a stream with a DOCTYPE with a handshake"
    conn2 = _expect_reconnect(fs, t_close)
    _ping(conn2, "dsp1")


def test_xxe_and_external_entities(env):
    canary = env.tmp / "xxe-canary.txt"
    canary.write_text("XXE-CANARY-5f1d2c")
    listener = socket.socket()
    listener.bind(("127.0.0.1", free_port()))
    listener.listen(4)
    env.track(listener)
    lport = listener.getsockname()[1]
    fs, pg, conn = _start(env, handshake=False)
    conn.read_header()
    conn.send_header(XEP0114_STREAM_ID, prolog=(
        "<?xml version='1.0'?><!DOCTYPE stream:stream ["
        f"<!ENTITY x SYSTEM 'file://{canary}'>"
        f"<!ENTITY y SYSTEM 'http://127.0.0.1:{lport}/'>]>"))
    try:
        conn.read_handshake(timeout=1)
        conn.send("<handshake/>")
        conn.send(f"<message from='{USER}/r' to='{GW}' id='x1'><body>&x;&y;</body></message>")
    except Timeout:
        pass
    _expect_close(conn, "restricted-xml")
    assert "XXE-CANARY" not in conn.raw_text(), "the canary file was read and sent"
    listener.settimeout(1.0)
    try:
        s, _ = listener.accept()
        s.close()
        raise AssertionError("purplegate fetched an external entity over HTTP")
    except socket.timeout:
        pass
    assert pg.running()


def test_billion_laughs(env):
    fs, pg, conn = _start(env, handshake=False)
    conn.read_header()
    ents = "<!ENTITY lol0 'lol'>" + "".join(
        f"<!ENTITY lol{i} '{('&lol%d;' % (i - 1)) * 10}'>" for i in range(1, 10))
    conn.send_header(XEP0114_STREAM_ID,
                     prolog=f"<?xml version='1.0'?><!DOCTYPE stream:stream [{ents}]>")
    try:
        conn.read_handshake(timeout=1)
        conn.send("<handshake/>")
        conn.send(f"<message from='{USER}/r' to='{GW}'><body>&lol9;</body></message>")
    except Timeout:
        pass
    t_close = _expect_close(conn, "restricted-xml")
    conn2 = _expect_reconnect(fs, t_close)
    _ping(conn2, "blp1")


def test_processing_instruction(env):
    fs, pg, conn = _start(env)
    conn.send(f"<message from='{USER}/r' to='{GW}' id='pi1'><body>hi<?pi x?></body></message>")
    t_close = _expect_close(conn, "restricted-xml")
    _expect_reconnect(fs, t_close)


def test_comment(env):
    fs, pg, conn = _start(env)
    conn.send(f"<message from='{USER}/r' to='{GW}' id='c1'><body>hi<!-- c --></body></message>")
    t_close = _expect_close(conn, "restricted-xml")
    _expect_reconnect(fs, t_close)


def test_undeclared_entity(env):
    fs, pg, conn = _start(env)
    conn.send(f"<message from='{USER}/r' to='{GW}' id='ue1'><body>&a;</body></message>")
    cond, el = conn.stream_error()
    assert cond in ("not-well-formed", "restricted-xml"), f"stream error <{cond}/>: {tostr(el)}"
    t_close = conn.wait_closed()
    _expect_reconnect(fs, t_close)


def test_depth_33_closes(env):
    fs, pg, conn = _start(env)
    _register(conn)
    deep = "<a>" * 33 + "</a>" * 33
    conn.send(f"<message from='{USER}/r' to='{GW}' id='deep33'>{deep}</message>")
    t_close = _expect_close(conn, "policy-violation")
    conn2 = _expect_reconnect(fs, t_close)
    assert _registered(conn2) == "alicenick", "registration lost over the reconnect"


def test_depth_31_accepted(env):
    fs, pg, conn = _start(env)
    since = conn.mark()
    deep = "<a>" * 31 + "</a>" * 31
    conn.send(f"<message from='{USER}/r' to='{GW}' id='deep31m' type='normal'>{deep}</message>")
    # 31 elements nested inside the iq: <query/> and 30 <a/>.
    deep = "<a>" * 30 + "</a>" * 30
    r = conn.iq(f"<iq type='get' from='{USER}/r' to='{GW}' id='deep31'>"
                f"<query xmlns='urn:example:deep'>{deep}</query></iq>")
    assert_error(r, "deep31", "service-unavailable", "cancel", frm=GW)
    conn.nothing(lambda el: el.tag == q(NS_STREAM, "error"), wait=0.5, since=since,
                 what="stream error")
    assert conn.eof_at is None, "the stream was closed"
    _ping(conn, "d31p")


def test_whitespace_keepalive_ignored(env):
    fs, pg, conn = _start(env)
    conn.send(" \n \t ")
    _ping(conn, "ws1")
    conn.send(" ")
    _ping(conn, "ws2")
    assert conn.eof_at is None


def test_remove_presences_to_bare_jid(env):
    fs, pg, conn = _start(env)
    _register(conn)
    since = conn.mark()
    conn.send(f"<presence type='subscribe' from='{USER}' to='{GW}'/>")
    ok = conn.expect(match("presence", type="subscribed"), since=since)
    assert ok.get("from") == GW and ok.get("to") == USER, f"subscribed: {tostr(ok)}"
    since = conn.mark()
    conn.send(f"<iq type='set' from='{USER}/r' to='{GW}' id='frem'>"
              f"<query xmlns='{NS_REGISTER}'><remove/></query></iq>")
    res = conn.expect(match("iq", id="frem"), since=since)
    assert_result(res, "frem")
    got = [res]
    for t in ("unsubscribe", "unsubscribed", "unavailable"):
        p = conn.expect(match("presence", type=t), since=since, what=f"presence {t}")
        assert p.get("from") == GW and p.get("to") == USER, f"{t} not GW -> bare user: {tostr(p)}"
        got.append(p)
    order = [conn.transcript.index_of(x) for x in got]
    assert order == sorted(order), "order is not result, unsubscribe, unsubscribed, " \
        "unavailable:\n" + conn.transcript.dump(since)
    assert _registered(conn) is None
    _check_addressing(fs)


def test_registrations_survive_process_restart(env):
    db = env.subdir("db")
    fs, pg, conn = _start(env, db_dir=db)
    _register(conn, username="persistent")
    rc = pg.stop()
    assert rc == 0, f"purplegate exited with {rc} on SIGTERM"
    pg2 = _purplegate(env, fs.port, db_dir=db)
    pg2.start()
    conn2 = fs.accept(timeout=WAIT)
    conn2.handshake(XEP0114_SECRET)
    assert _registered(conn2) == "persistent", "registration lost over a process restart"


def test_sigterm_closes_stream(env):
    fs, pg, conn = _start(env)
    _ping(conn, "st1")
    t0 = time.monotonic()
    pg.signal(signal.SIGTERM)
    conn.wait_closed(timeout=10)
    assert conn.reader.closed_tag, "purplegate closed TCP without </stream:stream>"
    rc = pg.proc.wait(timeout=10)
    assert rc == 0, f"exit status {rc} on SIGTERM"
    assert time.monotonic() - t0 < 10


def test_not_authorized_handshake(env):
    # XEP-0114 §3: a refused handshake; purplegate must not crash, must not
    # resend a handshake on that stream, and keeps retrying (slowly).
    fs, pg, conn = _start(env, handshake=False)
    conn.read_header()
    conn.send_header(XEP0114_STREAM_ID)
    conn.read_handshake()
    conn.send(f"<stream:error><not-authorized xmlns='{NS_STREAMS}'/></stream:error>"
              "</stream:stream>")
    try:
        conn.wait_closed(timeout=5)
    except Timeout:
        pass
    hs = [e for e in conn.transcript.elements() if local(e) == "handshake"]
    assert len(hs) == 1, "handshake sent twice on one stream"
    assert not [e for e in conn.transcript.elements() if is_stanza(e)], \
        "stanzas sent on a stream whose handshake was refused"
    time.sleep(1.5)
    assert pg.running(), f"purplegate exited with status {pg.proc.returncode} after a " \
        "refused handshake instead of retrying"
