"""Group chats on a legacy XMPP network (a room on the legacy XMPP
server): Prosody's own MUC service on the legacy virtual host
(conference.legacy.localhost), joined through libpurple's prpl-jabber by
purplegate serving xmpp.localhost.  The room
room@conference.legacy.localhost is the XMPP room
room\\40conference.legacy.localhost@xmpp.localhost; its occupants are the
legacy nicks.

A native legacy user (a slixmpp client logged in directly on
legacy.localhost, "the peer", nick Dave) creates each room (an instant room:
XEP-0045 §10.1.2) and is its owner: it talks, sets the subject and kicks.
The gateway user is a harness client on localhost whose registration logs
carolN@legacy.localhost in through prpl-jabber; it joins as Carol.  Every
check is on the raw stanzas that arrive: at the gateway user (from the
purplegate room) and at the peer (from the real legacy room)."""

import itertools

from harness import (NS_CLIENT, NS_DISCO_INFO, NS_PING, NS_STANZAS, NS_XDATA, assert_error, assert_result, child,
                     children, is_stanza, text, tostr, xml_escape)
from harness import WAIT
from legacy_servers import LEGACY_DOMAIN, LEGACY_MUC, XMPP_GW, Items, online_user, xmpp_env

GW = XMPP_GW
# A passing test takes a few seconds; a failing one waits WAIT for each
# item it misses.
TIMEOUT = 150

NS_MUC = "http://jabber.org/protocol/muc"
NS_MUC_USER = NS_MUC + "#user"
NS_MUC_ADMIN = NS_MUC + "#admin"
NS_MUC_OWNER = NS_MUC + "#owner"
NS_DELAY = "urn:xmpp:delay"
NS_SID = "urn:xmpp:sid:0"

PEER_NICK = "Dave"
USER_NICK = "Carol"


def setup(name):
    # A join the C side does not answer fails in 15 s, inside TIMEOUT.
    return xmpp_env(name, overrides={"groupchat": {"join_timeout_s": "15"}}, muc=True)


# ---------------------------------------------------------------------------
# addresses and payloads


def gw_room(legacy_room):
    """XEP-0106: the legacy room's bare JID as the localpart of the room on
    the gateway (JIDs are nodeprep'd: lower case)."""
    return (legacy_room.replace("@", "\\40") + "@" + GW).lower()


def split(jid):
    b, _, res = (jid or "").partition("/")
    return b.lower(), res


def from_occupant(el, room, nick):
    """`el` comes from `room`/`nick` (bare part case-insensitive, nick exact)."""
    b, res = split(el.get("from"))
    return b == room.lower() and res == nick


def muc_user(el):
    return child(el, NS_MUC_USER, "x")


def status_codes(el):
    return {s.get("code") for s in children(muc_user(el), NS_MUC_USER, "status")}


def muc_item(el):
    return child(muc_user(el), NS_MUC_USER, "item")


def presence_of(room, nick, type=None):
    """Predicate: presence from room/nick of `type` (None = available)."""
    def pred(el):
        return is_stanza(el, "presence") and from_occupant(el, room, nick) \
            and el.get("type") == type
    pred.__doc__ = f"presence type={type} from {room}/{nick}"
    return pred


def groupchat_from(room, nick, body):
    """Predicate: groupchat from room/nick (nick None: the bare room) with
    this body."""
    def pred(el):
        if not is_stanza(el, "message") or el.get("type") != "groupchat":
            return False
        b, res = split(el.get("from"))
        if b != room.lower() or (res or None) != nick:
            return False
        return text(child(el, NS_CLIENT, "body")) == body
    pred.__doc__ = f"groupchat from {room}/{nick} with body {body!r}"
    return pred


def subject_from(room, subject=None):
    """Predicate: a subject message (groupchat with <subject/>, no body) from
    the room or one of its occupants; `subject` None: any subject."""
    def pred(el):
        if not is_stanza(el, "message") or el.get("type") != "groupchat":
            return False
        if split(el.get("from"))[0] != room.lower():
            return False
        s = child(el, NS_CLIENT, "subject")
        if s is None or child(el, NS_CLIENT, "body") is not None:
            return False
        return subject is None or text(s) == subject
    pred.__doc__ = f"subject message {subject!r} from {room}"
    return pred


def error_from(room):
    def pred(el):
        return is_stanza(el) and el.get("type") == "error" and split(el.get("from"))[0] == room.lower()
    pred.__doc__ = f"error from {room}"
    return pred


