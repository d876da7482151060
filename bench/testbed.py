"""bench/run testbed: a conference across network namespaces.

Six participants as six hosts (deploy/testbed.sh): each host's uplink is a
4 Mbit/s token bucket, 1 % of UDP datagrams are lost on arrival and the
streamers add 20 ms of one-way delay to their peer traffic (this kernel has no
netem). The group manager runs on the bridge (10.77.0.254); each host runs its
own controller daemon, which launches its source and a streamer/player pair per
other member. Sources send 640x360 video at 500 kbit/s plus Opus. After a
warm-up, measures the worst stream's delivery, the worst glass-to-glass p95,
CPU by process kind and each host's upload use (bytes its uplink sent against
its rate). Writes build/bench/testbed.json. Needs root.

Defaults: the shared layout and 30 fps. Every "host" shares this machine's two
cores: six encoders and thirty decoders of 640x360 at 30 fps take about 160 %
of them (since the players decode with openh264, 190 % with per-source's 36
streamers). --fps 15 leaves more room; --layout per-source runs the other
layout.
"""
import argparse
import os
import subprocess
import sys
import tempfile
import time

from benchlib import write_result
from conference import NAMES, measure, stop_all

BRIDGE_IP = "10.77.0.254"


def host_ip(i):
    return f"10.77.0.{i + 1}"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--root", required=True)
    ap.add_argument("--hosts", type=int, default=6)
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--warmup", type=float, default=8)
    ap.add_argument("--rate-kbit", type=int, default=4000)
    ap.add_argument("--loss", type=float, default=0.01)
    ap.add_argument("--delay-ms", type=int, default=20)
    ap.add_argument("--video-kbps", type=int, default=500)
    ap.add_argument("--fps", type=int, default=30)
    ap.add_argument("--layout", default="shared", choices=["per-source", "shared"])
    args = ap.parse_args()
    if os.geteuid() != 0:
        print("testbed: needs root (network namespaces)", file=sys.stderr)
        return 2
    n = args.hosts
    bin_dir = os.path.join(args.root, "build", "bin")
    testbed = os.path.join(args.root, "deploy", "testbed.sh")
    subprocess.run([testbed, "up", str(n), "--rate-kbit", str(args.rate_kbit), "--loss", str(args.loss)], check=True)
    run = tempfile.mkdtemp(prefix="partyhub-bench-testbed-")
    manager = f"http://{BRIDGE_IP}:8700"
    procs = [subprocess.Popen([f"{bin_dir}/partyhub-groupmgr", "--listen", f"{BRIDGE_IP}:8700", "--db",
                               f"{run}/groups.db", "--log-level", "warn"], stderr=subprocess.DEVNULL)]
    daemons = []
    try:
        for i in range(n):
            url = f"http://{host_ip(i)}:8800"
            daemons.append(url)
            log = open(f"{run}/controller-{NAMES[i]}.log", "w")
            procs.append(subprocess.Popen(
                [testbed, "exec", str(i + 1), f"{bin_dir}/partyhub-controller", "daemon", "--listen",
                 f"{host_ip(i)}:8800", "--advertise-host", host_ip(i), "--run-dir", f"{run}/{NAMES[i]}",
                 "--sink", "fake", "--emulate-delay-ms", str(args.delay_ms), "--uplink-kbps", str(args.rate_kbit), "--log-level", "warn"],
                stderr=log))
        infra = {procs[0].pid: "groupmgr", **{p.pid: "controller" for p in procs[1:]}}
        time.sleep(1)
        for i, url in enumerate(daemons):
            subprocess.run([f"{bin_dir}/partyhub-controller", "--daemon", url, "join", "meet", "--name", NAMES[i],
                            "--manager", manager, "--fps", str(args.fps), "--video-kbps", str(args.video_kbps),
                            "--layout", args.layout],
                           check=True, stdout=subprocess.DEVNULL)
        time.sleep(args.warmup)

        def tx():
            return [int(subprocess.run([testbed, "tx-bytes", str(i + 1)], check=True, capture_output=True,
                                       text=True).stdout) for i in range(n)]

        tx0 = tx()

        def utilisation(elapsed):
            return {"upload_utilization": {NAMES[i]: round(8 * (b1 - b0) / (args.rate_kbit * 1000 * elapsed), 3)
                                           for i, (b0, b1) in enumerate(zip(tx0, tx()))}}

        case = measure(daemons, infra, n, args.seconds, args.fps, utilisation)
    finally:
        stop_all(procs)
        subprocess.run([testbed, "down"], check=False)
    result = {
        **case,
        "layout": args.layout,
        "uplink_kbit_s": args.rate_kbit,
        "loss": args.loss,
        "one_way_delay_ms": args.delay_ms,
        "video": f"640x360@{args.fps} H.264 at {args.video_kbps} kbit/s, Opus; fake sinks, real decoding",
        "logs": run,
        "cpu_capacity_percent": 100 * (os.cpu_count() or 1),
    }
    result["pass"] = result["min_delivery_ratio"] >= 0.99 and (result["g2g_p95_ms"] or 1e9) <= 250
    print(f"layout: {args.layout}")
    print(f"{'hosts':>6}{'min deliv':>10}{'g2g p95':>9}{'CPU %':>8}  upload use per host")
    print(f"{n:>6}{result['min_delivery_ratio']:>10}{str(result['g2g_p95_ms']):>9}{result['cpu_percent_total']:>8}  "
          f"{result['upload_utilization']}")
    print(f"CPU % by kind: {result['cpu_percent_by_kind']}")
    print("targets: delivery >= 0.99, g2g p95 <= 250 ms: " + ("PASS" if result["pass"] else "FAIL"))
    write_result(args.root, "testbed", result)
    return 0 if result["pass"] else 1


if __name__ == "__main__":
    sys.exit(main())
