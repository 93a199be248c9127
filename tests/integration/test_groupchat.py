"""Group chats on IRC: InspIRCd channels as
XEP-0045 rooms through libpurple's prpl-irc.  Raw-socket IRC clients are the
legacy occupants (the first to JOIN a channel is its operator and sets the
modes +n +t +m +i +k +l +b, +o/+v); the XMPP side is harness clients (real
slixmpp sessions) sending raw stanzas, so every rule is checked on the exact
stanzas that arrive, and every XMPP → IRC effect on the lines the IRC peers
read.  Several acceptance items share one test where that saves logins."""

import time

from harness import (COMPONENT_JID, Env, IrcServer, NS_CLIENT, NS_DISCO_INFO, NS_DISCO_ITEMS, NS_PING, NS_XDATA,
                     Client, assert_error, assert_result, bare, child, children, is_stanza, local,
                     match, text, tostr, xml_escape)
from harness import WAIT
import legacy_servers
from legacy_servers import (IrcClient, chat_from, irc_barrier, online_user,
                            registered_user, send_available, wait_transport_online)

GW = COMPONENT_JID
TIMEOUT = 150

NS_MUC = "http://jabber.org/protocol/muc"
NS_MUC_USER = NS_MUC + "#user"
NS_MUC_ADMIN = NS_MUC + "#admin"
NS_DELAY = "urn:xmpp:delay"
NS_SID = "urn:xmpp:sid:0"
NS_CONFERENCE = "jabber:x:conference"
NS_STANZAS = "urn:ietf:params:xml:ns:xmpp-stanzas"
ROOMINFO = NS_MUC + "#roominfo"

# prpl-irc sends one line per 2 s after a burst of 5 by default: tests that
# drive many IRC commands would spend most of their time in that queue.
OVERRIDES = {
    "legacy-settings": {"ratelimit-interval": "0", "ratelimit-burst": "1000000"},
    # An unanswered join fails (remote-server-timeout) well inside TIMEOUT.
    "groupchat": {"join_timeout_s": "15"},
}


# Half-operators (%), admins (&) and founders (~) beside InspIRCd's own @
# and +, as most networks have them.
PREFIXES = """\
<module name="customprefix">
<customprefix name="founder" letter="q" prefix="~" rank="50000" ranktoset="50000" ranktounset="50000">
<customprefix name="admin" letter="a" prefix="&amp;" rank="40000" ranktoset="50000" ranktounset="50000">
<customprefix name="halfop" letter="h" prefix="%" rank="20000" ranktoset="30000" ranktounset="30000">
"""


def setup(name):
    env = Env(name)
    try:
        env.irc = IrcServer(env.tmp / "ircd", extra_conf=PREFIXES).start()
        return env.start_standard(overrides=OVERRIDES)
    except BaseException:
        env.close(keep=True)
        raise


# ---------------------------------------------------------------------------
# acceptance items inside one test


class Items(legacy_servers.Items):
    """legacy_servers.Items whose end takes the users' clients away first,
    so that what leaving the rooms does to purplegate counts for this test:
    a probe's ping answered means it is still there."""

    def done(self):
        with self.item("the users' clients go offline: purplegate stays up"):
            for c in [o for o in self.env._tracked if isinstance(o, Client)]:
                c.close()
            probe = self.env.client(self.env.user("probe"))
            ping_gateway(probe)
        super().done()


# ---------------------------------------------------------------------------
# helpers: addresses and MUC payloads


def room(chan):
    """The room JID of an IRC channel (JIDs are nodeprep'd: lower case)."""
    return f"{chan.lower()}@{GW}"


def muc_x(el):
    return child(el, NS_MUC_USER, "x")


def status_codes(el):
    return {s.get("code") for s in children(muc_x(el), NS_MUC_USER, "status")}


def muc_item(el):
    return child(muc_x(el), NS_MUC_USER, "item")


def resource(jid):
    return (jid or "").split("/", 1)[1] if "/" in (jid or "") else None


def body(el):
    return text(child(el, NS_CLIENT, "body"))


def from_occupant(chan, nick, name=None, type=None):
    """Predicate: a `name` stanza (presence/message) from room/nick of
    `type` (None: any type for messages, available for presences)."""
    r = room(chan)

    def pred(el):
        if not is_stanza(el, name):
            return False
        frm = el.get("from") or ""
        if bare(frm) != r or resource(frm) is None or resource(frm).lower() != nick.lower():
            return False
        if local(el) == "presence":
            return el.get("type") == type
        return type is None or el.get("type") == type
    pred.__doc__ = f"{name or 'stanza'} type={type} from {r}/{nick}"
    return pred


def is_subject(chan):
    """Predicate: the subject message of the room (from the bare room,
    groupchat, <subject/>, no body)."""
    r = room(chan)

    def pred(el):
        return (is_stanza(el, "message") and el.get("type") == "groupchat"
                and (el.get("from") or "").lower() == r
                and child(el, NS_CLIENT, "subject") is not None)
    pred.__doc__ = f"subject message from {r}"
    return pred


def groupchat(chan, nick, text_=None):
    occ = from_occupant(chan, nick, "message", "groupchat")

    def pred(el):
        return occ(el) and child(el, NS_CLIENT, "body") is not None \
            and (text_ is None or body(el) == text_)
    pred.__doc__ = f"groupchat from {room(chan)}/{nick} with body {text_!r}"
    return pred


def error_condition(el):
    """The local name of the defined condition of an error stanza."""
    for e in el:
        if local(e) == "error":
            for c in e:
                if c.tag.startswith("{" + NS_STANZAS + "}") and local(c) != "text":
                    return local(c)
    return None


def error_text(el):
    err = [c for c in el if local(c) == "error"]
    return text(child(err[0], NS_STANZAS, "text")) if err else None


def assert_muc_error(el, chan, nick, condition, etype):
    """A join refusal (XEP-0045 §7.2): presence type=error from room/nick
    with the join's id (join_presence's), the condition and type, a human
    <text/>, the <x xmlns=muc/>."""
    assert (el.get("id") or "").startswith(f"join-{nick}-"), \
        f"join error without the join's id: {tostr(el)}"
    assert_error(el, el.get("id"), condition, etype)
    frm = el.get("from") or ""
    assert bare(frm) == room(chan) and (resource(frm) or "").lower() == nick.lower(), \
        f"join error not from {room(chan)}/{nick}: {tostr(el)}"
    assert child(el, NS_MUC, "x") is not None, f"join error without <x xmlns='{NS_MUC}'/>: " \
        f"{tostr(el)}"
    assert error_text(el), f"join error without a <text/>: {tostr(el)}"


def ping_gateway(c):
    """XMPP barrier: purplegate answers a ping to the gateway after every
    stanza the client sent before it has been handled."""
    r = c.iq(f"<iq type='get' to='{GW}'><ping xmlns='{NS_PING}'/></iq>")
    assert r.get("type") == "result", f"ping to the gateway: {tostr(r)}"


