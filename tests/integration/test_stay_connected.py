"""Staying connected while the user is offline (README "Staying
connected", purplegate.conf(5) [registration] stay_connected): with the
user's setting on, the IRC login and its channels stay when the last
resource leaves; an IRC contact's messages go to the user's bare JID, where
Prosody's offline store keeps them (RFC 6121 §8.5.2.2.1), and the channel's
messages go into the room's backlog, given as XEP-0045 §7.2.14 history with
XEP-0203 <delay/> to the next resource that joins, each once.  The same
across a purplegate restart while the user is offline; with the setting off,
the nick leaves IRC as before.  The IRC side is raw IRC clients (WHOIS,
JOIN/PART/QUIT lines); the XMPP side real slixmpp clients."""

import sqlite3

from harness import COMPONENT_JID, NS_CLIENT, NS_XDATA, child, children, standard_setup, tostr, wait_until, xml_escape
from harness import WAIT
from legacy_servers import IrcClient, chat_from, online_user, send_available, wait_transport_online
from test_groupchat import groupchat, irc_join, irc_lines, join, leave, ping_gateway, room, sees_join

GW = COMPONENT_JID
TIMEOUT = 180

ADMIN_USER = "stayboss"
ADMIN_JID = f"{ADMIN_USER}@localhost"
NS_COMMANDS = "http://jabber.org/protocol/commands"
NS_DELAY = "urn:xmpp:delay"
SETTINGS = "urn:purplegate:settings"
STATS = "urn:purplegate:stats"

OVERRIDES = {
    "legacy-settings": {"ratelimit-interval": "0", "ratelimit-burst": "1000000"},
    "admin": {"jids": ADMIN_JID},
}


def setup(name):
    return standard_setup(name, overrides=OVERRIDES)


# ---------------------------------------------------------------------------
# helpers


def command(c, node, action=None, sessionid=None, form=""):
    attrs = f" node='{node}'"
    if action:
        attrs += f" action='{action}'"
    if sessionid:
        attrs += f" sessionid='{sessionid}'"
    r = c.iq(f"<iq type='set' to='{GW}'><command xmlns='{NS_COMMANDS}'{attrs}>{form}</command></iq>")
    assert r.get("type") == "result", f"command {node} failed: {tostr(r)}"
    return child(r, NS_COMMANDS, "command")


def form_fields(cmd):
    x = child(cmd, NS_XDATA, "x")
    assert x is not None, f"no form: {tostr(cmd)}"
    return {f.get("var"): [v.text or "" for v in children(f, NS_XDATA, "value")]
            for f in children(x, NS_XDATA, "field")}


def set_stay(c, on):
    """The settings command with "stay connected" set to `on`."""
    first = command(c, SETTINGS, "execute")
    assert first.get("status") == "executing", tostr(first)
    fields = form_fields(first)
    assert fields.get("stay-connected") == ["false"], f"stay-connected not offered off: {fields}"
    form = (f"<x xmlns='{NS_XDATA}' type='submit'><field var='FORM_TYPE' type='hidden'>"
            f"<value>{SETTINGS}</value></field><field var='stay-connected'>"
            f"<value>{'true' if on else 'false'}</value></field></x>")
    done = command(c, SETTINGS, "complete", first.get("sessionid"), form)
    assert done.get("status") == "completed", tostr(done)
    again = form_fields(command(c, SETTINGS, "execute"))
    assert again.get("stay-connected") == ["true" if on else "false"], again


ADMIN = "http://jabber.org/protocol/admin"


def held_logins(boss):
    cmd = command(boss, STATS, "execute")
    return int(form_fields(cmd)["legacyheld"][0])


def is_held(boss, bare_jid):
    """The admin's list of online users says `bare_jid`'s login is kept
    while they are offline."""
    lines = form_fields(command(boss, f"{ADMIN}#get-online-users-list", "execute")).get("legacystates", [])
    return any(line.startswith(bare_jid + ":") and "kept while the user is offline" in line for line in lines)


def wait_held(boss, bare_jid):
    """purplegate handled the user's leaving: their login is kept, and the
    statistics count it."""
    wait_until(lambda: is_held(boss, bare_jid), timeout=2 * WAIT, interval=0.3,
               what=f"the login of {bare_jid} kept while they are offline")
    assert held_logins(boss) >= 1


def peer(env, nick):
    return env.track(IrcClient(env.irc.port, nick))


def user_with_stay(env, nick, resource="first"):
    c = online_user(env, env.user("s" + nick), nick, resource=resource)
    set_stay(c, True)
    return c


def come_back(env, c, resource):
    """Another client of `c`'s account that logs in (available presence)."""
    back = env.client(c.bare.split("@")[0], resource=resource, roster=True)
    since = back.mark()
    send_available(back)
    wait_transport_online(back, GW, since)
    return back


def count(c, pred, since=0):
    return len([el for el in c.transcript.elements()[since:] if pred(el)])