# ---------------------------------------------------------------------------
# the people


_rooms = itertools.count(1)
_tokens = itertools.count(1)


def alive(env):
    """purplegate is still there: the previous test's user going offline
    while in a room (its client closed) must not have killed it."""
    crashes = env.crashes()
    assert not crashes, "purplegate died after the previous test (its user went offline " \
        "while in a room): " + crashes[0]
    assert env.purplegate.running(), \
        f"purplegate exited with {env.purplegate.proc.returncode}:\n{env.purplegate.tail()}"


class Room:
    """A legacy room created by the peer (its owner, nick Dave)."""

    def __init__(self, env, changesubject=False):
        alive(env)
        self.peer = env.client(env.user("dave"), host=LEGACY_DOMAIN)
        self.legacy = f"room{next(_rooms)}@{LEGACY_MUC}"
        self.gw = gw_room(self.legacy)
        since = self.peer.mark()
        self.peer.send(f"<presence to='{self.legacy}/{PEER_NICK}'><x xmlns='{NS_MUC}'/></presence>")
        own = self.peer.expect(lambda el: presence_of(self.legacy, PEER_NICK)(el)
                               and "110" in status_codes(el), WAIT, since,
                               what=f"the peer's own presence in {self.legacy}")
        assert "201" in status_codes(own), f"room not new: {tostr(own)}"
        # The owner unlocks the new room with its configuration form.
        fields = (f"<field var='FORM_TYPE' type='hidden'><value>{NS_MUC}#roomconfig</value></field>"
                  if changesubject else "")
        if changesubject:
            fields += "<field var='muc#roomconfig_changesubject'><value>1</value></field>"
        r = self.peer.iq(f"<iq type='set' to='{self.legacy}'><query xmlns='{NS_MUC_OWNER}'>"
                         f"<x xmlns='{NS_XDATA}' type='submit'>{fields}</x></query></iq>")
        assert r.get("type") == "result", f"room configuration refused: {tostr(r)}"

    def say(self, body):
        self.peer.send(f"<message type='groupchat' to='{self.legacy}'>"
                       f"<body>{xml_escape(body)}</body></message>")

    def set_subject(self, subject):
        self.peer.send(f"<message type='groupchat' to='{self.legacy}'>"
                       f"<subject>{xml_escape(subject)}</subject></message>")

    def barrier(self, u):
        """The peer says a token and the gateway user waits for it: what the
        legacy room sent purplegate before has been handled by then."""
        token = f"barrier-{next(_tokens)}"
        since = u.mark()
        self.say(token)
        u.expect(groupchat_from(self.gw, PEER_NICK, token), WAIT, since,
                 what=f"the peer's barrier message {token}")


def gateway_user(env):
    """A user of xmpp.localhost registered as carolN@legacy.localhost (the
    registration's check is a real prpl-jabber login), online with the
    legacy login up.  Returns (client, legacy bare JID)."""
    carol = env.client(env.user("carol"), host=LEGACY_DOMAIN)
    carol.close()
    u = online_user(env, env.user("ux"), carol.bare.split("@")[0], env.prosody.users[carol.bare],
                    gw=GW)
    return u, carol.bare


def join(u, room, nick=USER_NICK):
    """The gateway user joins `room` (a Room) as `nick`; returns the stanzas
    from the room that arrived up to and including the subject message
    (which ends the join: XEP-0045 §7.2, occupants, own presence, history,
    subject)."""
    since = u.mark()
    u.send(f"<presence to='{room.gw}/{nick}'><x xmlns='{NS_MUC}'/></presence>")
    end = u.expect(lambda el: subject_from(room.gw)(el) or error_from(room.gw)(el),
                   WAIT, since, what=f"the subject message ending the join of {room.gw}")
    assert end.get("type") != "error", f"join refused: {tostr(end)}"
    stanzas = u.transcript.elements()[since:u.transcript.index_of(end) + 1]
    return [el for el in stanzas if split(el.get("from"))[0] == room.gw]


def joined(env, changesubject=False):
    room = Room(env, changesubject)
    u, carol = gateway_user(env)
    since = room.peer.mark()
    join(u, room)
    room.peer.expect(presence_of(room.legacy, USER_NICK), WAIT, since,
                     what=f"{USER_NICK} in {room.legacy} at the peer")
    return room, u, carol


