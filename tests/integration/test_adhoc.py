"""Ad-hoc commands (XEP-0050, XEP-0133) with
real slixmpp clients through Prosody: the command list per requester, every
admin and user command, forbidden and registration-required, wrong and
expired sessions, announce reaching exactly the online users, delete-user
with its unsubscribe stanzas and the row gone, and the user's settings
honoured by the session (typing off: no chat state reaches the user;
receipts off: no receipt).  The legacy network is XMPP (legacy.localhost
through prpl-jabber), which has typing notifications and rosters."""

import os
import re
import sqlite3
import time

from harness import (NS_CLIENT, NS_DISCO_INFO, NS_DISCO_ITEMS, NS_ROSTER, NS_XDATA, assert_error,
                     assert_result, bare, child, children, is_stanza, match, register,
                     registered_username, text, tostr, wait_until, xml_escape)
from harness import WAIT
from legacy_servers import (LEGACY_DOMAIN, XMPP_GW, chat_from, is_presence_from, online_user,
                            registered_user, wait_transport_online, xmpp_env)

GW = XMPP_GW
TIMEOUT = 90
NS_COMMANDS = "http://jabber.org/protocol/commands"
NS_ADMIN = "http://jabber.org/protocol/admin"
NS_CHATSTATES = "http://jabber.org/protocol/chatstates"
NS_RECEIPTS = "urn:xmpp:receipts"
ADMIN_USER = "admin"
ADMIN_JID = f"{ADMIN_USER}@localhost"
TTL_ENV = "PURPLEGATE_ADHOC_TTL_S"

ADMIN_NODES = [f"{NS_ADMIN}#{n}" for n in (
    "get-online-users-num", "get-online-users-list", "announce", "end-user-session",
    "get-registered-users-num", "get-registered-users-list", "delete-user")] + ["urn:purplegate:stats"]
USER_NODES = ["urn:purplegate:reconnect", "urn:purplegate:questions", "urn:purplegate:change-account",
              "urn:purplegate:change-nick", "urn:purplegate:settings", "urn:purplegate:unregister"]


def setup(name):
    return xmpp_env(name, overrides={"admin": {"jids": ADMIN_JID}})


# ---------------------------------------------------------------------------
# helpers


def execute(c, node, action=None, sessionid=None, form=None, timeout=WAIT):
    """One <command/> iq; returns the answer (result or error)."""
    attrs = f" node='{xml_escape(node)}'"
    if action:
        attrs += f" action='{action}'"
    if sessionid:
        attrs += f" sessionid='{xml_escape(sessionid)}'"
    return c.iq(f"<iq type='set' to='{GW}'><command xmlns='{NS_COMMANDS}'{attrs}>{form or ''}"
                f"</command></iq>", timeout)


def answer(r, status=None):
    """The <command/> of a result (asserted), with `status` checked."""
    assert r.get("type") == "result", f"command failed: {tostr(r)}"
    cmd = child(r, NS_COMMANDS, "command")
    assert cmd is not None, f"no <command/>: {tostr(r)}"
    if status:
        assert cmd.get("status") == status, f"status {cmd.get('status')!r}, not {status}: {tostr(r)}"
    assert cmd.get("sessionid"), f"no sessionid: {tostr(r)}"
    return cmd


def submit(fields, form_type=NS_ADMIN):
    """A submit form: {var: value or [values]}."""
    out = f"<x xmlns='{NS_XDATA}' type='submit'>"
    if form_type:
        out += f"<field var='FORM_TYPE' type='hidden'><value>{form_type}</value></field>"
    for var, vals in fields.items():
        vals = vals if isinstance(vals, list) else [vals]
        out += f"<field var='{var}'>" + "".join(f"<value>{xml_escape(v)}</value>" for v in vals) \
            + "</field>"
    return out + "</x>"


def form_of(cmd):
    x = child(cmd, NS_XDATA, "x")
    assert x is not None, f"no data form: {tostr(cmd)}"
    return x


