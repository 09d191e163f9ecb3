#!/usr/bin/env python3
"""The benchmark pipeline's bookkeeping (tests/bench/compare.sh calls it).

  report.py meta --root DIR --build DIR ...          one {"meta": ...} line: machine, versions
  report.py record --scenario S --server W ... <OUT  one JSON line: sio-bench's line + the run's facts
  report.py brief <LINE                              a one-line summary of a recorded line
  report.py merge --old F --new F                    the new runs replace the old ones of the same
                                                     scenarios; the rest is kept (to stdout)
  report.py report --jsonl F --md F --png F --plot-data F [--template F]
                                                     medians, ratios, targets: the generated part
                                                     of BENCHMARKS.md, and the plot's data

Standard library only.
"""
import argparse
import datetime
import json
import math
import os
import platform
import re
import shlex
import statistics
import subprocess
import sys

BEGIN = "<!-- generated:begin (tests/bench/compare.sh rewrites this part) -->"
END = "<!-- generated:end -->"


# ---- meta -------------------------------------------------------------------

def sh(cmd, cwd=None):
    try:
        return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=20).stdout.strip()
    except Exception:
        return ""


def cmd_meta(a):
    model = ""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem_kb = 0
    try:
        with open("/proc/meminfo") as f:
            mem_kb = int(f.readline().split()[1])
    except (OSError, ValueError, IndexError):
        pass
    sio_version = ""
    try:
        with open(os.path.join(a.root, "tests/e2e/node_modules/socket.io/package.json")) as f:
            sio_version = json.load(f).get("version", "")
    except (OSError, ValueError):
        pass
    buildtype = ""
    try:
        opts = json.loads(sh(["meson", "introspect", a.build, "--buildoptions"]) or "[]")
        buildtype = next((o["value"] for o in opts if o["name"] == "buildtype"), "")
    except ValueError:
        pass
    debian = ""
    try:
        with open("/etc/debian_version") as f:
            debian = f.read().strip()
    except OSError:
        pass
    commit = sh(["git", "rev-parse", "--short=12", "HEAD"], cwd=a.root)
    dirty = sh(["git", "status", "--porcelain", "--untracked-files=no"], cwd=a.root)
    dirty_files = [l[3:] for l in dirty.splitlines() if l[3:].startswith(("lib/", "server/", "tests/e2e/", "tests/bench/"))
                   and not l[3:].endswith((".md", ".py", ".sh", ".gp"))]
    pending = sh(["ninja", "-C", a.build, "-n"])
    build_current = "no work to do" in pending
    meta = {
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "nproc": os.cpu_count(),
        "cpu_model": model,
        "mem_gb": round(mem_kb / 1048576, 1),
        "kernel": platform.release(),
        "debian": debian,
        "node": sh(["node", "--version"]),
        "socket_io": sio_version,
        "sio_commit": commit + (" (with uncommitted changes)" if dirty_files else ""),
        "buildtype": buildtype,
        "dirty_files": dirty_files,
        "build_current": build_current,
        "cc": (sh(["cc", "--version"]).splitlines() or [""])[0],
        "rounds": int(a.rounds),
        "quick": a.quick == "1",
        "pin": a.pin == "1",
        "nofile": a.nofile,
        "loadavg_at_start": open("/proc/loadavg").read().split()[:3],
        "command": a.command.strip(),
        "params": a.params,
        "fan_rate": float(a.fan_rate),
        "sweep_rate": float(a.sweep_rate),
        "poll_rate": float(a.poll_rate),
        "scenarios": (a.scenarios or "").split(),
        "tls_cert": a.tls_cert_desc or None,
        "tls_params": a.tls_params or None,
    }
    print(json.dumps({"meta": meta}))


# ---- others' CPU time ----------------------------------------------------------

def cmd_cpu_others(a):
    """Clock ticks of CPU time used so far by every process but the harness
    (--self), its children (the server, this process) and kernel threads,
    including what they reaped from exited children: the difference of two
    such readings is what other processes used in between."""
    me = int(a.self)
    total = 0
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        pid = int(name)
        try:
            with open(f"/proc/{name}/stat") as f:
                st = f.read()
        except OSError:
            continue
        rest = st[st.rindex(")") + 2:].split()
        ppid = int(rest[1])
        if pid in (me, 2) or ppid in (me, 2):
            continue
        total += sum(int(x) for x in rest[11:15])  # utime stime cutime cstime
    print(total)


# ---- record -----------------------------------------------------------------

def tail(path, n=5):
    if not path:
        return ""
    try:
        with open(path, errors="replace") as f:
            lines = [l.rstrip() for l in f if l.strip()]
        return "\n".join(lines[-n:])[-1000:]
    except OSError:
        return ""


