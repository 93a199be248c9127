"""XEP-0356 Privileged Entity: the host server (Prosody with mod_privilege
from Debian's prosody-modules) grants the gateway roster 'both' and message
'outgoing' for the users of localhost.  With the roster permission the
gateway keeps the user's roster in step with the legacy contact list
(XEP-0356 §4.3): contacts appear with their name and a group named after
the network, without a subscription request (XEP-0100 §5.1 otherwise), are
renamed and removed as the legacy list changes, and leave the roster when
the user unregisters; a login that changes nothing pushes nothing.  Users
of another domain keep the subscription flow (§4.3: privileges cover the
server's own users only).  The legacy network is XMPP (prpl-jabber to
legacy.localhost), whose contact lists are real server-side rosters."""

from pathlib import Path

from harness import (NS_CLIENT, NS_STANZAS, Skip, assert_error, NS_PING, NS_ROSTER, OTHER_DOMAIN, WAIT, bare, child, children,
                     is_stanza, match, register_set, registered_username, tostr, wait_until)
from legacy_servers import (LEGACY_DOMAIN, XMPP_GW, online_user, send_available,
                            wait_transport_online, xmpp_env)
from test_adhoc import execute, answer, fields, form_of
from test_xmpp_legacy import befriend, contact_jid, legacy, roster_items

GW = XMPP_GW
TIMEOUT = 90
NETWORK = "XMPP"  # [legacy] name of the xmpp_env purplegate: the group's name
ADMIN_USER = "privadmin"
PRIVILEGES = {GW: {"roster": "both", "message": "outgoing"}}


def setup(name):
    if not Path("/usr/lib/prosody/modules/mod_privilege").is_dir():
        raise Skip("prosody-modules (mod_privilege) is not installed")
    return xmpp_env(name, overrides={"admin": {"jids": f"{ADMIN_USER}@localhost"},
                                     "registration": {"allowed_domains": f"localhost;{OTHER_DOMAIN}"}},
                    privileges=PRIVILEGES)


# ---------------------------------------------------------------------------
# helpers


def item_of(el, jid):
    """The <item/> for `jid` in a roster push `el`, or None."""
    if not is_stanza(el, "iq") or el.get("type") != "set":
        return None
    q = child(el, NS_ROSTER, "query")
    for i in children(q, NS_ROSTER, "item") if q is not None else ():
        if bare(i.get("jid")) == jid.lower():
            return i
    return None


def roster_push(jid, name=None, removed=False):
    """Predicate: a roster push (RFC 6121 §2.1.6) of `jid`, named `name`
    in the network's group and subscribed both ways, or its removal."""
    def pred(el):
        i = item_of(el, jid)
        if i is None:
            return False
        if removed:
            return i.get("subscription") == "remove"
        return (i.get("subscription") == "both" and (name is None or i.get("name") == name)
                and [g.text for g in children(i, NS_ROSTER, "group")] == [NETWORK])
    pred.__doc__ = f"roster push of {jid}" + (" (removed)" if removed else f" named {name!r}")
    return pred


def contact_roster_push(el):
    """Predicate: a roster push of any contact of the gateway."""
    if not is_stanza(el, "iq") or el.get("type") != "set":
        return False
    q = child(el, NS_ROSTER, "query")
    return q is not None and any((i.get("jid") or "").lower().endswith("@" + GW)
                                 for i in children(q, NS_ROSTER, "item"))


def barrier(c):
    """Everything purplegate sent the user before has arrived: a ping the
    gateway answers, twice (the second one is handled after everything
    the first one's answer overtook at the server)."""
    for _ in range(2):
        r = c.iq(f"<iq type='get' to='{GW}'><ping xmlns='{NS_PING}'/></iq>")
        assert r.get("type") == "result", f"ping to the gateway: {tostr(r)}"


def carol_and_dave(env, name="Dave D."):
    """carolN on legacy.localhost with daveN on her roster, both ways;
    carol's client closed again (purplegate logs her in), dave's stays.
    Returns (carol_bare, carol_password, dave)."""
    carol = legacy(env, "carol")
    dave = legacy(env, "dave")
    befriend(carol, dave, name)
    carol.close()
    return carol.bare, env.prosody.users[carol.bare], dave