def assert_history(j, chan, nick, bodies):
    """The join's history ends with `bodies` from `nick`, each once, each
    with a delay from the room and a stamp."""
    got = [(el.get("from") or "").split("/", 1)[-1].lower() + ":" + (child(el, NS_CLIENT, "body").text or "")
           for el in j.history]
    tail = got[-len(bodies):]
    assert tail == [f"{nick.lower()}:{b}" for b in bodies], f"history {got}, wanted {bodies} last"
    for b in bodies:
        assert got.count(f"{nick.lower()}:{b}") == 1, f"{b!r} not exactly once in history: {got}"
    for el in j.history:
        d = child(el, NS_DELAY, "delay")
        assert d is not None and (d.get("from") or "").lower() == room(chan) and d.get("stamp"), \
            f"history without <delay from=room stamp/>: {tostr(el)}"


def backlog_bodies(env, chan):
    """What the store keeps of the channel's backlog (it outlives a restart)."""
    path = env.purplegate.settings["database"]["path"]
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
        return [r[0] for r in db.execute("SELECT body FROM room_backlog WHERE room = ? ORDER BY seq",
                                         (room(chan),)).fetchall()]


def stored_rooms(env, bare_jid):
    path = env.purplegate.settings["database"]["path"]
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
        return [r[0] for r in db.execute("SELECT room FROM rooms WHERE bare_jid = ?", (bare_jid,)).fetchall()]


def write_while_away(bob, nick, chan, bodies_room, bodies_chat):
    """bob writes in the channel, then to the offline user: the IRC server
    sends them in that order on the user's connection, so once the one-to-one
    messages arrive, purplegate has handled the channel's."""
    for b in bodies_room:
        bob.privmsg(chan, b)
    for b in bodies_chat:
        bob.privmsg(nick, b)
    assert bob.whois(nick) is not None, f"{nick} left IRC while the user is offline"


# ---------------------------------------------------------------------------
# tests


def test_setting_off_nick_leaves(env):
    bob = peer(env, "offbob")
    irc_join(bob, "#off")
    c = online_user(env, env.user("off"), "offalice")
    join(c, "#off", "offalice")
    since = bob.mark()
    c.close()
    bob.expect(lambda m: m.command in ("PART", "QUIT") and (m.nick or "").lower() == "offalice",
               timeout=2 * WAIT, since=since, what="offalice leaving IRC with the user")
    bob.wait_online("offalice", want=False)


def test_stay_connected_while_offline(env):
    boss = env.client(ADMIN_USER, resource="console")
    bob = peer(env, "stbob")
    irc_join(bob, "#stay")
    c = user_with_stay(env, "stalice")
    since_irc = bob.mark()
    join(c, "#stay", "stalice")
    sees_join(bob, "stalice", "#stay", since_irc)
    c.close()
    wait_held(boss, c.bare)

    write_while_away(bob, "stalice", "#stay", ["while away 1", "while away 2"],
                     ["are you there?", "second note"])
    gone = irc_lines(bob, lambda m: m.command in ("PART", "QUIT") and (m.nick or "").lower() == "stalice",
                     since_irc)
    assert gone == [], f"the user's nick left IRC: {[m.raw for m in gone]}"

    back = come_back(env, c, "back")
    for b in ("are you there?", "second note"):
        back.expect(chat_from(f"stbob@{GW}", b), timeout=2 * WAIT, what=f"offline message {b!r}")
    since_irc = bob.mark()
    j = join(back, "#stay", "stalice")
    assert_history(j, "#stay", "stbob", ["while away 1", "while away 2"])
    ping_gateway(back)
    for b in ("are you there?", "second note"):
        n = count(back, chat_from(f"stbob@{GW}", b))
        assert n == 1, f"{b!r} arrived {n} times"
    for b in ("while away 1", "while away 2"):
        n = count(back, groupchat("#stay", "stbob", b))
        assert n == 1, f"{b!r} arrived {n} times in the room"
    joins = irc_lines(bob, lambda m: m.command == "JOIN" and (m.nick or "").lower() == "stalice", since_irc)
    assert joins == [], f"a second legacy JOIN: {[m.raw for m in joins]}"
    assert not is_held(boss, c.bare)
    # Live again.
    since = back.mark()
    bob.privmsg("#stay", "welcome back")
    back.expect(groupchat("#stay", "stbob", "welcome back"), timeout=WAIT, since=since)


