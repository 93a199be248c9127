"""Online users get their legacy sessions back when purplegate restarts
(purplegate(8), DESCRIPTION and SIGNALS): on
start the transport probes every registered user, Prosody answers with the
user's presence, and the legacy login opens again without any client
action.  Checked on the IRC server (the nick reappears) and by a message
from the IRC peer that reaches the XMPP client."""

import signal

from harness import COMPONENT_JID, NS_CLIENT, child, text
from harness import WAIT
from legacy_servers import IrcClient, chat_from, irc_env, is_presence_from, online_user

GW = COMPONENT_JID
TIMEOUT = 90


def setup(name):
    return irc_env(name)


def _restart_brings_session_back(env, sig, nick):
    peer = env.track(IrcClient(env.irc.port, f"{nick}peer"))
    c = online_user(env, env.user("rs"), nick, show="away", status="before restart")
    peer.wait_online(nick)
    # A contact, so its presence comes back too.
    since = c.mark()
    c.send(f"<presence type='subscribe' to='{peer.nick}@{GW}'/>")
    c.expect(is_presence_from(f"{peer.nick}@{GW}"), timeout=WAIT, since=since,
             what=f"presence from {peer.nick}@{GW}")
    old_pid = env.purplegate.pid

    since = c.mark()
    if sig == signal.SIGTERM:
        env.purplegate.stop()
        assert env.purplegate.proc.returncode == 0, \
            f"SIGTERM exit status {env.purplegate.proc.returncode}"
        # purplegate(8), SIGNALS: SIGTERM tells every online user its contacts
        # went offline.
        c.expect(is_presence_from(f"{peer.nick}@{GW}", "unavailable"), timeout=WAIT, since=since,
                 what=f"unavailable from {peer.nick}@{GW} on shutdown")
        c.expect(is_presence_from(GW, "unavailable"), timeout=WAIT, since=since,
                 what=f"unavailable from {GW} on shutdown")
    else:
        env.purplegate.kill()
    peer.wait_online(nick, want=False, timeout=WAIT)

    since = c.mark()
    env.purplegate.start()
    assert env.purplegate.pid != old_pid
    # No client action: the probe brings the login back.
    peer.wait_online(nick, timeout=20)
    info = peer.wait_away(nick, lambda m: m is not None)
    assert info["away"] == "before restart", f"status not restored: {info}"
    c.expect(lambda el: is_presence_from(GW)(el), timeout=WAIT, since=since,
             what=f"available presence from {GW} after the restart")
    c.expect(is_presence_from(f"{peer.nick}@{GW}"), timeout=WAIT, since=since,
             what=f"presence from {peer.nick}@{GW} after the restart")

    since = c.mark()
    peer.privmsg(nick, "welcome back")
    m = c.expect(chat_from(f"{peer.nick}@{GW}"), timeout=WAIT, since=since,
                 what=f"message from {peer.nick}@{GW} after the restart")
    assert text(child(m, NS_CLIENT, "body")) == "welcome back"

    since = peer.mark()
    c.send(f"<message type='chat' to='{peer.nick}@{GW}'><body>glad to be back</body></message>")
    line = peer.expect(lambda m: m.command == "PRIVMSG" and m.nick == nick, timeout=WAIT,
                       since=since, what=f"PRIVMSG from {nick}")
    assert line.params[-1] == "glad to be back", line.raw


def test_sigterm_restart(env):
    _restart_brings_session_back(env, signal.SIGTERM, "rsterm")


def test_sigkill_restart(env):
    _restart_brings_session_back(env, signal.SIGKILL, "rskill")