def goes_offline(env, u, t):
    """The last item of every test: the user's client goes away (in the
    room or out of it by then; Prosody sends purplegate its unavailable
    presences, to the gateway and to the room) and purplegate lives on.  A disco#info from a fresh client is the barrier:
    Prosody writes it on the component stream after those presences."""
    with t.item("the user goes offline"):
        u.close()
        probe = env.client(env.user("probe"))
        r = probe.iq(f"<iq type='get' to='{GW}'><query xmlns='{NS_DISCO_INFO}'/></iq>")
        assert r.get("type") == "result", \
            f"purplegate gone after the user went offline: {tostr(r)}\n{env.purplegate.tail(8)}"


def dump(stanzas):
    return "\n".join("  " + tostr(el) for el in stanzas) or "  (nothing)"


# ---------------------------------------------------------------------------
# tests


def test_join_occupants_history_subject(env):
    room = Room(env)
    room.set_subject("Tea at five")
    room.say("before you came")
    u, carol = gateway_user(env)
    since_peer = room.peer.mark()
    got = join(u, room)
    t = Items(env)

    def index(pred):
        return next((i for i, el in enumerate(got) if pred(el)), None)

    i_dave = index(presence_of(room.gw, PEER_NICK))
    i_own = index(presence_of(room.gw, USER_NICK))
    with t.item("occupants"):
        assert i_dave is not None, f"no presence of {PEER_NICK} in the join:\n{dump(got)}"
        p = got[i_dave]
        item = muc_item(p)
        assert item is not None and (item.get("affiliation"), item.get("role")) == \
            ("owner", "moderator"), f"the room's owner is not owner/moderator: {tostr(p)}"
        assert p.get("to") == u.jid, f"not to the user's full JID {u.jid}: {tostr(p)}"
        others = [el for el in got if is_stanza(el, "presence")
                  and split(el.get("from"))[1] not in (PEER_NICK, USER_NICK)]
        assert not others, f"presences of occupants the legacy room does not have:\n{dump(others)}" \
            f"\nthe whole join:\n{dump(got)}"

    with t.item("own presence"):
        assert i_own is not None, f"no presence from {room.gw}/{USER_NICK}:\n{dump(got)}"
        own = got[i_own]
        assert "110" in status_codes(own), \
            f"own presence (the nick asked for) without 110: {tostr(own)}\nthe whole join:\n{dump(got)}"
        assert "210" not in status_codes(own), f"210 though the nick is the one asked: {tostr(own)}"
        assert muc_item(own) is not None and muc_item(own).get("role") == "participant", \
            f"own role is not participant: {tostr(own)}"
        assert i_dave is None or i_dave < i_own, f"own presence before the occupants':\n{dump(got)}"

    with t.item("history"):
        i_hist = index(groupchat_from(room.gw, PEER_NICK, "before you came"))
        assert i_hist is not None, \
            f"the legacy room's history did not come before the subject:\n{dump(got)}"
        assert i_own is None or i_own < i_hist, f"history before the own presence:\n{dump(got)}"
        assert child(got[i_hist], NS_DELAY, "delay") is not None, \
            f"history without <delay/>: {tostr(got[i_hist])}"

    with t.item("subject"):
        assert text(child(got[-1], NS_CLIENT, "subject")) == "Tea at five", \
            f"the join ended with the wrong subject:\n{dump(got)}"

    with t.item("the legacy room has the user"):
        room.peer.expect(presence_of(room.legacy, USER_NICK), WAIT, since_peer,
                         what=f"{USER_NICK} in {room.legacy} at the peer")

    with t.item("nothing twice"):
        room.barrier(u)
        subjects = [el for el in u.transcript.elements() if subject_from(room.gw)(el)]
        assert len(subjects) == 1, f"several subject messages:\n{dump(subjects)}"
        history = [el for el in u.transcript.elements()
                   if groupchat_from(room.gw, PEER_NICK, "before you came")(el)]
        assert len(history) == 1, f"the history message came more than once:\n{dump(history)}"

    with t.item("occupants come and go"):
        erin = env.client(env.user("erin"), host=LEGACY_DOMAIN)
        since = u.mark()
        erin.send(f"<presence to='{room.legacy}/Erin'><x xmlns='{NS_MUC}'/></presence>")
        p = u.expect(presence_of(room.gw, "Erin"), WAIT, since, what=f"Erin's presence in {room.gw}")
        # The role only: libpurple's generic flags say "voice" for an XMPP
        # participant whatever its affiliation.
        item = muc_item(p)
        assert item is not None and item.get("role") == "participant", \
            f"Erin not a participant: {tostr(p)}"
        erin.send(f"<presence type='unavailable' to='{room.legacy}/Erin'>"
                  f"<status>off to lunch</status></presence>")
        gone = u.expect(presence_of(room.gw, "Erin", "unavailable"), WAIT, since,
                        what=f"Erin leaving {room.gw}")
        assert text(child(gone, NS_CLIENT, "status")) == "off to lunch", \
            f"the leaving status is lost: {tostr(gone)}"
        assert muc_item(gone) is not None and muc_item(gone).get("role") == "none", \
            f"unavailable presence without role none: {tostr(gone)}"
    goes_offline(env, u, t)
    t.done()


