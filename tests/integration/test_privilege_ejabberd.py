"""XEP-0356 roster permission with ejabberd as the host server: Debian's
ejabberd 23.01 grants roster 'both' (urn:xmpp:privilege:1), reads the
user's roster for the gateway, but answers every privileged roster change
with internal-server-error.  The gateway then stops using the roster
permission on that stream and falls back to XEP-0100 §5.1: the contact asks
for a subscription, and the statistics show what is still used."""

from ejabberd import ejabberd_setup
from harness import COMPONENT_JID, USER_DOMAIN, WAIT, child, children, match, text, tostr, wait_until
from legacy_servers import IrcClient, online_user

GW = COMPONENT_JID
TIMEOUT = 90
ADMIN = "admin"
NS_COMMANDS = "http://jabber.org/protocol/commands"
NS_XDATA = "jabber:x:data"


def setup(name):
    return ejabberd_setup(name, privileges=True, overrides={"admin": {"jids": f"{ADMIN}@{USER_DOMAIN}"}})


def roster_permission(env):
    """The roster permission the statistics command shows."""
    boss = env.client(ADMIN, resource=env.user("console"))
    r = boss.iq(f"<iq type='set' to='{GW}'><command xmlns='{NS_COMMANDS}' node='urn:purplegate:stats' "
                f"action='execute'/></iq>")
    boss.close()
    assert r.get("type") == "result", f"statistics: {tostr(r)}"
    x = child(child(r, NS_COMMANDS, "command"), NS_XDATA, "x")
    for f in children(x, NS_XDATA, "field"):
        if f.get("var") == "privilegeroster":
            return text(child(f, NS_XDATA, "value"))
    return None


def test_refused_roster_change_falls_back_to_subscription(env):
    assert roster_permission(env) == "both", "ejabberd's grant not read"
    peer = env.track(IrcClient(env.irc.port, "pecarl"))
    c = online_user(env, env.user("xpe"), "peuser")
    jid = f"pecarl@{GW}"
    since = c.mark()
    c.send(f"<presence type='subscribe' to='{jid}'/>")
    c.expect(match("presence", type="subscribed", frm=jid), timeout=WAIT, since=since)
    # The push is refused: the contact asks, as without privileges.
    c.expect(match("presence", type="subscribe", frm=jid), timeout=WAIT, since=since,
             what=f"subscribe from {jid} after the refused roster change")
    wait_until(lambda: roster_permission(env) == "get", WAIT, 0.5,
               what="statistics showing the roster permission read-only")
    peer.close()