def irc_to_xmpp_barrier(peer, c, nick):
    """Barrier on the IRC → XMPP path: the peer sends the user a PRIVMSG;
    once `c` has it, everything the IRC server sent the user's connection
    before has been through purplegate."""
    token = f"ircbarrier-{time.monotonic_ns()}"
    since = c.mark()
    peer.privmsg(nick, token)
    c.expect(chat_from(f"{peer.nick}@{GW}", token), timeout=2 * WAIT, since=since,
             what=f"barrier message {token} from {peer.nick}")


# ---------------------------------------------------------------------------
# helpers: XMPP side


def join_presence(c, chan, nick, password=None, history=None):
    """Sends a MUC join (XEP-0045 §7.2); returns the transcript mark."""
    inner = ""
    if password is not None:
        inner += f"<password>{xml_escape(password)}</password>"
    if history is not None:
        inner += history
    since = c.mark()
    c.send(f"<presence to='{room(chan)}/{nick}' id='join-{nick}-{since}'><x xmlns='{NS_MUC}'>"
           f"{inner}</x></presence>")
    return since


class Joined:
    """What a successful join brought, in order (XEP-0045 §7.2.2-7.2.15)."""

    def __init__(self, occupants, own, history, subject):
        self.occupants = occupants  # nick -> presence
        self.own = own
        self.history = history
        self.subject = subject


def join(c, chan, nick, legacy_nick=None, password=None, history=None, timeout=2 * WAIT):
    """Joins and checks §7.2's order: every other occupant's presence (with
    a muc#user item), then the user's own presence with 110 (from
    room/legacy_nick, 210 when it differs from `nick`), then history, then
    the subject message.  Returns a Joined."""
    legacy_nick = legacy_nick or nick
    r = room(chan)
    since = join_presence(c, chan, nick, password, history)
    end = c.expect(lambda el: is_subject(chan)(el)
                   or (is_stanza(el, "presence") and el.get("type") == "error"
                       and bare(el.get("from")) == r),
                   timeout=timeout, since=since, what=f"the subject message of {r}")
    assert end.get("type") != "error", f"join of {r}/{nick} refused: {tostr(end)}"
    upto = c.transcript.index_of(end)
    stanzas = [el for el in c.transcript.elements()[since:upto]
               if is_stanza(el) and bare(el.get("from")) == r]
    occupants, own, history_msgs = {}, None, []
    for el in stanzas:
        what = local(el)
        if what == "presence":
            assert el.get("type") is None, f"{el.get('type')} presence during the join: {tostr(el)}"
            item = muc_item(el)
            assert item is not None, f"occupant presence without a muc#user item: {tostr(el)}"
            assert item.get("affiliation") and item.get("role"), \
                f"item without affiliation and role: {tostr(el)}"
            if "110" in status_codes(el):
                assert own is None, f"two self-presences: {tostr(own)} and {tostr(el)}"
                own = el
            else:
                assert own is None, f"occupant presence after the user's own: {tostr(el)}"
                occupants[resource(el.get("from"))] = el
        elif what == "message":
            assert own is not None, f"message before the user's own presence: {tostr(el)}"
            assert el.get("type") == "groupchat" and child(el, NS_DELAY, "delay") is not None, \
                "only delayed history may come between the own presence and the subject: " \
                + tostr(el)
            history_msgs.append(el)
    assert own is not None, "no own presence with status 110 before the subject; got:\n" \
        + "\n".join(tostr(e) for e in stanzas)
    assert resource(own.get("from")) == legacy_nick, \
        f"own presence not from {r}/{legacy_nick}: {tostr(own)}"
    if legacy_nick != nick:
        assert "210" in status_codes(own), f"nick {nick} became {legacy_nick} without 210: " \
            f"{tostr(own)}"
    assert child(end, NS_CLIENT, "body") is None, f"subject message with a body: {tostr(end)}"
    return Joined(occupants, own, history_msgs, end)


def subject_text(el):
    return text(child(el, NS_CLIENT, "subject"))


def assert_role(pres, affiliation, role):
    item = muc_item(pres)
    assert item is not None, f"no muc#user item: {tostr(pres)}"
    assert (item.get("affiliation"), item.get("role")) == (affiliation, role), \
        f"expected affiliation={affiliation} role={role}: {tostr(pres)}"


def user(env, nick, resource="test"):
    """A registered user of the gateway whose IRC login (nick `nick`) is up."""
    return online_user(env, env.user("x" + nick), nick, resource=resource)


def second_resource(env, first, resource):
    """Another available resource of `first`'s account."""
    c = env.client(first.bare.split("@")[0], resource=resource, roster=True)
    since = c.mark()
    send_available(c)
    wait_transport_online(c, GW, since)
    return c


def leave(c, chan, nick):
    """Sends unavailable to the room; waits for the own unavailable (110)."""
    since = c.mark()
    c.send(f"<presence type='unavailable' to='{room(chan)}/{nick}'/>")
    el = c.expect(from_occupant(chan, nick, "presence", "unavailable"), timeout=WAIT,
                  since=since, what=f"own unavailable from {room(chan)}/{nick}")
    assert "110" in status_codes(el), f"own unavailable without 110: {tostr(el)}"
    return el


def self_ping(c, chan, nick):
    return c.iq(f"<iq type='get' to='{room(chan)}/{nick}'><ping xmlns='{NS_PING}'/></iq>")


# ---------------------------------------------------------------------------
# helpers: IRC side


def peer(env, nick):
    return env.track(IrcClient(env.irc.port, nick))


def irc_join(p, chan):
    since = p.mark()
    p.send(f"JOIN {chan}")
    p.expect(lambda m: m.command == "366" and len(m.params) > 1
             and m.params[1].lower() == chan.lower(), timeout=WAIT, since=since,
             what=f"end of NAMES of {chan}")


def irc_mode(p, chan, modes):
    since = p.mark()
    p.send(f"MODE {chan} {modes}")
    p.expect(lambda m: m.command == "MODE" and m.nick == p.nick and m.params
             and m.params[0].lower() == chan.lower(), timeout=WAIT, since=since,
             what=f"MODE {chan} {modes} echoed")


def irc_topic(p, chan, topic):
    since = p.mark()
    p.send(f"TOPIC {chan} :{topic}")
    p.expect(lambda m: m.command == "TOPIC" and m.nick == p.nick, timeout=WAIT, since=since,
             what=f"TOPIC {chan} echoed")


def sees_join(p, nick, chan, since=0):
    return p.expect(lambda m: m.command == "JOIN" and (m.nick or "").lower() == nick.lower()
                    and m.params and m.params[0].lower() == chan.lower(), timeout=2 * WAIT,
                    since=since, what=f"JOIN {chan} by {nick}")


def irc_lines(p, pred, since=0):
    with p.cond:
        return [m for m in p.lines[since:] if pred(m)]


# ---------------------------------------------------------------------------
# tests


