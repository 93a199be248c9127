"""prpl-pgtest, the test protocol plugin of tests/prpl/pgtest.c, loaded by
the purplegate under test from its libpurple plugins folder: registration
logs in through it (XEP-0100 §4.1.1), a refused login refuses the
registration (§4.1.2), and its correspondents echo, report what the process
may read, and give its pid.  libpurple runs in purplegate or in one of its
worker processes (`[workers] count`, PG_TEST_WORKERS); the plugin is never
asked to crash here (test_workers does)."""

import contextlib
import os
import sqlite3
from pathlib import Path

import harness
from harness import (COMPONENT_JID, NS_CLIENT, NS_DISCO_INFO, NS_STANZAS, WAIT, assert_error, bare,
                     child, children, is_stanza, match, register_form_submit, register_legacy,
                     register_set, registered_username, text, tostr, xml_escape)
from legacy_servers import (chat_from, is_presence_from, online_user, send_available,
                            wait_transport_online)

GW = COMPONENT_JID
# A setting of prpl-pgtest's: purplegate checks [legacy-settings] against
# the protocol's options when it starts, and would not start without it.
# libpurple in purplegate's own process: these tests are of the plugin, and
# "files" and "pid" answer from the process that runs it (test_workers has
# them from a worker).
# Users may set prpl-pgtest's secret option "pin" (README "Account
# options"), which the logins of needpin… need.
SETTINGS = {"legacy-settings": {"greeting": "hello from the tests"}, "workers": {"count": "0"},
            "registration": {"user_options": "pin"}}


def setup(name):
    return harness.pgtest_setup(name, overrides=SETTINGS)


def _say(c, who, body):
    """Sends `body` to the legacy contact `who` and returns the body of its
    answer."""
    since = c.mark()
    c.send(f"<message type='chat' to='{who}@{GW}'><body>{xml_escape(body)}</body></message>")
    answer = c.expect(chat_from(f"{who}@{GW}"), timeout=WAIT, since=since,
                      what=f"an answer from {who}@{GW}")
    return text(child(answer, NS_CLIENT, "body"))


def test_gateway_named_by_the_plugin(env):
    # XEP-0030 §3.1: without [legacy] name, the gateway identity carries the
    # protocol's own name, read from the loaded plugin.
    c = env.client(env.user("disco"))
    r = c.iq(f"<iq type='get' to='{GW}'><query xmlns='{NS_DISCO_INFO}'/></iq>")
    identities = [(i.get("category"), i.get("name"))
                  for i in children(child(r, NS_DISCO_INFO, "query"), NS_DISCO_INFO, "identity")]
    assert ("gateway", "PgTest") in identities, f"identities: {tostr(r)}"


def test_register_and_echo(env):
    c = online_user(env, env.user("echo"), "alice")
    assert registered_username(c) == "alice"
    body = "hello <pgtest> & 'friends'"
    assert _say(c, "echo", body) == body


def test_refused_login_refuses_registration(env):
    c = env.client(env.user("refused"))
    r = c.iq(f"<iq type='set' to='{GW}' id='rf1'>{register_legacy('refuse-me', 'pw')}</iq>")
    err = assert_error(r, "rf1", "not-acceptable", "modify", code=406, frm=GW)
    reason = text(child(err, NS_STANZAS, "text")) or ""
    assert "PgTest refuses this user" in reason, f"not the protocol's reason: {tostr(r)}"
    assert registered_username(c) is None, "a refused registration was stored"


def test_contact_appears_online(env):
    c = online_user(env, env.user("buddy"), "bob")
    since = c.mark()
    c.send(f"<presence type='subscribe' to='carol@{GW}'/>")
    c.expect(match("presence", type="subscribed", frm=f"carol@{GW}"), timeout=WAIT, since=since)
    c.expect(is_presence_from(f"carol@{GW}"), timeout=WAIT, since=since,
             what=f"available presence from carol@{GW}")


def _serving_process(env, c):
    """(pid, own directory) of the process that serves `c`'s login: the
    plugin's answer to `pid`, which is purplegate (own directory None) or
    one of its workers (`purplegate --worker DIR ...`, which may open only
    DIR of the test's files)."""
    pid = int(_say(c, "pid", "which process?"))
    if pid == env.purplegate.pid:
        return pid, None
    stat = Path(f"/proc/{pid}/stat").read_text()
    argv = Path(f"/proc/{pid}/cmdline").read_bytes().decode().split("\0")
    assert int(stat.rsplit(")", 1)[1].split()[1]) == env.purplegate.pid and argv[1:2] == ["--worker"], \
        f"pid {pid} is neither purplegate ({env.purplegate.pid}) nor one of its workers: {argv}"
    return pid, Path(argv[2])


