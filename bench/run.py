#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""ioreq-lend benchmarks on the simulated Xen (`make bench`, `make bench-smoke`).

Runs every benchmark of bench/README.md REPS times, interleaved (repetition
1 of everything, then repetition 2, ...), so that a noisy moment of the
machine hits all of them alike; every comparison is a ratio of two figures
measured in the same repetition, reported as the median over repetitions
with its min and max. Writes bench/results/latest.json and the .dat files
the gnuplot scripts in bench/plots/ draw, then prints a table.

    bench/run.py [--profile full|smoke] [--reps N] [--only NAME,...] [--no-plots]
"""
import argparse
import json
import os
import platform
import re
import resource
import shutil
import statistics
import string
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BENCH = os.path.join(ROOT, "bench")
SCN = os.path.join(BENCH, "scenarios")
PLOTS = os.path.join(BENCH, "plots")
BUILD = os.environ.get("BUILD", os.path.join(ROOT, "build"))
XENSIM = os.path.join(BUILD, "xensim")
UFFD_ANCHOR = os.path.join(BUILD, "bench", "uffd_anchor")
BELADY = os.path.join(BUILD, "bench", "belady")
PAGE_IN = os.path.join(BUILD, "bench", "page_in")

KIB, MIB, GIB = 1 << 10, 1 << 20, 1 << 30

# Sizes. full: `make bench` (under 10 minutes on 2 cores); smoke: CI, one
# repetition, under 2 minutes, the same JSON keys.
PROFILES = {
    "full": {
        "reps": 5,
        "lat_bar": "64M",            # 16384 discarded pages touched, one fault each
        "uffd_pages": 16384, "uffd_rounds": 2,
        # The 1 GiB window at the default fault-around (the headline ratio);
        # the fault-around sweep on 256 MiB: at 4K a 1 GiB scan is 262144 ACCESS
        # round trips, 20 to 40 s per repetition here, and the per-page cost is
        # linear (the 64K point is measured at both sizes to show it).
        "cold_bar": "1G", "cold_sweep_bar": "256M",
        "cold_fa": ["4K", "16K", "64K", "256K", "2M"],
        "le_len": "64M",
        "vc_bar": "32M", "vcpus": [1, 2, 4, 8],
        "win_window": "1M", "win_count": 10000,
        "fp_bars": ["1G", "8G", "64G"],
        "storm_bar": "256M", "storm_rounds": 8,
        # aging_cost: native work with and without the simulated accessed bits.
        "ac_bar": "64M", "ac_rounds": 8, "ac_words": 1000000, "ac_pairs": 3,
        # bar_size_cost_ratio: the same faults and config writes at these two BAR sizes.
        "bs_bars": ["16M", "64G"], "bs_touches": 4096, "bs_window": "1M", "bs_cycles": 8,
    },
    "smoke": {
        "reps": 1,
        "lat_bar": "8M",
        "uffd_pages": 2048, "uffd_rounds": 1,
        "cold_bar": "64M", "cold_sweep_bar": "32M",
        "cold_fa": ["4K", "64K", "2M"],
        "le_len": "8M",
        "vc_bar": "8M", "vcpus": [1, 2, 4, 8],
        "win_window": "256K", "win_count": 4000,
        "fp_bars": ["1G", "8G", "64G"],
        "storm_bar": "32M", "storm_rounds": 2,
        "ac_bar": "16M", "ac_rounds": 2, "ac_words": 100000, "ac_pairs": 1,
        "bs_bars": ["16M", "64G"], "bs_touches": 1024, "bs_window": "256K", "bs_cycles": 2,
    },
}
# Where bar_size moves the BAR: above RAM, aligned for the largest BAR.
BS_MOVE_TO = 0x2000000000

TRACES = [  # name, kind, working set as a multiple of the window
    ("loop-2x", "loop", 2), ("loop-4x", "loop", 4),
    ("zipf-2x", "zipf", 2), ("zipf-4x", "zipf", 4),
]
# The daemon's eviction policies (--eviction; the default first) and the
# offline model of each (bench/belady.c runs evict.c itself).
POLICIES = [("tinylfu", "tinylfu"), ("clock", "clock_aged")]
ZIPF_S = 100   # exponent 1.0, in hundredths (trace.h)
TRACE_SEED = 1


def size_bytes(s):
    m = re.fullmatch(r"(\d+)([KMGT]?)", s)
    if not m:
        raise ValueError(s)
    return int(m.group(1)) << {"": 0, "K": 10, "M": 20, "G": 30, "T": 40}[m.group(2)]


def size_name(n):
    for unit, shift in (("G", 30), ("M", 20), ("K", 10)):
        if n >= 1 << shift and n % (1 << shift) == 0:
            return "%d%s" % (n >> shift, unit)
    return str(n)


def default_fault_around():
    """DEFAULT_FAULT_AROUND as ioreq-lend/daemon.c defines it."""
    src = open(os.path.join(ROOT, "ioreq-lend", "daemon.c")).read()
    m = re.search(r"#define\s+DEFAULT_FAULT_AROUND\s+\((\d+)ULL\s*<<\s*(\d+)\)", src)
    if not m:
        raise SystemExit("bench: cannot find DEFAULT_FAULT_AROUND in ioreq-lend/daemon.c")
    return size_name(int(m.group(1)) << int(m.group(2)))


class Bench:
    def __init__(self, profile, reps, tmp):
        self.p = PROFILES[profile]
        self.profile = profile
        self.reps = reps
        self.tmp = tmp
        self.errors = []
        self.seconds = {}   # wall time spent per benchmark
        self.raw = {}       # benchmark -> list (one entry per repetition)

    # ---- running things ----

    def scenario(self, name, out_name, **subst):
        text = string.Template(open(os.path.join(SCN, name + ".scn")).read()).substitute(subst)
        path = os.path.join(self.tmp, out_name + ".scn")
        with open(path, "w") as f:
            f.write(text)
        return path

    @staticmethod
    def children_ctxsw():
        """Voluntary and involuntary context switches of every reaped descendant so
        far (getrusage(RUSAGE_CHILDREN)): for a finished xensim run, every thread it
        ever had, exited ones included, and the daemon, which xensim reaps (wait4)."""
        r = resource.getrusage(resource.RUSAGE_CHILDREN)
        return r.ru_nvcsw, r.ru_nivcsw

    def xensim(self, bench, path):
        t0 = time.monotonic()
        c0 = self.children_ctxsw()
        try:
            r = subprocess.run([XENSIM, "--json", path], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, timeout=600)
        except subprocess.TimeoutExpired:
            self.errors.append("%s: %s timed out" % (bench, os.path.basename(path)))
            return None
        finally:
            self.seconds[bench] = self.seconds.get(bench, 0) + time.monotonic() - t0
        c1 = self.children_ctxsw()
        lines = r.stdout.strip().splitlines()
        try:
            d = json.loads(lines[-1])
        except (IndexError, ValueError):
            self.errors.append("%s: %s printed no JSON (exit %d): %s" % (
                bench, os.path.basename(path), r.returncode, r.stderr.strip()[-500:]))
            return None
        if not d.get("ok") or r.returncode != 0:
            self.errors.append("%s: %s failed: %s" % (
                bench, os.path.basename(path), "; ".join(d.get("failures", []))[:500]))
            return None
        d["_ctxsw"] = {"voluntary": c1[0] - c0[0], "involuntary": c1[1] - c0[1]}
        return d

    def program(self, bench, argv):
        t0 = time.monotonic()
        c0 = self.children_ctxsw()
        try:
            r = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               timeout=120)
        except subprocess.TimeoutExpired:
            self.errors.append("%s: %s timed out" % (bench, " ".join(argv)))
            return None
        finally:
            self.seconds[bench] = self.seconds.get(bench, 0) + time.monotonic() - t0
        if r.returncode != 0:
            self.errors.append("%s: %s failed: %s" % (bench, os.path.basename(argv[0]),
                                                       r.stderr.strip()))
            return None
        c1 = self.children_ctxsw()
        out = json.loads(r.stdout.strip().splitlines()[-1])
        out["_ctxsw"] = {"voluntary": c1[0] - c0[0], "involuntary": c1[1] - c0[1]}
        return out

    def add(self, bench, value):
        self.raw.setdefault(bench, []).append(value)

    # ---- the benchmarks, one repetition each ----

    def fault_latency(self, rep):
        bar = self.p["lat_bar"]
        pages = size_bytes(bar) // 4096
        d = self.xensim("fault_latency", self.scenario(
            "fault-latency", "fault-latency-%d" % rep, BAR=bar, PAGES=pages))
        # context_switches_per_fault: the same run without its touch, right after.
        idle = self.xensim("fault_latency", self.scenario(
            "fault-latency-idle", "fault-latency-idle-%d" % rep, BAR=bar))
        u = self.program("fault_latency", [UFFD_ANCHOR, "--pages", str(self.p["uffd_pages"]),
                                           "--rounds", str(self.p["uffd_rounds"])])
        if not d or not u or not idle:
            return
        run_cs, idle_cs = d["_ctxsw"], idle["_ctxsw"]
        dvol = run_cs["voluntary"] - idle_cs["voluntary"]
        dinv = run_cs["involuntary"] - idle_cs["involuntary"]
        self.add("fault_latency", {
            "faults": pages,
            "p50_us": d["hv"]["access_p50_us"],
            "p99_us": d["hv"]["access_p99_us"],
            "guest_mean_us": d["time_us"]["fault"] / pages,
            "hist": d["latency_hist_ns"]["access"],
            "uffd_p50_us": u["hist_p50_us"], "uffd_p99_us": u["hist_p99_us"],
            "uffd_p50_exact_us": u["p50_us"], "uffd_p99_exact_us": u["p99_us"],
            "uffd_mean_us": u["mean_us"], "uffd_samples": u["samples"],
            "uffd_hist": u["hist"],
            "ratio_p50": d["hv"]["access_p50_us"] / u["hist_p50_us"],
            "ratio_p99": d["hv"]["access_p99_us"] / u["hist_p99_us"],
            "ratio_mean": (d["time_us"]["fault"] / pages) / u["mean_us"],
            "ctxsw_run": run_cs, "ctxsw_idle": idle_cs,
            "context_switches_per_fault": (dvol + dinv) / pages,
            "voluntary_per_fault": dvol / pages, "involuntary_per_fault": dinv / pages,
            # The anchor's whole process (setup included) over its faults: an upper bound.
            "uffd_context_switches_per_fault":
                (u["_ctxsw"]["voluntary"] + u["_ctxsw"]["involuntary"]) / u["samples"],
        })

    def cold_scan_one(self, rep, bar, fa, ra):
        nbytes = size_bytes(bar)
        d = self.xensim("cold_scan", self.scenario(
            "cold-scan", "cold-scan-%s-%s-%s-%d" % (bar, fa, ra, rep), BAR=bar, FA=fa, RA=ra))
        if not d:
            return None
        t = d["time_us"]
        native = statistics.median([t["native1"], t["native2"], t["native3"]])
        return {
            "cold_mib_s": nbytes / MIB / (t["cold"] / 1e6),
            "native_mib_s": nbytes / MIB / (native / 1e6),
            "ratio_vs_native": native / t["cold"],
            "ioreqs": d["hv"]["ioreq_access"],
            "ioreqs_per_mib": d["hv"]["ioreq_access"] / (nbytes / MIB),
            "fault_p50_us": d["hv"]["access_p50_us"],
            "fault_p99_us": d["hv"]["access_p99_us"],
            "cold_s": t["cold"] / 1e6,
        }

    def cold_scan(self, rep):
        # The sweep compares what one fault maps: readahead off. The headline
        # runs at the defaults (readahead on), and again with it off.
        out = {fa: self.cold_scan_one(rep, self.p["cold_sweep_bar"], fa, "off")
               for fa in self.fault_arounds}
        out = {fa: v for fa, v in out.items() if v}
        head = self.cold_scan_one(rep, self.p["cold_bar"], self.default_fa, "on")
        head_off = self.cold_scan_one(rep, self.p["cold_bar"], self.default_fa, "off")
        # page_in_mib_s: the same pages paged in by the host without the guest.
        pin = self.program("cold_scan", [PAGE_IN, "--size", str(size_bytes(self.p["cold_bar"]))])
        lim = None
        if pin and head:
            pin.pop("_ctxsw", None)
            lim = head["cold_mib_s"] / min(head["native_mib_s"], pin["page_in_mib_s"])
        self.add("cold_scan", {"sweep": out, "headline": head, "headline_ra_off": head_off,
                               "page_in": pin, "ratio_vs_limit": lim})

    def lend_vs_emulate(self, rep):
        n = self.p["le_len"]
        d = self.xensim("lend_vs_emulate", self.scenario(
            "lend-vs-emulate", "lend-vs-emulate-%d" % rep, LEN=n))
        if not d:
            return
        t, mib = d["time_us"], size_bytes(n) / MIB
        self.add("lend_vs_emulate", {
            "emulate_mib_s": mib / (t["emulate"] / 1e6),
            "lend_cold_mib_s": mib / (t["lend_cold"] / 1e6),
            "lend_warm_mib_s": mib / (t["lend_warm"] / 1e6),
            "speedup_cold": t["emulate"] / t["lend_cold"],
            "speedup_warm": t["emulate"] / t["lend_warm"],
            "emulate_copy_ioreqs": d["hv"]["ioreq_copy"],
        })

    def many_vcpus(self, rep):
        bar = self.p["vc_bar"]
        nbytes = size_bytes(bar)
        out = {}
        for n in self.p["vcpus"]:
            per = nbytes // n
            lines = "\n".join("vcpu %d touch off=%d len=%d label=v%d" % (i, i * per, per, i)
                              for i in range(n))
            d = self.xensim("many_vcpus", self.scenario(
                "many-vcpus", "many-vcpus-%d-%d" % (n, rep), N=n, BAR=bar,
                TOUCH_LINES=lines, PAGES=nbytes // 4096))
            if not d:
                continue
            wall = max(d["time_us"]["v%d" % i] for i in range(n)) / 1e6
            out[str(n)] = {
                "remaps_per_s": d["kern"]["pages_mapped"] / wall,
                "fault_p50_us": d["hv"]["access_p50_us"],
                "fault_p99_us": d["hv"]["access_p99_us"],
            }
        self.add("many_vcpus", out)

    def window(self, rep):
        wbytes = size_bytes(self.p["win_window"])
        wpages = wbytes // 4096
        out = {}
        for name, kind, mult in TRACES:
            ws = wbytes * mult
            bar = 1 << (ws - 1).bit_length()
            if name not in self.offline:
                self.offline[name] = self.program("window", [
                    BELADY, "--kind", kind, "--pages", str(ws // 4096), "--s", str(ZIPF_S),
                    "--seed", str(TRACE_SEED), "--count", str(self.p["win_count"]),
                    "--window", str(wpages), "--bar-pages", str(bar // 4096)])
            off = self.offline[name]
            for policy, model in POLICIES:
                d = self.xensim("window", self.scenario(
                    "window", "window-%s-%s-%d" % (name, policy, rep), BAR=size_name(bar),
                    WINDOW=self.p["win_window"], WINDOW_PAGES=wpages, WS=size_name(ws), KIND=kind,
                    S=ZIPF_S, SEED=TRACE_SEED, COUNT=self.p["win_count"], EVICTION=policy))
                if not d or not off:
                    continue
                misses = d["hv"]["ioreq_access"]
                if misses != off[model]:
                    self.errors.append("window %s: the daemon (--eviction %s) missed %d times, "
                                       "the offline model of it %d: the replay is not the guest's "
                                       "trace, or the aging differs"
                                       % (name, policy, misses, off[model]))
                r = {"daemon": misses, "vs_opt": misses / off["opt"],
                     "vs_oracle": misses / off["oracle"],
                     "evicted": d["kern"]["pages_evicted"], "age_calls": d["kern"]["age_calls"]}
                if policy == POLICIES[0][0]:
                    out[name] = r
                out.setdefault("by_policy", {}).setdefault(name, {})[policy] = r
        self.add("window", out)

    def aging_cost(self, rep):
        """Native guest work with the simulated accessed bits (lend=on) and without
        (lend=rev2), alternating, ac_pairs times: the ratio of medians."""
        bar, rounds = self.p["ac_bar"], self.p["ac_rounds"]
        line = "vcpu 0 memcpy-out off=0 len=%s check=off label=s%%d" % bar
        runs = {"on": [], "rev2": []}
        for i in range(self.p["ac_pairs"]):
            for lend in (("on", "rev2") if i % 2 == 0 else ("rev2", "on")):
                d = self.xensim("aging_cost", self.scenario(
                    "aging-cost", "aging-cost-%s-%d-%d" % (lend, rep, i), BAR=bar, LEND=lend,
                    WORDS=self.p["ac_words"], ROUNDS=rounds,
                    STREAM_ROUNDS="\n".join(line % k for k in range(rounds))))
                if not d:
                    return
                t = d["time_us"]
                runs[lend].append({
                    "stream_mib_s": size_bytes(bar) / MIB * rounds /
                    (sum(t["s%d" % k] for k in range(rounds)) / 1e6),
                    "words_per_us": self.p["ac_words"] / t["words"]})
        out = {}
        for k in ("stream_mib_s", "words_per_us"):
            on = statistics.median(r[k] for r in runs["on"])
            off = statistics.median(r[k] for r in runs["rev2"])
            out[k] = {"abits": on, "no_abits": off, "ratio": on / off}
        self.add("aging_cost", out)

    def footprint(self, rep):
        pts, maxrss = {}, {}
        for bar in self.p["fp_bars"]:
            d = self.xensim("footprint", self.scenario(
                "footprint", "footprint-%s-%d" % (bar, rep), BAR=bar))
            if d:
                # VmHWM as the harness stopped the daemon; ru_maxrss (peak_rss_kb) also
                # counts xensim's pages the child shared before exec (posix_spawn).
                hwm = d["proc"].get("hwm_kb", -1)
                pts[bar] = hwm if hwm > 0 else d["proc"]["peak_rss_kb"]
                maxrss[bar] = d["proc"]["peak_rss_kb"]
        if len(pts) < 2:
            return
        xs = [size_bytes(b) / GIB for b in pts]
        ys = list(pts.values())
        mx, my = statistics.mean(xs), statistics.mean(ys)
        slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sum((x - mx) ** 2 for x in xs)
        self.add("footprint", {"rss_kb": pts, "ru_maxrss_kb": maxrss, "kb_per_gib": slope,
                               "intercept_kb": my - slope * mx})

    def storm(self, rep):
        bar, rounds = self.p["storm_bar"], self.p["storm_rounds"]
        line = "vcpu 0 memcpy-out off=0 len=%s check=off label=%%s%%d" % bar
        d = self.xensim("storm", self.scenario(
            "storm", "storm-%d" % rep, BAR=bar, ROUNDS=rounds,
            BASE_ROUNDS="\n".join(line % ("b", i) for i in range(rounds)),
            STORM_ROUNDS="\n".join(line % ("s", i) for i in range(rounds))))
        if not d:
            return
        t = d["time_us"]
        mib = size_bytes(bar) / MIB * rounds
        base = sum(t["b%d" % i] for i in range(rounds)) / 1e6
        under = sum(t["s%d" % i] for i in range(rounds)) / 1e6
        secs = d["mm"]["storm_seconds"]
        self.add("storm", {
            "invalidations_per_s": d["mm"]["storm_invalidations"] / secs,
            "invalidations": d["mm"]["storm_invalidations"],
            "storm_s": secs,
            "guest_mib_s_base": mib / base,
            "guest_mib_s_storm": mib / under,
            "guest_slowdown": under / base,
            "pages_invalidated": d["kern"]["pages_invalidated"],
        })

    def bar_size(self, rep):
        """The same faults and config writes at a small and a large BAR, same window."""
        out = {}
        touches, cycles = self.p["bs_touches"], self.p["bs_cycles"]
        wbytes = size_bytes(self.p["bs_window"])
        for bar in self.p["bs_bars"]:
            nbytes = size_bytes(bar)
            lines = "\n".join(
                "config-write bdf=00:1f.0 off=4 size=2 value=0 label=off%d\n"
                "config-write bdf=00:1f.0 off=4 size=2 value=2 label=on%d" % (i, i)
                for i in range(cycles))
            d = self.xensim("bar_size", self.scenario(
                "bar-size", "bar-size-%s-%d" % (bar, rep), BAR=bar,
                STRIDE=size_name(nbytes // touches), TOUCHES=touches, FAULTS=2 * touches,
                WINDOW=self.p["bs_window"], WINDOW_PAGES=wbytes // 4096, CYCLES=cycles,
                CONFIG_LINES=lines, MOVE_TO="0x%x" % BS_MOVE_TO))
            if not d:
                continue
            t = d["time_us"]
            out[bar] = {
                "fault_p50_us": d["hv"]["access_p50_us"],
                "fault_p99_us": d["hv"]["access_p99_us"],
                # one off+on pair: decoding off (the slot goes), on (every resident page again)
                "config_write_us": statistics.median(t["off%d" % i] + t["on%d" % i]
                                                     for i in range(cycles)) / 2,
                "config_off_us": statistics.median(t["off%d" % i] for i in range(cycles)),
                "config_on_us": statistics.median(t["on%d" % i] for i in range(cycles)),
                "move_us": t["move"],
            }
        small, large = self.p["bs_bars"]
        if small in out and large in out:
            out["ratio"] = {k: out[large][k] / out[small][k] for k in (
                "fault_p50_us", "fault_p99_us", "config_write_us", "config_off_us",
                "config_on_us", "move_us")}
        self.add("bar_size", out)

    # ---- driving ----

    def run(self, only):
        self.default_fa = default_fault_around()
        self.fault_arounds = list(self.p["cold_fa"])
        if self.default_fa not in self.fault_arounds:
            self.fault_arounds.append(self.default_fa)
        self.fault_arounds.sort(key=size_bytes)
        self.offline = {}
        order = [("fault_latency", self.fault_latency), ("cold_scan", self.cold_scan),
                 ("lend_vs_emulate", self.lend_vs_emulate), ("many_vcpus", self.many_vcpus),
                 ("window", self.window), ("aging_cost", self.aging_cost), ("footprint", self.footprint), ("storm", self.storm),
                 ("bar_size", self.bar_size)]
        for rep in range(1, self.reps + 1):
            for name, fn in order:
                if only and name not in only:
                    continue
                t0 = time.monotonic()
                fn(rep)
                print("bench: repetition %d/%d %-16s %6.1f s" % (
                    rep, self.reps, name, time.monotonic() - t0), file=sys.stderr, flush=True)


def stats(values):
    values = [v for v in values if v is not None]
    if not values:
        return None
    return {"median": statistics.median(values), "min": min(values), "max": max(values),
            "n": len(values)}


def med(values):
    s = stats(values)
    return s["median"] if s else None


def sum_hists(hists):
    tot = {}
    for h in hists:
        for ns, n in h:
            tot[ns] = tot.get(ns, 0) + n
    return sorted(tot.items())


def machine():
    model = "unknown"
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem_kb = 0
    try:
        for line in open("/proc/meminfo"):
            if line.startswith("MemTotal:"):
                mem_kb = int(line.split()[1])
    except OSError:
        pass
    virt = ""
    if shutil.which("systemd-detect-virt"):
        virt = subprocess.run(["systemd-detect-virt"], stdout=subprocess.PIPE,
                              stderr=subprocess.DEVNULL, text=True).stdout.strip()
    if os.path.exists("/proc/cmdline") and "firecracker" in open("/proc/cmdline").read().lower():
        virt = virt + " (Firecracker)" if virt and virt != "none" else "Firecracker"
    return {"nproc": os.cpu_count(), "cpu": model, "kernel": platform.release(),
            "mem_gib": round(mem_kb / (1 << 20), 1), "virtualization": virt or "none",
            "loadavg_start": os.getloadavg()[0]}


def build_json(b, mach, elapsed):
    """Medians at the top level (the issue's keys), every repetition under details."""
    R = b.raw
    res = {}
    spread = {}
    details = {}

    def put(key, values, digits=3):
        s = stats(values)
        res[key] = round(s["median"], digits) if s else None
        if s:
            spread[key] = {k: (round(v, digits) if isinstance(v, float) else v)
                           for k, v in s.items()}

    fl = R.get("fault_latency", [])
    put("fault_latency_us_p50", [r["p50_us"] for r in fl])
    put("fault_latency_us_p99", [r["p99_us"] for r in fl])
    put("uffd_latency_us_p50", [r["uffd_p50_us"] for r in fl])
    put("fault_latency_ratio_vs_uffd", [r["ratio_p50"] for r in fl])
    put("context_switches_per_fault", [r["context_switches_per_fault"] for r in fl], 2)

    cs = R.get("cold_scan", [])
    dfa = b.default_fa
    heads = [r["headline"] for r in cs if r["headline"]]
    put("cold_scan_ratio_vs_native", [h["ratio_vs_native"] for h in heads], 4)
    put("ioreqs_per_mib_cold_scan", [h["ioreqs_per_mib"] for h in heads])
    put("page_in_mib_s", [r["page_in"]["page_in_mib_s"] for r in cs if r.get("page_in")], 1)
    put("cold_scan_ratio_vs_limit", [r["ratio_vs_limit"] for r in cs], 4)

    le = R.get("lend_vs_emulate", [])
    put("lend_vs_emulate_speedup", [r["speedup_cold"] for r in le], 2)

    vc = R.get("many_vcpus", [])
    res["remaps_per_s_by_vcpus"] = {}
    for n in b.p["vcpus"]:
        s = stats([r[str(n)]["remaps_per_s"] for r in vc if str(n) in r])
        res["remaps_per_s_by_vcpus"][str(n)] = round(s["median"]) if s else None
        if s:
            spread["remaps_per_s_by_vcpus.%d" % n] = {k: round(v) for k, v in s.items()}

    wi = R.get("window", [])
    res["eviction_vs_opt"] = {}
    res["eviction_vs_oracle"] = {}
    for name, _, _ in TRACES:
        s = stats([r[name]["vs_opt"] for r in wi if name in r])
        res["eviction_vs_opt"][name] = round(s["median"], 3) if s else None
        s = stats([r[name]["vs_oracle"] for r in wi if name in r])
        res["eviction_vs_oracle"][name] = round(s["median"], 3) if s else None

    ac = R.get("aging_cost", [])
    for k in ("stream_mib_s", "words_per_us"):
        s = stats([r[k]["ratio"] for r in ac])
        if s:
            spread["aging_cost_ratio.%s" % k] = s

    fp = R.get("footprint", [])
    put("dm_rss_kb_per_gib", [r["kb_per_gib"] for r in fp], 1)

    st = R.get("storm", [])
    put("storm_invalidations_per_s", [r["invalidations_per_s"] for r in st], 0)

    bs = [r["ratio"] for r in R.get("bar_size", []) if "ratio" in r]
    res["bar_size_cost_ratio"] = {}
    for key, field in (("fault_p50", "fault_p50_us"), ("config_write", "config_write_us")):
        sv = stats([r[field] for r in bs])
        res["bar_size_cost_ratio"][key] = round(sv["median"], 3) if sv else None
        if sv:
            spread["bar_size_cost_ratio." + key] = {k: (round(v, 3) if isinstance(v, float)
                                                        else v) for k, v in sv.items()}

    # ---- details: everything behind the headline numbers ----
    details["fault_latency"] = {
        "faults_per_rep": fl[0]["faults"] if fl else None,
        "ours_p50_us": stats([r["p50_us"] for r in fl]),
        "ours_p99_us": stats([r["p99_us"] for r in fl]),
        "ours_guest_mean_us": stats([r["guest_mean_us"] for r in fl]),
        "uffd_p50_us": stats([r["uffd_p50_us"] for r in fl]),
        "uffd_p99_us": stats([r["uffd_p99_us"] for r in fl]),
        "uffd_p50_exact_us": stats([r["uffd_p50_exact_us"] for r in fl]),
        "uffd_p99_exact_us": stats([r["uffd_p99_exact_us"] for r in fl]),
        "uffd_mean_us": stats([r["uffd_mean_us"] for r in fl]),
        "ratio_p50": stats([r["ratio_p50"] for r in fl]),
        "ratio_p99": stats([r["ratio_p99"] for r in fl]),
        "ratio_mean_guest_vs_uffd": stats([r["ratio_mean"] for r in fl]),
        "hist_ns_ours": sum_hists([r["hist"] for r in fl]),
        "hist_ns_uffd": sum_hists([r["uffd_hist"] for r in fl]),
        "note": "p50/p99: lower edge of the hv_hist bucket (8 per power of two) on both sides",
        "context_switches_per_fault": stats([r["context_switches_per_fault"] for r in fl]),
        "voluntary_per_fault": stats([r["voluntary_per_fault"] for r in fl]),
        "involuntary_per_fault": stats([r["involuntary_per_fault"] for r in fl]),
        "uffd_context_switches_per_fault": stats([r["uffd_context_switches_per_fault"]
                                                  for r in fl]),
        "context_switches_measure": "voluntary + involuntary switches of every thread of xensim "
                                    "and of the daemon (getrusage RUSAGE_CHILDREN around the run: "
                                    "exited threads included) over fault-latency.scn minus the "
                                    "same over fault-latency-idle.scn (no touch), / the faults",
    }
    cold_keys = ("cold_mib_s", "native_mib_s", "ratio_vs_native", "ioreqs_per_mib",
                 "fault_p50_us", "fault_p99_us", "cold_s")
    cold = {}
    for fa in b.fault_arounds:
        rows = [r["sweep"][fa] for r in cs if fa in r["sweep"]]
        cold[fa] = {k: stats([x[k] for x in rows]) for k in cold_keys}
    headline = {k: stats([h[k] for h in heads]) for k in cold_keys}
    heads_off = [r["headline_ra_off"] for r in cs if r.get("headline_ra_off")]
    headline_off = {k: stats([h[k] for h in heads_off]) for k in cold_keys}
    # The default fault-around. In each repetition, each size's slowdown against
    # the best size of that repetition for a sequential scan (cold-scan time)
    # and for random single-page touches (one fault per touch: that size's
    # fault latency); its score is the worse of the two (minimax regret). The
    # size with the lowest median score wins; a smaller size within 10% of it
    # is preferred: a smaller group maps less per fault, wastes less window and
    # holds the daemon's one thread for less time.
    per_fa = {}
    for r in cs:
        sw = r["sweep"]
        if not sw:
            continue
        best_scan = min(v["cold_s"] for v in sw.values())
        best_lat = min(v["fault_p50_us"] for v in sw.values())
        worst = {}
        for fa, v in sw.items():
            sc, rt = v["cold_s"] / best_scan, v["fault_p50_us"] / best_lat
            e = per_fa.setdefault(fa, {"scan": [], "random": [], "worst": [], "best_in": 0})
            e["scan"].append(sc)
            e["random"].append(rt)
            e["worst"].append(max(sc, rt))
            worst[fa] = max(sc, rt)
        per_fa[min(worst, key=worst.get)]["best_in"] += 1
    choice = {fa: {"scan_slowdown": stats(e["scan"]), "random_touch_slowdown": stats(e["random"]),
                   "worst": stats(e["worst"]), "best_in_repetitions": e["best_in"]}
              for fa, e in sorted(per_fa.items(), key=lambda kv: size_bytes(kv[0]))}
    best = lowest = None
    if choice:
        lowest = min(choice, key=lambda fa: (choice[fa]["worst"]["median"], size_bytes(fa)))
        lo = choice[lowest]["worst"]["median"]
        best = next(fa for fa in choice if choice[fa]["worst"]["median"] <= 1.1 * lo)
    pins = [r["page_in"] for r in cs if r.get("page_in")]
    details["cold_scan_limit"] = {
        "window": b.p["cold_bar"],
        "page_in_mib_s": stats([p["page_in_mib_s"] for p in pins]),
        "page_in_fault_only_mib_s": stats([p["fault_only_mib_s"] for p in pins]),
        "page_in_native_mib_s": stats([p["native_mib_s"] for p in pins]),
        "ratio_vs_limit": stats([r["ratio_vs_limit"] for r in cs]),
        "measure": "bench/page_in: a memfd of the window's size mapped twice, evicted as host "
                   "evict does (content to a second memfd, the page poisoned, the guest view "
                   "zapped), then each page in order copied back and read through the zapped "
                   "view (minor fault); ratio_vs_limit = the headline's cold MiB/s / min(its "
                   "native MiB/s, page_in_mib_s), per repetition"}
    details["cold_scan"] = {"window": b.p["cold_bar"], "headline": headline,
                            "headline_readahead_off": headline_off,
                            "readahead": "headline: on (the default); "
                                         "headline_readahead_off and the sweep: off",
                            "sweep_window": b.p["cold_sweep_bar"], "by_fault_around": cold,
                            "default_fault_around": dfa,
                            "fault_around_choice": {
                                "rule": "per repetition: worse of (scan slowdown, random-touch "
                                        "slowdown) vs that repetition's best size; lowest median "
                                        "wins; a smaller size within 10% of it is preferred",
                                "by_size": choice, "lowest_median": lowest,
                                "recommended": best}}
    details["lend_vs_emulate"] = {"len": b.p["le_len"]}
    for k in ("emulate_mib_s", "lend_cold_mib_s", "lend_warm_mib_s", "speedup_cold",
              "speedup_warm", "emulate_copy_ioreqs"):
        details["lend_vs_emulate"][k] = stats([r[k] for r in le])
    details["many_vcpus"] = {"bar": b.p["vc_bar"], "by_vcpus": {
        str(n): {k: stats([r[str(n)][k] for r in vc if str(n) in r])
                 for k in ("remaps_per_s", "fault_p50_us", "fault_p99_us")}
        for n in b.p["vcpus"]}}
    details["window"] = {"window": b.p["win_window"], "count": b.p["win_count"],
                         "zipf_s": ZIPF_S / 100, "seed": TRACE_SEED, "by_trace": {}}
    for name, kind, mult in TRACES:
        off = b.offline.get(name) or {}
        dm = [r[name]["daemon"] for r in wi if name in r]
        details["window"]["by_trace"][name] = {
            "kind": kind, "working_set_x_window": mult,
            # daemon_clock: the daemon's misses with its default policy (the key predates it).
            "misses": {"daemon_clock": stats(dm), "opt": off.get("opt"), "lru": off.get("lru"),
                       "fifo": off.get("fifo"), "clock_offline_model": off.get("clock"),
                       "oracle": off.get("oracle"), "lfu_perfect": off.get("lfu"),
                       "clock_aged_offline_model": off.get("clock_aged"),
                       "tinylfu_offline_model": off.get("tinylfu"),
                       "daemon_by_policy": {
                           p: stats([r["by_policy"][name][p]["daemon"] for r in wi
                                     if name in r.get("by_policy", {})
                                     and p in r["by_policy"][name]])
                           for p, _ in POLICIES}},
            "default_policy": POLICIES[0][0],
            "oracle_vs_opt": round(off["oracle"] / off["opt"], 3) if off.get("opt") else None,
            "lfu_vs_oracle": round(off["lfu"] / off["oracle"], 3) if off.get("oracle") else None,
            "distinct_pages": off.get("distinct"),
            "lru_vs_opt": round(off["lru"] / off["opt"], 3) if off.get("opt") else None,
            "fifo_vs_opt": round(off["fifo"] / off["opt"], 3) if off.get("opt") else None,
        }
    details["footprint"] = {
        "rss_kb_by_bar": {bar: stats([r["rss_kb"].get(bar) for r in fp if bar in r["rss_kb"]])
                          for bar in b.p["fp_bars"]},
        "ru_maxrss_kb_by_bar": {bar: stats([r["ru_maxrss_kb"].get(bar) for r in fp
                                            if bar in r["ru_maxrss_kb"]])
                                for bar in b.p["fp_bars"]},
        "measure": "VmHWM of the daemon as the harness stops it (dm.hwm_kb); slope of a "
                   "least-squares line through the BAR sizes",
        "kb_per_gib": stats([r["kb_per_gib"] for r in fp]),
        "intercept_kb": stats([r["intercept_kb"] for r in fp]),
        "design_kb_per_gib": design_kb_per_gib(dfa),
    }
    details["storm"] = {"bar": b.p["storm_bar"], "rounds": b.p["storm_rounds"]}
    details["aging_cost"] = {
        "bar": b.p["ac_bar"], "rounds": b.p["ac_rounds"], "words": b.p["ac_words"],
        "pairs": b.p["ac_pairs"],
        "measure": "native guest work with the simulated accessed bits (lend=on) over "
                   "without (lend=rev2), median of alternating runs in one repetition",
        "by_measure": {k: {m: stats([r[k][m] for r in ac]) for m in ("abits", "no_abits", "ratio")}
                       for k in ("stream_mib_s", "words_per_us")}}
    for k in ("invalidations_per_s", "invalidations", "storm_s", "guest_mib_s_base",
              "guest_mib_s_storm", "guest_slowdown", "pages_invalidated"):
        details["storm"][k] = stats([r[k] for r in st])

    bsr = R.get("bar_size", [])
    details["bar_size"] = {
        "bars": b.p["bs_bars"], "window": b.p["bs_window"], "touches": b.p["bs_touches"],
        "config_cycles": b.p["bs_cycles"],
        "by_bar": {bar: {k: stats([r[bar][k] for r in bsr if bar in r])
                         for k in ("fault_p50_us", "fault_p99_us", "config_write_us",
                                   "config_off_us", "config_on_us", "move_us")}
                   for bar in b.p["bs_bars"]},
        "ratio": {k: stats([r["ratio"][k] for r in bsr if "ratio" in r])
                  for k in ("fault_p50_us", "fault_p99_us", "config_write_us", "config_off_us",
                            "config_on_us", "move_us")},
        "note": "large BAR / small BAR in the same repetition; config_write_us is one write "
                "(the mean of a decode-off and decode-on pair, median over the cycles)",
    }
    details["repetitions"] = {
        k: [{kk: vv for kk, vv in r.items() if kk not in ("hist", "uffd_hist")}
            if isinstance(r, dict) else r for r in v]
        for k, v in R.items()}
    mach["loadavg_end"] = os.getloadavg()[0]
    res["spread"] = spread
    res["details"] = details
    res["machine"] = mach
    res["config"] = {"profile": b.profile, "reps": b.reps, "sizes": b.p,
                     "default_fault_around": dfa, "elapsed_s": round(elapsed, 1),
                     "seconds_by_benchmark": {k: round(v, 1) for k, v in b.seconds.items()}}
    res["errors"] = b.errors
    return res


def design_kb_per_gib(fa):
    """remap.c: one bit per 4 KiB page (and its summary levels, bitmap.h: 1/64
    and 1/4096 of it) and two per fault-around group (evict.h: referenced, main)."""
    pages = GIB // 4096
    return (pages + pages // 64 + pages // 4096 + 2 * pages // (size_bytes(fa) // 4096)) / 8 / KIB


# ---- plots and table ----

def write_dat(outdir, res):
    d = res["details"]
    files = {}

    def w(name, header, rows):
        path = os.path.join(outdir, name)
        with open(path, "w") as f:
            f.write("# " + header + "\n")
            for row in rows:
                f.write(" ".join(str(x) for x in row) + "\n")
        files[name] = path

    fl = d["fault_latency"]
    ours, uffd = dict(fl["hist_ns_ours"]), dict(fl["hist_ns_uffd"])
    to, tu = sum(ours.values()) or 1, sum(uffd.values()) or 1
    w("fault_hist.dat", "bucket_us ours_percent uffd_percent",
      [(ns / 1000, 100 * ours.get(ns, 0) / to, 100 * uffd.get(ns, 0) / tu)
       for ns in sorted(set(ours) | set(uffd))])
    rows = []
    for fa, s in d["cold_scan"]["by_fault_around"].items():
        if not s["cold_mib_s"]:
            continue
        rows.append((fa, size_bytes(fa) // KIB, s["cold_mib_s"]["median"], s["cold_mib_s"]["min"],
                     s["cold_mib_s"]["max"], s["native_mib_s"]["median"],
                     s["native_mib_s"]["min"], s["native_mib_s"]["max"],
                     s["fault_p50_us"]["median"]))
    w("cold_scan.dat", "fa fa_kib cold_med cold_min cold_max native_med native_min native_max "
      "fault_p50_us", rows)
    hd = d["cold_scan"]["headline"]
    rows = []
    if hd["cold_mib_s"]:
        rows.append((size_bytes(d["cold_scan"]["default_fault_around"]) // KIB,
                     hd["cold_mib_s"]["median"], hd["cold_mib_s"]["min"], hd["cold_mib_s"]["max"],
                     hd["native_mib_s"]["median"], hd["native_mib_s"]["min"],
                     hd["native_mib_s"]["max"]))
    w("cold_head.dat", "fa_kib cold_med cold_min cold_max native_med native_min native_max", rows)
    rows = []
    for n, s in d["many_vcpus"]["by_vcpus"].items():
        if s["remaps_per_s"]:
            r = s["remaps_per_s"]
            rows.append((n, r["median"], r["min"], r["max"]))
    w("vcpus.dat", "vcpus remaps_med remaps_min remaps_max", rows)
    rows = []
    for name, s in d["window"]["by_trace"].items():
        m = s["misses"]
        if m["daemon_clock"] and m["opt"]:
            rows.append((name, m["daemon_clock"]["median"], m["lru"], m["fifo"], m["opt"],
                         m["clock_offline_model"], m["oracle"]))
    w("eviction.dat", "trace daemon_default lru fifo opt clock_rev2 oracle", rows)
    rows = []
    for bar, s in d["footprint"]["rss_kb_by_bar"].items():
        if s:
            rows.append((size_bytes(bar) / GIB, s["median"], s["min"], s["max"]))
    w("rss.dat", "bar_gib rss_med rss_min rss_max", rows)
    st = d["storm"]
    rows = []
    if st["guest_mib_s_base"]:
        rows.append(('"no storm"', st["guest_mib_s_base"]["median"], st["guest_mib_s_base"]["min"],
                     st["guest_mib_s_base"]["max"]))
        rows.append(('"under storm"', st["guest_mib_s_storm"]["median"],
                     st["guest_mib_s_storm"]["min"], st["guest_mib_s_storm"]["max"]))
    w("storm.dat", "case guest_mib_s_med min max", rows)
    return files


def plot(outdir, res):
    if not shutil.which("gnuplot"):
        print("bench: gnuplot not found: no plots", file=sys.stderr)
        return []
    d = res["details"]
    fp, st, fl = d["footprint"], d["storm"], d["fault_latency"]

    def m(s):
        return (s or {}).get("median") or 0

    var = {  # numbers and strings the scripts print in titles and draw
        "datadir": outdir, "plots": PLOTS,
        "default_fa": d["cold_scan"]["default_fault_around"], "window": d["cold_scan"]["sweep_window"],
        "head_window": d["cold_scan"]["window"],
        "ours_p50": m(fl["ours_p50_us"]), "uffd_p50": m(fl["uffd_p50_us"]) or 1,
        "count": d["window"]["count"],
        "kb_per_gib": m(fp["kb_per_gib"]), "intercept_kb": m(fp["intercept_kb"]),
        "design_kb_per_gib": fp["design_kb_per_gib"],
        "bar": st["bar"], "inv_per_s": m(st["invalidations_per_s"]),
    }
    data = {"fault_latency.gp": "fault_hist.dat", "cold_scan.gp": "cold_scan.dat",
            "vcpus.gp": "vcpus.dat", "eviction.gp": "eviction.dat", "rss.gp": "rss.dat",
            "storm.gp": "storm.dat"}
    made = []
    for gp in sorted(os.listdir(PLOTS)):
        if gp not in data:
            continue
        with open(os.path.join(outdir, data[gp])) as f:
            if not any(line.strip() and not line.startswith("#") for line in f):
                continue  # that benchmark did not run (--only) or failed
        png = os.path.join(outdir, gp[:-3] + ".png")
        args = ["gnuplot", "-e", "out='%s'" % png]
        for k, v in var.items():
            if k == "window" and gp == "eviction.gp":
                v = d["window"]["window"]
            if k == "bar" or isinstance(v, str):
                args += ["-e", "%s='%s'" % (k, v)]
            else:
                args += ["-e", "%s=%r" % (k, float(v))]
        r = subprocess.run(args + [os.path.join(PLOTS, gp)], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True)
        if r.returncode != 0:
            res["errors"].append("plot %s: %s" % (gp, r.stderr.strip()[-300:]))
        else:
            made.append(png)
    return made


def fmt(v, digits=1):
    if v is None:
        return "-"
    if isinstance(v, float) and (abs(v) >= 1000 or digits == 0):
        return "{:,.0f}".format(v)
    return "{:.{}f}".format(v, digits)


def spread_str(s, digits=1):
    if not s:
        return "-"
    if s["n"] == 1:
        return fmt(s["median"], digits)
    return "%s [%s..%s]" % (fmt(s["median"], digits), fmt(s["min"], digits),
                            fmt(s["max"], digits))


def table(res):
    d = res["details"]
    m = res["machine"]
    c = res["config"]
    out = []
    add = out.append
    add("")
    add("ioreq-lend benchmarks (simulated Xen) - %s profile, %d repetition(s), median [min..max]"
        % (c["profile"], c["reps"]))
    add("machine: %d CPU(s), %s, Linux %s, %s GiB, %s; load %.1f -> %.1f" % (
        m["nproc"], m["cpu"], m["kernel"], m["mem_gib"], m["virtualization"],
        m["loadavg_start"], m["loadavg_end"]))
    add("")
    fl = d["fault_latency"]
    add("1. Fault service latency (%s faults/rep, --fault-around 4K --readahead off)"
        % fl["faults_per_rep"])
    add("   %-38s %-26s %-26s" % ("", "ioreq-lend (ACCESS ioreq)", "uffd minor + CONTINUE"))
    add("   %-38s %-26s %-26s" % ("p50 us", spread_str(fl["ours_p50_us"]),
                                  spread_str(fl["uffd_p50_us"])))
    add("   %-38s %-26s %-26s" % ("p99 us", spread_str(fl["ours_p99_us"]),
                                  spread_str(fl["uffd_p99_us"])))
    add("   %-38s %-26s %-26s" % ("mean us (guest side: touch time / N)",
                                  spread_str(fl["ours_guest_mean_us"]),
                                  spread_str(fl["uffd_mean_us"])))
    add("   fault_latency_ratio_vs_uffd (p50 ours / p50 uffd): %s   p99: %s   mean: %s" % (
        spread_str(fl["ratio_p50"], 2), spread_str(fl["ratio_p99"], 2),
        spread_str(fl["ratio_mean_guest_vs_uffd"], 2)))
    add("   context_switches_per_fault (xensim + daemon, every thread; run - idle run): %s "
        "(voluntary %s, involuntary %s); the anchor: %s" % (
            spread_str(fl["context_switches_per_fault"], 2), spread_str(fl["voluntary_per_fault"], 2),
            spread_str(fl["involuntary_per_fault"], 2),
            spread_str(fl["uffd_context_switches_per_fault"], 2)))
    add("")
    cs = d["cold_scan"]
    hd = cs["headline"]
    add("2. Cold scan: the guest reads a fully discarded window sequentially (rep movs)")
    add("   %s window, default fault-around %s: cold %s MiB/s, native %s MiB/s, "
        "cold/native %s, %s ioreqs/MiB" % (
            cs["window"], cs["default_fault_around"], spread_str(hd["cold_mib_s"], 0),
            spread_str(hd["native_mib_s"], 0), spread_str(hd["ratio_vs_native"], 4),
            fmt(hd["ioreqs_per_mib"]["median"] if hd["ioreqs_per_mib"] else None, 1)))
    lim = d["cold_scan_limit"]
    add("   host page-in of the same %s without the guest: %s MiB/s (minor faults alone %s, "
        "native %s); cold_scan_ratio_vs_limit %s" % (
            lim["window"], spread_str(lim["page_in_mib_s"], 0),
            spread_str(lim["page_in_fault_only_mib_s"], 0), spread_str(lim["page_in_native_mib_s"], 0),
            spread_str(lim["ratio_vs_limit"], 4)))
    ho = cs["headline_readahead_off"]
    add("   the same with --readahead off: cold %s MiB/s, cold/native %s, %s ioreqs/MiB" % (
        spread_str(ho["cold_mib_s"], 0), spread_str(ho["ratio_vs_native"], 4),
        fmt(ho["ioreqs_per_mib"]["median"] if ho["ioreqs_per_mib"] else None, 1)))
    add("   fault-around sweep on a %s window (--readahead off):" % cs["sweep_window"])
    add("   %-6s %-24s %-24s %-22s %-10s %-12s" % ("FA", "cold MiB/s", "native MiB/s",
                                                  "cold/native", "ioreqs/MiB", "fault p50 us"))
    for fa, s in cs["by_fault_around"].items():
        add("   %-6s %-24s %-24s %-22s %-10s %-12s" % (
            fa + ("*" if fa == cs["default_fault_around"] else ""),
            spread_str(s["cold_mib_s"], 0), spread_str(s["native_mib_s"], 0),
            spread_str(s["ratio_vs_native"], 4),
            fmt(s["ioreqs_per_mib"]["median"] if s["ioreqs_per_mib"] else None, 1),
            fmt(s["fault_p50_us"]["median"] if s["fault_p50_us"] else None, 1)))
    ch = cs["fault_around_choice"]
    add("   * the daemon's default.")
    add("   Choosing it: per repetition, the worse of (scan slowdown, random-touch slowdown)")
    add("   against that repetition's best size:")
    add("   %-6s %-22s %-22s %-22s %s" % ("FA", "scan slowdown", "random-touch slowdown",
                                          "worse of the two", "lowest in reps"))
    for fa, v in ch["by_size"].items():
        add("   %-6s %-22s %-22s %-22s %d/%d" % (fa, spread_str(v["scan_slowdown"], 2),
                                                spread_str(v["random_touch_slowdown"], 2),
                                                spread_str(v["worst"], 2),
                                                v["best_in_repetitions"], v["worst"]["n"]))
    add("   lowest median: %s; recommended (the smallest size within 10%% of it): %s" % (
        ch["lowest_median"], ch["recommended"]))
    add("")
    le = d["lend_vs_emulate"]
    add("3. %s guest memcpy into the BAR" % le["len"])
    add("   emulate %s MiB/s | lend cold %s MiB/s | lend warm %s MiB/s" % (
        spread_str(le["emulate_mib_s"]), spread_str(le["lend_cold_mib_s"]),
        spread_str(le["lend_warm_mib_s"], 0)))
    add("   lend_vs_emulate_speedup (cold, faults included): %s   warm: %s" % (
        spread_str(le["speedup_cold"], 1), spread_str(le["speedup_warm"], 0)))
    add("")
    vc = d["many_vcpus"]
    add("4. Many vCPUs faulting disjoint pages (--fault-around 4K --readahead off): "
        "aggregate remaps/s")
    for n, s in vc["by_vcpus"].items():
        add("   %2s vCPU(s): %-30s fault p50 %s us" % (
            n, spread_str(s["remaps_per_s"], 0),
            fmt(s["fault_p50_us"]["median"] if s["fault_p50_us"] else None)))
    add("")
    wi = d["window"]
    add("5. Window pressure (window %s, %d reads, one page per group, --readahead off): misses" % (
        wi["window"], wi["count"]))
    add("   %-9s %-8s %-8s %-9s %-8s %-8s %-8s %-8s %-8s %-8s %-8s %-8s" % (
        "trace", "tinylfu", "clock", "clock-rev2", "LRU", "FIFO", "LFU", "oracle", "OPT",
        "vs_opt", "vs_oracle", "oracle/OPT"))
    for name, s in wi["by_trace"].items():
        mm = s["misses"]
        byp = mm.get("daemon_by_policy", {})
        add("   %-9s %-8s %-8s %-9s %-8s %-8s %-8s %-8s %-8s %-8s %-8s %-8s" % (
            name, fmt(byp["tinylfu"]["median"] if byp.get("tinylfu") else None, 0),
            fmt(byp["clock"]["median"] if byp.get("clock") else None, 0),
            mm["clock_offline_model"], mm["lru"], mm["fifo"], mm["lfu_perfect"], mm["oracle"],
            mm["opt"], fmt(res["eviction_vs_opt"].get(name), 3),
            fmt(res["eviction_vs_oracle"].get(name), 3), fmt(s["oracle_vs_opt"], 3)))
    add("   tinylfu, clock: the daemon (--eviction, with aging), measured; clock-rev2: clock "
        "without accessed bits")
    add("   (a revision-2 kernel, the daemon before aging), LRU, FIFO, LFU (perfect, whole "
        "history), oracle (A0): offline")
    add("")
    acd = d.get("aging_cost")
    if acd and acd["by_measure"]["stream_mib_s"]["ratio"]:
        bm = acd["by_measure"]
        add("9. What the simulated accessed bits cost native guest work (%s BAR, all mapped; "
            "with / without)" % acd["bar"])
        add("   stream (rep movs, %d rounds): %s MiB/s with, %s without: %s" % (
            acd["rounds"], spread_str(bm["stream_mib_s"]["abits"], 0),
            spread_str(bm["stream_mib_s"]["no_abits"], 0), spread_str(bm["stream_mib_s"]["ratio"], 3)))
        add("   one word per page (%d loads): %s loads/us with, %s without: %s" % (
            acd["words"], spread_str(bm["words_per_us"]["abits"], 2),
            spread_str(bm["words_per_us"]["no_abits"], 2), spread_str(bm["words_per_us"]["ratio"], 3)))
        add("")
    fp = d["footprint"]
    add("6. Daemon peak RSS (VmHWM): " + ", ".join("%s BAR %s KiB" % (bar, spread_str(s, 0))
                                                     for bar, s in fp["rss_kb_by_bar"].items()))
    add("   dm_rss_kb_per_gib (slope): %s   (bitmap design: %.1f KiB per GiB)" % (
        spread_str(fp["kb_per_gib"], 1), fp["design_kb_per_gib"]))
    add("")
    st = d["storm"]
    add("7. Invalidation storm while the guest streams its %s BAR" % st["bar"])
    add("   invalidations/s %s" % spread_str(st["invalidations_per_s"], 0))
    add("   guest MiB/s: no storm %s, under storm %s (%sx slower)" % (
        spread_str(st["guest_mib_s_base"], 0), spread_str(st["guest_mib_s_storm"], 0),
        spread_str(st["guest_slowdown"], 1)))
    add("")
    bs = d.get("bar_size")
    if bs:
        small, large = bs["bars"]
        add("8. Work per request against the BAR size (window %s, %d pages spread over the BAR, "
            "--fault-around 4K --readahead off)" % (bs["window"], bs["touches"]))
        add("   %-28s %-22s %-22s %-20s" % ("", small + " BAR", large + " BAR", large + " / " + small))
        for k, name in (("fault_p50_us", "fault p50 us"), ("fault_p99_us", "fault p99 us"),
                        ("config_write_us", "config write us"), ("config_off_us", "  decode off us"),
                        ("config_on_us", "  decode on us"), ("move_us", "BAR move us")):
            add("   %-28s %-22s %-22s %-20s" % (name, spread_str(bs["by_bar"][small][k]),
                                               spread_str(bs["by_bar"][large][k]),
                                               spread_str(bs["ratio"][k], 2)))
        add("   bar_size_cost_ratio: fault_p50 %s, config_write %s" % (
            fmt(res["bar_size_cost_ratio"].get("fault_p50"), 2),
            fmt(res["bar_size_cost_ratio"].get("config_write"), 2)))
        add("")
    add("took %.0f s (%s)" % (c["elapsed_s"], ", ".join(
        "%s %.0f s" % (k, v) for k, v in c["seconds_by_benchmark"].items())))
    return "\n".join(out)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--profile", choices=sorted(PROFILES), default="full")
    ap.add_argument("--reps", type=int)
    ap.add_argument("--only", help="comma-separated benchmarks (fault_latency, cold_scan, aging_cost, "
                    "lend_vs_emulate, many_vcpus, window, footprint, storm, bar_size)")
    ap.add_argument("--out", default=os.path.join(BENCH, "results"))
    ap.add_argument("--no-plots", action="store_true")
    a = ap.parse_args()
    for prog in (XENSIM, UFFD_ANCHOR, BELADY, PAGE_IN):
        if not os.access(prog, os.X_OK):
            raise SystemExit("bench: %s is missing (run make bench)" % prog)
    reps = a.reps or PROFILES[a.profile]["reps"]
    os.makedirs(a.out, exist_ok=True)
    mach = machine()
    t0 = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="ioreq-lend-bench-") as tmp:
        b = Bench(a.profile, reps, tmp)
        b.run(set(a.only.split(",")) if a.only else None)
    res = build_json(b, mach, time.monotonic() - t0)
    write_dat(a.out, res)
    pngs = [] if a.no_plots else plot(a.out, res)
    path = os.path.join(a.out, "latest.json")
    with open(path, "w") as f:
        json.dump(res, f, indent=1)
        f.write("\n")
    print(table(res))
    print("\nwrote %s%s" % (os.path.relpath(path, ROOT), "".join(
        "\n      " + os.path.relpath(p, ROOT) for p in pngs)))
    for e in res["errors"]:
        print("bench: ERROR: " + e, file=sys.stderr)
    return 1 if res["errors"] else 0


if __name__ == "__main__":
    sys.exit(main())
