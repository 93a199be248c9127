"""XEP-0077 in-band registration on the component domain and the XEP-0100
§4.1–4.3 subscription flows, through a real Prosody.

Prosody delivers subscription stanzas only to a resource that fetched its
roster (subscribed/unsubscribe/unsubscribed) or is available (subscribe,
presence): clients of the flow tests do both."""

from harness import (COMPONENT_JID, NS_REGISTER, NS_XDATA, OTHER_DOMAIN, assert_error,
                     assert_result, bare, child, children, match, register,
                     register_form_submit, register_get, register_legacy, register_set,
                     registered_username, text, tostr)
from harness import WAIT

GW = COMPONENT_JID


def _field(form, var):
    for f in children(form, NS_XDATA, "field"):
        if f.get("var") == var:
            return f
    return None


def test_register_get_form(env):
    c = env.client(env.user("form"))
    r, query = register_get(c)
    assert r.get("from") == GW, f"not from {GW}: {tostr(r)}"
    assert child(query, NS_REGISTER, "registered") is None, \
        f"new user shown as registered: {tostr(r)}"
    instr = child(query, NS_REGISTER, "instructions")
    assert instr is not None and text(instr).strip(), f"no <instructions/>: {tostr(r)}"
    assert child(query, NS_REGISTER, "username") is not None, f"no <username/>: {tostr(r)}"
    assert child(query, NS_REGISTER, "password") is not None, f"no <password/>: {tostr(r)}"
    form = child(query, NS_XDATA, "x")
    assert form is not None, f"no jabber:x:data form: {tostr(r)}"
    assert form.get("type") == "form", f"form type is {form.get('type')!r}"
    assert (text(child(form, NS_XDATA, "title")) or "").strip(), f"form without title: {tostr(form)}"
    assert (text(child(form, NS_XDATA, "instructions")) or "").strip(), \
        f"form without instructions: {tostr(form)}"
    ft = _field(form, "FORM_TYPE")
    assert ft is not None, f"no FORM_TYPE field: {tostr(form)}"
    assert ft.get("type") == "hidden", f"FORM_TYPE not hidden: {tostr(ft)}"
    assert [text(v) for v in children(ft, NS_XDATA, "value")] == [NS_REGISTER], \
        f"FORM_TYPE value: {tostr(ft)}"
    # prpl-irc logs in without a password (OPT_PROTO_PASSWORD_OPTIONAL): the
    # username is required, the password field is offered but optional.
    for var, required in (("username", True), ("password", False)):
        f = _field(form, var)
        assert f is not None, f"no {var} field: {tostr(form)}"
        assert (f.get("label") or "").strip(), f"{var} field without label: {tostr(f)}"
        req = child(f, NS_XDATA, "required")
        if not required:
            assert req is None, f"{var} field <required/> for IRC: {tostr(f)}"
            continue
        assert req is not None, f"{var} field not <required/>: {tostr(f)}"
        assert len(req) == 0 and not (req.text or "").strip(), f"<required/> not empty: {tostr(f)}"
    vars_ = [f.get("var") for f in children(form, NS_XDATA, "field") if f.get("type") != "fixed"]
    assert len(vars_) == len(set(vars_)), f"duplicate field vars: {vars_}"


def test_register_legacy_fields_and_subscription(env):
    c = env.client(env.user("alice"), roster=True, presence=True)
    since = c.mark()
    res = register(c, "alicenick", "pw-legacy-1")
    sub = c.expect(match("presence", type="subscribe", frm=GW), timeout=WAIT, since=since,
                   what=f"<presence type='subscribe' from='{GW}'/>")
    assert bare(sub.get("to")) == c.bare, f"subscribe not to {c.bare}: {tostr(sub)}"
    assert c.transcript.index_of(res) < c.transcript.index_of(sub), \
        "the subscribe came before the registration result"
    # The user subscribes to the transport and is approved.
    since = c.mark()
    c.send(f"<presence type='subscribe' to='{GW}'/>")
    ok = c.expect(match("presence", type="subscribed", frm=GW), timeout=WAIT, since=since,
                  what=f"<presence type='subscribed' from='{GW}'/>")
    assert bare(ok.get("to")) == c.bare, f"subscribed not to {c.bare}: {tostr(ok)}"


def test_register_via_form(env):
    c = env.client(env.user("carol"))
    r = register_set(c, register_form_submit("carolnick", "pw-form-1"))
    assert r.get("type") == "result", f"form registration refused: {tostr(r)}"
    assert registered_username(c) == "carolnick"


def test_register_form_wins_over_fields(env):
    # XEP-0077 §6: if both arrive, the x:data form wins.
    c = env.client(env.user("both"))
    q = register_form_submit("formname", "pw-b")
    q = q.replace("<x ", "<username>fieldname</username><password>pw-b</password><x ", 1)
    r = register_set(c, q)
    assert r.get("type") == "result", f"registration refused: {tostr(r)}"
    assert registered_username(c) == "formname"


def test_get_after_registration(env):
    password = "Sup3r-Secret-pw-77"
    c = env.client(env.user("dan"))
    register(c, "dannick", password)
    r, query = register_get(c)
    assert child(query, NS_REGISTER, "registered") is not None, f"no <registered/>: {tostr(r)}"
    assert text(child(query, NS_REGISTER, "username")) == "dannick", f"username: {tostr(r)}"
    assert password not in tostr(r), f"password disclosed: {tostr(r)}"
    pw = child(query, NS_REGISTER, "password")
    assert pw is None or not (pw.text or "").strip(), f"password element not empty: {tostr(r)}"