def test_stay_connected_across_restart(env):
    boss = env.client(ADMIN_USER, resource="console")
    bob = peer(env, "rsbob")
    irc_join(bob, "#rest")
    c = user_with_stay(env, "rsalice")
    since_irc = bob.mark()
    join(c, "#rest", "rsalice")
    sees_join(bob, "rsalice", "#rest", since_irc)
    c.close()
    wait_held(boss, c.bare)
    write_while_away(bob, "rsalice", "#rest", ["before restart"], ["note before restart"])
    wait_until(lambda: backlog_bodies(env, "#rest") == ["before restart"], timeout=2 * WAIT,
               interval=0.2, what="the channel's message in the store")

    since_irc = bob.mark()
    env.purplegate.stop()
    bob.wait_online("rsalice", want=False, timeout=2 * WAIT)
    env.purplegate.start()
    env.wait_linked()
    # Without the user: the login and the channel come back.
    bob.wait_online("rsalice", timeout=2 * WAIT)
    sees_join(bob, "rsalice", "#rest", since_irc)
    boss = env.client(ADMIN_USER, resource="console2")
    wait_held(boss, c.bare)
    write_while_away(bob, "rsalice", "#rest", ["after restart"], ["note after restart"])

    back = come_back(env, c, "back")
    for b in ("note before restart", "note after restart"):
        back.expect(chat_from(f"rsbob@{GW}", b), timeout=2 * WAIT, what=f"offline message {b!r}")
    since_irc = bob.mark()
    j = join(back, "#rest", "rsalice")
    assert_history(j, "#rest", "rsbob", ["before restart", "after restart"])
    ping_gateway(back)
    for b in ("note before restart", "note after restart"):
        n = count(back, chat_from(f"rsbob@{GW}", b))
        assert n == 1, f"{b!r} arrived {n} times"
    joins = irc_lines(bob, lambda m: m.command == "JOIN" and (m.nick or "").lower() == "rsalice", since_irc)
    assert joins == [], f"a second legacy JOIN: {[m.raw for m in joins]}"


def test_end_user_session_ends_kept_login(env):
    boss = env.client(ADMIN_USER, resource="console")
    bob = peer(env, "enbob")
    c = user_with_stay(env, "enalice")
    c.close()
    wait_held(boss, c.bare)
    assert bob.whois("enalice") is not None
    first = command(boss, f"{ADMIN}#end-user-session", "execute")
    form = (f"<x xmlns='{NS_XDATA}' type='submit'><field var='FORM_TYPE' type='hidden'>"
            f"<value>{ADMIN}</value></field><field var='accountjids'>"
            f"<value>{xml_escape(c.bare)}</value></field></x>")
    done = command(boss, f"{ADMIN}#end-user-session", "complete",
                   first.get("sessionid"), form)
    assert done.get("status") == "completed", tostr(done)
    bob.wait_online("enalice", want=False, timeout=2 * WAIT)
    assert not is_held(boss, c.bare)
    # The setting stays: back, and offline again, the login is kept again.
    back = come_back(env, c, "back")
    assert form_fields(command(back, SETTINGS, "execute")).get("stay-connected") == ["true"]
    back.close()
    wait_held(boss, c.bare)
    assert bob.whois("enalice") is not None


def test_leaving_a_room_while_online_parts(env):
    """With the setting on, a client that leaves a room and stays online
    has left it: PART on IRC (XEP-0045 §7.14), and the room is not joined
    again for it."""
    bob = peer(env, "lvbob")
    irc_join(bob, "#leave")
    c = user_with_stay(env, "lvalice")
    since_irc = bob.mark()
    join(c, "#leave", "lvalice")
    sees_join(bob, "lvalice", "#leave", since_irc)
    leave(c, "#leave", "lvalice")
    bob.expect(lambda m: m.command == "PART" and (m.nick or "").lower() == "lvalice",
               timeout=2 * WAIT, since=since_irc, what="PART after the user left the room")
    assert bob.whois("lvalice") is not None, "the login went with the room"
    wait_until(lambda: backlog_bodies(env, "#leave") == [] and not stored_rooms(env, c.bare),
               timeout=WAIT, interval=0.2, what="the room forgotten by the store")


def restart_with(env, stay_connected):
    env.purplegate.stop()
    env.purplegate.settings.setdefault("registration", {})["stay_connected"] = stay_connected
    env.purplegate.write_config()
    env.purplegate.start()
    env.wait_linked()


def test_operator_keeps_every_login(env):
    """[registration] stay_connected = on: every user's login stays, and the
    Settings command does not offer the choice."""
    restart_with(env, "on")
    try:
        boss = env.client(ADMIN_USER, resource="console")
        bob = peer(env, "opbob")
        c = online_user(env, env.user("op"), "opalice")
        fields = form_fields(command(c, SETTINGS, "execute"))
        assert "stay-connected" not in fields, f"the choice is offered: {fields}"
        since_irc = bob.mark()
        c.close()
        wait_held(boss, c.bare)
        assert bob.whois("opalice") is not None, "opalice left IRC with the user"
        gone = irc_lines(bob, lambda m: m.command == "QUIT" and (m.nick or "").lower() == "opalice", since_irc)
        assert gone == [], [m.raw for m in gone]
    finally:
        restart_with(env, "ask")
