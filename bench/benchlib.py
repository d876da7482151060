"""Helpers shared by the benchmark scripts: reading the executables' JSON
statistics lines and writing build/bench/NAME.json."""
import json
import os


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