def cmd_record(a):
    out = sys.stdin.read()
    line = None
    for text in reversed(out.splitlines()):
        text = text.strip()
        if text.startswith("{"):
            try:
                line = json.loads(text)
                break
            except ValueError:
                continue
    args = shlex.split(a.args)
    opt = {}
    for i, w in enumerate(args[:-1]):
        if w.startswith("--"):
            opt[w[2:]] = args[i + 1]
    rec = {"scenario": a.scenario, "server": a.server, "round": int(a.round)}
    rec.update(line if isinstance(line, dict) else {})
    for k in ("rate", "senders", "inflight"):
        if k in opt and rec.get("offered_per_s" if k == "rate" else k) is None:
            try:
                rec["offered_" + k if k == "rate" else k] = float(opt[k]) if k == "rate" else int(opt[k])
            except ValueError:
                pass
    rc = int(a.rc)
    rec["rc"] = rc
    try:
        rec["elapsed_s"] = round(float(a.t1) - float(a.t0), 2)
    except ValueError:
        rec["elapsed_s"] = None
    rec["server_died"] = a.server_died == "1"
    for k, v in (("other_cpu_s", a.other_cpu),):
        if v:
            n, d = v.split("/")
            rec[k] = round(int(n) / int(d), 2)
    failed = None
    if rc in (124, 137):
        failed = "timeout"
    elif rec["server_died"]:
        failed = "server exited during the run"
    elif line is None:
        failed = f"no JSON line (exit {rc})"
    elif line.get("error"):
        failed = f"sio-bench could not run: {line['error']}"
    if a.discard and not failed:
        failed = "discarded: " + a.discard
    if failed:
        rec["failed"] = failed
        rec["stderr_tail"] = tail(a.stderr)
        if a.server_stderr:
            rec["server_stderr_tail"] = tail(a.server_stderr)
    elif rc != 0:
        rec["stderr_tail"] = tail(a.stderr)
    rec["bench_cmd"] = a.bench_cmd
    rec["server_cmd"] = a.server_cmd
    print(json.dumps(rec))


def cmd_brief(a):
    for text in sys.stdin:
        try:
            r = json.loads(text)
        except ValueError:
            continue
        bits = [f"{r.get('scenario')} {r.get('server')} r{r.get('round')}:"]
        if r.get("failed"):
            bits.append("FAILED: " + r["failed"] + " " + (r.get("stderr_tail") or "").replace("\n", " | ")[-300:])
        for k in ("events_per_s", "deliveries_per_s", "connects_per_s", "p50_ms", "p99_ms", "rss_per_client_b",
                  "connect_phase_s", "heartbeats_ok", "errors", "server_cpu_pct", "bench_cpu_pct", "tls_resumed",
                  "other_cpu_s"):
            if isinstance(r.get(k), bool):
                bits.append(f"{k}={str(r[k]).lower()}")
            elif r.get(k) is not None:
                bits.append(f"{k}={num(r[k])}")
        if r.get("expected"):
            bits.append(f"delivered={pct(share(r))}")
        print("  -> " + " ".join(bits), file=sys.stderr)


# ---- merge ------------------------------------------------------------------

LEGACY_SCENARIOS = ["idle", "echo", "fanout", "sweep", "connect", "scale", "polling"]


def read_jsonl(path):
    out = []
    with open(path) as f:
        for text in f:
            text = text.strip()
            if text:
                out.append(json.loads(text))
    return out


def meta_scenarios(m):
    """The scenarios a run covered (runs from before this was recorded: the
    seven of the time)."""
    return m.get("scenarios") or LEGACY_SCENARIOS


def cmd_merge(a):
    """Old metas and runs, less those of the scenarios the new file ran, then
    the new file. A meta stays while one of its scenarios still has runs."""
    old, new = read_jsonl(a.old), read_jsonl(a.new)
    new_metas = [r["meta"] for r in new if "meta" in r]
    replaced = set()
    for m in new_metas:
        replaced.update(meta_scenarios(m))
    replaced.update(r.get("scenario") for r in new if "meta" not in r)
    kept_runs = [r for r in old if "meta" not in r and r.get("scenario") not in replaced]
    left = {r.get("scenario") for r in kept_runs}
    out = []
    for r in old:
        if "meta" in r:
            m = r["meta"]
            rest = [x for x in meta_scenarios(m) if x not in replaced]
            if rest and any(x in left for x in rest):
                m = dict(m, scenarios=rest)
                out.append({"meta": m})
    out += kept_runs
    out += new
    for r in out:
        print(json.dumps(r))


# ---- report -----------------------------------------------------------------

def num(x, digits=3):
    """A figure for the table: thousands separators, about `digits` significant digits."""
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "—"
    ax = abs(x)
    if ax >= 10 ** digits or x == int(x) and ax >= 1:
        return f"{round(x):,}"
    if ax == 0:
        return "0"
    d = max(0, digits - 1 - int(math.floor(math.log10(ax))))
    return f"{x:.{d}f}"


def pct(x):
    return "—" if x is None else f"{100 * x:.1f} %"


def share(r):
    e, g = r.get("expected"), r.get("received")
    if not e or g is None:
        return None
    return g / e


def is_discarded(r):
    return (r.get("failed") or "").startswith("discarded")


def ok_runs(rows):
    return [r for r in rows if not r.get("failed")]


