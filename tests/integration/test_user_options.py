"""Per-user account options (README "Account options", purplegate.conf(5)
[registration] user_options): the options the operator allows are typed
fields of the XEP-0077 form (XEP-0004 §3.3, XEP-0122 for integers) and of
the settings command; the user's real name reaches IRC (WHOIS) at the
next login, or at once with "log in again now"; an option the operator
did not allow is refused (not-acceptable, naming it); a secret is masked
(text-private, never sent back) and sealed in the store file.  Real
Prosody, InspIRCd and slixmpp clients."""

import os
import subprocess
from pathlib import Path

import harness
from harness import (COMPONENT_JID, NS_CLIENT, NS_REGISTER, NS_STANZAS, NS_XDATA, assert_error, child,
                     register_get, register_set, registered_username, text, tostr, wait_until,
                     xml_escape)
from harness import WAIT
from legacy_servers import IrcClient, irc_env, registered_user, send_available, wait_transport_online

GW = COMPONENT_JID
NS_COMMANDS = "http://jabber.org/protocol/commands"
NS_VALIDATE = "http://jabber.org/protocol/xdata-validate"
NODE_SETTINGS = "urn:purplegate:settings"
# split:server is the server part of prpl-irc's user name (nick@server),
# which [legacy] username_suffix (@127.0.0.1 here) gives by default.
ALLOWED = "realname, nickserv_password, autodetect_utf8, ratelimit-burst, split:server"


def setup(name):
    return irc_env(name, overrides={"registration": {"user_options": ALLOWED}})


def _form_query(fields):
    out = f"<field var='FORM_TYPE' type='hidden'><value>{NS_REGISTER}</value></field>"
    for var, value in fields.items():
        out += f"<field var='{var}'><value>{xml_escape(value)}</value></field>"
    return f"<query xmlns='{NS_REGISTER}'><x xmlns='{NS_XDATA}' type='submit'>{out}</x></query>"


def _fields(x):
    return {f.get("var"): f for f in x.iter(f"{{{NS_XDATA}}}field")}


def _values(field):
    return [text(v) for v in field.findall(f"{{{NS_XDATA}}}value")]


def _realname(peer, nick):
    info = peer.whois(nick)
    assert info is not None, f"{nick} is not on IRC"
    return info["user"][-1]


def _register_online(env, prefix, nick, options):
    c = env.client(env.user(prefix), roster=True)
    since = c.mark()
    r = register_set(c, _form_query({"username": nick, **options}), timeout=2 * WAIT)
    assert r.get("type") == "result", f"registration refused: {tostr(r)}"
    c.send(f"<presence type='subscribed' to='{GW}'/>")
    c.send(f"<presence type='subscribe' to='{GW}'/>")
    since = c.mark()
    send_available(c)
    wait_transport_online(c, GW, since)
    return c


def _execute(c, node, action=None, sessionid=None, form=""):
    attrs = f" node='{node}'"
    if action:
        attrs += f" action='{action}'"
    if sessionid:
        attrs += f" sessionid='{sessionid}'"
    return c.iq(f"<iq type='set' to='{GW}'><command xmlns='{NS_COMMANDS}'{attrs}>{form}</command></iq>",
                timeout=2 * WAIT)


def _settings(c, values):
    """Runs the settings command, submitting `values`; returns the first
    stage's form and the final answer."""
    first = _execute(c, NODE_SETTINGS)
    assert first.get("type") == "result", tostr(first)
    cmd = child(first, NS_COMMANDS, "command")
    x = child(cmd, NS_XDATA, "x")
    form = f"<x xmlns='{NS_XDATA}' type='submit'>" + "".join(
        f"<field var='{var}'><value>{xml_escape(v)}</value></field>" for var, v in values.items()) + "</x>"
    return x, _execute(c, NODE_SETTINGS, "complete", cmd.get("sessionid"), form)


def test_form_fields_typed(env):
    c = env.client(env.user("typed"))
    _, query = register_get(c)
    x = child(query, NS_XDATA, "x")
    assert x is not None, tostr(query)
    f = _fields(x)
    assert f["option:realname"].get("type") == "text-single", tostr(x)
    assert f["option:autodetect_utf8"].get("type") == "boolean", tostr(x)
    assert _values(f["option:autodetect_utf8"]) in (["true"], ["false"]), tostr(x)
    burst = f["option:ratelimit-burst"]
    assert burst.get("type") == "text-single", tostr(x)
    validate = child(burst, NS_VALIDATE, "validate")
    assert validate is not None and validate.get("datatype") == "xs:integer", tostr(burst)
    secret = f["option:nickserv_password"]
    assert secret.get("type") == "text-private" and _values(secret) == [], tostr(secret)
    # Options the operator keeps for [legacy-settings] are not offered.
    assert "option:port" not in f and "option:ssl" not in f, tostr(x)
    # The server part of the user name, the operator's by default.
    server = f["option:split:server"]
    assert server.get("type") == "text-single" and server.get("label") == "Server", tostr(server)
    assert _values(server) == ["127.0.0.1"], tostr(server)


