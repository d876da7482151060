"""bench/run overlay-sim: the overlay core at scale in partyhub-sim.

Scenario (the overlay issue's): one source, 1 Mbit/s in 30 chunks/s; N = 2000;
upload heterogeneous with mean 2x the stream rate (20 % of peers at 0.5x);
one-way latency 10-80 ms; 1 % datagram loss. PartyHub's scheduler ("tree",
--scheduler to change), the PeerStreamer-style offer/accept baseline and
PartyHub's budgeted push in the same run, then a delay-vs-N series and a churn
run with PartyHub's. Writes build/bench/overlay-sim.json (and overlay-sim.png
when matplotlib is there).

The simulator is built with profile-guided optimisation for these runs
(deploy/build-sim-pgo.sh, --sim-build plain for build/bin's); the headline run
also goes once on build/bin's simulator, which must give the same results.
"""
import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor


def sim(bin_dir, **kw):
    out = tempfile.NamedTemporaryFile(suffix=".json", delete=False).name
    args = [f"{bin_dir}/partyhub-sim", "--json", out]
    for k, v in kw.items():
        args += [f"--{k.replace('_', '-')}", str(v)]
    subprocess.run(args, check=True, stdout=subprocess.DEVNULL)
    with open(out) as f:
        r = json.load(f)
    os.unlink(out)
    return r


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--root", required=True)
    ap.add_argument("--peers", type=int, default=2000)
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--series", default="100,200,500,1000,2000,5000")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--jobs", type=int, default=2, help="simulations at a time after the headline run")
    ap.add_argument("--scheduler", default="tree", help="PartyHub's scheduler: tree | push")
    ap.add_argument("--headline-runs", type=int, default=2,
                    help="the headline run this many times, alone: its wall time is the best (the machine is shared)")
    ap.add_argument("--sim-build", choices=("pgo", "plain"), default="pgo",
                    help="pgo: a simulator built with profile-guided optimisation (deploy/build-sim-pgo.sh); "
                         "plain: build/bin's")
    args = ap.parse_args()
    plain_dir = os.path.join(args.root, "build", "bin")
    bin_dir = plain_dir
    if args.sim_build == "pgo":
        built = subprocess.run([os.path.join(args.root, "deploy", "build-sim-pgo.sh")], check=True,
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True).stdout
        bin_dir = os.path.dirname(built.strip().splitlines()[-1])
    common = dict(seconds=args.seconds, seed=args.seed, loss=0.01, upload_mean=2.0, poor_fraction=0.2,
                  poor_upload=0.5, latency_min_ms=10, latency_max_ms=80, stream_kbps=1000, chunk_rate=30,
                  max_queue_delay_ms=0)

    # The headline run alone, so its sim_wall_s is one core's; the others
    # (baseline, churn, the series) --jobs at a time, their walls under load.
    # It is deterministic: every run must give the same results, only the
    # wall time differs (with what else the machine runs); the best is kept.
    ours = args.scheduler
    heads = [sim(bin_dir, peers=args.peers, scheduler=ours, **common) for _ in range(max(1, args.headline_runs))]
    head = min(heads, key=lambda r: r["sim_wall_s"])
    # The plain build's simulator, alone too: the same code, so the same
    # results, and its wall time beside the optimised build's.
    plain = sim(plain_dir, peers=args.peers, scheduler=ours, **common) if bin_dir != plain_dir else None
    strip = lambda r: {k: v for k, v in r.items() if k != "sim_wall_s"}
    if any(strip(r) != strip(heads[0]) for r in heads + ([plain] if plain else [])):
        sys.exit("overlay-sim: the same seed gave different results: the simulator is not deterministic")
    sizes = [int(x) for x in args.series.split(",") if x]
    runs = {("base", args.peers): dict(peers=args.peers, scheduler="offer-accept", **common),
            ("churn", args.peers): dict(peers=args.peers, scheduler=ours, churn=0.1, **common)}
    other = "push" if ours != "push" else "tree"
    runs[("other", args.peers)] = dict(peers=args.peers, scheduler=other, **common)
    for n in sizes:
        if n != args.peers:
            runs[("ours", n)] = dict(peers=n, scheduler=ours, **common)
    with ThreadPoolExecutor(max_workers=args.jobs) as pool:
        # Largest first: the pool finishes sooner.
        order = sorted(runs, key=lambda k: -k[1])
        futures = {k: pool.submit(sim, bin_dir, **runs[k]) for k in order}
        done = {k: f.result() for k, f in futures.items()}
    base, churn, alt = done[("base", args.peers)], done[("churn", args.peers)], done[("other", args.peers)]
    series = []
    for n in sizes:
        r = head if n == args.peers else done[("ours", n)]
        series.append({"n_peers": n, "p50_delay_ms": r["p50_delay_ms"], "p99_delay_ms": r["p99_delay_ms"],
                       "settled_p99_delay_ms": r["settled_p99_delay_ms"],
                       "lower_bound_ms": r["lower_bound_ms"],
                       "min_peer_delivery_ratio_1s": r["min_peer_delivery_ratio_1s"],
                       "mean_peer_delivery_ratio_1s": r["mean_peer_delivery_ratio_1s"], "sim_wall_s": r["sim_wall_s"]})

    # Growth per doubling of N, against one step: a chunk-upload time at the
    # mean upload plus the mean one-way latency of the model (peers uniform
    # in a unit square: mean distance 0.5214 of the side, latency linear in
    # distance over the diagonal).
    step_ms = 1000 / common["chunk_rate"] / common["upload_mean"]  # a chunk at the mean upload
    step_ms += common["latency_min_ms"] + (common["latency_max_ms"] - common["latency_min_ms"]) * 0.5214 / math.sqrt(2)
    def growth_of(key):
        return [(b[key] - a[key]) / math.log2(b["n_peers"] / a["n_peers"]) for a, b in zip(series, series[1:])]
    growth = growth_of("p99_delay_ms")
    settled_growth = growth_of("settled_p99_delay_ms")
    result = {
        "scheduler": ours,
        "n_peers": head["n_peers"],
        "min_peer_delivery_ratio_1s": head["min_peer_delivery_ratio_1s"],
        "mean_peer_delivery_ratio_1s": head["mean_peer_delivery_ratio_1s"],
        "p50_delay_ms": head["p50_delay_ms"],
        "p99_delay_ms": head["p99_delay_ms"],
        "pushed_p99_delay_ms": head["pushed_p99_delay_ms"],
        "pulled_share": head["pulled_share"],
        "lower_bound_ms": head["lower_bound_ms"],
        "ratio_to_bound": head["ratio_to_bound"],
        # Against the same bound for relays that cut through (the first
        # datagram passed on before the rest is in): the bound counts
        # whole-chunk uploads, which cut-through relays beat per hop.
        "lower_bound_cut_through_ms": head["lower_bound_cut_through_ms"],
        "ratio_to_cut_through_bound": head["ratio_to_cut_through_bound"],
        "settled_ratio_to_cut_through_bound": head["settled_ratio_to_cut_through_bound"],
        # The same from the 10th second on: the overlay settled after the
        # flash crowd of N joins in the first second (reported beside the
        # window's figures, not instead of them).
        "settled_from_s": head["settled_from_s"],
        "settled_p99_delay_ms": head["settled_p99_delay_ms"],
        "settled_ratio_to_bound": head["settled_ratio_to_bound"],
        "settled_p99_vs_baseline": round(head["settled_p99_delay_ms"] / max(1e-9, base["settled_p99_delay_ms"]), 3),
        "baseline_p99_delay_ms": base["p99_delay_ms"],
        "baseline_min_peer_delivery_ratio_1s": base["min_peer_delivery_ratio_1s"],
        "p99_vs_baseline": round(head["p99_delay_ms"] / max(1e-9, base["p99_delay_ms"]), 3),
        "duplicate_ratio": head["duplicate_ratio"],
        "per_hop_ms": head.get("per_hop_ms", {}),
        # From the p50, p90, p99 on: share of receptions, their mean hops
        # and pulled share (what the tail is made of).
        "by_delay": head.get("by_delay", []),
        "signalling_overhead": head["signalling_overhead"],
        "upload_use": head["upload_use"],
        "mean_hops": head["mean_hops"],
        "sim_wall_s": head["sim_wall_s"],
        "sim_wall_s_runs": [r["sim_wall_s"] for r in heads],
        "sim_build": args.sim_build,
        "sim_wall_s_plain_build": plain["sim_wall_s"] if plain else head["sim_wall_s"],
        "sim_events": head["events"],
        # How the overlay forms: delivery and delay per second of injections
        # from the first chunk (the window above starts at the third second).
        "timeline": head.get("timeline", []),
        # The other PartyHub scheduler on the same scenario, for comparison.
        other + "_scheduler": {k: alt[k] for k in ("min_peer_delivery_ratio_1s", "mean_peer_delivery_ratio_1s",
                                                   "p50_delay_ms", "p99_delay_ms", "ratio_to_bound", "duplicate_ratio",
                                                   "upload_use", "signalling_overhead", "sim_wall_s", "events")},
        "churn_min_delivery_ratio_1s": churn["min_peer_delivery_ratio_1s"],
        "churn_mean_delivery_ratio_1s": churn["mean_peer_delivery_ratio_1s"],
        # Who the worst peers are (upload, distance from the source, ...): where the tail is.
        "worst_peers": head.get("peers", [])[:10],
        "churn_worst_peers": churn.get("peers", [])[:10],
        "series": series,
        "doubling_step_ms": round(step_ms, 1),
        "max_p99_growth_per_doubling_ms": round(max(growth), 1) if growth else None,
        "max_settled_p99_growth_per_doubling_ms": round(max(settled_growth), 1) if settled_growth else None,
        "scenario": common,
    }
    print(f"{'':22}{'p50 ms':>9}{'p99 ms':>9}{'min deliv 1s':>14}{'wall s':>9}")
    print(f"{ours:22}{head['p50_delay_ms']:>9.1f}{head['p99_delay_ms']:>9.1f}"
          f"{head['min_peer_delivery_ratio_1s']:>14.4f}{head['sim_wall_s']:>9.1f}")
    print(f"{other:22}{alt['p50_delay_ms']:>9.1f}{alt['p99_delay_ms']:>9.1f}"
          f"{alt['min_peer_delivery_ratio_1s']:>14.4f}{alt['sim_wall_s']:>9.1f}")
    print(f"{'offer-accept':22}{base['p50_delay_ms']:>9.1f}{base['p99_delay_ms']:>9.1f}"
          f"{base['min_peer_delivery_ratio_1s']:>14.4f}{base['sim_wall_s']:>9.1f}")
    print(f"p99 growth per doubling of N: at most {result['max_p99_growth_per_doubling_ms']} ms "
          f"(one step: {result['doubling_step_ms']} ms)")
    print(f"settled (from {result['settled_from_s']} s): p99 {result['settled_p99_delay_ms']:.1f} ms, "
          f"{result['settled_ratio_to_bound']:.2f} x the bound, {result['settled_p99_vs_baseline']} of the baseline's; "
          f"growth per doubling at most {result['max_settled_p99_growth_per_doubling_ms']} ms")
    print(f"{ours} wall, each of its {len(heads)} runs alone (the best above): "
          + ", ".join(f"{r['sim_wall_s']:.1f} s" for r in heads) + f" for {head['events']} events"
          + (f" ({args.sim_build} build; build/bin's: {plain['sim_wall_s']:.1f} s)" if plain else ""))
    print(f"lower bound {head['lower_bound_ms']:.1f} ms, ratio {head['ratio_to_bound']:.2f} "
          f"(for cut-through relays {head['lower_bound_cut_through_ms']:.1f} ms, ratio "
          f"{head['ratio_to_cut_through_bound']:.2f}); churn min delivery {churn['min_peer_delivery_ratio_1s']:.4f}")
    for s in series:
        print(f"  N={s['n_peers']:>5}  p99 {s['p99_delay_ms']:8.1f} ms  settled {s['settled_p99_delay_ms']:8.1f} ms  "
              f"bound {s['lower_bound_ms']:7.1f} ms  "
              f"wall {s['sim_wall_s']:6.1f} s")
    out_dir = os.path.join(args.root, "build", "bench")
    os.makedirs(out_dir, exist_ok=True)
    with open(os.path.join(out_dir, "overlay-sim.json"), "w") as f:
        json.dump(result, f, indent=2)
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        xs = [s["n_peers"] for s in series]
        plt.figure(figsize=(6, 4))
        plt.semilogx(xs, [s["p99_delay_ms"] for s in series], "o-", label=f"PartyHub {ours}, p99")
        plt.semilogx(xs, [s["settled_p99_delay_ms"] for s in series], "^-", label=f"PartyHub {ours}, p99 settled")
        plt.semilogx(xs, [s["lower_bound_ms"] for s in series], "s--", label="lower bound")
        plt.xlabel("peers")
        plt.ylabel("delay (ms)")
        plt.legend()
        plt.grid(True, which="both", alpha=0.3)
        plt.savefig(os.path.join(out_dir, "overlay-sim.png"), dpi=100, bbox_inches="tight")
    except ImportError:
        print("matplotlib not installed: no plot")
    print(f"wrote {os.path.join(out_dir, 'overlay-sim.json')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
