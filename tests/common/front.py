# A registry front for the tests: forwards every request to a real registry (argv[2]) and
# injects faults read from a JSON file (argv[3], read again on every request), logging each
# request as a JSON line to argv[4].
#   delay: seconds to hold each blob GET and upload PUT (to see how many run at once)
#   drop_blob_once: the first whole-blob GET of more than 64 KiB gets half its body, then
#                   the connection is cut
#   status_once: {"match": "/manifests/", "status": 429, "retry_after": "1"}, once (a rule
#                that differs fires once again)
#   stall_after: blob GETs after this many served get half their body, then nothing until
#                the client goes
import http.client, http.server, json, select, socket, sys, threading, time

port, backend, config_path, log_path = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
lock = threading.Lock()
state = {"dropped": False, "statuses_done": set(), "blobs_served": 0, "inflight": 0}

def note(**entry):
    with lock:
        with open(log_path, "a") as f:
            f.write(json.dumps(entry) + "\n")

def config():
    try:
        with open(config_path) as f:
            return json.load(f)
    except FileNotFoundError:
        return {}

class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def handle_any(self):
        cfg = config()
        path, method = self.path, self.command
        blob_get = method == "GET" and "/blobs/sha256:" in path
        upload = method == "PUT" and "/blobs/uploads/" in path
        rng = self.headers.get("Range")
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n) if n else None
        so = cfg.get("status_once")
        if so and so["match"] in path and json.dumps(so) not in state["statuses_done"]:
            state["statuses_done"].add(json.dumps(so))
            note(method=method, path=path, event="injected", status=so["status"])
            self.send_response(so["status"])
            if so.get("retry_after") is not None:
                self.send_header("Retry-After", so["retry_after"])
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if blob_get or upload:
            with lock:
                state["inflight"] += 1
                now = state["inflight"]
            note(method=method, path=path, event="start", inflight=now, range=rng)
        try:
            if (blob_get or upload) and cfg.get("delay"):
                time.sleep(cfg["delay"])
            conn = http.client.HTTPConnection(backend, timeout=60)
            conn.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
            for k, v in self.headers.items():
                if k.lower() not in ("connection", "keep-alive", "content-length"):
                    conn.putheader(k, v)
            if body is not None:
                conn.putheader("Content-Length", str(len(body)))
            conn.endheaders(body)
            resp = conn.getresponse()
            data = resp.read()
            conn.close()
        finally:
            if blob_get or upload:
                with lock:
                    state["inflight"] -= 1
        whole = blob_get and rng is None and resp.status == 200
        cut = None
        if whole and len(data) > 65536 and cfg.get("drop_blob_once") and not state["dropped"]:
            state["dropped"] = True
            cut = "dropped"
        stall = cfg.get("stall_after")
        if whole and stall is not None and state["blobs_served"] >= stall:
            cut = "stalled"
        note(method=method, path=path, event=cut or "served", status=resp.status, range=rng,
             size=len(data))
        self.send_response(resp.status)
        for k, v in resp.getheaders():
            if k.lower() not in ("connection", "keep-alive", "transfer-encoding", "content-length"):
                self.send_header(k, v)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if method == "HEAD":
            return
        if cut is None:
            self.wfile.write(data)
            if whole:
                state["blobs_served"] += 1
            return
        self.wfile.write(data[: len(data) // 2])
        self.wfile.flush()
        if cut == "stalled":
            sock = self.connection
            while True:
                r, _, _ = select.select([sock], [], [], 0.1)
                if r and sock.recv(1, socket.MSG_PEEK) == b"":
                    note(method=method, path=path, event="client-gone")
                    break
        self.close_connection = True
        self.connection.shutdown(socket.SHUT_RDWR)

    do_GET = do_HEAD = do_PUT = do_POST = do_PATCH = do_DELETE = handle_any

    def log_message(self, *a):
        pass

http.server.ThreadingHTTPServer(("127.0.0.1", port), H).serve_forever()