def test_realname_in_whois(env):
    peer = env.track(IrcClient(env.irc.port, "rnpeer"))
    _register_online(env, "rn", "rnuser", {"option:realname": "Alice Liddell"})
    peer.wait_online("rnuser")
    assert _realname(peer, "rnuser") == "Alice Liddell"


def test_settings_change_and_log_in_again(env):
    peer = env.track(IrcClient(env.irc.port, "chpeer"))
    c = _register_online(env, "ch", "chuser", {"option:realname": "First Name"})
    peer.wait_online("chuser")
    assert _realname(peer, "chuser") == "First Name"
    x, done = _settings(c, {"option:realname": "Second Name", "relogin": "true"})
    f = _fields(x)
    assert _values(f["option:realname"]) == ["First Name"], tostr(x)
    assert f["relogin"].get("type") == "boolean", tostr(x)
    assert done.get("type") == "result", tostr(done)
    # The login goes and comes back: WHOIS may find no chuser meanwhile.
    def renamed():
        info = peer.whois("chuser")
        return info is not None and info["user"] is not None and info["user"][-1] == "Second Name"
    wait_until(renamed, 2 * WAIT, interval=0.5, what="the new real name in WHOIS")
    # Stored: the registration form shows it too.
    _, query = register_get(c)
    assert _values(_fields(child(query, NS_XDATA, "x"))["option:realname"]) == ["Second Name"]


def test_option_not_allowed_refused(env):
    c = env.client(env.user("na"))
    r = register_set(c, _form_query({"username": "nauser", "option:port": "7000"}), timeout=2 * WAIT)
    assert_error(r, r.get("id"), "not-acceptable", "modify")
    err = child(r, NS_CLIENT, "error")
    assert '"port"' in text(child(err, NS_STANZAS, "text")), tostr(r)
    # A value of the wrong type names the option as well.
    r = register_set(c, _form_query({"username": "nauser", "option:ratelimit-burst": "many"}), timeout=2 * WAIT)
    assert_error(r, r.get("id"), "not-acceptable", "modify")
    assert "ratelimit-burst" in text(child(child(r, NS_CLIENT, "error"), NS_STANZAS, "text")), tostr(r)
    # The settings command refuses it the same way.
    u = registered_user(env, env.user("nas"), "nasuser", password=None)
    _, r = _settings(u, {"option:ssl": "true"})
    assert_error(r, r.get("id"), "not-acceptable", "modify")
    assert '"ssl"' in text(child(child(r, NS_CLIENT, "error"), NS_STANZAS, "text")), tostr(r)


def test_secret_sealed_and_masked(env):
    secret = "Hunter2-sealed-secret"
    c = env.client(env.user("sec"))
    r = register_set(c, _form_query({"username": "secuser", "option:nickserv_password": secret}),
                     timeout=2 * WAIT)
    assert r.get("type") == "result", tostr(r)
    _, query = register_get(c)
    field = _fields(child(query, NS_XDATA, "x"))["option:nickserv_password"]
    assert field.get("type") == "text-private" and _values(field) == [], tostr(field)
    assert secret not in tostr(query)
    db = Path(env.purplegate.settings["database"]["path"])
    for path in [db] + [db.with_name(db.name + s) for s in ("-wal", "-journal")]:
        if path.exists():
            assert secret.encode() not in path.read_bytes(), f"{path} holds the secret in clear"


def test_nickserv_password_sent_on_login(env):
    # InspIRCd here has no services: a plain client takes the nick
    # NickServ and reads what the gateway sends it.
    services = env.track(IrcClient(env.irc.port, "NickServ"))
    since = services.mark()
    _register_online(env, "ns", "nsuser", {"option:nickserv_password": "open sesame"})
    line = services.expect(lambda m: m.command == "PRIVMSG" and len(m.params) >= 2
                           and m.params[0].lower() == "nickserv", 2 * WAIT, since,
                           what="PRIVMSG NickServ from the gateway's login")
    assert line.params[1] == "IDENTIFY open sesame", line.params


