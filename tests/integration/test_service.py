"""Service answers on the component domain, through a real Prosody:
XEP-0030 disco, XEP-0100 §6 jabber:iq:gateway, XEP-0199 ping, XEP-0092
version, unknown namespaces and iq results (RFC 6120 §8.2.3, §8.4)."""

from harness import (COMPONENT_JID, NS_DISCO_INFO, NS_DISCO_ITEMS, NS_GATEWAY, NS_PING,
                     NS_REGISTER, NS_VERSION, assert_error, assert_result, child, children,
                     local, match, text, tostr)
from harness import WAIT

GW = COMPONENT_JID


def test_disco_info(env):
    c = env.client("alice")
    r = c.iq(f"<iq type='get' to='{GW}' id='d1'><query xmlns='{NS_DISCO_INFO}'/></iq>")
    assert_result(r, "d1")
    assert r.get("from") == GW, f"answer not from {GW}: {tostr(r)}"
    query = child(r, NS_DISCO_INFO, "query")
    assert query is not None, f"no disco#info query: {tostr(r)}"
    identities = children(query, NS_DISCO_INFO, "identity")
    gw = [i for i in identities if i.get("category") == "gateway"]
    assert len(gw) == 1, f"expected one gateway identity: {tostr(r)}"
    assert gw[0].get("type") == "irc", f"gateway type should be irc: {tostr(gw[0])}"
    assert gw[0].get("name") == "IRC", f"gateway name should be IRC: {tostr(gw[0])}"
    feats = [f.get("var") for f in children(query, NS_DISCO_INFO, "feature")]
    for f in children(query, NS_DISCO_INFO, "feature"):
        assert f.get("var"), f"feature without var: {tostr(f)}"
        assert len(f) == 0 and not (f.text or "").strip(), f"feature with content: {tostr(f)}"
    assert len(feats) == len(set(feats)), f"duplicate features: {feats}"
    for want in (NS_DISCO_INFO, NS_DISCO_ITEMS, NS_REGISTER, NS_GATEWAY, NS_VERSION, NS_PING,
                 "jid\\20escaping"):
        assert want in feats, f"feature {want!r} missing from {feats}"
    assert "jabber:x:data" not in feats, "jabber:x:data must not be advertised"


def test_disco_items(env):
    c = env.client("alice")
    r = c.iq(f"<iq type='get' to='{GW}' id='di1'><query xmlns='{NS_DISCO_ITEMS}'/></iq>")
    assert_result(r, "di1")
    query = child(r, NS_DISCO_ITEMS, "query")
    assert query is not None, f"no disco#items query (an empty list is a query): {tostr(r)}"
    for item in query:
        assert local(item) == "item" and item.get("jid"), f"bad disco item: {tostr(item)}"


def test_disco_info_node_echoed(env):
    # XEP-0030 §3.2: a request with a node gets a response with the same node, or
    # an error (item-not-found) if the node is unknown.
    c = env.client("alice")
    r = c.iq(f"<iq type='get' to='{GW}' id='dn1'><query xmlns='{NS_DISCO_INFO}' "
             f"node='urn:example:no-such-node'/></iq>")
    if r.get("type") == "result":
        query = child(r, NS_DISCO_INFO, "query")
        assert query is not None and query.get("node") == "urn:example:no-such-node", \
            f"node not echoed: {tostr(r)}"
    else:
        assert_error(r, "dn1", "item-not-found", "cancel")


def test_gateway_get(env):
    c = env.client("alice")
    r = c.iq(f"<iq type='get' to='{GW}' id='g1'><query xmlns='{NS_GATEWAY}'/></iq>")
    assert_result(r, "g1")
    query = child(r, NS_GATEWAY, "query")
    assert query is not None, f"no jabber:iq:gateway query: {tostr(r)}"
    desc, prompt = child(query, NS_GATEWAY, "desc"), child(query, NS_GATEWAY, "prompt")
    assert desc is not None and text(desc).strip(), f"no <desc/> text: {tostr(r)}"
    assert prompt is not None and text(prompt).strip(), f"no <prompt/> text: {tostr(r)}"


