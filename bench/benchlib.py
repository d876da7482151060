"""Helpers shared by the benchmark scripts: running the executables, reading
their JSON statistics lines and writing build/bench/NAME.json."""
import json
import os
import subprocess
import tempfile


class Procs:
    """Processes whose standard output goes to a file each, read when they end.

    Not pipes: a pipe nobody reads while the script waits on another process
    fills at 64 KB, and its writer blocks on its next statistics line. The
    streamers of a 60 s overlay-loopback run froze that way after ~48 s (their
    lines are ~1.3 KB a second); every player then stopped, and, counting the
    frames it expected from those it saw, reported a clean run."""

    def __init__(self, prefix):
        self.dir = tempfile.mkdtemp(prefix=prefix)
        self.procs = {}

    def spawn(self, name, *args):
        with open(os.path.join(self.dir, name + ".out"), "w") as out:
            self.procs[name] = subprocess.Popen(list(args), stdout=out, stderr=subprocess.DEVNULL)
        return self.procs[name]

    def kill(self, name, sig):
        self.procs[name].send_signal(sig)
        self.procs[name].wait()

    def output(self, name, timeout):
        """Waits for `name` to end (killing it past `timeout` s) and returns
        its standard output; raises if it failed."""
        proc = self.procs[name]
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            raise RuntimeError(f"{name} did not end within {timeout} s")
        if proc.returncode != 0:
            raise RuntimeError(f"{name} exited with {proc.returncode}")
        with open(os.path.join(self.dir, name + ".out")) as f:
            return f.read()


def last_json(text, key):
    """The last statistics line of `text` that holds `key`, parsed; None if none."""
    for line in reversed(text.splitlines()):
        line = line.strip()
        if line.startswith("{") and f'"{key}"' in line:
            return json.loads(line)[key]
    return None


def write_result(root, name, result):
    out_dir = os.path.join(root, "build", "bench")
    os.makedirs(out_dir, exist_ok=True)
    path = os.path.join(out_dir, f"{name}.json")
    with open(path, "w") as f:
        json.dump(result, f, indent=2)
    print(f"wrote {path}")
