"""bench/run chain: glass-to-glass latency of source -> streamer -> streamer ->
player against a direct GStreamer RTP/UDP pipeline with the same capture,
encoder and decoder settings and no jitter buffer, both in the same run.

640x360 at 30 fps H.264 (video only: the baseline has no audio), PartyHub's
player at its default settings. Both leave the first --warmup seconds out of
their latency percentiles. Writes build/bench/chain.json.
"""
import argparse
import json
import os
import subprocess
import sys
import time

from benchlib import Procs, last_json, write_result



def all_json(text, key):
    return [json.loads(l)[key] for l in text.splitlines() if l.strip().startswith("{") and f'"{key}"' in l]


def steady_cpu(lines, chunk_key):
    """(cpu us, chunks) between the first report with traffic and the last:
    the per-chunk cost without process start-up."""
    busy = [l for l in lines if int(l[chunk_key]) > 0]
    if len(busy) < 2:
        return 0, 0
    return (int(busy[-1]["cpu_us"]) - int(busy[0]["cpu_us"]),
            int(busy[-1][chunk_key]) - int(busy[0][chunk_key]))


def run_rtp(bin_dir, seconds, warmup):
    out = subprocess.run([f"{bin_dir}/partyhub-bench-rtp-baseline", "--seconds", str(seconds),
                          "--warmup", str(warmup), "--port", "15004"],
                         capture_output=True, text=True, timeout=seconds + 60, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def run_partyhub(bin_dir, seconds, warmup):
    procs = Procs("partyhub-bench-chain-")
    src, s_play, p_play = (f"ipc://{procs.dir}/{n}.ipc" for n in ("src", "s", "p"))
    a, b = "127.0.0.1:15100", "127.0.0.1:15101"
    tail = str(seconds + 4)

    procs.spawn("s", f"{bin_dir}/partyhub-streamer", "--name", "S", "--listen", a, "--peer", b, "--source", src,
                "--players", s_play, "--duration", tail, "--stats-json", "--log-level", "warn")
    procs.spawn("p", f"{bin_dir}/partyhub-streamer", "--name", "P", "--listen", b, "--players", p_play,
                "--duration", tail, "--stats-json", "--log-level", "warn")
    procs.spawn("player", f"{bin_dir}/partyhub-player", "--name", "bench", "--streamer", p_play, "--sink", "fake",
                "--duration", str(seconds + 2), "--warmup", str(warmup), "--stats-json", "--log-level", "warn")
    time.sleep(0.5)
    procs.spawn("source", f"{bin_dir}/partyhub-source", "--name", "Bench", "--streamer", src, "--audio", "none",
                "--width", "640", "--height", "360", "--fps", "30", "--duration", str(seconds),
                "--stats-json", "--log-level", "warn")
    outs = {name: procs.output(name, seconds + 60) for name in ("source", "player", "s", "p")}
    cpu_s = steady_cpu(all_json(outs["s"], "streamer"), "chunks_from_source")
    cpu_p = steady_cpu(all_json(outs["p"], "streamer"), "chunks_from_peers")
    return (last_json(outs["player"], "player"), last_json(outs["s"], "streamer"),
            last_json(outs["p"], "streamer"), last_json(outs["source"], "source"),
            (cpu_s[0] + cpu_p[0], cpu_s[1] + cpu_p[1]))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--root", required=True)
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--warmup", type=float, default=3)
    args = ap.parse_args()
    bin_dir = os.path.join(args.root, "build", "bin")

    rtp = run_rtp(bin_dir, args.seconds, args.warmup)
    player, s, p, source, (cpu, chunks) = run_partyhub(bin_dir, args.seconds, args.warmup)

    g2g = player["g2g"]
    result = {
        "seconds": args.seconds,
        "warmup_s": args.warmup,
        "video": "640x360@30 H.264 x264enc zerolatency ultrafast, 1000 kbit/s",
        "partyhub_g2g_p50_ms": g2g["p50_ms"],
        "partyhub_g2g_p95_ms": g2g["p95_ms"],
        "partyhub_g2g_p99_ms": g2g["p99_ms"],
        "rtp_g2g_p50_ms": rtp["g2g_p50_ms"],
        "rtp_g2g_p95_ms": rtp["g2g_p95_ms"],
        "rtp_g2g_p99_ms": rtp["g2g_p99_ms"],
        "added_p50_ms": round(g2g["p50_ms"] - rtp["g2g_p50_ms"], 3),
        "added_p95_ms": round(g2g["p95_ms"] - rtp["g2g_p95_ms"], 3),
        "added_p99_ms": round(g2g["p99_ms"] - rtp["g2g_p99_ms"], 3),
        "frames_rendered_ratio": round(int(player["frames_rendered"]) / max(1, int(player["frames_expected"])), 4),
        "frames_rendered": int(player["frames_rendered"]),
        "frames_expected": int(player["frames_expected"]),
        "frames_late": int(player["frames_late"]),
        "frames_lost": int(player["frames_lost"]),
        "rtp_frames_rendered_ratio": round(rtp["frames_rendered"] / max(1, rtp["frames_sent"]), 4),
        # Both streamers, steady state (start-up excluded), per chunk handled.
        "streamer_cpu_us_per_chunk": round(cpu / max(1, chunks), 1),
        "overlay_delay_p95_ms": p["overlay_delay"]["p95_ms"],
        "playout_delay_ms_at_end": player["playout_delay_ms"],
        "player_arrival_p50_ms": player["arrival"]["p50_ms"],
        "player_arrival_p95_ms": player["arrival"]["p95_ms"],
        "player_ready_p50_ms": player["ready"]["p50_ms"],
        "player_ready_p95_ms": player["ready"]["p95_ms"],
    }
    result["target_added_p95_ms"] = round(max(5.0, 0.2 * rtp["g2g_p95_ms"]), 3)
    result["pass"] = (result["added_p95_ms"] <= result["target_added_p95_ms"]
                      and result["frames_rendered_ratio"] >= 0.99)

    print(f"{'':24}{'p50 ms':>10}{'p95 ms':>10}{'p99 ms':>10}")
    print(f"{'PartyHub chain':24}{g2g['p50_ms']:>10.2f}{g2g['p95_ms']:>10.2f}{g2g['p99_ms']:>10.2f}")
    print(f"{'direct RTP/UDP':24}{rtp['g2g_p50_ms']:>10.2f}{rtp['g2g_p95_ms']:>10.2f}{rtp['g2g_p99_ms']:>10.2f}")
    print(f"{'added':24}{result['added_p50_ms']:>10.2f}{result['added_p95_ms']:>10.2f}{result['added_p99_ms']:>10.2f}")
    print(f"frames rendered {result['frames_rendered']}/{result['frames_expected']} "
          f"({result['frames_rendered_ratio']:.4f}); streamer CPU {result['streamer_cpu_us_per_chunk']} us/chunk; "
          f"target added p95 <= {result['target_added_p95_ms']} ms: {'PASS' if result['pass'] else 'FAIL'}")
    write_result(args.root, "chain", result)
    return 0 if result["pass"] else 1


if __name__ == "__main__":
    sys.exit(main())
