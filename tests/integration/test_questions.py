"""libpurple's questions to a user (README, "Questions from the legacy
network"; purplegate.conf(5), [legacy] certificates and [registration]
question_timeout_s): prpl-jabber logs in to the legacy virtual host
legacy.localhost, which Prosody serves with a self-signed certificate made
here with openssl, so libpurple's certificate check asks.  The question
reaches the user as a message from the gateway and as the form of the
ad-hoc command (XEP-0050) "Answer pending questions"; it is answered there
or by a plain-text reply, declined by the timeout, or by [legacy]
certificates = system.

Registration checks credentials with a login (XEP-0100 §4.1.1), which the
certificate question would stop: users register while the legacy host has
no certificate, then Prosody restarts with one."""

import subprocess

from harness import (NS_XDATA, assert_error, child, children, match, register_legacy, text, tostr,
                     xml_escape)
from harness import WAIT
from legacy_servers import (LEGACY_DOMAIN, XMPP_GW, registered_user, send_available,
                            wait_transport_online, xmpp_env)

GW = XMPP_GW
NS_COMMANDS = "http://jabber.org/protocol/commands"
NODE = "urn:purplegate:questions"
TIMEOUT_S = 6


def setup(name):
    return xmpp_env(name, overrides={"registration": {"question_timeout_s": str(TIMEOUT_S)}})


# ---------------------------------------------------------------------------
# helpers


def cert_paths(env):
    d = env.prosody.workdir / "certs"
    return d / f"{LEGACY_DOMAIN}.crt", d / f"{LEGACY_DOMAIN}.key"


def make_certificate(env):
    """A self-signed certificate for legacy.localhost (once per servers);
    returns its SHA-256 fingerprint as AA:BB:…"""
    crt, key = cert_paths(env)
    if not crt.exists():
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                        "-subj", f"/CN={LEGACY_DOMAIN}", "-keyout", str(key), "-out", str(crt)],
                       check=True, capture_output=True)
    out = subprocess.run(["openssl", "x509", "-noout", "-fingerprint", "-sha256", "-in", str(crt)],
                         check=True, capture_output=True, text=True).stdout
    return out.strip().split("=", 1)[1].upper()


def set_tls(env, on):
    """Prosody restarted with (or without) STARTTLS on the legacy host, with
    its certificate; purplegate's component link comes back."""
    fingerprint = make_certificate(env)
    config = env.prosody.config_path
    base = config.read_text().split("-- questions: tls")[0]
    # The harness's Prosody loads no mod_tls; the legacy host gets it.
    modules = '"roster"; "saslauth"; "disco"; "ping"' + ('; "tls"' if on else "")
    config.write_text(base + f'-- questions: tls\nVirtualHost "{LEGACY_DOMAIN}"\n'
                      f"  modules_enabled = {{ {modules} }}\n")
    # purplegate too: its reconnection backoff grows with each restart of
    # the XMPP server.
    env.purplegate.stop()
    env.prosody.restart()
    env.purplegate.start()
    env.wait_linked()
    return fingerprint if on else None


def restart_purplegate(env, **groups):
    env.purplegate.stop()
    for group, kv in groups.items():
        env.purplegate.settings.setdefault(group, {}).update(kv)
    env.purplegate.write_config()
    env.purplegate.start()
    env.wait_linked()


def new_user(env, prefix):
    """A registered user (registered while the legacy host has no TLS) of a
    fresh legacy account; then the host gets its certificate.  Returns
    (user name, fingerprint)."""
    set_tls(env, False)
    legacy = env.client(env.user(prefix + "leg"), host=LEGACY_DOMAIN)
    legacy_bare, pw = legacy.bare, env.prosody.users[legacy.bare]
    legacy.close()
    name = env.user(prefix)
    c = registered_user(env, name, legacy_bare.split("@")[0], pw, gw=GW)
    c.close()
    return name, set_tls(env, True)


def question_from_gw(fingerprint=None):
    def pred(el):
        if not match("message", frm=GW)(el):
            return False
        body = text(child(el, "jabber:client", "body")) or ""
        return "(question" in body and (fingerprint is None or fingerprint in body)
    return pred


def come_online(env, name):
    c = env.client(name, roster=True)
    since = c.mark()
    send_available(c)
    return c, since


def execute(c, action=None, sessionid=None, form=""):
    attrs = f" node='{NODE}'"
    if action:
        attrs += f" action='{action}'"
    if sessionid:
        attrs += f" sessionid='{xml_escape(sessionid)}'"
    return c.iq(f"<iq type='set' to='{GW}'><command xmlns='{NS_COMMANDS}'{attrs}>{form}</command></iq>")


def fields(x):
    return {f.get("var") or "": [text(v) for v in children(f, NS_XDATA, "value")]
            for f in children(x, NS_XDATA, "field")}


def submit(values):
    out = f"<x xmlns='{NS_XDATA}' type='submit'>"
    for var, v in values.items():
        out += f"<field var='{var}'><value>{xml_escape(v)}</value></field>"
    return out + "</x>"


