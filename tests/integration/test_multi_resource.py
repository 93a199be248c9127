"""Several resources of one user share one legacy login (legacy/session.h):
one IRC connection however many resources are available, the
highest-priority resource's show sets the legacy status (IRC AWAY, seen by a
peer's WHOIS), and only the last resource leaving logs out."""

from harness import COMPONENT_JID, Timeout, match, register, wait_until
from harness import WAIT
from legacy_servers import (IrcClient, irc_barrier, irc_env, send_available,
                            tcp_connections_to, wait_transport_online)

GW = COMPONENT_JID
TIMEOUT = 90


def setup(name):
    return irc_env(name)


def _user_with_two_resources(env, nick):
    user = env.user("multi")
    a = env.client(user, resource="A", roster=True)
    since = a.mark()
    register(a, nick, "pw")
    a.send(f"<presence type='subscribed' to='{GW}'/>")
    a.send(f"<presence type='subscribe' to='{GW}'/>")
    a.expect(match("presence", type="subscribed", frm=GW), timeout=WAIT, since=since)
    b = env.client(user, resource="B", roster=True)
    return a, b


def _settled_whois(client, peer, nick):
    """WHOIS once every command purplegate queued before now reached the
    IRC server (prpl-irc rate-limits its output): a status change that must
    NOT happen would have shown by then."""
    irc_barrier(client, peer, nick)
    return peer.whois(nick)


def _connections(env, peer):
    """(clients the IRC server counts, TCP connections to its port)."""
    return peer.lusers(), tcp_connections_to(env.irc.port)


def test_two_resources_one_login(env):
    peer = env.track(IrcClient(env.irc.port, "watcher"))
    base_clients, base_tcp = _connections(env, peer)
    a, b = _user_with_two_resources(env, "multinick")

    since = a.mark()
    send_available(a, show="away", status="A is away", priority=5)
    wait_transport_online(a, GW, since)
    peer.wait_online("multinick")
    info = peer.wait_away("multinick", lambda m: m is not None)
    assert info["away"] == "A is away", f"away message of A expected: {info}"
    assert _connections(env, peer) == (base_clients + 1, base_tcp + 1), \
        f"one login expected: {_connections(env, peer)} vs base {(base_clients, base_tcp)}"

    # B comes with a lower priority: A's away stays, still one login.
    send_available(b, show="chat", priority=1)
    b.expect(lambda el: match("presence", frm=GW)(el) and el.get("type") is None, timeout=WAIT,
             what="transport presence at B")
    info = _settled_whois(b, peer, "multinick")
    assert info is not None and info["away"] == "A is away", f"A (priority 5) must win: {info}"
    assert _connections(env, peer) == (base_clients + 1, base_tcp + 1), \
        f"a second resource opened another login: {_connections(env, peer)}"

    # B raises its priority above A's: B's show (chat = available) wins.
    send_available(b, show="chat", priority=10)
    peer.wait_away("multinick", lambda m: m is None)

    # B lowers it again, then A leaves: B's status stays in force, no away.
    send_available(b, show="chat", priority=1)
    peer.wait_away("multinick", lambda m: m == "A is away")
    a.send("<presence type='unavailable'/>")
    peer.wait_away("multinick", lambda m: m is None)
    assert peer.online("multinick"), "the login ended while B is still available"
    assert _connections(env, peer) == (base_clients + 1, base_tcp + 1), \
        f"login count changed when A left: {_connections(env, peer)}"

    # The last resource leaving logs out.
    b.send("<presence type='unavailable'/>")
    peer.wait_online("multinick", want=False)
    # The nick is gone once the server has read QUIT; the TCP connection
    # closes a moment later.
    try:
        wait_until(lambda: _connections(env, peer) == (base_clients, base_tcp), WAIT,
                   interval=0.1, what="the connections back to the base")
    except Timeout:
        raise AssertionError(f"connections left after logout: {_connections(env, peer)} "
                             f"vs base {(base_clients, base_tcp)}")


def test_second_resource_away_does_not_override(env):
    # B (priority 0, dnd) joins an available A (priority 3): A wins, the
    # user stays not-away on IRC; then A goes xa: now away with A's text.
    peer = env.track(IrcClient(env.irc.port, "watcher2"))
    a, b = _user_with_two_resources(env, "multinick2")
    since = a.mark()
    send_available(a, priority=3)
    wait_transport_online(a, GW, since)
    peer.wait_online("multinick2")
    send_available(b, show="dnd", status="B busy", priority=0)
    b.expect(lambda el: match("presence", frm=GW)(el) and el.get("type") is None, timeout=WAIT,
             what="transport presence at B")
    info = _settled_whois(b, peer, "multinick2")
    assert info is not None and info["away"] is None, f"B (priority 0) must not win: {info}"
    send_available(a, show="xa", status="A gone fishing", priority=3)
    info = peer.wait_away("multinick2", lambda m: m is not None)
    assert info["away"] == "A gone fishing", f"away message: {info}"
    # Closing A's stream (no unavailable of its own: Prosody sends it) hands
    # over to B: dnd with B's text.
    a.close()
    info = peer.wait_away("multinick2", lambda m: m == "B busy")
    b.close()
    peer.wait_online("multinick2", want=False)