def test_join_order_subject_and_disco(env):
    t = Items(env)
    bob = peer(env, "gobob")
    vic = peer(env, "govic")
    irc_join(bob, "#Order")            # bob: @ (first in)
    irc_topic(bob, "#Order", "the order topic")
    irc_join(vic, "#Order")
    irc_mode(bob, "#Order", "+v govic")
    irc_join(bob, "#bobonly")          # a channel the user is not in
    c = user(env, "goalice")

    with t.item("disco#info on the gateway: muc feature"):
        r = c.iq(f"<iq type='get' to='{GW}'><query xmlns='{NS_DISCO_INFO}'/></iq>")
        assert r.get("type") == "result", tostr(r)
        feats = {f.get("var") for f in children(child(r, NS_DISCO_INFO, "query"),
                                                NS_DISCO_INFO, "feature")}
        assert NS_MUC in feats, f"the gateway does not announce {NS_MUC}: {tostr(r)}"

    # Join (the channel name typed in another case is the same room): the
    # occupants with their affiliation and role, then the own presence
    # (110), then the subject.
    since_irc = bob.mark()
    j = join(c, "#ORDER", "goalice")
    with t.item("join: occupants, roles, own 110, subject"):
        sees_join(bob, "goalice", "#order", since_irc)
        assert set(n.lower() for n in j.occupants) == {"gobob", "govic"}, \
            f"occupants: {list(j.occupants)}"
        occ = {n.lower(): p for n, p in j.occupants.items()}
        assert_role(occ["gobob"], "admin", "moderator")
        assert_role(occ["govic"], "member", "participant")
        assert_role(j.own, "none", "participant")
        assert subject_text(j.subject) == "the order topic", f"subject: {tostr(j.subject)}"
        assert j.history == [], f"history in a fresh room: {[tostr(h) for h in j.history]}"

    with t.item("join: empty <subject/> without a topic"):
        j2 = join(c, "#notopic", "goalice")
        assert j2.occupants == {}, f"occupants of a new channel: {list(j2.occupants)}"
        assert subject_text(j2.subject) == "", \
            f"expected an empty <subject/>: {tostr(j2.subject)}"
        # The user created #notopic: IRC made it its operator.
        assert_role(j2.own, "admin", "moderator")

    with t.item("disco#info on a joined room"):
        r = c.iq(f"<iq type='get' to='{room('#order')}'><query xmlns='{NS_DISCO_INFO}'/></iq>")
        assert r.get("type") == "result", f"disco#info on the room: {tostr(r)}"
        qy = child(r, NS_DISCO_INFO, "query")
        ids = [(i.get("category"), i.get("type"), i.get("name"))
               for i in children(qy, NS_DISCO_INFO, "identity")]
        assert ("conference", "text") in [(a, b) for a, b, _ in ids], f"identity: {tostr(r)}"
        assert any(n and n.lower() == "#order" for a, b, n in ids if a == "conference"), \
            f"identity name is not the channel name: {tostr(r)}"
        feats = {f.get("var") for f in children(qy, NS_DISCO_INFO, "feature")}
        assert NS_MUC in feats, f"room without {NS_MUC}: {tostr(r)}"
        for pair in (("muc_open", "muc_membersonly"),
                     ("muc_passwordprotected", "muc_unsecured"),
                     ("muc_moderated", "muc_unmoderated")):
            assert len(feats & set(pair)) == 1, f"exactly one of {pair} expected: {sorted(feats)}"
        assert {"muc_open", "muc_unsecured", "muc_unmoderated"} <= feats, \
            f"#order is open, unsecured and unmoderated: {sorted(feats)}"
        assert {"muc_semianonymous", "muc_temporary"} <= feats, sorted(feats)
        fields = {}
        for x in children(qy, NS_XDATA, "x"):
            for f in children(x, NS_XDATA, "field"):
                fields[f.get("var")] = [text(v) for v in children(f, NS_XDATA, "value")]
        assert fields.get("FORM_TYPE") == [ROOMINFO], f"no {ROOMINFO} form: {tostr(r)}"
        assert fields.get("muc#roominfo_subject") == ["the order topic"], \
            f"subject field: {fields}"
        assert fields.get("muc#roominfo_occupants") == ["3"], f"occupants field: {fields}"

    with t.item("disco#info on a channel not joined"):
        r = c.iq(f"<iq type='get' to='{room('#bobonly')}'><query xmlns='{NS_DISCO_INFO}'/></iq>")
        assert r.get("type") == "result", f"disco#info on a channel not joined: {tostr(r)}"
        ids = [(i.get("category"), i.get("type"))
               for i in children(child(r, NS_DISCO_INFO, "query"), NS_DISCO_INFO, "identity")]
        assert ("conference", "text") in ids, tostr(r)

    with t.item("disco#items on the gateway: the joined rooms, then the IRC server's LIST"):
        r = c.iq(f"<iq type='get' to='{GW}'><query xmlns='{NS_DISCO_ITEMS}'/></iq>")
        assert r.get("type") == "result", tostr(r)
        items = {(i.get("jid") or "").lower(): i.get("name")
                 for i in children(child(r, NS_DISCO_ITEMS, "query"), NS_DISCO_ITEMS, "item")}
        assert room("#order") in items and room("#notopic") in items, f"items: {items}"
        assert (items[room("#order")] or "").lower() == "#order", f"item name: {items}"
        # Not joined, but on the network's list, with its user count.
        assert room("#bobonly") in items, f"the network's channel list is missing: {items}"
        assert items[room("#bobonly")] == "#bobonly (1)", f"item name: {items}"
        assert list(items).index(room("#bobonly")) > list(items).index(room("#order")), \
            f"joined rooms come first: {items}"

    with t.item("disco#items on a room not joined: empty"):
        r = c.iq(f"<iq type='get' to='{room('#bobonly')}'><query xmlns='{NS_DISCO_ITEMS}'/></iq>")
        assert r.get("type") == "result", tostr(r)
        assert children(child(r, NS_DISCO_ITEMS, "query"), NS_DISCO_ITEMS, "item") == [], \
            f"occupants shown to a user not in the room: {tostr(r)}"

    with t.item("disco#items on a joined room: empty by policy"):
        # XEP-0045 §6.5 lets a room keep its items private (purplegate(8):
        # occupants are seen by joining).
        r = c.iq(f"<iq type='get' to='{room('#order')}'><query xmlns='{NS_DISCO_ITEMS}'/></iq>")
        assert r.get("type") == "result", tostr(r)
        occ_items = children(child(r, NS_DISCO_ITEMS, "query"), NS_DISCO_ITEMS, "item")
        assert not occ_items, f"a room listed items: {tostr(r)}"

    # A user whose legacy login is not up: the join waits for it; with only
    # room presence, leaving the last room ends the login.
    late = registered_user(env, env.user("xgolate"), "golate")
    with t.item("join before the legacy login is up: it waits, then joins"):
        since_irc = bob.mark()
        j = join(late, "#order", "golate")
        sees_join(bob, "golate", "#order", since_irc)
        assert {"gobob", "govic", "goalice"} <= set(n.lower() for n in j.occupants), \
            list(j.occupants)
    with t.item("a login made for a room ends with its last room"):
        since_irc = bob.mark()
        leave(late, "#order", "golate")
        bob.expect(lambda m: m.command in ("PART", "QUIT") and (m.nick or "").lower() == "golate",
                   timeout=WAIT, since=since_irc, what="golate leaving")
        bob.wait_online("golate", want=False, timeout=WAIT)
    t.done()