def fields(x):
    """{var: [values]} of a data form (fixed fields under '')."""
    out = {}
    for f in children(x, NS_XDATA, "field"):
        out.setdefault(f.get("var") or "", []).extend(
            text(v) for v in children(f, NS_XDATA, "value"))
    return out


def field_types(x):
    return {f.get("var"): f.get("type") for f in children(x, NS_XDATA, "field")}


def notes(cmd):
    return [(n.get("type"), text(n)) for n in children(cmd, NS_COMMANDS, "note")]


def run_single(c, node):
    """A single-stage command: the completed answer's form fields."""
    cmd = answer(execute(c, node, "execute"), "completed")
    x = form_of(cmd)
    assert x.get("type") == "result", f"not a result form: {tostr(cmd)}"
    return fields(x), x


def run_two_stage(c, node, values, form_type=NS_ADMIN):
    """execute → form (executing), then complete with `values`; returns the
    final <command/>."""
    first = answer(execute(c, node), "executing")
    x = form_of(first)
    assert x.get("type") == "form", f"stage 1 is not a form: {tostr(first)}"
    return answer(execute(c, node, "complete", first.get("sessionid"), submit(values, form_type)),
                  "completed")


def command_items(c):
    r = c.iq(f"<iq type='get' to='{GW}'><query xmlns='{NS_DISCO_ITEMS}' node='{NS_COMMANDS}'/></iq>")
    assert_result(r, r.get("id"))
    q = child(r, NS_DISCO_ITEMS, "query")
    assert q is not None and q.get("node") == NS_COMMANDS, f"node not echoed: {tostr(r)}"
    items = children(q, NS_DISCO_ITEMS, "item")
    for i in items:
        assert i.get("jid") == GW and i.get("name"), f"bad command item: {tostr(i)}"
    return [i.get("node") for i in items]


def admin(env, resource="console"):
    return env.client(ADMIN_USER, resource=resource)


def legacy_account(env, prefix="leg"):
    """A fresh account on the legacy network; returns its localpart (the
    username to register) and password."""
    user = env.user(prefix)
    env.prosody.add_user(user, "pw-" + user, LEGACY_DOMAIN)
    return user, "pw-" + user


def new_online(env, prefix="on"):
    nick, pw = legacy_account(env)
    return online_user(env, env.user(prefix), nick, pw, gw=GW)


def new_registered(env, prefix="reg"):
    nick, pw = legacy_account(env)
    return registered_user(env, env.user(prefix), nick, pw, gw=GW)


def db_rows(env, sql, *args):
    path = env.purplegate.settings["database"]["path"]
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
        return db.execute(sql, args).fetchall()


def contact_jid(legacy_bare):
    return legacy_bare.replace("@", "\\40") + "@" + GW


def roster_items(c):
    r = c.fetch_roster()
    q = child(r, NS_ROSTER, "query")
    return {bare(i.get("jid")): i for i in children(q, NS_ROSTER, "item")}


