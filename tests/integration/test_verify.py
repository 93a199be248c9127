"""Registration checks the credentials with a real legacy login before it
stores them (XEP-0100 §4.1.1 step 6, §4.1.2).  The IRC server here
(harness.FakeIrcServer) wants a password and refuses any other with 464
ERR_PASSWDMISMATCH, as most ircds do."""

import harness
from harness import (COMPONENT_JID, assert_error, register, register_legacy, registered_username,
                     tostr)

GW = COMPONENT_JID
IRC_PASSWORD = "letmein-irc-7"


def setup(name):
    env = harness.Env(name)
    try:
        env.start_irc(IRC_PASSWORD, fake=True)
        return env.start_standard()
    except BaseException:
        env.close(keep=True)
        raise


def test_right_password_registers(env):
    c = env.client(env.user("good"))
    register(c, "goodnick", IRC_PASSWORD)
    assert ("goodnick", IRC_PASSWORD, True) in env.irc.logins, \
        f"no legacy login was made: {env.irc.logins}"
    assert registered_username(c) == "goodnick"


def test_wrong_password_refused(env):
    wrong = "Wrong-Pass-4711"
    c = env.client(env.user("bad"))
    r = c.iq(f"<iq type='set' to='{GW}' id='wp1'>{register_legacy('badnick', wrong)}</iq>",
             timeout=35)
    assert_error(r, "wp1", "not-acceptable", "modify", code=406, frm=GW)
    assert ("badnick", wrong, False) in env.irc.logins, f"no legacy login: {env.irc.logins}"
    assert wrong not in tostr(r), f"password echoed in the error: {tostr(r)}"
    assert registered_username(c) is None, "refused credentials were stored"


def test_failed_reregistration_keeps_old(env):
    c = env.client(env.user("keep"))
    register(c, "keepnick", IRC_PASSWORD)
    r = c.iq(f"<iq type='set' to='{GW}' id='wp2'>"
             f"{register_legacy('keepnick2', 'Wrong-Again-99')}</iq>", timeout=35)
    assert_error(r, "wp2", "not-acceptable", "modify", code=406)
    assert registered_username(c) == "keepnick", "a refused edit changed the registration"


def test_legacy_network_down(env):
    # The IRC server is gone: not the user's fault, so not not-acceptable;
    # the transport says the legacy network did not answer (wait).
    env.irc.stop()
    c = env.client(env.user("down"))
    r = c.iq(f"<iq type='set' to='{GW}' id='nd1'>"
             f"{register_legacy('downnick', IRC_PASSWORD)}</iq>", timeout=35)
    assert_error(r, "nd1", "remote-server-timeout", "wait", frm=GW)
    assert IRC_PASSWORD not in tostr(r), f"password echoed in the error: {tostr(r)}"
    assert registered_username(c) is None