def test_join_refusals(env):
    t = Items(env)
    op = peer(env, "rfop")
    for chan, modes in (("#keyed", "+k sesame"), ("#banned", "+b rfalice!*@*"),
                        ("#invonly", "+i"), ("#full", "+l 1")):
        irc_join(op, chan)
        irc_mode(op, chan, modes)

    with t.item("unregistered user: registration-required"):
        stranger = env.client(env.user("xstranger"))
        since = join_presence(stranger, "#keyed", "stranger")
        el = stranger.expect(match("presence", type="error"), timeout=WAIT, since=since,
                             what="join error for an unregistered user")
        assert_muc_error(el, "#keyed", "stranger", "registration-required", "auth")

    c = user(env, "rfalice")
    cases = (("#keyed", None, "not-authorized", "auth", "+k, no key"),
             ("#keyed", "wrong", "not-authorized", "auth", "+k, wrong key"),
             ("#banned", None, "forbidden", "auth", "+b"),
             ("#invonly", None, "registration-required", "auth", "+i"),
             ("#full", None, "service-unavailable", "wait", "+l"),
             # No CHANTYPES prefix: no channel of this network (no JOIN is sent).
             ("nochan", None, "item-not-found", "cancel", "not a channel name"),
             # A comma would join two channels: not a channel name at all.
             ("#a,#b", None, "jid-malformed", "modify", "a comma in the name"))
    for chan, password, cond, etype, name in cases:
        with t.item(f"join refused, {name}: {cond}"):
            since = join_presence(c, chan, "rfalice", password=password)
            el = c.expect(lambda e: is_stanza(e, "presence") and bare(e.get("from")) == room(chan)
                          and e.get("type") is not None, timeout=2 * WAIT, since=since,
                          what=f"refusal of the join of {chan} (key {password!r})")
            assert_muc_error(el, chan, "rfalice", cond, etype)

    with t.item("+k, right key after the refusals: joined"):
        since_irc = op.mark()
        j = join(c, "#keyed", "rfalice", password="sesame")
        sees_join(op, "rfalice", "#keyed", since_irc)
        assert set(n.lower() for n in j.occupants) == {"rfop"}, list(j.occupants)
    t.done()


def test_messages_both_ways(env):
    t = Items(env)
    # Two gateway users (alice with two resources) and the IRC op bob.
    bob = peer(env, "mbob")
    irc_join(bob, "#talk")
    a = user(env, "malice", resource="A")
    b = second_resource(env, a, "B")
    carol = user(env, "mcarol")
    since_irc = bob.mark()
    join(a, "#talk", "malice")
    sees_join(bob, "malice", "#talk", since_irc)
    join(b, "#talk", "malice")
    join(carol, "#talk", "mcarol")

    with t.item("groupchat XMPP → IRC, reflected with id and origin-id to every resource"):
        sa, sb, sc, si = a.mark(), b.mark(), carol.mark(), bob.mark()
        a.send(f"<message type='groupchat' to='{room('#talk')}' id='gc-1'><body>hello &amp; "
               f"ünïcödé</body><origin-id xmlns='{NS_SID}' id='orig-gc-1'/></message>")
        line = bob.expect(lambda m: m.command == "PRIVMSG" and m.nick == "malice", timeout=WAIT,
                          since=si, what="PRIVMSG from malice")
        assert line.params == ["#talk", "hello & ünïcödé"], line.raw
        for cl, since in ((a, sa), (b, sb)):
            el = cl.expect(groupchat("#talk", "malice", "hello & ünïcödé"), timeout=WAIT,
                           since=since, what=f"reflection at {cl.jid}")
            assert el.get("id") == "gc-1", f"reflection without the id: {tostr(el)}"
            oid = child(el, NS_SID, "origin-id")
            assert oid is not None and oid.get("id") == "orig-gc-1", \
                f"reflection without the origin-id: {tostr(el)}"
            assert el.get("to") == cl.jid, f"reflection not to the full JID {cl.jid}: {tostr(el)}"
        # The other gateway user gets it through IRC.
        carol.expect(groupchat("#talk", "malice", "hello & ünïcödé"), timeout=WAIT, since=sc,
                     what="alice's message at carol")

    with t.item("groupchat IRC → XMPP to every joined full JID"):
        sa, sb, sc = a.mark(), b.mark(), carol.mark()
        bob.privmsg("#talk", "from IRC <b>")
        for cl, since in ((a, sa), (b, sb), (carol, sc)):
            el = cl.expect(groupchat("#talk", "mbob", "from IRC <b>"), timeout=WAIT, since=since,
                           what=f"bob's message at {cl.jid}")
            assert el.get("to") == cl.jid, f"groupchat not to the full JID {cl.jid}: {tostr(el)}"

    with t.item("/me XMPP → IRC in the room"):
        si = bob.mark()
        a.send(f"<message type='groupchat' to='{room('#talk')}' id='me-1'><body>/me waves</body>"
               f"</message>")
        line = bob.expect(lambda m: m.command == "PRIVMSG" and m.nick == "malice", timeout=WAIT,
                          since=si, what="the ACTION from malice")
        assert line.params == ["#talk", "\x01ACTION waves\x01"], f"not a CTCP ACTION: {line.raw!r}"
    with t.item("/me IRC → XMPP in the room"):
        sa = a.mark()
        bob.privmsg("#talk", "\x01ACTION dances\x01")
        a.expect(groupchat("#talk", "mbob", "/me dances"), timeout=WAIT, since=sa,
                 what="bob's ACTION as /me")
    with t.item("/me XMPP → IRC one-to-one"):
        si = bob.mark()
        a.send(f"<message type='chat' to='mbob@{GW}' id='me-2'><body>/me smiles</body></message>")
        line = bob.expect(lambda m: m.command == "PRIVMSG" and m.nick == "malice", timeout=WAIT,
                          since=si, what="the one-to-one ACTION from malice")
        assert line.params == ["mbob", "\x01ACTION smiles\x01"], \
            f"not a CTCP ACTION: {line.raw!r}"
    with t.item("/me IRC → XMPP one-to-one"):
        sa = a.mark()
        bob.privmsg("malice", "\x01ACTION nods\x01")
        a.expect(chat_from(f"mbob@{GW}", "/me nods"), timeout=WAIT, since=sa,
                 what="bob's one-to-one ACTION as /me")
    with t.item("the user's own /me does not come back"):
        # prpl-irc writes the action it sends into the conversation as sent;
        # bob's /me after it is the barrier (README: your own messages).
        a.nothing(lambda el: is_stanza(el, "message") and "smiles" in tostr(el), wait=0,
                  what="the user's own /me smiles echoed back")

    with t.item("groupchat to a room not joined: not-acceptable"):
        since = carol.mark()
        carol.send(f"<message type='groupchat' to='{room('#elsewhere')}' id='nj-1'><body>x</body>"
                   f"</message>")
        el = carol.expect(match("message", id="nj-1", type="error"), timeout=WAIT, since=since,
                          what="error for a groupchat to a room not joined")
        assert_error(el, "nj-1", "not-acceptable", "modify")

    with t.item("+n: message to the channel from outside: an error, not silence"):
        # `/msg #test@gw hello` to a +n channel must not vanish.  Either IRC
        # refuses it (404 → forbidden) or the gateway refuses a message to a
        # room the user is not in (not-acceptable).
        irc_join(bob, "#nchan")  # +nt by default
        since = carol.mark()
        carol.send(f"<message type='chat' to='{room('#nchan')}' id='n-1'><body>outside</body>"
                   f"</message>")
        el = carol.expect(match("message", id="n-1", type="error"), timeout=WAIT, since=since,
                          what="error for a message to a +n channel from outside")
        # The gateway refuses a message to a channel not joined itself.
        assert_error(el, "n-1", "not-acceptable", "modify")
        assert error_text(el), f"no text: {tostr(el)}"

    with t.item("+m without voice: groupchat refused, forbidden"):
        irc_mode(bob, "#talk", "+m")
        irc_to_xmpp_barrier(bob, a, "malice")
        since = a.mark()
        a.send(f"<message type='groupchat' to='{room('#talk')}' id='m-1'><body>muted?</body>"
               f"</message>")
        el = a.expect(match("message", id="m-1", type="error"), timeout=WAIT, since=since,
                      what="error for a groupchat in a +m channel without voice")
        assert_error(el, "m-1", "forbidden", "auth")
        assert error_text(el), f"no text: {tostr(el)}"
    t.done()


