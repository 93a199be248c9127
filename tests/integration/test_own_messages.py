"""What the user writes from another client of their legacy account reaches
their XMPP clients too (README "Your own messages from other clients").

The legacy network is XMPP: legacy.localhost on the same Prosody, reached
through prpl-jabber by purplegate serving xmpp.localhost, with Debian's
purple-xmpp-carbons plugin loaded ([legacy] plugins = core-riba-carbons),
so that the legacy server's XEP-0280 carbons of what the account sent
elsewhere reach purplegate.  A second, plain slixmpp client logged in to the
same legacy account ("the phone") writes to a legacy contact (dave) or in a
legacy room; the XMPP user has two resources and checks what arrives.

Prosody grants xmpp.localhost the XEP-0356 message permission for its
users on localhost only (mod_privilege loaded on that host): a user of
localhost gets <sent/> carbons, a user of otherdomain.localhost (not a user
of the granting server, XEP-0356 §5.1) the marked message from the
contact."""

import itertools
import re

from harness import (NS_CLIENT, OTHER_DOMAIN, USER_DOMAIN, child, is_stanza, lua_str,
                     setup_env, text, tostr, xml_escape)
from harness import WAIT
from legacy_servers import (LEGACY_DOMAIN, LEGACY_MUC, XMPP_GW, Items, LegacyProsody, chat_from, registered_user, send_available,
                            wait_transport_online, xmpp_purplegate_overrides)
from test_xmpp_legacy import befriend, contact_jid, legacy
from test_xmpp_groupchat import NS_MUC, Room, groupchat_from, join, split

GW = XMPP_GW
TIMEOUT = 150

NS_CARBONS = "urn:xmpp:carbons:2"
NS_FORWARD = "urn:xmpp:forward:0"
# The marker purplegate puts before the user's own words (English: the
# test users send no xml:lang).
MARK = "[you, from another client] "

_tokens = itertools.count(1)


class OwnProsody(LegacyProsody):
    """LegacyProsody plus XEP-0280 carbons on every host (the legacy host
    must offer them for the carbons plugin to enable them) and XEP-0356 on
    the users' host: the message permission for the gateway."""

    def write_config(self):
        super().write_config()
        cfg = self.config_path.read_text()
        cfg = re.sub(r'^modules_enabled = \{ (.*) \}$',
                     lambda m: f'modules_enabled = {{ {m.group(1)}; "carbons" }}', cfg, count=1,
                     flags=re.M)
        modules = re.search(r'^modules_enabled = (\{.*\})$', cfg, flags=re.M).group(1)
        host = f"VirtualHost {lua_str(USER_DOMAIN)}\n"
        cfg = cfg.replace(host, host
                          + f'  modules_enabled = {modules[:-1]}; "privilege" }}\n'
                          + f'  privileged_entities = {{ [{lua_str(GW)}] = {{ message = "outgoing" }} }}\n',
                          1)
        # Loaded on the component too: there it sends the hosts' grants
        # once the component has authenticated.
        component = f"Component {lua_str(GW)}\n  component_secret = {lua_str(self.secret)}\n"
        assert component in cfg, "the gateway's component section moved"
        cfg = cfg.replace(component, component + '  modules_enabled = { "privilege" }\n', 1)
        self.config_path.write_text(cfg)


def setup(name):
    def start(env):
        env.prosody = OwnProsody(env.tmp / "prosody", hosts=(USER_DOMAIN, OTHER_DOMAIN, LEGACY_DOMAIN),
                                 extra_components=(GW,), muc_components=(LEGACY_MUC,)).start()
        settings = xmpp_purplegate_overrides(env.prosody)
        settings["legacy"]["plugins"] = "core-riba-carbons"
        settings["registration"]["allowed_domains"] = f"{USER_DOMAIN};{OTHER_DOMAIN}"
        settings["groupchat"] = {"join_timeout_s": "15"}
        env.start_purplegate(settings, jid=GW)

    return setup_env(name, start)


# ---------------------------------------------------------------------------
# people


