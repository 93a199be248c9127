"""A real install: `make install DESTDIR=...` from the build tree
of the purplegate under test, then the installed files themselves: the
daemon in sbin, purplegate(8) and purplegate.conf(5), the example
configuration (every key of purplegate.conf(5) documented) and the hardened
systemd unit.  The installed binary checks the example once its required keys are
filled, refuses a broken copy naming the key, and, started from the example
in an empty working directory as the unit does, creates its state there.

Needs no Prosody: setup() only installs.  Skipped when the binary under test
does not sit in a configured build tree (PURPLEGATE pointing elsewhere); the
build tree can also be named with PG_BUILDDIR."""

import os
import re
import shutil
import signal
import socket
import subprocess
from pathlib import Path

import harness
from harness import Env, Skip, free_port, wait_until
from harness import WAIT

TIMEOUT = 120

# purplegate.conf(5): every group and key the example must document.
MAN5_KEYS = {
    "component": ["jid", "host", "port", "secret"],
    "legacy": ["protocol", "name", "username_suffix", "plugins"],
    "legacy-settings": [],
    "database": ["path", "key_file"],
    "admin": ["jids"],
    "registration": ["allowed_domains", "verify_timeout_s", "user_options"],
    "limits": ["max_stanza_bytes"],
    "groupchat": ["history_messages", "history_max_age_s", "join_timeout_s"],
    "workers": ["count", "max_logins"],
    "log": ["level"],
}
UNIT_HARDENING = [
    "DynamicUser=yes", "StateDirectory=purplegate", "ProtectSystem=strict",
    "ProtectHome=yes", "NoNewPrivileges=yes", "PrivateTmp=yes",
    "Restart=on-failure", "RestartSec=1", "CapabilityBoundingSet=",
    "WorkingDirectory=%S/purplegate",
]
MAN8_SECTIONS = ["NAME", "SYNOPSIS", "DESCRIPTION", "OPTIONS", "LOGGING", "SIGNALS", "FILES",
                 "EXIT STATUS", "EXAMPLES", "SEE ALSO"]
MAN5_SECTIONS = ["NAME", "SYNOPSIS", "DESCRIPTION"] + [f"[{g}]" for g in MAN5_KEYS] + \
    ["XMPP SERVER CONFIGURATION", "EXAMPLE", "FILES", "SEE ALSO"]


def _build_dir():
    named = os.environ.get("PG_BUILDDIR")
    build = Path(named) if named else harness.purplegate_binary().parent
    if not (build / "Makefile").is_file() or not (build / "config.status").is_file():
        raise Skip(f"no configured build tree at {build} (set PG_BUILDDIR)")
    return build.resolve()


def _make_env():
    env = dict(os.environ)
    for var in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL", "DESTDIR"):
        env.pop(var, None)
    env["LC_ALL"] = "C"
    return env


def _make_var(build, name):
    """The fully expanded value of a variable of the build tree's Makefile."""
    rule = "pg-print-var:\n\t@echo '$(" + name + ")'\n"
    r = subprocess.run(["make", "-s", "-f", "Makefile", "-f", "-", "pg-print-var"],
                       cwd=build, input=rule, capture_output=True, text=True, env=_make_env(),
                       timeout=60)
    assert r.returncode == 0, f"make cannot print {name}: {r.stderr[-2000:]}"
    return r.stdout.strip()


def setup(name):
    build = _build_dir()
    env = Env(name)
    try:
        env.build = build
        env.dest = env.tmp / "destdir"
        r = subprocess.run(["make", "install", f"DESTDIR={env.dest}"], cwd=build,
                           capture_output=True, text=True, env=_make_env(), timeout=TIMEOUT)
        assert r.returncode == 0, \
            f"make install DESTDIR={env.dest} failed ({r.returncode}):\n{(r.stdout + r.stderr)[-3000:]}"
        env.dirs = {v: _make_var(build, v) for v in
                    ("sbindir", "sysconfdir", "mandir", "docdir", "systemdsystemunitdir")}

        def installed(var, *parts):
            return env.dest / env.dirs[var].lstrip("/") / Path(*parts)
        env.installed = installed
        env.binary = installed("sbindir", "purplegate")
        env.man8 = installed("mandir", "man8", "purplegate.8")
        env.man5 = installed("mandir", "man5", "purplegate.conf.5")
        env.example = installed("sysconfdir", "purplegate", "purplegate.conf.example")
        env.unit = (None if env.dirs["systemdsystemunitdir"] == "no"
                    else installed("systemdsystemunitdir", "purplegate.service"))
    except BaseException:
        env.close(keep=True)
        raise
    return env


