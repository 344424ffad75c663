#!/usr/bin/env python3
"""A driver speaking the pool protocol (docs/protocol.md, "The pool
protocol") directly: one connection, many procedures, no process started
per run.

    bench/pool_direct.py SOCKET FILE N [CONNECTIONS]

Runs FILE N times over each of CONNECTIONS connections (default 1, in
threads), the run's output going to /dev/null, and prints one JSON object:
{"runs", "seconds", "runs_per_s", "p50_ms", "p99_ms", "failed"}."""
import json, os, socket, statistics, struct, sys, threading, time

def frame_send(sock, text):
    data = text.encode()
    chunks = [data[i:i + 65536] for i in range(0, len(data), 65536)] or [b""]
    for i, c in enumerate(chunks):
        more = 1 if i < len(chunks) - 1 else 0
        sock.send(struct.pack("<BBBBI", 0x54, 1, more, 0, len(c)) + c)

def frame_recv(sock):
    out = b""
    while True:
        pkt = sock.recv(65536 + 8)
        if not pkt:
            return None
        magic, ver, flags, _, n = struct.unpack("<BBBBI", pkt[:8])
        out += pkt[8:8 + n]
        if not flags & 1:
            return out.decode()

def driver(path, file, n, lat, failed):
    src = open(file).read()
    req = json.dumps({"file": file, "source": src, "params": {}, "keep": True})
    s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    s.connect(path)
    # The server must be ours (or root's) before anything is sent.
    uid = struct.unpack("3i", s.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, 12))[1]
    if uid not in (0, os.geteuid()):
        sys.exit("pool_direct: the pool is served by uid %d" % uid)
    cwd = os.open(".", os.O_PATH | os.O_DIRECTORY)
    pdir = os.open(os.path.dirname(os.path.abspath(file)), os.O_PATH | os.O_DIRECTORY)
    null = os.open("/dev/null", os.O_WRONLY)
    for _ in range(n):
        t0 = time.perf_counter()
        socket.send_fds(s, [b"H"], [cwd, pdir, null, null])
        frame_send(s, req)
        reply = frame_recv(s)
        lat.append(time.perf_counter() - t0)
        if reply is None or json.loads(reply).get("exit_code") != 0:
            failed.append(reply)
            if reply is None:
                break
    s.close()

def main():
    path, file, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
    conns = int(sys.argv[4]) if len(sys.argv) > 4 else 1
    lat, failed = [], []
    t0 = time.perf_counter()
    th = [threading.Thread(target=driver, args=(path, file, n, lat, failed)) for _ in range(conns)]
    for t in th: t.start()
    for t in th: t.join()
    secs = time.perf_counter() - t0
    lat.sort()
    print(json.dumps({"runs": len(lat), "seconds": round(secs, 3),
                      "runs_per_s": round(len(lat) / secs) if secs else 0,
                      "p50_ms": round(statistics.median(lat) * 1000, 3) if lat else None,
                      "p99_ms": round(lat[int(len(lat) * 0.99) - 1] * 1000, 3) if lat else None,
                      "failed": len(failed)}))

main()
