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
import time

from harness import (NS_XDATA, assert_error, child, children, match, register_legacy,
                     registered_username, text, tostr, xml_escape)
from harness import WAIT
from legacy_servers import (LEGACY_DOMAIN, XMPP_GW, registered_user, send_available,
                            wait_transport_online, xmpp_env)

GW = XMPP_GW
NS_COMMANDS = "http://jabber.org/protocol/commands"
NODE = "urn:purplegate:questions"
NODE_REGISTER = "urn:purplegate:register"
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


def execute(c, action=None, sessionid=None, form="", node=NODE, timeout=WAIT):
    attrs = f" node='{node}'"
    if action:
        attrs += f" action='{action}'"
    if sessionid:
        attrs += f" sessionid='{xml_escape(sessionid)}'"
    return c.iq(f"<iq type='set' to='{GW}'><command xmlns='{NS_COMMANDS}'{attrs}>{form}</command></iq>",
                timeout=timeout)


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


def legacy_account(env, prefix):
    """A fresh account of the legacy host: (its user name, password)."""
    legacy = env.client(env.user(prefix), host=LEGACY_DOMAIN)
    legacy_bare, pw = legacy.bare, env.prosody.users[legacy.bare]
    legacy.close()
    return legacy_bare.split("@")[0], pw


def error_text(r):
    err = child(r, "jabber:client", "error")
    return text(child(err, "urn:ietf:params:xml:ns:xmpp-stanzas", "text")) or ""


def test_registration_names_the_question(env):
    # XEP-0077 has no second form: the error names the question and the
    # ad-hoc command that shows it.
    fingerprint = set_tls(env, True)
    name, pw = legacy_account(env, "regleg")
    c = env.client(env.user("reg"))
    r = c.iq(f"<iq type='set' to='{GW}' id='rq1'>{register_legacy(name, pw)}</iq>", timeout=40)
    assert_error(r, "rq1", "not-acceptable", "modify", frm=GW)
    t = error_text(r)
    assert fingerprint in t and "“Register”" in t, t
    assert registered_username(c, GW) is None


def register_until_question(env, prefix):
    """Runs the ad-hoc command Register with a fresh legacy account while
    the legacy host has its certificate; returns (client, legacy name,
    fingerprint, the answer with the question, its form fields)."""
    fingerprint = set_tls(env, True)
    name, pw = legacy_account(env, prefix + "leg")
    c = env.client(env.user(prefix), roster=True)
    first = execute(c, node=NODE_REGISTER)
    cmd = child(first, NS_COMMANDS, "command")
    assert cmd is not None and cmd.get("status") == "executing", tostr(first)
    sessionid = cmd.get("sessionid")
    r = execute(c, "complete", sessionid, submit({"username": name, "password": pw}), node=NODE_REGISTER,
                timeout=40)
    # XEP-0050 §3.4: the same session goes on with the question as its
    # next stage.
    assert r.get("type") == "result", tostr(r)
    cmd = child(r, NS_COMMANDS, "command")
    assert cmd.get("status") == "executing" and cmd.get("sessionid") == sessionid, tostr(r)
    x = child(cmd, NS_XDATA, "x")
    assert x is not None and x.get("type") == "form", tostr(r)
    f = fields(x)
    assert f["fingerprint"] == [fingerprint], tostr(x)
    assert registered_username(c, GW) is None, "registered before the question was answered"
    return c, name, fingerprint, r, x


def button(x, label):
    field = [e for e in children(x, NS_XDATA, "field") if e.get("var") == "pg-action"][0]
    values = [text(child(o, NS_XDATA, "value")) for o in children(field, NS_XDATA, "option")
              if o.get("label") == label]
    assert values, f"no {label} button: {tostr(x)}"
    return values[0]


def test_register_command_asks_the_certificate(env):
    c, name, fingerprint, r, x = register_until_question(env, "cmdacc")
    sessionid = child(r, NS_COMMANDS, "command").get("sessionid")
    r = execute(c, "complete", sessionid, submit({"pg-action": button(x, "Accept")}), node=NODE_REGISTER,
                timeout=40)
    cmd = child(r, NS_COMMANDS, "command")
    assert r.get("type") == "result" and cmd.get("status") == "completed", tostr(r)
    notes = [text(n) for n in children(cmd, NS_COMMANDS, "note")]
    assert any(name in n for n in notes), tostr(r)
    assert registered_username(c, GW) == name
    # The accepted certificate is kept with the registration: the user's
    # own login asks nothing.
    c.send(f"<presence type='subscribed' to='{GW}'/>")
    c.send(f"<presence type='subscribe' to='{GW}'/>")
    since = c.mark()
    send_available(c)
    wait_transport_online(c, GW, since=since)
    c.nothing(question_from_gw(), wait=0.5, since=since, what="a question after registering")


def test_register_command_certificate_rejected(env):
    c, name, fingerprint, r, x = register_until_question(env, "cmdrej")
    sessionid = child(r, NS_COMMANDS, "command").get("sessionid")
    r = execute(c, "complete", sessionid, submit({"pg-action": button(x, "Reject")}), node=NODE_REGISTER,
                timeout=40)
    assert_error(r, r.get("id"), "not-acceptable", "modify", frm=GW)
    t = error_text(r)
    assert "you rejected it" in t and fingerprint in t, t
    assert registered_username(c, GW) is None


def test_register_command_cancelled_at_the_question(env):
    c, name, fingerprint, r, x = register_until_question(env, "cmdcan")
    sessionid = child(r, NS_COMMANDS, "command").get("sessionid")
    r = execute(c, "cancel", sessionid, node=NODE_REGISTER)
    assert child(r, NS_COMMANDS, "command").get("status") == "canceled", tostr(r)
    r = execute(c, "complete", sessionid, submit({"pg-action": button(x, "Accept")}), node=NODE_REGISTER)
    assert r.get("type") == "error", tostr(r)
    assert registered_username(c, GW) is None


def test_register_command_question_times_out(env):
    # Unanswered for question_timeout_s, the question refuses the
    # registration; the next request of the command says so.
    c, name, fingerprint, r, x = register_until_question(env, "cmdtmo")
    sessionid = child(r, NS_COMMANDS, "command").get("sessionid")
    time.sleep(TIMEOUT_S + 1)
    r = execute(c, "complete", sessionid, submit({"pg-action": button(x, "Accept")}), node=NODE_REGISTER)
    assert_error(r, r.get("id"), "not-acceptable", "modify", frm=GW)
    t = error_text(r)
    assert f"not accepted within {TIMEOUT_S} seconds" in t and fingerprint in t, t
    assert registered_username(c, GW) is None
