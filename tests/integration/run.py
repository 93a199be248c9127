#!/usr/bin/python3
"""Runs purplegate's integration tests.

    /usr/bin/python3 tests/integration/run.py [-v] [-q] [--retries N] [-k SUBSTRING] [test_module.py ...]

Each tests/integration/test_*.py module gets fresh servers: its `setup(name)`
(default: Prosody + purplegate connected to it, harness.standard_setup)
returns an env that every `test_*(env)` function of the module receives; the
servers are started again after a failed test so one failure does not
cascade.  One line per test on stdout (PASS/FAIL/SKIP), details of failures
on stderr, and as the very last line `N passed, N failed[, N skipped]`.
With --retries N a failed test runs again on fresh servers (up to N times):
one that then passes is listed as flaky and still counts as failed, so that
only a test that failed every time is reported as broken.  Exit status 1 if
anything failed or was flaky.  Runs as root inside a private network
namespace (tools/run-tests does `unshare -n`); needs PURPLEGATE or a built
./purplegate (or ./_build/purplegate).
"""

import argparse
import importlib.util
import inspect
import logging
import signal
import sys
import time
import traceback
from pathlib import Path

sys.dont_write_bytecode = True
HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import harness  # noqa: E402

DEFAULT_TIMEOUT = 60

# Seconds each module took in a CI run (tools/run-tests, 2026-12-08, the
# lines "# module ... took"): what --shard balances on; a module not
# listed counts as MODULE_SECONDS_DEFAULT.
MODULE_SECONDS = {
    "test_irc_session": 131, "test_faults": 68, "test_workers": 56, "test_outbox": 53,
    "test_groupchat": 48, "test_fake_server": 48, "test_away": 42, "test_server_restart": 34,
    "test_fd_leak": 32, "test_questions": 27, "test_multi_resource": 26, "test_restart": 24,
    "test_stay_connected": 24, "test_user_options": 24, "test_register_checks": 24,
    "test_restart_sessions": 18, "test_names": 15, "test_adhoc": 14, "test_groupchat_lifecycle": 14,
    "test_register": 12, "test_ejabberd": 12, "test_hostile": 11, "test_xmpp_legacy": 9,
    "test_privilege_irc": 9, "test_privilege": 8, "test_privilege_ejabberd": 7, "test_service": 5,
    "test_limits": 5, "test_own_messages_ejabberd": 5, "test_xmpp_groupchat": 4, "test_i18n": 4,
    "test_pgtest": 4, "test_install": 2, "test_own_messages": 2, "test_verify": 1,
}
MODULE_SECONDS_DEFAULT = 10


def shard_of(paths, index, count):
    """The modules of shard `index` (1-based) of `count`: longest first,
    each to the shard with the least so far, so the shards end together."""
    loads = [0] * count
    mine = set()
    for p in sorted(paths, key=lambda p: (-MODULE_SECONDS.get(p.stem, MODULE_SECONDS_DEFAULT), p.name)):
        i = loads.index(min(loads))
        loads[i] += MODULE_SECONDS.get(p.stem, MODULE_SECONDS_DEFAULT)
        if i == index - 1:
            mine.add(p)
    return [p for p in paths if p in mine]


Skip = harness.Skip


class TestTimeout(BaseException):
    """Raised by SIGALRM inside a test that ran out of time (BaseException so
    that tests catching AssertionError/Exception do not swallow it)."""


def _alarm(signum, frame):
    raise TestTimeout()


def _terminate(signum, frame):
    # Let finally blocks and atexit stop every child by PID.
    raise SystemExit(128 + signum)