def test_messages_both_ways(env):
    room, u, carol = joined(env)
    t = Items(env)

    with t.item("legacy → user"):
        since = u.mark()
        room.say("hi all & <you> ü")
        m = u.expect(groupchat_from(room.gw, PEER_NICK, "hi all & <you> ü"), WAIT, since,
                     what=f"the peer's message from {room.gw}/{PEER_NICK}")
        assert m.get("to") == u.jid, f"not to the user's full JID {u.jid}: {tostr(m)}"
        assert child(m, NS_DELAY, "delay") is None, f"a live message with <delay/>: {tostr(m)}"

    # User → legacy: the peer reads it from Carol; the user gets the
    # reflection with its id and origin-id; the legacy room's own echo does
    # not come as a second copy.
    body = "reply <&> é"
    since, since_p = u.mark(), room.peer.mark()
    u.send(f"<message type='groupchat' to='{room.gw}' id='gc-1'><body>{xml_escape(body)}</body>"
           f"<origin-id xmlns='{NS_SID}' id='origin-gc-1'/></message>")
    with t.item("user → legacy"):
        room.peer.expect(groupchat_from(room.legacy, USER_NICK, body), WAIT, since_p,
                         what=f"the user's message at the peer from {room.legacy}/{USER_NICK}")
    with t.item("reflection"):
        refl = u.expect(lambda el: is_stanza(el, "message") and el.get("id") == "gc-1", WAIT, since,
                        what="the reflection (id gc-1)")
        assert groupchat_from(room.gw, USER_NICK, body)(refl), \
            f"the reflection is not a groupchat {body!r} from {room.gw}/{USER_NICK}: {tostr(refl)}"
        oid = child(refl, NS_SID, "origin-id")
        assert oid is not None and oid.get("id") == "origin-gc-1", \
            f"reflection without the origin-id: {tostr(refl)}"
        assert refl.get("to") == u.jid, f"reflection not to {u.jid}: {tostr(refl)}"
    with t.item("one copy"):
        room.barrier(u)
        copies = [el for el in u.transcript.elements()[since:]
                  if is_stanza(el, "message") and split(el.get("from"))[0] == room.gw
                  and text(child(el, NS_CLIENT, "body")) == body]
        assert len(copies) == 1, f"the user's message came back {len(copies)} times:\n{dump(copies)}"
        u.nothing(error_from(room.gw), wait=0, since=since, what="an error for the message")

    # /me both ways (XEP-0245: XMPP has it in the body on both sides).
    with t.item("/me legacy → user"):
        since = u.mark()
        room.say("/me waves")
        u.expect(groupchat_from(room.gw, PEER_NICK, "/me waves"), WAIT, since,
                 what="the peer's /me")
    with t.item("/me user → legacy"):
        since_p = room.peer.mark()
        u.send(f"<message type='groupchat' to='{room.gw}' id='gc-2'><body>/me nods</body></message>")
        room.peer.expect(groupchat_from(room.legacy, USER_NICK, "/me nods"), WAIT, since_p,
                         what="the user's /me at the peer")
    goes_offline(env, u, t)
    t.done()


def test_subject_both_ways(env):
    room, u, carol = joined(env, changesubject=True)
    t = Items(env)

    with t.item("legacy → user"):
        since = u.mark()
        room.set_subject("first subject")
        s = u.expect(subject_from(room.gw, "first subject"), WAIT, since,
                     what="the peer's subject")
        assert from_occupant(s, room.gw, PEER_NICK), f"subject not from {PEER_NICK}: {tostr(s)}"
        assert s.get("to") == u.jid, f"not to {u.jid}: {tostr(s)}"

    since, since_p = u.mark(), room.peer.mark()
    u.send(f"<message type='groupchat' to='{room.gw}' id='subj-1'>"
           f"<subject>second &amp; last</subject></message>")
    with t.item("user → legacy"):
        ps = room.peer.expect(subject_from(room.legacy, "second & last"), WAIT, since_p,
                              what="the user's subject at the peer")
        assert from_occupant(ps, room.legacy, USER_NICK), \
            f"subject not from {USER_NICK}: {tostr(ps)}"
    with t.item("the user sees its subject"):
        s = u.expect(subject_from(room.gw, "second & last"), WAIT, since,
                     what="the user's own subject change")
        assert from_occupant(s, room.gw, USER_NICK), f"subject not from {USER_NICK}: {tostr(s)}"
        room.barrier(u)
        u.nothing(error_from(room.gw), wait=0, since=since, what="an error for the subject")
    goes_offline(env, u, t)
    t.done()


