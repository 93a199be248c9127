"""Legacy sessions on a real IRC network (issue 3, "Tests against real legacy
networks", IRC): InspIRCd on 127.0.0.1, reached through libpurple's
prpl-irc; a raw-socket IRC client is the legacy peer.  Acceptance is by IRC
lines the peer reads and stanzas the XMPP client receives."""

from harness import (COMPONENT_JID, NS_CLIENT, assert_error, bare, child, match, register,
                     text, tostr)
from legacy_servers import (IrcClient, chat_from, irc_env, is_presence_from, online_user,
                            send_available)

GW = COMPONENT_JID
TIMEOUT = 60


def setup(name):
    return irc_env(name)


def _peer(env, nick):
    return env.track(IrcClient(env.irc.port, nick))


def _body(el):
    return text(child(el, NS_CLIENT, "body"))


def test_login_message_both_ways_logout(env):
    peer = _peer(env, "bob")
    assert not peer.online("alice"), "alice is on IRC before the test"
    c = online_user(env, env.user("xalice"), "alice")
    # The IRC server sees nick alice connect.
    peer.wait_online("alice", timeout=15)
    info = peer.whois("alice")
    assert info is not None and info["away"] is None, f"WHOIS alice: {info}"

    # IRC → XMPP: a PRIVMSG from bob arrives from bob@gw.localhost, type chat.
    since = c.mark()
    peer.privmsg("alice", "hello from IRC & <friends> — ünïcödé ✓")
    m = c.expect(chat_from(f"bob@{GW}"), timeout=10, since=since,
                 what=f"message from bob@{GW}")
    assert m.get("type") == "chat", f"not type chat: {tostr(m)}"
    assert _body(m) == "hello from IRC & <friends> — ünïcödé ✓", f"body: {tostr(m)}"
    assert bare(m.get("to")) == c.bare, f"not to the user: {tostr(m)}"

    # XMPP → IRC: the reply arrives as PRIVMSG to bob with the exact text.
    reply = "reply & <b>not bold</b> > ça va? 日本語 \"q\" 'a'"
    since = peer.mark()
    c.send(f"<message type='chat' to='bob@{GW}' id='r1'><body>"
           f"{reply.replace('&', '&amp;').replace('<', '&lt;').replace('>', '&gt;')}"
           f"</body></message>")
    line = peer.expect(lambda m: m.command == "PRIVMSG" and m.nick == "alice", timeout=10,
                       since=since, what="PRIVMSG from alice")
    assert line.params[0] == "bob", f"PRIVMSG target: {line.raw!r}"
    assert line.params[-1] == reply, f"PRIVMSG text {line.params[-1]!r}, expected {reply!r}"
    c.nothing(match("message", type="error"), wait=0.5, what="error for the reply")

    # The user going unavailable makes alice quit.
    since = c.mark()
    c.send("<presence type='unavailable'/>")
    peer.wait_online("alice", want=False, timeout=15)
    c.expect(lambda el: is_presence_from(GW, "unavailable")(el), timeout=10, since=since,
             what=f"unavailable from {GW}")


def test_escaped_nick_round_trip(env):
    # b\40b needs XEP-0106 escaping: \40 is one of the ten sequences, so the
    # backslash itself becomes \5c (ESC-04).  [x]|^y needs none but has the
    # IRC-special characters.
    odd = "b\\40b"
    jid = f"b\\5c40b@{GW}"
    peer = _peer(env, odd)
    c = online_user(env, env.user("xesc"), "escuser")
    since = c.mark()
    peer.privmsg("escuser", "from a backslash nick")
    m = c.expect(chat_from(jid), timeout=10, since=since, what=f"message from {jid}")
    assert m.get("from").split("/")[0] == jid, f"from is not {jid}: {tostr(m)}"
    assert _body(m) == "from a backslash nick", f"body: {tostr(m)}"

    since = peer.mark()
    c.send(f"<message type='chat' to='{jid}'><body>back to you</body></message>")
    line = peer.expect(lambda m: m.command == "PRIVMSG" and m.nick == "escuser", timeout=10,
                       since=since, what="PRIVMSG from escuser")
    assert line.params[0] == odd, f"PRIVMSG target {line.params[0]!r}, expected {odd!r}"
    assert line.params[-1] == "back to you"

    special = "[x]|^y"
    peer2 = _peer(env, special)
    since = c.mark()
    peer2.privmsg("escuser", "special chars")
    m = c.expect(chat_from(f"{special}@{GW}"), timeout=10, since=since,
                 what=f"message from {special}@{GW}")
    since = peer2.mark()
    c.send(f"<message type='chat' to='{special}@{GW}'><body>ok special</body></message>")
    line = peer2.expect(lambda m: m.command == "PRIVMSG" and m.nick == "escuser", timeout=10,
                        since=since, what="PRIVMSG from escuser")
    assert line.params[0] == special and line.params[-1] == "ok special", line.raw


def test_message_without_session(env):
    c = env.client(env.user("xnosess"), roster=True)
    register(c, "nosess", "pw")
    since = c.mark()
    c.send(f"<message type='chat' to='bob@{GW}' id='ns1'><body>anyone?</body></message>")
    err = c.expect(match("message", id="ns1"), timeout=10, since=since,
                   what="error for a message without session")
    assert_error(err, "ns1", "recipient-unavailable", "wait", frm=f"bob@{GW}")


def test_message_unregistered(env):
    c = env.client(env.user("xunreg"))
    since = c.mark()
    c.send(f"<message type='chat' to='bob@{GW}' id='ur1'><body>hi</body></message>")
    err = c.expect(match("message", id="ur1"), timeout=10, since=since,
                   what="error for a message of an unregistered user")
    assert_error(err, "ur1", "registration-required", "auth", frm=f"bob@{GW}")


def test_contact_presence_and_away(env):
    # The user adds bob (GW-24: IRC approves at once) and sees bob on line;
    # the user's away goes to IRC as AWAY with the status text.
    peer = _peer(env, "carl")
    c = online_user(env, env.user("xaway"), "awayuser")
    since = c.mark()
    c.send(f"<presence type='subscribe' to='carl@{GW}'/>")
    c.expect(match("presence", type="subscribed", frm=f"carl@{GW}"), timeout=10, since=since)
    c.expect(is_presence_from(f"carl@{GW}"), timeout=15, since=since,
             what=f"available presence from carl@{GW}")

    send_available(c, show="away", status="out for lunch")
    info = peer.wait_away("awayuser", lambda a: a is not None)
    assert info["away"] == "out for lunch", f"away message: {info}"
    send_available(c)
    peer.wait_away("awayuser", lambda a: a is None)
