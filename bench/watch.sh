#!/usr/bin/env bash
# Watch figures (issue 14), on a private engine with a busybox service:
#   1. edit → visible in the container for a sync rule: a file saved on the host, until the
#      watcher has copied it in (its "Syncing service" line, printed once the archive API
#      answered), median and worst of $RUNS edits                     target median ≤ 50 ms
#   2. 1,000 files written at once (as a git checkout), until all are in  target ≤ 1 s
#   3. rebuild of a cached service whose last step (COPY) changed, until its new container
#      started                                                        target ≤ 300 ms + steps
#   4. the watcher idle on a 50,000-file tree: CPU over 5 s and peak RSS  target ≈ 0, ≤ 20 MB
#   5. `wharf config` of a 60-service file (no engine involved), median of 21  target ≤ 30 ms
# Each measured edit is checked afterwards with `exec cat` (content really in the container).
# Needs root, busybox-static and python3 (the driver that timestamps the watcher's lines).
# Usage: bench/watch.sh [path/to/wharf]   (default: target/release/wharf, built if missing)
set -euo pipefail
cd "$(dirname "$0")/.."
WHARF_BIN=$(realpath "${1:-${CARGO_TARGET_DIR:-target}/release/wharf}")
[ -x "$WHARF_BIN" ] || { cargo build --release; WHARF_BIN=$(realpath "${CARGO_TARGET_DIR:-target}/release/wharf"); }
RUNS=${RUNS:-50}