def test_subject_refused(env):
    # The room's default: only moderators change the subject.  Nothing
    # vanishes: the legacy room's refusal comes back as an error to the
    # message, with a text.
    room, u, carol = joined(env)
    t = Items(env)
    since = u.mark()
    u.send(f"<message type='groupchat' to='{room.gw}' id='subj-no'>"
           f"<subject>not mine to set</subject></message>")
    with t.item("forbidden"):
        # The legacy room answers at once; a wait past the C side's own time
        # limit for legacy answers shows what comes when the refusal is missed.
        e = u.expect(lambda el: error_from(room.gw)(el) or subject_from(room.gw)(el), WAIT + 10,
                     since, what="an error for the refused subject change")
        err = assert_error(e, "subj-no", "forbidden", "auth")
        assert text(child(err, NS_STANZAS, "text")), f"no <text/> saying why: {tostr(e)}"
    goes_offline(env, u, t)
    t.done()


def test_nick_change_from_xmpp(env):
    room, u, carol = joined(env)
    t = Items(env)
    since, since_p = u.mark(), room.peer.mark()
    u.send(f"<presence to='{room.gw}/Caroline'/>")

    with t.item("the 303 pair"):
        gone = u.expect(presence_of(room.gw, USER_NICK, "unavailable"), WAIT, since,
                        what=f"unavailable from {room.gw}/{USER_NICK} (303)")
        assert {"303", "110"} <= status_codes(gone), f"not 303 + 110: {tostr(gone)}"
        item = muc_item(gone)
        assert item is not None and item.get("nick") == "Caroline", f"no item nick: {tostr(gone)}"
        back = u.expect(presence_of(room.gw, "Caroline"), WAIT, since,
                        what=f"available from {room.gw}/Caroline")
        assert "110" in status_codes(back), f"the new own presence without 110: {tostr(back)}"
        assert u.transcript.index_of(gone) < u.transcript.index_of(back), \
            "the 303 pair out of order"

    with t.item("the legacy room sees it"):
        pg = room.peer.expect(presence_of(room.legacy, USER_NICK, "unavailable"), WAIT, since_p,
                              what=f"{USER_NICK} unavailable (303) at the peer")
        assert "303" in status_codes(pg), f"not a nick change at the peer: {tostr(pg)}"
        room.peer.expect(presence_of(room.legacy, "Caroline"), WAIT, since_p,
                         what="Caroline available at the peer")

    since2, since_p = u.mark(), room.peer.mark()
    u.send(f"<message type='groupchat' to='{room.gw}' id='after-nick'><body>new name</body></message>")
    with t.item("messages under the new nick"):
        room.peer.expect(groupchat_from(room.legacy, "Caroline", "new name"), WAIT, since_p,
                         what="the user's message from Caroline at the peer")
        refl = u.expect(lambda el: is_stanza(el, "message") and el.get("id") == "after-nick", WAIT,
                        since2, what="the reflection (id after-nick)")
        assert groupchat_from(room.gw, "Caroline", "new name")(refl), \
            f"the reflection is not from {room.gw}/Caroline: {tostr(refl)}"

    with t.item("nothing else"):
        room.barrier(u)
        stray = [el for el in u.transcript.elements()[since:]
                 if is_stanza(el, "presence") and split(el.get("from"))[0] == room.gw
                 and el.get("type") is None and split(el.get("from"))[1] != "Caroline"]
        assert not stray, f"available presences of other nicks after the change:\n{dump(stray)}"
        u.nothing(error_from(room.gw), wait=0, since=since, what="an error")
    goes_offline(env, u, t)
    t.done()