def online_with_friend(env):
    """A user online through legacy account carolN whose friend daveN
    (subscribed both ways on the legacy side, available) is a contact the
    user approved; dave's presence has arrived.  Returns (u, dave,
    dave_jid, carol_bare)."""
    carol = env.client(env.user("carol"), host=LEGACY_DOMAIN, roster=True, presence=True)
    dave = env.client(env.user("dave"), host=LEGACY_DOMAIN, roster=True, presence=True)
    r = carol.iq(f"<iq type='set'><query xmlns='{NS_ROSTER}'><item jid='{dave.bare}'/></query></iq>")
    assert r.get("type") == "result", tostr(r)
    since_c, since_d = carol.mark(), dave.mark()
    carol.send(f"<presence type='subscribe' to='{dave.bare}'/>")
    dave.expect(match("presence", type="subscribe", frm=carol.bare), timeout=WAIT, since=since_d)
    dave.send(f"<presence type='subscribed' to='{carol.bare}'/>")
    dave.send(f"<presence type='subscribe' to='{carol.bare}'/>")
    carol.expect(match("presence", type="subscribe", frm=dave.bare), timeout=WAIT, since=since_c)
    carol.send(f"<presence type='subscribed' to='{dave.bare}'/>")
    wait_until(lambda: (roster_items(carol).get(dave.bare) is not None
                        and roster_items(carol)[dave.bare].get("subscription") == "both"),
               10, 0.2, what="carol and dave subscribed both ways")
    carol_bare, pw = carol.bare, env.prosody.users[carol.bare]
    carol.close()
    dave_jid = contact_jid(dave.bare)
    u = online_user(env, env.user("ux"), carol_bare.split("@")[0], pw, gw=GW, wait_transport=False)
    u.expect(match("presence", type="subscribe", frm=dave_jid), timeout=20,
             what=f"subscribe from {dave_jid}")
    since = u.mark()
    u.send(f"<presence type='subscribed' to='{dave_jid}'/>")
    u.send(f"<presence type='subscribe' to='{dave_jid}'/>")
    u.expect(is_presence_from(dave_jid), timeout=WAIT, since=since,
             what=f"available presence from {dave_jid}")
    return u, dave, dave_jid, carol_bare


# ---------------------------------------------------------------------------
# discovery and access


def test_disco_and_lists_per_requester(env):
    stranger = env.client(env.user("stranger"))
    user = new_registered(env)
    boss = admin(env)

    r = stranger.iq(f"<iq type='get' to='{GW}'><query xmlns='{NS_DISCO_INFO}'/></iq>")
    feats = [f.get("var") for f in children(child(r, NS_DISCO_INFO, "query"), NS_DISCO_INFO, "feature")]
    assert NS_COMMANDS in feats, f"{NS_COMMANDS} not in the gateway's features: {feats}"

    # Only the command that registers (README "Registering").
    assert command_items(stranger) == ["urn:purplegate:register"], \
        "an unregistered stranger sees other commands than Register"
    assert command_items(user) == USER_NODES, f"user sees {command_items(user)}"
    # The admin is not registered: Register is theirs too, in the order added.
    got = command_items(boss)
    assert [n for n in got if n != "urn:purplegate:register"] == ADMIN_NODES \
        and got.count("urn:purplegate:register") == 1, f"admin sees {got}"

    # disco#info on the list node and on each command node.
    r = stranger.iq(f"<iq type='get' to='{GW}'><query xmlns='{NS_DISCO_INFO}' node='{NS_COMMANDS}'/></iq>")
    ident = child(child(r, NS_DISCO_INFO, "query"), NS_DISCO_INFO, "identity")
    assert (ident.get("category"), ident.get("type")) == ("automation", "command-list"), tostr(r)
    for c, node in [(boss, n) for n in ADMIN_NODES] + [(user, n) for n in USER_NODES]:
        r = c.iq(f"<iq type='get' to='{GW}'><query xmlns='{NS_DISCO_INFO}' node='{node}'/></iq>")
        assert_result(r, r.get("id"))
        q = child(r, NS_DISCO_INFO, "query")
        assert q.get("node") == node, f"node not echoed: {tostr(r)}"
        ident = child(q, NS_DISCO_INFO, "identity")
        assert (ident.get("category"), ident.get("type")) == ("automation", "command-node"), tostr(r)
        assert ident.get("name"), f"command-node without a name: {tostr(r)}"
        feats = {f.get("var") for f in children(q, NS_DISCO_INFO, "feature")}
        assert {NS_COMMANDS, NS_XDATA} <= feats, f"features {feats} of {node}"
    # Not permitted → forbidden; unknown → item-not-found.
    r = user.iq(f"<iq type='get' to='{GW}' id='fi1'><query xmlns='{NS_DISCO_INFO}' "
                f"node='{NS_ADMIN}#delete-user'/></iq>")
    assert_error(r, "fi1", "forbidden", "auth")
    r = user.iq(f"<iq type='get' to='{GW}' id='fi2'><query xmlns='{NS_DISCO_INFO}' "
                f"node='urn:purplegate:nothing'/></iq>")
    assert_error(r, "fi2", "item-not-found", "cancel")


