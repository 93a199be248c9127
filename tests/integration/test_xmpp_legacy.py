"""Legacy sessions with XMPP as the legacy network: a second Prosody virtual host,
legacy.localhost, reached through libpurple's prpl-jabber by purplegate
serving xmpp.localhost.  The legacy accounts' rosters are prepared by
logging them in with slixmpp; every check is made by a real client at the
far end (the XMPP user on localhost, or the legacy contacts' own clients on
legacy.localhost)."""

from harness import (NS_CLIENT, NS_STANZAS, NS_ROSTER, assert_error, bare, child, children,
                     is_stanza, match, register_legacy, register_set, registered_username, text, tostr,
                     wait_until)
from harness import WAIT
from legacy_servers import (LEGACY_DOMAIN, XMPP_GW, chat_from, is_presence_from, online_user,
                            registered_user, send_available, xmpp_env)

GW = XMPP_GW
TIMEOUT = 60
NS_NICK = "http://jabber.org/protocol/nick"
NS_CHATSTATES = "http://jabber.org/protocol/chatstates"


def setup(name):
    return xmpp_env(name)


def contact_jid(legacy_bare):
    """XEP-0106: the legacy JID as the localpart of a contact JID."""
    return legacy_bare.replace("@", "\\40") + "@" + GW


def legacy(env, prefix, **kw):
    """A fresh legacy.localhost account, logged in with slixmpp (roster
    fetched and available by default)."""
    kw.setdefault("roster", True)
    kw.setdefault("presence", True)
    return env.client(env.user(prefix), host=LEGACY_DOMAIN, **kw)


def roster_items(c):
    r = c.fetch_roster()
    q = child(r, NS_ROSTER, "query")
    return {bare(i.get("jid")): i for i in children(q, NS_ROSTER, "item")}


def befriend(a, b, name=None):
    """Mutual subscription between the legacy clients a and b (both
    available with their roster fetched); a's roster item for b gets
    `name`."""
    attr = f" name='{name}'" if name else ""
    r = a.iq(f"<iq type='set'><query xmlns='{NS_ROSTER}'><item jid='{b.bare}'{attr}/>"
             f"</query></iq>")
    assert r.get("type") == "result", f"roster set failed: {tostr(r)}"
    since_a, since_b = a.mark(), b.mark()
    a.send(f"<presence type='subscribe' to='{b.bare}'/>")
    b.expect(match("presence", type="subscribe", frm=a.bare), timeout=WAIT, since=since_b)
    b.send(f"<presence type='subscribed' to='{a.bare}'/>")
    b.send(f"<presence type='subscribe' to='{a.bare}'/>")
    a.expect(match("presence", type="subscribe", frm=b.bare), timeout=WAIT, since=since_a)
    a.send(f"<presence type='subscribed' to='{b.bare}'/>")
    wait_until(lambda: (roster_items(a).get(b.bare) is not None
                        and roster_items(a)[b.bare].get("subscription") == "both"),
               10, 0.2, what=f"{a.bare} and {b.bare} subscribed both ways")


def carol_with_friend(env, friend_name="Dave D.", friend_online=True):
    """carolN (the legacy account the user registers) with one friend daveN
    on her roster, subscribed both ways.  carol's own client is closed again
    (purplegate logs carol in); dave's stays (available unless
    friend_online is False).  Returns (carol_bare, carol_password, dave)."""
    carol = legacy(env, "carol")
    dave = legacy(env, "dave")
    befriend(carol, dave, friend_name)
    carol.close()
    if not friend_online:
        dave.send("<presence type='unavailable'/>")
    return carol.bare, env.prosody.users[carol.bare], dave


def test_roster_contacts_arrive_as_subscribe(env):
    carol, pw, dave = carol_with_friend(env)
    dave_jid = contact_jid(dave.bare)
    u = online_user(env, env.user("ux"), carol.split("@")[0], pw, gw=GW, wait_transport=False)
    sub = u.expect(match("presence", type="subscribe", frm=dave_jid), timeout=20,
                   what=f"subscribe from {dave_jid}")
    assert bare(sub.get("to")) == u.bare, f"subscribe not to the user: {tostr(sub)}"
    nick = child(sub, NS_NICK, "nick")
    assert nick is not None and text(nick) == "Dave D.", f"no XEP-0172 nick 'Dave D.': {tostr(sub)}"
    # The user approves and subscribes back: the contact's presence follows.
    since = u.mark()
    u.send(f"<presence type='subscribed' to='{dave_jid}'/>")
    u.send(f"<presence type='subscribe' to='{dave_jid}'/>")
    u.expect(match("presence", type="subscribed", frm=dave_jid), timeout=WAIT, since=since)
    u.expect(is_presence_from(dave_jid), timeout=WAIT, since=since,
             what=f"available presence from {dave_jid}")


