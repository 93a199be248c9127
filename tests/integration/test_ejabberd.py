"""ejabberd as the host server: Debian's ejabberd 23.01, started by the
harness (tests/integration/ejabberd.py) on 127.0.0.1, with purplegate
attached as an external component (XEP-0114) and reached by real clients
through it; the legacy network is the harness's InspIRCd through
libpurple's prpl-irc.  The XEP-0356 grant is observed on a bare component
connection of the same server and in purplegate's statistics; a second,
default ejabberd grants nothing and leaves no process behind (no epmd: the
node is not distributed)."""

import harness
from ejabberd import Ejabberd, RawComponent, ejabberd_setup, session_processes
from harness import (COMPONENT_JID, NS_DISCO_INFO, NS_DISCO_ITEMS, NS_PING, OTHER_DOMAIN,
                     USER_DOMAIN, WAIT, assert_result, bare, child, children, is_stanza, local,
                     match, ns_of, port_accepts, registered_username, text, tostr)
from legacy_servers import IrcClient, chat_from, online_user, registered_user

GW = COMPONENT_JID
# A second component domain of the same ejabberd, with the same secret and
# privileges as purplegate's: the bare connection that shows the grant.
RAW = "raw.localhost"
TIMEOUT = 90
# XEP-0356 §4: the permissions arrive in a <message/> from the server; both
# namespaces in use are accepted (ejabberd 23.01 sends the first).
NS_PRIVILEGE = ("urn:xmpp:privilege:1", "urn:xmpp:privilege:2")
EPMD_PORT = 4369
ADMIN = "admin"  # [admin] jids: may run the statistics command
NS_COMMANDS = "http://jabber.org/protocol/commands"
NS_XDATA = "jabber:x:data"


def setup(name):
    return ejabberd_setup(name, privileges=True, extra_components=(RAW,),
                          overrides={"admin": {"jids": f"{ADMIN}@{USER_DOMAIN}"}})


def _privilege(el):
    """The <privilege/> child of a message, in either namespace, or None."""
    if not is_stanza(el, "message"):
        return None
    for c in el:
        if local(c) == "privilege" and ns_of(c) in NS_PRIVILEGE:
            return c
    return None


def _perms(priv):
    return {p.get("access"): p.get("type") for p in priv if local(p) == "perm"}


def test_component_link_and_identity(env):
    # XEP-0114 §3: purplegate's handshake with ejabberd succeeded, and a
    # client's disco#info (XEP-0030 §3) reaches it through ejabberd's router.
    c = env.client(env.user("alice"))
    r = c.iq(f"<iq type='get' to='{GW}' id='ed1'><query xmlns='{NS_DISCO_INFO}'/></iq>")
    assert_result(r, "ed1")
    assert r.get("from") == GW, f"answer not from {GW}: {tostr(r)}"
    query = child(r, NS_DISCO_INFO, "query")
    gw = [i for i in children(query, NS_DISCO_INFO, "identity")
          if i.get("category") == "gateway"]
    assert len(gw) == 1 and gw[0].get("type") == "irc", \
        f"expected one gateway/irc identity (XEP-0100 §6.1): {tostr(r)}"
    feats = {f.get("var") for f in children(query, NS_DISCO_INFO, "feature")}
    assert "jabber:iq:register" in feats, f"no jabber:iq:register feature: {tostr(r)}"


def test_host_lists_gateway(env):
    # XEP-0030 §4 / XEP-0100 §4.1: the user's server lists the gateway among
    # its items (mod_disco extra_domains), so clients can find it.
    c = env.client(env.user("alice"))
    r = c.iq(f"<iq type='get' to='{USER_DOMAIN}' id='ei1'>"
             f"<query xmlns='{NS_DISCO_ITEMS}'/></iq>")
    assert_result(r, "ei1")
    jids = [i.get("jid") for i in children(child(r, NS_DISCO_ITEMS, "query"),
                                           NS_DISCO_ITEMS, "item")]
    assert jids.count(GW) == 1, f"{GW} not once among {USER_DOMAIN}'s disco items: {tostr(r)}"


def test_register_irc_nick(env):
    # XEP-0100 §4.1: registration through ejabberd, verified by a real login
    # on InspIRCd; the subscription handshake of §4.1.1 completes.
    user = env.user("xreg")
    c = registered_user(env, user, "ejreg")
    assert registered_username(c) == "ejreg", "the registration is not shown"
    item = env.prosody.roster(user).get(GW)
    assert item is not None and item["subscription"] == "both", \
        f"the server's roster of {user} has {GW} as {item}, not with subscription both"


