"""Legacy networks for the session tests: a raw-socket IRC client (the
legacy peer on the harness's InspIRCd), a Prosody with extra virtual hosts
and components (an XMPP 'legacy' network reached through prpl-jabber), and
the environments (setups) of the session test modules.

Nothing here edits harness.py: the extra Prosody hooks are a subclass, the
environments are harness.Env objects whose servers are set up here.
Every acceptance is by bytes and stanzas observed at the far end: IRC lines
read by the raw client, XMPP stanzas read by slixmpp clients."""

from contextlib import contextmanager
import re
import socket
import threading
import time
from pathlib import Path

import harness
from harness import (COMPONENT_JID, OTHER_DOMAIN, USER_DOMAIN, WAIT, Env, IrcServer, Prosody,
                     Purplegate, Skip, Timeout, bare, lua_str, match, register)

GW = COMPONENT_JID                 # the IRC transport
XMPP_GW = "xmpp.localhost"         # the transport whose legacy network is XMPP
LEGACY_DOMAIN = "legacy.localhost"  # the 'legacy' XMPP network (same Prosody)
LEGACY_MUC = "conference." + LEGACY_DOMAIN  # its MUC service (xmpp_env(muc=True))


# ---------------------------------------------------------------------------
# IRC


class IrcMessage:
    """One parsed IRC line: prefix, command (upper case), params (the
    trailing one included, without its colon)."""

    __slots__ = ("raw", "prefix", "command", "params", "at")

    def __init__(self, raw, at):
        self.raw = raw
        self.at = at
        rest = raw
        self.prefix = None
        if rest.startswith(":"):
            self.prefix, _, rest = rest[1:].partition(" ")
        trailing = None
        if " :" in rest:
            rest, trailing = rest.split(" :", 1)
        elif rest.startswith(":"):
            rest, trailing = "", rest[1:]
        parts = rest.split()
        self.command = parts[0].upper() if parts else ""
        self.params = parts[1:] + ([trailing] if trailing is not None else [])

    @property
    def nick(self):
        """The nick of the prefix (nick!user@host), or None."""
        return self.prefix.split("!", 1)[0] if self.prefix else None

    def __repr__(self):
        return f"<irc {self.raw!r}>"