class Data:
    def __init__(self, lines):
        self.meta = {}
        self.metas = []
        self.runs = []
        for r in lines:
            if "meta" in r:
                self.metas.append(r["meta"])
            else:
                self.runs.append(r)
        # The header describes the run behind the plain scenarios; the TLS
        # rows name their own run when it was another one.
        plain = [m for m in self.metas if any(not x.startswith("tls-") for x in meta_scenarios(m))]
        tls = [m for m in self.metas if any(x.startswith("tls-") for x in meta_scenarios(m))]
        self.meta = (plain or self.metas or [{}])[-1]
        self.tls_meta = (tls or [None])[-1]
        # The fan-out rates etc. of every meta (a merged file has several).
        for m in self.metas:
            for k in ("fan_rate", "sweep_rate", "poll_rate"):
                self.meta.setdefault(k, m.get(k))

    def sel(self, scenario, server, clients=None):
        return [r for r in self.runs if r.get("scenario") == scenario and r.get("server") == server
                and (clients is None or r.get("clients") == clients)]

    def med(self, scenario, server, field, clients=None):
        vals = [r[field] for r in ok_runs(self.sel(scenario, server, clients)) if r.get(field) is not None]
        return statistics.median(vals) if vals else None

    def med_fn(self, scenario, server, fn, clients=None):
        vals = [v for v in (fn(r) for r in ok_runs(self.sel(scenario, server, clients))) if v is not None]
        return statistics.median(vals) if vals else None

    def status(self, scenario, server, clients=None):
        rows = self.sel(scenario, server, clients)
        repeated = [r for r in rows if is_discarded(r)]
        rows = [r for r in rows if not is_discarded(r)]
        if not rows:
            return None
        ok = ok_runs(rows)
        errs = sum(r.get("errors") or 0 for r in rows)
        why = sorted({r["failed"] for r in rows if r.get("failed")})
        s = f"{len(ok)}/{len(rows)} runs"
        if why:
            s += " (" + ", ".join(why) + ")"
        if errs:
            s += f", {errs:,} errors"
        if repeated:
            s += f" (+{len(repeated)} repeated: other processes busy)"
        return s

    def clients_of(self, scenario):
        return sorted({r.get("clients") for r in self.runs if r.get("scenario") == scenario and r.get("clients")})


def ratio(s, n):
    if s is None or n is None or n == 0:
        return None
    return s / n


def fmt_ratio(x, lower_better=False):
    if x is None:
        return "—"
    if lower_better and x > 0 and x < 1:
        return f"{x:.2g}× ({num(1 / x)}× less)"
    return f"{x:.2f}×"


def met(cond):
    if cond is None:
        return "n/a"
    return "yes" if cond else "**no**"


def saturated(r, rate):
    """A fan-out run that did not deliver what was offered: the server (or the
    generator) could not keep up."""
    s = share(r)
    if s is not None and s < 0.99:
        return True
    sent, offered = r.get("sent_per_s"), offered_of(r) or rate
    if sent is not None and offered and sent < 0.95 * offered:
        return True
    # Everything arrived in the end, but not at the pace it was offered.
    got, n = r.get("deliveries_per_s"), r.get("clients")
    if got is not None and offered and n and got < 0.95 * offered * n:
        return True
    return False


def other_load(r):
    """CPUs' worth of time that processes other than the server and sio-bench
    used during the run, on average."""
    if r.get("other_cpu_s") is None or not r.get("elapsed_s"):
        return None
    return max(0.0, r["other_cpu_s"] / r["elapsed_s"])


NOISY = 0.15  # other load above which a run is flagged


def offered_of(r):
    return r.get("offered_per_s") or r.get("offered_rate")


def throughput_row(d, add, name, scen, target, offered, c):
    """deliveries/s of a fan-out scenario. When sio delivered everything that
    was offered, its figure is the offered load, not its capacity: the ratio
    is then a lower bound."""
    s, n = d.med(scen, "sio", "deliveries_per_s"), d.med(scen, "node", "deliveries_per_s")
    r = ratio(s, n)
    sio_runs = ok_runs(d.sel(scen, "sio"))
    sio_sat = sum(saturated(x, offered) for x in sio_runs) * 2 > len(sio_runs) if sio_runs else True
    label = "Fan-out" if scen == "fanout" else "Polling fan-out"
    if r is None:
        ok, shown = None, "—"
    elif sio_sat:
        ok, shown = met(r >= target), fmt_ratio(r)
    else:
        shown = "≥ " + fmt_ratio(r)
        ok = "yes (lower bound)" if r >= target else "n/a: sio not saturated"
    miss = None
    if ok == "**no**":
        miss = f"{label}: sio {num(s)} deliveries/s is {fmt_ratio(r)} Node's {num(n)}; the target is ≥ {target}×."
    elif ok == "n/a: sio not saturated":
        miss = (f"{label}: not decided: sio delivered all that was offered ({num(s)} deliveries/s, "
                f"{fmt_ratio(r)} Node's {num(n)}), so its capacity is higher than measured; the target is ≥ {target}×.")
    add(name, "deliveries/s", num(s), num(n), shown, f"≥ {target}× Node", ok, runs_note_of(d, scen), None)
    return miss


def runs_note_of(d, scen, clients=None, servers=("sio", "node")):
    parts = []
    for w in servers:
        st = d.status(scen, w, clients)
        if st:
            parts.append(f"{w} {st}")
    return "; ".join(parts)


def linfit(points):
    n = len(points)
    if n < 2 or len({x for x, _ in points}) < 2:
        return None
    mx = sum(x for x, _ in points) / n
    my = sum(y for _, y in points) / n
    sxx = sum((x - mx) ** 2 for x, _ in points)
    sxy = sum((x - mx) * (y - my) for x, y in points)
    b = sxy / sxx
    a = my - b * mx
    ss_tot = sum((y - my) ** 2 for _, y in points)
    ss_res = sum((y - a - b * x) ** 2 for x, y in points)
    r2 = 1 - ss_res / ss_tot if ss_tot else 1.0
    return a, b, r2


