"""Registration that tells the truth (XEP-0077 §3, XEP-0100 §4.1–4.2,
XEP-0050): every registration and change is answered only after a real IRC
login took the nick; refusals name the rule broken; a nick the network
gives instead of the registered one is told; the same checks through
ad-hoc commands; the help answer of the gateway's own address; German
texts for xml:lang='de'.  Real Prosody, InspIRCd and slixmpp clients."""

import asyncio
import re

import harness
from harness import (COMPONENT_JID, NS_CLIENT, NS_STANZAS, assert_error, child, match,
                     register_legacy, register_set, registered_username, text, tostr)
from harness import WAIT
from legacy_servers import IrcClient, irc_env, registered_user, send_available
import test_i18n

GW = COMPONENT_JID
NS_COMMANDS = "http://jabber.org/protocol/commands"
NODE_REGISTER = "urn:purplegate:register"
NODE_CHANGE_ACCOUNT = "urn:purplegate:change-account"
NODE_CHANGE_NICK = "urn:purplegate:change-nick"
LANG = "{http://www.w3.org/XML/1998/namespace}lang"


def setup(name):
    # The German catalogue, as the i18n module reads it.
    import os
    key = "PURPLEGATE_LOCALEDIR"
    saved = os.environ.get(key)
    os.environ[key] = str(test_i18n.catalogue_dir())
    try:
        return irc_env(name)
    finally:
        if saved is None:
            del os.environ[key]
        else:
            os.environ[key] = saved


def _error_text(el):
    err = child(el, NS_CLIENT, "error")
    return text(child(err, NS_STANZAS, "text")) if err is not None else None


def _refused(c, nick, condition, etype, lang=None):
    attr = f" xml:lang='{lang}'" if lang else ""
    r = c.iq(f"<iq type='set' to='{GW}'{attr}>{register_legacy(nick, None)}</iq>", timeout=2 * WAIT)
    assert_error(r, r.get("id"), condition, etype)
    assert registered_username(c) is None, f"{nick!r} was stored though refused"
    return _error_text(r) or ""


def test_bad_nicks_refused_at_once(env):
    c = env.client(env.user("bad"))
    for nick in ("a b", "#x"):
        t = _refused(c, nick, "not-acceptable", "modify")
        assert nick in t and "valid IRC nick" in t, f"{nick!r}: text {t!r} names no rule"


def test_long_nick_names_the_limit(env):
    c = env.client(env.user("long"))
    t = _refused(c, "n" * 200, "not-acceptable", "modify")
    m = re.search(r"at most (\d+) characters", t)
    assert "too long" in t and m and int(m.group(1)) < 200, f"text {t!r} does not name the limit"


def test_nick_in_use_is_a_conflict(env):
    peer = env.track(IrcClient(env.irc.port, "heldnick"))
    peer.wait_online("heldnick")
    c = env.client(env.user("held"))
    t = _refused(c, "heldnick", "conflict", "cancel")
    assert t == "heldnick is in use on this network; choose another.", f"text {t!r}"


def test_refused_change_keeps_registration(env):
    c = registered_user(env, env.user("keep"), "keepnick", password=None)
    r = register_set(c, register_legacy("#bad", None))
    assert_error(r, r.get("id"), "not-acceptable", "modify")
    assert registered_username(c) == "keepnick", "a refused change replaced the registration"


def test_german_refusal(env):
    c = env.client(env.user("de"))
    t = _refused(c, "a b", "not-acceptable", "modify", lang="de")
    assert t.startswith("„a b“ ist kein gültiger IRC-Nick"), f"not German: {t!r}"


def _xep0050(c):
    def setup_plugin():
        c.xmpp.register_plugin("xep_0004")
        c.xmpp.register_plugin("xep_0050")
        return c.xmpp.plugin["xep_0050"]
    return harness.in_loop(setup_plugin)


def _run(coro):
    return asyncio.run_coroutine_threadsafe(coro, harness.event_loop()).result(3 * WAIT)


def _command(c, plugin, node, fields):
    """Executes `node`, then completes its form with `fields`; returns the
    final iq (or the slixmpp IqError's iq)."""
    from slixmpp.exceptions import IqError

    async def go():
        first = await plugin.send_command(GW, node)
        assert first["command"]["status"] == "executing", str(first)
        form = c.xmpp.plugin["xep_0004"].make_form(ftype="submit")
        for var, value in fields.items():
            form.add_field(var=var, value=value)
        try:
            return await plugin.send_command(GW, node, action="complete", payload=form,
                                             sessionid=first["command"]["sessionid"],
                                             timeout=2 * WAIT)
        except IqError as e:
            return e.iq
    return _run(go())


def _command_nodes(c):
    r = c.iq(f"<iq type='get' to='{GW}'><query xmlns='http://jabber.org/protocol/disco#items' "
             f"node='{NS_COMMANDS}'/></iq>")
    return [i.get("node") for i in r.iter("{http://jabber.org/protocol/disco#items}item")]