class IrcClient:
    """A raw IRC client over a socket (the legacy peer): registers a nick,
    answers PING, keeps every line it read with its arrival time and lets the
    test wait for lines matching a predicate (no race: lines that arrived
    before the wait count)."""

    def __init__(self, port, nick, host="127.0.0.1", timeout=WAIT):
        self.nick = nick
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.sock.settimeout(None)
        self.lines = []
        self.claimed = set()
        self.cond = threading.Condition()
        self.closed = None
        self._wlock = threading.Lock()
        self._buf = b""
        self._thread = threading.Thread(target=self._read_loop, daemon=True,
                                        name=f"irc-{nick}")
        self._thread.start()
        self.send(f"NICK {nick}")
        self.send(f"USER {re.sub(r'[^a-z0-9]', 'x', nick.lower()) or 'u'} 0 * :test peer {nick}")
        self.expect(lambda m: m.command == "001", timeout, what="001 welcome")
        # The end of the MOTD (or its absence) ends the burst after 001.
        self.expect(lambda m: m.command in ("376", "422"), timeout, what="end of MOTD")

    def _read_loop(self):
        while True:
            try:
                data = self.sock.recv(65536)
            except OSError as e:
                self._close(f"recv error {e}")
                return
            if not data:
                self._close("EOF")
                return
            self._buf += data
            while b"\n" in self._buf:
                line, self._buf = self._buf.split(b"\n", 1)
                text = line.rstrip(b"\r").decode("utf-8", errors="replace")
                if not text:
                    continue
                msg = IrcMessage(text, time.monotonic())
                if msg.command == "PING":
                    try:
                        self.send("PONG :" + (msg.params[-1] if msg.params else ""))
                    except OSError:
                        pass
                with self.cond:
                    self.lines.append(msg)
                    self.cond.notify_all()

    def _close(self, reason):
        with self.cond:
            if self.closed is None:
                self.closed = reason
            self.cond.notify_all()

    # -- I/O ---------------------------------------------------------------
    def send(self, line):
        data = (line + "\r\n").encode("utf-8")
        with self._wlock:
            self.sock.sendall(data)

    def mark(self):
        with self.cond:
            return len(self.lines)

    def expect(self, pred, timeout=WAIT, since=0, what=None):
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                for i in range(since, len(self.lines)):
                    if i not in self.claimed and pred(self.lines[i]):
                        self.claimed.add(i)
                        return self.lines[i]
                if self.closed is not None:
                    raise Timeout(f"IRC connection of {self.nick} closed ({self.closed}) while "
                                  f"waiting for {what}; read:\n{self.dump(since)}")
                left = deadline - time.monotonic()
                if left <= 0:
                    raise Timeout(f"IRC {self.nick}: no {what} within {timeout:.1f}s; "
                                  f"read:\n{self.dump(since)}")
                self.cond.wait(left)

    def nothing(self, pred, wait=1.0, since=0, what=None):
        deadline = time.monotonic() + wait
        with self.cond:
            while True:
                for i in range(since, len(self.lines)):
                    if pred(self.lines[i]):
                        raise AssertionError(f"IRC {self.nick}: unexpected {what}: "
                                             f"{self.lines[i].raw!r}")
                left = deadline - time.monotonic()
                if left <= 0:
                    return
                self.cond.wait(left)

    def dump(self, since=0, limit=25):
        with self.cond:
            lines = self.lines[since:][-limit:]
        return "\n".join("  " + m.raw for m in lines) or "  (nothing)"

    def close(self):
        if self.closed is None:
            try:
                self.send("QUIT :bye")
            except OSError:
                pass
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()

    # -- commands ----------------------------------------------------------
    def privmsg(self, target, text):
        self.send(f"PRIVMSG {target} :{text}")

    def ison(self, *nicks, timeout=WAIT):
        """The nicks of `nicks` the server says are on line (as it spells
        them), by ISON."""
        since = self.mark()
        self.send("ISON " + " ".join(nicks))
        m = self.expect(lambda m: m.command == "303", timeout, since, what="ISON reply 303")
        return (m.params[-1] if m.params else "").split()

    def online(self, nick, timeout=WAIT):
        return nick.lower() in (n.lower() for n in self.ison(nick, timeout=timeout))

    def wait_online(self, nick, want=True, timeout=2 * WAIT):
        """Polls ISON until `nick` is (want=True) or is not on line."""
        deadline = time.monotonic() + timeout
        while True:
            if self.online(nick) == want:
                return True
            if time.monotonic() >= deadline:
                raise Timeout(f"{nick} still {'off' if want else 'on'} line on IRC after "
                              f"{timeout:.1f}s")
            time.sleep(0.2)

    def whois(self, nick, timeout=WAIT):
        """WHOIS: None when there is no such nick, else a dict with 'user'
        (311 params), 'away' (the 301 away message, or None) and 'signon'
        (317: when this connection registered, unix seconds as text)."""
        since = self.mark()
        self.send(f"WHOIS {nick}")
        end = self.expect(lambda m: m.command in ("318", "401") and len(m.params) >= 2
                          and m.params[1].lower() == nick.lower(),
                          timeout, since, what=f"end of WHOIS {nick}")
        if end.command == "401":
            # 318 follows a 401 on InspIRCd; claim it so it does not linger.
            return None
        with self.cond:
            lines = self.lines[since:]
        info = {"user": None, "away": None, "signon": None}
        for m in lines:
            if len(m.params) >= 2 and m.params[1].lower() == nick.lower():
                if m.command == "311":
                    info["user"] = m.params
                elif m.command == "301":
                    info["away"] = m.params[-1]
                elif m.command == "317" and len(m.params) >= 4:
                    info["signon"] = m.params[3]
        if info["user"] is None:
            return None
        return info

    def wait_away(self, nick, want, timeout=2 * WAIT):
        """Polls WHOIS until `nick`'s away message satisfies `want`
        (a function of the message or None); returns the last WHOIS."""
        deadline = time.monotonic() + timeout
        last = None
        while True:
            last = self.whois(nick)
            if last is not None and want(last["away"]):
                return last
            if time.monotonic() >= deadline:
                raise Timeout(f"WHOIS {nick} after {timeout:.1f}s: {last}")
            time.sleep(0.3)

    def lusers(self, timeout=WAIT):
        """Number of clients on the (single) server, from 251/255."""
        since = self.mark()
        self.send("LUSERS")
        m = self.expect(lambda m: m.command == "255", timeout, since, what="LUSERS 255")
        found = re.search(r"I have (\d+) clients?", m.params[-1])
        if not found:
            raise AssertionError(f"unexpected 255 line: {m.raw!r}")
        return int(found.group(1))