def _run(env, *args, cwd=None, timeout=30):
    run_env = dict(os.environ)
    run_env["TMPDIR"] = str(env.tmp)  # --check-config's scratch libpurple directory
    return subprocess.run([str(env.binary), *args], capture_output=True, text=True,
                          cwd=cwd or env.tmp, env=run_env, timeout=timeout)


def _fill(text, values):
    """The example with `group.key = value` set (uncommenting a key if need be)."""
    out, group = [], None
    pending = dict(values)
    for line in text.splitlines():
        m = re.match(r"^\[([^\]]+)\]\s*$", line)
        if m:
            group = m.group(1)
        m = re.match(r"^#?\s*([A-Za-z_][\w-]*)\s*=", line)
        if m and f"{group}.{m.group(1)}" in pending:
            line = f"{m.group(1)} = {pending.pop(f'{group}.{m.group(1)}')}"
        out.append(line)
    assert not pending, f"keys not found in the example: {sorted(pending)}"
    return "\n".join(out) + "\n"


def _filled_example(env, name="purplegate.conf", extra=None):
    values = {"component.jid": "irc.example.org", "component.secret": "an-install-test-secret",
              "legacy.protocol": "prpl-irc"}
    values.update(extra or {})
    path = env.tmp / name
    path.write_text(_fill(env.example.read_text(), values))
    return path


def _plain(text):
    """Rendered man output without SGR escapes or overstrikes."""
    text = re.sub(r"\x1b\[[0-9;]*m", "", text)
    return re.sub(r".\x08", "", text)


def test_installed_files(env):
    for path in (env.binary, env.man8, env.man5, env.example,
                 env.installed("docdir", "purplegate.conf.example")):
        assert path.is_file(), f"make install did not install {path}"
    assert os.access(env.binary, os.X_OK), f"{env.binary} is not executable"
    r = _run(env, "--version")
    assert r.returncode == 0 and re.match(r"^purplegate \d", r.stdout), \
        f"installed --version: rc {r.returncode}, {r.stdout!r} {r.stderr!r}"
    r = _run(env, "--help")
    assert r.returncode == 0 and "--check-config" in r.stdout, f"installed --help: {r.stdout!r}"
    for path in (env.man8, env.man5) + ((env.unit,) if env.unit else ()):
        left = re.findall(r"@[A-Za-z_]+@", path.read_text())
        assert not left, f"{path} keeps unsubstituted {left}"


