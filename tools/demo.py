#!/usr/bin/python3
"""The README's first command, after tools/run-demo has built purplegate:
a private Prosody and IRC server on 127.0.0.1, purplegate between them on
the embedded sqlite store, and instructions for a human with any XMPP
client. Ctrl-C stops everything it started (by PID)."""

import os
import signal
import sys
import time
from pathlib import Path

TOP = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(TOP / "tests" / "integration"))
import harness  # noqa: E402

STATE = Path(os.environ.get("PURPLEGATE_DEMO_DIR", TOP / "_demo"))
USER, PASSWORD = "test", "test"


def catalogue_dir():
    """Where `make` left the translations (po/de.gmo): purplegate runs from
    the build tree here, so it finds no installed catalogue."""
    binary = harness.purplegate_binary()
    for d in (TOP / "po", binary.parent / "po"):
        if any(d.glob("*.gmo")):
            return d
    return None


def main():
    STATE.mkdir(parents=True, exist_ok=True)
    # The daemon copies the environment when it starts.
    if not os.environ.get("PURPLEGATE_LOCALEDIR") and catalogue_dir() is not None:
        os.environ["PURPLEGATE_LOCALEDIR"] = str(catalogue_dir())
    irc = harness.IrcServer(STATE / "ircd").start()
    prosody = harness.Prosody(STATE / "prosody", log_level="info")
    prosody.add_user(USER, PASSWORD)
    prosody.start()
    gate = harness.Purplegate(STATE / "purplegate", prosody.component_port, prosody.secret,
                              overrides=dict(irc.purplegate_overrides(), log={"level": "info"}),
                              db_dir=STATE)
    gate.start()
    print(f"""
purplegate is running.
  XMPP server : Prosody on 127.0.0.1 port {prosody.c2s_port} (no TLS on this private demo)
  account     : {USER}@{harness.USER_DOMAIN}   password: {PASSWORD}
  gateway     : {gate.jid} (IRC, via a private InspIRCd on 127.0.0.1 port {irc.port})
  state       : {STATE} (sqlite database, sealed passwords, logs)

With any XMPP client (Gajim, Dino, Conversations, profanity…):
  1. Add the account {USER}@{harness.USER_DOMAIN} with password {PASSWORD}; set the server to
     127.0.0.1, port {prosody.c2s_port}, and allow unencrypted connections.
  2. Open service discovery on {gate.jid} and choose "Register", or run the
     ad-hoc command "Register" (profanity: /cmd list {gate.jid}, then
     /cmd exec urn:purplegate:register {gate.jid}; profanity's /register
     creates server accounts, not gateway registrations).
     Type an IRC nickname as username; the password may stay empty. It is
     checked with a real login; a chat message "help" to {gate.jid} lists
     what else you can do.
  3. Accept the gateway's subscription request and go online: your nick joins
     the IRC server. Any IRC client on 127.0.0.1:{irc.port} can now message you,
     and you reach nick N as N@{gate.jid}.
  4. Join an IRC channel as a group chat: #demo@{gate.jid}
     (Gajim: Join Group Chat; Conversations, Dino: Join channel;
     profanity: /join #demo@{gate.jid}).
purplegate's log: {gate.stderr_path}
Press Ctrl-C to stop.""", flush=True)
    try:
        while gate.running() and prosody.running():
            time.sleep(1)
        print("a server stopped: see the logs above", file=sys.stderr)
    except KeyboardInterrupt:
        pass
    finally:
        gate.stop()
        prosody.stop()
        irc.stop()
        print("stopped purplegate, Prosody and InspIRCd")


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    main()
