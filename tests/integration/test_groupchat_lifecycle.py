"""Group chats across what ends them (no join goes unanswered, and after a
restart the user's rooms are not silently lost): a join the IRC
server does not answer (it is stopped with SIGSTOP) fails with
remote-server-timeout in join_timeout_s, and when the server answers late
the channel is left again; a clean stop of purplegate takes every resource
out of its rooms (110 + 332); after the restart the client's XEP-0410
self-ping answers not-acceptable, so clients join again by themselves, and
the join works; a join that starts a legacy login which cannot get through
fails with the login's condition (remote-server-timeout) in time."""

import os
import signal
import time

from harness import COMPONENT_JID, NS_PING, assert_error, child, match, standard_setup, tostr
from harness import WAIT
from legacy_servers import IrcClient, chat_from, online_user, registered_user

GW = COMPONENT_JID
NS_MUC = "http://jabber.org/protocol/muc"
NS_MUC_USER = NS_MUC + "#user"
JOIN_TIMEOUT_S = 3


def setup(name):
    return standard_setup(name, overrides={
        "legacy-settings": {"ratelimit-interval": "0", "ratelimit-burst": "1000000"},
        "groupchat": {"join_timeout_s": str(JOIN_TIMEOUT_S)}})


def _codes(el):
    x = child(el, NS_MUC_USER, "x")
    return {s.get("code") for s in x.findall(f"{{{NS_MUC_USER}}}status")} if x is not None else set()


def _self_ping(c, room_nick):
    return c.iq(f"<iq type='get' to='{room_nick}'><ping xmlns='{NS_PING}'/></iq>")


def test_unanswered_join_times_out(env):
    peer = env.track(IrcClient(env.irc.port, "lbob"))
    peer.send("JOIN #silent")
    c = online_user(env, env.user("xlate"), "late")
    room = f"#silent@{GW}"
    since = c.mark()
    os.kill(env.irc.proc.pid, signal.SIGSTOP)
    try:
        t0 = time.monotonic()
        c.send(f"<presence to='{room}/late' id='late-1'><x xmlns='{NS_MUC}'/></presence>")
        el = c.expect(match("presence", id="late-1", type="error"), timeout=JOIN_TIMEOUT_S + WAIT,
                      since=since, what="the join's error after join_timeout_s")
        waited = time.monotonic() - t0
    finally:
        irc_since = peer.mark()
        os.kill(env.irc.proc.pid, signal.SIGCONT)
    assert_error(el, "late-1", "remote-server-timeout", "wait")
    assert child(el, NS_MUC, "x") is not None, f"no <x xmlns='{NS_MUC}'/>: {tostr(el)}"
    assert waited >= JOIN_TIMEOUT_S - 0.5, f"answered after {waited:.1f}s, before the timeout"
    print(f"# unanswered join failed after {waited:.1f}s (join_timeout_s = {JOIN_TIMEOUT_S})")
    # Nothing of the room is left: a self-ping says so, and the join IRC
    # answers late is undone.
    r = _self_ping(c, f"{room}/late")
    assert_error(r, r.get("id"), "not-acceptable", "cancel")
    peer.expect(lambda m: m.command == "JOIN" and m.nick == "late", timeout=WAIT, since=irc_since,
                what="the late JOIN")
    peer.expect(lambda m: m.command == "PART" and m.nick == "late", timeout=WAIT, since=irc_since,
                what="the late join undone")
    since = c.mark()
    peer.privmsg("#silent", "anyone?")
    # Barrier: a private message sent after the channel line arrives after it.
    peer.privmsg("late", "barrier")
    c.expect(chat_from(f"lbob@{GW}", "barrier"), timeout=WAIT, since=since, what="the barrier")
    stray = [el for el in c.transcript.elements()[since:] if match("message", type="groupchat")(el)]
    assert not stray, f"a groupchat from a room whose join failed: {tostr(stray[0])}"


def test_restart_makes_clients_rejoin(env):
    peer = env.track(IrcClient(env.irc.port, "rjbob"))
    peer.send("JOIN #restart")
    c = online_user(env, env.user("xrj"), "rjalice")
    room = f"#restart@{GW}"
    since = c.mark()
    c.send(f"<presence to='{room}/rjalice' id='rj-1'><x xmlns='{NS_MUC}'/></presence>")
    own = c.expect(lambda el: match("presence", frm=f"{room}/rjalice")(el) and "110" in _codes(el),
                   timeout=2 * WAIT, since=since, what="own presence in the room")
    assert own.get("type") is None, tostr(own)
    r = _self_ping(c, f"{room}/rjalice")
    assert r.get("type") == "result", f"self-ping while joined: {tostr(r)}"

    since = c.mark()
    env.purplegate.stop()
    gone = c.expect(lambda el: match("presence", type="unavailable", frm=f"{room}/rjalice")(el),
                    timeout=WAIT, since=since, what="own unavailable from the room on shutdown")
    assert {"110", "332"} <= _codes(gone), f"shutdown presence without 110 + 332: {tostr(gone)}"

    since = c.mark()
    env.purplegate.start()
    c.expect(lambda el: match("presence", frm=GW)(el) and el.get("type") is None,
             timeout=2 * WAIT, since=since, what="the gateway back after the restart")
    r = _self_ping(c, f"{room}/rjalice")
    assert_error(r, r.get("id"), "not-acceptable", "cancel")

    # What a client does then: it joins again, and it works.
    since = c.mark()
    c.send(f"<presence to='{room}/rjalice' id='rj-2'><x xmlns='{NS_MUC}'/></presence>")
    own = c.expect(lambda el: match("presence", frm=f"{room}/rjalice")(el) and "110" in _codes(el),
                   timeout=2 * WAIT, since=since, what="own presence after joining again")
    assert own.get("type") is None, tostr(own)
    since = c.mark()
    peer.privmsg("#restart", "welcome back")
    c.expect(lambda el: match("message", type="groupchat", frm=f"{room}/rjbob")(el),
             timeout=WAIT, since=since, what="a channel message after joining again")


def test_join_while_the_legacy_network_is_down(env):
    # The join starts the legacy login (the user is registered, not online
    # with the gateway) and waits for it; the login fails (nobody listens on
    # the IRC port), so the join fails with the login's condition in time.
    c = registered_user(env, env.user("xdown"), "downnick")
    env.irc.stop()
    since = c.mark()
    c.send(f"<presence to='#down@{GW}/downnick' id='down-1'><x xmlns='{NS_MUC}'/></presence>")
    el = c.expect(match("presence", id="down-1", type="error"), timeout=JOIN_TIMEOUT_S + WAIT,
                  since=since, what="the join's error while IRC is down")
    assert_error(el, "down-1", "remote-server-timeout", "wait")
    assert child(el, NS_MUC, "x") is not None, f"no <x xmlns='{NS_MUC}'/>: {tostr(el)}"