def online_with_dave(env, name="Dave D."):
    """A localhost user logged in through carol; dave's roster push seen.
    Returns (u, dave, dave_jid, carol_bare, since) with `since` the mark
    taken before the login."""
    carol, pw, dave = carol_and_dave(env, name)
    dave_jid = contact_jid(dave.bare)
    u = online_user(env, env.user("ux"), carol.split("@")[0], pw, gw=GW, wait_transport=False)
    u.expect(roster_push(dave_jid, name), timeout=2 * WAIT, what=f"roster push of {dave_jid}")
    return u, dave, dave_jid, carol


def carol_client(env, carol):
    """A second client of carol's (never available) to change her roster."""
    return env.client(carol.split("@")[0], host=LEGACY_DOMAIN, resource="edit")


# ---------------------------------------------------------------------------
# tests


def granted(env):
    """The privilege fields of the stats command: (server, namespace,
    roster, message)."""
    boss = env.client(ADMIN_USER, resource=env.user("console"))
    cmd = answer(execute(boss, "urn:purplegate:stats", "execute"), "completed")
    f = fields(form_of(cmd))
    boss.close()
    return tuple((f.get(var) or [None])[0] for var in
                 ("privilegeserver", "privilegenamespace", "privilegeroster", "privilegemessage"))


def test_grant_shown_in_statistics(env):
    # What the host server granted is shown to operators.
    assert granted(env) == ("localhost", "urn:xmpp:privilege:2", "both", "outgoing"), \
        f"grant not shown: {granted(env)}"


def test_grant_from_a_user_refused(env):
    # XEP-0356 §4.2: only the server grants; a user's look-alike is refused
    # and changes nothing.
    u = env.client(env.user("spoof"))
    since = u.mark()
    u.send(f"<message to='{GW}' id='sp1'><privilege xmlns='urn:xmpp:privilege:2'>"
           f"<perm access='roster' type='none'/><perm access='message' type='none'/></privilege></message>")
    err = u.expect(match("message", type="error", id="sp1"), timeout=WAIT, since=since,
                   what="an error for the look-alike grant")
    assert_error(err, "sp1", "forbidden", "auth", frm=GW)
    assert granted(env) == ("localhost", "urn:xmpp:privilege:2", "both", "outgoing"), \
        f"a user's message changed the grant: {granted(env)}"


def test_contacts_join_roster_without_subscription(env):
    u, dave, dave_jid, _ = online_with_dave(env)
    barrier(u)
    # XEP-0356 §4.3 instead of XEP-0100 §5.1: no request to approve.
    u.nothing(match("presence", type="subscribe", frm=dave_jid), wait=0, since=0,
              what=f"subscribe from {dave_jid}")
    item = roster_items(u).get(dave_jid.lower())
    assert item is not None and item.get("name") == "Dave D." and item.get("subscription") == "both", \
        f"{dave_jid} not on the roster as pushed: {tostr(item) if item is not None else None}"
    # The contact's presence reaches the user through the roster item.
    u.expect(lambda el: match("presence", frm=None)(el) and bare(el.get("from")) == dave_jid.lower()
             and el.get("type") is None, timeout=WAIT, since=0,
             what=f"available presence from {dave_jid}")