class User:
    """An XMPP user of `domain` registered with the gateway as the legacy
    account carolN, with two available resources A and B and the legacy
    login up.  `phone` is a second plain client of carolN on the legacy
    server; `dave` carolN's legacy contact (subscribed both ways), with his
    contact JID `dave_jid`."""

    def __init__(self, env, domain):
        carol = legacy(env, "carol")
        self.dave = legacy(env, "dave")
        befriend(carol, self.dave, "Dave")
        carol.close()
        self.carol = carol.bare
        self.dave_jid = contact_jid(self.dave.bare)
        user = env.user("own")
        self.a = registered_user(env, user, self.carol.split("@")[0], env.prosody.users[self.carol], gw=GW,
                                 resource="A", host=domain)
        self.b = env.client(user, host=domain, resource="B", roster=True)
        since = self.a.mark()
        send_available(self.a)
        wait_transport_online(self.a, GW, since)
        send_available(self.b)
        self.bare = self.a.bare
        self.phone = env.client(self.carol.split("@")[0], host=LEGACY_DOMAIN, resource="phone",
                                presence=True)

    def clients(self):
        return (self.a, self.b)

    def barrier(self):
        """dave writes a token; both resources wait for it: what the legacy
        server sent purplegate before it has been handled by then."""
        token = f"barrier-{next(_tokens)}"
        marks = [c.mark() for c in self.clients()]
        self.dave.send(f"<message type='chat' to='{self.carol}'><body>{token}</body></message>")
        for c, since in zip(self.clients(), marks):
            c.expect(chat_from(self.dave_jid, token), WAIT, since, what=f"dave's barrier {token} at {c.jid}")


def sent_carbon(user, to, body):
    """Predicate: a XEP-0280 <sent/> carbon from the user's bare JID whose
    forwarded message goes from the user to `to` with `body`."""
    def pred(el):
        if not is_stanza(el, "message") or (el.get("from") or "").lower() != user.lower():
            return False
        sent = child(el, NS_CARBONS, "sent")
        fwd = child(sent, NS_FORWARD, "forwarded") if sent is not None else None
        inner = child(fwd, NS_CLIENT, "message") if fwd is not None else None
        if inner is None:
            return False
        return (split(inner.get("from"))[0] == user.lower() and split(inner.get("to"))[0] == to.lower()
                and text(child(inner, NS_CLIENT, "body")) == body)
    pred.__doc__ = f"a sent carbon from {user} to {to} with {body!r}"
    return pred


def mentions(body):
    """Predicate: any message whose text contains `body` anywhere."""
    def pred(el):
        return is_stanza(el, "message") and body in tostr(el)
    pred.__doc__ = f"a message mentioning {body!r}"
    return pred


def conversation(user, shows_own, tag):
    """The phone writes to dave, then dave answers: both resources get the
    user's own message first (as `shows_own(body)` says), then dave's."""
    own, reply = f"from the phone {tag} <&>", f"dave answers {tag}"
    marks = [c.mark() for c in user.clients()]
    user.phone.send(f"<message type='chat' to='{user.dave.bare}' id='ph-{tag}'>"
                    f"<body>{xml_escape(own)}</body></message>")
    user.dave.expect(chat_from(user.carol, own), WAIT, what="the phone's message at dave")
    user.dave.send(f"<message type='chat' to='{user.carol}'><body>{reply}</body></message>")
    for c, since in zip(user.clients(), marks):
        first = c.expect(shows_own(own), WAIT, since, what=f"the user's own message at {c.jid}")
        second = c.expect(chat_from(user.dave_jid, reply), WAIT, since, what=f"dave's answer at {c.jid}")
        assert c.transcript.index_of(first) < c.transcript.index_of(second), \
            f"dave's answer came before the user's own message at {c.jid}"


def not_echoed(user, shows_own):
    """What the user sends through the gateway reaches dave and does not
    come back to the user as their own message from elsewhere."""
    body = f"sent through the gateway {next(_tokens)}"
    marks = [c.mark() for c in user.clients()]
    user.a.send(f"<message type='chat' to='{user.dave_jid}'><body>{body}</body></message>")
    user.dave.expect(chat_from(user.carol, body), WAIT, what="the user's message at dave")
    user.barrier()
    for c, since in zip(user.clients(), marks):
        c.nothing(mentions(body), wait=0, since=since, what="the user's own message echoed back")