def test_subject_and_live_roles(env):
    t = Items(env)
    bob = peer(env, "sbob")
    irc_join(bob, "#topics")
    a = user(env, "salice")
    join(a, "#topics", "salice")
    dave = peer(env, "sdave")

    with t.item("IRC TOPIC → subject from room/nick"):
        since = a.mark()
        irc_topic(bob, "#topics", "set from IRC")
        el = a.expect(lambda e: is_stanza(e, "message") and e.get("type") == "groupchat"
                      and child(e, NS_CLIENT, "subject") is not None, timeout=WAIT, since=since,
                      what="subject change from IRC")
        assert (el.get("from") or "").lower() == f"{room('#topics')}/sbob", tostr(el)
        assert subject_text(el) == "set from IRC", tostr(el)

    with t.item("subject from XMPP on +t without ops: forbidden"):
        since = a.mark()
        a.send(f"<message type='groupchat' to='{room('#topics')}' id='t-1'><subject>mine"
               f"</subject></message>")
        el = a.expect(match("message", id="t-1", type="error"), timeout=WAIT, since=since,
                      what="error for a subject change without ops on +t")
        assert_error(el, "t-1", "forbidden", "auth")

    with t.item("occupant joins: none/participant"):
        since = a.mark()
        irc_join(dave, "#topics")
        el = a.expect(from_occupant("#topics", "sdave", "presence"), timeout=WAIT, since=since,
                      what="sdave's join")
        assert_role(el, "none", "participant")
    for modes, aff, role in (("+v sdave", "member", "participant"),
                             ("+o sdave", "admin", "moderator"),
                             ("-o sdave", "member", "participant"),
                             ("+h sdave", "member", "moderator"),
                             ("-h sdave", "member", "participant"),
                             ("-v sdave", "none", "participant"),
                             ("+m", "none", "visitor"),
                             ("-m", "none", "participant")):
        with t.item(f"live MODE {modes}: {aff}/{role}"):
            since = a.mark()
            irc_mode(bob, "#topics", modes)
            el = a.expect(from_occupant("#topics", "sdave", "presence"), timeout=WAIT,
                          since=since, what=f"sdave's presence after MODE {modes}")
            assert_role(el, aff, role)
            if modes in ("+m", "-m"):
                # The user has no voice either: the same change, with 110.
                el = a.expect(from_occupant("#topics", "salice", "presence"), timeout=WAIT,
                              since=since, what=f"the user's own presence after MODE {modes}")
                assert "110" in status_codes(el), f"own presence without 110: {tostr(el)}"
                assert_role(el, aff, role)

    with t.item("the user gets ops live"):
        since = a.mark()
        irc_mode(bob, "#topics", "+o salice")
        el = a.expect(from_occupant("#topics", "salice", "presence"), timeout=WAIT, since=since,
                      what="own presence after MODE +o")
        assert_role(el, "admin", "moderator")
    with t.item("subject from XMPP as op → IRC TOPIC"):
        since, si = a.mark(), bob.mark()
        a.send(f"<message type='groupchat' to='{room('#topics')}' id='t-2'><subject>from XMPP"
               f"</subject></message>")
        line = bob.expect(lambda m: m.command == "TOPIC" and m.nick == "salice", timeout=WAIT,
                          since=si, what="TOPIC from salice")
        assert line.params == ["#topics", "from XMPP"], line.raw
        el = a.expect(lambda e: is_stanza(e, "message")
                      and child(e, NS_CLIENT, "subject") is not None,
                      timeout=WAIT, since=since, what="the new subject at the user")
        assert el.get("type") != "error", f"subject change refused: {tostr(el)}"
        assert subject_text(el) == "from XMPP", tostr(el)

    with t.item("a line break in a subject starts no IRC command"):
        si = bob.mark()
        a.send(f"<message type='groupchat' to='{room('#topics')}' id='t-3'><subject>two&#10;"
               f"PRIVMSG #topics :injected</subject></message>")
        line = bob.expect(lambda m: m.command == "TOPIC" and m.nick == "salice", timeout=WAIT,
                          since=si, what="TOPIC from salice")
        assert line.params == ["#topics", "two PRIVMSG #topics :injected"], line.raw
        irc_barrier(a, bob, "salice")
        assert not irc_lines(bob, lambda m: m.command == "PRIVMSG" and m.params[-1] == "injected", si), \
            "a line break in the subject reached IRC as a command"
    t.done()