def test_rename_and_remove_in_step(env):
    u, dave, dave_jid, carol = online_with_dave(env)
    edit = carol_client(env, carol)
    # Renamed into another group of the legacy roster (prpl-jabber moves
    # the contact), then renamed where it is.
    for name in ("Dave Renamed", "Dave Again"):
        since = u.mark()
        r = edit.iq(f"<iq type='set'><query xmlns='{NS_ROSTER}'><item jid='{dave.bare}' name='{name}'>"
                    f"<group>Friends</group></item></query></iq>")
        assert r.get("type") == "result", f"renaming on the legacy roster: {tostr(r)}"
        u.expect(roster_push(dave_jid, name), timeout=WAIT, since=since,
                 what=f"{dave_jid} renamed {name!r} on the user's roster")

    since = u.mark()
    r = edit.iq(f"<iq type='set'><query xmlns='{NS_ROSTER}'><item jid='{dave.bare}' subscription='remove'/>"
                f"</query></iq>")
    assert r.get("type") == "result", f"removing from the legacy roster: {tostr(r)}"
    u.expect(roster_push(dave_jid, removed=True), timeout=WAIT, since=since,
             what=f"{dave_jid} removed from the user's roster")
    wait_until(lambda: dave_jid.lower() not in roster_items(u), WAIT, 0.2,
               what=f"{dave_jid} gone from the user's roster")
    barrier(u)
    u.nothing(lambda el: match("presence", frm=None)(el) and bare(el.get("from")) == dave_jid.lower()
              and el.get("type") in ("unsubscribe", "unsubscribed", "subscribe"), wait=0, since=since,
              what=f"subscription presence from {dave_jid}")


def test_second_login_makes_no_pushes(env):
    u, dave, dave_jid, carol = online_with_dave(env)
    barrier(u)
    # Log out: dave sees carol's legacy login close.
    since = dave.mark()
    u.send("<presence type='unavailable'/>")
    dave.expect(lambda el: match("presence", type="unavailable")(el) and bare(el.get("from")) == carol,
                timeout=WAIT, since=since, what=f"unavailable from {carol} at dave")
    since = u.mark()
    send_available(u)
    wait_transport_online(u, GW, since)
    # The roster is read at the login and nothing differs.
    barrier(u)
    u.nothing(contact_roster_push, wait=0, since=since, what="a roster push at the second login")


def test_unregister_removes_contacts(env):
    u, dave, dave_jid, _ = online_with_dave(env)
    since = u.mark()
    r = register_set(u, "<query xmlns='jabber:iq:register'><remove/></query>", to=GW)
    assert r.get("type") == "result", f"unregistering: {tostr(r)}"
    u.expect(roster_push(dave_jid, removed=True), timeout=WAIT, since=since,
             what=f"{dave_jid} removed at unregistration")
    wait_until(lambda: dave_jid.lower() not in roster_items(u), WAIT, 0.2,
               what=f"{dave_jid} gone from the user's roster")
    assert registered_username(u, to=GW) is None


def test_privileges_cover_own_domain_only(env):
    # localhost's user gets the roster push; a user of otherdomain.localhost
    # (which granted nothing) gets the subscription request of XEP-0100
    # §5.1 as before, and no push.
    online_with_dave(env, "Dave L.")
    carol, pw, dave = carol_and_dave(env, "Dave O.")
    dave_jid = contact_jid(dave.bare)
    u = online_user(env, env.user("uo"), carol.split("@")[0], pw, gw=GW, wait_transport=False,
                    host=OTHER_DOMAIN)
    u.expect(match("presence", type="subscribe", frm=dave_jid), timeout=2 * WAIT,
             what=f"subscribe from {dave_jid}")
    barrier(u)
    u.nothing(contact_roster_push, wait=0, since=0, what="a roster push to a user of another domain")


def test_grant_read_again_on_every_stream(env):
    # The grant belongs to the stream: a host server that comes back
    # without privileges leaves none, and one that grants again is read again.
    try:
        for privileges, want in (({}, ("", "", "none", "none")),
                                 (PRIVILEGES, ("localhost", "urn:xmpp:privilege:2", "both", "outgoing"))):
            env.prosody.stop()
            env.prosody.privileges = dict(privileges)
            env.prosody.write_config()
            env.prosody.start()
            env.wait_linked()
            wait_until(lambda: granted(env) == want, WAIT, 0.2, what=f"statistics showing {want}")
    finally:
        if env.prosody.privileges != PRIVILEGES:
            env.prosody.stop()
            env.prosody.privileges = dict(PRIVILEGES)
            env.prosody.write_config()
            env.prosody.start()
            env.wait_linked()