def test_reregistration_changes_username(env):
    c = env.client(env.user("eve"))
    register(c, "evenick", "pw-1")
    assert registered_username(c) == "evenick"
    register(c, "evenick2", "pw-2")
    assert registered_username(c) == "evenick2"


def test_registration_by_bare_jid(env):
    # XEP-0077 §3.2: the registration belongs to the bare JID: a
    # second resource of the same account sees it.
    u = env.user("res")
    c1 = env.client(u, resource="one")
    register(c1, "resnick", "pw-r")
    c2 = env.client(u, resource="two")
    assert registered_username(c2) == "resnick"


def test_remove(env):
    c = env.client(env.user("frank"), roster=True, presence=True)
    since = c.mark()
    register(c, "franknick", "pw-f")
    c.expect(match("presence", type="subscribe", frm=GW), timeout=WAIT, since=since)
    c.send(f"<presence type='subscribe' to='{GW}'/>")
    c.expect(match("presence", type="subscribed", frm=GW), timeout=WAIT, since=since)

    since = c.mark()
    res = c.iq(f"<iq type='set' to='{GW}' id='unreg1'><query xmlns='{NS_REGISTER}'>"
               f"<remove/></query></iq>")
    assert_result(res, "unreg1")
    got = []
    for t in ("unsubscribe", "unsubscribed", "unavailable"):
        p = c.expect(match("presence", type=t, frm=GW), timeout=WAIT, since=since,
                     what=f"<presence type='{t}' from='{GW}'/>")
        assert bare(p.get("to")) == c.bare, f"{t} not to {c.bare}: {tostr(p)}"
        got.append(p)
    order = [c.transcript.index_of(x) for x in [res] + got]
    assert order == sorted(order), \
        "expected result, unsubscribe, unsubscribed, unavailable in this order; got:\n" + \
        c.transcript.dump(since)
    assert registered_username(c) is None, "still registered after <remove/>"


def test_remove_unregistered(env):
    # XEP-0077 §3.2: <remove/> from a JID that is not registered.
    c = env.client(env.user("ghost"))
    r = c.iq(f"<iq type='set' to='{GW}' id='unreg2'><query xmlns='{NS_REGISTER}'>"
             f"<remove/></query></iq>")
    assert_error(r, "unreg2", "registration-required", "auth", code=407)


def test_remove_with_siblings(env):
    # XEP-0077 §3.2: <remove/> with other children is a bad request.
    c = env.client(env.user("sib"))
    register(c, "sibnick", "pw-s")
    r = c.iq(f"<iq type='set' to='{GW}' id='unreg3'><query xmlns='{NS_REGISTER}'>"
             f"<remove/><username>sibnick</username></query></iq>")
    assert_error(r, "unreg3", "bad-request", "modify", code=400)
    assert registered_username(c) == "sibnick", "registration lost on a refused remove"


def test_disallowed_domain(env):
    password = "pw-other-domain-99"
    c = env.client(env.user("dave"), host=OTHER_DOMAIN)
    r = c.iq(f"<iq type='set' to='{GW}' id='dis1'>{register_legacy('davenick', password)}</iq>")
    assert_error(r, "dis1", "not-allowed", "cancel", code=405, frm=GW)
    assert password not in tostr(r), f"password echoed in the error: {tostr(r)}"


def test_missing_username(env):
    password = "pw-missing-user-1"
    c = env.client(env.user("nouser"))
    r = c.iq(f"<iq type='set' to='{GW}' id='mu1'>{register_legacy(None, password)}</iq>")
    assert_error(r, "mu1", "not-acceptable", "modify", code=406)
    assert password not in tostr(r), f"password echoed in the error: {tostr(r)}"
    assert registered_username(c) is None


def test_empty_username(env):
    password = "pw-empty-user-2"
    c = env.client(env.user("emptyuser"))
    r = c.iq(f"<iq type='set' to='{GW}' id='eu1'><query xmlns='{NS_REGISTER}'>"
             f"<username/><password>{password}</password></query></iq>")
    assert_error(r, "eu1", "not-acceptable", "modify", code=406)
    assert password not in tostr(r), f"password echoed in the error: {tostr(r)}"
    r = c.iq(f"<iq type='set' to='{GW}' id='eu2'>{register_legacy('', password)}</iq>")
    assert_error(r, "eu2", "not-acceptable", "modify", code=406)
    assert registered_username(c) is None


def test_form_empty_username(env):
    password = "pw-empty-form-3"
    c = env.client(env.user("emptyform"))
    r = c.iq(f"<iq type='set' to='{GW}' id='ef1'>{register_form_submit('', password)}</iq>")
    assert_error(r, "ef1", "not-acceptable", "modify", code=406)
    assert password not in tostr(r), f"password echoed in the error: {tostr(r)}"


def test_form_wrong_type(env):
    password = "pw-wrong-form-4"
    c = env.client(env.user("wrongform"))
    r = c.iq(f"<iq type='set' to='{GW}' id='wf1'>"
             f"{register_form_submit('wfnick', password, form_type='form')}</iq>")
    assert_error(r, "wf1", "bad-request", "modify", code=400)
    assert password not in tostr(r), f"password echoed in the error: {tostr(r)}"
    assert registered_username(c) is None, "a refused form registered the user"


def test_unregistered_subscribe_not_approved(env):
    # A subscribe from an unregistered user is never answered with
    # subscribed: XEP-0100 §4.1.1 approves it as a step of registering.
    c = env.client(env.user("stranger"), roster=True, presence=True)
    since = c.mark()
    c.send(f"<presence type='subscribe' to='{GW}'/>")
    c.nothing(match("presence", type="subscribed", frm=GW), wait=1.5, since=since)