def presence_error_text(c, since, what):
    el = c.expect(match("presence", type="error", frm=GW), timeout=WAIT * 2, since=since, what=what)
    err = child(el, "jabber:client", "error")
    t = child(err, "urn:ietf:params:xml:ns:xmpp-stanzas", "text")
    return text(t) or "", el


# ---------------------------------------------------------------------------


def test_certificate_accepted_in_the_command_and_remembered(env):
    name, fingerprint = new_user(env, "acc")
    c, since = come_online(env, name)
    msg = c.expect(question_from_gw(fingerprint), timeout=WAIT * 2, since=since,
                   what="the certificate question as a message")
    body = text(child(msg, "jabber:client", "body"))
    assert fingerprint in body and "Answer pending questions" in body, body

    r = execute(c, "execute")
    assert r.get("type") == "result", tostr(r)
    cmd = child(r, NS_COMMANDS, "command")
    assert cmd.get("status") == "executing", tostr(r)
    x = child(cmd, NS_XDATA, "x")
    f = fields(x)
    # The host libpurple connects to (connect_server), as it names it.
    assert f["host"] and f["host"][0] in (LEGACY_DOMAIN, "127.0.0.1"), tostr(x)
    assert LEGACY_DOMAIN in f["subject"][0], tostr(x)
    assert f["fingerprint"] == [fingerprint], tostr(x)
    options = {text(child(o, NS_XDATA, "value")): o.get("label")
               for o in children([e for e in children(x, NS_XDATA, "field")
                                  if e.get("var") == "pg-action"][0], NS_XDATA, "option")}
    accept = [v for v, label in options.items() if label == "Accept"]
    assert accept, f"no Accept button: {tostr(x)}"

    since = c.mark()
    r = execute(c, "complete", cmd.get("sessionid"), submit({"pg-action": accept[0]}))
    assert r.get("type") == "result" and child(r, NS_COMMANDS, "command").get("status") == "completed", tostr(r)
    wait_transport_online(c, GW, since=since)

    # Remembered in the store: after a restart the login goes through
    # without a question.
    c.close()
    restart_purplegate(env)
    c, since = come_online(env, name)
    wait_transport_online(c, GW, since=since)
    c.nothing(question_from_gw(), wait=0.5, since=since, what="a question after the restart")


def test_certificate_rejected_by_plain_text_reply(env):
    name, fingerprint = new_user(env, "rej")
    c, since = come_online(env, name)
    c.expect(question_from_gw(fingerprint), timeout=WAIT * 2, since=since, what="the question")
    since = c.mark()
    c.send(f"<message to='{GW}' type='chat'><body>2</body></message>")  # 2. Reject
    reason, _ = presence_error_text(c, since, "the refused login")
    assert "rejected" in reason and fingerprint in reason, reason


def test_certificate_timeout(env):
    name, fingerprint = new_user(env, "tmo")
    c, since = come_online(env, name)
    c.expect(question_from_gw(fingerprint), timeout=WAIT * 2, since=since, what="the question")
    c.expect(lambda el: match("message", frm=GW)(el)
             and "not answered within" in (text(child(el, "jabber:client", "body")) or ""),
             timeout=TIMEOUT_S + WAIT, since=since, what="the timeout note")
    reason, _ = presence_error_text(c, since, "the refused login")
    assert f"not accepted within {TIMEOUT_S} seconds" in reason and fingerprint in reason, reason
    r = execute(c, "execute")
    notes = [text(n) for n in children(child(r, NS_COMMANDS, "command"), NS_COMMANDS, "note")]
    assert any("No questions" in n for n in notes), tostr(r)


def test_certificate_accepted_by_plain_text_reply(env):
    name, fingerprint = new_user(env, "yes")
    c, since = come_online(env, name)
    c.expect(question_from_gw(fingerprint), timeout=WAIT * 2, since=since, what="the question")
    since = c.mark()
    c.send(f"<message to='{GW}' type='chat'><body>yes</body></message>")
    wait_transport_online(c, GW, since=since)


def test_system_certificates_refuse_precisely(env):
    name, fingerprint = new_user(env, "sys")
    restart_purplegate(env, legacy={"certificates": "system"})
    try:
        c, since = come_online(env, name)
        reason, _ = presence_error_text(c, since, "the refused login")
        assert "system's certificate authorities" in reason and fingerprint in reason, reason
        c.nothing(question_from_gw(), wait=0.3, since=since, what="a question under system")
    finally:
        restart_purplegate(env, legacy={"certificates": "ask"})


def test_registration_names_the_question(env):
    fingerprint = set_tls(env, True)
    legacy = env.client(env.user("regleg"), host=LEGACY_DOMAIN)
    legacy_bare, pw = legacy.bare, env.prosody.users[legacy.bare]
    legacy.close()
    c = env.client(env.user("reg"))
    r = c.iq(f"<iq type='set' to='{GW}' id='rq1'>{register_legacy(legacy_bare.split('@')[0], pw)}</iq>", timeout=40)
    assert_error(r, "rq1", "not-acceptable", "modify", frm=GW)
    assert "asked" in tostr(r) and fingerprint in tostr(r), tostr(r)