_barrier_ids = iter(range(1, 1 << 30))


def irc_barrier(client, peer, nick, gw=GW, timeout=2 * WAIT):
    """Waits until everything purplegate queued for the IRC server on the
    user's login before now has reached it: the user sends `peer` a
    message, which prpl-irc queues behind earlier commands (its rate limit,
    the account options ratelimit-interval/ratelimit-burst, sends one line
    per 2 s after a burst of 5).  Once the peer reads it, an AWAY or QUIT
    sent before has been processed by the server."""
    token = f"barrier-{next(_barrier_ids)}"
    since = peer.mark()
    client.send(f"<message type='chat' to='{peer.nick}@{gw}'><body>{token}</body></message>")
    peer.expect(lambda m: m.command == "PRIVMSG" and m.nick.lower() == nick.lower()
                and m.params[-1] == token, timeout, since, what=f"barrier PRIVMSG {token}")


def tcp_connections_to(port):
    """Established TCP connections to 127.0.0.1:`port` (client side count,
    from /proc/net/tcp of this network namespace)."""
    n = 0
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        parts = line.split()
        remote_addr, state = parts[2], parts[3]
        if state != "01":  # ESTABLISHED
            continue
        rport = int(remote_addr.split(":")[1], 16)
        if rport == port:
            n += 1
    return n


# ---------------------------------------------------------------------------
# Prosody with extra components


class LegacyProsody(Prosody):
    """harness.Prosody plus more virtual hosts and components: the hosts
    come through Prosody's own `hosts` argument, the extra components are
    appended to the config (they share the one component secret)."""

    def __init__(self, workdir, extra_components=(), muc_components=(), **kw):
        self.extra_components = tuple(extra_components)
        # Prosody's own XEP-0045 service (mod_muc, internal components).
        self.muc_components = tuple(muc_components)
        super().__init__(workdir, **kw)

    def write_config(self):
        super().write_config()
        extra = []
        for comp in self.extra_components:
            extra += self.component_lines(comp)
        for comp in self.muc_components:
            # Prosody 0.12 defaults kept: anyone may create a room, a new
            # room is locked (201) until its owner submits the configuration
            # form (an empty submit makes an instant room, XEP-0045 §10.1.2).
            extra.append(f"Component {lua_str(comp)} \"muc\"")
        if extra:
            with open(self.config_path, "a") as f:
                f.write("\n" + "\n".join(extra) + "\n")


# ---------------------------------------------------------------------------
# acceptance items inside one test


class Items:
    """The acceptance items a test checks one after the other on one set of
    logins: a failed item is recorded and the next one still runs (each
    waits on stanzas that arrive after its own start), and done() fails the
    test with every failed item, and with purplegate's death if it died."""

    def __init__(self, env):
        self.env = env
        self.failed = []

    @contextmanager
    def item(self, name):
        try:
            yield
        except AssertionError as e:
            self.failed.append(f"[{name}] {e}")

    def done(self):
        self.failed += [f"[purplegate alive] {c}" for c in self.env.crashes()]
        if self.failed:
            raise AssertionError(f"{len(self.failed)} item(s) failed:\n" + "\n".join(self.failed))


# ---------------------------------------------------------------------------
# environments


def irc_env(name, overrides=None):
    """Prosody (user host localhost) + InspIRCd + purplegate as gw.localhost
    on prpl-irc (harness.standard_setup), checking inspircd is there."""
    if not IrcServer.available():
        raise Skip("inspircd is not installed")
    return harness.standard_setup(name, overrides=overrides)


def xmpp_purplegate_overrides(prosody):
    return {
        "legacy": {"protocol": "prpl-jabber", "name": "XMPP",
                   "username_suffix": "@" + LEGACY_DOMAIN},
        "legacy-settings": {"connect_server": "127.0.0.1", "port": str(prosody.c2s_port),
                            "connection_security": "opportunistic_tls",
                            "auth_plain_in_clear": "true",
                            "ft_proxies": ""},
        "registration": {"verify_timeout_s": "20"},
    }