def test_forbidden_and_unknown(env):
    user = new_registered(env)
    stranger = env.client(env.user("stranger"))
    for node in ADMIN_NODES:
        r = execute(user, node, "execute")
        assert_error(r, r.get("id"), "forbidden", "auth")
    r = execute(stranger, "urn:purplegate:settings", "execute")
    assert_error(r, r.get("id"), "registration-required", "auth")
    r = execute(user, "urn:purplegate:no-such-command", "execute")
    assert_error(r, r.get("id"), "item-not-found", "cancel")
    # The admin is known by the bare JID whatever the resource.
    fields_, _ = run_single(admin(env, "another-resource"), f"{NS_ADMIN}#get-registered-users-num")
    assert fields_.get("registeredusersnum"), fields_


# ---------------------------------------------------------------------------
# admin commands


def test_numbers_and_lists(env):
    boss = admin(env)
    online = new_online(env)
    offline = new_registered(env)

    f, x = run_single(boss, f"{NS_ADMIN}#get-registered-users-num")
    assert f["FORM_TYPE"] == [NS_ADMIN], f"FORM_TYPE: {tostr(x)}"
    n_registered = int(f["registeredusersnum"][0])
    rows = db_rows(env, "SELECT bare_jid FROM users ORDER BY bare_jid")
    assert n_registered == len(rows), f"{n_registered} registered, {len(rows)} rows"

    f, x = run_single(boss, f"{NS_ADMIN}#get-registered-users-list")
    assert f["FORM_TYPE"] == [NS_ADMIN], tostr(x)
    assert f["registereduserjids"] == [r[0] for r in rows], f"list {f['registereduserjids']}, rows {rows}"
    assert online.bare in f["registereduserjids"] and offline.bare in f["registereduserjids"]

    f, x = run_single(boss, f"{NS_ADMIN}#get-online-users-num")
    assert f["FORM_TYPE"] == [NS_ADMIN], tostr(x)
    assert int(f["onlineusersnum"][0]) >= 1, tostr(x)

    f, x = run_single(boss, f"{NS_ADMIN}#get-online-users-list")
    assert online.bare in f["onlineuserjids"], f"{online.bare} not online: {tostr(x)}"
    assert offline.bare not in f["onlineuserjids"], f"{offline.bare} listed online: {tostr(x)}"
    # "jid: online", and which worker process serves it when there are workers.
    assert any(re.fullmatch(re.escape(f"{online.bare}: online") + r"( \(worker [0-9]+\))?", line)
               for line in f["legacystates"]), f"legacy state: {tostr(x)}"
    assert int(run_single(boss, f"{NS_ADMIN}#get-online-users-num")[0]["onlineusersnum"][0]) \
        == len(f["onlineuserjids"])


def test_stats(env):
    boss = admin(env)
    new_online(env)
    f, x = run_single(boss, "urn:purplegate:stats")
    types = field_types(x)
    want = ["uptime", "registeredusersnum", "onlineusersnum", "legacyonline", "loginssucceeded",
            "loginsfailed", "reconnects", "stanzasin", "stanzasout", "bytesin", "bytesout",
            "queuedtousers", "queuedtolegacy", "resent", "bounced", "memoryrss",
            "workers", "workerrestarts", "quarantined", "workersrss"]
    for var in want:
        assert var in f and len(f[var]) == 1, f"no {var}: {tostr(x)}"
        assert types[var] == "text-single", f"{var} is {types[var]}"
        assert int(f[var][0]) >= 0, f"{var} = {f[var]}"
    assert "purplegate" in f[""][0], f"no fixed title: {tostr(x)}"
    assert int(f["registeredusersnum"][0]) >= 1 and int(f["onlineusersnum"][0]) >= 1
    assert int(f["loginssucceeded"][0]) >= 1, "no successful legacy login counted"
    assert int(f["stanzasin"][0]) > 0 and int(f["bytesout"][0]) > 0
    assert int(f["memoryrss"][0]) > 1000, f"resident memory {f['memoryrss']} KiB"
    # One line per worker process: pid, logins, restarts, crashes, memory.
    workers = int(f["workers"][0])
    for i in range(1, workers + 1):
        line = f.get(f"worker{i}", [""])[0]
        assert re.fullmatch(r"pid [1-9][0-9]*, [0-9]+ logins, [0-9]+ restarts, [0-9]+ crashes, [1-9][0-9]* KiB",
                            line), f"worker{i}: {line!r}: {tostr(x)}"
    if workers > 0:
        assert int(f["workersrss"][0]) > 1000, f"workers' memory {f['workersrss']} KiB"
    # Counters move: one more round trip, more stanzas.
    f2, _ = run_single(boss, "urn:purplegate:stats")
    assert int(f2["stanzasin"][0]) > int(f["stanzasin"][0])
    if os.environ.get("PG_PRINT_STATS"):
        print("\n".join(f"#   {k} = {', '.join(v)}" for k, v in f2.items()), flush=True)


