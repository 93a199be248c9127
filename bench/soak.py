#!/usr/bin/env python3
"""Soak test of purplegate.  Run it through bench/soak, which
installs the servers, builds purplegate and enters a private network
namespace; this program assumes it is inside one (fixed ports on 127.0.0.1,
the same servers and settings as bench/bench.py, from bench/benchlib.py).

  soak.py --purplegate BIN [--duration S] [--quick] [--out SOAK.md] [--results RESULTS.md]

1,000 users register in-band, 300 of them come online (a c2s connection each,
a legacy IRC login each through prpl-irc to the local InspIRCd), and for
--duration seconds 50 messages/s go XMPP->IRC and 50 messages/s IRC->XMPP,
paced evenly, over fixed user/peer pairs.  Every body carries a unique
sequence number; the receivers record what arrives, and after a drain the
run reports sent / received / lost / duplicated per direction and lists
every lost message.  purplegate is sampled every 10 s: VmRSS, open fds,
utime+stime.  The growth of RSS is taken after a warm-up (60 s by default),
when every conversation exists and every buffer has reached its working
size, so what is left is what a leak would add.

Exit status 0 when nothing was lost or duplicated, purplegate is still
running and RSS grew less than 5 % after the warm-up; 1 otherwise.
"""

import argparse
import json
import os
import re
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, str(Path(__file__).resolve().parent))
import benchlib as bl  # noqa: E402
from benchlib import BenchError  # noqa: E402
import bench as bb  # noqa: E402  (registration, component wait, machine facts)

TOP = Path(__file__).resolve().parent.parent
BODY_LEN = 64
MARK_BEGIN = "<!-- soak:begin -->"
MARK_END = "<!-- soak:end -->"
GROWTH_LIMIT_PCT = 5.0
# "PGS", the direction (x: XMPP->IRC, i: IRC->XMPP), eight digits.
SEQ_RE = re.compile(rb"PGS([xi])(\d{8})")
IRC_ERR_RE = re.compile(rb":\S+ (401|404|411|412|481) ")


def log(msg):
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def body(direction, seq):
    s = b"PGS%s%08d " % (direction, seq)
    return s + b"x" * (BODY_LEN - len(s))


# ---------------------------------------------------------------------------
# what the receivers record


class Direction:
    """Sent, arrived, bounced messages of one direction, by sequence number."""

    def __init__(self, name):
        self.name = name
        self.sent_t = {}        # seq -> send time (perf_counter)
        self.dest = {}          # seq -> name of the expected receiver
        self.arrived = {}       # seq -> times seen
        self.lat = []           # seconds, first arrival of each seq
        self.bounced = {}       # seq -> sample of the error
        self.misrouted = 0      # arrived at another receiver than addressed
        self.unknown = 0        # a sequence number never sent
        self.errors = 0         # error replies without a sequence number (IRC 401...)
        self.error_sample = None
        self.last_t = 0.0

    def arrive(self, seq, receiver, now):
        t = self.sent_t.get(seq)
        if t is None:
            self.unknown += 1
            return
        n = self.arrived.get(seq, 0)
        self.arrived[seq] = n + 1
        if n == 0:
            self.lat.append(now - t)
            self.last_t = now
        if self.dest.get(seq) != receiver:
            self.misrouted += 1

    def bounce(self, seq, sample):
        self.bounced.setdefault(seq, sample[-400:].decode(errors="replace"))

    def error(self, sample):
        self.errors += 1
        if self.error_sample is None:
            self.error_sample = sample[-400:].decode(errors="replace")

    def outstanding(self):
        return len(self.sent_t) - len(self.arrived) - len(
            [s for s in self.bounced if s not in self.arrived])

    def summary(self):
        sent = len(self.sent_t)
        lost = sorted(s for s in self.sent_t if s not in self.arrived)
        dup = sum(n - 1 for n in self.arrived.values() if n > 1)
        lat = sorted(self.lat)
        return {
            "sent": sent, "received": len(self.arrived), "lost": len(lost), "lost_seqs": lost,
            "lost_detail": [{"seq": s, "to": self.dest[s],
                             "bounce": self.bounced.get(s)} for s in lost],
            "duplicated": dup, "bounced": len(self.bounced), "misrouted": self.misrouted,
            "unknown": self.unknown, "errors": self.errors, "error_sample": self.error_sample,
            "lat_p50_ms": bb.percentile(lat, 50) * 1000 if lat else None,
            "lat_p99_ms": bb.percentile(lat, 99) * 1000 if lat else None,
            "lat_max_ms": lat[-1] * 1000 if lat else None,
        }