def test_occupants_come_and_go(env):
    t = Items(env)
    bob = peer(env, "obob")
    irc_join(bob, "#live")
    a = user(env, "oalice")
    join(a, "#live", "oalice")

    dave = peer(env, "odave")
    with t.item("occupant JOIN → available presence"):
        since = a.mark()
        irc_join(dave, "#live")
        el = a.expect(from_occupant("#live", "odave", "presence"), timeout=WAIT, since=since)
        assert_role(el, "none", "participant")
    with t.item("occupant NICK → 303 pair"):
        since = a.mark()
        dave.send("NICK odave2")
        gone = a.expect(from_occupant("#live", "odave", "presence", "unavailable"), timeout=WAIT,
                        since=since, what="unavailable from the old nick")
        assert "303" in status_codes(gone), f"no 303: {tostr(gone)}"
        assert (muc_item(gone) is not None and muc_item(gone).get("nick") == "odave2"), \
            f"no item nick=odave2: {tostr(gone)}"
        came = a.expect(from_occupant("#live", "odave2", "presence"), timeout=WAIT, since=since,
                        what="available from the new nick")
        assert a.transcript.index_of(gone) < a.transcript.index_of(came), "303 pair out of order"
    with t.item("occupant PART → unavailable with the part text"):
        since = a.mark()
        dave.send("PART #live :gone for lunch")
        el = a.expect(from_occupant("#live", "odave2", "presence", "unavailable"), timeout=WAIT,
                      since=since, what="unavailable after PART")
        assert text(child(el, NS_CLIENT, "status")) == "gone for lunch", tostr(el)

    eve = peer(env, "oeve")
    with t.item("occupant QUIT → unavailable with the quit text"):
        since = a.mark()
        irc_join(eve, "#live")
        a.expect(from_occupant("#live", "oeve", "presence"), timeout=WAIT, since=since)
        since = a.mark()
        eve.send("QUIT :bye all")   # InspIRCd makes it "Quit: bye all"
        el = a.expect(from_occupant("#live", "oeve", "presence", "unavailable"), timeout=WAIT,
                      since=since, what="unavailable after QUIT")
        assert "bye all" in (text(child(el, NS_CLIENT, "status")) or ""), tostr(el)

    fred = peer(env, "ofred")
    with t.item("occupant KICK → 307, role none"):
        since = a.mark()
        irc_join(fred, "#live")
        a.expect(from_occupant("#live", "ofred", "presence"), timeout=WAIT, since=since)
        since = a.mark()
        bob.send("KICK #live ofred :behave")
        el = a.expect(from_occupant("#live", "ofred", "presence", "unavailable"), timeout=WAIT,
                      since=since, what="unavailable after KICK")
        assert "307" in status_codes(el), f"no 307: {tostr(el)}"
        assert muc_item(el) is not None and muc_item(el).get("role") == "none", tostr(el)

    gus = peer(env, "ogus")
    with t.item("occupant banned and kicked → 301"):
        since = a.mark()
        irc_join(gus, "#live")
        a.expect(from_occupant("#live", "ogus", "presence"), timeout=WAIT, since=since)
        since = a.mark()
        irc_mode(bob, "#live", "+b ogus!*@*")
        bob.send("KICK #live ogus :banned")
        el = a.expect(from_occupant("#live", "ogus", "presence", "unavailable"), timeout=WAIT,
                      since=since, what="unavailable after ban + KICK")
        assert "301" in status_codes(el), f"no 301: {tostr(el)}"
        item = muc_item(el)
        assert item is not None and item.get("affiliation") == "outcast" \
            and item.get("role") == "none", tostr(el)

    with t.item("the user's last resource goes offline: QUIT on IRC, gateway still up"):
        since_irc = bob.mark()
        a.close()
        bob.expect(lambda m: m.command in ("PART", "QUIT") and (m.nick or "").lower() == "oalice",
                   timeout=WAIT, since=since_irc, what="oalice leaving IRC")
        probe = env.client(env.user("probe"))
        ping_gateway(probe)
        assert env.purplegate.running(), f"purplegate exited: {env.purplegate.proc.returncode}"
    t.done()


def test_kicks_both_ways(env):
    t = Items(env)
    bob = peer(env, "kbob")
    irc_join(bob, "#kick")
    dave = peer(env, "kdave")
    irc_join(dave, "#kick")
    a = user(env, "kalice", resource="A")
    b = second_resource(env, a, "B")
    join(a, "#kick", "kalice")
    join(b, "#kick", "kalice")

    kick = (f"<iq type='set' to='{room('#kick')}' id='%s'><query xmlns='{NS_MUC_ADMIN}'>"
            f"<item nick='kdave' role='none'><reason>out</reason></item></query></iq>")
    with t.item("kick from XMPP without ops: forbidden"):
        si = bob.mark()
        r = a.iq(kick % "kick-1")
        assert_error(r, "kick-1", "forbidden", "auth")
        # Anything the user's connection sent before the barrier (a KICK
        # too) reached bob's socket before it.
        irc_barrier(a, bob, "kalice")
        kicks = irc_lines(bob, lambda m: m.command == "KICK", si)
        assert not kicks, f"a KICK reached IRC: {[m.raw for m in kicks]}"

    with t.item("kick from XMPP as op: IRC KICK, result, 307"):
        since = a.mark()
        irc_mode(bob, "#kick", "+o kalice")
        a.expect(from_occupant("#kick", "kalice", "presence"), timeout=WAIT, since=since)
        since, sd = a.mark(), dave.mark()
        r = a.iq(kick % "kick-2")
        assert_result(r, "kick-2")
        line = dave.expect(lambda m: m.command == "KICK", timeout=WAIT, since=sd, what="the KICK")
        assert line.nick == "kalice" and line.params[:2] == ["#kick", "kdave"], line.raw
        assert line.params[-1] == "out", f"kick reason: {line.raw!r}"
        el = a.expect(from_occupant("#kick", "kdave", "presence", "unavailable"), timeout=WAIT,
                      since=since, what="kdave's unavailable after the kick")
        assert "307" in status_codes(el), tostr(el)

    with t.item("the user kicked on IRC: 110 + 307 at every joined resource"):
        sa, sb = a.mark(), b.mark()
        bob.send("KICK #kick kalice :enough")
        for cl, since in ((a, sa), (b, sb)):
            el = cl.expect(from_occupant("#kick", "kalice", "presence", "unavailable"),
                           timeout=WAIT, since=since,
                           what=f"own unavailable at {cl.jid} after the kick")
            assert {"110", "307"} <= status_codes(el), f"expected 110 and 307: {tostr(el)}"
    with t.item("self-ping after the kick: not-acceptable"):
        r = self_ping(a, "#kick", "kalice")
        assert_error(r, r.get("id"), "not-acceptable", "cancel")
    t.done()