def test_announce_reaches_online_users_only(env):
    boss = admin(env)
    a, b = new_online(env), new_online(env)
    off = new_registered(env)
    since = {c: c.mark() for c in (a, b, off)}
    cmd = run_two_stage(boss, f"{NS_ADMIN}#announce",
                        {"subject": "Maintenance", "announcement": ["Going down at 5.", "Back at 6."]})
    assert any(t == "info" for t, _ in notes(cmd)), f"no info note: {tostr(cmd)}"
    for c in (a, b):
        m = c.expect(lambda el: match("message", frm=GW)(el)
                     and child(el, NS_CLIENT, "body") is not None, timeout=WAIT, since=since[c],
                     what=f"announcement to {c.bare}")
        assert m.get("type") == "headline", f"not a headline: {tostr(m)}"
        assert text(child(m, NS_CLIENT, "subject")) == "Maintenance", tostr(m)
        assert text(child(m, NS_CLIENT, "body")) == "Going down at 5.\nBack at 6.", tostr(m)
        assert bare(m.get("to")) == c.bare, tostr(m)
    off.nothing(match("message", frm=GW), wait=2.0, since=since[off],
                what="announcement to a user who is not online")
    # An empty announcement is refused, and the session stays usable.
    first = answer(execute(boss, f"{NS_ADMIN}#announce"), "executing")
    r = execute(boss, f"{NS_ADMIN}#announce", "complete", first.get("sessionid"),
                submit({"announcement": ""}))
    assert_error(r, r.get("id"), "bad-request", "modify")
    assert child(child(r, NS_CLIENT, "error"), NS_COMMANDS, "bad-payload") is not None, tostr(r)
    answer(execute(boss, f"{NS_ADMIN}#announce", "cancel", first.get("sessionid")), "canceled")


def test_end_user_session(env):
    boss = admin(env)
    nick, pw = legacy_account(env)
    # The legacy account's own second resource sees purplegate's login come and go.
    watch = env.client(nick, host=LEGACY_DOMAIN, resource="watch", presence=True)
    u = online_user(env, env.user("kick"), nick, pw, gw=GW)

    def gateway_resource(type):
        return lambda el: (match("presence", type=type)(el) and bare(el.get("from")) == watch.bare
                           and el.get("from") != watch.jid)
    watch.expect(gateway_resource(""), timeout=WAIT, what="the legacy login seen from another resource")
    since_u, since_w = u.mark(), watch.mark()
    cmd = run_two_stage(boss, f"{NS_ADMIN}#end-user-session", {"accountjids": [u.bare, "nobody@localhost"]})
    kinds = dict(notes(cmd))
    assert u.bare in kinds.get("info", ""), f"no info note naming {u.bare}: {tostr(cmd)}"
    assert "nobody@localhost" in kinds.get("warn", ""), f"no warn note for nobody: {tostr(cmd)}"
    p = u.expect(match("presence", type="unavailable", frm=GW), timeout=WAIT, since=since_u,
                 what="unavailable from the gateway")
    assert text(child(p, NS_CLIENT, "status")), f"no status saying why: {tostr(p)}"
    watch.expect(gateway_resource("unavailable"), timeout=WAIT, since=since_w, what="the legacy login closing")
    f, _ = run_single(boss, f"{NS_ADMIN}#get-online-users-list")
    assert u.bare not in f.get("onlineuserjids", []), "still online after end-user-session"
    # Not banned: the next available presence logs in again.
    since_u = u.mark()
    u.send("<presence/>")
    wait_transport_online(u, GW, since_u)