work=$(mktemp -d /tmp/wharf-bench-watch.XXXXXX)
W="$WHARF_BIN --root $work/root --run-root $work/run"
cleanup() {
  # shellcheck disable=SC2046
  $W rm -f -v $($W ps -aq 2>/dev/null) >/dev/null 2>&1 || true
  $W daemon stop >/dev/null 2>&1 || true
  nft delete table inet wharf_bench_watch >/dev/null 2>&1 || true
  nft delete table ip wharf_bench_watch >/dev/null 2>&1 || true
  for l in $(ip -o link show 2>/dev/null | awk -F': ' '{print $2}' | cut -d@ -f1 | grep '^wbw'); do
    ip link del "$l" >/dev/null 2>&1 || true
  done
  grep -o "$work[^ ]*" /proc/mounts | sort -r | xargs -r -n1 umount -l 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

mkdir -p "$work/root"
cat > "$work/root/daemon.json" <<'JSON'
{"bridge": "wbwd0", "bip": "10.213.248.0/24", "nft-table": "wharf_bench_watch",
 "default-address-pools": [{"base": "10.213.128.0/18", "size": 24}],
 "bridge-prefix": "wbwb", "veth-prefix": "wbwv"}
JSON
mkdir -p "$work/rootfs/bin" "$work/rootfs/etc" "$work/rootfs/tmp"
cp /bin/busybox "$work/rootfs/bin/"
for a in sh true echo ls cat rm id sleep wc; do ln -s busybox "$work/rootfs/bin/$a"; done
echo 'root:x:0:0:root:/root:/bin/sh' > "$work/rootfs/etc/passwd"
echo 'root:x:0:' > "$work/rootfs/etc/group"
tar -C "$work/rootfs" -cf "$work/rootfs.tar" .
$W import -c 'CMD ["sh"]' "$work/rootfs.tar" busybox >/dev/null

proj=$work/proj
mkdir -p "$proj/src" "$proj/app" "$proj/big"
printf 'FROM busybox\nRUN echo built > /built\nCOPY msg /msg\n' > "$proj/app/Dockerfile"
echo v0 > "$proj/app/msg"
python3 - "$proj/big" <<'PY'
import os, sys
root = sys.argv[1]
for d in range(2500):
    p = os.path.join(root, f"d{d // 50}", f"e{d}")
    os.makedirs(p, exist_ok=True)
    for f in range(20):
        open(os.path.join(p, f"f{f}.txt"), "w").write("x")
PY
cat > "$proj/compose.yaml" <<'YAML'
services:
  app:
    image: busybox
    command: ["sh", "-c", "trap 'exit 0' TERM; while true; do sleep 1 & wait; done"]
    develop:
      watch:
        - {path: ./src, action: sync, target: /app/src}
  built:
    build: ./app
    command: ["sh", "-c", "trap 'exit 0' TERM; while true; do sleep 1 & wait; done"]
    develop:
      watch:
        - {path: ./app/msg, action: rebuild}
  idle:
    image: busybox
    command: ["sh", "-c", "trap 'exit 0' TERM; while true; do sleep 1 & wait; done"]
    develop:
      watch:
        - {path: ./big, action: sync, target: /big}
YAML

cd "$proj"
RUNS=$RUNS python3 - "$WHARF_BIN" "$work" <<'PY'
import os, queue, statistics, subprocess, sys, threading, time
wharf, work = sys.argv[1], sys.argv[2]
base = [wharf, "--root", f"{work}/root", "--run-root", f"{work}/run"]
comp = base + ["compose", "-p", "bw", "--progress", "plain"]
lines = queue.Queue()

def pump(stream):
    for l in stream:
        lines.put((time.monotonic(), l.rstrip("\n")))

def expect(text, timeout=30):
    end = time.monotonic() + timeout
    while True:
        t, l = lines.get(timeout=max(0.01, end - time.monotonic()))
        if text in l:
            return t, l

def run(*args):
    return subprocess.run(comp + list(args), check=True, capture_output=True, text=True).stdout

subprocess.run(comp + ["up", "-d"], check=True, capture_output=True)
w = subprocess.Popen(comp + ["watch", "--no-up"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
for s in (w.stdout, w.stderr):
    threading.Thread(target=pump, args=(s,), daemon=True).start()
expect("Watch enabled", 60)

def write(path, text):
    with open(path, "w") as f:
        f.write(text)

lat = []
for i in range(int(os.environ["RUNS"])):
    t0 = time.monotonic()
    write("src/edit.txt", f"edit {i}\n")
    t1, _ = expect('Syncing service "app"')
    lat.append((t1 - t0) * 1000)
    assert run("exec", "-T", "app", "cat", "/app/src/edit.txt") == f"edit {i}\n"
lat.sort()
print(f"sync, one file saved → in the container: median {statistics.median(lat):.1f} ms, "
      f"p90 {lat[int(len(lat) * 0.9)]:.1f} ms, worst {lat[-1]:.1f} ms ({len(lat)} edits)")

os.makedirs("src/many", exist_ok=True)
t0 = time.monotonic()
for i in range(1000):
    write(f"src/many/f{i}.txt", f"{i}\n")
batches = 0
while True:
    t1, _ = expect('Syncing service "app"')
    batches += 1
    if run("exec", "-T", "app", "sh", "-c", "ls /app/src/many | wc -l").strip() == "1000":
        break
print(f"sync, 1,000 files written at once → all in the container: {(t1 - t0) * 1000:.0f} ms "
      f"in {batches} batch(es)")

reb = []
for i in range(5):
    t0 = time.monotonic()
    write("app/msg", f"v{i + 1}\n")
    expect('service "built" successfully built')
    t1, _ = expect("Container bw-built-1  Started")
    reb.append((t1 - t0) * 1000)
    assert run("exec", "-T", "built", "cat", "/msg") == f"v{i + 1}\n"
print(f"rebuild, last step (COPY) changed → new container started: median "
      f"{statistics.median(reb):.0f} ms (of 5)")

def cpu_ticks(pid):
    f = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return int(f[11]) + int(f[12])
t = cpu_ticks(w.pid)
time.sleep(5)
ticks = cpu_ticks(w.pid) - t
hwm = [l for l in open(f"/proc/{w.pid}/status") if l.startswith(("VmHWM", "VmRSS"))]
print(f"watcher idle on a 50,000-file tree (plus the rest): {ticks * 1000 // os.sysconf('SC_CLK_TCK')} ms CPU "
      f"over 5 s; {' '.join(' '.join(l.split()) for l in hwm)}")
w.send_signal(2)
w.wait(timeout=30)
subprocess.run(comp + ["down", "-t", "0"], check=True, capture_output=True)

big = os.path.join(work, "c60")
os.makedirs(os.path.join(big, "src"))
svc = []
for i in range(60):
    dep = f"    depends_on:\n      s{i - 1}: {{condition: service_started}}\n" if i else ""
    svc.append(f"""  s{i}:
    image: busybox:1.36
    command: ["sh", "-c", "echo {i}"]
    environment: {{INDEX: "{i}", MODE: dev}}
    ports: ["{8000 + i}:80"]
    volumes: ["data{i}:/data", "./src:/src:ro"]
    healthcheck: {{test: ["CMD", "true"], interval: 5s}}
    labels: {{team: core}}
    restart: unless-stopped
{dep}""")
vols = "".join(f"  data{i}:\n" for i in range(60))
open(os.path.join(big, "compose.yaml"), "w").write("services:\n" + "".join(svc) + "volumes:\n" + vols)
times = []
for _ in range(21):
    t0 = time.monotonic()
    subprocess.run([wharf, "config"], cwd=big, check=True, capture_output=True)
    times.append((time.monotonic() - t0) * 1000)
print(f"wharf config of 60 services: median {statistics.median(times):.1f} ms (of 21)")
PY