def test_files_readable_and_missing(env):
    c = online_user(env, env.user("files"), "dave")
    _, own = _serving_process(env, c)
    if own is None:
        readable = env.subdir("files") / "present.txt"
    else:
        (own / "files").mkdir(exist_ok=True)
        readable = own / "files" / "present.txt"
    readable.write_text("x\n")
    directory = readable.parent
    missing = directory / "absent.txt"
    lines = _say(c, "files", f"{readable} {directory} {missing}").split("\n")
    assert lines[:2] == [f"{readable}: readable", f"{directory}: readable"], f"answer: {lines}"
    assert len(lines) == 3, f"answer: {lines}"
    # The reason is strerror(ENOENT) in purplegate's locale.
    prefix = f"{missing}: denied ("
    assert lines[2].startswith(prefix) and lines[2].endswith(")") \
        and len(lines[2]) > len(prefix) + 1, f"answer: {lines}"


def test_pid_is_purplegates(env):
    c = online_user(env, env.user("pid"), "erin")
    pid, own = _serving_process(env, c)
    if os.environ.get(harness.WORKERS_ENV) == "0":
        assert pid == env.purplegate.pid and own is None, f"pid {pid} is not purplegate's"


def test_other_contacts_stay_silent(env):
    c = online_user(env, env.user("quiet"), "frank")
    since = c.mark()
    c.send(f"<message type='chat' to='nobody@{GW}' id='q1'><body>anyone?</body></message>")
    c.nothing(lambda el: is_stanza(el, "message")
              and (bare(el.get("from")) == f"nobody@{GW}" or el.get("type") == "error"),
              wait=1.5, since=since, what="an answer or an error for a message to nobody")
    # The session still works after it.
    assert _say(c, "echo", "still here") == "still here"


def test_question_of_fields_answered_in_the_form(env):
    # README, "Questions from the legacy network": purple_request_fields
    # becomes the form of the ad-hoc command (XEP-0050) "Answer pending
    # questions"; a string is text-single, an integer text-single with a
    # XEP-0122 xs:integer datatype.
    ns_commands = "http://jabber.org/protocol/commands"
    ns_xdata = "jabber:x:data"
    ns_validate = "http://jabber.org/protocol/xdata-validate"
    c = online_user(env, env.user("ask"), "asker")
    since = c.mark()
    c.send(f"<message type='chat' to='ask@{GW}'><body>go</body></message>")
    c.expect(lambda el: el.tag == f"{{{NS_CLIENT}}}message" and el.get("from") == GW
             and "Enter the code" in (text(child(el, NS_CLIENT, "body")) or ""),
             timeout=WAIT, since=since, what="the question as a message")
    node = "urn:purplegate:questions"
    r = c.iq(f"<iq type='set' to='{GW}'><command xmlns='{ns_commands}' node='{node}' action='execute'/></iq>")
    cmd = child(r, ns_commands, "command")
    assert cmd is not None and cmd.get("status") == "executing", tostr(r)
    x = child(cmd, ns_xdata, "x")
    fields = {f.get("var"): f for f in children(x, ns_xdata, "field")}
    assert fields["code"].get("type") == "text-single", tostr(x)
    assert child(fields["code"], ns_xdata, "required") is not None, tostr(x)
    validate = child(fields["count"], ns_validate, "validate")
    assert validate is not None and validate.get("datatype") == "xs:integer", tostr(x)
    # Not a number: refused (XEP-0004 §4), the question stays.
    bad = (f"<x xmlns='{ns_xdata}' type='submit'><field var='code'><value>4711</value></field>"
           f"<field var='count'><value>many</value></field></x>")
    r = c.iq(f"<iq type='set' to='{GW}'><command xmlns='{ns_commands}' node='{node}' action='complete' "
             f"sessionid='{cmd.get('sessionid')}'>{bad}</command></iq>")
    assert r.get("type") == "error", tostr(r)
    good = (f"<x xmlns='{ns_xdata}' type='submit'><field var='code'><value>4711</value></field>"
            f"<field var='count'><value>3</value></field><field var='pg-action'><value>0</value></field></x>")
    since = c.mark()
    r = c.iq(f"<iq type='set' to='{GW}'><command xmlns='{ns_commands}' node='{node}' action='complete' "
             f"sessionid='{cmd.get('sessionid')}'>{good}</command></iq>")
    assert child(r, ns_commands, "command").get("status") == "completed", tostr(r)
    answer = c.expect(chat_from(f"ask@{GW}"), timeout=WAIT, since=since, what="the plugin's answer")
    assert text(child(answer, NS_CLIENT, "body")) == "code=4711 count=3", tostr(answer)


