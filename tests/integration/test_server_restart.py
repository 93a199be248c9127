"""Legacy sessions across a restart or a crash of the XMPP server
(legacy/session.h).

A clean stop of Prosody logs every user out and then closes the component
link; purplegate closes a login only a quarter of a second after its user's
last resource left, so the link goes first, and the sessions wait for their
users: the IRC nick stays on line through the restart (same IRC connection,
checked by its WHOIS sign-on time).  Once the link is back, a user has
[limits] session_grace_s to be online again (the transport probes every
user); the others' sessions end then, and so do resources that a crash left
behind and that never came back."""

import signal
import time

import harness
from harness import COMPONENT_JID, WAIT, stop_process, wait_until
from legacy_servers import (IrcClient, chat_from, irc_env, is_presence_from, online_user,
                            send_available, wait_transport_online)

GW = COMPONENT_JID
TIMEOUT = 90
GRACE_S = 2


def setup(name):
    return irc_env(name, overrides={"limits": {"session_grace_s": str(GRACE_S)}})


def _peer(env, nick):
    return env.track(IrcClient(env.irc.port, nick))


def _kill_prosody(env):
    stop_process(env.prosody.proc, sig=signal.SIGKILL, timeout=5)
    wait_until(lambda: not harness.port_accepts(env.prosody.c2s_port), WAIT, what="c2s port closed")


def _back_after_restart(env, user, resource):
    """Prosody (stopped) starts again, the link comes back, the user logs in
    as `resource`; returns once the grace is over.  The client."""
    env.prosody.start()
    env.wait_linked()
    c = env.client(user, resource=resource, roster=True)
    since = c.mark()
    send_available(c)
    wait_transport_online(c, GW, since)
    time.sleep(GRACE_S + 1)
    return c


def test_clean_server_restart_keeps_the_legacy_session(env):
    nick = "srnick"
    peer = _peer(env, "srpeer")
    user = env.user("xsr")
    c = online_user(env, user, nick)
    peer.wait_online(nick)
    signon = peer.whois(nick)["signon"]

    env.prosody.stop()
    # The user's client comes back, as clients do after a server restart.
    c2 = _back_after_restart(env, user, "test")
    # Past the grace: the nick never left (the same IRC connection).
    info = peer.whois(nick)
    assert info is not None, f"{nick} left IRC across the restart of Prosody"
    assert info["signon"] == signon, f"{nick} reconnected to IRC: sign-on {signon} → {info['signon']}"
    since = c2.mark()
    peer.privmsg(nick, "still there?")
    c2.expect(chat_from(f"srpeer@{GW}"), timeout=WAIT, since=since, what="a message after the restart")
    # Logging out still logs out.
    c2.send("<presence type='unavailable'/>")
    peer.wait_online(nick, want=False, timeout=WAIT)


def test_user_not_back_loses_the_session(env):
    nick = "snnick"
    peer = _peer(env, "snpeer")
    online_user(env, env.user("xsn"), nick)
    peer.wait_online(nick)

    env.prosody.stop()
    env.prosody.start()
    env.wait_linked()
    back = time.monotonic()
    assert peer.online(nick), f"{nick} left IRC at once; its session should wait for the user"
    # The user does not come back: the session ends after the grace.
    peer.wait_online(nick, want=False, timeout=GRACE_S + WAIT)
    print(f"# {nick} left IRC {time.monotonic() - back:.1f}s after the link was back "
          f"(session_grace_s = {GRACE_S})", flush=True)


def test_resource_left_by_a_crash_is_dropped(env):
    # Prosody killed: the user's resource "a" never said goodbye.  The user
    # comes back as "b"; once the grace is over "a" is forgotten, so when
    # "b" leaves, the session ends (it used to stay up for good).
    nick = "scnick"
    peer = _peer(env, "scpeer")
    user = env.user("xsc")
    online_user(env, user, nick, resource="a")
    peer.wait_online(nick)

    _kill_prosody(env)
    b = _back_after_restart(env, user, "b")
    assert peer.online(nick), f"{nick} left IRC while the user was online as b"
    b.send("<presence type='unavailable'/>")
    peer.wait_online(nick, want=False, timeout=WAIT)


def test_quick_return_keeps_the_login(env):
    # Unavailable and available again at once (a client reconnecting): no
    # quit and rejoin on IRC.
    nick = "sqnick"
    peer = _peer(env, "sqpeer")
    c = online_user(env, env.user("xsq"), nick)
    peer.wait_online(nick)
    signon = peer.whois(nick)["signon"]
    c.send("<presence type='unavailable'/><presence/>")
    time.sleep(2.0)
    info = peer.whois(nick)
    assert info is not None and info["signon"] == signon, f"{nick} quit and came back: {info}"
    c.send("<presence type='unavailable'/>")
    peer.wait_online(nick, want=False, timeout=WAIT)