def test_kicked_by_peer(env):
    room, u, carol = joined(env)
    t = Items(env)
    with t.item("self-ping while in"):
        r = u.iq(f"<iq type='get' to='{room.gw}/{USER_NICK}'><ping xmlns='{NS_PING}'/></iq>")
        assert_result(r, r.get("id"))

    with t.item("another occupant kicked: 307"):
        erin = env.client(env.user("erin"), host=LEGACY_DOMAIN)
        since = u.mark()
        erin.send(f"<presence to='{room.legacy}/Erin'><x xmlns='{NS_MUC}'/></presence>")
        u.expect(presence_of(room.gw, "Erin"), WAIT, since, what=f"Erin's presence in {room.gw}")
        r = room.peer.iq(f"<iq type='set' to='{room.legacy}'><query xmlns='{NS_MUC_ADMIN}'>"
                         f"<item nick='Erin' role='none'/></query></iq>")
        assert r.get("type") == "result", f"the owner's kick was refused: {tostr(r)}"
        gone = u.expect(presence_of(room.gw, "Erin", "unavailable"), WAIT, since,
                        what=f"Erin kicked from {room.gw}")
        assert "307" in status_codes(gone), f"Erin's kick without 307: {tostr(gone)}"
        assert muc_item(gone) is not None and muc_item(gone).get("role") == "none", \
            f"role not none: {tostr(gone)}"

    since, since_p = u.mark(), room.peer.mark()
    r = room.peer.iq(f"<iq type='set' to='{room.legacy}'><query xmlns='{NS_MUC_ADMIN}'>"
                     f"<item nick='{USER_NICK}' role='none'><reason>out you go</reason></item>"
                     f"</query></iq>")
    assert r.get("type") == "result", f"the owner's kick was refused: {tostr(r)}"
    with t.item("the legacy room kicked"):
        pk = room.peer.expect(presence_of(room.legacy, USER_NICK, "unavailable"), WAIT, since_p,
                              what=f"{USER_NICK} kicked at the peer")
        assert "307" in status_codes(pk), tostr(pk)

    with t.item("110 + 307"):
        out = u.expect(lambda el: is_stanza(el, "presence") and el.get("type") == "unavailable"
                       and split(el.get("from"))[0] == room.gw, WAIT, since,
                       what=f"the user's own unavailable from {room.gw}")
        assert from_occupant(out, room.gw, USER_NICK), \
            f"not from {room.gw}/{USER_NICK}: {tostr(out)}"
        assert {"110", "307"} <= status_codes(out), f"not 110 + 307: {tostr(out)}"
        item = muc_item(out)
        assert item is not None and item.get("role") == "none", f"role not none: {tostr(out)}"
        assert out.get("to") == u.jid, f"not to {u.jid}: {tostr(out)}"

    with t.item("self-ping once out"):
        r = u.iq(f"<iq type='get' to='{room.gw}/{USER_NICK}'><ping xmlns='{NS_PING}'/></iq>")
        assert_error(r, r.get("id"), "not-acceptable", "cancel")
    with t.item("no messages once out"):
        since = u.mark()
        u.send(f"<message type='groupchat' to='{room.gw}' id='after-kick'>"
               f"<body>still here?</body></message>")
        e = u.expect(lambda el: is_stanza(el, "message") and el.get("id") == "after-kick", WAIT,
                     since, what="an answer to the message after the kick")
        assert_error(e, "after-kick", "not-acceptable", "modify")
    goes_offline(env, u, t)
    t.done()


def test_leave(env):
    room, u, carol = joined(env)
    t = Items(env)
    since, since_p = u.mark(), room.peer.mark()
    u.send(f"<presence type='unavailable' to='{room.gw}/{USER_NICK}'/>")
    with t.item("own unavailable with 110"):
        out = u.expect(lambda el: is_stanza(el, "presence") and el.get("type") == "unavailable"
                       and split(el.get("from"))[0] == room.gw, WAIT, since,
                       what=f"the user's own unavailable from {room.gw}")
        assert from_occupant(out, room.gw, USER_NICK), \
            f"not from {room.gw}/{USER_NICK}: {tostr(out)}"
        assert "110" in status_codes(out), f"no 110: {tostr(out)}"
    with t.item("the legacy room sees the user leave"):
        room.peer.expect(presence_of(room.legacy, USER_NICK, "unavailable"), WAIT, since_p,
                         what=f"{USER_NICK} leaving {room.legacy} at the peer")
    with t.item("self-ping once out"):
        r = u.iq(f"<iq type='get' to='{room.gw}/{USER_NICK}'><ping xmlns='{NS_PING}'/></iq>")
        assert_error(r, r.get("id"), "not-acceptable", "cancel")
    goes_offline(env, u, t)
    t.done()