def _online_with_dave(env):
    """User online through carol, dave subscribed both ways on the XMPP
    side too, dave's available presence seen.  Returns (u, dave, dave_jid,
    carol_bare)."""
    carol, pw, dave = carol_with_friend(env)
    dave_jid = contact_jid(dave.bare)
    u = online_user(env, env.user("ux"), carol.split("@")[0], pw, gw=GW, wait_transport=False)
    u.expect(match("presence", type="subscribe", frm=dave_jid), timeout=20,
             what=f"subscribe from {dave_jid}")
    since = u.mark()
    u.send(f"<presence type='subscribed' to='{dave_jid}'/>")
    u.send(f"<presence type='subscribe' to='{dave_jid}'/>")
    u.expect(is_presence_from(dave_jid), timeout=WAIT, since=since,
             what=f"available presence from {dave_jid}")
    return u, dave, dave_jid, carol


def test_presence_show_and_status_both_ways(env):
    u, dave, dave_jid, carol = _online_with_dave(env)
    # Legacy → user: dave goes away with a status.
    since = u.mark()
    dave.send("<presence><show>away</show><status>at lunch</status></presence>")
    p = u.expect(lambda el: is_presence_from(dave_jid)(el)
                 and text(child(el, NS_CLIENT, "show")) == "away", timeout=WAIT, since=since,
                 what=f"away presence from {dave_jid}")
    assert text(child(p, NS_CLIENT, "status")) == "at lunch", f"status: {tostr(p)}"
    # Every other <show/> (RFC 6121 §4.7.2.1) and the return reach the user.
    for show, status in (("xa", "gone home"), ("dnd", "in a call"), ("chat", "talk to me"),
                         (None, None)):
        since = u.mark()
        inner = (f"<show>{show}</show>" if show else "") + (f"<status>{status}</status>" if status else "")
        dave.send(f"<presence>{inner}</presence>")
        p = u.expect(lambda el: is_presence_from(dave_jid)(el)
                     and text(child(el, NS_CLIENT, "show")) == show, timeout=WAIT, since=since,
                     what=f"presence show={show} from {dave_jid}")
        assert text(child(p, NS_CLIENT, "status")) == status, f"status: {tostr(p)}"

    # User → legacy: dnd with a status; dave sees carol's presence so.
    since = dave.mark()
    send_available(u, show="dnd", status="busy coding")
    p = dave.expect(lambda el: is_presence_from(carol)(el)
                    and text(child(el, NS_CLIENT, "show")) == "dnd", timeout=WAIT, since=since,
                    what=f"dnd presence from {carol}")
    assert text(child(p, NS_CLIENT, "status")) == "busy coding", f"status: {tostr(p)}"

    # Back to plain available: no show, no status.
    since = dave.mark()
    send_available(u)
    p = dave.expect(lambda el: is_presence_from(carol)(el)
                    and child(el, NS_CLIENT, "show") is None, timeout=WAIT, since=since,
                    what=f"plain available presence from {carol}")
    assert not text(child(p, NS_CLIENT, "status")), f"status left over: {tostr(p)}"