def test_resources_history_and_self_ping(env):
    t = Items(env)
    bob = peer(env, "hbob")
    irc_join(bob, "#hist")
    a = user(env, "halice", resource="A")
    since_irc = bob.mark()
    join(a, "#hist", "halice")
    sees_join(bob, "halice", "#hist", since_irc)
    for i in range(1, 4):
        bob.privmsg("#hist", f"h{i}")
    a.expect(groupchat("#hist", "hbob", "h3"), timeout=WAIT, what="h3 at A")

    with t.item("self-ping from a joined resource: result"):
        r = self_ping(a, "#hist", "halice")
        assert_result(r, r.get("id"))

    b = second_resource(env, a, "B")
    with t.item("self-ping from a resource not joined: not-acceptable"):
        r = self_ping(b, "#hist", "halice")
        assert_error(r, r.get("id"), "not-acceptable", "cancel")

    # B joins with the same nick: everything, the last 2 messages as
    # history (maxstanzas), no second JOIN on IRC.
    with t.item("second resource, same nick: occupants, 110, history maxstanzas=2 with delay"):
        j = join(b, "#hist", "halice", history="<history maxstanzas='2'/>")
        assert set(n.lower() for n in j.occupants) == {"hbob"}, list(j.occupants)
        assert [body(h) for h in j.history] == ["h2", "h3"], \
            f"history with maxstanzas=2: {[tostr(h) for h in j.history]}"
        for h in j.history:
            assert resource(h.get("from")) == "hbob", f"history not from the sender: {tostr(h)}"
            d = child(h, NS_DELAY, "delay")
            assert (d.get("from") or "").lower() == room("#hist") and d.get("stamp"), \
                f"delay without from=room or stamp: {tostr(h)}"
        r = self_ping(b, "#hist", "halice")
        assert_result(r, r.get("id"))

    # C asks for another nick: the IRC nick comes back with 210; no history
    # with maxchars=0.
    c = second_resource(env, a, "C")
    with t.item("third resource, other nick: 210, maxchars=0 → no history"):
        jc = join(c, "#hist", "hother", legacy_nick="halice", history="<history maxchars='0'/>")
        assert jc.history == [], f"history with maxchars=0: {[tostr(h) for h in jc.history]}"
    with t.item("later resources: no second JOIN on IRC"):
        irc_barrier(a, bob, "halice")
        joins = irc_lines(bob, lambda m: m.command == "JOIN"
                          and (m.nick or "").lower() == "halice", since_irc)
        assert len(joins) == 1, f"IRC saw {len(joins)} JOINs of halice: {[m.raw for m in joins]}"

    with t.item("IRC message reaches every joined resource"):
        sa, sb, sc = a.mark(), b.mark(), c.mark()
        bob.privmsg("#hist", "to all three")
        for cl, since in ((a, sa), (b, sb), (c, sc)):
            cl.expect(groupchat("#hist", "hbob", "to all three"), timeout=WAIT, since=since,
                      what=f"groupchat at {cl.jid}")

    # Leaving: each resource alone gets its 110; PART only with the last.
    since_irc = bob.mark()
    with t.item("B leaves: its own 110 only, self-ping not-acceptable"):
        sa, sc = a.mark(), c.mark()
        leave(b, "#hist", "halice")
        for cl, since in ((a, sa), (c, sc)):
            ping_gateway(cl)
            cl.nothing(from_occupant("#hist", "halice", "presence", "unavailable"), wait=0,
                       since=since, what=f"own unavailable at {cl.jid} when B left")
        r = self_ping(b, "#hist", "halice")
        assert_error(r, r.get("id"), "not-acceptable", "cancel")
    with t.item("A goes offline (client gone): C stays in"):
        a.close()
        irc_barrier(c, bob, "halice")
        sc = c.mark()
        bob.privmsg("#hist", "only C")
        c.expect(groupchat("#hist", "hbob", "only C"), timeout=WAIT, since=sc)
        r = self_ping(c, "#hist", "halice")
        assert_result(r, r.get("id"))
    with t.item("no PART while a resource is still in"):
        parts = irc_lines(bob, lambda m: m.command in ("PART", "QUIT")
                          and (m.nick or "").lower() == "halice", since_irc)
        assert parts == [], f"IRC saw the user leave while C is in: {[m.raw for m in parts]}"
    with t.item("the last resource leaves: PART"):
        leave(c, "#hist", "halice")
        bob.expect(lambda m: m.command == "PART" and (m.nick or "").lower() == "halice",
                   timeout=WAIT, since=since_irc, what="PART once the last resource left")
    t.done()


def test_nick_change_and_private_messages(env):
    t = Items(env)
    bob = peer(env, "pbob")
    irc_join(bob, "#pm1")
    irc_join(bob, "#pm2")
    a = user(env, "palice")
    join(a, "#pm1", "palice")
    join(a, "#pm2", "palice")

    with t.item("private message from the room and the reply on room/nick"):
        si, sa = bob.mark(), a.mark()
        a.send(f"<message type='chat' to='{room('#pm1')}/pbob' id='pm-1'><body>psst</body>"
               f"</message>")
        line = bob.expect(lambda m: m.command == "PRIVMSG" and m.nick == "palice", timeout=WAIT,
                          since=si, what="the private message")
        assert line.params == ["pbob", "psst"], line.raw
        bob.privmsg("palice", "psst back")
        el = a.expect(lambda e: is_stanza(e, "message") and body(e) == "psst back",
                      timeout=WAIT, since=sa, what="the reply")
        assert (el.get("from") or "").lower() == f"{room('#pm1')}/pbob", \
            f"the reply is not from the room occupant: {tostr(el)}"
        assert el.get("type") == "chat", tostr(el)

    with t.item("nick change from XMPP: IRC NICK, 303 pair in every room"):
        si, sa = bob.mark(), a.mark()
        a.send(f"<presence to='{room('#pm1')}/palice2'/>")
        line = bob.expect(lambda m: m.command == "NICK" and m.nick == "palice", timeout=WAIT,
                          since=si, what="NICK from palice")
        assert line.params == ["palice2"], line.raw
        for chan in ("#pm1", "#pm2"):
            gone = a.expect(from_occupant(chan, "palice", "presence", "unavailable"),
                            timeout=WAIT, since=sa, what=f"303 unavailable in {chan}")
            assert {"303", "110"} <= status_codes(gone), tostr(gone)
            assert muc_item(gone) is not None and muc_item(gone).get("nick") == "palice2", \
                tostr(gone)
            came = a.expect(from_occupant(chan, "palice2", "presence"), timeout=WAIT, since=sa,
                            what=f"new nick's presence in {chan}")
            assert "110" in status_codes(came), tostr(came)
            assert a.transcript.index_of(gone) < a.transcript.index_of(came), \
                f"303 pair out of order in {chan}"
    with t.item("groupchat under the new nick"):
        si, sa = bob.mark(), a.mark()
        a.send(f"<message type='groupchat' to='{room('#pm2')}' id='after'><body>renamed</body>"
               f"</message>")
        a.expect(groupchat("#pm2", "palice2", "renamed"), timeout=WAIT, since=sa)
        bob.expect(lambda m: m.command == "PRIVMSG" and m.nick == "palice2", timeout=WAIT,
                   since=si)
    t.done()


