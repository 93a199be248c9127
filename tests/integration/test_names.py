"""The names process (legacy/names.h; README, "Legacy worker processes";
purplegate(8), LEGACY WORKERS): with worker processes, no libpurple code
runs in the main process.  The names process answers what the main process
needs of the protocol (it exists, its settings, how it normalises names),
and a crash or a hang of it leaves every session up.

Every purplegate here names its worker count in its config, so the module
tests workers whatever PG_TEST_WORKERS says.

- The main process maps no protocol plugin (libirc.so, libjabber.so,
  prpl-pgtest's pgtest.so, installed in its plugins folder), while a worker
  and the names process map them.
- Names the main process compares are normalised by the protocol (IRC is
  case-insensitive): an IRC peer's "#MixedCase" joined as the room
  #mixedcase is one room, with the peer's messages in it; a private
  message to the occupant nbob reaches NBob.
- SIGKILL of the names process: the users' IRC connections stay (same TCP
  connection of the same worker), messages go both ways, and the names
  process is started again, after which normalisation works again.
- SIGSTOP of the names process: a join that needs a name it has not
  normalised yet waits at most the bound, then goes on with the name as
  given (a lower-case channel joins), the stopped process is replaced, and
  the gateway keeps answering."""

import os
import re
import signal
from pathlib import Path

from harness import COMPONENT_JID, WAIT, Purplegate, wait_until
from legacy_servers import IrcClient, chat_from, irc_and_prosody_env, online_user
from test_groupchat import groupchat, irc_join, join, ping_gateway, room

GW = COMPONENT_JID
TIMEOUT = 150

IRC_SETTINGS = {"legacy-settings": {"ratelimit-interval": "0", "ratelimit-burst": "1000000"},
                "groupchat": {"join_timeout_s": "15"}}
# legacy/backend.h: PG_BACKEND_RESTART_MS_ENV.
RESTART_MS_ENV = "PURPLEGATE_WORKER_RESTART_MS"
PLUGINS = {"libirc.so", "libjabber.so", "pgtest.so"}
# legacy/names.h: PG_NAMES_CALL_MS.
CALL_MS = 1000


def setup(name):
    """InspIRCd and Prosody; each test starts its own purplegate (_start)."""
    return irc_and_prosody_env(name)


def _start(env, workers=2, environment=None):
    """A fresh purplegate on InspIRCd with `[workers] count = workers`,
    prpl-pgtest installed beside the installed plugins; the one before is
    stopped."""
    if env.purplegate is not None:
        env.purplegate.stop(timeout=5)
    overrides = env.purplegate_overrides(IRC_SETTINGS)
    overrides.setdefault("workers", {})["count"] = str(workers)
    pg = Purplegate(env.subdir("purplegate"), env.prosody.component_port, env.prosody.secret,
                    overrides=overrides)
    pg.environment.update(environment or {})
    pg.install_pgtest()
    env.purplegate = pg
    pg.start()
    env.wait_linked()
    return pg


# ---------------------------------------------------------------------------
# processes, from /proc


