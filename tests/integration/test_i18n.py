"""Translations: the texts of a reply follow the request's xml:lang
(falling back to English), through a real Prosody.

purplegate reads the catalogues msgfmt built into po/ of the source tree
(po/de.gmo, made by `make`) when PURPLEGATE_LOCALEDIR names that directory;
this module's setup sets it for the daemon it starts.  The expected texts
are the msgstr of po/de.po, verbatim."""

import ast
import os

import harness
from harness import (COMPONENT_JID, NS_CLIENT, NS_GATEWAY, NS_REGISTER, NS_STANZAS, NS_XDATA,
                     NS_XML, assert_error, child, children, match, register_legacy, text, tostr)
from legacy_servers import registered_user

GW = COMPONENT_JID
LANG = f"{{{NS_XML}}}lang"
LEGACY = "IRC"  # the harness's [legacy] name

EN = {
    "instructions": f"Enter your {LEGACY} username and password. They are checked with a real "
                    "login and stored encrypted on this gateway.",
    "title": f"Registration with the {LEGACY} gateway",
    "username": "Username",
    "password": "Password",
}
DE = {
    "instructions": f"Geben Sie Ihren {LEGACY}-Benutzernamen und Ihr Passwort ein. Beide werden "
                    "durch eine echte Anmeldung geprüft und verschlüsselt auf diesem Gateway "
                    "gespeichert.",
    "title": f"Registrierung beim {LEGACY}-Gateway",
    "username": "Benutzername",
    "password": "Passwort",
}


def catalogue_dir():
    binary = harness.purplegate_binary()
    for d in (harness.TOP_SRCDIR / "po", binary.parent / "po", binary.parent.parent / "po"):
        if (d / "de.gmo").is_file():
            return d
    raise harness.HarnessError("po/de.gmo not found: build the catalogues with make")


def setup(name):
    key = "PURPLEGATE_LOCALEDIR"
    saved = os.environ.get(key)
    os.environ[key] = str(catalogue_dir())
    try:
        # The daemon copies the environment when it starts.
        return harness.standard_setup(name)
    finally:
        if saved is None:
            del os.environ[key]
        else:
            os.environ[key] = saved


def register_get_in(client, lang):
    attr = f" xml:lang='{lang}'" if lang is not None else ""
    r = client.iq(f"<iq type='get' to='{GW}'{attr}><query xmlns='{NS_REGISTER}'/></iq>")
    assert r.get("type") == "result", f"register get failed: {tostr(r)}"
    query = child(r, NS_REGISTER, "query")
    assert query is not None, f"no jabber:iq:register query: {tostr(r)}"
    return r, query


def assert_register_texts(r, query, expected, lang):
    assert r.get(LANG) == lang, f"reply xml:lang {r.get(LANG)!r}, expected {lang!r}: {tostr(r)}"
    got = text(child(query, NS_REGISTER, "instructions"))
    assert got == expected["instructions"], f"instructions {got!r}: {tostr(r)}"
    form = child(query, NS_XDATA, "x")
    assert form is not None, f"no data form: {tostr(r)}"
    assert text(child(form, NS_XDATA, "title")) == expected["title"], f"title: {tostr(form)}"
    assert text(child(form, NS_XDATA, "instructions")) == expected["instructions"], \
        f"form instructions: {tostr(form)}"
    labels = {f.get("var"): f.get("label") for f in children(form, NS_XDATA, "field")}
    for var in ("username", "password"):
        assert labels.get(var) == expected[var], \
            f"{var} label {labels.get(var)!r}, expected {expected[var]!r}: {tostr(form)}"


def test_register_get_german(env):
    c = env.client(env.user("de"))
    r, query = register_get_in(c, "de")
    assert_register_texts(r, query, DE, "de")


def test_register_get_regional_german(env):
    # de-AT has no catalogue of its own: de answers it.
    c = env.client(env.user("at"))
    r, query = register_get_in(c, "de-AT")
    assert_register_texts(r, query, DE, "de")


def test_register_get_french_falls_back_to_english(env):
    c = env.client(env.user("fr"))
    r, query = register_get_in(c, "fr")
    assert_register_texts(r, query, EN, "en")


def test_register_get_english(env):
    c = env.client(env.user("en"))
    r, query = register_get_in(c, "en")
    assert_register_texts(r, query, EN, "en")


def test_register_error_text_german(env):
    # Refused before any legacy login: the username is empty.
    c = env.client(env.user("deerr"))
    r = c.iq(f"<iq type='set' to='{GW}' xml:lang='de'>{register_legacy('', 'pw')}</iq>")
    err = assert_error(r, r.get("id"), "not-acceptable", "modify")
    t = child(err, NS_STANZAS, "text")
    assert t is not None, f"no error text: {tostr(r)}"
    assert text(t) == "Ein Benutzername ist erforderlich.", f"error text: {tostr(r)}"
    assert t.get(LANG) == "de", f"error text xml:lang {t.get(LANG)!r}: {tostr(r)}"


def test_register_error_text_french_is_english(env):
    c = env.client(env.user("frerr"))
    r = c.iq(f"<iq type='set' to='{GW}' xml:lang='fr'>{register_legacy('', 'pw')}</iq>")
    err = assert_error(r, r.get("id"), "not-acceptable", "modify")
    t = child(err, NS_STANZAS, "text")
    assert text(t) == "A username is required.", f"error text: {tostr(r)}"
    assert t.get(LANG) == "en", f"error text xml:lang {t.get(LANG)!r}: {tostr(r)}"


