"""The component link over time: it stays up while idle, and when Prosody
restarts under a running purplegate the component reconnects with its
backoff (1 s doubling) and keeps every registration."""

import time

from harness import (COMPONENT_JID, NS_DISCO_INFO, assert_result, register,
                     registered_username)

GW = COMPONENT_JID
TIMEOUT = 90


def _restart(env, downtime):
    pid = env.purplegate.pid
    env.prosody.stop()
    time.sleep(downtime)
    env.prosody.start()
    t0 = time.monotonic()
    c = env.client("alice")
    env.purplegate.wait_connected(c, timeout=15)
    took = time.monotonic() - t0
    assert env.purplegate.running() and env.purplegate.pid == pid, \
        "purplegate exited while Prosody was down"
    return c, took


def test_idle_link_stays_up(env):
    # Nothing crosses the link for longer than any short socket timeout;
    # the stream must still be the same afterwards (no reconnect).
    auth_before = env.prosody.component_auth_count()
    pid = env.purplegate.pid
    time.sleep(15)
    c = env.client("idle")
    r = c.iq(f"<iq type='get' to='{GW}' id='idle1'><query xmlns='{NS_DISCO_INFO}'/></iq>")
    assert_result(r, "idle1")
    assert env.purplegate.pid == pid and env.purplegate.running()
    assert env.prosody.component_auth_count() == auth_before, \
        "the component link dropped and reconnected while idle"


def test_prosody_restart(env):
    c = env.client("alice")
    register(c, "alicenick", "pw-restart")
    c.close()
    c, took = _restart(env, downtime=0)
    assert took < 10, f"reconnected only after {took:.1f}s"
    r = c.iq(f"<iq type='get' to='{GW}' id='dr1'><query xmlns='{NS_DISCO_INFO}'/></iq>")
    assert_result(r, "dr1")
    assert registered_username(c) == "alicenick", "registration lost over the restart"


def test_prosody_down_for_a_while(env):
    # Several refused attempts (1 s, 2 s, 4 s...) and still it comes back.
    c, took = _restart(env, downtime=5)
    assert took < 12, f"reconnected only {took:.1f}s after Prosody came back"
    r = c.iq(f"<iq type='get' to='{GW}' id='dr2'><query xmlns='{NS_DISCO_INFO}'/></iq>")
    assert_result(r, "dr2")