def _children(pid):
    """{child pid: argv} of the live processes whose parent is `pid`."""
    out = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            fields = Path(f"/proc/{d}/stat").read_text().rsplit(")", 1)[1].split()
            argv = Path(f"/proc/{d}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if int(fields[1]) == pid and fields[0] != "Z":
            out[int(d)] = [a.decode(errors="replace") for a in argv if a]
    return out


def _names_pid(pg, exclude=(), timeout=WAIT):
    """The pid of pg's names process (`purplegate --names-worker DIR ...`),
    none of `exclude`, once it said it is up or back."""
    def ready():
        pids = [pid for pid, argv in _children(pg.pid).items()
                if len(argv) >= 2 and argv[1] == "--names-worker" and pid not in exclude]
        said = set(int(p) for p in re.findall(r"names process \(pid (\d+)\) is (?:up|back)",
                                              pg.stderr_text()))
        return pids[0] if len(pids) == 1 and pids[0] in said else None
    return wait_until(ready, timeout, interval=0.02, what="the names process up")


def _workers(pg):
    return [pid for pid, argv in _children(pg.pid).items() if len(argv) >= 2 and argv[1] == "--worker"]


def _mapped(pid):
    """The names of the files `pid` maps."""
    names = set()
    for line in Path(f"/proc/{pid}/maps").read_text().splitlines():
        parts = line.split(None, 5)
        if len(parts) == 6 and parts[5].startswith("/"):
            names.add(os.path.basename(parts[5]))
    return names


def _irc_connections(pids, irc_port):
    """The local ports of the established TCP connections of `pids` to the
    IRC server."""
    inodes = set()
    for pid in pids:
        for fd in os.listdir(f"/proc/{pid}/fd"):
            try:
                m = re.fullmatch(r"socket:\[(\d+)\]", os.readlink(f"/proc/{pid}/fd/{fd}"))
            except OSError:
                continue
            if m:
                inodes.add(m.group(1))
    ports = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        parts = line.split()
        if parts[3] == "01" and int(parts[2].split(":")[1], 16) == irc_port and parts[9] in inodes:
            ports.add(int(parts[1].split(":")[1], 16))
    return ports


def _peer(env, nick):
    return env.track(IrcClient(env.irc.port, nick))


def _both_ways(c, peer, nick, token):
    """A private message each way between the user (IRC nick `nick`) and
    the IRC peer."""
    since_peer, since_c = peer.mark(), c.mark()
    c.send(f"<message type='chat' to='{peer.nick.lower()}@{GW}'><body>{token} out</body></message>")
    peer.expect(lambda m: m.command == "PRIVMSG" and m.nick == nick and m.params[-1] == f"{token} out",
                timeout=WAIT, since=since_peer, what=f"{token} at the peer")
    peer.privmsg(nick, f"{token} in")
    c.expect(chat_from(f"{peer.nick.lower()}@{GW}", f"{token} in"), timeout=WAIT, since=since_c,
             what=f"{token} at the user")


# ---------------------------------------------------------------------------


def test_main_process_loads_no_plugin(env):
    pg = _start(env)
    names = _names_pid(pg)
    c = online_user(env, env.user("nm"), "nmalice")
    main = _mapped(pg.pid)
    assert not main & PLUGINS, f"the main process (pid {pg.pid}) maps {sorted(main & PLUGINS)}"
    workers = _workers(pg)
    assert len(workers) == 2, f"workers of {pg.pid}: {workers}"
    for pid in workers + [names]:
        mapped = _mapped(pid)
        assert {"libirc.so", "pgtest.so"} <= mapped, \
            f"process {pid} does not map the plugins: {sorted(m for m in mapped if m.endswith('.so'))}"
    ping_gateway(c)


def test_normalised_names_in_rooms(env):
    _start(env)
    bob = _peer(env, "NBob")
    irc_join(bob, "#MixedCase")
    c = online_user(env, env.user("nn"), "nnalice")
    # The room JID is nodeprep'd (lower case); the IRC server names the
    # channel as it was created.
    j = join(c, "#mixedcase", "nnalice")
    assert {n.lower() for n in j.occupants} == {"nbob"}, f"occupants: {list(j.occupants)}"
    since = c.mark()
    bob.send("PRIVMSG #MixedCase :from the mixed case")
    c.expect(groupchat("#mixedcase", "NBob", "from the mixed case"), timeout=WAIT, since=since)
    # The occupant named in another case is NBob.
    since = bob.mark()
    c.send(f"<message type='chat' to='{room('#mixedcase')}/nbob' id='pm'><body>psst</body></message>")
    line = bob.expect(lambda m: m.command == "PRIVMSG" and m.nick == "nnalice", timeout=WAIT,
                      since=since, what="the private message at NBob")
    assert line.params == ["NBob", "psst"], line.raw


def test_names_process_crash_leaves_sessions_up(env):
    pg = _start(env, environment={RESTART_MS_ENV: "0"})
    names = _names_pid(pg)
    peer = _peer(env, "ncpeer")
    c = online_user(env, env.user("nc"), "ncalice")
    join(c, "#beforecrash", "ncalice")
    _both_ways(c, peer, "ncalice", "before")
    workers = _workers(pg)
    connections = _irc_connections(workers, env.irc.port)
    assert connections, "no IRC connection in the workers"

    os.kill(names, signal.SIGKILL)
    again = _names_pid(pg, exclude=[names])
    assert again != names
    _both_ways(c, peer, "ncalice", "after")
    assert _irc_connections(workers, env.irc.port) == connections, \
        "the users' IRC connections changed when the names process crashed"
    assert sorted(_workers(pg)) == sorted(workers), "a worker was restarted"
    # Normalisation works again: a channel created in mixed case.
    irc_join(peer, "#AfterCrash")
    join(c, "#aftercrash", "ncalice")
    since = c.mark()
    peer.send("PRIVMSG #AfterCrash :after the crash")
    c.expect(groupchat("#aftercrash", "ncpeer", "after the crash"), timeout=WAIT, since=since)
    assert sorted(_workers(pg)) == sorted(workers), "a worker was restarted"


def test_names_process_hang_is_bounded(env):
    pg = _start(env, environment={RESTART_MS_ENV: "0"})
    names = _names_pid(pg)
    peer = _peer(env, "nhpeer")
    c = online_user(env, env.user("nh"), "nhalice")
    os.kill(names, signal.SIGSTOP)
    try:
        # The room's name is new to the main process: the names process is
        # asked, does not answer within the bound, and the name is taken as
        # given (the channel is lower case: the join works).
        join(c, "#whilestopped", "nhalice")
        # Only a names process found hung is replaced.
        again = _names_pid(pg, exclude=[names])
        assert again != names
        wait_until(lambda: not Path(f"/proc/{names}").exists()
                   or Path(f"/proc/{names}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z",
                   WAIT, what="the hung names process gone")
    finally:
        try:
            os.kill(names, signal.SIGCONT)
        except ProcessLookupError:
            pass
    _both_ways(c, peer, "nhalice", "after")
    ping_gateway(c)
