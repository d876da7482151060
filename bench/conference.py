"""bench/run conference: whole local conferences through the controllers.

For 3 and 6 participants: a group manager, one controller daemon per
participant, everyone joined with a test source (640x360 at 30 fps H.264 plus
Opus), every participant playing every other (fake sinks, real decoding).
After a warm-up, measures --seconds of steady state: CPU of every process by
kind (from /proc), resident memory, the worst stream's delivery, the worst
glass-to-glass p95 and the signalling bytes the streamers send per second.
Both layouts, each size: per-source (a streamer per channel, one overlay
each) and shared (one streamer per participant carrying every channel over
one signalling overlay). Writes build/bench/conference.json.
"""
import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request

from benchlib import write_result

NAMES = ["alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi"]
TICK = os.sysconf("SC_CLK_TCK")


def get(url):
    with urllib.request.urlopen(url, timeout=10) as r:
        return json.loads(r.read())


def cpu_seconds(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / TICK  # utime + stime
    except (OSError, IndexError):
        return None


def rss_mb(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def kind_of(key):
    return key.split(":")[0]  # source, streamer, player


def snapshot(daemons, infra):
    """pid -> (kind, cpu s) for every process of the conference, and the statuses."""
    procs, statuses = {}, []
    for url in daemons:
        st = get(f"{url}/v1/conferences/meet")
        statuses.append(st)
        for m in st["members"]:
            for p in m["processes"]:
                if p["pid"]:
                    procs[p["pid"]] = kind_of(p["key"])
    for pid, kind in infra.items():
        procs[pid] = kind
    # CPU times are read together, after the (slow, under load) status calls,
    # and timed there: the window is between the two reads.
    at = time.monotonic()
    return {pid: (kind, cpu_seconds(pid)) for pid, kind in procs.items()}, statuses, at


def streamer_total(statuses, key):
    return sum(int((m.get("streamer") or {}).get(key, 0)) for st in statuses for m in st["members"])


def signalling(statuses):
    total = 0
    for st in statuses:
        for m in st["members"]:
            s = m.get("streamer")
            if s:
                total += int(s.get("bytes_out", 0)) - int(s.get("payload_bytes_out", 0))
    return total


def signalling_by_message(statuses):
    """Non-payload bytes and message counts the streamers sent, by message kind."""
    sig, count = {}, {}
    for st in statuses:
        for m in st["members"]:
            s = m.get("streamer") or {}
            payload = s.get("payload_bytes_out_by_message", {})
            for kind, b in s.get("bytes_out_by_message", {}).items():
                sig[kind] = sig.get(kind, 0) + int(b) - int(payload.get(kind, 0))
            for kind, n in s.get("messages_out_by_message", {}).items():
                count[kind] = count.get(kind, 0) + int(n)
    return sig, count


def per_second(after, before, elapsed):
    return {k: round((v - before.get(k, 0)) / elapsed) for k, v in sorted(after.items()) if v != before.get(k, 0)}


def sources_made(statuses):
    """Video frames each member's source has made so far, by member id."""
    made = {}
    for st in statuses:
        for m in st["members"]:
            if m["self"] and m.get("source"):
                made[m["id"]] = int(m["source"].get("video_frames", 0))
    return made


def measure(daemons, infra, n, seconds, fps, on_window=None):
    """Steady-state figures of a running conference over `seconds`, read from
    its controller daemons (base URLs). on_window(elapsed) may add its own
    (it is called right after the window, before anything else is read)."""
    cpu0, st0, t0 = snapshot(daemons, infra)
    time.sleep(seconds)
    extra = on_window(time.monotonic() - t0) if on_window else {}
    cpu1, st1, t1 = snapshot(daemons, infra)
    elapsed = t1 - t0
    sig0, count0 = signalling_by_message(st0)
    sig1, count1 = signalling_by_message(st1)
    by_kind, rss_kind = {}, {}
    for pid, (kind, c1) in cpu1.items():
        c0 = cpu0.get(pid, (kind, None))[1]
        if c1 is None or c0 is None:
            continue  # restarted or gone during the run
        by_kind[kind] = by_kind.get(kind, 0.0) + (c1 - c0)
        rss_kind[kind] = rss_kind.get(kind, 0.0) + rss_mb(pid)
    # Delivery: frames each player rendered during the window against the
    # frames its source made in it (live, `fps`); a player's own "expected"
    # count cannot see a stream that never got going.
    ratios, g2g = [], []
    worst = None
    players0 = {(st["member_id"], m["id"]): m["player"] for st in st0 for m in st["members"]
                if not m["self"] and m.get("player")}
    made0, made1 = sources_made(st0), sources_made(st1)
    for st in st1:
        for m in st["members"]:
            p = m.get("player")
            if m["self"] or not p:
                continue
            p0 = players0.get((st["member_id"], m["id"]), {})
            # Over the player's own interval: its statistics are up to
            # 0.25 s old when read, differently at each end of the window
            # (+-7 frames at 30 fps), and the worst of 30 streams would
            # pick the unluckiest reading.
            span = (int(p["wall_us"]) - int(p0["wall_us"])) / 1e6 if "wall_us" in p0 else elapsed
            rendered = int(p["frames_rendered"]) - int(p0.get("frames_rendered", 0))
            ratio = min(1.0, rendered / (fps * span))
            ratios.append(ratio)
            g2g.append(p["g2g"]["p95_ms"] if int(p["g2g"]["count"]) > 0 else float("inf"))
            if worst is None or ratio < worst["delivery_ratio"]:
                # Where its frames went: not made by the source (it fell
                # behind real time), or made and then late, lost or
                # skipped at the player.
                delta = {k: int(p.get(k, 0)) - int(p0.get(k, 0))
                         for k in ("frames_rendered", "frames_late", "frames_lost", "frames_skipped")}
                worst = {"viewer": st.get("name", st["member_id"]), "of": m["name"], "delivery_ratio": round(ratio, 4),
                         "frames_due": round(fps * span),
                         "source_made": made1.get(m["id"], 0) - made0.get(m["id"], 0), **delta}
    expected_streams = n * (n - 1)
    return {
        "participants": n,
        "streams": expected_streams,
        "streams_measured": len(ratios),
        "min_delivery_ratio": round(min(ratios) if len(ratios) == expected_streams else 0.0, 4),
        "worst_stream": worst,
        "g2g_p95_ms": (max(g2g) if max(g2g) != float("inf") else None) if g2g else None,
        "cpu_percent_total": round(100 * sum(by_kind.values()) / elapsed, 1),
        "cpu_percent_by_kind": {k: round(100 * v / elapsed, 1) for k, v in sorted(by_kind.items())},
        "rss_mb_total": round(sum(rss_kind.values()), 1),
        "rss_mb_by_kind": {k: round(v, 1) for k, v in sorted(rss_kind.items())},
        "signalling_bytes_per_s": round((signalling(st1) - signalling(st0)) / elapsed),
        # Where it goes: for chunks ("video", "audio") their headers and framing.
        "signalling_bytes_per_s_by_message": per_second(sig1, sig0, elapsed),
        "messages_per_s_by_message": per_second(count1, count0, elapsed),
        # The overlay's repairs in the window: pushes repeated for want of an
        # acknowledgement, chunks received twice, channels restarted.
        "streamer_repushes": streamer_total(st1, "repushes") - streamer_total(st0, "repushes"),
        "streamer_late_acks": streamer_total(st1, "late_acks") - streamer_total(st0, "late_acks"),
        "streamer_duplicates": streamer_total(st1, "chunks_duplicate") - streamer_total(st0, "chunks_duplicate"),
        "streamer_restarts": streamer_total(st1, "overlay_restarts") - streamer_total(st0, "overlay_restarts"),
        "seconds": round(elapsed, 1),
        **extra,
    }


def stop_all(procs):
    for p in procs:
        p.send_signal(signal.SIGTERM)
    for p in procs:
        try:
            p.wait(timeout=15)
        except subprocess.TimeoutExpired:
            p.kill()


def run_case(bin_dir, n, seconds, warmup, port0, layout, fps=30):
    run = tempfile.mkdtemp(prefix=f"partyhub-bench-conf{n}-")
    gm_port = port0
    daemons = [port0 + 1 + i for i in range(n)]
    procs = [subprocess.Popen([f"{bin_dir}/partyhub-groupmgr", "--listen", f"127.0.0.1:{gm_port}", "--db",
                               f"{run}/groups.db", "--log-level", "warn"], stderr=subprocess.DEVNULL)]
    for i, port in enumerate(daemons):
        procs.append(subprocess.Popen([f"{bin_dir}/partyhub-controller", "daemon", "--listen", f"127.0.0.1:{port}",
                                       "--run-dir", f"{run}/{NAMES[i]}", "--port-base", str(24000 + 100 * i),
                                       "--sink", "fake", "--log-level", "warn"], stderr=subprocess.DEVNULL))
    infra = {procs[0].pid: "groupmgr", **{p.pid: "controller" for p in procs[1:]}}
    try:
        time.sleep(1)
        for i, port in enumerate(daemons):
            subprocess.run([f"{bin_dir}/partyhub-controller", "--daemon", f"http://127.0.0.1:{port}", "join", "meet",
                            "--name", NAMES[i], "--manager", f"http://127.0.0.1:{gm_port}", "--fps", str(fps),
                            "--layout", layout],
                           check=True, stdout=subprocess.DEVNULL)
        time.sleep(warmup)
        return {"layout": layout,
                **measure([f"http://127.0.0.1:{p}" for p in daemons], infra, n, seconds, fps)}
    finally:
        stop_all(procs)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--root", required=True)
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--warmup", type=float, default=5)
    ap.add_argument("--sizes", default="3,6")
    ap.add_argument("--layouts", default="per-source,shared")
    args = ap.parse_args()
    bin_dir = os.path.join(args.root, "build", "bin")
    cases = []
    k = 0
    for n in (int(x) for x in args.sizes.split(",")):
        for layout in args.layouts.split(","):
            cases.append(run_case(bin_dir, n, args.seconds, args.warmup, 18900 + 20 * k, layout))
            k += 1
    def fmt(v):
        return "-" if v is None else v

    print(f"{'case':22}{'min deliv':>10}{'g2g p95':>9}{'CPU %':>8}{'RSS MB':>8}{'sig B/s':>9}  CPU % by kind")
    for c in cases:
        print(f"{c['participants']} x {c['layout']:14}{c['min_delivery_ratio']:>10}{fmt(c['g2g_p95_ms']):>9}"
              f"{c['cpu_percent_total']:>8}{c['rss_mb_total']:>8}{c['signalling_bytes_per_s']:>9}  "
              f"{c['cpu_percent_by_kind']}")
    three = [c for c in cases if c["participants"] == 3]
    # The shared layout's signalling against per-source's, per size.
    ratios = {}
    for n in sorted({c["participants"] for c in cases}):
        by = {c["layout"]: c for c in cases if c["participants"] == n}
        if "shared" in by and "per-source" in by and by["per-source"]["signalling_bytes_per_s"] > 0:
            ratios[str(n)] = round(by["shared"]["signalling_bytes_per_s"] / by["per-source"]["signalling_bytes_per_s"], 3)
    biggest = str(max((c["participants"] for c in cases), default=0))
    result = {
        "cases": cases,
        "shared_to_per_source_signalling": ratios,
        "video": "640x360@30 H.264 x264enc zerolatency 1000 kbit/s, Opus; fake sinks, real decoding",
        "pass": bool(three) and max(c["cpu_percent_total"] for c in three) <= 100
        and all(c["min_delivery_ratio"] >= 0.99 for c in cases)
        and ratios.get(biggest, 1.0) <= 0.5,
    }
    print(f"shared / per-source signalling: {ratios}")
    print(f"targets: 3 participants CPU <= 100 %, every case delivery >= 0.99, shared signalling <= half of "
          f"per-source's at {biggest}: " + ("PASS" if result["pass"] else "FAIL"))
    write_result(args.root, "conference", result)
    return 0 if result["pass"] else 1


if __name__ == "__main__":
    sys.exit(main())