def build(d, png_name):
    m = d.meta
    rows = []   # scenario, metric, sio, node, ratio, target, met, runs
    misses = []
    notes = []

    def add(scenario, metric, s, n, r, target, ok, runs, miss=None):
        rows.append((scenario, metric, s, n, r, target, ok, runs))
        if ok == "**no**" and miss:
            misses.append(miss)

    def runs_note(scen, clients=None, servers=("sio", "node")):
        parts = []
        for w in servers:
            st = d.status(scen, w, clients)
            if st:
                parts.append(f"{w} {st}")
        return "; ".join(parts)

    # 1. idle memory
    if d.sel("idle", "sio") or d.sel("idle", "node"):
        c = (d.clients_of("idle") or [None])[-1]
        hold = d.med("idle", "sio", "duration_s") or d.med("idle", "node", "duration_s")
        s = d.med("idle", "sio", "rss_per_client_b", c)
        n = d.med("idle", "node", "rss_per_client_b", c)
        r = ratio(s, n)
        ok = None if s is None or n is None else (s <= 2048 and n / s >= 8 if s > 0 else True)
        name = f"1. Idle, {num(c)} WebSocket clients held {num(hold)} s"
        add(name, "RSS per client (B)", num(s), num(n), fmt_ratio(r, True),
            "sio ≤ 2,048 B and ≥ 8× less than Node", met(ok), runs_note("idle", c),
            f"Idle memory: sio holds {num(s)} B per client, Node {num(n)} B ({fmt_ratio(r, True)}); "
            "the target is ≤ 2,048 B and ≥ 8× less than Node.")
        s2 = d.med_fn("idle", "sio", lambda r: r.get("rss_after_kb") and r["rss_after_kb"] / 1024, c)
        n2 = d.med_fn("idle", "node", lambda r: r.get("rss_after_kb") and r["rss_after_kb"] / 1024, c)
        add(name, "server RSS with the clients (MB)", num(s2), num(n2), fmt_ratio(ratio(s2, n2), True), "—", "—", "")

    # 2. echo
    if d.sel("echo", "sio") or d.sel("echo", "node"):
        c = (d.clients_of("echo") or [None])[-1]
        name = f"2. Echo, {num(c)} clients, 1 in flight each"
        s, n = d.med("echo", "sio", "events_per_s"), d.med("echo", "node", "events_per_s")
        r = ratio(s, n)
        add(name, "events/s", num(s), num(n), fmt_ratio(r), "≥ 3× Node", met(None if r is None else r >= 3),
            runs_note("echo"), f"Echo throughput: sio {num(s)} events/s is {fmt_ratio(r)} Node's {num(n)}; the target is ≥ 3×.")
        s, n = d.med("echo", "sio", "p99_ms"), d.med("echo", "node", "p99_ms")
        add(name, "p99 latency (ms)", num(s), num(n), fmt_ratio(ratio(s, n), True), "lower than Node",
            met(None if s is None or n is None else s < n), "",
            f"Echo p99: sio {num(s)} ms is not lower than Node's {num(n)} ms.")

    # 3. fan-out
    rate = m.get("fan_rate")
    if d.sel("fanout", "sio") or d.sel("fanout", "node"):
        c = (d.clients_of("fanout") or [None])[-1]
        senders = next((r.get("senders") for r in d.runs if r.get("scenario") == "fanout" and r.get("senders")), None)
        offered = next((offered_of(r) for r in d.runs if r.get("scenario") == "fanout" and offered_of(r)), rate)
        name = (f"3. Fan-out (chat), {num(c)} clients, {num(senders)} senders, "
                f"{num(offered)} msgs/s offered ({num(offered * c if offered and c else None)} deliveries/s)")
        x = throughput_row(d, add, name, "fanout", 20, offered, c)
        if x:
            misses.append(x)
        s, n = d.med("fanout", "sio", "p99_ms"), d.med("fanout", "node", "p99_ms")
        sio_runs = ok_runs(d.sel("fanout", "sio"))
        sat = [saturated(x, offered) for x in sio_runs]
        if not sio_runs:
            ok, note = None, "n/a"
        elif sum(sat) * 2 > len(sat):
            ok, note = None, "n/a: sio saturated"
            misses.append(f"Fan-out p99 < 50 ms was not evaluated: at {num(offered)} msgs/s offered to {num(c)} clients sio "
                          f"was saturated (median delivered {pct(d.med_fn('fanout', 'sio', share))} of what was offered; "
                          f"p99 {num(s)} ms). See the sweep below for the unsaturated points.")
        else:
            ok = s is not None and s < 50
            note = met(ok)
        add(name, "p99 latency (ms)", num(s), num(n), fmt_ratio(ratio(s, n), True), "sio < 50 ms when not saturated",
            note if ok is None else met(ok), "",
            f"Fan-out p99: sio {num(s)} ms with {num(c)} clients, not saturated; the target is < 50 ms.")
        s, n = d.med_fn("fanout", "sio", share), d.med_fn("fanout", "node", share)
        add(name, "delivered / offered", pct(s), pct(n), "—", "—", "—", "")

    # 4. connect
    if d.sel("connect", "sio") or d.sel("connect", "node"):
        c = (d.clients_of("connect") or [None])[-1]
        name = f"4. Connect rate, {num(c)} concurrent handshakes"
        s, n = d.med("connect", "sio", "connects_per_s"), d.med("connect", "node", "connects_per_s")
        r = ratio(s, n)
        add(name, "connections/s", num(s), num(n), fmt_ratio(r), "≥ 5× Node", met(None if r is None else r >= 5),
            runs_note("connect"), f"Connect rate: sio {num(s)}/s is {fmt_ratio(r)} Node's {num(n)}/s; the target is ≥ 5×.")

    # 5. scale (sio only)
    scale_pts = d.clients_of("scale")
    fit = None
    if scale_pts:
        top = scale_pts[-1]
        hold = d.med("scale", "sio", "duration_s", top)
        name = f"5. Scale, sio only: {num(top)} idle WebSocket clients held {num(hold)} s"
        rss = d.med_fn("scale", "sio", lambda r: r.get("rss_after_kb") and r["rss_after_kb"] / 1024, top)
        add(name, "server RSS (MB)", num(rss), "—", "—", "—", "—", runs_note("scale", top, ("sio",)))
        top_runs = d.sel("scale", "sio", top)
        errs = sum(r.get("errors") or 0 for r in top_runs)
        failed = [r for r in top_runs if r.get("failed")]
        hb = [r for r in ok_runs(top_runs) if r.get("heartbeats_ok") is True]
        gap = max((r.get("ping_gap_max_ms") or 0 for r in ok_runs(top_runs)), default=None)
        ival = next((r.get("ping_interval_ms") for r in top_runs if r.get("ping_interval_ms")), None)
        all_ok = bool(top_runs) and not failed and errs == 0 and len(hb) == len(top_runs)
        add(name, "runs with every client up, no errors, pings on time", f"{len(hb) if errs == 0 else 0} of {len(top_runs)}",
            "—", "—", "every run", met(all_ok if top_runs else None),
            f"{errs:,} errors; longest ping gap {num(gap)} ms (interval {num(ival)} ms)",
            f"Scale: {num(top)} clients on sio: {errs:,} errors, {len(failed)} failed runs, "
            f"pings on time in {len(hb)} of {len(top_runs)} runs (longest gap {num(gap)} ms); the target is every run clean.")
        pts = [(r["clients"], r["rss_after_kb"] * 1024) for r in ok_runs(d.sel("scale", "sio"))
               if r.get("rss_after_kb") is not None and r.get("clients")]
        fit = linfit(pts)
        if fit:
            a, b, r2 = fit
            add(name, f"RSS slope, linear fit over {', '.join(num(x) for x in scale_pts)} clients (B/connection)",
                num(b), "—", "—", "≤ 2,048 B (the idle target)", met(b <= 2048), f"R² {r2:.4f}",
                f"Scale: the RSS grows by {num(b)} B per connection; the idle target is ≤ 2,048 B.")
            add(name, "projected RSS at 1,000,000 connections (GB)", num((a + b * 1e6) / 2 ** 30), "—", "—", "—", "—",
                f"intercept {num(a / 2 ** 20)} MB")

    # 6. polling
    prate = m.get("poll_rate")
    if d.sel("polling", "sio") or d.sel("polling", "node"):
        c = (d.clients_of("polling") or [None])[-1]
        offered = next((offered_of(r) for r in d.runs if r.get("scenario") == "polling" and offered_of(r)), prate)
        name = (f"6. Polling fan-out (chat), {num(c)} long-polling clients, {num(offered)} msgs/s offered "
                f"({num(offered * c if offered and c else None)} deliveries/s)")
        x = throughput_row(d, add, name, "polling", 3, offered, c)
        if x:
            misses.append(x)
        s, n = d.med("polling", "sio", "p99_ms"), d.med("polling", "node", "p99_ms")
        add(name, "p99 latency (ms)", num(s), num(n), fmt_ratio(ratio(s, n), True), "—", "—", "")
        s, n = d.med_fn("polling", "sio", share), d.med_fn("polling", "node", share)
        add(name, "delivered / offered", pct(s), pct(n), "—", "—", "—", "")

    # 7-10. TLS
    tm = d.tls_meta or m
    tls_scen = [x for x in ("tls-idle", "tls-fanout", "tls-connect", "tls-resume") if d.sel(x, "sio") or d.sel(x, "node")]
    cert = tm.get("tls_cert") or "?"
    if tls_scen:
        suites = {}
        for r in d.runs:
            if r.get("scenario", "").startswith("tls-") and r.get("tls_ciphersuite"):
                suites.setdefault(r["server"], r["tls_ciphersuite"])
        notes.append(f"TLS rows (7–10): TLS 1.2, {cert} certificate (a throwaway one, made by openssl for the run; "
                     "RSA-2048 would cost the server more per handshake and the client less: `TLS_CERT=rsa`); "
                     "the client is sio-bench on mbedTLS 2.28 offering x25519, secp256r1, secp384r1, session tickets "
                     "and not verifying the certificate; negotiated: "
                     + ", ".join(f"{w} `{x}`" for w, x in sorted(suites.items())) + "."
                     + (f" Measured {tm.get('date')} with `{tm.get('command')}` (load average at the start "
                        f"{' '.join(tm.get('loadavg_at_start') or [])}; parameters `{tm.get('tls_params')}`)."
                        if tm is not m else ""))
    if "tls-idle" in tls_scen:
        c = (d.clients_of("tls-idle") or [None])[-1]
        hold = d.med("tls-idle", "sio", "duration_s") or d.med("tls-idle", "node", "duration_s")
        name = f"7. TLS idle, {num(c)} wss clients held {num(hold)} s"
        s, n = d.med("tls-idle", "sio", "rss_per_client_b", c), d.med("tls-idle", "node", "rss_per_client_b", c)
        add(name, "RSS per TLS client (B)", num(s), num(n), fmt_ratio(ratio(s, n), True), "—", "—", runs_note("tls-idle", c))
        s2 = d.med_fn("tls-idle", "sio", lambda r: r.get("rss_after_kb") and r["rss_after_kb"] / 1024, c)
        n2 = d.med_fn("tls-idle", "node", lambda r: r.get("rss_after_kb") and r["rss_after_kb"] / 1024, c)
        add(name, "server RSS with the clients (MB)", num(s2), num(n2), fmt_ratio(ratio(s2, n2), True), "—", "—", "")
    if "tls-fanout" in tls_scen:
        c = (d.clients_of("tls-fanout") or [None])[-1]
        offered = next((offered_of(r) for r in d.runs if r.get("scenario") == "tls-fanout" and offered_of(r)), None)
        senders = next((r.get("senders") for r in d.runs if r.get("scenario") == "tls-fanout" and r.get("senders")), None)
        name = (f"8. TLS fan-out (chat over wss), {num(c)} clients, {num(senders)} senders, {num(offered)} msgs/s offered "
                f"({num(offered * c if offered and c else None)} deliveries/s)")
        s, n = d.med("tls-fanout", "sio", "deliveries_per_s"), d.med("tls-fanout", "node", "deliveries_per_s")
        sio_runs = ok_runs(d.sel("tls-fanout", "sio"))
        sat = bool(sio_runs) and sum(saturated(x, offered) for x in sio_runs) * 2 > len(sio_runs)
        add(name, "deliveries/s", num(s), num(n), ("" if sat or s is None else "≥ ") + fmt_ratio(ratio(s, n)), "—", "—",
            runs_note("tls-fanout"))
        s, n = d.med("tls-fanout", "sio", "p99_ms"), d.med("tls-fanout", "node", "p99_ms")
        add(name, "p99 latency (ms)", num(s), num(n), fmt_ratio(ratio(s, n), True), "—", "—", "")
        s, n = d.med_fn("tls-fanout", "sio", share), d.med_fn("tls-fanout", "node", share)
        add(name, "delivered / offered", pct(s), pct(n), "—", "—", "—", "")
        s, n = d.med("tls-fanout", "sio", "server_cpu_pct"), d.med("tls-fanout", "node", "server_cpu_pct")
        add(name, "server CPU (% of one core)", num(s), num(n), "—", "—", "—", "")

    def per_hs_ms(r):
        if r.get("server_cpu_pct") is None or not r.get("connects_per_s"):
            return None
        return r["server_cpu_pct"] / 100 / r["connects_per_s"] * 1000

    for scen, no, what in (("tls-connect", 9, "full TLS handshakes"), ("tls-resume", 10, "resumed TLS sessions")):
        if scen not in tls_scen:
            continue
        c = (d.clients_of(scen) or [None])[-1]
        name = f"{no}. TLS connect rate, {num(c)} concurrent: {what} + Engine.IO + Socket.IO CONNECT, then close"
        s, n = d.med(scen, "sio", "connects_per_s"), d.med(scen, "node", "connects_per_s")
        add(name, "connections/s", num(s), num(n), fmt_ratio(ratio(s, n)), "—", "—", runs_note(scen))
        s, n = d.med(scen, "sio", "p50_ms"), d.med(scen, "node", "p50_ms")
        add(name, "p50 connect time (ms)", num(s), num(n), fmt_ratio(ratio(s, n), True), "—", "—", "")
        s, n = d.med_fn(scen, "sio", per_hs_ms), d.med_fn(scen, "node", per_hs_ms)
        add(name, "server CPU per connection (ms)", num(s), num(n), fmt_ratio(ratio(s, n), True), "—", "—",
            "server CPU time over the window ÷ connections")
        s, n = d.med(scen, "sio", "bench_cpu_pct"), d.med(scen, "node", "bench_cpu_pct")
        add(name, "sio-bench's CPU (% of its one core)", num(s), num(n), "—", "—", "—",
            "near 100: the client, not the server, was the limit")
        if scen == "tls-resume":
            def res(r):
                return r["tls_resumed"] / r["tls_handshakes"] if r.get("tls_handshakes") else None
            s, n = d.med_fn(scen, "sio", res), d.med_fn(scen, "node", res)
            add(name, "handshakes abbreviated", pct(s), pct(n), "—", "—", "—", "")

    # failures and errors anywhere
    for r in d.runs:
        if r.get("failed") and not is_discarded(r):
            misses.append(f"Run failed: {r['scenario']} on {r['server']}, round {r['round']}"
                          f"{', ' + str(r.get('clients')) + ' clients' if r.get('clients') else ''}: {r['failed']}"
                          + (f" (“{r['stderr_tail'].splitlines()[-1]}”)" if r.get("stderr_tail") else "") + ".")
    for r in d.runs:
        if r.get("heartbeats_ok") is False and not r.get("failed"):
            misses.append(f"Pings late or connections closed: {r['scenario']} on {r['server']}, round {r['round']}, "
                          f"{num(r.get('clients'))} clients (longest ping gap {num(r.get('ping_gap_max_ms'))} ms, "
                          f"interval {num(r.get('ping_interval_ms'))} ms; {num(r.get('closed'))} closed by the server).")
    noisy = [r for r in d.runs if (other_load(r) or 0) > NOISY and not is_discarded(r)]
    if noisy:
        notes.append(f"Other processes were busy during {len(noisy)} of {len(d.runs)} runs (more than {NOISY} CPU on "
                      "average; “other load” in the list of runs): "
                      + ", ".join(f"{r['scenario']}/{r['server']}/r{r['round']} {other_load(r):.2f}" for r in noisy)
                      + ". Their figures may be low.")
    for scen in ("idle", "echo", "fanout", "sweep", "connect", "polling", "tls-idle", "tls-fanout", "tls-connect",
                 "tls-resume"):
        for w in ("sio", "node"):
            runs = [r for r in d.sel(scen, w) if not is_discarded(r)]
            e = sum(r.get("errors") or 0 for r in runs)
            closed = sum(r.get("closed") or 0 for r in runs)
            if e:
                text = (f"{scen} on {w}: {e:,} errors over {len(runs)} runs (sio-bench's count: clients that did "
                        f"not connect or were closed{f'; {closed:,} closed by the server' if closed else ''}).")
                (misses if w == "sio" else notes).append(text)

    # sweep
    sweep = []
    for c in d.clients_of("sweep"):
        srate = next((offered_of(r) for r in d.sel("sweep", "sio", c) + d.sel("sweep", "node", c)
                      if offered_of(r)), m.get("sweep_rate"))
        sweep.append({
            "clients": c, "offered": (srate or 0) * c,
            "sio_d": d.med("sweep", "sio", "deliveries_per_s", c), "sio_p99": d.med("sweep", "sio", "p99_ms", c),
            "sio_p50": d.med("sweep", "sio", "p50_ms", c), "sio_share": d.med_fn("sweep", "sio", share, c),
            "node_d": d.med("sweep", "node", "deliveries_per_s", c), "node_p99": d.med("sweep", "node", "p99_ms", c),
            "node_p50": d.med("sweep", "node", "p50_ms", c), "node_share": d.med_fn("sweep", "node", share, c),
            "runs": runs_note("sweep", c),
            "sio_sat": any(saturated(r, srate) for r in ok_runs(d.sel("sweep", "sio", c))),
        })
    for p in sweep:
        if p["sio_share"] is not None and p["sio_share"] >= 0.99 and p["sio_p99"] is not None and p["sio_p99"] >= 50:
            misses.append(f"Sweep: with {num(p['clients'])} clients sio delivered everything but its p99 was "
                          f"{num(p['sio_p99'])} ms (≥ 50 ms).")

    # ---- markdown
    L = []
    L.append(BEGIN)
    L.append("")
    L.append(f"Run of {m.get('date', '?')}" + (" — **QUICK smoke run, not the reference figures**" if m.get("quick") else "") + ".")
    L.append("")
    L.append("### Machine and versions")
    L.append("")
    L.append(f"- {m.get('nproc')} CPUs: {m.get('cpu_model')}; {m.get('mem_gb')} GB RAM; "
             f"Linux {m.get('kernel')}, Debian {m.get('debian')}; open files per process: {m.get('nofile')}")
    L.append(f"- sio {m.get('sio_commit')}, meson buildtype `{m.get('buildtype')}`, {m.get('cc')}"
             + ("" if m.get("build_current") in (None, True) else "; **the build was older than the sources**")
             + (f"; modified, not committed: {', '.join('`' + f + '`' for f in m['dirty_files'])}" if m.get("dirty_files") else ""))
    L.append(f"- Node.js {m.get('node')}, socket.io {m.get('socket_io')} (`tests/e2e/ref/`)")
    L.append(f"- {m.get('rounds')} round{'s' if m.get('rounds') != 1 else ''}, sio and Node alternating; medians over the rounds. "
             + ("Server pinned to CPU 1, sio-bench to CPU 0 (`taskset`)." if m.get("pin") else "No CPU pinning."))
    L.append(f"- Command: `{m.get('command')}`"
             + (f"; the TLS rows: `{d.tls_meta.get('command')}` ({d.tls_meta.get('date')})"
                if d.tls_meta is not None and d.tls_meta is not m else ""))
    L.append(f"- Parameters: `{m.get('params')}`")
    L.append("")
    L.append("### Results")
    L.append("")
    L.append("Ratio is sio ÷ Node. Medians over the rounds; failed runs are left out of the medians.")
    L.append("")
    L.append("| Scenario | Metric | sio | Node | Ratio | Target | Met? | Runs |")
    L.append("|---|---|--:|--:|--:|---|---|---|")
    last = None
    for scen, metric, s, n, r, target, ok, runs in rows:
        L.append(f"| {scen if scen != last else ''} | {metric} | {s} | {n} | {r} | {target} | {ok} | {runs} |")
        last = scen
    L.append("")
    L.append("### Misses")
    L.append("")
    if misses:
        for x in misses:
            L.append(f"- {x}")
    else:
        L.append("- None: every target above is met and every sio run completed without errors.")
    L.append("")
    if notes:
        L.append("### Notes")
        L.append("")
        for x in notes:
            L.append(f"- {x}")
        L.append("")
    if sweep:
        srate = m.get("sweep_rate")
        L.append("### Fan-out against the number of clients")
        L.append("")
        L.append(f"Chat servers, {num(srate)} messages/s offered in all (10 senders), each message delivered to every client.")
        L.append("")
        L.append(f"![deliveries/s and p99 latency against clients, sio and Node]({png_name})")
        L.append("")
        L.append("“≥”: sio delivered all that was offered, so the ratio is a lower bound.")
        L.append("")
        L.append("| Clients | Offered deliveries/s | sio deliveries/s | sio delivered | sio p50 / p99 (ms) "
                 "| Node deliveries/s | Node delivered | Node p50 / p99 (ms) | Ratio | Runs |")
        L.append("|--:|--:|--:|--:|--:|--:|--:|--:|--:|---|")
        for p in sweep:
            L.append(f"| {num(p['clients'])} | {num(p['offered'])} | {num(p['sio_d'])} | {pct(p['sio_share'])} | "
                     f"{num(p['sio_p50'])} / {num(p['sio_p99'])} | {num(p['node_d'])} | {pct(p['node_share'])} | "
                     f"{num(p['node_p50'])} / {num(p['node_p99'])} | {'' if p['sio_sat'] else '≥ '}"
                     f"{fmt_ratio(ratio(p['sio_d'], p['node_d']))} | {p['runs']} |")
        L.append("")
    if scale_pts:
        L.append("### sio's memory against connections")
        L.append("")
        L.append("| Clients | server RSS (MB), median | runs |")
        L.append("|--:|--:|---|")
        for c in scale_pts:
            v = d.med_fn("scale", "sio", lambda r: r.get("rss_after_kb") and r["rss_after_kb"] / 1024, c)
            L.append(f"| {num(c)} | {num(v)} | {d.status('scale', 'sio', c)} |")
        L.append("")
        if fit:
            a, b, r2 = fit
            L.append(f"Least-squares fit over every run: RSS ≈ {num(a / 2 ** 20)} MB + {num(b)} B × connections "
                     f"(R² {r2:.4f}); at 1,000,000 connections that is about {num((a + b * 1e6) / 2 ** 30)} GB, "
                     "the kernel's own socket buffers not included.")
            L.append("")
    L.append("<details><summary>Every run</summary>")
    L.append("")
    L.append("| Scenario | Server | Round | Clients | events/s | deliveries/s | connects/s | p50 ms | p99 ms "
             "| max ms | RSS/client B | connect phase s | pings on time | errors | other load (of a CPU) | status |")
    L.append("|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|---|--:|--:|---|")
    for r in d.runs:
        L.append(f"| {r.get('scenario')} | {r.get('server')} | {r.get('round')} | {num(r.get('clients'))} | "
                 f"{num(r.get('events_per_s'))} | {num(r.get('deliveries_per_s'))} | {num(r.get('connects_per_s'))} | "
                 f"{num(r.get('p50_ms'))} | {num(r.get('p99_ms'))} | {num(r.get('max_ms'))} | "
                 f"{num(r.get('rss_per_client_b'))} | {num(r.get('connect_phase_s'))} | "
                 f"{ {True: 'yes', False: '**no**'}.get(r.get('heartbeats_ok'), '—') } | "
                 f"{num(r.get('errors'))} | {pct(other_load(r))} | {r.get('failed') or 'ok'} |")
    L.append("")
    L.append("</details>")
    L.append("")
    L.append("<details><summary>The exact commands (first round)</summary>")
    L.append("")
    seen = set()
    for r in d.runs:
        key = (r.get("scenario"), r.get("server"), r.get("clients"))
        if key in seen or r.get("round") != 1:
            continue
        seen.add(key)
        L.append(f"- {r.get('scenario')}, {r.get('server')}: server `{r.get('server_cmd')}`; "
                 f"load `{r.get('bench_cmd')}`")
    L.append("")
    L.append("</details>")
    L.append("")
    L.append(END)
    return "\n".join(L) + "\n", sweep


