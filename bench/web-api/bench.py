"""Runs the Rust web-api and the FastAPI app under the same wrk load and prints a Markdown
table: requests/s, p50/p99 latency, server CPU seconds, peak RSS, access-log lines per request.
Called by run.sh, which installs the tools first."""

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


def wrk(url: str, duration: int, connections: int) -> dict:
    res = subprocess.run(
        ["wrk", "-t1", f"-c{connections}", f"-d{duration}s", "--latency", url],
        capture_output=True, text=True, check=True,
    )
    text = res.stdout
    requests = int(re.search(r"(\d+) requests in", text).group(1))
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    socket_errors = re.search(r"Socket errors: (.*)", text)
    return {
        "requests": requests,
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1)),
        "p50": to_ms(re.search(r"\s50%\s+(\S+)", text).group(1)),
        "p99": to_ms(re.search(r"\s99%\s+(\S+)", text).group(1)),
        "non2xx": int(errors.group(1)) if errors else 0,
        "socket_errors": socket_errors.group(1) if socket_errors else "",
    }


def run_case(name: str, cmd: list[str], env: dict, cwd: str, log: str, marker: str,
             duration: int, connections: int) -> dict:
    if os.path.exists(log):
        os.remove(log)
    port = free_port()
    cmd = [c.replace("{port}", str(port)) for c in cmd]
    proc = subprocess.Popen(cmd, cwd=cwd, env={**os.environ, **env},
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    try:
        url = f"http://127.0.0.1:{port}/"
        wait_ready(url)
        warm = wrk(url, 2, connections)
        pids = tree(proc.pid)
        cpu0 = cpu_seconds(pids)
        res = wrk(url, duration, connections)
        pids = tree(proc.pid)
        res["cpu"] = cpu_seconds(pids) - cpu0
        res["rss"] = peak_rss_mib(pids)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)
    with open(log, errors="replace") as f:
        lines = sum(1 for line in f if marker in line)
    sent = 1 + warm["requests"] + res["requests"]  # readiness probe + warm-up + measured
    res["lines_per_request"] = lines / sent
    res["lines"], res["sent"] = lines, sent
    res["name"] = name
    print(f"  {name}: {res['rps']:.0f} req/s, p50 {res['p50']:.2f} ms, p99 {res['p99']:.2f} ms, "
          f"{lines} lines for {sent} requests", file=sys.stderr)
    return res


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rust", required=True)
    ap.add_argument("--venv", required=True)
    ap.add_argument("--app-dir", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--duration", type=int, default=10)
    ap.add_argument("--connections", type=int, default=64)
    args = ap.parse_args()
    cores = os.cpu_count() or 1
    gunicorn = os.path.join(args.venv, "bin", "gunicorn")

    def fastapi(workers: int):
        log = os.path.join(args.out, f"fastapi-{workers}.log")
        cmd = [gunicorn, "app:app", "--bind", "127.0.0.1:{port}", "-w", str(workers),
               "-k", "uvicorn.workers.UvicornWorker"]
        return run_case(f"FastAPI (gunicorn -w {workers}, uvicorn worker)", cmd, {"LOG_FILE": log},
                        args.app_dir, log, " access: ", args.duration, args.connections)

    def rust(workers: int):
        log = os.path.join(args.out, f"rust-{workers}.log")
        cmd = [args.rust, "--bind", "127.0.0.1:{port}", "--workers", str(workers), "--log-file", log]
        return run_case(f"Rust web-api (--workers {workers})", cmd, {}, args.out, log,
                        '"httpRequest"', args.duration, args.connections)

    print(f"wrk -t1 -c{args.connections} -d{args.duration}s GET / on {cores} cores", file=sys.stderr)
    rows = [fastapi(1), rust(1)]
    if cores > 1:
        rows += [fastapi(cores), rust(cores)]

    table = ["| server | requests/s | p50 ms | p99 ms | CPU s | CPU µs / request | peak RSS MiB | log lines / request |",
             "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        table.append(f"| {r['name']} | {r['rps']:,.0f} | {r['p50']:.2f} | {r['p99']:.2f} | "
                     f"{r['cpu']:.1f} | {r['cpu'] / r['requests'] * 1e6:.0f} | {r['rss']:.1f} | "
                     f"{r['lines_per_request']:.3f} |")
    table.append("")
    table.append(f"At 1 worker the Rust API serves **{rows[1]['rps'] / rows[0]['rps']:.0f}x** the "
                 f"requests/s of FastAPI (p99 {rows[1]['p99']:.2f} ms vs {rows[0]['p99']:.2f} ms) and "
                 f"spends **{(rows[0]['cpu'] / rows[0]['requests']) / (rows[1]['cpu'] / rows[1]['requests']):.0f}x** "
                 f"less CPU per request.")
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
