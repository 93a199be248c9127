#!/usr/bin/python3
"""One full user life cycle on IRC with purplegate under valgrind memcheck,
for tools/run-valgrind (not a test module of run.py: it is too slow for the
integration suite).

    valgrind_scenario.py LOGFILE [valgrind option ...]

Real Prosody, real InspIRCd, a slixmpp client and a raw IRC peer:
registration (verified by a real IRC login), login, a contact added, a
message each way, logout, login again, unregistration with <remove/>, then
SIGTERM; purplegate must exit 0.  valgrind writes its report to LOGFILE;
tools/run-valgrind reads the numbers from it.  Timeouts are generous:
everything runs 20-50 times slower under memcheck."""

import sys
import time
from pathlib import Path

sys.dont_write_bytecode = True
sys.path.insert(0, str(Path(__file__).resolve().parent))

import harness  # noqa: E402
from harness import (COMPONENT_JID, NS_CLIENT, NS_REGISTER, Env, Prosody, Purplegate,  # noqa: E402
                     assert_result, child, match, register_legacy, register_set, text)
from legacy_servers import IrcClient, chat_from, is_presence_from  # noqa: E402

GW = COMPONENT_JID
SLOW = 120  # seconds for anything that waits on purplegate


def step(what, t0=[time.monotonic()]):
    print(f"[{time.monotonic() - t0[0]:7.1f}s] {what}", flush=True)


def wrapper(env, log_file, options):
    """A start script: purplegate under valgrind with GLib's allocator
    turned into plain malloc (so each allocation is seen)."""
    script = env.tmp / "purplegate-valgrind.sh"
    opts = " ".join(f"'{o}'" for o in options)
    script.write_text("#!/bin/sh\n"
                      "export G_SLICE=always-malloc G_DEBUG=gc-friendly\n"
                      f"exec valgrind --log-file='{log_file}' {opts} "
                      f"'{harness.purplegate_binary()}' \"$@\"\n")
    script.chmod(0o755)
    return script


def wait_online(c, since):
    c.expect(lambda el: is_presence_from(GW)(el), timeout=SLOW, since=since,
             what=f"available presence from {GW} (legacy login up)")


def main():
    log_file = Path(sys.argv[1]).resolve()
    options = sys.argv[2:]
    env = Env("valgrind")
    ok = False
    try:
        env.start_irc()
        env.prosody = Prosody(env.tmp / "prosody").start()
        env.purplegate = Purplegate(
            env.tmp / "purplegate", env.prosody.component_port, env.prosody.secret,
            binary=wrapper(env, log_file, options),
            overrides=env.purplegate_overrides({"registration": {"verify_timeout_s": "300"}}))
        env.purplegate.start()
        step("purplegate started under valgrind")
        env.wait_linked(timeout=SLOW)
        step("component connected")

        peer = IrcClient(env.irc.port, "vgpeer")
        c = env.client("vguser", roster=True)
        since = c.mark()
        r = register_set(c, register_legacy("vgnick", "vg-password"), timeout=SLOW)
        assert_result(r, r.get("id"))
        c.send(f"<presence type='subscribed' to='{GW}'/>")
        c.send(f"<presence type='subscribe' to='{GW}'/>")
        c.expect(match("presence", type="subscribed", frm=GW), timeout=SLOW, since=since)
        step("registered (credentials verified by an IRC login)")

        since = c.mark()
        c.send("<presence/>")
        wait_online(c, since)
        peer.wait_online("vgnick", timeout=SLOW)
        step("logged in")

        since = c.mark()
        c.send(f"<presence type='subscribe' to='vgpeer@{GW}'/>")
        c.expect(is_presence_from(f"vgpeer@{GW}"), timeout=SLOW, since=since,
                 what=f"available presence from vgpeer@{GW}")
        since = c.mark()
        peer.privmsg("vgnick", "hello from IRC & <friends>")
        m = c.expect(chat_from(f"vgpeer@{GW}"), timeout=SLOW, since=since)
        assert text(child(m, NS_CLIENT, "body")) == "hello from IRC & <friends>"
        since = peer.mark()
        c.send(f"<message type='chat' to='vgpeer@{GW}' id='vg1'><body>hello back</body>"
               f"<request xmlns='urn:xmpp:receipts'/></message>")
        peer.expect(lambda m: m.command == "PRIVMSG" and m.params[-1] == "hello back",
                    timeout=SLOW, since=since, what="PRIVMSG hello back")
        step("chatted both ways")

        c.send("<presence type='unavailable'/>")
        peer.wait_online("vgnick", want=False, timeout=SLOW)
        step("logged out")
        since = c.mark()
        c.send("<presence/>")
        wait_online(c, since)
        peer.wait_online("vgnick", timeout=SLOW)
        step("logged in again")

        r = c.iq(f"<iq type='set' to='{GW}' id='vgrm'><query xmlns='{NS_REGISTER}'><remove/>"
                 f"</query></iq>", timeout=SLOW)
        assert_result(r, "vgrm")
        peer.wait_online("vgnick", want=False, timeout=SLOW)
        step("unregistered")
        peer.close()
        c.close()

        rc = env.purplegate.stop(timeout=SLOW)
        step(f"purplegate stopped with SIGTERM, exit status {rc}")
        assert rc == 0, f"exit status {rc}"
        ok = True
    except BaseException as e:
        print(f"scenario failed: {e!r}", file=sys.stderr)
        if env.purplegate:
            print(env.purplegate.tail(60), file=sys.stderr)
    finally:
        harness.close_all_clients()
        env.close(keep=not ok)
        harness.kill_all_children()
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