def test_server_part_of_the_user_name(env):
    # README "Account options": a user-name part the operator allows is a
    # field of its own, checked, and the logins use it.
    c = env.client(env.user("srv"), roster=True)
    r = register_set(c, _form_query({"username": "srvuser", "option:split:server": "srv@x"}),
                     timeout=2 * WAIT)
    assert_error(r, r.get("id"), "not-acceptable", "modify")
    assert '"split:server"' in text(child(child(r, NS_CLIENT, "error"), NS_STANZAS, "text")), tostr(r)
    r = register_set(c, _form_query({"username": "srv@127.0.0.1", "option:split:server": "127.0.0.1"}),
                     timeout=2 * WAIT)
    assert_error(r, r.get("id"), "not-acceptable", "modify")
    # The check logs in to the server given: nobody listens on 127.0.0.2.
    r = register_set(c, _form_query({"username": "srvuser", "option:split:server": "127.0.0.2"}),
                     timeout=2 * WAIT)
    assert r.get("type") == "error", f"registered on a server nobody runs: {tostr(r)}"
    assert registered_username(c) is None
    # localhost is this IRC server too.
    peer = env.track(IrcClient(env.irc.port, "srvpeer"))
    r = register_set(c, _form_query({"username": "srvuser", "option:split:server": "localhost"}),
                     timeout=2 * WAIT)
    assert r.get("type") == "result", tostr(r)
    c.send(f"<presence type='subscribed' to='{GW}'/>")
    c.send(f"<presence type='subscribe' to='{GW}'/>")
    since = c.mark()
    send_available(c)
    wait_transport_online(c, GW, since)
    peer.wait_online("srvuser")
    # Kept: the settings command shows it.
    x, done = _settings(c, {})
    assert _values(_fields(x)["option:split:server"]) == ["localhost"], tostr(x)
    assert done.get("type") == "result", tostr(done)


def _check_config(env, name, user_options, suffix):
    """purplegate --check-config of a prpl-irc configuration with these
    [registration] user_options and [legacy] username_suffix."""
    conf = env.tmp / name
    conf.write_text("[component]\njid = irc.example.org\nsecret = s\n"
                    f"[legacy]\nprotocol = prpl-irc\nusername_suffix = {suffix}\n"
                    f"[registration]\nuser_options = {user_options}\n"
                    f"[database]\npath = {env.tmp / 'check.db'}\nkey_file = {env.tmp / 'check.key'}\n")
    return subprocess.run([str(harness.purplegate_binary()), "--check-config", "-c", str(conf)],
                          capture_output=True, text=True, timeout=30,
                          env=dict(os.environ, TMPDIR=str(env.tmp)))


def test_check_config_user_name_parts(env):
    r = _check_config(env, "ok.conf", "realname, split:server", "@irc.example.net")
    assert r.returncode == 0, r.stderr
    r = _check_config(env, "unknown.conf", "split:port", "@irc.example.net")
    assert r.returncode == 1 and '"split:port"' in r.stderr and "split:server" in r.stderr, r.stderr
    r = _check_config(env, "suffix.conf", "split:server", "-irc")
    assert r.returncode == 1 and "username_suffix" in r.stderr, r.stderr


def test_stored_secret_forgotten(env):
    # README "Account options": an empty secret field keeps the stored
    # secret; the boolean field clear:option:ID forgets it, and the logins
    # after it no longer use it.
    services = env.track(IrcClient(env.irc.port, "NickServ"))
    since = services.mark()
    c = _register_online(env, "fgt", "fgtuser", {"option:nickserv_password": "forget me"})

    def identify(m):
        return m.command == "PRIVMSG" and len(m.params) >= 2 and m.params[0].lower() == "nickserv"
    line = services.expect(identify, 2 * WAIT, since, what="IDENTIFY of the first login")
    assert line.params[1] == "IDENTIFY forget me", line.params

    # An empty field keeps it.
    since_c = c.mark()
    x, done = _settings(c, {"option:nickserv_password": "", "relogin": "true"})
    f = _fields(x)
    clear = f["clear:option:nickserv_password"]
    assert clear.get("type") == "boolean" and _values(clear) == ["false"], tostr(clear)
    assert done.get("type") == "result", tostr(done)
    since = services.mark()
    line = services.expect(identify, 2 * WAIT, since, what="IDENTIFY after an empty secret field")
    assert line.params[1] == "IDENTIFY forget me", line.params
    wait_transport_online(c, GW, since_c)

    # Forgotten: the next login identifies no more.
    since = services.mark()
    since_c = c.mark()
    x, done = _settings(c, {"clear:option:nickserv_password": "true", "relogin": "true"})
    assert done.get("type") == "result", tostr(done)
    wait_transport_online(c, GW, since_c)
    # The IDENTIFY would have come before the login said it is up: a round
    # trip to the server (PING) after that, and still nothing.
    services.send("PING :after")
    services.expect(lambda m: m.command == "PONG", WAIT, since, what="PONG")
    assert not [m for m in services.lines[since:] if identify(m)], "the forgotten password was sent"
    # Nothing is offered to forget any more.
    x, _ = _settings(c, {})
    assert "clear:option:nickserv_password" not in _fields(x), tostr(x)
