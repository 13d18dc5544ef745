# An HTTP proxy for the tests (argv[1]: port): CONNECT tunnels and absolute-form requests,
# whatever host they name, go to that port on 127.0.0.1; the first line of each connection
# is logged to argv[2].
import socket, sys, threading

port, log_path = int(sys.argv[1]), sys.argv[2]
lock = threading.Lock()

def note(line):
    with lock:
        with open(log_path, "a") as f:
            f.write(line + "\n")

def pipe(a, b):
    try:
        while True:
            d = a.recv(65536)
            if not d:
                break
            b.sendall(d)
    except OSError:
        pass
    for s in (a, b):
        try:
            s.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

def serve(client):
    buf = b""
    while b"\r\n\r\n" not in buf:
        d = client.recv(65536)
        if not d:
            client.close()
            return
        buf += d
    head, rest = buf.split(b"\r\n\r\n", 1)
    lines = head.split(b"\r\n")
    method, target, version = lines[0].decode().split(" ", 2)
    note(method + " " + target)
    if method == "CONNECT":
        dest = int(target.rsplit(":", 1)[1])
        up = socket.create_connection(("127.0.0.1", dest))
        client.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
        if rest:
            up.sendall(rest)
    else:
        authority, _, path = target.split("://", 1)[1].partition("/")
        dest = int(authority.rsplit(":", 1)[1]) if ":" in authority else 80
        up = socket.create_connection(("127.0.0.1", dest))
        first = " ".join([method, "/" + path, version]).encode()
        up.sendall(b"\r\n".join([first] + lines[1:]) + b"\r\n\r\n" + rest)
    threading.Thread(target=pipe, args=(up, client), daemon=True).start()
    pipe(client, up)

srv = socket.socket()
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("127.0.0.1", port))
srv.listen(64)
while True:
    c, _ = srv.accept()
    threading.Thread(target=serve, args=(c,), daemon=True).start()
