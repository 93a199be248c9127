#!/usr/bin/env python3
"""purplegate against Biboumi, side by side.  Run it through
bench/run, which installs the servers, builds purplegate and enters a private
network namespace; this program assumes it is inside one (fixed ports on
127.0.0.1).

  bench.py measure --mode tuned|defaults --json OUT [--quick] [--reps R] ...
  bench.py report  --json tuned.json [--json defaults.json] --out RESULTS.md

`measure` runs every repetition with fresh servers (Prosody, InspIRCd and the
gateway), both gateways alternately, and writes the raw figures of every
repetition to OUT; `report` prints the table (medians, ranges, ratios) and
writes the Markdown report.
"""

import argparse
import json
import os
import platform
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, str(Path(__file__).resolve().parent))
import benchlib as bl  # noqa: E402
from benchlib import BenchError  # noqa: E402

TOP = Path(__file__).resolve().parent.parent
WINDOW = 100
BODY_LEN = 64
PAIRS = 10            # sender/receiver pairs of the message phases
ONLINE_RE_PG = re.compile(rb"<presence(?=[^>]*\sfrom=['\"]" + re.escape(bl.PG_JID.encode()) +
                          rb"['\"])(?![^>]*\stype=)[^>]*>")
ONLINE_RE_BB = re.compile(rb"code=['\"]110['\"]")


def log(msg):
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def body(seq):
    s = b"PGB%08d " % seq
    return s + b"x" * (BODY_LEN - len(s))


def xmpp_msg(to, seq):
    return b"<message type='chat' to='%s'><body>%s</body></message>" % (to, body(seq))


def irc_msg(to, seq):
    return b"PRIVMSG %s :%s\r\n" % (to, body(seq))


def percentile(values, p):
    v = sorted(values)
    if not v:
        return None
    k = (len(v) - 1) * p / 100.0
    lo = int(k)
    hi = min(lo + 1, len(v) - 1)
    return v[lo] + (v[hi] - v[lo]) * (k - lo)


# ---------------------------------------------------------------------------
# message phases (shared by the gateways and the no-gateway ceilings)


def run_window(loop, plan, cnt, window, what, cap_s):
    """Sends `plan` [(conn, bytes)] keeping `window` messages in flight, for
    at most `cap_s` seconds; returns (messages arrived, seconds from the
    first send to the last arrival, capped?).  When the cap is reached no
    more is sent and what is in flight is waited for."""
    m = len(plan)
    sent = 0
    stop = [False]

    def refill():
        nonlocal sent
        if stop[0]:
            return
        if time.perf_counter() >= t0 + cap_s:
            stop[0] = True
            return
        room = window - (sent - cnt.n - cnt.err)
        if room <= 0 or sent >= m:
            return
        end = min(m, sent + room)
        groups = {}
        for c, data in plan[sent:end]:
            groups.setdefault(c, []).append(data)
        for c, parts in groups.items():
            c.send(b"".join(parts))
        sent = end

    t0 = time.perf_counter()
    refill()
    loop.run_until(lambda: cnt.n + cnt.err >= m or stop[0], cap_s + 30, what, tick=refill)
    if stop[0]:
        loop.run_until(lambda: cnt.n + cnt.err >= sent, 30, what + " (messages in flight)")
    if cnt.err:
        raise BenchError(f"{what}: {cnt.err} of {sent} messages bounced, e.g. {cnt.err_sample!r}")
    return cnt.n, cnt.t - t0, stop[0]


def throughput(loop, senders, receivers, make, args, probe_pids, what, sender_h, recv_h):
    """Windowed throughput of args.m messages from senders[i] to
    receivers[i] (round robin), after a warm-up; returns (msg/s, CPU probe
    of the measured part, messages arrived, capped?)."""
    n = len(senders)
    cnt = bl.Counter()
    for s in senders:
        s.handler = sender_h(cnt)
    for r in receivers:
        r.handler = recv_h(cnt)
    # Warm-up: first messages create conversations, buffers, caches.
    plan = [(senders[k % n], make(receivers[k % n], k)) for k in range(args.warmup)]
    run_window(loop, plan, cnt, WINDOW, what + " (warm-up)", args.warmup_cap_s)
    cnt.n = 0
    base = 10_000_000
    plan = [(senders[k % n], make(receivers[k % n], base + k)) for k in range(args.m)]
    probe = bl.CpuProbe(probe_pids).start()
    got, secs, capped = run_window(loop, plan, cnt, WINDOW, what, args.cap_s)
    probe.stop()
    return got / secs, probe, got, capped


def latency(loop, senders, receivers, make, args, what, sender_h, recv_h):
    """One message in flight, args.rounds times (or as many as fit in
    args.cap_s); returns the latencies in ms."""
    n = len(senders)
    cnt = bl.Counter()
    for s in senders:
        s.handler = sender_h(cnt)
    for r in receivers:
        r.handler = recv_h(cnt)
    base = 20_000_000
    plan = [(senders[k % n], make(receivers[k % n], base + k)) for k in range(args.rounds)]
    out = []
    end = time.perf_counter() + args.cap_s
    for k, (c, data) in enumerate(plan):
        want = k + 1
        t = time.perf_counter()
        if t >= end:
            break
        c.send(data)
        loop.run_until(lambda: cnt.n + cnt.err >= want, 10, f"{what} round trip {k}")
        if cnt.err:
            raise BenchError(f"{what}: bounced: {cnt.err_sample!r}")
        out.append((cnt.t - t) * 1000.0)
    return out


# ---------------------------------------------------------------------------
# gateways


class Purplegate:
    jid = bl.PG_JID
    online_re = ONLINE_RE_PG

    def __init__(self, binary, wrapper=(), workers=None, name="purplegate"):
        """`workers`: the `[workers] count` to configure (None: the
        default, one worker process per core)."""
        self.binary = binary
        self.wrapper = wrapper
        self.name = name
        self.workers = workers
        # Under valgrind a join storm takes minutes: joins must not time out.
        self.extra_config = "\n[groupchat]\njoin_timeout_s = 3600\n" if wrapper else ""
        if workers is not None:
            self.extra_config += f"\n[workers]\ncount = {workers}\n"

    def start(self, workdir, owners):
        self.proc = bl.PurplegateProc(workdir, self.binary, self.wrapper,
                                      self.extra_config).start()
        return self.proc

    def contact(self, nick):
        return f"{nick}@{self.jid}".encode()

    def prepare(self, loop, clients):
        """In-band registration of every user (username = IRC nick)."""
        for c in clients:
            c.flag = False
            c.handler = bl.h_until(bl.iq_result_regex("reg"))
            c.send(f"<iq type='set' id='reg' to='{self.jid}'><query xmlns='jabber:iq:register'>"
                   f"<username>{c.user}</username></query></iq>".encode())
        loop.run_until(lambda: all(c.flag for c in clients), 120, "registrations")
        bad = [c for c in clients if b"type='result'" not in c.match and
               b'type="result"' not in c.match]
        if bad:
            raise BenchError(f"registration of {bad[0].user} refused: {bad[0].match!r}")

    def online_stanza(self, c):
        return f"<presence to='{self.jid}'/>".encode()

    def room(self, chan):
        # escape(legacy chat name)@component; nothing to escape in #benchK.
        return f"{chan}@{self.jid}"


class Biboumi:
    name = "biboumi"
    jid = bl.BB_JID
    online_re = ONLINE_RE_BB

    def __init__(self, wrapper=(), record_history=True):
        self.wrapper = wrapper
        self.record_history = record_history
        if not record_history:
            self.name = "biboumi_noarchive"

    def start(self, workdir, owners):
        self.proc = bl.BiboumiProc(workdir, owners, self.wrapper,
                                   record_history=self.record_history).start()
        return self.proc

    def contact(self, nick):
        return f"{nick}%{bl.IRC_HOST}@{self.jid}".encode()

    def prepare(self, loop, clients):
        pass  # options are in biboumi's database already (BiboumiProc.seed)

    def online_stanza(self, c):
        # A private message alone opens no IRC connection: each user joins a
        # channel of their own, which logs them in.
        return (f"<presence to='#c{c.user}%{bl.IRC_HOST}@{self.jid}/{c.user}'>"
                f"<x xmlns='http://jabber.org/protocol/muc'/></presence>").encode()

    def room(self, chan):
        return f"{chan}%{bl.IRC_HOST}@{self.jid}"


def join_stanza(gw, c, chan):
    """A plain XEP-0045 join of `chan` by user `c`, nick = the user's name."""
    return (f"<presence to='{gw.room(chan)}/{c.user}'>"
            f"<x xmlns='http://jabber.org/protocol/muc'/></presence>").encode()


def wait_component(loop, client, jid, proc, timeout=30):
    deadline = time.perf_counter() + timeout
    k = 0
    while time.perf_counter() < deadline:
        if proc.proc.poll() is not None:
            raise BenchError(f"{jid} exited with status {proc.proc.returncode}")
        k += 1
        ans = bl.iq_roundtrip(loop, client, f"<iq type='get' id='disco{k}' to='{jid}'><query "
                              f"xmlns='http://jabber.org/protocol/disco#info'/></iq>",
                              f"disco{k}", timeout=5)
        if b"'result'" in ans or b'"result"' in ans:
            return
        time.sleep(0.1)
    raise BenchError(f"component {jid} not connected after {timeout}s")


# ---------------------------------------------------------------------------
# one repetition of one gateway


class Rep:
    """The figures of one repetition of one gateway (None + reason when a
    phase failed)."""

    def __init__(self):
        self.fig = {}
        self.why = {}
        self.extra = {}
        self.notes = {}

    def set(self, key, value):
        self.fig[key] = value

    def note(self, key, text):
        self.notes[key] = text

    def fail(self, keys, reason):
        for k in keys:
            if k not in self.fig:
                self.fig[k] = None
                self.why[k] = reason

    def as_dict(self):
        return {"fig": self.fig, "why": self.why, "extra": self.extra, "notes": self.notes}


STORM_KEYS = ["storm_cpu_ms", "storm_tcp_s", "storm_up_s"]
MSG_KEYS = ["tput_x2i", "tput_i2x", "cpu_x2i_us", "cpu_i2x_us", "lat_x2i_p50", "lat_x2i_p99",
            "lat_i2x_p50", "lat_i2x_p99"]
ALL_KEYS = STORM_KEYS + ["idle_cpu_pct", "rss_kib"] + MSG_KEYS


def login_storm(loop, gw, gwpid, pids, clients, rep, suffix=""):
    n = len(clients)
    bl.tcp_settled()
    inuse0 = bl.tcp_inuse()
    done = [0]

    def h_online(regex):
        inner = bl.h_until(regex)

        def h(conn, now):
            was = conn.flag
            inner(conn, now)
            if conn.flag and not was:
                done[0] += 1
        return h

    for c in clients:
        c.flag = False
        c.handler = h_online(gw.online_re)
    stanzas = [(c, gw.online_stanza(c)) for c in clients]
    t_tcp = [None]
    probe = bl.CpuProbe(pids).start()
    t0 = probe.t0
    for c, s in stanzas:
        c.send(s)

    def tick():
        if t_tcp[0] is None and bl.tcp_inuse() - inuse0 >= 2 * n:
            t_tcp[0] = time.perf_counter() - t0

    loop.run_until(lambda: done[0] >= n, 60 + n / 10, f"{n} sessions online", tick=tick)
    probe.stop()
    rep.set("storm_cpu_ms" + suffix, probe.cpu[gw.name] * 1000.0 / n)
    rep.set("storm_up_s" + suffix, max(c.flag_t for c in clients) - t0)
    if t_tcp[0] is None:
        # /proc/net/sockstat missed it (a socket closed meanwhile): count the
        # ESTABLISHED connections to the IRC server instead.
        def tick2():
            if t_tcp[0] is None and bl.tcp_established_to(bl.IRC_PORT) >= n:
                t_tcp[0] = time.perf_counter() - t0
        try:
            loop.run_until(lambda: t_tcp[0] is not None, 30, "every TCP connection open",
                           tick=tick2)
        except BenchError:
            est = bl.tcp_established_to(bl.IRC_PORT)
            rep.fail(["storm_tcp_s" + suffix], f"only {est} of {n} TCP connections to the IRC "
                     "server established 30 s after every session was up")
    est = bl.tcp_established_to(bl.IRC_PORT)
    if est < n:
        rep.extra["storm_tcp_established" + suffix] = est
        rep.fail(["storm_tcp_s" + suffix], f"only {est} TCP connections to the IRC server "
                 f"for {n} sessions")
    if t_tcp[0] is not None and ("storm_tcp_s" + suffix) not in rep.fig:
        rep.set("storm_tcp_s" + suffix, t_tcp[0])
    rep.extra["storm_cpu_pct" + suffix] = {k: round(v, 1) for k, v in probe.percent().items()}
    rep.extra["storm_cpu_split_ms" + suffix] = {k: round(v * 1000.0 / n, 3)
                                               for k, v in probe.split[gw.name].items()}
    if probe.lost[gw.name]:
        rep.note("storm_cpu_ms" + suffix, f"{probe.lost[gw.name]} gateway process(es) ended "
                 "during the storm: their CPU is missing")