def load_module(path):
    spec = importlib.util.spec_from_file_location(path.stem, path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def module_tests(mod):
    tests = [(name, fn) for name, fn in vars(mod).items()
             if name.startswith("test_") and inspect.isfunction(fn)
             and fn.__module__ == mod.__name__]
    tests.sort(key=lambda t: t[1].__code__.co_firstlineno)
    return tests


def short_reason(exc):
    if isinstance(exc, TestTimeout):
        return "timed out"
    msg = str(exc).strip().splitlines()
    first = msg[0] if msg else ""
    text = f"{type(exc).__name__}: {first}" if not isinstance(exc, AssertionError) or not first \
        else first
    return text if len(text) <= 300 else text[:300] + "..."


def details(exc, env):
    out = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    if env is not None:
        try:
            out += env.diagnostics() + "\n"
            out += f"--- files kept in {env.tmp}\n"
        except Exception:
            pass
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    ap.add_argument("modules", nargs="*", help="test modules (default: all test_*.py)")
    ap.add_argument("-k", dest="pattern", default=None, help="run tests whose name contains this")
    ap.add_argument("-v", "--verbose", action="store_true", help="log harness/slixmpp debug to stderr")
    ap.add_argument("-q", "--quiet", action="store_true", help="no failure details on stderr")
    ap.add_argument("--shard", default=None, metavar="I/N",
                    help="run only the I-th of N parts of the modules (balanced by their usual "
                         "duration), for running the parts side by side")
    ap.add_argument("--retries", type=int, default=0, metavar="N",
                    help="run a failed test again on fresh servers up to N times; one that then "
                         "passes is listed as flaky and still counted as failed")
    args = ap.parse_args()

    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.CRITICAL,
                        stream=sys.stderr)
    signal.signal(signal.SIGTERM, _terminate)
    signal.signal(signal.SIGALRM, _alarm)

    def find(m):
        for cand in (Path(m), HERE / m, HERE / (m + ".py")):
            if cand.is_file():
                return cand.resolve()
        ap.error(f"no test module {m}")
    paths = [find(m) for m in args.modules] if args.modules \
        else sorted(HERE.glob("test_*.py"))
    if not args.modules:
        # Fake-server and restart tests last: they are the slowest.
        order = {"test_fake_server": 2, "test_restart": 1}
        paths.sort(key=lambda p: (order.get(p.stem, 0), p.name))
    if args.shard:
        try:
            index, count = (int(x) for x in args.shard.split("/"))
            assert 1 <= index <= count
        except (ValueError, AssertionError):
            ap.error(f"--shard {args.shard}: expected I/N with 1 <= I <= N")
        paths = shard_of(paths, index, count)
        print(f"# shard {index}/{count}: {' '.join(p.stem for p in paths)}", flush=True)

    print(f"# purplegate binary: {harness.purplegate_binary()}", flush=True)
    t_all = time.monotonic()
    results = {}  # "module.test" -> (status, reason)
    selected = []  # (path, mod, tests) in run order
    for path in paths:
        try:
            mod = load_module(path)
        except Exception as e:  # a module that does not load is a failure, not a crash
            results[path.stem] = ("FAIL", f"cannot load: {e!r}")
            print(f"FAIL {path.stem}: cannot load: {e!r}", flush=True)
            continue
        tests = [(n, f) for n, f in module_tests(mod)
                 if not args.pattern or args.pattern in f"{path.stem}.{n}"]
        if tests:
            selected.append((path, mod, tests))
            t_module = time.monotonic()
            results.update(run_module(path, mod, tests, args.quiet))
            # What MODULE_SECONDS is measured from.
            print(f"# module {path.stem} took {time.monotonic() - t_module:.1f}s", flush=True)

    # A test that fails once and passes on a fresh set of servers is
    # reported as flaky and counted as failed: the retry only tells a flaky
    # test from a broken one (which fails every time) in the summary.
    flaky = []
    for _ in range(args.retries):
        failing = {k for k, (st, _) in results.items() if st == "FAIL"}
        if not failing:
            break
        for path, mod, tests in selected:
            again = [(n, f) for n, f in tests if f"{path.stem}.{n}" in failing]
            if not again:
                continue
            print(f"# retrying {len(again)} failed test(s) of {path.stem} on fresh servers",
                  flush=True)
            for full, (st, reason) in run_module(path, mod, again, args.quiet).items():
                if st == "PASS":
                    flaky.append(f"{full} ({results[full][1]})")
                    st = "FLAKY"
                results[full] = (st, reason)
    harness.kill_all_children()

    passed = sum(1 for st, _ in results.values() if st == "PASS")
    failed = sum(1 for st, _ in results.values() if st in ("FAIL", "FLAKY"))
    skipped = sum(1 for st, _ in results.values() if st == "SKIP")
    print(f"# integration tests took {time.monotonic() - t_all:.1f}s", flush=True)
    for f in flaky:
        print(f"# flaky (failed, then passed on retry; counted as failed): {f}", flush=True)
    for full, (st, reason) in results.items():
        if st == "FAIL":
            print(f"# failed: {full}: {reason}", flush=True)
    summary = f"{passed} passed, {failed} failed"
    if skipped:
        summary += f", {skipped} skipped"
    print(summary, flush=True)
    return 1 if failed else 0


def run_module(path, mod, tests, quiet):
    """Runs TESTS of one module on one set of servers (fresh ones after a
    failure); prints a line per test; returns {"module.test": (status, reason)}."""
    results = {}
    setup = getattr(mod, "setup", None) or (lambda name: harness.standard_setup(name))
    timeout = getattr(mod, "TIMEOUT", DEFAULT_TIMEOUT)
    env = None
    setup_error = None
    for name, fn in tests:
        full = f"{path.stem}.{name}"
        t0 = time.monotonic()
        status, reason, exc = "PASS", "", None
        try:
            if setup_error is not None:
                raise setup_error
            signal.setitimer(signal.ITIMER_REAL, timeout)
            try:
                if env is None:
                    try:
                        env = setup(path.stem)
                    except Skip:
                        raise
                    except BaseException as e:
                        if isinstance(e, (KeyboardInterrupt, SystemExit)):
                            raise
                        setup_error = e
                        raise
                if inspect.signature(fn).parameters:
                    fn(env)
                else:
                    fn()
                crashes = env.crashes()
                if crashes:
                    raise AssertionError(crashes[0])
            finally:
                signal.setitimer(signal.ITIMER_REAL, 0)
        except Skip as e:
            status, reason = "SKIP", str(e)
        except (KeyboardInterrupt, SystemExit):
            raise
        except BaseException as e:
            status, exc = "FAIL", e
            reason = short_reason(e)
            if e is setup_error and not reason.startswith("setup"):
                reason = "setup failed: " + reason
        finally:
            if env is not None:
                env.end_test()
            harness.close_all_clients()
        dt = time.monotonic() - t0
        results[full] = (status, reason)
        if status == "PASS":
            print(f"PASS {full} ({dt:.1f}s)", flush=True)
        elif status == "SKIP":
            print(f"SKIP {full}: {reason}", flush=True)
        else:
            print(f"FAIL {full}: {reason}", flush=True)
            if not quiet:
                text = details(exc, env)
                sys.stderr.write("".join("    " + l + "\n" for l in text.splitlines()))
                sys.stderr.flush()
            # Fresh servers for the next test of this module.
            if env is not None:
                env.close(keep=True)
                env = None
        if env is not None and not env.healthy():
            env.close(keep=True)
            env = None
    if env is not None:
        teardown = getattr(mod, "teardown", None)
        if teardown:
            teardown(env)
        env.close()
    return results


if __name__ == "__main__":
    rc = 1
    try:
        rc = main()
    finally:
        harness.close_all_clients()
        harness.kill_all_children()
    sys.exit(rc)