# ---------------------------------------------------------------------------
# tests


def test_marked_without_the_message_permission(env):
    """A user of another server: the phone's message arrives at both
    resources from dave's contact JID, marked, in order with dave's answer;
    nothing of what the user sends through the gateway comes back."""
    user = User(env, OTHER_DOMAIN)
    t = Items(env)

    def marked(body):
        return chat_from(user.dave_jid, MARK + body)

    with t.item("own message marked, in order"):
        conversation(user, marked, "1")
    with t.item("no <privilege/> stanza for a user of another server"):
        for c in user.clients():
            c.nothing(lambda el: child(el, NS_CARBONS, "sent") is not None, wait=0,
                      what="a carbon for a user of another server")
    with t.item("no echo"):
        not_echoed(user, marked)
    t.done()


def test_sent_carbon_with_the_message_permission(env):
    """A user of the granting server: the phone's message arrives at each
    resource as a <sent/> carbon from the user to dave's contact JID,
    addressed to that resource, before dave's answer; no marked copy; no
    echo of what the user sends through the gateway."""
    user = User(env, USER_DOMAIN)
    t = Items(env)

    def carbon(body):
        return sent_carbon(user.bare, user.dave_jid, body)

    with t.item("own message as a sent carbon, in order"):
        conversation(user, carbon, "2")
        for c in user.clients():
            copies = [el for el in c.transcript.elements() if carbon("from the phone 2 <&>")(el)]
            assert len(copies) == 1, f"{len(copies)} carbons at {c.jid}: {[tostr(el) for el in copies]}"
            assert copies[0].get("to") == c.jid, f"the carbon is not addressed to {c.jid}: {tostr(copies[0])}"
            c.nothing(chat_from(user.dave_jid, MARK + "from the phone 2 <&>"), wait=0,
                      what="a marked copy besides the carbon")
    with t.item("no echo"):
        not_echoed(user, carbon)
    t.done()


def test_own_message_in_a_room(env):
    """The phone, in a legacy room under the user's nick, writes there: the
    user's resources in the room get it as the user's own groupchat message
    from their occupant JID, once; what the user writes through the gateway
    comes back once (its reflection), not twice."""
    room = Room(env)
    user = User(env, OTHER_DOMAIN)
    t = Items(env)
    nick = "Carol"
    join(user.a, room, nick)
    join(user.b, room, nick)
    since = user.phone.mark()
    user.phone.send(f"<presence to='{room.legacy}/{nick}'><x xmlns='{NS_MUC}'/></presence>")
    user.phone.expect(lambda el: is_stanza(el, "message") and child(el, NS_CLIENT, "subject") is not None,
                      WAIT, since, what="the phone's join of the legacy room")

    with t.item("own groupchat message"):
        body = "the phone says hi"
        marks = [c.mark() for c in user.clients()]
        user.phone.send(f"<message type='groupchat' to='{room.legacy}'><body>{body}</body></message>")
        room.barrier(user.a)
        for c, since in zip(user.clients(), marks):
            c.expect(groupchat_from(room.gw, nick, body), WAIT, since, what=f"the phone's message at {c.jid}")
            copies = [el for el in c.transcript.elements()[since:] if mentions(body)(el)]
            assert len(copies) == 1, f"{len(copies)} copies at {c.jid}: {[tostr(el) for el in copies]}"

    with t.item("the user's own reflection once"):
        body = "through the gateway"
        marks = [c.mark() for c in user.clients()]
        user.a.send(f"<message type='groupchat' to='{room.gw}' id='gc-own'><body>{body}</body></message>")
        room.peer.expect(groupchat_from(room.legacy, nick, body), WAIT, what="the user's message at the peer")
        room.barrier(user.a)
        for c, since in zip(user.clients(), marks):
            copies = [el for el in c.transcript.elements()[since:] if mentions(body)(el)]
            assert len(copies) == 1, f"{len(copies)} copies at {c.jid}: {[tostr(el) for el in copies]}"
    t.done()