def test_messages_and_typing_both_ways(env):
    u, dave, dave_jid, carol = _online_with_dave(env)
    # Legacy → user: composing, then a message.
    since = u.mark()
    dave.send(f"<message type='chat' to='{carol}'><composing xmlns='{NS_CHATSTATES}'/></message>")
    st = u.expect(lambda el: is_stanza(el, "message") and bare(el.get("from")) == dave_jid
                  and child(el, NS_CHATSTATES, "composing") is not None, timeout=WAIT, since=since,
                  what=f"<composing/> from {dave_jid}")
    assert child(st, NS_CLIENT, "body") is None, f"standalone state with a body: {tostr(st)}"
    assert st.get("type") == "chat", f"chat state not type chat: {tostr(st)}"
    dave.send(f"<message type='chat' to='{carol}'><body>hi &amp; &lt;hello&gt; ü</body>"
              f"<active xmlns='{NS_CHATSTATES}'/></message>")
    m = u.expect(chat_from(dave_jid), timeout=WAIT, since=since, what=f"message from {dave_jid}")
    assert text(child(m, NS_CLIENT, "body")) == "hi & <hello> ü", f"body: {tostr(m)}"
    assert m.get("type") == "chat", f"not type chat: {tostr(m)}"

    # User → legacy: composing, then a message.
    since = dave.mark()
    u.send(f"<message type='chat' to='{dave_jid}'><composing xmlns='{NS_CHATSTATES}'/></message>")
    st = dave.expect(lambda el: is_stanza(el, "message") and bare(el.get("from")) == carol
                     and child(el, NS_CHATSTATES, "composing") is not None, timeout=WAIT,
                     since=since, what=f"<composing/> from {carol}")
    u.send(f"<message type='chat' to='{dave_jid}'><body>reply &lt;&amp;&gt; é</body>"
           f"<active xmlns='{NS_CHATSTATES}'/></message>")
    m = dave.expect(chat_from(carol), timeout=WAIT, since=since, what=f"message from {carol}")
    assert text(child(m, NS_CLIENT, "body")) == "reply <&> é", f"body: {tostr(m)}"


def test_add_and_remove_contact(env):
    carol, pw, dave = carol_with_friend(env)
    erin = legacy(env, "erin")
    erin_jid = contact_jid(erin.bare)
    u = online_user(env, env.user("ux"), carol.split("@")[0], pw, gw=GW)
    # A second client of carol (never available) reads carol's roster.
    check = env.client(carol.split("@")[0], host=LEGACY_DOMAIN, resource="check")
    assert erin.bare not in roster_items(check), "erin on carol's roster before the test"

    since_e, since_u = erin.mark(), u.mark()
    u.send(f"<presence type='subscribe' to='{erin_jid}'/>")
    erin.expect(match("presence", type="subscribe", frm=carol), timeout=WAIT, since=since_e,
                what=f"subscribe from {carol} at erin")
    wait_until(lambda: erin.bare in roster_items(check), 10, 0.3,
               what=f"{erin.bare} on carol's roster")
    u.nothing(match("presence", type="unsubscribed", frm=erin_jid), wait=0.5, since=since_u)

    since_e = erin.mark()
    u.send(f"<presence type='unsubscribe' to='{erin_jid}'/>")
    wait_until(lambda: erin.bare not in roster_items(check), 10, 0.3,
               what=f"{erin.bare} gone from carol's roster")
    # Prosody tells erin her pending subscription request is withdrawn.
    erin.expect(lambda el: match("presence", frm=carol)(el)
                and el.get("type") in ("unsubscribe", "unsubscribed"), timeout=WAIT,
                since=since_e, what=f"unsubscribe/unsubscribed from {carol} at erin")


def test_contact_added_while_offline(env):
    # The user subscribes to a contact while registered but not logged in:
    # the legacy roster gets it at the next login.
    carol = legacy(env, "carol", presence=False, roster=False)
    carol.close()
    user = carol.bare.split("@")[0]
    erin = legacy(env, "erin")
    erin_jid = contact_jid(erin.bare)
    u = registered_user(env, env.user("ux"), user, env.prosody.users[carol.bare], gw=GW)
    since = u.mark()
    u.send(f"<presence type='subscribe' to='{erin_jid}'/>")
    u.expect(match("presence", type="subscribed", frm=erin_jid), timeout=WAIT, since=since)
    since_e = erin.mark()
    send_available(u)
    erin.expect(match("presence", type="subscribe", frm=carol.bare), timeout=20, since=since_e,
                what=f"subscribe from {carol.bare} at erin after the login")


def test_legacy_side_removal(env):
    # XEP-0100 §5.2.1: the contact is removed from the legacy roster (by carol's other
    # client) → unsubscribe, unsubscribed, unavailable from it.
    u, dave, dave_jid, carol = _online_with_dave(env)
    other = env.client(carol.split("@")[0], host=LEGACY_DOMAIN, resource="other")
    since = u.mark()
    r = other.iq(f"<iq type='set'><query xmlns='{NS_ROSTER}'><item jid='{dave.bare}' "
                 f"subscription='remove'/></query></iq>")
    assert r.get("type") == "result", tostr(r)
    for t in ("unsubscribe", "unsubscribed", "unavailable"):
        u.expect(match("presence", type=t, frm=dave_jid), timeout=WAIT, since=since,
                 what=f"{t} from {dave_jid}")