def test_adhoc_register_and_change(env):
    c = env.client(env.user("cmd"))
    nodes = _command_nodes(c)
    assert NODE_REGISTER in nodes and NODE_CHANGE_ACCOUNT not in nodes, nodes
    plugin = _xep0050(c)
    bad = _command(c, plugin, NODE_REGISTER, {"username": "#x", "password": ""})
    assert bad["type"] == "error" and bad["error"]["condition"] == "not-acceptable", str(bad)
    assert "valid IRC nick" in bad["error"]["text"], str(bad)
    assert registered_username(c) is None
    ok = _command(c, plugin, NODE_REGISTER, {"username": "cmdnick", "password": ""})
    assert ok["type"] == "result" and ok["command"]["status"] == "completed", str(ok)
    assert "cmdnick" in ok["command"]["notes"][0][1], str(ok)
    assert registered_username(c) == "cmdnick"
    nodes = _command_nodes(c)
    assert NODE_CHANGE_ACCOUNT in nodes and NODE_REGISTER not in nodes, nodes
    peer = env.track(IrcClient(env.irc.port, "takennick"))
    peer.wait_online("takennick")
    taken = _command(c, plugin, NODE_CHANGE_ACCOUNT, {"username": "takennick", "password": ""})
    assert taken["type"] == "error" and taken["error"]["condition"] == "conflict", str(taken)
    assert registered_username(c) == "cmdnick", "a refused change replaced the registration"


def test_later_collision_is_told_and_nick_changes(env):
    c = registered_user(env, env.user("coll"), "collnick", password=None)
    peer = env.track(IrcClient(env.irc.port, "collnick"))
    peer.wait_online("collnick")
    since = c.mark()
    send_available(c)
    h = c.expect(match("message", type="headline", frm=GW), timeout=2 * WAIT, since=since,
                 what="headline about the nick")
    body = text(child(h, NS_CLIENT, "body"))
    assert "collnick" in body and "Change nick" in body, f"headline: {tostr(h)}"
    c.nothing(match("message", type="headline", frm=GW), wait=1.0, since=c.mark(),
              what="a second headline")
    # The holder leaves; the user takes the nick back with the command.
    peer.send("QUIT :bye")
    watcher = env.track(IrcClient(env.irc.port, "watcher"))
    watcher.wait_online("collnick", want=False)
    plugin = _xep0050(c)
    ok = _command(c, plugin, NODE_CHANGE_NICK, {"username": "collnick"})
    assert ok["type"] == "result" and ok["command"]["status"] == "completed", str(ok)
    watcher.wait_online("collnick")


def test_help_reply(env):
    c = env.client(env.user("help"))
    since = c.mark()
    c.send(f"<message type='chat' to='{GW}'><body>help</body></message>")
    m = c.expect(match("message", frm=GW), timeout=WAIT, since=since, what="help answer")
    body = text(child(m, NS_CLIENT, "body"))
    assert m.get("type") == "chat" and "Register" in body and "/cmd exec" in body, tostr(m)
    since = c.mark()
    c.send(f"<message type='chat' to='{GW}' xml:lang='de'><body>hilfe</body></message>")
    m = c.expect(match("message", frm=GW), timeout=WAIT, since=since, what="German help")
    assert m.get(LANG) == "de" and "Registrieren" in text(child(m, NS_CLIENT, "body")), tostr(m)


def test_change_nick_while_online_keeps_the_login(env):
    # README "Registering": "Change nick" on a login that is up asks the
    # network for the nick (IRC NICK) without logging in again; a refusal
    # is told precisely and the old nick stays.
    from legacy_servers import online_user
    c = online_user(env, env.user("live"), "livenick", password=None)
    peer = env.track(IrcClient(env.irc.port, "livepeer"))
    peer.wait_online("livenick")
    before = peer.whois("livenick")
    since = c.mark()
    plugin = _xep0050(c)
    ok = _command(c, plugin, NODE_CHANGE_NICK, {"username": "livenew"})
    assert ok["type"] == "result" and ok["command"]["status"] == "completed", str(ok)
    assert "livenew" in ok["command"]["notes"][0][1], str(ok)
    after = peer.whois("livenew")
    # The same connection (signed on when it was), under the new nick.
    assert after is not None and after["signon"] == before["signon"], (before, after)
    assert peer.whois("livenick") is None
    assert registered_username(c) == "livenew"

    holder = env.track(IrcClient(env.irc.port, "livetaken"))
    holder.wait_online("livetaken")
    taken = _command(c, plugin, NODE_CHANGE_NICK, {"username": "livetaken"})
    assert taken["type"] == "error" and taken["error"]["condition"] == "conflict", str(taken)
    assert taken["error"]["text"] == "livetaken is in use on this network; choose another.", str(taken)
    assert registered_username(c) == "livenew"
    assert peer.whois("livenew")["signon"] == before["signon"]
    # The login never went away, and nobody was told the nick changed.
    c.nothing(lambda el: match("presence", frm=GW)(el) and el.get("type") in ("unavailable", "error"),
              wait=0.2, since=since, what="the transport going away")
    c.nothing(match("message", type="headline", frm=GW), wait=0.1, since=since, what="a headline")
