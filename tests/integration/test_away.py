"""IRC contacts' away state as their presence, on an InspIRCd that offers
the IRCv3 away-notify capability (its modules cap and ircv3): a contact who
shares a channel with the user is told by the server at once (README,
"Away state of IRC contacts"), one who does not by the bounded check."""

from harness import COMPONENT_JID, NS_CLIENT, IrcServer, Skip, child, is_stanza, setup_env, tostr
from harness import WAIT
from legacy_servers import (CHECK_GAP_S, IrcClient, add_irc_contact, no_stray_messages,
                            online_user, presence_of)

GW = COMPONENT_JID
TIMEOUT = 150
NS_MUC = "http://jabber.org/protocol/muc"
NS_MUC_USER = NS_MUC + "#user"

# What away-notify is allowed: well under one check line.
NOTIFY_WAIT = 8

AWAY_NOTIFY = """\
<module name="cap">
<module name="ircv3">
<ircv3 awaynotify="yes">
"""


def setup(name):
    if not IrcServer.available():
        raise Skip("inspircd is not installed")

    def start(env):
        env.irc = IrcServer(env.tmp / "ircd", extra_conf=AWAY_NOTIFY).start()
        env.start_standard()

    return setup_env(name, start)


def _peer(env, nick):
    return env.track(IrcClient(env.irc.port, nick))


def test_away_notify_in_shared_channel(env):
    peer = _peer(env, "anpeer")
    peer.send("JOIN #awayroom")
    peer.expect(lambda m: m.command == "366", timeout=WAIT, what="peer's JOIN done")
    c = online_user(env, env.user("xan"), "anuser")
    add_irc_contact(c, "anpeer")
    since = c.mark()
    c.send(f"<presence to='#awayroom@{GW}/anuser'><x xmlns='{NS_MUC}'/></presence>")
    c.expect(lambda el: is_stanza(el, "presence") and el.get("from") == f"#awayroom@{GW}/anuser"
             and child(el, NS_MUC_USER, "x") is not None, timeout=2 * WAIT, since=since,
             what="the user's own presence in #awayroom")
    # The subject message ends the join (XEP-0045 §7.2.15).
    c.expect(lambda el: is_stanza(el, "message") and el.get("from") == f"#awayroom@{GW}"
             and child(el, NS_CLIENT, "subject") is not None, timeout=2 * WAIT, since=since,
             what="the subject of #awayroom")
    peer.expect(lambda m: m.command == "JOIN" and m.nick == "anuser", timeout=WAIT,
                what="the user joining #awayroom")

    since = c.mark()
    # mIRC formatting (underline) is no part of the status.
    peer.send("AWAY :\x1fgone\x1f fishing")
    p = c.expect(presence_of(f"anpeer@{GW}", "away", "gone fishing"), timeout=NOTIFY_WAIT,
                 since=since, what="anpeer away at once (away-notify)")
    assert p.get("to", "").split("/")[0] == c.bare, f"not to the user: {tostr(p)}"

    peer.send("AWAY")
    c.expect(presence_of(f"anpeer@{GW}", None), timeout=NOTIFY_WAIT, since=since,
             what="anpeer back at once (away-notify)")
    no_stray_messages(c, peer, "anuser", since)


def test_check_beside_away_notify(env):
    # A contact in no shared channel: away-notify does not tell, the
    # check does, within its bound.
    peer = _peer(env, "cnpeer")
    c = online_user(env, env.user("xcn"), "cnuser")
    add_irc_contact(c, "cnpeer")
    since = c.mark()
    peer.send("AWAY :\x02in\x02 a \x0304,01meeting\x03")
    c.expect(presence_of(f"cnpeer@{GW}", "away", "in a meeting"), timeout=2 * CHECK_GAP_S + WAIT,
             since=since, what="cnpeer away (the check)")
    peer.send("AWAY")
    c.expect(presence_of(f"cnpeer@{GW}", None), timeout=CHECK_GAP_S + WAIT, since=since,
             what="cnpeer back (the check)")
    no_stray_messages(c, peer, "cnuser", since)