def test_legacy_authorization_request(env):
    carol, pw, dave = carol_with_friend(env)
    u = online_user(env, env.user("ux"), carol.split("@")[0], pw, gw=GW)
    frank = legacy(env, "frank")
    frank_jid = contact_jid(frank.bare)
    since = u.mark()
    frank.send(f"<presence type='subscribe' to='{carol}'/>")
    sub = u.expect(match("presence", type="subscribe", frm=frank_jid), timeout=WAIT, since=since,
                   what=f"subscribe from {frank_jid}")
    assert bare(sub.get("to")) == u.bare, tostr(sub)
    since_f = frank.mark()
    u.send(f"<presence type='subscribed' to='{frank_jid}'/>")
    frank.expect(match("presence", type="subscribed", frm=carol), timeout=WAIT, since=since_f,
                 what=f"subscribed from {carol} at frank")


def test_wrong_password_at_registration(env):
    carol = legacy(env, "carol", presence=False, roster=False)
    carol.close()
    u = env.client(env.user("ux"))
    secret = "definitely-wrong-pw-1"
    r = register_set(u, register_legacy(carol.bare.split("@")[0], secret), to=GW, timeout=25)
    e = assert_error(r, r.get("id"), "not-acceptable", "modify", code=406, frm=GW)
    reason = child(e, NS_STANZAS, "text")
    assert reason is not None and text(reason).strip(), f"no <text/> saying why: {tostr(r)}"
    assert secret not in tostr(r), f"password echoed: {tostr(r)}"
    assert registered_username(u, to=GW) is None, "a refused registration was stored"


def test_wrong_password_edit_keeps_session(env):
    # XEP-0100 §4.2.2: an edit whose new password the legacy server refuses is
    # answered not-acceptable; the stored registration stays and the login
    # comes back with it (dave sees carol available again).
    u, dave, dave_jid, carol = _online_with_dave(env)
    since = dave.mark()
    r = register_set(u, register_legacy(carol.split("@")[0], "wrong-new-password"), to=GW,
                     timeout=25)
    assert_error(r, r.get("id"), "not-acceptable", "modify", code=406, frm=GW)
    assert registered_username(u, to=GW) == carol.split("@")[0], "registration lost"
    # The check logs carol's session out (the legacy account is in use)...
    gone = dave.expect(is_presence_from(carol, "unavailable"), timeout=20, since=since,
                       what=f"{carol} unavailable at dave during the check")
    # ...and the stored credentials bring it back.
    dave.expect(is_presence_from(carol), timeout=20,
                since=dave.transcript.index_of(gone) + 1,
                what=f"{carol} available again at dave")
    since = u.mark()
    dave.send(f"<message type='chat' to='{carol}'><body>still there</body></message>")
    u.expect(chat_from(dave_jid, "still there"), timeout=WAIT, since=since)


def test_password_changed_on_legacy_server(env):
    carol = legacy(env, "carol", presence=False, roster=False)
    carol.close()
    user = carol.bare.split("@")[0]
    u = registered_user(env, env.user("ux"), user, env.prosody.users[carol.bare], gw=GW)
    # The legacy server's operator changes carol's password.
    env.prosody.add_user(user, "changed-on-the-server", host=LEGACY_DOMAIN)
    since = u.mark()
    send_available(u)
    err = u.expect(match("presence", type="error", frm=GW), timeout=20, since=since,
                   what=f"presence error from {GW}")
    assert_error(err, err.get("id"), "not-authorized", "auth", code=401, frm=GW)
    assert bare(err.get("to")) == u.bare, tostr(err)
    # ...and a headline saying what failed and what to do.
    h = u.expect(match("message", type="headline", frm=GW), timeout=WAIT, since=since,
                 what=f"headline from {GW}")
    assert text(child(h, NS_CLIENT, "body")), f"headline without body: {tostr(h)}"
    # No second attempt with the refused password: no more errors.
    u.nothing(match("presence", type="error", frm=GW), wait=3, since=u.mark(),
              what="a second login failure")
