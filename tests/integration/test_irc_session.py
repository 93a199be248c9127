"""Legacy sessions on a real IRC network: InspIRCd on 127.0.0.1, reached
through libpurple's prpl-irc; a raw-socket IRC client is the legacy peer.
Acceptance is by IRC lines the peer reads and stanzas the XMPP client
receives."""

import time

from harness import (COMPONENT_JID, NS_CLIENT, NS_REGISTER, assert_error, assert_result, bare,
                     child, is_stanza, match, register, registered_username, text, tostr)
from harness import WAIT, wait_until
from legacy_servers import (CHECK_GAP_S, IrcClient, add_irc_contact, chat_from, irc_barrier,
                            irc_env, is_presence_from, no_stray_messages, online_user,
                            presence_of, registered_user, send_available)

GW = COMPONENT_JID
TIMEOUT = 60
NS_RECEIPTS = "urn:xmpp:receipts"


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
    peer.wait_online("alice", timeout=WAIT)
    info = peer.whois("alice")
    assert info is not None and info["away"] is None, f"WHOIS alice: {info}"

    # IRC → XMPP: a PRIVMSG from bob arrives from bob@gw.localhost, type chat.
    since = c.mark()
    peer.privmsg("alice", "hello from IRC & <friends> — ünïcödé ✓")
    m = c.expect(chat_from(f"bob@{GW}"), timeout=WAIT, since=since,
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
    line = peer.expect(lambda m: m.command == "PRIVMSG" and m.nick == "alice", timeout=WAIT,
                       since=since, what="PRIVMSG from alice")
    assert line.params[0] == "bob", f"PRIVMSG target: {line.raw!r}"
    assert line.params[-1] == reply, f"PRIVMSG text {line.params[-1]!r}, expected {reply!r}"
    c.nothing(match("message", type="error"), wait=0.5, what="error for the reply")

    # XEP-0184: a receipt once the message is handed to the IRC server.
    c.send(f"<message type='chat' to='bob@{GW}' id='rcpt1'><body>receipt please</body>"
           f"<request xmlns='{NS_RECEIPTS}'/></message>")
    r = c.expect(lambda el: is_stanza(el, "message")
                 and child(el, NS_RECEIPTS, "received") is not None, timeout=WAIT,
                 what="<received/> receipt")
    assert child(r, NS_RECEIPTS, "received").get("id") == "rcpt1", tostr(r)
    assert bare(r.get("from")) == f"bob@{GW}", f"receipt not from the contact: {tostr(r)}"
    assert child(r, NS_RECEIPTS, "request") is None, f"request inside an ack: {tostr(r)}"
    peer.expect(lambda m: m.command == "PRIVMSG" and m.params[-1] == "receipt please",
                timeout=WAIT, what="the receipted PRIVMSG")

    # The user going unavailable makes alice quit (the client, now
    # unavailable itself, is not sent the transport's unavailable).
    c.send("<presence type='unavailable'/>")
    peer.wait_online("alice", want=False, timeout=WAIT)


def test_every_kind_of_privmsg_arrives(env):
    """Plain lines are read before prpl-irc; lines with mIRC formatting or
    a CTCP action are prpl-irc's to read.  Each arrives once, with its text
    as IRC users see it, in the order sent."""
    peer = _peer(env, "fred")
    c = online_user(env, env.user("xgina"), "gina")
    peer.wait_online("gina", timeout=WAIT)
    lines = [
        ("plain 1 & <x> 'q' \"d\"", "plain 1 & <x> 'q' \"d\""),
        ("\x02bold\x02 and \x0304,01red\x03 \x1funder\x1f", "bold and red under"),
        ("plain 2 \u00e9t\u00e9 \u65e5\u672c", "plain 2 \u00e9t\u00e9 \u65e5\u672c"),
        ("\x01ACTION waves\x01", "/me waves"),
        ("x" * 380, "x" * 380),
        ("last line", "last line"),
    ]
    since = c.mark()
    for raw, _ in lines:
        peer.privmsg("gina", raw)
    c.expect(chat_from(f"fred@{GW}", "last line"), timeout=WAIT, since=since, what="fred's last line")
    got = [_body(el) for el in c.transcript.elements()[since:] if chat_from(f"fred@{GW}")(el)]
    assert got == [want for _, want in lines], f"bodies: {got!r}"


def test_chat_states_stop_when_the_user_writes_without(env):
    """XEP-0085 §5.1: a contact's messages carry <active/> until the user's
    client writes to that contact without any chat state; one with a state
    brings them back.  Another contact is not concerned."""
    NS_CHATSTATES = "http://jabber.org/protocol/chatstates"
    peer = _peer(env, "hank")
    other = _peer(env, "ivan")
    c = online_user(env, env.user("xjudy"), "judy")
    peer.wait_online("judy", timeout=WAIT)

    def states_of(frm, body):
        since = c.mark()
        frm.privmsg("judy", body)
        m = c.expect(chat_from(f"{frm.nick}@{GW}", body), timeout=WAIT, since=since,
                     what=f"{body!r} from {frm.nick}")
        return [e.tag for e in m if e.tag.startswith("{" + NS_CHATSTATES)]

    def user_writes(to, body, state):
        since = to.mark()
        c.send(f"<message type='chat' to='{to.nick}@{GW}'><body>{body}</body>{state}</message>")
        to.expect(lambda m: m.command == "PRIVMSG" and m.params[-1] == body, timeout=WAIT,
                  since=since, what=f"{body!r} at {to.nick}")

    active = ["{%s}active" % NS_CHATSTATES]
    assert states_of(peer, "first") == active
    user_writes(peer, "plain reply", "")
    assert states_of(peer, "second") == []
    assert states_of(other, "from ivan") == active
    user_writes(peer, "reply with a state", f"<active xmlns='{NS_CHATSTATES}'/>")
    assert states_of(peer, "third") == active


def test_escaped_nick_round_trip(env):
    # b\40b needs XEP-0106 escaping: \40 is one of the ten sequences, so the
    # backslash itself becomes \5c (XEP-0106 §4.3).  [x]|^y needs none but has the
    # IRC-special characters.
    odd = "b\\40b"
    jid = f"b\\5c40b@{GW}"
    peer = _peer(env, odd)
    c = online_user(env, env.user("xesc"), "escuser")
    since = c.mark()
    peer.privmsg("escuser", "from a backslash nick")
    m = c.expect(chat_from(jid), timeout=WAIT, since=since, what=f"message from {jid}")
    assert m.get("from").split("/")[0] == jid, f"from is not {jid}: {tostr(m)}"
    assert _body(m) == "from a backslash nick", f"body: {tostr(m)}"

    since = peer.mark()
    c.send(f"<message type='chat' to='{jid}'><body>back to you</body></message>")
    line = peer.expect(lambda m: m.command == "PRIVMSG" and m.nick == "escuser", timeout=WAIT,
                       since=since, what="PRIVMSG from escuser")
    assert line.params[0] == odd, f"PRIVMSG target {line.params[0]!r}, expected {odd!r}"
    assert line.params[-1] == "back to you"

    special = "[x]|^y"
    peer2 = _peer(env, special)
    since = c.mark()
    peer2.privmsg("escuser", "special chars")
    m = c.expect(chat_from(f"{special}@{GW}"), timeout=WAIT, since=since,
                 what=f"message from {special}@{GW}")
    since = peer2.mark()
    c.send(f"<message type='chat' to='{special}@{GW}'><body>ok special</body></message>")
    line = peer2.expect(lambda m: m.command == "PRIVMSG" and m.nick == "escuser", timeout=WAIT,
                        since=since, what="PRIVMSG from escuser")
    assert line.params[0] == special and line.params[-1] == "ok special", line.raw


def test_message_without_session(env):
    c = env.client(env.user("xnosess"), roster=True)
    register(c, "nosess", "pw")
    since = c.mark()
    c.send(f"<message type='chat' to='bob@{GW}' id='ns1'><body>anyone?</body></message>")
    err = c.expect(match("message", id="ns1"), timeout=WAIT, since=since,
                   what="error for a message without session")
    assert_error(err, "ns1", "recipient-unavailable", "wait", frm=f"bob@{GW}")


def test_message_unregistered(env):
    c = env.client(env.user("xunreg"))
    since = c.mark()
    c.send(f"<message type='chat' to='bob@{GW}' id='ur1'><body>hi</body></message>")
    err = c.expect(match("message", id="ur1"), timeout=WAIT, since=since,
                   what="error for a message of an unregistered user")
    assert_error(err, "ur1", "registration-required", "auth", frm=f"bob@{GW}")


def test_message_to_absent_nick(env):
    # XEP-0100 §4.8.2: a message to a contact who is not online, on a network
    # without offline storage, comes back as <service-unavailable/>
    # (cancel) with its id and text: the IRC server's 401 (no such nick).
    peer = _peer(env, "bob")
    c = online_user(env, env.user("xcarol"), "carol")
    peer.wait_online("carol", timeout=WAIT)
    assert not peer.online("nosuchnick")
    since = c.mark()
    peer_since = peer.mark()
    c.send(f"<message type='chat' to='nosuchnick@{GW}' id='nx1'><body>anyone there?</body></message>")
    # Two lines to bob: prpl-irc sends a PRIVMSG a line, so nx3 below makes
    # two 401s.
    c.send(f"<message type='chat' to='bob@{GW}' id='nx2'><body>to bob\nsecond line</body>"
           f"<request xmlns='{NS_RECEIPTS}'/></message>")
    # Two lines on IRC, two 401s: one bounce.
    c.send(f"<message type='chat' to='NoSuchNick@{GW}' id='nx3'><body>line one\nline two</body></message>")
    for mid, body in (("nx1", "anyone there?"), ("nx3", "line one\nline two")):
        err = c.expect(match("message", id=mid, type="error"), timeout=WAIT, since=since,
                       what=f"a bounce of {mid}")
        assert_error(err, mid, "service-unavailable", "cancel")
        assert bare(err.get("from")).lower() == f"nosuchnick@{GW}", tostr(err)
        assert _body(err) == body, f"the bounce does not carry the text: {tostr(err)}"
    for line in ("to bob", "second line"):
        peer.expect(lambda m: m.command == "PRIVMSG" and m.params[-1] == line, timeout=WAIT,
                    since=peer_since, what=f"the line {line!r} to bob")
    r = c.expect(lambda el: is_stanza(el, "message") and child(el, NS_RECEIPTS, "received") is not None,
                 timeout=WAIT, since=since, what="the receipt for the message to bob")
    assert child(r, NS_RECEIPTS, "received").get("id") == "nx2", tostr(r)
    # Nothing else: no bounce of the delivered one, no second bounce of nx3,
    # and no receipt for a bounced one.
    time.sleep(1.0)
    errors = [el.get("id") for el in c.transcript.elements()[since:]
              if is_stanza(el, "message") and el.get("type") == "error"]
    assert sorted(errors) == ["nx1", "nx3"], f"errors: {errors}"
    receipts = [child(el, NS_RECEIPTS, "received").get("id") for el in c.transcript.elements()[since:]
                if is_stanza(el, "message") and child(el, NS_RECEIPTS, "received") is not None]
    assert receipts == ["nx2"], f"receipts: {receipts}"


def test_bounce_only_what_the_server_refused(env):
    # A contact who leaves while messages to them are under way: the server
    # answers each line written after the QUIT with a 401, and delivers the
    # ones before it.  prpl-irc's default rate limit (a line every 2 s after
    # a burst) spreads the lines over seconds, so the contact can take the
    # first and be gone for the next, all in the window of one confirmation.
    # Exactly the ones the contact did not get come back as errors; each one
    # the contact got has its receipt and no error.
    peer = _peer(env, "leaver")
    c = online_user(env, env.user("xstayer"), "stayer")
    peer.wait_online("stayer", timeout=WAIT)
    since = c.mark()
    peer_since = peer.mark()
    ids = [f"lv{i}" for i in range(8)]
    c.send("".join(f"<message type='chat' to='leaver@{GW}' id='{mid}'><body>before you go {mid}</body>"
                   f"<request xmlns='{NS_RECEIPTS}'/></message>" for mid in ids))
    peer.expect(lambda m: m.command == "PRIVMSG" and m.nick == "stayer", timeout=WAIT, since=peer_since,
                what="the first message to leaver")
    # QUIT, then read until the server closes the connection: every line
    # the server delivered before the QUIT is read (closing at once would
    # lose those still in the socket, which were delivered nonetheless).
    peer.send("QUIT :bye")
    wait_until(lambda: peer.closed is not None, WAIT, what="the server closing leaver's connection")
    peer.close()
    got = {m.params[-1].rsplit(" ", 1)[-1] for m in peer.lines[peer_since:]
           if m.command == "PRIVMSG" and m.nick == "stayer"}
    assert got and got != set(ids), f"leaver got {sorted(got)}: nothing to tell apart"

    def answers(mid):
        out = []
        for el in c.transcript.elements()[since:]:
            if not is_stanza(el, "message"):
                continue
            received = child(el, NS_RECEIPTS, "received")
            if el.get("id") == mid and el.get("type") == "error":
                out.append("error")
            elif received is not None and received.get("id") == mid:
                out.append("receipt")
        return out

    # Errors and receipts come with the confirmation that closes the window:
    # once each message has its answer, nothing more is under way.
    wait_until(lambda: all(answers(mid) for mid in ids), 3 * WAIT, what="an error or a receipt for each message")
    outcomes = {mid: answers(mid) for mid in ids}
    want = {mid: ["receipt"] if mid in got else ["error"] for mid in ids}
    assert outcomes == want, f"leaver got {sorted(got)}; outcomes {outcomes}"
    for mid in ids:
        if mid not in got:
            err = c.expect(match("message", id=mid, type="error"), timeout=WAIT, since=since,
                           what=f"the bounce of {mid}")
            assert_error(err, mid, "service-unavailable", "cancel")


def test_contact_presence_and_away(env):
    # The user adds bob (XEP-0100 §4.6.1: IRC approves at once) and sees bob on line;
    # the user's away goes to IRC as AWAY with the status text.
    peer = _peer(env, "carl")
    c = online_user(env, env.user("xaway"), "awayuser")
    since = c.mark()
    c.send(f"<presence type='subscribe' to='carl@{GW}'/>")
    c.expect(match("presence", type="subscribed", frm=f"carl@{GW}"), timeout=WAIT, since=since)
    c.expect(is_presence_from(f"carl@{GW}"), timeout=WAIT, since=since,
             what=f"available presence from carl@{GW}")

    send_available(c, show="away", status="out for lunch")
    info = peer.wait_away("awayuser", lambda a: a is not None)
    assert info["away"] == "out for lunch", f"away message: {info}"
    send_available(c)
    peer.wait_away("awayuser", lambda a: a is None)


def test_contact_away_by_check(env):
    # This InspIRCd has no capabilities (no away-notify): an IRC contact's
    # away state and text, and the return, come from the bounded check
    # (README, "Away state of IRC contacts"), and neither the check's
    # replies nor the refused capability request show up as messages.
    peer = _peer(env, "chkpeer")
    c = online_user(env, env.user("xchk"), "chkuser")
    since = c.mark()
    add_irc_contact(c, "chkpeer")
    peer.send("AWAY :gone <fishing> & back soon")
    c.expect(presence_of(f"chkpeer@{GW}", "away", "gone <fishing> & back soon"),
             timeout=2 * CHECK_GAP_S + WAIT, since=since, what="chkpeer away (the check)")
    back = c.mark()
    peer.send("AWAY")
    c.expect(presence_of(f"chkpeer@{GW}", None), timeout=CHECK_GAP_S + WAIT,
             since=back, what="chkpeer back (the check)")
    no_stray_messages(c, peer, "chkuser", since)


def test_contact_away_from_reply(env):
    # A message to an away contact brings the server's away reply (301):
    # it still reaches the user as the automatic reply, and the contact's
    # presence turns away with that text at once, before the check (two
    # lines 10 s apart) could tell.
    peer = _peer(env, "rplpeer")
    c = online_user(env, env.user("xrpl"), "rpluser")
    add_irc_contact(c, "rplpeer")
    since = peer.mark()
    peer.send("AWAY :on the phone")
    peer.expect(lambda m: m.command == "306", timeout=WAIT, since=since, what="306 (marked away)")
    since = c.mark()
    c.send(f"<message type='chat' to='rplpeer@{GW}'><body>are you there?</body></message>")
    c.expect(presence_of(f"rplpeer@{GW}", "away", "on the phone"), timeout=8, since=since,
             what="rplpeer away from the 301")
    m = c.expect(chat_from(f"rplpeer@{GW}"), timeout=WAIT, since=since, what="the automatic reply")
    assert "on the phone" in _body(m), f"automatic reply: {tostr(m)}"


def test_directed_unavailable_is_not_logout(env):
    # XEP-0100 §4.5.2: a directed unavailable to one contact is not a logout.
    peer = _peer(env, "dpeer")
    c = online_user(env, env.user("xdir"), "diruser")
    peer.wait_online("diruser")
    c.send(f"<presence type='unavailable' to='dpeer@{GW}'/>")
    irc_barrier(c, peer, "diruser")
    assert peer.online("diruser"), "a directed unavailable to a contact logged the user out"
    since = c.mark()
    peer.privmsg("diruser", "still there?")
    c.expect(chat_from(f"dpeer@{GW}", "still there?"), timeout=WAIT, since=since)


def test_directed_presence_login(env):
    # XEP-0100 §4.4.1: available presence directed to a contact (not to the transport)
    # starts the login too; its directed unavailable ends it.
    peer = _peer(env, "dlpeer")
    c = registered_user(env, env.user("xdl"), "dluser")
    c.send(f"<presence to='dlpeer@{GW}'/>")
    peer.wait_online("dluser", timeout=WAIT)
    c.send(f"<presence type='unavailable' to='dlpeer@{GW}'/>")
    peer.wait_online("dluser", want=False, timeout=WAIT)


def test_reregistration_while_online(env):
    # XEP-0100 §4.2: new credentials while online → the login restarts with them.
    peer = _peer(env, "rrpeer")
    c = online_user(env, env.user("xrr"), "oldnick")
    peer.wait_online("oldnick")
    since = c.mark()
    register(c, "newnick", "pw")
    # The registration's own check logs in as newnick and out again before
    # the session logs in with it: the gateway's available presence says
    # the session's login is the one online.
    c.expect(is_presence_from(GW), timeout=WAIT, since=since,
             what=f"available presence from {GW} after the new login")
    peer.wait_online("newnick", timeout=WAIT)
    assert not peer.online("oldnick"), "the old login is still on IRC"
    since = c.mark()
    peer.privmsg("newnick", "hello new")
    c.expect(chat_from(f"rrpeer@{GW}", "hello new"), timeout=WAIT, since=since)


def test_unregister_while_online(env):
    # XEP-0100 §4.3: <remove/> logs out; the transport and every
    # contact say goodbye.
    peer = _peer(env, "urpeer")
    c = online_user(env, env.user("xur"), "urnick")
    since = c.mark()
    c.send(f"<presence type='subscribe' to='urpeer@{GW}'/>")
    c.expect(is_presence_from(f"urpeer@{GW}"), timeout=WAIT, since=since)
    since = c.mark()
    r = c.iq(f"<iq type='set' to='{GW}' id='ur1'><query xmlns='{NS_REGISTER}'><remove/>"
             f"</query></iq>", timeout=WAIT)
    assert_result(r, "ur1")
    peer.wait_online("urnick", want=False, timeout=WAIT)
    for t in ("unsubscribe", "unsubscribed"):
        c.expect(match("presence", type=t, frm=GW), timeout=WAIT, since=since,
                 what=f"{t} from {GW}")
    c.expect(is_presence_from(f"urpeer@{GW}", "unavailable"), timeout=WAIT, since=since,
             what=f"unavailable from urpeer@{GW}")
    assert registered_username(c) is None, "still registered"


def test_irc_server_down_and_back(env):
    # Network failures reconnect with backoff (the legacy server restarts
    # on the same port); the user is told meanwhile.
    c = online_user(env, env.user("xnet"), "netnick")
    since = c.mark()
    env.irc.stop()
    p = c.expect(lambda el: is_presence_from(GW)(el) or is_presence_from(GW, "error")(el),
                 timeout=WAIT, since=since, what=f"presence from {GW} after the IRC server died")
    assert p.get("type") is None and text(child(p, NS_CLIENT, "show")) == "xa", \
        f"expected the transport to show xa while reconnecting: {tostr(p)}"
    env.irc.start()
    peer = _peer(env, "netpeer")
    peer.wait_online("netnick", timeout=20)
    since = c.mark()
    peer.privmsg("netnick", "you are back")
    c.expect(chat_from(f"netpeer@{GW}", "you are back"), timeout=WAIT, since=since)


def test_irc_unreachable_at_login(env):
    # XEP-0100 §4.4.2: the legacy network is down when the user logs in →
    # remote-server-timeout (wait) from the transport.
    c = registered_user(env, env.user("xdown"), "downnick")
    env.irc.stop()
    try:
        since = c.mark()
        send_available(c)
        err = c.expect(match("presence", type="error", frm=GW), timeout=20, since=since,
                       what=f"presence error from {GW}")
        assert_error(err, err.get("id"), "remote-server-timeout", "wait", code=504, frm=GW)
    finally:
        env.irc.start()