def test_gateway_set_escapes(env):
    c = env.client("alice")
    r = c.iq(f"<iq type='set' to='{GW}' id='g2'><query xmlns='{NS_GATEWAY}'>"
             f"<prompt>bob@legacy.example</prompt></query></iq>")
    assert_result(r, "g2")
    jid = child(child(r, NS_GATEWAY, "query"), NS_GATEWAY, "jid")
    assert jid is not None, f"no <jid/> in the answer: {tostr(r)}"
    assert text(jid) == "bob\\40legacy.example@" + GW, f"wrong JID {text(jid)!r}"


def test_gateway_set_xep0106_example(env):
    # XEP-0106 §5.1 table: "at&t guy" -> at\26t\20guy.
    c = env.client("alice")
    r = c.iq(f"<iq type='set' to='{GW}' id='g3'><query xmlns='{NS_GATEWAY}'>"
             f"<prompt>at&amp;t guy</prompt></query></iq>")
    assert_result(r, "g3")
    jid = child(child(r, NS_GATEWAY, "query"), NS_GATEWAY, "jid")
    assert jid is not None and text(jid) == "at\\26t\\20guy@" + GW, f"wrong JID: {tostr(r)}"


def test_ping(env):
    c = env.client("alice")
    r = c.iq(f"<iq type='get' to='{GW}' id='p1'><ping xmlns='{NS_PING}'/></iq>")
    assert_result(r, "p1")
    assert r.get("from") == GW, f"ping answer not from {GW}: {tostr(r)}"


def test_version(env):
    c = env.client("alice")
    r = c.iq(f"<iq type='get' to='{GW}' id='v1'><query xmlns='{NS_VERSION}'/></iq>")
    assert_result(r, "v1")
    query = child(r, NS_VERSION, "query")
    assert query is not None, f"no version query: {tostr(r)}"
    assert text(child(query, NS_VERSION, "name")) == "purplegate", f"name: {tostr(r)}"
    assert (text(child(query, NS_VERSION, "version")) or "").strip(), f"no version: {tostr(r)}"


def test_unknown_namespace_get(env):
    c = env.client("alice")
    r = c.iq(f"<iq type='get' to='{GW}' id='u1'><query xmlns='urn:example:x'/></iq>")
    assert_error(r, "u1", "service-unavailable", "cancel", frm=GW)


def test_unknown_namespace_set(env):
    c = env.client("alice")
    r = c.iq(f"<iq type='set' to='{GW}' id='u2'><foo xmlns='urn:example:y'/></iq>")
    assert_error(r, "u2", "service-unavailable", "cancel", frm=GW)


def test_iq_result_not_answered(env):
    c = env.client("alice")
    since = c.mark()
    c.send(f"<iq type='result' to='{GW}' id='r1'/>")
    c.send(f"<iq type='error' to='{GW}' id='r2'><error type='cancel'>"
           f"<service-unavailable xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></iq>")
    c.nothing(lambda el: el.get("id") in ("r1", "r2"), wait=1.5, since=since,
              what="answer to an iq result/error")
    # and the component is still there
    r = c.iq(f"<iq type='get' to='{GW}' id='p2'><ping xmlns='{NS_PING}'/></iq>")
    assert_result(r, "p2")


def test_error_message_not_answered(env):
    # RFC 6120 §8.3.1: never answer a type='error' stanza.
    c = env.client("alice")
    since = c.mark()
    c.send(f"<message type='error' to='{GW}' id='e1'><error type='cancel'>"
           f"<item-not-found xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></message>")
    c.nothing(match(id="e1"), wait=1.5, since=since, what="answer to an error message")


def test_every_iq_answered_once(env):
    # RFC 6120 §8.2.3: a burst of mixed requests, every one answered exactly once.
    c = env.client("alice")
    since = c.mark()
    kinds = [f"<query xmlns='{NS_DISCO_INFO}'/>", f"<ping xmlns='{NS_PING}'/>",
             f"<query xmlns='{NS_VERSION}'/>", "<query xmlns='urn:example:x'/>",
             f"<query xmlns='{NS_GATEWAY}'/>", f"<query xmlns='{NS_DISCO_ITEMS}'/>"]
    ids = []
    for i in range(30):
        sid = f"burst{i}"
        ids.append(sid)
        c.send(f"<iq type='get' to='{GW}' id='{sid}'>{kinds[i % len(kinds)]}</iq>")
    for sid in ids:
        c.expect(match("iq", id=sid), timeout=WAIT, since=since)
    c.nothing(lambda el: el.get("id", "").startswith("burst"), wait=0.5, since=since,
              what="second answer to one request")