def test_questions_beyond_the_limit_are_declined(env):
    # purplegate(8), QUESTIONS: at most 16 questions of a user are pending;
    # a further one is declined at once, so the login hears "cancelled"
    # while the 16 stay pending (nobody answers them here).
    c = online_user(env, env.user("flood"), "flooder")
    since = c.mark()
    c.send("".join(f"<message type='chat' to='ask@{GW}' id='q{i}'><body>go</body></message>"
                   for i in range(17)))

    def questions():
        return [el for el in c.transcript.elements()[since:]
                if el.tag == f"{{{NS_CLIENT}}}message" and el.get("from") == GW
                and "Enter the code" in (text(child(el, NS_CLIENT, "body")) or "")]
    c.expect(lambda el: el.tag == f"{{{NS_CLIENT}}}message" and el.get("from") == f"ask@{GW}"
             and text(child(el, NS_CLIENT, "body")) == "cancelled",
             timeout=WAIT, since=since, what="the 17th question declined")
    r = c.iq(f"<iq type='get' to='{GW}'><ping xmlns='urn:xmpp:ping'/></iq>")  # barrier
    assert r.get("type") == "result", tostr(r)
    assert len(questions()) == 16, f"{len(questions())} questions reached the user"


def _stored_rows(env, jid):
    """The rows the store holds for `jid`: (users, settings)."""
    path = env.purplegate.settings["database"]["path"]
    with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)) as db:
        users = db.execute("SELECT count(*) FROM users WHERE bare_jid = ?", (jid,)).fetchone()[0]
        settings = db.execute("SELECT count(*) FROM settings WHERE bare_jid = ?", (jid,)).fetchone()[0]
    return users, settings


def _error_text(r):
    return text(child(child(r, NS_CLIENT, "error"), NS_STANZAS, "text")) or ""


def test_registration_checked_with_the_options_it_submits(env):
    # README "Registering": the check login has the account options of the
    # same form (here the PIN the legacy account needs), not the stored ones.
    c = env.client(env.user("pin"), roster=True)
    r = register_set(c, register_form_submit("needpin-a", None, extra={"option:pin": "0000"}))
    assert_error(r, r.get("id"), "not-acceptable", "modify")
    assert "wrong PIN" in _error_text(r), tostr(r)
    # Nothing is stored for a refusal, no option either.
    assert registered_username(c) is None
    assert _stored_rows(env, c.bare) == (0, 0)

    r = register_set(c, register_form_submit("needpin-a", None, extra={"option:pin": "1234"}))
    assert r.get("type") == "result", f"refused with the right PIN: {tostr(r)}"
    assert registered_username(c) == "needpin-a"
    c.send(f"<presence type='subscribed' to='{GW}'/>")
    c.send(f"<presence type='subscribe' to='{GW}'/>")
    since = c.mark()
    send_available(c)
    wait_transport_online(c, GW, since)

    # A change whose options fail keeps the registration, its options and
    # its session: the login comes back with the PIN stored before.
    since = c.mark()
    r = register_set(c, register_form_submit("needpin-a", None, extra={"option:pin": "9999"}))
    assert_error(r, r.get("id"), "not-acceptable", "modify")
    assert "wrong PIN" in _error_text(r), tostr(r)
    wait_transport_online(c, GW, since)
    assert registered_username(c) == "needpin-a"
    assert _say(c, "echo", "still here") == "still here"
    # Left out, the PIN stays as stored: the check logs in with it.
    r = register_set(c, register_form_submit("needpin-a", None))
    assert r.get("type") == "result", f"a change keeping the PIN refused: {tostr(r)}"


NS_COMMANDS = "http://jabber.org/protocol/commands"
NS_XDATA = "jabber:x:data"
NODE_REGISTER = "urn:purplegate:register"