def h_user(x2i, i2x):
    """An online user's c2s stream: IRC->XMPP arrivals, and bounces of the
    user's own XMPP->IRC messages."""
    def h(conn, now):
        chunk = bl.take_complete(conn)
        if chunk is None:
            return
        if b"PGS" not in chunk:
            return
        for part in chunk.split(b"</message>"):
            i = part.rfind(b"<message")
            if i < 0:
                continue
            m = part[i:]
            err = bl._is_error(m)
            for mm in SEQ_RE.finditer(m):
                d, seq = mm.group(1), int(mm.group(2))
                if err:
                    (x2i if d == b"x" else i2x).bounce(seq, m)
                elif d == b"i":
                    i2x.arrive(seq, conn.user, now)
                else:
                    x2i.unknown += 1  # an XMPP->IRC body echoed back to a user
    return h


def h_peer(x2i, i2x):
    """An IRC peer: XMPP->IRC arrivals, error numerics about its own
    IRC->XMPP lines, PINGs answered."""
    def h(conn, now):
        chunk = bl.take_lines(conn)
        if chunk is None:
            return
        for line in chunk.split(b"\n"):
            if line.startswith(b"PING"):
                conn.send(b"PONG" + line[4:].rstrip(b"\r") + b"\r\n")
            elif b"PGS" in line and b" PRIVMSG " in line:
                for mm in SEQ_RE.finditer(line):
                    if mm.group(1) == b"x":
                        x2i.arrive(int(mm.group(2)), conn.nick, now)
                    else:
                        i2x.unknown += 1
            elif IRC_ERR_RE.match(line):
                i2x.error(line)
    return h


# ---------------------------------------------------------------------------
# samples of the purplegate process


def proc_status(pid):
    out = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            k, _, v = line.partition(":")
            if k in ("VmRSS", "VmHWM", "RssAnon", "Threads"):
                out[k] = int(v.split()[0])
    return out


def db_size(workdir):
    return sum(p.stat().st_size for p in Path(workdir).glob("purplegate.db*"))


class Sampler:
    def __init__(self, pg_pid, others, pg_workdir):
        self.pid = pg_pid
        self.others = dict(others)  # name -> pid (CPU only)
        self.workdir = pg_workdir
        self.rows = []

    def sample(self, t_load, x2i, i2x, label=""):
        st = proc_status(self.pid)
        row = {
            "t": round(t_load, 1), "label": label,
            "rss_kib": st["VmRSS"], "rss_anon_kib": st.get("RssAnon"), "hwm_kib": st["VmHWM"],
            "threads": st.get("Threads"), "fds": len(os.listdir(f"/proc/{self.pid}/fd")),
            "cpu_s": bl.proc_cpu(self.pid), "db_bytes": db_size(self.workdir),
            "loadgen_cpu_s": bl.self_cpu(), "machine_busy_s": bl.machine_busy(),
            "wall": time.perf_counter(),
            "sent_x2i": len(x2i.sent_t), "recv_x2i": len(x2i.arrived),
            "sent_i2x": len(i2x.sent_t), "recv_i2x": len(i2x.arrived),
        }
        for name, pid in self.others.items():
            row[f"{name}_cpu_s"] = bl.proc_cpu(pid)
        self.rows.append(row)
        return row


def fmt_row(r, prev):
    if prev is not None and r["wall"] > prev["wall"]:
        cpu = 100.0 * (r["cpu_s"] - prev["cpu_s"]) / (r["wall"] - prev["wall"])
        cpu_s = f"{cpu:5.1f}%"
    else:
        cpu_s = "    – "
    return (f"t={r['t']:6.1f}s RSS {r['rss_kib']:7d} KiB  fds {r['fds']:4d}  CPU {cpu_s}  "
            f"x2i {r['recv_x2i']}/{r['sent_x2i']}  i2x {r['recv_i2x']}/{r['sent_i2x']}  "
            f"db {r['db_bytes'] / 1024:.0f} KiB {r['label']}")