def test_delete_user(env):
    boss = admin(env)
    u, dave, dave_jid, carol = online_with_friend(env)
    assert db_rows(env, "SELECT count(*) FROM contacts WHERE bare_jid = ?", u.bare)[0][0] >= 1
    assert db_rows(env, "SELECT count(*) FROM users WHERE bare_jid = ?", u.bare)[0][0] == 1
    node = f"{NS_ADMIN}#delete-user"

    first = answer(execute(boss, node), "executing")
    sid = first.get("sessionid")
    assert field_types(form_of(first)).get("accountjids") == "jid-multi", tostr(first)
    # Not a JID: not-acceptable.
    r = execute(boss, node, "next", sid, submit({"accountjids": "not a jid@@"}))
    assert_error(r, r.get("id"), "not-acceptable", "modify")
    # Stage 2 confirms; prev goes back to the first form; a wrong action is refused.
    confirm = answer(execute(boss, node, "next", sid, submit({"accountjids": [u.bare, "ghost@localhost"]})),
                     "executing")
    assert u.bare in fields(form_of(confirm))[""], f"confirmation does not list {u.bare}: {tostr(confirm)}"
    acts = child(confirm, NS_COMMANDS, "actions")
    assert acts is not None and acts.get("execute") == "complete", tostr(confirm)
    assert child(acts, NS_COMMANDS, "prev") is not None, tostr(confirm)
    assert any(t == "warn" and "ghost@localhost" in n for t, n in notes(confirm)), tostr(confirm)
    back = answer(execute(boss, node, "prev", sid), "executing")
    assert "accountjids" in fields(form_of(back)), f"prev did not show the first form: {tostr(back)}"
    r = execute(boss, node, "complete", sid)
    assert_error(r, r.get("id"), "bad-request", "modify")
    assert child(child(r, NS_CLIENT, "error"), NS_COMMANDS, "bad-action") is not None, tostr(r)
    answer(execute(boss, node, "next", sid, submit({"accountjids": u.bare})), "executing")

    since = u.mark()
    done = answer(execute(boss, node, "complete", sid), "completed")
    assert any(t == "info" and u.bare in n for t, n in notes(done)), tostr(done)
    for t in ("unsubscribe", "unsubscribed", "unavailable"):
        u.expect(match("presence", type=t, frm=GW), timeout=WAIT, since=since,
                 what=f"<presence type='{t}'/> from {GW}")
    for t in ("unsubscribe", "unsubscribed"):
        u.expect(lambda el, t=t: match("presence", type=t)(el) and bare(el.get("from")) == dave_jid,
                 timeout=WAIT, since=since, what=f"<presence type='{t}'/> from {dave_jid}")
    assert db_rows(env, "SELECT count(*) FROM users WHERE bare_jid = ?", u.bare)[0][0] == 0
    assert db_rows(env, "SELECT count(*) FROM contacts WHERE bare_jid = ?", u.bare)[0][0] == 0
    assert registered_username(u, to=GW) is None, "still registered"
    # The session is gone with it: the legacy login closed.
    f, _ = run_single(boss, f"{NS_ADMIN}#get-online-users-list")
    assert u.bare not in f.get("onlineuserjids", [])


# ---------------------------------------------------------------------------
# user commands


