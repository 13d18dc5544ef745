#!/usr/bin/env bash
# The scale curve (issue 18): how wharf's costs grow from 10 to 100 (and, with SCALE_1000=1,
# 1,000) containers. For each N, on `--network none` and on one user-defined bridge:
#   start: N × `run -d … sleep` through `xargs -P $PAR` (per-container cost, containers/s);
#   `ps -a`, `inspect` of one container and `ps -a --filter name=…` with N present (median of
#   15); `events`: 10 subscribers connected, then one more `run -d`, until all 10 printed its
#   start; supervisor private memory (mean of 10); `rm -f` of all N;
#   then the daemon idle: CPU over 5 s and RSS, against its RSS when fresh.
# And compose `up -d` + `down` of 10, 50 and 200 services (busybox `sleep`, `init: true`).
# Targets (issue 18): per-container costs flat in N; at 1,000: ps -a ≤ 20 ms, daemon RSS ≤
# 40 MB, ≥ 100 containers/s; idle CPU 0 and RSS within 1 MB of fresh after the churn.
# Needs root and busybox-static.
# Usage: bench/scale.sh [path/to/wharf]   env: SCALE_1000=1, PAR (default 16), NETS ("none bridge")
set -euo pipefail
cd "$(dirname "$0")/.."
WHARF_BIN=$(realpath "${1:-${CARGO_TARGET_DIR:-target}/release/wharf}")
[ -x "$WHARF_BIN" ] || { echo "bench: no $WHARF_BIN (cargo build --release)" >&2; exit 2; }
SIZES="10 100"
[ "${SCALE_1000:-}" = 1 ] && SIZES="10 100 1000"
PAR=${PAR:-16}
NETS=${NETS:-none bridge}
COMPOSE_SIZES=${COMPOSE_SIZES:-10 50 200}