def test_chat_both_ways(env):
    peer = env.track(IrcClient(env.irc.port, "ejbob"))
    c = online_user(env, env.user("xchat"), "ejalice")
    peer.wait_online("ejalice", timeout=WAIT)

    since = c.mark()
    peer.privmsg("ejalice", "hello through ejabberd")
    m = c.expect(chat_from(f"ejbob@{GW}", "hello through ejabberd"), timeout=WAIT,
                 since=since, what=f"the PRIVMSG as a message from ejbob@{GW}")
    assert m.get("type") == "chat", f"not type chat: {tostr(m)}"
    assert bare(m.get("to")) == c.bare, f"not to the user: {tostr(m)}"

    since = peer.mark()
    c.send(f"<message type='chat' to='ejbob@{GW}'><body>and back to IRC</body></message>")
    line = peer.expect(lambda m: m.command == "PRIVMSG" and m.nick == "ejalice", timeout=WAIT,
                       since=since, what="PRIVMSG from ejalice")
    assert line.params == ["ejbob", "and back to IRC"], f"PRIVMSG: {line.raw!r}"


def test_privileges_granted(env):
    # XEP-0356 §4.2 and §5.2: on the component's connection, each virtual
    # host of ejabberd announces the roster permission `both` and the message
    # permission `outgoing`, from the host's bare domain.
    raw = env.track(RawComponent(env.prosody.component_ports[RAW], RAW, env.prosody.secret))
    for host in (USER_DOMAIN, OTHER_DOMAIN):
        m = raw.expect(lambda el: _privilege(el) is not None and el.get("from") == host,
                       timeout=WAIT, what=f"<privilege/> message from {host}")
        assert m.get("to") == RAW, f"privilege message not to {RAW}: {tostr(m)}"
        perms = _perms(_privilege(m))
        assert perms.get("roster") == "both", f"roster permission: {tostr(m)}"
        assert perms.get("message") == "outgoing", f"message permission: {tostr(m)}"


def test_privileges_reach_purplegate(env):
    # The grant ejabberd sent purplegate's own link when it connected, as
    # purplegate's statistics command (an XEP-0050 command for admins)
    # shows it: from the parent domain, in ejabberd's namespace.
    boss = env.client(ADMIN)
    r = boss.iq(f"<iq type='set' to='{GW}' id='st1'><command xmlns='{NS_COMMANDS}' "
                f"node='urn:purplegate:stats' action='execute'/></iq>")
    assert_result(r, "st1")
    x = child(child(r, NS_COMMANDS, "command"), NS_XDATA, "x")
    assert x is not None, f"no statistics form: {tostr(r)}"
    values = {f.get("var"): text(child(f, NS_XDATA, "value"))
              for f in children(x, NS_XDATA, "field")}
    if "privilegeserver" not in values:
        raise harness.Skip("purplegate's statistics show no XEP-0356 grant yet "
                           "(transport/privilege is not in this build)")
    assert values["privilegeserver"] == USER_DOMAIN, f"grant not from {USER_DOMAIN}: {values}"
    assert values["privilegenamespace"] == NS_PRIVILEGE[0], f"namespace: {values}"
    assert values["privilegeroster"] == "both", f"roster permission: {values}"
    assert values["privilegemessage"] == "outgoing", f"message permission: {values}"


def test_default_grants_nothing_and_leaves_nothing(env):
    # mod_privilege's default grants nothing: no <privilege/> message before
    # the answer to a ping sent after the handshake.  Stopped by its PID,
    # the server leaves no process in its session and no epmd listening.
    server = env.track(Ejabberd(env.subdir("ejabberd-default")))
    assert not port_accepts(EPMD_PORT), "epmd listens before the server starts"
    server.start()
    raw = env.track(RawComponent(server.component_port, GW, server.secret))
    raw.send(f"<iq type='get' from='{GW}' to='{USER_DOMAIN}' id='eb1'>"
             f"<ping xmlns='{NS_PING}'/></iq>")
    pong = raw.expect(match("iq", id="eb1"), timeout=WAIT, what="the ping's answer")
    assert pong.get("type") == "result", f"ping not answered: {tostr(pong)}"
    got = [tostr(e) for e in raw.transcript.elements() if _privilege(e) is not None]
    assert not got, f"privileges granted without mod_privilege options: {got}"
    assert not port_accepts(EPMD_PORT), "epmd was started"

    pid = server.pid
    assert session_processes(pid), "no process in the server's session while it runs"
    raw.close()
    server.stop()
    harness.wait_until(lambda: not session_processes(pid), WAIT,
                       what="every process of the server's session gone")
    assert not port_accepts(EPMD_PORT), "epmd outlived the server"