def measure_gateway(gw, args, tmp, rep, n, with_messages=True, suffix=""):
    users = [f"u{i}" for i in range(n)]
    loop = bl.Loop()
    prosody = bl.Prosody(tmp / "prosody", users).start()
    irc = bl.InspIRCd(tmp / "irc").start()
    proc = None
    try:
        t = time.perf_counter()
        clients = bl.connect_many(loop, bl.Xmpp, users, what="c2s logins")
        log(f"  {n} c2s logins in {time.perf_counter() - t:.1f}s")
        proc = gw.start(tmp / gw.name, [f"{u}@{bl.USER_DOMAIN}" for u in users])
        wait_component(loop, clients[0], gw.jid, proc, timeout=120 if args.callgrind else 30)
        # RSS per session is the growth from the idle process to N online
        # users: sampled before the registrations, since purplegate's check
        # each registration with a real login, which grows the heap that the
        # sessions then reuse (sampled after them, the figure would hide it).
        loop.run_for(0.5)
        bl.wait_quiet(proc.pid)
        mem0 = bl.tree_mem_kib(proc.pid)
        rss0 = mem0["rss"]
        t = time.perf_counter()
        gw.prepare(loop, clients)
        if isinstance(gw, Purplegate):
            log(f"  {n} registrations in {time.perf_counter() - t:.1f}s")
        loop.run_for(0.5)
        bl.wait_quiet(proc.pid)
        rep.extra["rss_registered_kib" + suffix] = bl.tree_mem_kib(proc.pid)["rss"]
        rep.extra["processes" + suffix] = mem0["procs"]
        rep.extra["pss_before_kib" + suffix] = mem0["pss"]
        pids = {gw.name: proc.pid, "prosody": prosody.pid, "inspircd": irc.pid}
        hook = getattr(args, "phase_hook", None) or (lambda name, pid: None)
        hook("start+registration", proc.pid)

        try:
            login_storm(loop, gw, proc.pid, pids, clients, rep, suffix)
            tcp = rep.fig.get("storm_tcp_s" + suffix)
            log(f"  login storm N={n}: {rep.fig['storm_cpu_ms' + suffix]:.2f} ms CPU/session, "
                f"TCP {'n/a (' + rep.why.get('storm_tcp_s' + suffix, '') + ')' if tcp is None else f'{tcp:.2f}s'}, "
                f"all up {rep.fig['storm_up_s' + suffix]:.2f}s")
        except BenchError as e:
            rep.fail([k + suffix for k in STORM_KEYS], str(e))
            raise
        hook(f"login storm N={n}", proc.pid)
        # Which process holds the IRC connections (the main process, or
        # each worker process).
        rep.extra["irc_conns" + suffix] = bl.tcp_conns_by_proc(proc.pid, bl.IRC_PORT)

        loop.run_for(2.0)
        if args.idle_s > 0 and not suffix:
            probe = bl.CpuProbe({gw.name: proc.pid}).start()
            loop.run_for(args.idle_s)
            probe.stop()
            rep.set("idle_cpu_pct" + suffix, probe.percent()[gw.name])
            log(f"  idle CPU with {n} sessions: {rep.fig['idle_cpu_pct' + suffix]:.2f}%")
            hook(f"idle {args.idle_s:.0f} s with {n} sessions", proc.pid)
        mem1 = bl.tree_mem_kib(proc.pid)
        rss1 = mem1["rss"]
        rep.set("rss_kib" + suffix, (rss1 - rss0) / n)
        rep.extra["rss_before_kib" + suffix] = rss0
        rep.extra["rss_after_kib" + suffix] = rss1
        rep.extra["pss_after_kib" + suffix] = mem1["pss"]
        if mem1["procs"] != mem0["procs"]:
            rep.note("rss_kib" + suffix, f"{mem0['procs']} processes before the registrations, "
                     f"{mem1['procs']} after")
        log(f"  RSS {rss0} -> {rss1} KiB ({mem1['procs']} process"
            f"{'es' if mem1['procs'] != 1 else ''}, PSS {mem0['pss']} -> {mem1['pss']} KiB): "
            f"{rep.fig['rss_kib' + suffix]:.1f} KiB/session")
        if not with_messages:
            return

        p = min(PAIRS, n)
        peers = bl.connect_many(loop, bl.Irc, [f"p{i}" for i in range(p)], what="IRC peers")
        xs = clients[:p]
        x2i = lambda r, k: xmpp_msg(gw.contact(r.nick), k)  # noqa: E731
        i2x = lambda r, k: irc_msg(r.user.encode(), k)  # noqa: E731
        hook("IRC peers connect", proc.pid)
        tput_phase(loop, rep, args, "x2i", "XMPP->IRC", xs, peers, x2i, bl.h_xmpp_sender,
                   bl.h_irc_count, pids, gw.name)
        hook("throughput XMPP->IRC (warm-up + measured)", proc.pid)
        tput_phase(loop, rep, args, "i2x", "IRC->XMPP", peers, xs, i2x, bl.h_irc_sender,
                   bl.h_xmpp_count, pids, gw.name)
        hook("throughput IRC->XMPP (warm-up + measured)", proc.pid)
        lat_phase(loop, rep, args, "lat_x2i", "XMPP->IRC", xs, peers, x2i, bl.h_xmpp_sender,
                  bl.h_irc_count)
        lat_phase(loop, rep, args, "lat_i2x", "IRC->XMPP", peers, xs, i2x, bl.h_irc_sender,
                  bl.h_xmpp_count)
        bl.close_all(peers)
    finally:
        for c in list(loop.sel.get_map().values()):
            c.data.state = "closing"
        if proc is not None:
            if proc.proc.poll() is not None:
                rep.extra["exit"] = f"{gw.name} exited with status {proc.proc.returncode}"
            proc.stop()
        irc.stop()
        prosody.stop()


def measure_ceiling(args, tmp, rep):
    """The same message phases without a gateway: Prosody c2s -> c2s and
    InspIRCd client -> client."""
    p = PAIRS if not args.quick else min(PAIRS, args.n)
    us = [f"a{i}" for i in range(p)]
    vs = [f"b{i}" for i in range(p)]
    loop = bl.Loop()
    prosody = bl.Prosody(tmp / "prosody", us + vs).start()
    irc = bl.InspIRCd(tmp / "irc").start()
    try:
        pids = {"prosody": prosody.pid, "inspircd": irc.pid}
        senders = bl.connect_many(loop, bl.Xmpp, us)
        receivers = bl.connect_many(loop, bl.Xmpp, vs)
        make = lambda r, k: xmpp_msg(r.bare.encode(), k)  # noqa: E731
        tput_phase(loop, rep, args, "ceil_xmpp", "Prosody c2s->c2s", senders, receivers, make,
                   bl.h_xmpp_sender, bl.h_xmpp_count, pids, None)
        lat_phase(loop, rep, args, "ceil_xmpp", "Prosody c2s->c2s", senders, receivers, make,
                  bl.h_xmpp_sender, bl.h_xmpp_count)
        qs = bl.connect_many(loop, bl.Irc, [f"q{i}" for i in range(p)])
        rs = bl.connect_many(loop, bl.Irc, [f"r{i}" for i in range(p)])
        make = lambda r, k: irc_msg(r.nick.encode(), k)  # noqa: E731
        tput_phase(loop, rep, args, "ceil_irc", "IRC->IRC", qs, rs, make, bl.h_irc_sender,
                   bl.h_irc_count, pids, None)
        lat_phase(loop, rep, args, "ceil_irc", "IRC->IRC", qs, rs, make, bl.h_irc_sender,
                  bl.h_irc_count)
    finally:
        for c in list(loop.sel.get_map().values()):
            c.data.state = "closing"
        irc.stop()
        prosody.stop()


# ---------------------------------------------------------------------------
# channel phase: N users of the gateway in one channel, an IRC
# client talking into it; a join storm of N users x K channels before that

CHAN_WINDOW_STANZAS = 5000   # groupchat stanzas in flight (lines = this / N)
CHAN_WARMUP_LINES = 20
CHAN_STALL_S = 20.0          # a join storm or a delivery with no progress for this long fails
CHAN_KEYS = ["join_s", "join_cpu_ms", "join_presences", "chan_tput", "chan_cpu_us",
             "chan_lat_p50", "chan_lat_p99", "chan_fan_p50", "chan_fan_p99"]