def xmpp_env(name, overrides=None, muc=False, privileges=None):
    """One Prosody with the users' host (localhost) and the legacy network's
    host (legacy.localhost), components gw.localhost (the harness's, unused
    here) and xmpp.localhost, and purplegate serving xmpp.localhost on prpl-jabber,
    logging in to legacy.localhost over the same Prosody's c2s port.  With
    `muc`, the legacy network also has Prosody's MUC service at
    LEGACY_MUC (conference.legacy.localhost).  `privileges` are XEP-0356
    grants of localhost (harness.Prosody)."""
    env = Env(name)
    try:
        env.prosody = LegacyProsody(env.tmp / "prosody",
                                    hosts=(USER_DOMAIN, OTHER_DOMAIN, LEGACY_DOMAIN),
                                    extra_components=(XMPP_GW,),
                                    muc_components=(LEGACY_MUC,) if muc else (),
                                    privileges=privileges).start()
        settings = xmpp_purplegate_overrides(env.prosody)
        for group, kv in (overrides or {}).items():
            settings.setdefault(group, {}).update(kv)
        env.purplegate = Purplegate(env.tmp / "purplegate", env.prosody.component_port,
                                    env.prosody.secret, jid=XMPP_GW, overrides=settings)
        env.purplegate.start()
        env.wait_linked()
        return env
    except BaseException:
        env.close(keep=True)
        raise


# ---------------------------------------------------------------------------
# user flows


def registered_user(env, user, nick, password="pw", gw=GW, resource="test", host=USER_DOMAIN):
    """A registered XMPP user (of `host`) of `gw` whose client fetched its
    roster and completed the XEP-0100 §4.1.1 subscription handshake with the
    transport, but is not available yet.  Returns the harness Client."""
    c = env.client(user, host=host, resource=resource, roster=True)
    since = c.mark()
    register(c, nick, password, to=gw)
    # The transport asks for the user's presence (Prosody keeps that
    # subscribe until the client is available); the user approves it and
    # asks back, the way XEP-0100 §4.1.1 clients do.
    c.send(f"<presence type='subscribed' to='{gw}'/>")
    c.send(f"<presence type='subscribe' to='{gw}'/>")
    c.expect(subscription_approved(gw), timeout=WAIT, since=since,
             what=f"subscribed from {gw} (or the roster push showing it)")
    # The other direction: the roster push of the user's approval.  A
    # server without pre-approval (RFC 6121 §3.4: ejabberd) drops a
    # `subscribed` that reaches it before the transport's subscribe, which
    # then stays pending: the approval is sent again until the push comes.
    # (The push may be the one the wait above took: it is looked for, not
    # claimed.)
    approved = roster_push(gw, ("from", "both"))
    deadline = time.monotonic() + WAIT
    while True:
        try:
            harness.wait_until(lambda: any(approved(el) for el in
                                           c.transcript.elements()[since:]),
                               1.0, what=approved.__doc__)
            return c
        except Timeout:
            if time.monotonic() >= deadline:
                raise Timeout(f"no {approved.__doc__} within {WAIT}s: the user's approval "
                              f"did not take; received:\n{c.transcript.dump(since)}") from None
        c.send(f"<presence type='subscribed' to='{gw}'/>")


def roster_push(jid, subscriptions):
    """Predicate: a roster push (RFC 6121 §2.1.6) of `jid` with one of
    `subscriptions`."""
    def pred(el):
        if not harness.is_stanza(el, "iq") or el.get("type") != "set":
            return False
        query = harness.child(el, harness.NS_ROSTER, "query")
        return any(bare(item.get("jid")) == jid.lower()
                   and item.get("subscription") in subscriptions
                   for item in harness.children(query, harness.NS_ROSTER, "item"))
    pred.__doc__ = f"roster push of {jid} with subscription in {subscriptions}"
    return pred


def subscription_approved(jid):
    """Predicate: `jid` approved the user's subscription request: its
    <presence type='subscribed'/>, or the roster push with subscription
    'to' or 'both' for it (RFC 6121 §3.1.6: the server pushes the roster
    item to every interested resource, and delivers the presence only to
    available ones: ejabberd does not deliver it to a resource that is not
    available yet, Prosody does)."""
    presence = match("presence", type="subscribed", frm=jid)
    push = roster_push(jid, ("to", "both"))

    def pred(el):
        return presence(el) or push(el)
    pred.__doc__ = f"subscribed from {jid}, or a roster push of {jid} with subscription to/both"
    return pred


