"""Runs the Rust web-api, the FastAPI app and a do-nothing floor server under the same wrk load
and prints a Markdown table: requests/s, p50/p99 latency, server CPU per request, peak RSS,
access-log lines per request. Medians of several interleaved rounds. Called by run.sh, which
installs the tools first."""

import argparse
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request

CLK_TCK = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def tree(pid: int) -> list[int]:
    """pid and all its descendants (gunicorn master + workers)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
                children.setdefault(ppid, []).append(int(entry))
            except (OSError, IndexError, ValueError):
                pass
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(children.get(p, []))
    return out


def cpu_seconds(pids: list[int]) -> float:
    total = 0
    for p in pids:
        try:
            with open(f"/proc/{p}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])  # utime + stime
        except OSError:
            pass
    return total / CLK_TCK


def peak_rss_mib(pids: list[int]) -> float:
    total = 0
    for p in pids:
        try:
            with open(f"/proc/{p}/status") as f:
                for line in f:
                    if line.startswith("VmHWM:"):
                        total += int(line.split()[1])
        except OSError:
            pass
    return total / 1024


def wait_ready(url: str, timeout: float = 60) -> None:
    end = time.time() + timeout
    while time.time() < end:
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.05)
    raise SystemExit(f"server at {url} did not come up")


def to_ms(value: str) -> float:
    m = re.fullmatch(r"([\d.]+)(us|ms|s)", value)
    n, unit = float(m.group(1)), m.group(2)
    return n / 1000 if unit == "us" else n * 1000 if unit == "s" else n


def wrk(url: str, duration: int, connections: int, cpu: int | None) -> dict:
    cmd = ["wrk", "-t1", f"-c{connections}", f"-d{duration}s", "--latency", url]
    if cpu is not None:
        cmd = ["taskset", "-c", str(cpu)] + cmd
    text = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    socket_errors = re.search(r"Socket errors: (.*)", text)
    return {
        "requests": int(re.search(r"(\d+) requests in", text).group(1)),
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1)),
        "p50": to_ms(re.search(r"\s50%\s+(\S+)", text).group(1)),
        "p99": to_ms(re.search(r"\s99%\s+(\S+)", text).group(1)),
        "non2xx": int(errors.group(1)) if errors else 0,
        "socket_errors": socket_errors.group(1) if socket_errors else "",
    }


def median(values: list[float]) -> float:
    values = sorted(values)
    return values[(len(values) - 1) // 2]


class Server:
    """One server under test: started once, measured in several rounds interleaved with the
    others of its group, so a noisy moment on the machine hits every server alike."""

    def __init__(self, name: str, cmd: list[str], env: dict, cwd: str,
                 log: str | None, marker: str | None, cpu: int | None):
        self.name, self.log, self.marker = name, log, marker
        if log and os.path.exists(log):
            os.remove(log)
        self.port = free_port()
        cmd = [c.replace("{port}", str(self.port)) for c in cmd]
        if cpu is not None:
            cmd = ["taskset", "-c", str(cpu)] + cmd
        self.proc = subprocess.Popen(cmd, cwd=cwd, env={**os.environ, **env},
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                     start_new_session=True)
        self.url = f"http://127.0.0.1:{self.port}/"
        self.runs: list[dict] = []
        self.sent = 0
        self.cpu = 0.0

    def measure(self, duration: int, connections: int, wrk_cpu: int | None,
                warm_up: bool = False) -> None:
        pids = tree(self.proc.pid)
        cpu0 = cpu_seconds(pids)
        res = wrk(self.url, duration, connections, wrk_cpu)
        self.sent += res["requests"]
        if not warm_up:
            self.cpu += cpu_seconds(tree(self.proc.pid)) - cpu0
            self.runs.append(res)

    def stop(self) -> dict:
        pids = tree(self.proc.pid)
        rss = peak_rss_mib(pids)
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(timeout=60)
        runs = self.runs
        requests = sum(r["requests"] for r in runs)
        res = {
            "name": self.name,
            "rps": median([r["rps"] for r in runs]),
            "p50": median([r["p50"] for r in runs]),
            "p99": median([r["p99"] for r in runs]),
            "cpu_us": self.cpu / requests * 1e6,
            "rss": rss,
            "non2xx": sum(r["non2xx"] for r in runs),
            "socket_errors": "; ".join(r["socket_errors"] for r in runs if r["socket_errors"]),
            "lines_per_request": None,
        }
        if self.log:
            with open(self.log, errors="replace") as f:
                lines = sum(1 for line in f if self.marker in line)
            res["lines_per_request"] = lines / self.sent
            res["lines"] = lines
        print(f"  {self.name}: median {res['rps']:.0f} req/s of "
              f"{', '.join('%.0f' % r['rps'] for r in runs)}; p99 {res['p99']:.2f} ms; "
              f"{res.get('lines', '-')} lines for {self.sent} requests", file=sys.stderr)
        return res


def run_group(servers: list[Server], rounds: int, duration: int, connections: int,
              wrk_cpu: int | None) -> list[dict]:
    try:
        for s in servers:
            wait_ready(s.url)
            s.sent += 1  # the readiness probe
            s.measure(2, connections, wrk_cpu, warm_up=True)
        for _ in range(rounds):
            for s in servers:
                s.measure(duration, connections, wrk_cpu)
    finally:
        results = []
        for s in servers:
            try:
                results.append(s.stop())
            except Exception:
                s.proc.kill()
                raise
    return results


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rust", required=True)
    ap.add_argument("--floor", required=True, help="the http_floor example binary")
    ap.add_argument("--venv", required=True)
    ap.add_argument("--app-dir", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--duration", type=int, default=5, help="seconds per measured round")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--connections", type=int, default=64)
    args = ap.parse_args()
    cores = os.cpu_count() or 1
    gunicorn = os.path.join(args.venv, "bin", "gunicorn")
    # At 1 worker the server gets core 0 and wrk core 1, so neither steals the other's core.
    server_cpu, wrk_cpu = (0, 1) if cores > 1 else (None, None)

    def fastapi(workers: int, cpu: int | None) -> Server:
        log = os.path.join(args.out, f"fastapi-{workers}.log")
        cmd = [gunicorn, "app:app", "--bind", "127.0.0.1:{port}", "-w", str(workers),
               "-k", "uvicorn.workers.UvicornWorker"]
        return Server(f"FastAPI (gunicorn -w {workers}, uvicorn worker)", cmd,
                      {"LOG_FILE": log}, args.app_dir, log, " access: ", cpu)

    def rust(workers: int, cpu: int | None) -> Server:
        log = os.path.join(args.out, f"rust-{workers}.log")
        cmd = [args.rust, "--bind", "127.0.0.1:{port}", "--workers", str(workers), "--log-file", log]
        return Server(f"Rust web-api (--workers {workers})", cmd, {}, args.out, log,
                      '"httpRequest"', cpu)

    def floor() -> Server:
        return Server("floor: fixed answer, no HTTP parsing, no logging (1 thread)",
                      [args.floor, "127.0.0.1:{port}"], {}, args.out, None, None, server_cpu)

    print(f"wrk -t1 -c{args.connections} GET /, {args.rounds} rounds of {args.duration} s per "
          f"server, interleaved, on {cores} cores", file=sys.stderr)
    one = run_group([fastapi(1, server_cpu), rust(1, server_cpu), floor()],
                    args.rounds, args.duration, args.connections, wrk_cpu)
    rows = one
    if cores > 1:
        rows += run_group([fastapi(cores, None), rust(cores, None)],
                          args.rounds, args.duration, args.connections, None)

    fast1, rust1, floor1 = one[0], one[1], one[2]
    table = ["| server | requests/s | p50 ms | p99 ms | CPU µs / request | peak RSS MiB | log lines / request |",
             "|---|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        lines = "-" if r["lines_per_request"] is None else f"{r['lines_per_request']:.3f}"
        table.append(f"| {r['name']} | {r['rps']:,.0f} | {r['p50']:.2f} | {r['p99']:.2f} | "
                     f"{r['cpu_us']:.0f} | {r['rss']:.1f} | {lines} |")
    table.append("")
    table.append(f"At 1 worker the Rust API serves **{rust1['rps'] / fast1['rps']:.1f}x** the "
                 f"requests/s of FastAPI (p99 {rust1['p99']:.2f} ms vs {fast1['p99']:.2f} ms) and "
                 f"spends **{fast1['cpu_us'] / rust1['cpu_us']:.1f}x** less CPU per request. "
                 f"The floor, a server that does no work, reaches **{floor1['rps'] / fast1['rps']:.1f}x** "
                 f"FastAPI here: no server on this machine's core can go past that ratio; "
                 f"the Rust API reaches {rust1['rps'] / floor1['rps'] * 100:.0f}% of the floor.")
    with open("/proc/loadavg") as f:
        table.append(f"Load average at the end (other work on the machine): {f.read().split()[0]}.")
    for r in rows:
        if r["non2xx"] or r["socket_errors"]:
            table.append(f"- {r['name']}: non-2xx {r['non2xx']}, socket errors {r['socket_errors']}")
    text = "\n".join(table)
    print(text)
    with open(os.path.join(args.out, "results.md"), "w") as f:
        f.write(text + "\n")


if __name__ == "__main__":
    main()