def test_invitations_both_ways(env):
    t = Items(env)
    bob = peer(env, "ibob")
    carl = peer(env, "icarl")
    irc_join(bob, "#inv")
    a = user(env, "ialice")

    with t.item("IRC INVITE → XEP-0249 invitation"):
        since = a.mark()
        bob.send("INVITE ialice #inv")
        el = a.expect(lambda e: is_stanza(e, "message")
                      and child(e, NS_CONFERENCE, "x") is not None,
                      timeout=WAIT, since=since, what="XEP-0249 invitation")
        x = child(el, NS_CONFERENCE, "x")
        assert (x.get("jid") or "").lower() == room("#inv"), f"invitation jid: {tostr(el)}"
        assert bare(el.get("to")) == a.bare, tostr(el)
        assert el.get("type") != "error", tostr(el)

    join(a, "#inv", "ialice")
    invite = (f"<message to='{room('#inv')}' id='%s'><x xmlns='{NS_MUC_USER}'>"
              f"<invite to='icarl@{GW}'><reason>come</reason></invite></x></message>")
    with t.item("mediated invitation refused by IRC (InspIRCd: ops only): forbidden"):
        since = a.mark()
        a.send(invite % "inv-0")
        el = a.expect(match("message", id="inv-0", type="error"), timeout=WAIT, since=since,
                      what="error for an invitation IRC refused")
        assert_error(el, "inv-0", "forbidden", "auth")
        assert error_text(el), tostr(el)

    since = a.mark()
    irc_mode(bob, "#inv", "+o ialice")
    a.expect(from_occupant("#inv", "ialice", "presence"), timeout=WAIT, since=since,
             what="own presence after +o")
    with t.item("mediated invitation → IRC INVITE"):
        sc, sa = carl.mark(), a.mark()
        a.send(invite % "inv-1")
        try:
            line = carl.expect(lambda m: m.command == "INVITE", timeout=WAIT, since=sc,
                               what="INVITE at icarl")
        except AssertionError:
            errs = [tostr(e) for e in a.transcript.elements()[sa:]
                    if match("message", id="inv-1", type="error")(e)]
            raise AssertionError(f"no INVITE on IRC; the gateway answered: {errs}")
        assert line.nick == "ialice" and line.params[0] == "icarl" \
            and line.params[-1].lower() == "#inv", line.raw
        ping_gateway(a)
        a.nothing(match("message", id="inv-1", type="error"), wait=0, since=sa,
                  what="error for the invite")
    t.done()


def test_nick_and_refusal_details(env):
    """The IRC nick is the connection's: the first room may set it, a nick in
    use is a conflict; a refusal IRC sends after earlier messages went
    through answers the message it is about; joins and presences that are
    not joins get their own answers."""
    t = Items(env)
    bob = peer(env, "dbob")
    irc_join(bob, "#details")
    irc_join(bob, "#second")
    a = user(env, "dalice")

    with t.item("join to the bare room: jid-malformed, no JOIN"):
        since, irc_since = a.mark(), bob.mark()
        a.send(f"<presence to='{room('#details')}' id='bare-1'><x xmlns='{NS_MUC}'/></presence>")
        el = a.expect(match("presence", id="bare-1", type="error"), timeout=WAIT, since=since,
                      what="error for a join without a nick")
        assert_error(el, "bare-1", "jid-malformed", "modify")
        irc_barrier(a, bob, "dalice")
        assert not irc_lines(bob, lambda m: m.command == "JOIN" and m.nick == "dalice",
                             irc_since), "a join without a nick reached IRC"

    with t.item("a nick in use asked in the first room: conflict, nick unchanged"):
        since = join_presence(a, "#details", "dbob")
        el = a.expect(lambda e: is_stanza(e, "presence") and e.get("type") == "error"
                      and bare(e.get("from")) == room("#details"), timeout=WAIT, since=since,
                      what="conflict for a nick in use")
        assert_muc_error(el, "#details", "dbob", "conflict", "cancel")

    with t.item("another nick asked in the first room: the IRC nick changes first"):
        irc_since = bob.mark()
        join(a, "#details", "dnew")
        # The NICK itself is seen only by those sharing a channel: the JOIN
        # comes from the new nick, and the old one never joined.
        sees_join(bob, "dnew", "#details", irc_since)
        assert not irc_lines(bob, lambda m: m.command == "JOIN" and m.nick == "dalice", irc_since), \
            "joined under the old nick"
        assert not bob.online("dalice"), "the old nick is still on IRC"

    with t.item("another nick asked in a second room: the connection's nick, 210"):
        joined = join(a, "#second", "whatever", legacy_nick="dnew")
        assert joined.own.get("id", "").startswith("join-whatever-"), \
            f"own presence does not echo the join's id: {tostr(joined.own)}"

    with t.item("reserved nick node: the legacy nick"):
        r = a.iq(f"<iq type='get' to='{room('#details')}'><query xmlns='{NS_DISCO_INFO}' "
                 f"node='x-roomuser-item'/></iq>")
        ids = children(child(r, NS_DISCO_INFO, "query"), NS_DISCO_INFO, "identity")
        assert [i.get("name") for i in ids] == ["dnew"], f"reserved nick: {tostr(r)}"

    with t.item("presence without <x/> from a resource not in the room: 110+307+333"):
        other = second_resource(env, a, "other")
        since = other.mark()
        other.send(f"<presence to='{room('#details')}/dnew'/>")
        el = other.expect(from_occupant("#details", "dnew", "presence", "unavailable"),
                          timeout=WAIT, since=since, what="not-in-room presence")
        assert {"110", "307", "333"} <= status_codes(el), f"codes: {tostr(el)}"

    with t.item("groupchat to an occupant: bad-request"):
        since = a.mark()
        a.send(f"<message type='groupchat' to='{room('#details')}/dbob' id='gp-1'>"
               f"<body>x</body></message>")
        el = a.expect(match("message", id="gp-1", type="error"), timeout=WAIT, since=since,
                      what="error for a groupchat to an occupant")
        assert_error(el, "gp-1", "bad-request", "modify")

    with t.item("IRC refuses a message after others went through: the error has its id"):
        irc_since = bob.mark()
        for i in range(3):
            a.send(f"<message type='groupchat' to='{room('#details')}' id='ok-{i}'>"
                   f"<body>fine {i}</body></message>")
        for i in range(3):
            bob.expect(lambda m, i=i: m.command == "PRIVMSG" and m.params[-1] == f"fine {i}",
                       timeout=WAIT, since=irc_since, what=f"fine {i} on IRC")
        # A ban keeps the user in the channel but IRC refuses what they say (404).
        irc_mode(bob, "#details", "+b dnew!*@*")
        irc_to_xmpp_barrier(bob, a, "dnew")
        since = a.mark()
        a.send(f"<message type='groupchat' to='{room('#details')}' id='banned-1'>"
               f"<body>still here?</body></message>")
        el = a.expect(match("message", type="error"), timeout=WAIT, since=since,
                      what="error for a message IRC refused")
        assert_error(el, "banned-1", "forbidden", "auth")
        assert error_text(el), f"no text: {tostr(el)}"
        ping_gateway(a)
        assert not [e for e in a.transcript.elements()
                    if is_stanza(e, "message") and e.get("type") == "error"
                    and (e.get("id") or "").startswith("ok-")], \
            "a message IRC took came back as an error"
    t.done()