def _command(c, node, action=None, sessionid=None, fields=None):
    attrs = f" node='{node}'"
    if action:
        attrs += f" action='{action}'"
    if sessionid:
        attrs += f" sessionid='{sessionid}'"
    form = ""
    if fields is not None:
        form = f"<x xmlns='{NS_XDATA}' type='submit'>" + "".join(
            f"<field var='{var}'><value>{xml_escape(v)}</value></field>" for var, v in fields.items()) + "</x>"
    return c.iq(f"<iq type='set' to='{GW}'><command xmlns='{NS_COMMANDS}'{attrs}>{form}</command></iq>")


def _register_to_the_code(c, username):
    """Runs Register up to the login's question; returns the session id and
    the question's fields by var."""
    first = _command(c, NODE_REGISTER)
    sessionid = child(first, NS_COMMANDS, "command").get("sessionid")
    r = _command(c, NODE_REGISTER, "complete", sessionid, {"username": username, "password": ""})
    cmd = child(r, NS_COMMANDS, "command")
    assert cmd is not None and cmd.get("status") == "executing" and cmd.get("sessionid") == sessionid, tostr(r)
    x = child(cmd, NS_XDATA, "x")
    assert "Type the one-time code" in tostr(x), tostr(x)
    return sessionid, {f.get("var"): f for f in children(x, NS_XDATA, "field")}


def test_login_question_is_a_stage_of_the_register_command(env):
    # README "Registering": a question the checking login asks (here a
    # one-time code, purple_request_input) is the command's next form; the
    # answer goes to the login, which then decides.
    c = env.client(env.user("otp"))
    sessionid, fields = _register_to_the_code(c, "askcode-otp")
    typed = [var for var, f in fields.items() if f.get("type") == "text-single"]
    assert len(typed) == 1, fields
    r = _command(c, NODE_REGISTER, "complete", sessionid, {typed[0]: "000000"})
    assert_error(r, r.get("id"), "not-acceptable", "modify")
    assert "wrong one-time code" in _error_text(r), tostr(r)
    assert registered_username(c) is None

    sessionid, fields = _register_to_the_code(c, "askcode-otp")
    r = _command(c, NODE_REGISTER, "complete", sessionid, {typed[0]: "123456"})
    cmd = child(r, NS_COMMANDS, "command")
    assert r.get("type") == "result" and cmd.get("status") == "completed", tostr(r)
    assert registered_username(c) == "askcode-otp"


def test_several_questions_answered_by_replies(env):
    # README "Questions from the legacy network": with several questions
    # waiting, a reply answers the question of its <thread/>, or the one its
    # "#N " names, else the oldest; each question's message says so.
    import re
    c = online_user(env, env.user("many"), "manyq")
    since = c.mark()
    for word in ("alpha", "beta", "gamma"):
        c.send(f"<message type='chat' to='code@{GW}'><body>{word}</body></message>")
    numbers = {}
    threads = {}

    def asked(el):
        if el.tag != f"{{{NS_CLIENT}}}message" or el.get("from") != GW:
            return False
        body = text(child(el, NS_CLIENT, "body")) or ""
        m = re.search(r"\(question (\d+)\)", body)
        word = [w for w in ("alpha", "beta", "gamma") if w in body]
        if not m or not word or "Type the word" not in body:
            return False
        number = m.group(1)
        # The message tells how a reply picks this question.
        assert f"“#{number} ”" in body, body
        numbers[word[0]] = number
        threads[word[0]] = text(child(el, NS_CLIENT, "thread"))
        return len(numbers) == 3
    c.expect(asked, timeout=WAIT, since=since, what="three questions")

    def answer(body, thread=None, expected=None):
        since = c.mark()
        t = f"<thread>{thread}</thread>" if thread else ""
        c.send(f"<message type='chat' to='{GW}'><body>{xml_escape(body)}</body>{t}</message>")
        got = c.expect(chat_from(f"code@{GW}"), timeout=WAIT, since=since, what=f"the answer to {body!r}")
        assert text(child(got, NS_CLIENT, "body")) == expected, tostr(got)

    # By number: the second question, though older ones wait.
    answer(f"#{numbers['beta']} two", expected="beta: two")
    # By thread (a client replying to the question's message).
    answer("three", thread=threads["gamma"], expected="gamma: three")
    # Without either: the oldest still waiting.
    answer("one", expected="alpha: one")
    r = c.iq(f"<iq type='set' to='{GW}'><command xmlns='{NS_COMMANDS}' node='urn:purplegate:questions'/></iq>")
    notes = [text(n) for n in children(child(r, NS_COMMANDS, "command"), NS_COMMANDS, "note")]
    assert any("No questions" in n for n in notes), tostr(r)