def test_gateway_get_german(env):
    c = env.client(env.user("gw"))
    r = c.iq(f"<iq type='get' to='{GW}' xml:lang='de'><query xmlns='{NS_GATEWAY}'/></iq>")
    assert r.get("type") == "result", f"gateway get failed: {tostr(r)}"
    query = child(r, NS_GATEWAY, "query")
    assert text(child(query, NS_GATEWAY, "prompt")) == "Kontakt-ID", f"prompt: {tostr(r)}"
    assert text(child(query, NS_GATEWAY, "desc")) == (
        f"Bitte geben Sie die {LEGACY}-Adresse des Kontakts ein, den Sie hinzufügen möchten."), \
        f"desc: {tostr(r)}"
    assert r.get(LANG) == "de", f"reply xml:lang: {tostr(r)}"


def test_gateway_get_french_is_english(env):
    c = env.client(env.user("gwfr"))
    r = c.iq(f"<iq type='get' to='{GW}' xml:lang='fr'><query xmlns='{NS_GATEWAY}'/></iq>")
    assert r.get("type") == "result", f"gateway get failed: {tostr(r)}"
    query = child(r, NS_GATEWAY, "query")
    assert text(child(query, NS_GATEWAY, "prompt")) == "Contact ID", f"prompt: {tostr(r)}"


def test_login_failure_headline_in_the_users_language(env):
    # The headline is unasked for: it follows the xml:lang of the user's last
    # available presence. The legacy network is down at the first login.
    c = registered_user(env, env.user("hl"), env.user("nick"), gw=GW)
    env.irc.stop()
    try:
        since = c.mark()
        # Broadcast (it reaches the transport through the subscription):
        # Prosody delivers headlines to available resources only.
        c.send("<presence xml:lang='de'/>")
        h = c.expect(match("message", type="headline", frm=GW), timeout=20, since=since,
                     what=f"headline from {GW}")
    finally:
        env.irc.start()
    assert h.get(LANG) == "de", f"headline xml:lang: {tostr(h)}"
    subject = text(child(h, NS_CLIENT, "subject"))
    assert subject == "Anmeldung beim Fremdnetzwerk fehlgeschlagen", f"subject: {tostr(h)}"
    body = text(child(h, NS_CLIENT, "body"))
    assert body.startswith(f"{LEGACY}: "), f"body: {tostr(h)}"
    assert body.endswith("\nDas Fremdnetzwerk ist nicht erreichbar; das Gateway versucht es "
                         "weiter."), f"body: {tostr(h)}"


def po_translations():
    """msgid → msgstr of po/de.po (translated, not fuzzy)."""
    entries, current, key, fuzzy = {}, {}, None, False
    lines = (harness.TOP_SRCDIR / "po" / "de.po").read_text().splitlines() + [""]
    for line in lines:
        if line.startswith("#,"):
            fuzzy = "fuzzy" in line
        elif line.startswith(("msgid ", "msgstr ")):
            key, rest = line.split(" ", 1)
            current[key] = ast.literal_eval(rest)
        elif line.startswith('"') and key:
            current[key] += ast.literal_eval(line)
        elif not line.strip():
            if current.get("msgid") and current.get("msgstr") and not fuzzy:
                entries[current["msgid"]] = current["msgstr"]
            current, key, fuzzy = {}, None, False
    return entries


def option_labels(client, lang):
    """var → (label, [choice labels]) of the account option fields of the
    registration form, asked in `lang`."""
    _, query = register_get_in(client, lang)
    form = child(query, NS_XDATA, "x")
    return {f.get("var"): (f.get("label"), [o.get("label") for o in children(f, NS_XDATA, "option")])
            for f in children(form, NS_XDATA, "field") if f.get("var", "").startswith("option:")}


def restart_with(env, **groups):
    env.purplegate.stop()
    for group, kv in groups.items():
        env.purplegate.settings.setdefault(group, {}).update(kv)
    env.purplegate.write_config()
    env.purplegate.start()
    env.wait_linked()


# Every account option (and user-name part) of prpl-irc and prpl-jabber.
PROTOCOL_OPTIONS = {
    "prpl-irc": "port, encoding, autodetect_utf8, username, realname, ssl, sasl, saslname, "
                "auth_plain_in_clear, ratelimit-interval, ratelimit-burst, nickserv_password, split:server",
    "prpl-jabber": "connection_security, auth_plain_in_clear, port, connect_server, ft_proxies, bosh_url, "
                   "custom_smileys, split:domain, split:resource",
}


def test_option_labels_german(env):
    # README "Account options": the forms show the protocols' option labels
    # (and their choices) in the user's language; po/de.po has each one.
    german = po_translations()
    saved = {g: dict(env.purplegate.settings.get(g, {})) for g in ("legacy", "registration")}
    # setup() gave the catalogues to the first start only.
    env.purplegate.environment["PURPLEGATE_LOCALEDIR"] = str(catalogue_dir())
    try:
        for protocol, options in PROTOCOL_OPTIONS.items():
            restart_with(env, legacy={"protocol": protocol}, registration={"user_options": options})
            c = env.client(env.user("lbl"))
            english = option_labels(c, None)
            assert len(english) == len(options.split(",")), f"{protocol}: fields {sorted(english)}"
            shown = option_labels(c, "de")
            for var, (label, choices) in english.items():
                for text_en, text_de in zip([label] + choices, [shown[var][0]] + shown[var][1]):
                    assert text_en in german, f"{protocol} {var}: no German for {text_en!r} in po/de.po"
                    assert text_de == german[text_en], f"{protocol} {var}: {text_de!r} for {text_en!r}"
            c.close()
    finally:
        env.purplegate.stop()
        for group, kv in saved.items():
            env.purplegate.settings[group] = kv
        env.purplegate.write_config()
        env.purplegate.start()
        env.wait_linked()