def online_user(env, user, nick, password="pw", gw=GW, resource="test", priority=None,
                show=None, status=None, wait_transport=True, timeout=2 * WAIT, host=USER_DOMAIN):
    """registered_user() that then sends available presence (broadcast: it
    reaches the transport through the subscription), so the legacy login
    starts.  Waits for the transport's available presence (the login is up)
    unless wait_transport is False.  Returns the harness Client."""
    c = registered_user(env, user, nick, password, gw, resource, host)
    since = c.mark()
    send_available(c, gw=None, show=show, status=status, priority=priority)
    if wait_transport:
        wait_transport_online(c, gw, since, timeout)
    return c


def send_available(c, gw=None, show=None, status=None, priority=None, type=None):
    """Broadcast presence (to=None) or directed to `gw`."""
    inner = ""
    if show:
        inner += f"<show>{show}</show>"
    if status:
        inner += f"<status>{harness.xml_escape(status)}</status>"
    if priority is not None:
        inner += f"<priority>{priority}</priority>"
    attrs = f" to='{gw}'" if gw else ""
    if type:
        attrs += f" type='{type}'"
    c.send(f"<presence{attrs}>{inner}</presence>")


def wait_transport_online(c, gw, since=0, timeout=2 * WAIT):
    """The transport's available presence to the user (XEP-0100 §4.4.1): the legacy
    login is up."""
    return c.expect(lambda el: match("presence", frm=gw)(el) and el.get("type") is None,
                    timeout=timeout, since=since,
                    what=f"available presence from {gw} (legacy login up)")


def is_presence_from(jid, type=None):
    """Predicate: presence from the bare `jid` (any resource) of `type`
    (None = available, i.e. no type attribute)."""
    def pred(el):
        if not harness.is_stanza(el, "presence"):
            return False
        if bare(el.get("from")) != jid.lower():
            return False
        return el.get("type") == type
    pred.__doc__ = f"presence type={type} from {jid}"
    return pred



def irc_and_prosody_env(name):
    """An Env with InspIRCd and Prosody started, for modules whose tests
    start their own purplegate; Skip without inspircd."""
    if not IrcServer.available():
        raise harness.Skip("inspircd is not installed")
    env = Env(name)
    try:
        env.start_irc()
        env.prosody = Prosody(env.tmp / "prosody").start()
        return env
    except BaseException:
        env.close(keep=True)
        raise

# The away check of IRC contacts sends one line per 10 s per login (README,
# "Away state of IRC contacts"): a change it finds takes up to two lines
# (USERHOST, then WHOIS for the text).
CHECK_GAP_S = 10


def presence_of(jid, show, status=None):
    """Predicate: available presence from the bare `jid` with `show` (None:
    no <show/>, i.e. available) and, when given, the <status/> text."""
    available = is_presence_from(jid)

    def pred(el):
        if not available(el):
            return False
        if harness.text(harness.child(el, harness.NS_CLIENT, "show")) != show:
            return False
        return status is None or harness.text(harness.child(el, harness.NS_CLIENT, "status")) == status
    pred.__doc__ = f"presence from {jid} show={show} status={status!r}"
    return pred


def add_irc_contact(c, nick):
    """The user adds the IRC contact `nick` and sees it on line."""
    since = c.mark()
    c.send(f"<presence type='subscribe' to='{nick}@{GW}'/>")
    c.expect(presence_of(f"{nick}@{GW}", None), timeout=2 * WAIT, since=since,
             what=f"{nick} on line")


def no_stray_messages(c, peer, nick, since):
    """Barrier on the IRC → XMPP path (the peer's PRIVMSG comes after every
    reply to the checks on the user's connection), then: no message but
    the barrier since `since` (no 301 shown as a reply, no error)."""
    token = f"away-barrier-{time.monotonic_ns()}"
    peer.privmsg(nick, token)
    c.expect(chat_from(f"{peer.nick}@{GW}", token), timeout=2 * WAIT, since=since,
             what=f"barrier message {token}")
    stray = [harness.tostr(el) for el in c.transcript.elements()[since:]
             if harness.is_stanza(el, "message")
             and harness.text(harness.child(el, harness.NS_CLIENT, "body")) != token]
    assert not stray, "messages the away checks caused:\n" + "\n".join(stray)


def chat_from(jid, body=None):
    def pred(el):
        if not harness.is_stanza(el, "message") or bare(el.get("from")) != jid.lower():
            return False
        b = harness.child(el, harness.NS_CLIENT, "body")
        if body is None:
            return b is not None
        return b is not None and b.text == body
    pred.__doc__ = f"message from {jid} with body {body!r}"
    return pred
