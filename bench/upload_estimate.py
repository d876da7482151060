"""bench/run upload-estimate: a streamer's upload budget, told, estimated or left
at its default, on real shaped uplinks.

Eleven hosts as network namespaces (deploy/testbed.sh): each peer's uplink a
2.5 Mbit/s token bucket (--rate-kbit) with a 200 ms queue, 1 % of UDP datagrams
lost on arrival, 20 ms of one-way delay added by the streamers (this kernel has
no netem). Host 1 runs the source (640x360 H.264 at 25 fps, 1 Mbit/s, moving
colour bars) and its streamer, whose uplink carries its 3 copies (20 Mbit/s);
hosts 2-11 a push peer each that knows only its address, and a player (fake
sink, real decoding). Three runs of --seconds, the peers' budget:
- "default": no option (20 Mbit/s, far above the link: the excess queues in it);
- "told": --upload-kbps at the link's rate (what the controller does);
- "estimated": --estimate-upload (from one-way delays, docs/overlay-notes.md).
Reports per run the frames the players lost (of those the source made), the
worst g2g p95, the overlay delay's worst p99, and the budgets the peers ended
with. Writes build/bench/upload-estimate.json. Needs root.
"""
import argparse
import os
import subprocess
import sys
import time

from benchlib import Procs, last_json, write_result


def run(root, seconds, rate_kbit, peer_args):
    bin_dir = os.path.join(root, "build", "bin")
    testbed = os.path.join(root, "deploy", "testbed.sh")
    subprocess.run([testbed, "up", "11", "--rate-kbit", str(rate_kbit), "--loss", "0.01", "--queue-ms", "200"],
                   check=True, stdout=subprocess.DEVNULL)
    try:
        # The source's host: room for its 3 copies (the peers' links are what is measured).
        subprocess.run(["ip", "netns", "exec", "ph1", "tc", "qdisc", "replace", "dev", "eth0", "root", "tbf", "rate",
                        "20000kbit", "burst", "32kb", "latency", "200ms"], check=True)
        procs = Procs("partyhub-bench-upload-")
        run_dir = procs.dir
        on = lambda h: ["ip", "netns", "exec", f"ph{h}"]
        common = ["--overlay", "push", "--overlay-size", "10", "--source-copies", "3", "--stats-json", "--log-level",
                  "warn", "--duration", str(seconds + 5), "--emulate-delay-ms", "20"]
        procs.spawn("S", *on(1), f"{bin_dir}/partyhub-streamer", "--name", "S", "--listen", "10.77.0.1:7000",
                    "--source", f"ipc://{run_dir}/src.ipc", "--players", f"ipc://{run_dir}/s.ipc", *common)
        for i in range(1, 11):
            procs.spawn(f"P{i}", *on(i + 1), f"{bin_dir}/partyhub-streamer", "--name", f"P{i}", "--listen",
                        f"10.77.0.{i + 1}:7000", "--bootstrap", "10.77.0.1:7000", "--players",
                        f"ipc://{run_dir}/p{i}.ipc", *common, *peer_args)
            procs.spawn(f"v{i}", *on(i + 1), f"{bin_dir}/partyhub-player", "--name", f"v{i}", "--streamer",
                        f"ipc://{run_dir}/p{i}.ipc", "--sink", "fake", "--duration", str(seconds + 3), "--stats-json",
                        "--log-level", "warn")
        time.sleep(1.5)  # the peers join before the stream starts
        procs.spawn("source", *on(1), f"{bin_dir}/partyhub-source", "--name", "E", "--streamer",
                    f"ipc://{run_dir}/src.ipc", "--video", "pipeline:videotestsrc is-live=true pattern=smpte "
                    "horizontal-speed=4", "--width", "640", "--height", "360", "--fps", "25", "--video-kbps", "1000",
                    "--duration", str(seconds), "--audio", "none", "--stats-json", "--log-level", "warn")
        outs = {name: procs.output(name, seconds + 60) for name in procs.procs}
    finally:
        subprocess.run([testbed, "down"], stdout=subprocess.DEVNULL)
    made = int(last_json(outs["source"], "source")["video_frames"])
    peers = []
    for i in range(1, 11):
        player, streamer = last_json(outs[f"v{i}"], "player"), last_json(outs[f"P{i}"], "streamer")
        peers.append({"frames_lost": int(player["frames_lost"]), "frames_rendered": int(player["frames_rendered"]),
                      "g2g_p95_ms": player["g2g"]["p95_ms"], "overlay_delay_p99_ms": streamer["overlay_delay"]["p99_ms"],
                      "upload_budget_kbps": int(streamer.get("upload_budget_kbps", 0))})
    return {"frames_made": made, "frames_lost": sum(p["frames_lost"] for p in peers),
            "worst_g2g_p95_ms": max(p["g2g_p95_ms"] for p in peers),
            "worst_overlay_delay_p99_ms": max(p["overlay_delay_p99_ms"] for p in peers),
            "budgets_kbps": [p["upload_budget_kbps"] for p in peers], "peers": peers}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--root", required=True)
    ap.add_argument("--seconds", type=float, default=30)
    ap.add_argument("--rate-kbit", type=int, default=2500, help="each peer's uplink")
    args = ap.parse_args()
    if os.geteuid() != 0:
        print("upload-estimate: needs root (network namespaces)", file=sys.stderr)
        return 2
    cases = {"default": [], "told": ["--upload-kbps", str(args.rate_kbit)], "estimated": ["--estimate-upload"]}
    result = {"seconds": args.seconds, "rate_kbit": args.rate_kbit, "peers": 10, "runs": {}}
    print(f"{'':12}{'frames lost':>12}{'worst g2g p95':>15}{'worst p99':>11}  budgets kbit/s")
    for name, peer_args in cases.items():
        r = run(args.root, args.seconds, args.rate_kbit, peer_args)
        result["runs"][name] = r
        print(f"{name:12}{r['frames_lost']:>7} / {r['frames_made'] * 10:<5}{r['worst_g2g_p95_ms']:>12.0f} ms"
              f"{r['worst_overlay_delay_p99_ms']:>8.0f} ms  {min(r['budgets_kbps'])}-{max(r['budgets_kbps'])}")
    write_result(args.root, "upload-estimate", result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
