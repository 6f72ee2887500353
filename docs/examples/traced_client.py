#!/usr/bin/env python3
"""A minimal traced IPC client in Python (standard library only).

Usage:
  traced_client.py SOCKET METHOD [JSON_PARAMS]      one request, prints the reply
  traced_client.py SOCKET --subscribe TOPIC...       prints push notifications

Frames are compact JSON followed by one form feed byte (0x0C), both ways.
"""
import json
import socket
import sys

FF = b"\x0c"


class TracedClient:
    def __init__(self, path):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(path)
        self.buf = b""
        self.next_id = 1

    def send(self, frame_type, data):
        payload = json.dumps({"type": frame_type, "data": data}, separators=(",", ":"))
        self.sock.sendall(payload.encode("utf-8") + FF)

    def frames(self):
        while True:
            while FF in self.buf:
                raw, self.buf = self.buf.split(FF, 1)
                if raw:
                    yield json.loads(raw.decode("utf-8"))
            chunk = self.sock.recv(65536)
            if not chunk:
                return
            self.buf += chunk

    def call(self, method, params=None):
        req_id = self.next_id
        self.next_id += 1
        self.send("req", {"id": req_id, "method": method, "params": params or {}})
        for frame in self.frames():
            if frame.get("type") == "res" and frame["data"].get("id") == req_id:
                data = frame["data"]
                if "error" in data:
                    raise RuntimeError("%s: %s" % (data["error"]["code"], data["error"]["message"]))
                return data["result"]
        raise RuntimeError("the daemon closed the connection")


def main(argv):
    if len(argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    client = TracedClient(argv[1])
    if argv[2] == "--subscribe":
        client.call("subscribe", {"topics": argv[3:] or ["*"]})
        for frame in client.frames():
            if frame.get("type") == "notify":
                print(json.dumps(frame["data"]), flush=True)
        return 0
    params = json.loads(argv[3]) if len(argv) > 3 else {}
    try:
        print(json.dumps(client.call(argv[2], params)))
    except RuntimeError as err:
        print(str(err), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
