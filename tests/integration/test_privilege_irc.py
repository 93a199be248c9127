"""XEP-0356 roster permission with IRC as the legacy network: the host
server (Prosody with mod_privilege) grants gw.localhost roster 'both'.  An
IRC contact list changes when the user adds or removes a nick (XEP-0100
§4.6, §4.7); with the permission the gateway names the added contact and
puts it in the network's group on the user's roster (XEP-0356 §4.3), a
login that changes nothing pushes nothing, and unregistering takes the
contacts off the roster."""

from pathlib import Path

import harness
from harness import (COMPONENT_JID, NS_PING, NS_ROSTER, WAIT, Skip, bare, child, children, is_stanza,
                     match, register_set, registered_username, tostr, wait_until)
from legacy_servers import IrcClient, IrcServer, online_user, send_available, wait_transport_online

GW = COMPONENT_JID
NETWORK = "IRC"  # [legacy] name of the standard setup: the group's name
PRIVILEGES = {GW: {"roster": "both", "message": "outgoing"}}


def setup(name):
    if not Path("/usr/lib/prosody/modules/mod_privilege").is_dir():
        raise Skip("prosody-modules (mod_privilege) is not installed")
    if not IrcServer.available():
        raise Skip("inspircd is not installed")
    return harness.standard_setup(name, privileges=PRIVILEGES)


def roster_item(c, jid):
    """`jid`'s item on `c`'s roster (read now), or None."""
    q = child(c.fetch_roster(), NS_ROSTER, "query")
    for i in children(q, NS_ROSTER, "item"):
        if bare(i.get("jid")) == jid.lower():
            return i
    return None


def contact_push(jid=None, removed=False):
    """Predicate: a roster push of the gateway's contact `jid` (None: any
    contact), as the gateway sets it (named, in the network's group,
    subscribed both ways) or removed."""
    def pred(el):
        if not is_stanza(el, "iq") or el.get("type") != "set":
            return False
        q = child(el, NS_ROSTER, "query")
        for i in children(q, NS_ROSTER, "item") if q is not None else ():
            ijid = bare(i.get("jid"))
            if not (ijid == jid.lower() if jid else ijid.endswith("@" + GW)):
                continue
            if jid is None:
                return True
            if removed:
                return i.get("subscription") == "remove"
            return (i.get("subscription") == "both"
                    and [g.text for g in children(i, NS_ROSTER, "group")] == [NETWORK])
        return False
    pred.__doc__ = f"roster push of {jid or 'a contact'}" + (" (removed)" if removed else "")
    return pred


def barrier(c):
    """Everything the gateway sent before has arrived: two pings it answers."""
    for _ in range(2):
        r = c.iq(f"<iq type='get' to='{GW}'><ping xmlns='{NS_PING}'/></iq>")
        assert r.get("type") == "result", f"ping to the gateway: {tostr(r)}"


def add_contact(c, nick):
    """The user adds the IRC nick `nick` (XEP-0100 §4.6.1: IRC approves at
    once) and the gateway's roster push for it arrives."""
    jid = f"{nick}@{GW}"
    since = c.mark()
    c.send(f"<presence type='subscribe' to='{jid}'/>")
    c.expect(match("presence", type="subscribed", frm=jid), timeout=WAIT, since=since)
    c.expect(contact_push(jid), timeout=WAIT, since=since, what=f"roster push of {jid}")
    return jid


def test_added_contact_named_and_grouped(env):
    peer = env.track(IrcClient(env.irc.port, "pcarl"))
    c = online_user(env, env.user("xpa"), "pauser")
    jid = add_contact(c, "pcarl")
    item = roster_item(c, jid)
    assert item is not None and item.get("name") == "pcarl" and item.get("subscription") == "both" \
        and [g.text for g in children(item, NS_ROSTER, "group")] == [NETWORK], \
        f"{jid} not on the roster as the gateway sets it: {tostr(item) if item is not None else None}"
    c.expect(lambda el: is_stanza(el, "presence") and bare(el.get("from")) == jid and el.get("type") is None,
             timeout=WAIT, what=f"available presence from {jid}")
    peer.close()


def test_relogin_quiet_and_unregister_removes(env):
    peer = env.track(IrcClient(env.irc.port, "pdora"))
    c = online_user(env, env.user("xpb"), "pbuser")
    jid = add_contact(c, "pdora")
    # Log out (the nick leaves IRC) and in again: the roster is read and
    # nothing differs.
    c.send("<presence type='unavailable'/>")
    peer.wait_online("pbuser", want=False, timeout=WAIT)
    since = c.mark()
    send_available(c)
    wait_transport_online(c, GW, since)
    barrier(c)
    c.nothing(contact_push(), wait=0, since=since, what="a roster push at the second login")

    since = c.mark()
    r = register_set(c, "<query xmlns='jabber:iq:register'><remove/></query>", to=GW)
    assert r.get("type") == "result", f"unregistering: {tostr(r)}"
    c.expect(contact_push(jid, removed=True), timeout=WAIT, since=since,
             what=f"{jid} removed at unregistration")
    wait_until(lambda: roster_item(c, jid) is None, WAIT, 0.2, what=f"{jid} gone from the roster")
    assert registered_username(c) is None
    peer.close()