def test_systemd_unit(env):
    if env.unit is None:
        raise Skip("configured --with-systemdsystemunitdir=no")
    assert env.unit.is_file(), f"make install did not install {env.unit}"
    lines = [l.strip() for l in env.unit.read_text().splitlines()]
    for want in UNIT_HARDENING:
        assert want in lines, f"the unit lacks {want!r}"
    conf = f"{env.dirs['sysconfdir']}/purplegate/purplegate.conf"
    assert f"LoadCredential=purplegate.conf:{conf}" in lines, \
        f"the unit does not load {conf} as a credential"
    exec_start = [l for l in lines if l.startswith("ExecStart=")]
    assert exec_start == [f"ExecStart={env.dirs['sbindir']}/purplegate --config %d/purplegate.conf"], \
        f"unexpected ExecStart: {exec_start}"

    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        raise Skip("systemd-analyze is not installed (unit keys checked, not verified)")
    # The unit names the final paths; verify a copy that points into DESTDIR.
    copy = env.tmp / "verify" / "purplegate.service"
    copy.parent.mkdir(exist_ok=True)
    copy.write_text(env.unit.read_text().replace(f"{env.dirs['sbindir']}/purplegate",
                                                 str(env.binary)))
    r = subprocess.run([analyze, "verify", "--man=no", str(copy)], capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 0 and "purplegate.service" not in r.stdout + r.stderr, \
        f"systemd-analyze verify: rc {r.returncode}\n{r.stdout}{r.stderr}"


def test_example_documents_every_key(env):
    text = env.example.read_text()
    groups = re.findall(r"^\[([^\]]+)\]\s*$", text, re.M)
    assert groups == list(MAN5_KEYS), \
        f"example groups {groups}, purplegate.conf(5) has {list(MAN5_KEYS)}"
    sections = re.split(r"^\[[^\]]+\]\s*$", text, flags=re.M)[1:]
    for (group, keys), body in zip(MAN5_KEYS.items(), sections):
        present = set(re.findall(r"^#?\s*([A-Za-z_][\w-]*)\s*=", body, re.M))
        missing = [k for k in keys if k not in present]
        assert not missing, f"example [{group}] does not show {missing}"
    assert env.example.read_text() == env.installed("docdir", "purplegate.conf.example").read_text()


def test_example_needs_its_required_keys(env):
    r = _run(env, "--check-config", "--config", str(env.example))
    assert r.returncode == 1, f"the unfilled example passed: rc {r.returncode} {r.stdout!r}"
    assert "[component] jid" in r.stderr, f"no message naming [component] jid: {r.stderr!r}"


def test_check_config_filled_example(env):
    conf = _filled_example(env)
    r = _run(env, "--check-config", "--config", str(conf))
    assert r.returncode == 0, f"--check-config refused the filled example: rc {r.returncode}\n{r.stderr}"
    assert f"{conf}: configuration OK" in r.stdout, f"no OK message: {r.stdout!r}"
    # Every optional key uncommented with the value shown still passes.
    text = conf.read_text()
    all_keys = env.tmp / "all-keys.conf"
    all_keys.write_text(re.sub(r"^#(\s*(?:host|port|name|username_suffix|path|key_file|jids|"
                               r"allowed_domains|verify_timeout_s|user_options|max_stanza_bytes|outbox_max_per_user|"
                               r"outbox_expiry_s|session_grace_s|level|ssl|encoding|plugins)\s*=)",
                               r"\1", text, flags=re.M))
    r = _run(env, "--check-config", "-c", str(all_keys))
    assert r.returncode == 0, f"the example's shown values do not pass: {r.stderr}"


def test_check_config_unknown_key(env):
    conf = _filled_example(env, "broken.conf")
    conf.write_text(conf.read_text().replace("[component]\n", "[component]\ncolour = blue\n", 1))
    r = _run(env, "--check-config", "--config", str(conf))
    assert r.returncode == 1, f"unknown key accepted: rc {r.returncode} {r.stdout!r}"
    assert "[component] colour" in r.stderr and "unknown key" in r.stderr, \
        f"the message does not name the key: {r.stderr!r}"
    assert "configuration OK" not in r.stdout

    conf = _filled_example(env, "broken-setting.conf")
    conf.write_text(conf.read_text().replace("[legacy-settings]\n",
                                             "[legacy-settings]\nno_such_option = 1\n", 1))
    r = _run(env, "--check-config", "--config", str(conf))
    assert r.returncode == 1, f"unknown legacy setting accepted: rc {r.returncode}"
    assert "[legacy-settings] no_such_option" in r.stderr, f"not named: {r.stderr!r}"

    conf = _filled_example(env, "broken-plugin.conf")
    conf.write_text(conf.read_text().replace(
        "#plugins = core-riba-carbons\n", "plugins = core-riba-carbons, core-no-such-plugin\n", 1))
    r = _run(env, "--check-config", "--config", str(conf))
    assert r.returncode == 1, f"a plugin that is not installed accepted: rc {r.returncode}"
    assert "[legacy] plugins" in r.stderr and "core-no-such-plugin" in r.stderr, f"not named: {r.stderr!r}"


def test_man_pages_render(env):
    man = shutil.which("man")
    if man is None:
        raise Skip("man is not installed (Debian package man-db)")
    run_env = dict(os.environ, LC_ALL="C.UTF-8", MANWIDTH="80", MANPAGER="cat", PAGER="cat")
    for page, sections in ((env.man8, MAN8_SECTIONS), (env.man5, MAN5_SECTIONS)):
        r = subprocess.run([man, "--warnings", "-l", "-Tutf8", str(page)], capture_output=True,
                           text=True, env=run_env, timeout=60)
        assert r.returncode == 0, f"man -l {page}: rc {r.returncode}\n{r.stderr}"
        assert r.stderr.strip() == "", f"man -l {page} warns:\n{r.stderr}"
        text = _plain(r.stdout)
        headings = {l.strip() for l in text.splitlines() if l[:1].strip()}
        missing = [s for s in sections if s not in headings]
        assert not missing, f"{page.name} lacks sections {missing}; has {sorted(headings)}"
        groff = shutil.which("groff")
        if groff:
            r = subprocess.run([groff, "-man", "-ww", "-z", str(page)], capture_output=True,
                               text=True, env=run_env, timeout=60)
            assert r.returncode == 0 and r.stderr.strip() == "", \
                f"groff -man -ww {page.name}:\n{r.stderr}"
    text = _plain(subprocess.run([man, "-l", str(env.man5)], capture_output=True, text=True,
                                 env=run_env, timeout=60).stdout)
    for keys in MAN5_KEYS.values():
        for key in keys:
            assert re.search(rf"^\s+{re.escape(key)} \(", text, re.M), \
                f"purplegate.conf(5) does not describe {key}"
    for snippet in ('Component "irc.example.org"', "component_secret", "ejabberd_service"):
        assert snippet in text, f"purplegate.conf(5) lacks the server snippet {snippet!r}"


def test_runs_in_state_directory(env):
    """As the unit runs it: the example's relative database paths land in
    the working directory, with private modes; SIGTERM ends it with 0."""
    state = env.tmp / "state"
    state.mkdir()
    # A listener where the example's server would be: the daemon's first
    # connection attempt there shows it is up and running (its SIGTERM
    # handling is in place from then on).
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.bind(("127.0.0.1", free_port()))
    server.listen(4)
    server.settimeout(WAIT)
    env.track(server)
    conf = _filled_example(env, "run.conf", {"component.port": str(server.getsockname()[1])})
    run_env = dict(os.environ, TMPDIR=str(env.tmp))
    log = open(env.tmp / "run.stderr", "wb")
    proc = subprocess.Popen([str(env.binary), "--config", str(conf)], cwd=state,
                            stdin=subprocess.DEVNULL, stdout=log, stderr=log, env=run_env,
                            start_new_session=True)
    log.close()
    harness._track(proc)
    try:
        wait_until(lambda: (state / "purplegate.key").exists() or proc.poll() is not None,
                   timeout=WAIT, what="purplegate.key in the working directory")
        assert proc.poll() is None, \
            f"exited with {proc.returncode}:\n{(env.tmp / 'run.stderr').read_text()[-2000:]}"
        try:
            conn, _ = server.accept()
            conn.close()
        except socket.timeout:
            raise AssertionError(f"no connection to the configured server within {WAIT}s:\n"
                                 f"{(env.tmp / 'run.stderr').read_text()[-2000:]}")
        names = ("purplegate.db", "purplegate.key", "purple")
        for name, mode in zip(names, (0o600, 0o600, 0o700)):
            path = state / name
            assert path.exists(), f"{name} not created in the working directory"
            assert path.stat().st_mode & 0o777 == mode, \
                f"{name} has mode {path.stat().st_mode & 0o777:o}, want {mode:o}"
    finally:
        rc = harness.stop_process(proc, sig=signal.SIGTERM, timeout=10)
    assert rc == 0, f"SIGTERM: exit status {rc}:\n{(env.tmp / 'run.stderr').read_text()[-2000:]}"