def test_settings_honoured(env):
    u, dave, dave_jid, carol = online_with_friend(env)
    node = "urn:purplegate:settings"
    first = answer(execute(u, node), "executing")
    x = form_of(first)
    assert field_types(x)["typing"] == "boolean" and field_types(x)["receipts"] == "boolean", tostr(x)
    assert fields(x)["typing"] == ["true"] and fields(x)["receipts"] == ["true"], tostr(x)
    # A value that is no boolean: not-acceptable.
    r = execute(u, node, "complete", first.get("sessionid"), submit({"typing": "maybe"}, node))
    assert_error(r, r.get("id"), "not-acceptable", "modify")
    answer(execute(u, node, "complete", first.get("sessionid"),
                   submit({"typing": "0", "receipts": "false"}, node)), "completed")
    assert sorted(db_rows(env, "SELECT key, value FROM settings WHERE bare_jid = ?", u.bare)) == \
        [("receipts", "false"), ("typing", "false")]
    again = form_of(answer(execute(u, node), "executing"))
    assert fields(again)["typing"] == ["false"], tostr(again)

    # Typing off: dave's composing does not reach the user; the message does,
    # without a chat state.
    since = u.mark()
    dave.send(f"<message type='chat' to='{carol}'><composing xmlns='{NS_CHATSTATES}'/></message>")
    dave.send(f"<message type='chat' to='{carol}'><body>typed quietly</body>"
              f"<active xmlns='{NS_CHATSTATES}'/></message>")
    m = u.expect(chat_from(dave_jid, "typed quietly"), timeout=WAIT, since=since)
    assert not [e for e in m if e.tag.startswith("{" + NS_CHATSTATES)], f"chat state: {tostr(m)}"
    u.nothing(lambda el: is_stanza(el, "message") and any(e.tag.startswith("{" + NS_CHATSTATES)
                                                          for e in el),
              wait=1.0, since=since, what="a chat state with typing off")

    # Receipts off: the message reaches dave, no receipt comes back.
    since, since_d = u.mark(), dave.mark()
    # (With a chat state: a client that writes without one takes none,
    # XEP-0085 §5.1, and the composing below would not come.)
    u.send(f"<message type='chat' to='{dave_jid}' id='rc-off'><body>no receipt please</body>"
           f"<active xmlns='{NS_CHATSTATES}'/><request xmlns='{NS_RECEIPTS}'/></message>")
    dave.expect(chat_from(carol, "no receipt please"), timeout=WAIT, since=since_d)
    u.nothing(lambda el: is_stanza(el, "message") and child(el, NS_RECEIPTS, "received") is not None,
              wait=2.0, since=since, what="a receipt with receipts off")

    # Both back on: composing and receipts flow again.
    answer(execute(u, node, "complete", answer(execute(u, node)).get("sessionid"),
                   submit({"typing": "true", "receipts": "1"}, node)), "completed")
    since = u.mark()
    dave.send(f"<message type='chat' to='{carol}'><composing xmlns='{NS_CHATSTATES}'/></message>")
    u.expect(lambda el: is_stanza(el, "message") and bare(el.get("from")) == dave_jid
             and child(el, NS_CHATSTATES, "composing") is not None, timeout=WAIT, since=since,
             what=f"<composing/> from {dave_jid} with typing on")
    since = u.mark()
    u.send(f"<message type='chat' to='{dave_jid}' id='rc-on'><body>receipt please</body>"
           f"<request xmlns='{NS_RECEIPTS}'/></message>")
    r = u.expect(lambda el: is_stanza(el, "message") and child(el, NS_RECEIPTS, "received") is not None,
                 timeout=WAIT, since=since, what="a receipt with receipts on")
    assert child(r, NS_RECEIPTS, "received").get("id") == "rc-on", tostr(r)


