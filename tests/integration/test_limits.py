"""Stanza size limit ([limits] max_stanza_bytes = 65536), through a real
Prosody whose own limits are higher (c2s 256 KiB, component 512 KiB): an
oversized stanza is bounced with <policy-violation/> and the component
stream stays up (purplegate.conf(5), [limits])."""

from harness import (COMPONENT_JID, NS_DISCO_INFO, NS_PING, NS_STANZAS, NS_XMPP_ERRORS,
                     assert_error, assert_result, local, match, ns_of, tostr)
from harness import WAIT

GW = COMPONENT_JID
BIG = 100_000  # bytes of body: over 65536, under Prosody's 256 KiB c2s limit


def _link(env):
    """What must not change while oversized stanzas come: the component's
    authentications at Prosody and purplegate's pid."""
    return env.prosody.component_auth_count(), env.purplegate.pid


def _still_up(env, c, link):
    auth_before, pid_before = link
    for i in range(2):
        r = c.iq(f"<iq type='get' to='{GW}' id='after{i}'><query xmlns='{NS_DISCO_INFO}'/></iq>")
        assert_result(r, f"after{i}")
    assert env.purplegate.running() and env.purplegate.pid == pid_before, \
        "purplegate exited or was restarted"
    assert env.prosody.component_auth_count() == auth_before, \
        "the component stream was re-established (Prosody saw a new authentication)"


def test_oversized_message_bounced(env):
    c = env.client("alice")
    link = _link(env)
    since = c.mark()
    c.send(f"<message to='{GW}' id='big1' type='chat'><body>{'x' * BIG}</body></message>")
    err = c.expect(match("message", id="big1"), timeout=WAIT, since=since,
                   what="error bounce of the oversized message")
    e = assert_error(err, "big1", "policy-violation", "modify", frm=GW)
    too_big = [x for x in e if ns_of(x) == NS_XMPP_ERRORS]
    if too_big:
        assert local(too_big[0]) == "stanza-too-big", f"unexpected app condition: {tostr(err)}"
    assert len(tostr(err)) < 65536, "the bounce carries the oversized payload back"
    _still_up(env, c, link)


def test_oversized_iq_bounced(env):
    c = env.client("alice")
    link = _link(env)
    r = c.iq(f"<iq type='set' to='{GW}' id='bigiq'><query xmlns='urn:example:big'>"
             f"<a>{'y' * BIG}</a></query></iq>", timeout=WAIT)
    assert_error(r, "bigiq", "policy-violation", "modify", frm=GW)
    _still_up(env, c, link)


def test_oversized_error_not_bounced(env):
    # An oversized stanza that is itself an error is dropped silently.
    c = env.client("alice")
    link = _link(env)
    since = c.mark()
    c.send(f"<message to='{GW}' id='bigerr' type='error'><body>{'z' * BIG}</body>"
           f"<error type='cancel'><undefined-condition xmlns='{NS_STANZAS}'/></error></message>")
    c.nothing(match(id="bigerr"), wait=1.5, since=since, what="answer to an oversized error")
    _still_up(env, c, link)


def test_stanza_under_limit_accepted(env):
    # 60 KB stays under the 64 KiB limit: handled normally.
    c = env.client("alice")
    r = c.iq(f"<iq type='get' to='{GW}' id='mid1'><ping xmlns='{NS_PING}'/></iq>")
    assert_result(r, "mid1")
    r = c.iq(f"<iq type='get' to='{GW}' id='mid2'><query xmlns='urn:example:x'>"
             f"{'m' * 60_000}</query></iq>", timeout=WAIT)
    assert_error(r, "mid2", "service-unavailable", "cancel", frm=GW)


# Over the limit inside one token: libxml2 would hold such a token whole until
# it ends, so the parser skips it by bytes received, without libxml2, and
# answers from the start tag it kept (parser "Framing").

def test_oversized_attribute_bounced(env):
    # The size is in one attribute value of the stanza's own start tag: the
    # bounce keeps from/to/id/type and leaves the huge value out.
    c = env.client("alice")
    link = _link(env)
    since = c.mark()
    c.send(f"<message to='{GW}' id='bigattr' type='chat' data='{'a' * BIG}'><body>x</body></message>")
    err = c.expect(match("message", id="bigattr"), timeout=10, since=since,
                   what="error bounce of the message with a huge attribute")
    assert_error(err, "bigattr", "policy-violation", "modify", frm=GW)
    assert len(tostr(err)) < 65536, "the bounce carries the oversized attribute back"
    _still_up(env, c, link)


def test_oversized_child_attribute_bounced(env):
    c = env.client("alice")
    link = _link(env)
    r = c.iq(f"<iq type='set' to='{GW}' id='bigchild'><query xmlns='urn:example:big' "
             f"data='{'b' * BIG}'/></iq>", timeout=10)
    assert_error(r, "bigchild", "policy-violation", "modify", frm=GW)
    _still_up(env, c, link)


def test_oversized_id_dropped(env):
    # An id too long to echo: no answer (it could not be matched), but the
    # stream stays up and the next stanza is handled.
    c = env.client("alice")
    link = _link(env)
    since = c.mark()
    c.send(f"<message to='{GW}' type='chat' id='{'i' * BIG}'><body>x</body></message>")
    c.nothing(match("message", type="error"), wait=1.5, since=since, what="answer to a huge id")
    _still_up(env, c, link)


def test_many_oversized_in_a_row(env):
    # Each one resynchronises the parser; none costs the stream.
    c = env.client("alice")
    link = _link(env)
    since = c.mark()
    for i in range(5):
        c.send(f"<message to='{GW}' id='row{i}' type='chat' data='{'r' * BIG}'/>")
    for i in range(5):
        err = c.expect(match("message", id=f"row{i}"), timeout=10, since=since,
                       what=f"bounce {i} of 5 oversized messages in a row")
        assert_error(err, f"row{i}", "policy-violation", "modify", frm=GW)
    _still_up(env, c, link)