work=$(mktemp -d /tmp/wharf-scale.XXXXXX)
W="$WHARF_BIN --root $work/root --run-root $work/run"
cleanup() {
  # shellcheck disable=SC2046
  $W ps -aq 2>/dev/null | xargs -r $W rm -f >/dev/null 2>&1 || true
  $W network rm scalenet >/dev/null 2>&1 || true
  $W daemon stop >/dev/null 2>&1 || true
  nft delete table ip wharf_scale >/dev/null 2>&1 || true
  for l in $(ip -o link show 2>/dev/null | awk -F': ' '{print $2}' | cut -d@ -f1 | grep '^wsc'); do
    ip link del "$l" >/dev/null 2>&1 || true
  done
  for m in "$work"/run/netns/*; do umount "$m" >/dev/null 2>&1 || true; done
  rm -rf "$work"
}
trap cleanup EXIT
mkdir -p "$work/root"
cat > "$work/root/daemon.json" <<'JSON'
{"bridge": "wscd0", "bip": "10.217.250.0/24", "nft-table": "wharf_scale",
 "bridge-prefix": "wscb", "veth-prefix": "wscv",
 "default-address-pools": [{"base": "10.217.0.0/18", "size": 24}]}
JSON
mkdir -p "$work/rootfs/bin" "$work/rootfs/etc"
cp /bin/busybox "$work/rootfs/bin/"
for a in sh true sleep; do ln -s busybox "$work/rootfs/bin/$a"; done
echo 'root:x:0:0:root:/root:/bin/sh' > "$work/rootfs/etc/passwd"
echo 'root:x:0:' > "$work/rootfs/etc/group"
tar -C "$work/rootfs" -cf "$work/rootfs.tar" .
$W import -c 'CMD ["sh"]' "$work/rootfs.tar" box >/dev/null
# One bridge for the bridged runs: a /20 holds 1,000 containers.
$W network create --subnet 10.217.64.0/20 scalenet >/dev/null
pid=$(cat "$work/run/wharf.pid")
echo "== load before: $(cut -d' ' -f1-3 /proc/loadavg); PAR=$PAR; sizes $SIZES"

python3 - "$pid" "$PAR" "$work" "$SIZES" "$NETS" "$COMPOSE_SIZES" $W <<'PY'
import os, statistics, subprocess, sys, threading, time
pid, par, work, sizes, nets, csizes, W = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], \
    [int(s) for s in sys.argv[4].split()], sys.argv[5].split(), [int(s) for s in sys.argv[6].split()], sys.argv[7:]
tick = os.sysconf("SC_CLK_TCK")

def wharf(*args, check=True, cwd=None):
    r = subprocess.run(W + list(args), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=cwd)
    if check and r.returncode != 0:
        sys.exit(f"bench: wharf {' '.join(args)}: {r.stderr.strip()}")
    return r.stdout

def timed(*args, runs=15):
    t = []
    for _ in range(runs):
        t0 = time.perf_counter(); wharf(*args); t.append(time.perf_counter() - t0)
    return statistics.median(t) * 1000

def rss_kb(p):
    for l in open(f"/proc/{p}/status"):
        if l.startswith("VmRSS"):
            return int(l.split()[1])

def cpu_ticks(p):
    f = open(f"/proc/{p}/stat").read().rsplit(") ", 1)[1].split()
    return int(f[11]) + int(f[12])

def private_kb(p):
    s = 0
    for l in open(f"/proc/{p}/smaps_rollup"):
        if l.startswith(("Private_Clean", "Private_Dirty")):
            s += int(l.split()[1])
    return s

def idle():
    time.sleep(1)
    c0 = cpu_ticks(pid); time.sleep(5); c1 = cpu_ticks(pid)
    return (c1 - c0) * 1000 // tick, rss_kb(pid)

def parallel(args_list):
    """Run the commands with at most `par` at once; the wall time."""
    t0 = time.perf_counter()
    procs, i = [], 0
    sem = threading.Semaphore(par)
    errors = []
    def one(a):
        with sem:
            r = subprocess.run(W + a, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
            if r.returncode != 0:
                errors.append(r.stderr.strip())
    ts = [threading.Thread(target=one, args=(a,)) for a in args_list]
    for t in ts: t.start()
    for t in ts: t.join()
    if errors:
        sys.exit(f"bench: {len(errors)} failed, first: {errors[0]}")
    return time.perf_counter() - t0

def events_fanout(netargs):
    subs = [subprocess.Popen(W + ["events", "--filter", "event=start", "--format", "{{.ID}}"],
                             stdout=subprocess.PIPE, text=True) for _ in range(10)]
    time.sleep(0.5)
    t0 = time.perf_counter()
    cid = wharf("run", "-d", *netargs, "box", "sleep", "600").strip()
    for s in subs:
        while True:
            line = s.stdout.readline()
            if not line or cid.startswith(line.strip()):
                break
    t = (time.perf_counter() - t0) * 1000
    for s in subs:
        s.terminate(); s.wait()
    return t

fresh_cpu, fresh = idle()
print(f"   daemon fresh: RSS {fresh} kB, CPU {fresh_cpu} ms over 5 s idle")
rows = []
for net in nets:
    netargs = ["--network", "none"] if net == "none" else ["--network", "scalenet"]
    for n in sizes:
        wall = parallel([["run", "-d", *netargs, "box", "sleep", "600"] for _ in range(n)])
        running = len(wharf("ps", "-q").split())
        one = wharf("ps", "-aq").split()[0]
        name = wharf("inspect", "-f", "{{.Name}}", one).strip().lstrip("/")
        ps = timed("ps", "-a")
        ins = timed("inspect", one)
        flt = timed("ps", "-a", "--filter", f"name={name}")
        ev = events_fanout(netargs)
        sups = [int(wharf("inspect", "-f", "{{.State.Pid}}", c).strip()) for c in wharf("ps", "-q").split()[:10]]
        # the supervisor is the container's parent
        sup_priv = statistics.mean(private_kb(int(open(f"/proc/{p}/stat").read().rsplit(") ", 1)[1].split()[1])) for p in sups)
        busy_rss = rss_kb(pid)
        ids = wharf("ps", "-aq").split()
        t0 = time.perf_counter(); wharf("rm", "-f", *ids); rm = (time.perf_counter() - t0) * 1000
        left = len(wharf("ps", "-aq").split())
        icpu, irss = idle()
        rows.append((net, n, wall * 1000 / n, n / wall, ps, ins, flt, ev, sup_priv, busy_rss, rm, icpu, irss, running, left))
        print(f"   {net:6} N={n:5}: start {wall*1000/n:6.2f} ms/container ({n/wall:6.1f}/s, running {running}), "
              f"ps -a {ps:6.1f} ms, inspect {ins:5.1f} ms, ps --filter name {flt:5.1f} ms, events×10 {ev:5.1f} ms, "
              f"supervisor private {sup_priv:5.0f} kB, daemon RSS {busy_rss} kB, rm -f all {rm:7.0f} ms (left {left}), "
              f"idle after: CPU {icpu} ms/5 s, RSS {irss} kB", flush=True)

print("== compose up -d + down")
for n in csizes:
    d = f"{work}/c{n}"; os.makedirs(d, exist_ok=True)
    with open(f"{d}/compose.yaml", "w") as f:
        f.write("services:\n")
        for i in range(n):
            f.write(f"  s{i}:\n    image: box\n    command: [\"sleep\", \"3600\"]\n    init: true\n")
    t0 = time.perf_counter(); wharf("compose", "--progress", "quiet", "up", "-d", cwd=d); up = time.perf_counter() - t0
    t0 = time.perf_counter(); wharf("compose", "--progress", "quiet", "down", cwd=d); down = time.perf_counter() - t0
    print(f"   {n:4} services: up -d {up*1000:6.0f} ms, down {down*1000:6.0f} ms, total {(up+down)*1000:6.0f} ms "
          f"({(up+down)*1000/n:5.2f} ms/service)", flush=True)
icpu, irss = idle()
print(f"== daemon after all: RSS {irss} kB (fresh {fresh} kB, +{irss - fresh} kB), CPU {icpu} ms over 5 s idle")
PY
echo "== load after: $(cut -d' ' -f1-3 /proc/loadavg)"