def chan_m(args, n):
    """Lines the IRC client sends for N users: --chan-m, or enough for
    --chan-stanzas delivered stanzas."""
    return args.chan_m if args.chan_m else max(1, args.chan_stanzas // n)


def chan_window_lines(n):
    return max(4, -(-CHAN_WINDOW_STANZAS // n))


def bring_online(loop, gw, clients):
    """Every user's session up (as in the login storm, not measured)."""
    for c in clients:
        c.flag = False
        c.handler = bl.h_until(gw.online_re)
    for c in clients:
        c.send(gw.online_stanza(c))
    n = len(clients)
    bl.run_progress(loop, lambda: all(c.flag for c in clients),
                    lambda: sum(c.flag for c in clients), 30, f"{n} sessions online")


def join_storm(loop, gw, clients, chans, pids, rep, n):
    """Every user joins every channel at once; done when each (user, room)
    has had its subject message.  Gateway CPU per join, time to the last."""
    jc = bl.JoinCounter()
    for c in clients:
        c.buf = b""
        c.rooms = set()
        c.handler = bl.h_join_watch(jc)
    want = len(clients) * len(chans)
    stanzas = [(c, b"".join(join_stanza(gw, c, ch) for ch in chans)) for c in clients]
    probe = bl.CpuProbe(pids).start()
    for c, s in stanzas:
        c.send(s)

    def check():
        if jc.err:
            raise BenchError(f"{jc.err} joins refused, e.g. {jc.err_sample!r}")
    try:
        bl.run_progress(loop, lambda: jc.done >= want, lambda: jc.done, CHAN_STALL_S,
                        f"join storm {n} users x {len(chans)} channels", tick=check)
    except BenchError as e:
        raise BenchError(f"{e} ({jc.done} of {want} joins complete, {jc.presences} presences "
                         "received)") from None
    probe.stop()
    check()
    rep.set(f"join_s_{n}", jc.t - probe.t0)
    rep.set(f"join_cpu_ms_{n}", probe.cpu[gw.name] * 1000.0 / want)
    # Presences of later joiners may still be on their way to earlier ones.
    p = -1
    while p != jc.presences:
        p = jc.presences
        loop.run_for(0.5)
    rep.set(f"join_presences_{n}", jc.presences)
    rep.extra[f"cpu_pct_join_{n}"] = {k: round(v, 1) for k, v in probe.percent().items()}
    log(f"  join storm {n} x {len(chans)}: all joined in {rep.fig[f'join_s_{n}']:.2f}s, "
        f"{rep.fig[f'join_cpu_ms_{n}']:.3f} ms CPU/join, {jc.presences} presences, "
        f"CPU% {rep.extra[f'cpu_pct_join_{n}']}")


def chan_send(loop, sender, receivers, lines, cnt, scnt, window, what, cap_s):
    """Sends `lines` from the IRC client with `window` lines in flight (a
    line is delivered once each of the N users got it), for at most cap_s
    seconds; returns (lines sent, seconds from the first send to the last
    delivery, capped?)."""
    n = len(receivers)
    base = cnt.n
    sent = 0
    stop = [False]
    t0 = time.perf_counter()

    def refill():
        nonlocal sent
        if cnt.err:
            raise BenchError(f"{what}: {cnt.err} messages bounced, e.g. {cnt.err_sample!r}")
        if scnt.err:
            raise BenchError(f"{what}: IRC refused a line: {scnt.err_sample!r}")
        if stop[0] or sent >= len(lines):
            return
        if time.perf_counter() >= t0 + cap_s:
            stop[0] = True
            return
        room = window - (sent - (cnt.n - base) // n)
        if room <= 0:
            return
        end = min(len(lines), sent + room)
        sender.send(b"".join(lines[sent:end]))
        sent = end

    refill()
    try:
        bl.run_progress(loop, lambda: (stop[0] or sent >= len(lines)) and
                        cnt.n - base >= sent * n, lambda: (sent, cnt.n), CHAN_STALL_S, what,
                        tick=refill)
    except BenchError as e:
        short = [r for r in receivers if r.got < sent]
        raise BenchError(f"{e}: {cnt.n - base:,} of {sent * n:,} stanzas delivered; "
                         f"{len(short)} of {n} users short") from None
    return sent, cnt.t - t0, stop[0]


def chan_messages(loop, gw, sender, clients, chan, args, pids, rep, n):
    """Windowed: M lines into the channel, N stanzas per line."""
    cnt = bl.Counter()
    scnt = bl.Counter()
    sender.handler = bl.h_irc_sender(scnt)
    for c in clients:
        c.buf = b""
        c.got = 0
        c.handler = bl.h_chan_count(cnt)
    window = chan_window_lines(n)
    warm = [irc_msg(chan.encode(), k) for k in range(CHAN_WARMUP_LINES)]
    chan_send(loop, sender, clients, warm, cnt, scnt, window, "channel warm-up",
              args.warmup_cap_s)
    m = chan_m(args, n)
    lines = [irc_msg(chan.encode(), 10_000_000 + k) for k in range(m)]
    for c in clients:
        c.got = 0
    cnt.n = 0
    probe = bl.CpuProbe(pids).start()
    sent, secs, capped = chan_send(loop, sender, clients, lines, cnt, scnt, window,
                                   f"{n} users x {m} lines", args.cap_s)
    probe.stop()
    got = cnt.n
    rep.set(f"chan_tput_{n}", got / secs)
    rep.set(f"chan_cpu_us_{n}", probe.cpu[gw.name] * 1e6 / got)
    if capped:
        for k in ("chan_tput", "chan_cpu_us"):
            rep.note(f"{k}_{n}", f"{sent:,} of {m:,} lines in the {args.cap_s:.0f} s cap")
    rep.extra[f"cpu_pct_chan_{n}"] = {k: round(v, 1) for k, v in probe.percent().items()}
    rep.extra[f"chan_lines_{n}"] = sent
    log(f"  {n} users x {sent} lines: {got / secs:,.0f} stanzas/s ({got:,} in {secs:.2f}s"
        f"{', capped' if capped else ''}), {rep.fig[f'chan_cpu_us_{n}']:.2f} us CPU/stanza, "
        f"CPU% {rep.extra[f'cpu_pct_chan_{n}']}")


def chan_latency(loop, gw, sender, clients, chan, args, rep, n):
    """One line in flight: latency of every delivered stanza, and of the
    last of the N (fan-out complete)."""
    cnt = bl.Counter()
    scnt = bl.Counter()
    sender.handler = bl.h_irc_sender(scnt)
    arrivals = []
    for c in clients:
        c.buf = b""
        c.handler = bl.h_chan_count(cnt, arrivals)
    each, fan = [], []
    end = time.perf_counter() + args.cap_s
    for k in range(args.chan_rounds):
        if time.perf_counter() >= end:
            break
        del arrivals[:]
        want = cnt.n + n
        line = irc_msg(chan.encode(), 20_000_000 + k)
        t = time.perf_counter()
        sender.send(line)
        loop.run_until(lambda: cnt.n >= want or cnt.err or scnt.err, 10,
                       f"channel round trip {k} ({cnt.n - want + n} of {n} delivered)")
        if cnt.err or scnt.err:
            raise BenchError(f"bounced: {(cnt.err_sample or scnt.err_sample)!r}")
        each.extend((a - t) * 1000.0 for a in arrivals)
        fan.append((max(arrivals) - t) * 1000.0)
    rep.set(f"chan_lat_p50_{n}", percentile(each, 50))
    rep.set(f"chan_lat_p99_{n}", percentile(each, 99))
    rep.set(f"chan_fan_p50_{n}", percentile(fan, 50))
    rep.set(f"chan_fan_p99_{n}", percentile(fan, 99))
    if len(fan) < args.chan_rounds:
        for q in ("chan_lat_p50", "chan_lat_p99", "chan_fan_p50", "chan_fan_p99"):
            rep.note(f"{q}_{n}", f"{len(fan)} of {args.chan_rounds:,} lines in the "
                     f"{args.cap_s:.0f} s cap")
    log(f"  {n} users, one line in flight: per stanza p50/p99 "
        f"{rep.fig[f'chan_lat_p50_{n}']:.3f}/{rep.fig[f'chan_lat_p99_{n}']:.3f} ms, all {n} "
        f"p50/p99 {rep.fig[f'chan_fan_p50_{n}']:.3f}/{rep.fig[f'chan_fan_p99_{n}']:.3f} ms "
        f"({len(fan)} lines)")


def measure_channel(gw, args, tmp, rep, n):
    users = [f"u{i}" for i in range(n)]
    chans = [f"#bench{i}" for i in range(args.chan_k)]
    loop = bl.Loop()
    prosody = bl.Prosody(tmp / "prosody", users).start()
    irc = bl.InspIRCd(tmp / "irc").start()
    proc = None
    try:
        clients = bl.connect_many(loop, bl.Xmpp, users, what="c2s logins")
        proc = gw.start(tmp / gw.name, [f"{u}@{bl.USER_DOMAIN}" for u in users])
        wait_component(loop, clients[0], gw.jid, proc, timeout=120 if args.callgrind else 30)
        gw.prepare(loop, clients)
        hook = getattr(args, "phase_hook", None) or (lambda name, pid: None)
        t = time.perf_counter()
        bring_online(loop, gw, clients)
        log(f"  {n} sessions online in {time.perf_counter() - t:.1f}s")
        # The IRC client creates the channels (it is their operator; the
        # channels have InspIRCd's default modes +nt).
        sender = bl.connect_many(loop, bl.Irc, ["s0"], what="IRC client")[0]
        bl.irc_join(loop, sender, chans)
        sender.handler = bl.h_discard
        loop.run_for(0.5)
        bl.wait_quiet(proc.pid)
        pids = {gw.name: proc.pid, "prosody": prosody.pid, "inspircd": irc.pid}
        hook(f"channel N={n}: start, registration, sessions online", proc.pid)
        join_storm(loop, gw, clients, chans, pids, rep, n)
        hook(f"channel N={n}: join storm {n} x {len(chans)}", proc.pid)
        loop.run_for(1.0)
        bl.wait_quiet(proc.pid, timeout=20)
        chan_messages(loop, gw, sender, clients, chans[0], args, pids, rep, n)
        hook(f"channel N={n}: {chan_m(args, n)} lines to {n} users (+ warm-up)", proc.pid)
        if args.chan_rounds:
            chan_latency(loop, gw, sender, clients, chans[0], args, rep, n)
    finally:
        for c in list(loop.sel.get_map().values()):
            c.data.state = "closing"
        if proc is not None:
            if proc.proc.poll() is not None:
                rep.extra[f"exit_{n}"] = f"{gw.name} exited with status {proc.proc.returncode}"
            proc.stop()
        irc.stop()
        prosody.stop()


def tput_phase(loop, rep, args, key, label, senders, receivers, make, sender_h, recv_h, pids,
               gw_name):
    """Throughput figure `key` (tput_<key> for a gateway, <key> for a
    ceiling), the gateway's CPU per message and everybody's CPU%."""
    tp, probe, got, capped = throughput(loop, senders, receivers, make, args, pids, label,
                                        sender_h, recv_h)
    fkey = f"tput_{key}" if gw_name else key
    rep.set(fkey, tp)
    if capped:
        rep.note(fkey, f"{got:,} of {args.m:,} messages in the {args.cap_s:.0f} s cap")
    pct = {k: round(v, 1) for k, v in probe.percent().items()}
    rep.extra[f"cpu_pct_{key}"] = pct
    msg = f"  {label}: {tp:,.0f} msg/s ({got} messages{', capped' if capped else ''})"
    if gw_name:
        rep.set(f"cpu_{key}_us", probe.cpu[gw_name] * 1e6 / got)
        if capped:
            rep.note(f"cpu_{key}_us", f"over {got:,} messages")
        if probe.lost[gw_name]:
            rep.note(f"cpu_{key}_us", f"{probe.lost[gw_name]} gateway process(es) ended during "
                     "the phase: their CPU is missing")
        # The main process and its worker processes apart.
        split = {k: round(v * 1e6 / got, 2) for k, v in probe.split[gw_name].items()}
        rep.extra[f"cpu_split_{key}_us"] = split
        msg += f", {rep.fig[f'cpu_{key}_us']:.1f} us CPU/msg"
        rep.extra[f"switches_{key}"] = round(probe.switches[gw_name] / got, 3)
        rep.extra[f"rwcalls_{key}"] = round(probe.calls[gw_name] / got, 3)
        msg += (f", {rep.extra[f'switches_{key}']:.2f} context switches and "
                f"{rep.extra[f'rwcalls_{key}']:.2f} read/write calls per msg")
        if probe.procs[gw_name] > 1:
            msg += f" (main {split['main']:.1f} + workers {split['children']:.1f})"
    log(f"{msg}, CPU% {pct}")


def lat_phase(loop, rep, args, key, label, senders, receivers, make, sender_h, recv_h):
    lat = latency(loop, senders, receivers, make, args, label + " latency", sender_h, recv_h)
    rep.set(f"{key}_p50", percentile(lat, 50))
    rep.set(f"{key}_p99", percentile(lat, 99))
    if len(lat) < args.rounds:
        for q in ("p50", "p99"):
            rep.note(f"{key}_{q}", f"{len(lat)} of {args.rounds:,} round trips in the "
                     f"{args.cap_s:.0f} s cap")
    log(f"  {label} latency p50/p99 {rep.fig[f'{key}_p50']:.3f}/{rep.fig[f'{key}_p99']:.3f} ms "
        f"({len(lat)} round trips)")


def guarded(what, keys, rep, fn, *a, **kw):
    t = time.perf_counter()
    try:
        fn(*a, **kw)
    except BenchError as e:
        log(f"  {what}: FAILED: {e}")
        rep.fail(keys, str(e)[:300])
    except Exception as e:  # a bug here must not hide the other figures
        traceback.print_exc()
        rep.fail(keys, f"{type(e).__name__}: {e}"[:300])
    return time.perf_counter() - t


def callgrind_setup(args):
    """Runs purplegate under callgrind and dumps the counters after every
    phase (callgrind_control -d), so each phase has its own profile."""
    out = Path(args.callgrind).resolve()
    out.mkdir(parents=True, exist_ok=True)
    for old in out.glob("callgrind.out.*"):
        old.unlink()
    phases = []

    def hook(name, pid):
        hint = re.sub(r"[^A-Za-z0-9=]+", "_", name)
        # The worker processes too, when valgrind traces them
        # (VALGRIND_OPTS=--trace-children=yes): a dump each.
        for p, _ in bl.tree_pids(pid):
            subprocess.run(["callgrind_control", f"--dump={hint}", str(p)],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=120)
        phases.append(name)
        (out / "phases.txt").write_text("".join(f"{i + 1}: {p}\n" for i, p in enumerate(phases)))
    args.phase_hook = hook
    return ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}/callgrind.out.%p"]


def channel_gateways(gws, quick):
    """The channel phase measures Biboumi twice: with its defaults (every
    channel line archived in sqlite, once per user) and without the archive
    (not in the smoke mode)."""
    out = dict(gws)
    if "biboumi" in gws and not quick:
        out["biboumi_noarchive"] = Biboumi(record_history=False)
    return out


def chan_gws(gws):
    """The gateways of the channel phase: purplegate in its default
    configuration (not each --workers setting) and Biboumi."""
    return {k: v for k, v in gws.items() if k in ("purplegate", "biboumi")}


def measure_channels(gws, order, args, base, result):
    """The channel phase of one repetition: for each N, each gateway with
    fresh servers."""
    order = [name for name in order if name in gws]
    gws = channel_gateways(gws, args.quick)
    if "biboumi_noarchive" in gws:
        order = order + ["biboumi_noarchive"] if order[0] == "purplegate" else \
            ["biboumi_noarchive"] + order
    reps = {name: Rep() for name in order}
    for n in args.chan_n:
        for name in order:
            log(f"--- {name} channel phase (N={n}, K={args.chan_k}, M={chan_m(args, n)})")
            d = guarded(f"{name} channel N={n}", [f"{k}_{n}" for k in CHAN_KEYS], reps[name],
                        measure_channel, gws[name], args, base / f"chan{n}-{name}", reps[name], n)
            result["durations"].setdefault(f"channel_{name}", []).append(round(d, 1))
    for name in order:
        result["channel"]["runs"][name].append(reps[name].as_dict())


def purplegates(args, wrapper):
    """The purplegate configurations to measure, one per `--workers`
    setting, and the description of the settings for the report.  The
    one that is the default configuration (auto: one worker process per
    core, as g_get_num_processors() counts them) is named "purplegate":
    the main table, the N big login storm and the channel phase use it;
    it is measured even when no setting names it."""
    auto = len(os.sched_getaffinity(0))
    gws, settings = {}, []
    for w in args.workers:
        count = auto if w == "auto" else w
        if any(s["count"] == count for s in settings):
            continue
        if count == auto:
            name, gw = "purplegate", Purplegate(args.purplegate, wrapper)
        else:
            name = f"purplegate_w{count}"
            gw = Purplegate(args.purplegate, wrapper, workers=count, name=name)
        gws[name] = gw
        settings.append({"count": count, "run": name, "default": count == auto})
    if "purplegate" not in gws:
        gws["purplegate"] = Purplegate(args.purplegate, wrapper)
    # The default configuration first: fewest workers to most, the default
    # where its count puts it.
    settings.sort(key=lambda x: x["count"])
    gws = {x["run"]: gws[x["run"]] for x in settings} | gws
    return gws, {"auto": auto, "settings": settings}


def cmd_measure(args):
    global CHAN_STALL_S
    wrapper = callgrind_setup(args) if args.callgrind else ()
    if args.callgrind:
        CHAN_STALL_S = 300.0  # valgrind makes every step some 50 times slower
    workers = None
    if args.callgrind and args.callgrind_gateway == "biboumi":
        gws = {"biboumi": Biboumi(wrapper)}
        args.n_big = 0
    else:
        gws, workers = purplegates(args, wrapper)
    if not args.no_biboumi and not args.callgrind:
        gws["biboumi"] = Biboumi()
    result = {"mode": args.mode, "quick": args.quick, "n": args.n, "n_big": args.n_big,
              "m": args.m, "rounds": args.rounds, "idle_s": args.idle_s, "window": WINDOW,
              "pairs": PAIRS, "body_len": BODY_LEN, "reps": args.reps, "warmup": args.warmup,
              "cap_s": args.cap_s, "warmup_cap_s": args.warmup_cap_s,
              "biboumi_skipped": args.no_biboumi_reason if args.no_biboumi else None,
              "route": subprocess.run(["ip", "route", "show", "table", "local"],
                                      capture_output=True, text=True).stdout,
              "runs": {"ceiling": [], "purplegate": [], "biboumi": [], "purplegate_big": []} |
              {name: [] for name in gws},
              "workers": workers, "commit": machine_info()["commit"],
              "command": os.environ.get("BENCH_COMMAND") or
              " ".join(["bench.py"] + sys.argv[1:]),
              "durations": {}, "loadavg_start": open("/proc/loadavg").read().split()[:3],
              "phases": sorted(args.phases), "date": time.strftime("%Y-%m-%d %H:%M %Z")}
    direct = "direct" in args.phases
    if "channel" in args.phases:
        result["channel"] = {
            "ns": args.chan_n, "k": args.chan_k, "m": {str(n): chan_m(args, n) for n in args.chan_n},
            "window": {str(n): chan_window_lines(n) for n in args.chan_n},
            "warmup_lines": CHAN_WARMUP_LINES, "rounds": args.chan_rounds, "reps": args.reps,
            "cap_s": args.cap_s, "body_len": BODY_LEN,
            "runs": {name: [] for name in channel_gateways(chan_gws(gws), args.quick)}}
    base = Path(tempfile.mkdtemp(prefix=f"pg-bench-{args.mode}-"))
    t_all = time.perf_counter()
    try:
        for r in range(args.reps):
            order = list(gws) if r % 2 == 0 else list(reversed(list(gws)))
            log(f"=== repetition {r + 1}/{args.reps} ({args.mode}): "
                f"{'ceiling, ' if direct else 'channel phase: '}{', '.join(order)}")
            if not direct:
                measure_channels(chan_gws(gws), order, args, base / f"r{r}", result)
                continue
            rep = Rep()
            if not args.callgrind:
                d = guarded("ceiling", ["ceil_xmpp", "ceil_irc"], rep, measure_ceiling, args,
                            base / f"r{r}-ceiling", rep)
                result["durations"].setdefault("ceiling", []).append(round(d, 1))
            result["runs"]["ceiling"].append(rep.as_dict())
            for name in order:
                log(f"--- {name} (N={args.n}, M={args.m})")
                rep = Rep()
                d = guarded(name, ALL_KEYS, rep, measure_gateway, gws[name], args,
                            base / f"r{r}-{name}", rep, args.n)
                result["durations"].setdefault(name, []).append(round(d, 1))
                result["runs"][name].append(rep.as_dict())
            if args.n_big:
                log(f"--- purplegate login storm N={args.n_big}")
                rep = Rep()
                d = guarded("purplegate N big", [k + "_big" for k in STORM_KEYS] +
                            ["rss_kib_big"], rep, measure_gateway, gws["purplegate"], args,
                            base / f"r{r}-purplegate-big", rep, args.n_big,
                            with_messages=False, suffix="_big")
                result["durations"].setdefault("purplegate_big", []).append(round(d, 1))
                result["runs"]["purplegate_big"].append(rep.as_dict())
            if "channel" in args.phases:
                measure_channels(chan_gws(gws), order, args, base / f"r{r}", result)
    finally:
        result["total_s"] = round(time.perf_counter() - t_all, 1)
        result["loadavg_end"] = open("/proc/loadavg").read().split()[:3]
        if args.keep_logs:
            bl.copy_logs(base, args.keep_logs)
        shutil.rmtree(base, ignore_errors=True)
        bl.stop_all_children()
        Path(args.json).write_text(json.dumps(result, indent=1))
    log(f"measure ({args.mode}) done in {result['total_s']:.0f}s")


# ---------------------------------------------------------------------------
# report

ROWS = [
    # key, label, unit, fmt, source (gateway runs, ceiling, big-storm), better
    ("tput_x2i", "Throughput XMPP→IRC", "msg/s", "{:,.0f}", "gw", "higher"),
    ("tput_i2x", "Throughput IRC→XMPP", "msg/s", "{:,.0f}", "gw", "higher"),
    ("frac_x2i", "  as % of the no-gateway ceiling, XMPP→IRC", "%", "{:.0f}", "gw", "higher"),
    ("frac_i2x", "  as % of the no-gateway ceiling, IRC→XMPP", "%", "{:.0f}", "gw", "higher"),
    ("cpu_x2i_us", "CPU per message XMPP→IRC", "µs", "{:.1f}", "gw", "lower"),
    ("cpu_i2x_us", "CPU per message IRC→XMPP", "µs", "{:.1f}", "gw", "lower"),
    ("lat_x2i_p50", "Latency XMPP→IRC p50", "ms", "{:.3f}", "gw", "lower"),
    ("lat_x2i_p99", "Latency XMPP→IRC p99", "ms", "{:.3f}", "gw", "lower"),
    ("lat_i2x_p50", "Latency IRC→XMPP p50", "ms", "{:.3f}", "gw", "lower"),
    ("lat_i2x_p99", "Latency IRC→XMPP p99", "ms", "{:.3f}", "gw", "lower"),
    ("rss_kib", "RSS per user session (N)", "KiB", "{:.1f}", "gw", "lower"),
    ("storm_cpu_ms", "Login storm (N): CPU per session", "ms", "{:.2f}", "gw", "lower"),
    ("storm_tcp_s", "Login storm (N): all TCP connections open", "s", "{:.2f}", "gw", "lower"),
    ("storm_up_s", "Login storm (N): all sessions up", "s", "{:.2f}", "gw", "lower"),
    ("idle_cpu_pct", "Idle CPU with N sessions", "% of a core", "{:.2f}", "gw", "lower"),
    ("storm_cpu_ms_big", "Login storm (N big): CPU per session", "ms", "{:.2f}", "big", "lower"),
    ("storm_tcp_s_big", "Login storm (N big): all TCP connections open", "s", "{:.2f}", "big",
     "lower"),
    ("storm_up_s_big", "Login storm (N big): all sessions up", "s", "{:.2f}", "big", "lower"),
    ("rss_kib_big", "RSS per user session (N big)", "KiB", "{:.1f}", "big", "lower"),
]
CEIL_ROWS = [
    ("ceil_xmpp", "Prosody alone, c2s→c2s", "msg/s", "{:,.0f}"),
    ("ceil_irc", "InspIRCd alone, client→client", "msg/s", "{:,.0f}"),
    ("ceil_xmpp_p50", "Prosody alone, latency p50", "ms", "{:.3f}"),
    ("ceil_xmpp_p99", "Prosody alone, latency p99", "ms", "{:.3f}"),
    ("ceil_irc_p50", "InspIRCd alone, latency p50", "ms", "{:.3f}"),
    ("ceil_irc_p99", "InspIRCd alone, latency p99", "ms", "{:.3f}"),
]


def add_fractions(res):
    """Throughput as % of the ceiling of the same repetition: the lower of
    the Prosody-alone and IRC-alone figures."""
    ceil = res["runs"]["ceiling"]
    for name in ("purplegate", "biboumi"):
        for i, run in enumerate(res["runs"].get(name, [])):
            c = ceil[i]["fig"] if i < len(ceil) else {}
            lim = [v for v in (c.get("ceil_xmpp"), c.get("ceil_irc")) if v]
            for d in ("x2i", "i2x"):
                tp = run["fig"].get(f"tput_{d}")
                if tp and len(lim) == 2:
                    run["fig"][f"frac_{d}"] = 100.0 * tp / min(lim)
                else:
                    run["fig"][f"frac_{d}"] = None
                    run["why"][f"frac_{d}"] = run["why"].get(f"tput_{d}") or "no ceiling"


def stat(runs, key):
    """(median, min, max, reps, reason) over the repetitions."""
    vals = [r["fig"].get(key) for r in runs]
    ok = [v for v in vals if v is not None]
    why = next((r["why"].get(key) for r in runs if r["fig"].get(key) is None
                and r["why"].get(key)), None)
    notes = [r.get("notes", {}).get(key) for r in runs if r.get("notes", {}).get(key)]
    note = None
    if notes:
        note = notes[0] if len(notes) == 1 else f"{len(notes)} runs capped, e.g. {notes[0]}"
    if not ok:
        return None, None, None, 0, why or "not measured", note
    return statistics.median(ok), min(ok), max(ok), len(ok), why, note


def fmt_cell(fmt, s, reps):
    med, lo, hi, n, why, note = s
    if med is None:
        return f"n/a ({why})" if why else "n/a"
    txt = fmt.format(med)
    if n > 1:
        txt += f" ({fmt.format(lo)}–{fmt.format(hi)})"
    if n < reps:
        txt += f" [{n}/{reps} runs; {why}]"
    if note:
        txt += f" [{note}]"
    return txt


def table(res):
    add_fractions(res)
    reps = res["reps"]
    n, nb = res["n"], res["n_big"]
    pg, bb, big = res["runs"]["purplegate"], res["runs"].get("biboumi", []), \
        res["runs"].get("purplegate_big", [])
    lines = ["| figure | unit | purplegate | Biboumi | purplegate / Biboumi |",
             "|---|---|---|---|---|"]
    for key, label, unit, fmt, src, _ in ROWS:
        if src == "big" and not nb:
            continue
        label = label.replace("(N big)", f"(N = {nb:,})").replace("(N)", f"(N = {n})") \
            .replace("N sessions", f"{n} sessions")
        if src == "gw":
            a = stat(pg, key)
            b = stat(bb, key) if bb else (None, None, None, 0, res.get("biboumi_skipped")
                                          or "not run", None)
        else:
            a = stat(big, key)
            b = (None, None, None, 0, "not measured for Biboumi", None)
        ratio = f"{a[0] / b[0]:.2f}" if a[0] is not None and b[0] else "n/a"
        lines.append(f"| {label} | {unit} | {fmt_cell(fmt, a, reps)} | {fmt_cell(fmt, b, reps)} "
                     f"| {ratio} |")
    ceil = res["runs"]["ceiling"]
    lines += ["", "| no-gateway ceiling (same run) | unit | value |", "|---|---|---|"]
    for key, label, unit, fmt in CEIL_ROWS:
        lines.append(f"| {label} | {unit} | {fmt_cell(fmt, stat(ceil, key), reps)} |")
    return "\n".join(lines)


def cpu_context(res, names=("purplegate", "biboumi"), ceiling=True, labels=None):
    """Median CPU% of every process during the throughput phases: shows who
    is the bottleneck, and that the load generator is not.  `labels` names
    the gateways in the table (default: their run names)."""
    labels = labels or {}
    out = ["| phase | gateway | Prosody | InspIRCd | load generator | other processes |",
           "|---|---|---|---|---|---|"]

    def med(runs, ek, proc):
        v = [r["extra"][ek][proc] for r in runs if ek in r["extra"] and proc in r["extra"][ek]]
        return f"{statistics.median(v):.0f} %" if v else "n/a"
    for name in names:
        runs = res["runs"].get(name, [])
        for ek, label in (("cpu_pct_x2i", "XMPP→IRC"), ("cpu_pct_i2x", "IRC→XMPP"),
                          ("storm_cpu_pct", f"login storm N = {res['n']}")):
            out.append(f"| {labels.get(name, name)} {label} | {med(runs, ek, name)} | "
                       f"{med(runs, ek, 'prosody')} | "
                       f"{med(runs, ek, 'inspircd')} | {med(runs, ek, 'loadgen')} | "
                       f"{med(runs, ek, 'other')} |")
    ceil = res["runs"]["ceiling"]
    for ek, label in (("cpu_pct_ceil_xmpp", "Prosody alone c2s→c2s"),
                      ("cpu_pct_ceil_irc", "InspIRCd alone")) if ceiling else ():
        out.append(f"| {label} | – | {med(ceil, ek, 'prosody')} | {med(ceil, ek, 'inspircd')} "
                   f"| {med(ceil, ek, 'loadgen')} | {med(ceil, ek, 'other')} |")
    return "\n".join(out)


TARGETS = [
    # key, how to compare, threshold, text
    ("cpu_x2i_us", "ratio<=", 0.75, "CPU per message XMPP→IRC ≤ 0.75 × Biboumi's"),
    ("cpu_i2x_us", "ratio<=", 0.75, "CPU per message IRC→XMPP ≤ 0.75 × Biboumi's"),
    ("rss_kib", "ratio<=", 1.0, "RSS per user session ≤ Biboumi's"),
    ("lat_x2i_p99", "ratio<=", 1.0, "p99 latency XMPP→IRC ≤ Biboumi's"),
    ("lat_i2x_p99", "ratio<=", 1.0, "p99 latency IRC→XMPP ≤ Biboumi's"),
    ("storm_cpu_ms", "ratio<=", 1.0, "CPU per login ≤ Biboumi's"),
    ("storm_tcp_s_big", "value<=", 2.0, "1,000 users online, every TCP connection open, in ≤ 2 s"),
    ("idle_cpu_pct", "value<=", 1.0, "Idle CPU with the N sessions ≤ 1 % of a core"),
    ("frac_x2i", "value>=", 95.0, "Throughput XMPP→IRC ≥ 95 % of the no-gateway ceiling"),
    ("frac_i2x", "value>=", 95.0, "Throughput IRC→XMPP ≥ 95 % of the no-gateway ceiling"),
]


def targets(res):
    """The benchmark's targets against this run's medians (the table has them)."""
    add_fractions(res)
    pg, bb = res["runs"]["purplegate"], res["runs"].get("biboumi", [])
    big = res["runs"].get("purplegate_big", [])
    out = ["| target | purplegate | Biboumi | met? |", "|---|---|---|---|"]
    for key, how, thr, text in TARGETS:
        a = stat(big if key.endswith("_big") else pg, key)[0]
        b = stat(bb, key)[0] if not key.endswith("_big") else None
        if a is None:
            verdict = "n/a (not measured)"
        elif how == "ratio<=":
            verdict = "n/a (no Biboumi figure)" if not b else \
                ("met" if a / b <= thr else "missed") + f" (ratio {a / b:.2f})"
        elif how == "value<=":
            verdict = "met" if a <= thr else "missed"
        else:
            verdict = "met" if a >= thr else "missed"
        fa = "n/a" if a is None else f"{a:,.3g}"
        fb = "–" if b is None else f"{b:,.3g}"
        out.append(f"| {text} | {fa} | {fb} | {verdict} |")
    return "\n".join(out)


# ---------------------------------------------------------------------------
# worker processes: purplegate's [workers] count settings side by side

WORKER_ROWS = [
    # key (a figure, or EXTRA.SUB of a run's extra figures), label, unit, fmt
    ("tput_x2i", "Throughput XMPP→IRC", "msg/s", "{:,.0f}"),
    ("tput_i2x", "Throughput IRC→XMPP", "msg/s", "{:,.0f}"),
    ("cpu_x2i_us", "CPU per message XMPP→IRC, all processes", "µs", "{:.1f}"),
    ("cpu_split_x2i_us.main", "  of which the main process", "µs", "{:.1f}"),
    ("cpu_split_x2i_us.children", "  of which the worker processes", "µs", "{:.1f}"),
    ("cpu_i2x_us", "CPU per message IRC→XMPP, all processes", "µs", "{:.1f}"),
    ("cpu_split_i2x_us.main", "  of which the main process", "µs", "{:.1f}"),
    ("cpu_split_i2x_us.children", "  of which the worker processes", "µs", "{:.1f}"),
    ("switches_x2i", "Context switches per message XMPP→IRC, all processes", "", "{:.2f}"),
    ("rwcalls_x2i", "read/write-family calls per message XMPP→IRC (send/recv not counted), all processes", "", "{:.2f}"),
    ("switches_i2x", "Context switches per message IRC→XMPP, all processes", "", "{:.2f}"),
    ("rwcalls_i2x", "read/write-family calls per message IRC→XMPP (send/recv not counted), all processes", "", "{:.2f}"),
    ("lat_x2i_p50", "Latency XMPP→IRC p50", "ms", "{:.3f}"),
    ("lat_x2i_p99", "Latency XMPP→IRC p99", "ms", "{:.3f}"),
    ("lat_i2x_p50", "Latency IRC→XMPP p50", "ms", "{:.3f}"),
    ("lat_i2x_p99", "Latency IRC→XMPP p99", "ms", "{:.3f}"),
    ("rss_kib", "RSS per user session (N), all processes", "KiB", "{:.1f}"),
    ("rss_before_kib", "RSS of all processes, idle before the registrations", "KiB", "{:,.0f}"),
    ("pss_before_kib", "  PSS of all processes, idle before the registrations", "KiB", "{:,.0f}"),
    ("storm_cpu_ms", "Login storm (N): CPU per session, all processes", "ms", "{:.2f}"),
    ("storm_cpu_split_ms.children", "  of which the worker processes", "ms", "{:.2f}"),
    ("storm_tcp_s", "Login storm (N): all TCP connections open", "s", "{:.2f}"),
    ("storm_up_s", "Login storm (N): all sessions up", "s", "{:.2f}"),
    ("idle_cpu_pct", "Idle CPU with N sessions, all processes", "% of a core", "{:.2f}"),
    ("processes", "Processes measured (main + workers)", "", "{:.0f}"),
]
WORKER_RATIO_ROWS = ["tput_x2i", "tput_i2x", "cpu_x2i_us", "cpu_i2x_us", "lat_x2i_p99",
                     "lat_i2x_p99", "rss_kib", "storm_cpu_ms", "storm_up_s"]


def with_extras(runs):
    """The runs with their extra figures (dicts flattened as EXTRA.SUB) among
    the figures, so that stat() takes them too."""
    out = []
    for r in runs:
        fig = dict(r["fig"])
        for k, v in r["extra"].items():
            if isinstance(v, dict):
                fig.update({f"{k}.{sub}": x for sub, x in v.items()})
            elif isinstance(v, (int, float)) and k not in fig:
                fig[k] = v
        out.append({**r, "fig": fig})
    return out


def worker_settings(res):
    """[(label, run name, count)] of the --workers settings of a result with
    more than one, else []."""
    w = res.get("workers") or {}
    sets = w.get("settings") or []
    if len(sets) < 2:
        return []
    return [(f"workers = {x['count']}" + (" (default)" if x["default"] else ""), x["run"],
             x["count"]) for x in sets]


def workers_tables(res):
    """The figures of each [workers] count setting and Biboumi's, then their
    ratios, then the targets about the process boundary."""
    sets = worker_settings(res)
    reps, n = res["reps"], res["n"]
    runs = {name: with_extras(res["runs"].get(name, [])) for _, name, _ in sets}
    bb = with_extras(res["runs"].get("biboumi", []))
    cols = [(label, runs[name]) for label, name, _ in sets] + [("Biboumi", bb)]
    out = ["| figure | unit | " + " | ".join(c[0] for c in cols) + " |",
           "|---|---|" + "---|" * len(cols)]
    nobb = (None, None, None, 0, res.get("biboumi_skipped") or "not run", None)
    for key, label, unit, fmt in WORKER_ROWS:
        cells = []
        for title, rr in cols:
            if key.endswith(".children") and title == "Biboumi":
                cells.append("–")
                continue
            cells.append(fmt_cell(fmt, stat(rr, key) if rr else nobb, reps))
        lab = label.replace("(N)", f"(N = {n})").replace("N sessions", f"{n} sessions")
        out.append(f"| {lab} | {unit} | " + " | ".join(cells) + " |")
    conns = []
    for title, rr in cols:
        c = rr[0]["extra"].get("irc_conns") if rr else None
        conns.append(" + ".join(str(x) for x in c) if c else "n/a")
    out.append("| IRC connections held after the storm, main process + each worker (first "
               "repetition) | | " + " | ".join(conns) + " |")

    med = {name: {k: stat(rr, k)[0] for k, *_ in WORKER_ROWS} for name, rr in runs.items()}
    medbb = {k: stat(bb, k)[0] for k, *_ in WORKER_ROWS} if bb else {}
    base = next((name for _, name, c in sets if c == 0), None)
    rcols = [(f"{c} ÷ 0", name, base) for _, name, c in sets if c != 0 and base] + \
        [(f"{c} ÷ Biboumi", name, None) for _, name, c in sets]

    def ratio(a, b):
        return f"{a / b:.2f}" if a is not None and b else "n/a"
    out += ["", "Ratios of the medians (workers = K ÷ workers = 0, and ÷ Biboumi; above 1 is "
            "more: better for throughput, worse for the others):", "",
            "| figure | " + " | ".join(c[0] for c in rcols) + " |",
            "|---|" + "---|" * len(rcols)]
    labels = {k: (lab, unit) for k, lab, unit, _ in WORKER_ROWS}
    for key in WORKER_RATIO_ROWS:
        lab = labels[key][0].replace("(N)", f"(N = {n})")
        cells = [ratio(med[name][key], med[b][key] if b else medbb.get(key))
                 for _, name, b in rcols]
        out.append(f"| {lab} | " + " | ".join(cells) + " |")

    # The targets about the cost of the process boundary.
    out += ["", "| target | figures | met? |", "|---|---|---|"]
    for _, name, c in sets:
        if c == 0 or not base:
            continue
        for d, arrow in (("x2i", "XMPP→IRC"), ("i2x", "IRC→XMPP")):
            a, b = med[name][f"cpu_{d}_us"], med[base][f"cpu_{d}_us"]
            verdict = "n/a (not measured)" if a is None or not b else \
                ("met" if a / b <= 1.15 else "missed") + f" ({(a / b - 1) * 100:+.0f} %)"
            fig = "n/a" if a is None or b is None else f"{a:.1f} vs {b:.1f} µs"
            out.append(f"| CPU per message {arrow}, workers = {c}: within +15 % of workers = 0 "
                       f"| {fig} | {verdict} |")
    one = next((name for _, name, c in sets if c == 1), None)
    two = next((name for _, name, c in sets if c == 2), None)
    if one and two:
        at = "at N = 200" if n == 200 else f"at N = {n} (the target is at N = 200)"
        for d, arrow in (("x2i", "XMPP→IRC"), ("i2x", "IRC→XMPP")):
            a, b = med[two][f"tput_{d}"], med[one][f"tput_{d}"]
            verdict = "n/a (not measured)" if a is None or not b else \
                ("met" if a > b else "missed") + f" (ratio {a / b:.2f})"
            fig = "n/a" if a is None or b is None else f"{a:,.0f} vs {b:,.0f} msg/s"
            out.append(f"| Throughput {arrow} with 2 workers higher than with 1, {at} | {fig} "
                       f"| {verdict} |")
    return "\n".join(out)


def workers_cpu_context(res):
    sets = worker_settings(res)
    names = [name for _, name, _ in sets] + (["biboumi"] if res["runs"].get("biboumi") else [])
    labels = {name: f"purplegate, workers = {c}," for _, name, c in sets}
    return cpu_context(res, names, ceiling=False, labels=labels)


def workers_section(res):
    sets = worker_settings(res)
    w = res["workers"]
    la0, la1 = res.get("loadavg_start") or [], res.get("loadavg_end") or []
    secs = sum(sum(res["durations"].get(name, [])) for _, name, _ in sets)
    out = ["## Worker processes\n"]
    out.append("purplegate runs its libpurple logins in worker processes: `[workers] count = "
               f"auto` (the default) starts one per core, {w['auto']} on this machine; "
               "`count = 0` runs libpurple in the main process. The settings "
               + ", ".join(f"`{c}`" for _, _, c in sets) + " measured side by side with "
               f"Biboumi in the {res['mode']} run above (the default one is the purplegate "
               "column of its table, not measured twice).\n")
    out.append(f"- Command: `{res.get('command', '?')}`; run on {res.get('date', '?')}; "
               f"these settings' phases took {secs:.0f} s of the run.")
    out.append(f"- N = {res['n']} users, M = {res['m']:,} messages per direction, "
               f"{res['rounds']:,} round trips per latency figure, median of {res['reps']} "
               f"repetition{'s' if res['reps'] != 1 else ''} with fresh servers"
               f"{' (range in brackets)' if res['reps'] > 1 else ''}.")
    out.append(f"- Machine load: load average {' '.join(la0)} at the start, {' '.join(la1)} at "
               f"the end of the run, on {w['auto']} cores shared with other work (the \"other "
               "processes\" column of the CPU table below is the rest of the machine during "
               "each phase).\n")
    out.append(workers_tables(res) + "\n")
    out.append("CPU of each process during the phases (median, % of one core; \"gateway\" is "
               "every purplegate process):\n")
    out.append(workers_cpu_context(res) + "\n")
    out.append(WORKERS_METHOD)
    return "\n".join(out)


WORKERS_METHOD = """Method, besides that of the sections above:
- `bench/run --workers LIST` (default `0,1,2` in the full run; `0,auto` in the smoke mode)
  runs `bench.py measure --workers LIST`: each setting is a purplegate started with
  `[workers] count = K` in its configuration (none for the default), with fresh servers,
  in every repetition, the order of all the gateways alternating between repetitions.
- Context switches and read/write calls per message (the kernel's share of a message, which
  instruction counts miss): `voluntary_ctxt_switches` + `nonvoluntary_ctxt_switches` of
  `/proc/PID/status` (each process's main thread) and `syscr` + `syscw` of `/proc/PID/io`
  (the read and write family: `read`, `write`, `pread`, `pwrite`, their vector forms, on
  sockets, the worker links and the store's files; `send`, `recv` and their kin are not
  counted, which is all of Biboumi's socket I/O and GIO's), summed over the gateway's
  processes over the measured part of each throughput phase, ÷ messages.
- CPU of purplegate: utime + stime (`/proc/PID/stat`, all threads) of the main process and
  of every process descended from it (its worker processes, `purplegate --worker`, found by
  their parent pid in `/proc`), read at the start and the end of each measured phase and
  summed. A worker started during a phase counts whole; one that ended during it is missing
  from the figure, which then says so. "Of which the worker processes" is the descendants'
  part. The same sums make the login storm and idle figures.
- RSS per session: the VmRSS of all purplegate processes after the storm and the idle
  phase minus the idle process's before the registrations (component connected, no user
  registered yet: the registrations' check logins grow the heap too), summed, ÷ N.
  A sum of RSS counts the libraries' pages the processes share once per process; the
  fixed cost of the workers is in the "idle before the registrations" rows, as RSS and as PSS
  (`/proc/PID/smaps_rollup`, shared pages divided among their users).
- A login goes to the least loaded worker when it starts, in the order the storm's
  presences arrive (user order), so with 2 workers the users of the message phases' 10
  pairs alternate between them; the row "IRC connections held" counts, from `/proc/PID/fd`
  and `/proc/net/tcp`, the connections to InspIRCd each process holds. The main process
  (XMPP stream, routing, the store) is one process whatever the setting.
"""


def sh(*argv):
    try:
        return subprocess.run(argv, capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        return ""


def pkg_version(pkg):
    return sh("dpkg-query", "-W", "-f=${Version}", pkg) or "not installed"


def machine_info():
    model = ""
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = ""
    try:
        for line in open("/proc/meminfo"):
            if line.startswith("MemTotal"):
                mem = f"{int(line.split()[1]) / 1048576:.1f} GiB"
    except OSError:
        pass
    deb = ""
    try:
        deb = open("/etc/debian_version").read().strip()
    except OSError:
        pass
    commit = sh("git", "-C", str(TOP), "rev-parse", "--short", "HEAD")
    dirty = sh("git", "-C", str(TOP), "status", "--porcelain", "--untracked-files=no")
    if os.environ.get("PURPLEGATE_COMMIT"):  # a binary built elsewhere (bench/run --help)
        commit, dirty = os.environ["PURPLEGATE_COMMIT"], ""
    return {
        "cpu": f"{model}, {os.cpu_count()} CPUs", "memory": mem,
        "os": f"Debian {deb}, Linux {platform.release()}",
        "commit": commit + (" (with uncommitted changes)" if dirty else ""),
        "versions": {p: pkg_version(p) for p in ("prosody", "inspircd", "biboumi", "libpurple0",
                                                 "python3")},
    }


SOAK_BEGIN, SOAK_END = "<!-- soak:begin -->", "<!-- soak:end -->"


def kept_block(path, begin, end):
    """The text between the markers `begin` and `end` of the file at `path`
    (markers included), or ""."""
    try:
        old = path.read_text()
    except OSError:
        return ""
    a, b = old.find(begin), old.find(end)
    if a < 0 or b < a:
        return ""
    return old[a:b + len(end)]


def kept_soak_section(path):
    """bench/soak writes its figures between these markers of RESULTS.md;
    a new benchmark report keeps them (an empty string if there are none)."""
    block = kept_block(path, SOAK_BEGIN, SOAK_END)
    return "\n" + block + "\n" if block else ""


CHAN_BEGIN, CHAN_END = "<!-- channels:begin -->", "<!-- channels:end -->"
# The before/after of each optimisation (instruction counts from
# `bench/run --profile` of both commits, and the benchmark's figures),
# written by hand when a change lands; a new report keeps it.
CHANGES_BEGIN, CHANGES_END = "<!-- changes:begin -->", "<!-- changes:end -->"


def kept_changes_section(path):
    block = kept_block(path, CHANGES_BEGIN, CHANGES_END)
    return "\n" + block + "\n" if block else ""


def replace_block(path, begin, end, block, before):
    """The file's text with the block between the markers replaced by
    `block`; without the markers, `block` goes before the marker `before`,
    or at the end."""
    try:
        old = path.read_text()
    except OSError:
        old = ""
    a, b = old.find(begin), old.find(end)
    if a >= 0 and b > a:
        return old[:a] + block + old[b + len(end):]
    i = old.find(before)
    if i >= 0:
        return old[:i] + block + "\n\n" + old[i:]
    return old.rstrip("\n") + "\n\n" + block + "\n"


CHAN_ROWS = [
    # key, label, unit, fmt
    ("join_s", "Join storm ({n} users × {k} channels): all joins complete", "s", "{:.2f}"),
    ("join_cpu_ms", "Join storm: gateway CPU per join", "ms", "{:.3f}"),
    ("join_presences", "Join storm: presences delivered to the users", "stanzas", "{:,.0f}"),
    ("chan_tput", "Groupchat stanzas delivered per second ({m:,} lines × {n} users)",
     "stanzas/s", "{:,.0f}"),
    ("chan_cpu_us", "Gateway CPU per delivered stanza", "µs", "{:.2f}"),
    ("chan_lat_p50", "Latency per delivered stanza p50 (one line in flight)", "ms", "{:.3f}"),
    ("chan_lat_p99", "Latency per delivered stanza p99 (one line in flight)", "ms", "{:.3f}"),
    ("chan_fan_p50", "Latency until all {n} users have the line, p50", "ms", "{:.3f}"),
    ("chan_fan_p99", "Latency until all {n} users have the line, p99", "ms", "{:.3f}"),
]


def chan_table(res, n=None):
    ch = res["channel"]
    reps = ch["reps"]
    runs = ch["runs"]
    skipped = res.get("biboumi_skipped") or "not run"
    why = {}
    cols = [("purplegate", "purplegate"), ("biboumi", "Biboumi (defaults: archive on)")]
    ratio_titles = ["purplegate / Biboumi"]
    if "biboumi_noarchive" in runs:  # not measured in the smoke mode
        cols.append(("biboumi_noarchive", "Biboumi, archive off"))
        ratio_titles.append("purplegate / Biboumi archive off")
    out = []
    for nn in ([n] if n else ch["ns"]):
        if out:
            out.append("")
        out += ["| figure | unit | " + " | ".join(c[1] for c in cols + [(None, t) for t in
                                                                      ratio_titles]) + " |",
                "|" + "---|" * (2 + len(cols) + len(ratio_titles))]
        for key, label, unit, fmt in CHAN_ROWS:
            k = f"{key}_{nn}"
            st = [stat(runs[c], k) if runs.get(c) else
                  (None, None, None, 0, "not run" if c == "purplegate" else skipped, None)
                  for c, _ in cols]
            ratios = [f"{st[0][0] / b[0]:.2f}" if st[0][0] is not None and b[0] else "n/a"
                      for b in st[1:]]
            lab = label.format(n=nn, k=ch["k"], m=ch["m"][str(nn)])
            cells = []
            for (c, title), x in zip(cols, st):
                if x[0] is None or x[3] < reps:
                    # The reason once under the table, not in every cell.
                    why.setdefault(f"{title}, N = {nn}", []).append(x[4])
                    x = x[:4] + ("see below",) + x[5:]
                cells.append(fmt_cell(fmt, x, reps))
            out.append(f"| {lab} | {unit} | " + " | ".join(cells) + " | " + " | ".join(ratios) +
                       " |")
    if why:
        out.append("")
        for who, reasons in why.items():
            uniq = list(dict.fromkeys(r for r in reasons if r))
            out.append(f"- Not measured, {who}: " + "; ".join(uniq or ["not run"]))
    return "\n".join(out)


def chan_cpu_context(res):
    ch = res["channel"]
    out = ["| phase | gateway | Prosody | InspIRCd | load generator | other processes |",
           "|---|---|---|---|---|---|"]

    def med(runs, ek, proc):
        v = [r["extra"][ek][proc] for r in runs if ek in r["extra"] and proc in r["extra"][ek]]
        return f"{statistics.median(v):.0f} %" if v else "n/a"
    for name, runs in ch["runs"].items():
        for n in ch["ns"]:
            for ek, label in ((f"cpu_pct_join_{n}", f"join storm {n} × {ch['k']}"),
                              (f"cpu_pct_chan_{n}", f"{n} users, windowed lines")):
                out.append(f"| {name} {label} | {med(runs, ek, name)} | "
                           f"{med(runs, ek, 'prosody')} | {med(runs, ek, 'inspircd')} | "
                           f"{med(runs, ek, 'loadgen')} | {med(runs, ek, 'other')} |")
    return "\n".join(out)


def channel_section(res, info):
    ch = res["channel"]
    out = [CHAN_BEGIN, "## Channels: N users of the gateway in one IRC channel\n",
           "Written by `bench/run` (`bench/run --channels` rewrites this section alone) from a "
           "real run; nothing in this section is typed in.\n"]
    out.append(f"- CPU: {info['cpu']}; memory {info['memory']}; {info['os']}")
    out.append(f"- purplegate commit {info['commit']}; " +
               ", ".join(f"{k} {v}" for k, v in info["versions"].items() if k != "python3"))
    secs = sum(sum(v) for k, v in res.get("durations", {}).items() if k.startswith("channel_"))
    out.append(f"- run on {res.get('date') or time.strftime('%Y-%m-%d %H:%M %Z')}, "
               f"{res['mode']} loopback "
               f"({'TCP quick ACKs on the loopback routes' if res['mode'] == 'tuned' else 'kernel defaults'}); "
               f"channel phase {secs:.0f} s; load average at the start / end of the run "
               f"{' '.join(res.get('loadavg_start') or [])} / {' '.join(res.get('loadavg_end') or [])}"
               " (other work on this 2-core machine shows in the \"other processes\" column "
               "below)\n")
    sizes = "; ".join(f"N = {n}: M = {ch['m'][str(n)]:,} lines, {ch['window'][str(n)]} in flight"
                      for n in ch["ns"])
    out.append(f"K = {ch['k']} channels in the join storm; {sizes}; {ch['rounds']:,} lines one at "
               f"a time for the latency figures; {ch['body_len']}-byte bodies; median of "
               f"{ch['reps']} repetition{'s' if ch['reps'] != 1 else ''} with fresh servers"
               f"{' (range in brackets)' if ch['reps'] > 1 else ''}. A ratio below 1 means "
               "purplegate's figure is the smaller one (better for CPU and latency, worse for "
               "stanzas per second).\n")
    if res.get("biboumi_skipped"):
        out.append(f"Biboumi skipped: {res['biboumi_skipped']}.\n")
    for n in ch["ns"]:
        out.append(f"### N = {n} users in the channel\n")
        out.append(chan_table(res, n) + "\n")
    out.append("CPU of each process during the measured parts (median, % of one core):\n")
    out.append(chan_cpu_context(res) + "\n")
    out.append(CHAN_METHOD.format(k=ch["k"], warm=ch["warmup_lines"], stall=CHAN_STALL_S,
                                  ws=CHAN_WINDOW_STANZAS, rounds=ch["rounds"],
                                  cap=ch["cap_s"]))
    out.append(CHAN_END)
    return "\n".join(out)


CHAN_METHOD = """Method (bench/bench.py `measure_channel`, the servers and settings of the Method
section above, in the same private network namespace):
- For each N, fresh Prosody, InspIRCd and gateway. N users log in to Prosody and bring their
  gateway session up as in the login storm (purplegate: registration and a presence to the
  transport; Biboumi: a join of a channel of the user's own, `#cuI`), not measured. A raw IRC
  client `s0` then creates the K channels `#bench0`…, so it is their operator (InspIRCd's
  default modes +nt).
- Join storm: every user sends K plain XEP-0045 joins at once (`<presence
  to='ROOM/uI'><x xmlns='http://jabber.org/protocol/muc'/></presence>`; purplegate's room is
  `#benchK@gw.localhost`, Biboumi's `#benchK%127.0.0.1@biboumi.localhost`). A join is
  complete when the room's subject message reaches the user (the last stanza of a join,
  XEP-0045 §7.2.15, after the occupants and the self-presence with status 110). Time from the
  first send to the last subject; gateway CPU over that time divided by N × K; presences
  delivered to the users until their streams are quiet (each user gets one presence per
  occupant of each room, itself and `s0` included: K × N × (N + 1) in all). A
  presence error fails the storm, and so does {stall:.0f} s without a join completing.
- Messages: `s0` sends M `PRIVMSG #bench0` lines (after {warm} warm-up lines) with
  ⌈{ws:,} / N⌉ lines in flight (a line is delivered once each user has it); every user's
  client counts the groupchat stanzas carrying the line's mark. Delivered stanzas per second
  = N × lines ÷ time from the first send to the last delivery; gateway CPU
  (`/proc/PID/stat` utime + stime) over that time ÷ stanzas delivered. Sending stops after
  {cap:.0f} s ("capped"); a user short of a line {stall:.0f} s after the last progress fails
  the phase.
- Latency: {rounds:,} lines one at a time (or as many as fit in {cap:.0f} s); for each, the
  time from the send to each user's arrival (N figures per line: p50 and p99 of all of them)
  and to the last user's arrival (p50 and p99 over the lines).
- Biboumi is measured twice. With its defaults it records every channel line in its sqlite
  archive, once per user (`record_history`), on the disk of the bench's temporary directory:
  its figures then measure sqlite and the disk as much as Biboumi. "Archive off" is the same
  with each user's global option `record_history` off, seeded in its database (what the
  user's `configure` ad-hoc command stores). purplegate keeps a per-user backlog in memory
  (`[groupchat] history_messages`), so the archive-off column is the like-for-like one.
  The smoke mode (`--quick`) measures the defaults only."""


def main_report(results, info):
    """The report of the direct phases (one-to-one messages, login storms,
    idle, ceilings): every section but the channel and soak ones."""
    main = results[0]
    out = []
    out.append("# purplegate vs Biboumi: measured\n")
    out.append("Written by `bench/run` from a real run; nothing in this file is typed in. "
               "Method and settings at the end.\n")
    out.append("## Machine and versions\n")
    out.append(f"- CPU: {info['cpu']}; memory {info['memory']}; {info['os']}")
    out.append(f"- purplegate commit {info['commit']}; " +
               ", ".join(f"{k} {v}" for k, v in info["versions"].items()))
    out.append(f"- run on {time.strftime('%Y-%m-%d %H:%M %Z')}; "
               + "; ".join(f"{r['mode']} run {r['total_s']:.0f} s" for r in results) + "\n")
    for r in results:
        title = {"tuned": "Tuned loopback (TCP quick ACKs on the loopback routes)",
                 "defaults": "Kernel defaults (delayed ACKs as they come)"}.get(r["mode"], r["mode"])
        out.append(f"## {title}\n")
        out.append(f"N = {r['n']} users, M = {r['m']:,} messages per direction "
                   f"({r['window']} in flight, {r['body_len']}-byte bodies, {r['pairs']} "
                   f"sender/receiver pairs), {r['rounds']:,} round trips per latency figure, "
                   f"median of {r['reps']} repetition{'s' if r['reps'] != 1 else ''} with fresh servers"
                   f"{' (range in brackets)' if r['reps'] > 1 else ''}.\n")
        routes = [ln.strip() for ln in r.get("route", "").splitlines() if ln.startswith("local")]
        if routes:
            out.append("Loopback routes during the run (`ip route show table local`): " +
                       "; ".join(f"`{x}`" for x in routes) + ".\n")
        if r.get("biboumi_skipped"):
            out.append(f"Biboumi skipped: {r['biboumi_skipped']}.\n")
        if r.get("workers"):
            out.append("purplegate in its default configuration: `[workers] count = auto`, "
                       f"{r['workers']['auto']} worker processes on this machine; its CPU and "
                       "RSS figures are those of all its processes"
                       + (" (the other settings are in the section Worker processes)"
                          if worker_settings(r) else "") + ".\n")
        out.append(table(r) + "\n")
        if r["mode"] == "tuned" and not r["quick"]:
            out.append("The benchmark's targets, against the medians above:\n")
            out.append(targets(r) + "\n")
            lat = stat(r["runs"]["purplegate"], "lat_x2i_p50")[0]
            if lat is not None and lat > 500:
                out.append(LIBPURPLE_IRC_QUEUE + "\n")
        la0, la1 = r.get("loadavg_start"), r.get("loadavg_end")
        if la0:
            out.append(f"Load average at the start / end of this run: {' '.join(la0)} / "
                       f"{' '.join(la1 or [])}; the \"other processes\" column below is the "
                       "rest of the machine's CPU during each phase (a shared machine shows "
                       "there).\n")
        out.append("CPU of each process during the phases (median, % of one core):\n")
        out.append(cpu_context(r) + "\n")
    for r in results:
        if worker_settings(r):
            out.append(workers_section(r))
    lgs = [run["extra"][k]["loadgen"] for r in results for runs in r["runs"].values()
           for run in runs for k in run["extra"]
           if k.startswith(("cpu_pct_", "storm_cpu_pct")) and "loadgen" in run["extra"][k]]
    lg = (f"at most {max(lgs):.0f} % of one core in any phase of this run, so it is not what "
          "limits throughput" if lgs and max(lgs) < 95 else
          f"up to {max(lgs):.0f} % of one core: it may have limited some phases" if lgs else
          "not measured")
    out.append(METHOD.format(m=main["m"], n=main["n"], nb=main["n_big"], w=main["window"],
                             p=main["pairs"], rounds=main["rounds"], idle=main["idle_s"],
                             warm=main["warmup"], reps=main["reps"], lg=lg,
                             cap=main.get("cap_s", 30), wcap=main.get("warmup_cap_s", 5)))
    return "\n".join(out)


def cmd_report(args):
    results = [json.loads(Path(p).read_text()) for p in args.json]
    info = machine_info()
    # The commit measured, not the one checked out when the report is made.
    measured = sorted({r["commit"] for r in results if r.get("commit")})
    if measured:
        info["commit"] = " and ".join(measured)
    direct = [r for r in results if "direct" in r.get("phases", ["direct"])]
    chan = next((r for r in results if r.get("channel")), None)
    block = channel_section(chan, info) if chan else None
    if args.out:
        path = Path(args.out)
        if direct:
            text = main_report(direct, info)
            kept = block or kept_block(path, CHAN_BEGIN, CHAN_END)
            path.write_text(text + ("\n" + kept + "\n" if kept else "") +
                            kept_changes_section(path) + kept_soak_section(path))
        elif block:
            # The channel phase alone (bench/run --channels): only its section changes.
            path.write_text(replace_block(path, CHAN_BEGIN, CHAN_END, block, before=SOAK_BEGIN))
    for r in direct:
        print(f"\n==== {r['mode']} ====")
        print(table(r))
        print()
        print(cpu_context(r))
        if worker_settings(r):
            print(f"\n==== {r['mode']}: worker processes ====")
            print(workers_tables(r))
            print()
            print(workers_cpu_context(r))
    print()
    if chan:
        print("==== channels ====")
        print(chan_table(chan))
        print()
        print(chan_cpu_context(chan))
        print()
    # Exit status for the smoke mode: every purplegate figure measured, and
    # every Biboumi figure unless Biboumi was skipped.
    bad = []
    for r in results:
        for name, runs in r["runs"].items():
            for run in runs:
                for k, v in run["fig"].items():
                    if v is None:
                        bad.append(f"{r['mode']} {name} {k}: {run['why'].get(k)}")
        for name, runs in (r.get("channel") or {}).get("runs", {}).items():
            for run in runs:
                for k, v in run["fig"].items():
                    if v is None:
                        bad.append(f"{r['mode']} {name} channel {k}: {run['why'].get(k)}")
    if bad:
        print("figures not reached:\n  " + "\n  ".join(bad))
    return 1 if bad else 0


LIBPURPLE_IRC_QUEUE = """About purplegate's XMPP→IRC figures: libpurple 2.14's prpl-irc does not write
a line when asked to. `irc_send_len()` only appends it to a queue, which a timer drains; the
timer is a `g_timeout_add_seconds(1, …)` that prpl-irc starts at login, called on GLib
directly (not through the eventloop UI ops purplegate provides). With
`ratelimit-interval = 0` each tick sends the whole queue, so every message waits for the
next whole-second tick: about 1 s with one message in flight, and at most the window
(100 messages) per second. Biboumi writes each line at once."""


METHOD = """## Method

- `bench/run` installs Prosody, InspIRCd and Biboumi (Debian packages, no package service
  started), builds purplegate, and runs everything inside a private network namespace
  (`unshare -n`, loopback only) with fixed ports on 127.0.0.1: Prosody c2s 5222 and
  components 5347, InspIRCd 6667. The tuned run sets `quickack 1` on the loopback routes of
  the `local` table (`127.0.0.0/8` and `127.0.0.1`); the kernel-defaults run leaves them as
  the kernel made them.
- Every repetition starts fresh servers: Prosody (`network_settings = {{ nagle = false }}`,
  warnings-only log, `mod_offline` off), InspIRCd with flood control off (no fake lag, command
  rate and penalty threshold 10⁹, clone limits lifted, `netbuffersize` 65534, 4096 backlog,
  ping every hour) and the gateway under test; a fresh ceiling run too. The {reps}
  repetitions alternate the order of the gateways.
- purplegate: `[legacy-settings] ratelimit-interval = 0` and `ratelimit-burst = 1000000`
  (prpl-irc otherwise queues lines and sends one per 2 s after a burst), `[log] level =
  warning`; users register in-band (jabber:iq:register, username = IRC nick, no password)
  before the clock starts and come online with a directed presence to the transport; a
  session is up when the transport's available presence reaches the user.
- Biboumi: `log_level=2` (warnings), sqlite database pre-seeded with each user's options for
  the IRC server `127.0.0.1` — `throttle_limit` -1 and the plain port 6667 only, what the
  user's ad-hoc `configure` command stores; a session comes online by joining a channel of
  its own (`#cuN%127.0.0.1@biboumi.localhost/uN`), which opens the IRC connection; it is up
  when the self-presence (status 110) reaches the user. Contacts are `nick%127.0.0.1@…`.
- Load generator (bench/benchlib.py): one Python process, raw sockets on one epoll loop, every
  stanza and IRC line serialised before the clock starts, arrivals counted on byte chunks.
  XMPP users log in once (SASL PLAIN over plain TCP, bind, initial presence) before anything
  is measured; IRC peers are raw clients on InspIRCd. Its own CPU is in the CPU tables
  ({lg}).
- Throughput: M = {m:,} messages each way with {w} in flight, round robin over {p}
  user/peer pairs, after a warm-up of {warm:,} messages; time from the first send to the last
  arrival. A phase stops sending after {cap:.0f} s (a warm-up after {wcap:.0f} s) and then
  counts what arrived: such figures say "capped". The ceiling is the same phase without a
  gateway (Prosody c2s → c2s, IRC client → client) in the same repetition; "% of ceiling"
  divides by the lower of the two.
- CPU per message: utime + stime of the gateway's processes (`/proc/PID/stat`, all threads;
  purplegate's main process and its worker processes, see Worker processes) over the measured
  throughput phase, divided by the messages that arrived (M unless capped).
- Latency: one message in flight, {rounds:,} round trips each way (or as many as fit in
  {cap:.0f} s), time from the send to the arrival at the other end (same clock); p50 and p99.
- Login storm: N = {n} registered users (and {nb:,} for purplegate alone), already logged in
  to Prosody, send their online stanza at once. CPU per session = gateway CPU from the first
  send until the last session is up, divided by N. "All TCP connections open": until
  `/proc/net/sockstat` shows 2 N more TCP sockets in the namespace (both ends of every
  gateway → InspIRCd connection), checked against `/proc/net/tcp` afterwards; if a socket
  closed meanwhile hides the count, the ESTABLISHED connections in `/proc/net/tcp` are polled
  instead, which can only make the figure later. InspIRCd
  completes registrations on a once-per-second tick, so "all sessions up" is quantised.
- RSS per session: VmRSS of the gateway after the storm and the idle phase minus VmRSS of
  the idle gateway (connected, before the registrations), divided by N; for purplegate
  the sum over its processes (main and workers).
- Idle CPU: 2 s after the storm, gateway CPU over {idle} s with the N sessions open.
- A figure that could not be measured reads "n/a" with the reason; nothing is estimated.
"""


GENERIC = re.compile(r"below main|main\.c:main|pg_daemon_run|libc-start|ld-linux|"
                     r"g_main_loop_run|g_main_context_dispatch|PROGRAM TOTALS|"
                     r"0x[0-9a-f]+ \[/usr/lib/x86_64-linux-gnu/lib(glib|gio|xml2)")


def cmd_cgsummary(args):
    """Per phase: instructions (Ir) and the top functions of each dump that
    `measure --callgrind` left in DIR."""
    d = Path(args.dir)
    files = sorted(d.glob("callgrind.out.*"),
                   key=lambda p: int(p.name.split(".")[-1]) if p.name.count(".") > 2 else 1 << 30)
    for f in files:
        head = f.read_text(errors="replace")[:4000]
        trig = re.search(r"^desc: Trigger: (.*)$", head, re.M)
        text = subprocess.run(["callgrind_annotate", "--inclusive=yes", "--threshold=100", str(f)],
                              capture_output=True, text=True).stdout
        tot = re.search(r"^\s*([\d,]+) \(100\.0%\)\s+PROGRAM TOTALS", text, re.M)
        print(f"\n=== {f.name}: {trig.group(1) if trig else '?'}: "
              f"{tot.group(1) if tot else '?'} Ir")
        rows = [ln for ln in text.splitlines() if re.match(r"^\s*[\d,]+ \(\s*[\d.]+%\)", ln)
                and not GENERIC.search(ln)]
        seen = set()
        shown = 0
        for ln in rows:
            fn = re.sub(r"^\s*[\d,]+ \(\s*[\d.]+%\)\s+", "", ln)
            fn = re.sub(r"^/\S*/_b/\.\./|^\S*?/\.\./", "", fn)
            key = fn.split(" [")[0].split(":")[-1]
            if key in seen:
                continue
            seen.add(key)
            print("  " + ln.strip()[:150])
            shown += 1
            if shown >= args.top:
                break
    return 0


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    m = sub.add_parser("measure")
    m.add_argument("--mode", default="tuned")
    m.add_argument("--json", required=True)
    m.add_argument("--quick", action="store_true")
    m.add_argument("--reps", type=int, default=3)
    m.add_argument("--n", type=int, default=200)
    m.add_argument("--n-big", type=int, default=1000)
    m.add_argument("--m", type=int, default=20000)
    m.add_argument("--rounds", type=int, default=1000)
    m.add_argument("--idle-s", type=float, default=10.0)
    m.add_argument("--warmup", type=int, default=1000)
    m.add_argument("--cap-s", type=float, default=30.0,
                   help="time cap of one throughput or latency phase")
    m.add_argument("--warmup-cap-s", type=float, default=5.0)
    m.add_argument("--purplegate", default=str(TOP / "_build" / "purplegate"))
    m.add_argument("--workers", default="auto",
                   help="comma-separated [workers] count settings of purplegate to measure "
                   "side by side in the direct phases (integers; auto: the default, one worker "
                   "process per core)")
    m.add_argument("--no-biboumi", action="store_true")
    m.add_argument("--no-biboumi-reason", default="not installed")
    m.add_argument("--keep-logs", default=None)
    m.add_argument("--callgrind", default=None, metavar="DIR",
                   help="run purplegate under valgrind --tool=callgrind, one dump per phase "
                   "in DIR (one gateway, no ceiling)")
    m.add_argument("--callgrind-gateway", default="purplegate",
                   choices=("purplegate", "biboumi"))
    m.add_argument("--phases", default=None,
                   help="comma-separated: direct (the one-to-one message phases, login storms, "
                   "idle, ceilings) and/or channel; default both")
    m.add_argument("--chan-n", default="50,200",
                   help="channel phase: users in the channel, comma-separated")
    m.add_argument("--chan-k", type=int, default=3, help="channels of the join storm")
    m.add_argument("--chan-m", type=int, default=0,
                   help="lines the IRC client sends into the channel (default: --chan-stanzas / N)")
    m.add_argument("--chan-stanzas", type=int, default=100000,
                   help="groupchat stanzas to deliver in the windowed channel phase")
    m.add_argument("--chan-rounds", type=int, default=200,
                   help="lines sent one at a time for the channel latency figures")
    c = sub.add_parser("cgsummary", help="summarise the dumps of measure --callgrind")
    c.add_argument("dir")
    c.add_argument("--top", type=int, default=25)
    r = sub.add_parser("report")
    r.add_argument("--json", action="append", required=True)
    r.add_argument("--out", default=None)
    args = ap.parse_args()
    if args.cmd == "measure":
        if args.quick:
            args.n, args.m, args.n_big, args.reps = 10, 500, 0, 1
            args.rounds, args.idle_s, args.warmup = 100, 2.0, 100
            args.cap_s, args.warmup_cap_s = 5.0, 2.0
            args.chan_n, args.chan_k, args.chan_m, args.chan_rounds = "5", 2, 100, 20
        if args.phases is None:
            # Under callgrind, the channel phase only when asked for.
            args.phases = "direct" if args.callgrind else "direct,channel"
        args.phases = set(p.strip() for p in args.phases.split(",") if p.strip())
        if not args.phases or args.phases - {"direct", "channel"}:
            ap.error("--phases: direct and/or channel")
        args.chan_n = [int(x) for x in str(args.chan_n).split(",") if x.strip()]
        try:
            args.workers = [w if w == "auto" else int(w) for w in
                            (x.strip() for x in args.workers.split(",")) if w]
        except ValueError:
            ap.error("--workers: comma-separated integers or auto")
        if not args.workers or any(w != "auto" and w < 0 for w in args.workers):
            ap.error("--workers: comma-separated integers (0 or more) or auto")
        import resource
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))

        # SIGTERM and SIGHUP end the run like Ctrl-C does: through the
        # finally below, which stops every server and gateway by PID.
        def on_signal(signum, frame):
            raise KeyboardInterrupt(f"signal {signum}")
        signal.signal(signal.SIGTERM, on_signal)
        signal.signal(signal.SIGHUP, on_signal)
        try:
            cmd_measure(args)
        finally:
            bl.stop_all_children()
        return 0
    if args.cmd == "cgsummary":
        return cmd_cgsummary(args)
    return cmd_report(args)


if __name__ == "__main__":
    sys.exit(main())