def test_reconnect(env):
    u = new_online(env)
    since = u.mark()
    cmd = answer(execute(u, "urn:purplegate:reconnect", "execute"), "completed")
    assert [t for t, _ in notes(cmd)] == ["info"], tostr(cmd)
    wait_transport_online(u, GW, since)
    # Without a session: completed with an error note (XEP-0050 §3.6).
    idle = new_registered(env)
    cmd = answer(execute(idle, "urn:purplegate:reconnect", "execute"), "completed")
    assert [t for t, _ in notes(cmd)] == ["error"], tostr(cmd)


def test_unregister_command(env):
    u = new_online(env)
    node = "urn:purplegate:unregister"
    first = answer(execute(u, node), "executing")
    acts = child(first, NS_COMMANDS, "actions")
    assert acts is not None and child(acts, NS_COMMANDS, "complete") is not None, tostr(first)
    since = u.mark()
    done = answer(execute(u, node, "complete", first.get("sessionid")), "completed")
    assert [t for t, _ in notes(done)] == ["info"], tostr(done)
    for t in ("unsubscribe", "unsubscribed", "unavailable"):
        u.expect(match("presence", type=t, frm=GW), timeout=WAIT, since=since,
                 what=f"<presence type='{t}'/> from {GW}")
    assert registered_username(u, to=GW) is None, "still registered"
    assert db_rows(env, "SELECT count(*) FROM users WHERE bare_jid = ?", u.bare)[0][0] == 0
    assert command_items(u) == ["urn:purplegate:register"], \
        "an unregistered user still sees user commands"


# ---------------------------------------------------------------------------
# sessions


def test_wrong_sessionid_and_actions(env):
    boss = admin(env)
    node = f"{NS_ADMIN}#announce"
    first = answer(execute(boss, node), "executing")
    sid = first.get("sessionid")
    form = submit({"announcement": "x"})

    r = execute(boss, node, "complete", "not-" + sid, form)
    assert_error(r, r.get("id"), "bad-request", "modify")
    assert child(child(r, NS_CLIENT, "error"), NS_COMMANDS, "bad-sessionid") is not None, tostr(r)
    # Bound to the requester: the admin's other resource may not continue it.
    other = admin(env, "other")
    r = execute(other, node, "complete", sid, form)
    assert_error(r, r.get("id"), "bad-request", "modify")
    assert child(child(r, NS_CLIENT, "error"), NS_COMMANDS, "bad-sessionid") is not None, tostr(r)
    # Unknown action; an action the stage does not offer.
    r = execute(boss, node, "jump", sid, form)
    assert_error(r, r.get("id"), "bad-request", "modify")
    assert child(child(r, NS_CLIENT, "error"), NS_COMMANDS, "malformed-action") is not None, tostr(r)
    r = execute(boss, node, "next", sid, form)
    assert child(child(r, NS_CLIENT, "error"), NS_COMMANDS, "bad-action") is not None, tostr(r)
    # Cancel ends it for good.
    c = answer(execute(boss, node, "cancel", sid), "canceled")
    assert c.get("sessionid") == sid
    r = execute(boss, node, "complete", sid, form)
    assert child(child(r, NS_CLIENT, "error"), NS_COMMANDS, "bad-sessionid") is not None, tostr(r)


def test_expired_session(env):
    # Restart purplegate with a 3 s session lifetime (read once at start).
    # Sessions idle for twice that are forgotten (then the answer would be
    # bad-sessionid): waiting 4 s leaves 2 s for the stanzas' way on a
    # loaded machine.
    pg = env.purplegate
    pg.stop()
    os.environ[TTL_ENV] = "3"
    try:
        pg.start()
        env.wait_linked()
    finally:
        del os.environ[TTL_ENV]
    boss = admin(env)
    node = f"{NS_ADMIN}#announce"
    first = answer(execute(boss, node), "executing")
    time.sleep(4.0)
    r = execute(boss, node, "complete", first.get("sessionid"), submit({"announcement": "late"}))
    assert_error(r, r.get("id"), "not-allowed", "cancel")
    assert child(child(r, NS_CLIENT, "error"), NS_COMMANDS, "session-expired") is not None, tostr(r)
    # A fresh session works.
    run_two_stage(boss, node, {"announcement": "on time"})