# ---------------------------------------------------------------------------
# the run


def callgrind_setup(args):
    """(wrapper argv, dump(pid, name)): with --callgrind, purplegate runs
    under callgrind and its counters are dumped when the load starts and
    when it ends, so the load has a profile of its own."""
    if not args.callgrind:
        return (), lambda pid, name: None
    out = Path(args.callgrind).resolve()
    out.mkdir(parents=True, exist_ok=True)
    for old in out.glob("callgrind.out.*"):
        old.unlink()

    def dump(pid, name):
        subprocess.run(["callgrind_control", f"--dump={name}", str(pid)],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=120)
    return ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}/callgrind.out.%p"], dump


def run(args, tmp):
    users = [f"u{i}" for i in range(args.users)]
    loop = bl.Loop()
    res = {"params": {k: getattr(args, k) for k in
                      ("users", "online", "peers", "rate", "duration", "warmup", "sample",
                       "drain", "quick")},
           "loadavg_start": open("/proc/loadavg").read().split()[:3]}
    prosody = bl.Prosody(tmp / "prosody", users).start()
    irc = bl.InspIRCd(tmp / "irc").start()
    wrapper, dump = callgrind_setup(args)
    slow = 10 if args.callgrind else 1
    gw = bb.Purplegate(args.purplegate, wrapper)
    t = time.perf_counter()
    clients = bl.connect_many(loop, bl.Xmpp, users, what="c2s logins")
    log(f"{len(clients)} c2s logins in {time.perf_counter() - t:.1f}s")
    proc = gw.start(tmp / "purplegate", [])
    res["pg_pid"] = proc.pid
    bb.wait_component(loop, clients[0], gw.jid, proc, timeout=30 * slow)
    t = time.perf_counter()
    gw.prepare(loop, clients)
    log(f"{len(clients)} users registered in-band in {time.perf_counter() - t:.1f}s")
    res["registration_s"] = round(time.perf_counter() - t, 1)
    # The users who stay offline leave: registered, no c2s session.
    online, offline = clients[:args.online], clients[args.online:]
    bl.close_all(offline)
    loop.run_for(0.5)
    bl.wait_quiet(proc.pid)
    res["rss_registered_kib"] = bl.proc_rss_kib(proc.pid)

    peers = bl.connect_many(loop, bl.Irc, [f"p{i}" for i in range(args.peers)],
                            what="IRC peers")
    log(f"{len(peers)} IRC peers connected")

    # Online: a directed presence to the transport from each online user;
    # up when the transport's available presence comes back.
    up = [0]

    def h_online(conn, now, inner=bl.h_until(gw.online_re)):
        was = conn.flag
        inner(conn, now)
        if conn.flag and not was:
            up[0] += 1
    for c in online:
        c.flag = False
        c.handler = h_online
    t = time.perf_counter()
    for c in online:
        c.send(gw.online_stanza(c))
    loop.run_until(lambda: up[0] >= len(online), 120 * slow, f"{len(online)} sessions online")
    res["login_s"] = round(time.perf_counter() - t, 2)
    log(f"{len(online)} legacy IRC logins up in {res['login_s']:.2f}s")
    # Every connection to InspIRCd but the peers' is one of purplegate's.
    res["irc_connections"] = bl.tcp_established_to(bl.IRC_PORT) - len(peers)
    loop.run_for(2.0)
    bl.wait_quiet(proc.pid)
    res["rss_online_kib"] = bl.proc_rss_kib(proc.pid)

    # Every stanza and IRC line of the run, serialised before the clock
    # starts.  Message k of either direction is between user k mod U and
    # one of its two fixed peers, so every conversation exists after the
    # first 2 U / rate seconds and the set does not grow afterwards.
    x2i, i2x = Direction("XMPP->IRC"), Direction("IRC->XMPP")
    n_msgs = int(round(args.rate * args.duration))
    nu, npeer = len(online), len(peers)
    half = max(1, npeer // 2)

    def pair(k):
        u = k % nu
        return online[u], peers[(u + ((k // nu) % 2) * half) % npeer]
    plan_x, plan_i = [], []
    for k in range(n_msgs):
        u, p = pair(k)
        to = gw.contact(p.nick)
        plan_x.append((u, p.nick, b"<message type='chat' id='s%d' to='%s'><body>%s</body>"
                       b"</message>" % (k, to, body(b"x", k))))
        plan_i.append((p, u.user, b"PRIVMSG %s :%s\r\n" % (u.user.encode(), body(b"i", k))))
    for c in online:
        c.handler = h_user(x2i, i2x)
    for p in peers:
        p.handler = h_peer(x2i, i2x)

    pids = {"prosody": prosody.pid, "inspircd": irc.pid}
    sampler = Sampler(proc.pid, pids, tmp / "purplegate")
    interval = 1.0 / args.rate
    dump(proc.pid, "setup")
    t0 = time.perf_counter()
    row = sampler.sample(0.0, x2i, i2x, "start of load")
    log(fmt_row(row, None))
    kx = ki = 0
    next_sample = args.sample
    end = t0 + args.duration
    max_late = 0.0
    while True:
        now = time.perf_counter()
        # Sends whatever is due (catching up if the loop was late).
        while kx < n_msgs and t0 + kx * interval <= now:
            conn, dest, data = plan_x[kx]
            x2i.sent_t[kx] = time.perf_counter()
            x2i.dest[kx] = dest
            conn.send(data)
            max_late = max(max_late, now - (t0 + kx * interval))
            kx += 1
        while ki < n_msgs and t0 + (ki + 0.5) * interval <= now:
            conn, dest, data = plan_i[ki]
            i2x.sent_t[ki] = time.perf_counter()
            i2x.dest[ki] = dest
            conn.send(data)
            max_late = max(max_late, now - (t0 + (ki + 0.5) * interval))
            ki += 1
        if now - t0 >= next_sample:
            if proc.proc.poll() is not None:
                raise BenchError(f"purplegate exited with status {proc.proc.returncode} "
                                 f"{now - t0:.0f}s into the load")
            row = sampler.sample(next_sample, x2i, i2x)
            log(fmt_row(row, sampler.rows[-2]))
            next_sample += args.sample
        if kx >= n_msgs and ki >= n_msgs and now >= end:
            break
        due = min(t0 + kx * interval if kx < n_msgs else end,
                  t0 + (ki + 0.5) * interval if ki < n_msgs else end,
                  t0 + next_sample)
        loop.poll(max(0.0, min(due - time.perf_counter(), 0.05)))
    t_load = time.perf_counter() - t0
    if sampler.rows[-1]["t"] < args.duration - 0.5:
        sampler.sample(t_load, x2i, i2x)
    sampler.rows[-1]["label"] = "end of load"
    log(fmt_row(sampler.rows[-1], sampler.rows[-2]))
    res["max_send_late_ms"] = round(max_late * 1000, 1)
    dump(proc.pid, "load")

    # Drain: until every message has arrived (or bounced), at most --drain s.
    t = time.perf_counter()
    try:
        loop.run_until(lambda: x2i.outstanding() <= 0 and i2x.outstanding() <= 0, args.drain,
                       "the last messages")
    except BenchError:
        pass
    loop.run_for(1.0)  # late duplicates
    res["drain_s"] = round(time.perf_counter() - t, 1)
    if proc.proc.poll() is not None:
        raise BenchError(f"purplegate exited with status {proc.proc.returncode} after the load")
    row = sampler.sample(time.perf_counter() - t0, x2i, i2x, "after drain")
    log(fmt_row(row, None))
    res["samples"] = sampler.rows
    res["x2i"] = x2i.summary()
    res["i2x"] = i2x.summary()
    res["load_s"] = round(t_load, 1)
    res["irc_connections_end"] = bl.tcp_established_to(bl.IRC_PORT) - len(peers)
    res["loadavg_end"] = open("/proc/loadavg").read().split()[:3]
    for c in online + peers:
        c.state = "closing"
    return res


# ---------------------------------------------------------------------------
# figures and report


def figures(res, args):
    rows = [r for r in res["samples"] if r["label"] != "after drain"]
    start, endr = rows[0], rows[-1]
    warm = min(rows, key=lambda r: abs(r["t"] - args.warmup))
    after = [r for r in rows if r["t"] >= warm["t"]]
    slope = None
    if len(after) >= 3:
        xs = [r["t"] / 60.0 for r in after]
        ys = [r["rss_kib"] for r in after]
        mx, my = statistics.fmean(xs), statistics.fmean(ys)
        den = sum((x - mx) ** 2 for x in xs)
        slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / den if den else None
    wall = endr["wall"] - start["wall"]
    f = {
        "rss_start_kib": start["rss_kib"], "rss_warm_kib": warm["rss_kib"], "warm_t": warm["t"],
        "rss_end_kib": endr["rss_kib"],
        "growth_pct": 100.0 * (endr["rss_kib"] - warm["rss_kib"]) / warm["rss_kib"],
        "growth_total_pct": 100.0 * (endr["rss_kib"] - start["rss_kib"]) / start["rss_kib"],
        "rss_slope_kib_min": slope,
        "rss_max_kib": max(r["rss_kib"] for r in rows), "hwm_end_kib": endr["hwm_kib"],
        "fds_start": start["fds"], "fds_end": endr["fds"],
        "fds_max": max(r["fds"] for r in rows),
        "threads_start": start["threads"], "threads_end": endr["threads"],
        "cpu_pct": 100.0 * (endr["cpu_s"] - start["cpu_s"]) / wall,
        "cpu_pct_after_warm": (100.0 * (endr["cpu_s"] - warm["cpu_s"]) /
                               (endr["wall"] - warm["wall"]) if endr["wall"] > warm["wall"]
                               else None),
        "cpu_us_per_msg": ((endr["cpu_s"] - start["cpu_s"]) * 1e6 /
                           max(1, endr["recv_x2i"] + endr["recv_i2x"])),
        "loadgen_cpu_pct": 100.0 * (endr["loadgen_cpu_s"] - start["loadgen_cpu_s"]) / wall,
        "prosody_cpu_pct": 100.0 * (endr["prosody_cpu_s"] - start["prosody_cpu_s"]) / wall,
        "inspircd_cpu_pct": 100.0 * (endr["inspircd_cpu_s"] - start["inspircd_cpu_s"]) / wall,
        "machine_busy_pct": 100.0 * (endr["machine_busy_s"] - start["machine_busy_s"]) / wall,
        "db_start_kib": start["db_bytes"] / 1024, "db_end_kib": endr["db_bytes"] / 1024,
        "rate_x2i": endr["sent_x2i"] / wall, "rate_i2x": endr["sent_i2x"] / wall,
        "recv_rate_x2i": endr["recv_x2i"] / wall, "recv_rate_i2x": endr["recv_i2x"] / wall,
        "wall": wall,
    }
    f["ok_lost"] = res["x2i"]["lost"] == 0 and res["i2x"]["lost"] == 0
    f["ok_dup"] = res["x2i"]["duplicated"] == 0 and res["i2x"]["duplicated"] == 0
    f["ok_growth"] = f["growth_pct"] < GROWTH_LIMIT_PCT
    f["ok_fds"] = f["fds_end"] <= f["fds_start"]
    return f


def n(v, fmt="{:,.1f}"):
    return "n/a" if v is None else fmt.format(v)


def table_rows(res, f, args):
    x, i = res["x2i"], res["i2x"]
    p = res["params"]
    return [
        ("Duration of the load", f"{f['wall']:.1f} s (drain {res['drain_s']:.1f} s after)"),
        ("Registered / online users, IRC peers",
         f"{p['users']:,} / {p['online']:,} ({res['irc_connections']} IRC connections of the "
         f"gateway at the start, {res['irc_connections_end']} at the end), {p['peers']}"),
        ("Messages/s sent XMPP→IRC / IRC→XMPP (target)",
         f"{f['rate_x2i']:.2f} / {f['rate_i2x']:.2f} ({p['rate']:g} each)"),
        ("XMPP→IRC sent / received / lost / duplicated",
         f"{x['sent']:,} / {x['received']:,} / **{x['lost']:,}** / {x['duplicated']:,}"),
        ("IRC→XMPP sent / received / lost / duplicated",
         f"{i['sent']:,} / {i['received']:,} / **{i['lost']:,}** / {i['duplicated']:,}"),
        ("Bounced / misrouted / IRC error numerics",
         f"{x['bounced'] + i['bounced']} / {x['misrouted'] + i['misrouted']} / {i['errors']}"),
        ("Latency XMPP→IRC p50 / p99 / max",
         f"{n(x['lat_p50_ms'])} / {n(x['lat_p99_ms'])} / {n(x['lat_max_ms'])} ms"),
        ("Latency IRC→XMPP p50 / p99 / max",
         f"{n(i['lat_p50_ms'], '{:,.2f}')} / {n(i['lat_p99_ms'], '{:,.2f}')} / "
         f"{n(i['lat_max_ms'], '{:,.2f}')} ms"),
        (f"RSS registered (no session) / {p['online']} online, idle",
         f"{res['rss_registered_kib']:,} / {res['rss_online_kib']:,} KiB"),
        ("RSS start of load / after warm-up / end",
         f"{f['rss_start_kib']:,} / {f['rss_warm_kib']:,} (t = {f['warm_t']:.0f} s) / "
         f"{f['rss_end_kib']:,} KiB"),
        ("RSS growth after warm-up (target < 5 %)",
         f"**{f['growth_pct']:+.2f} %** ({f['rss_end_kib'] - f['rss_warm_kib']:+,} KiB); "
         f"from the start of load {f['growth_total_pct']:+.2f} %"),
        ("RSS trend after warm-up (least squares)", n(f["rss_slope_kib_min"], "{:+,.1f} KiB/min")),
        ("RSS max of the samples / VmHWM at end",
         f"{f['rss_max_kib']:,} / {f['hwm_end_kib']:,} KiB"),
        ("Open fds start / end (max)", f"{f['fds_start']} / {f['fds_end']} ({f['fds_max']})"),
        ("Threads start / end", f"{f['threads_start']} / {f['threads_end']}"),
        ("purplegate CPU, average over the load",
         f"{f['cpu_pct']:.2f} % of a core ({f['cpu_us_per_msg']:.0f} µs per message "
         f"arrived); after warm-up {n(f['cpu_pct_after_warm'], '{:.2f}')} %"),
        ("Load generator / Prosody / InspIRCd CPU",
         f"{f['loadgen_cpu_pct']:.2f} / {f['prosody_cpu_pct']:.2f} / "
         f"{f['inspircd_cpu_pct']:.2f} % of a core"),
        ("Whole machine busy during the load", f"{f['machine_busy_pct']:.0f} % of one core "
         f"(2 CPUs = 200 %); load average {' '.join(res['loadavg_start'])} → "
         f"{' '.join(res['loadavg_end'])}"),
        ("sqlite store (db + wal) start / end",
         f"{f['db_start_kib']:,.0f} / {f['db_end_kib']:,.0f} KiB"),
        ("Latest send behind its schedule", f"{res['max_send_late_ms']:.1f} ms"),
    ]


def lost_lines(res):
    out = []
    for key, label in (("x2i", "XMPP→IRC"), ("i2x", "IRC→XMPP")):
        d = res[key]
        for item in d["lost_detail"]:
            extra = f", bounced: `{item['bounce'][:200]}`" if item["bounce"] else ""
            out.append(f"- {label} seq {item['seq']} to {item['to']}{extra}")
        if d["error_sample"]:
            out.append(f"- {label}: {d['errors']} IRC error numerics, e.g. "
                       f"`{d['error_sample'][:200]}`")
        if d["unknown"]:
            out.append(f"- {label}: {d['unknown']} arrivals with an unknown sequence number")
    return out


METHOD = """Method: `bench/soak` (bench/soak.py, on the servers and load generators of
bench/benchlib.py) runs in a private network namespace: a fresh Prosody (c2s 5222,
component 5347), InspIRCd with flood control off and connection limits lifted, and
purplegate with the bench's settings (`ratelimit-interval = 0`, log level warning).
{users:,} Prosody accounts log in over c2s and register with the transport in-band
(jabber:iq:register, username = IRC nick); {off:,} of them then disconnect, the other
{online} send a directed presence to the transport and are online once the transport's
available presence arrives (each one an IRC connection of purplegate's to InspIRCd). {peers}
raw IRC clients are the legacy contacts. For {dur:g} s, message k of each direction
(XMPP→IRC at k / {rate:g} s, IRC→XMPP half a period later, so {rate:g} messages/s each way,
paced evenly) goes between online user k mod {online} and one of its two fixed peers, so
every conversation exists after {conv:.0f} s. Every body is {blen} bytes and carries the
direction and a sequence number; every stanza and IRC line is serialised before the clock
starts. Receivers count each sequence number's arrivals (duplicates), check the
addressee, and record error bounces. After the load, a drain of at most {drain:g} s waits for
what is in flight; a message lost is one that never arrived. purplegate is sampled every
{sample:g} s: VmRSS (`/proc/PID/status`), open fds (`/proc/PID/fd`), utime + stime
(`/proc/PID/stat`); "after warm-up" is the sample at {warm:g} s; the growth is
(end − warm-up) / warm-up. CPU % is CPU seconds over wall seconds of the load."""


def markdown(res, f, args, info):
    p = res["params"]
    out = [MARK_BEGIN, "## Soak: 1,000 registered, 300 online, 50 msg/s each way\n"]
    out.append("Written by `bench/soak` from a real run; nothing in this section is typed in.\n")
    out.append(f"- CPU: {info['cpu']}; memory {info['memory']}; {info['os']}")
    out.append(f"- purplegate commit {info['commit']}; prosody {info['versions']['prosody']}, "
               f"inspircd {info['versions']['inspircd']}, libpurple0 "
               f"{info['versions']['libpurple0']}")
    out.append(f"- run on {res['started']}; {p['duration']:g} s of load"
               f"{' (--quick)' if p['quick'] else ''}\n")
    verdict = []
    verdict.append("no message lost" if f["ok_lost"] else "MESSAGES LOST")
    verdict.append("none duplicated" if f["ok_dup"] else "DUPLICATES")
    verdict.append(f"RSS growth after warm-up {f['growth_pct']:+.2f} % "
                   f"({'below' if f['ok_growth'] else 'NOT below'} 5 %)")
    verdict.append(f"fds {f['fds_start']} → {f['fds_end']}")
    out.append("Result: " + "; ".join(verdict) + ".\n")
    out.append("| figure | value |\n|---|---|")
    for k, v in table_rows(res, f, args):
        out.append(f"| {k} | {v} |")
    out.append("")
    lost = lost_lines(res)
    out.append("Lost messages: " + ("none." if not lost else "\n\n" + "\n".join(lost)) + "\n")
    out.append(f"Samples of purplegate (every {p['sample']:g} s; CPU % over the interval "
               "before):\n")
    out.append("| t (s) | RSS (KiB) | RssAnon (KiB) | fds | CPU % | XMPP→IRC recv/sent | "
               "IRC→XMPP recv/sent | store (KiB) |\n|---|---|---|---|---|---|---|---|")
    prev = None
    for r in res["samples"]:
        cpu = ("–" if prev is None or r["label"] == "after drain" else
               f"{100.0 * (r['cpu_s'] - prev['cpu_s']) / (r['wall'] - prev['wall']):.1f}")
        t = f"{r['t']:.0f}" + (f" ({r['label']})" if r["label"] else "")
        out.append(f"| {t} | {r['rss_kib']:,} | {r['rss_anon_kib'] or 0:,} | {r['fds']} | {cpu} | "
                   f"{r['recv_x2i']:,}/{r['sent_x2i']:,} | {r['recv_i2x']:,}/{r['sent_i2x']:,} | "
                   f"{r['db_bytes'] / 1024:,.0f} |")
        prev = r
    out.append("")
    out.append(METHOD.format(users=p["users"], off=p["users"] - p["online"], online=p["online"],
                             peers=p["peers"], dur=p["duration"], rate=p["rate"],
                             conv=2 * p["online"] / p["rate"], blen=BODY_LEN, drain=p["drain"],
                             sample=p["sample"], warm=p["warmup"]))
    out.append(MARK_END)
    return "\n".join(out) + "\n"


def splice(path, section):
    """Puts `section` between the soak markers of `path` (appended when the
    markers are absent)."""
    path = Path(path)
    text = path.read_text() if path.exists() else ""
    a, b = text.find(MARK_BEGIN), text.find(MARK_END)
    if a >= 0 and b > a:
        text = text[:a] + section.rstrip("\n") + text[b + len(MARK_END):]
    else:
        text = text.rstrip("\n") + ("\n\n" if text else "") + section
    path.write_text(text if text.endswith("\n") else text + "\n")


def print_table(res, f, args):
    print()
    for k, v in table_rows(res, f, args):
        print(f"  {k:<48} {v.replace('**', '')}")
    lost = lost_lines(res)
    print("\n  lost messages: " + ("none" if not lost else ""))
    for ln in lost[:200]:
        print("  " + ln)
    if len(lost) > 200:
        print(f"  ... {len(lost) - 200} more (see the report)")
    print()


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--purplegate", default=str(TOP / "_build" / "purplegate"))
    ap.add_argument("--users", type=int, default=1000)
    ap.add_argument("--online", type=int, default=300)
    ap.add_argument("--peers", type=int, default=50)
    ap.add_argument("--rate", type=float, default=50.0, help="messages/s each way")
    ap.add_argument("--duration", type=float, default=600.0, help="seconds of load")
    ap.add_argument("--warmup", type=float, default=60.0,
                    help="RSS growth is measured from this many seconds into the load")
    ap.add_argument("--sample", type=float, default=10.0, help="sampling interval, s")
    ap.add_argument("--drain", type=float, default=60.0,
                    help="longest wait for messages in flight after the load, s")
    ap.add_argument("--quick", action="store_true",
                    help="30 s of load, warm-up 10 s, samples every 5 s; writes no report "
                    "unless --out/--results are given")
    ap.add_argument("--out", default=None, help="the soak section alone (default bench/SOAK.md "
                    "for a full run)")
    ap.add_argument("--results", default=None, help="the file whose soak section is replaced "
                    "(default bench/RESULTS.md for a full run)")
    ap.add_argument("--json", default=None, help="raw figures and samples")
    ap.add_argument("--keep-logs", default=None, metavar="DIR")
    ap.add_argument("--callgrind", default=None, metavar="DIR",
                    help="purplegate under valgrind's callgrind, the load's profile apart in DIR "
                    "(lower --rate: callgrind runs ~50 times slower); writes no report")
    args = ap.parse_args()
    if args.quick:
        args.duration, args.warmup, args.sample, args.drain = 30.0, 10.0, 5.0, 30.0
    elif args.out is None and args.results is None and not args.callgrind:
        args.out = str(TOP / "bench" / "SOAK.md")
        args.results = str(TOP / "bench" / "RESULTS.md")
    if args.online > args.users:
        ap.error("--online must not exceed --users")
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))

    # SIGTERM and SIGHUP end the run like Ctrl-C does: through the finally
    # below, which stops every server by PID.
    def on_signal(signum, frame):
        raise KeyboardInterrupt(f"signal {signum}")
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGHUP, on_signal)

    tmp = Path(tempfile.mkdtemp(prefix="pg-soak-"))
    started = time.strftime("%Y-%m-%d %H:%M %Z")
    log(f"soak: {args.users} users, {args.online} online, {args.peers} IRC peers, "
        f"{args.rate:g} msg/s each way for {args.duration:g} s (work dir {tmp})")
    try:
        res = run(args, tmp)
    except BenchError as e:
        log(f"soak FAILED: {e}")
        return 1
    finally:
        bl.stop_all_children()
        if args.keep_logs:
            bl.copy_logs(tmp, args.keep_logs)
        shutil.rmtree(tmp, ignore_errors=True)
    res["started"] = started
    f = figures(res, args)
    res["figures"] = f
    print_table(res, f, args)
    if args.json:
        Path(args.json).write_text(json.dumps(res, indent=1))
    if args.out or args.results:
        section = markdown(res, f, args, bb.machine_info())
        if args.out:
            Path(args.out).write_text(
                "# purplegate soak test\n\nThe same section is kept in bench/RESULTS.md between "
                f"the markers `{MARK_BEGIN}` and `{MARK_END}`.\n\n" + section)
            log(f"soak report written to {args.out}")
        if args.results:
            splice(args.results, section)
            log(f"soak section replaced in {args.results}")
    ok = f["ok_lost"] and f["ok_dup"] and f["ok_growth"]
    log("soak " + ("PASSED" if ok else "FAILED") + f": lost {res['x2i']['lost']} + "
        f"{res['i2x']['lost']}, duplicated {res['x2i']['duplicated']} + "
        f"{res['i2x']['duplicated']}, RSS growth after warm-up {f['growth_pct']:+.2f} %")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