DEFAULT_DOC = """# Benchmarks

sio against Node's socket.io, side by side, on the same machine, driven by
the same load generator (`tests/bench/sio-bench`). `make bench` (or
`tests/bench/compare.sh`) reruns everything and rewrites the part below.

""" + BEGIN + "\n" + END + "\n"


def cmd_report(a):
    lines = []
    with open(a.jsonl) as f:
        for text in f:
            text = text.strip()
            if text:
                lines.append(json.loads(text))
    d = Data(lines)
    section, sweep = build(d, os.path.basename(a.png))
    doc = None
    for path in (a.md, a.template):
        if path and os.path.exists(path):
            with open(path) as f:
                doc = f.read()
            if BEGIN in doc and END in doc:
                break
            doc = None
    if doc is None:
        doc = DEFAULT_DOC
    i, j = doc.index(BEGIN), doc.index(END) + len(END)
    doc = doc[:i] + section.rstrip("\n") + doc[j:]
    with open(a.md, "w") as f:
        f.write(doc)
    with open(a.plot_data, "w") as f:
        f.write("# clients offered sio_deliv sio_p99 node_deliv node_p99 sio_p50 node_p50\n")
        for p in sweep:
            vals = [p["clients"], p["offered"], p["sio_d"], p["sio_p99"], p["node_d"], p["node_p99"], p["sio_p50"], p["node_p50"]]
            f.write(" ".join("NaN" if v is None else f"{v:g}" for v in vals) + "\n")


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("meta")
    for k in ("root", "build", "rounds", "quick", "pin", "nofile", "command", "params", "fan-rate", "sweep-rate", "poll-rate"):
        p.add_argument("--" + k, required=True)
    for k in ("scenarios", "tls-cert-desc", "tls-params"):
        p.add_argument("--" + k)
    p = sub.add_parser("merge")
    p.add_argument("--old", required=True)
    p.add_argument("--new", required=True)
    p = sub.add_parser("record")
    for k in ("scenario", "server", "round", "rc", "t0", "t1", "server-died", "bench-cmd", "server-cmd", "args"):
        p.add_argument("--" + k, required=True)
    p.add_argument("--stderr")
    p.add_argument("--server-stderr")
    p.add_argument("--other-cpu")
    p.add_argument("--discard")
    sub.add_parser("brief")
    p = sub.add_parser("cpu-others")
    p.add_argument("--self", required=True)
    p = sub.add_parser("report")
    for k in ("jsonl", "md", "png", "plot-data"):
        p.add_argument("--" + k, required=True)
    p.add_argument("--template")
    a = ap.parse_args()
    {"meta": cmd_meta, "record": cmd_record, "brief": cmd_brief, "report": cmd_report, "merge": cmd_merge,
     "cpu-others": cmd_cpu_others}[a.cmd](a)


if __name__ == "__main__":
    main()
