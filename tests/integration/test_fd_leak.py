"""No file descriptor leak: after 100 login
→ message → logout cycles of one user on IRC, the fd count of the
purplegate process (/proc/PID/fd) is back where it started.

The IRC server here is the harness's FakeIrcServer: InspIRCd holds every
client registration for a second, which would make 100 cycles take two
minutes; the fake server welcomes at once and closes on QUIT, and what is
measured is purplegate's side of each login (a socket, libpurple's
connection and conversation state) either way."""

import os
import time

from harness import COMPONENT_JID, WAIT, Env, Timeout, wait_until
from legacy_servers import is_presence_from, registered_user, send_available, tcp_connections_to

GW = COMPONENT_JID
TIMEOUT = 150
CYCLES = 100


def setup(name):
    env = Env(name)
    try:
        env.start_irc(fake=True)
        return env.start_standard()
    except BaseException:
        env.close(keep=True)
        raise


def _fds(pid):
    out = {}
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            out[int(fd)] = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            pass
    return out


def test_no_fd_leak_100_logins(env):
    pg = env.purplegate
    c = registered_user(env, env.user("xfd"), "fdnick")

    def cycle(n):
        since = c.mark()
        send_available(c)
        c.expect(lambda el: is_presence_from(GW)(el), timeout=20, since=since,
                 what=f"available presence from {GW} (login {n})")
        c.send(f"<message type='chat' to='fdpeer@{GW}'><body>cycle {n}</body></message>")
        c.send("<presence type='unavailable'/>")
        # Logged out: the fake server closed the connection after QUIT and
        # purplegate closed its end.
        wait_until(lambda: tcp_connections_to(env.irc.port) == 0, WAIT, interval=0.01,
                   what=f"the IRC connection closed (logout {n})")

    cycle(0)  # warm-up: libpurple loads the protocol and sets up its state
    time.sleep(0.5)
    before = _fds(pg.pid)
    logins = len(env.irc.logins)
    t0 = time.monotonic()
    for n in range(1, CYCLES + 1):
        cycle(n)
    took = time.monotonic() - t0
    assert len(env.irc.logins) - logins == CYCLES, \
        f"{len(env.irc.logins) - logins} logins reached the IRC server, expected {CYCLES}"
    try:
        wait_until(lambda: len(_fds(pg.pid)) <= len(before), WAIT, interval=0.2,
                   what="the fd count back where it started")
    except Timeout:
        pass
    after = _fds(pg.pid)
    print(f"# fds of purplegate: {len(before)} before, {len(after)} after {CYCLES} login/logout "
          f"cycles ({took:.1f}s)", flush=True)
    extra = {fd: after[fd] for fd in after if before.get(fd) != after[fd]}
    assert len(after) <= len(before), f"{len(after) - len(before)} more fds: {extra}"
