"""A verification engine for the tests: a real HTTP server in its own process, speaking vouch's
`http` engine protocol. It checks each job's signature, fails the first --fail jobs with 503
(so that vouch retries), fetches the job's front image through its signed URL, and answers a
result. Every request is logged as one JSON line in --log. Prints "ready <port>" once listening.
"""
import argparse
import hashlib
import hmac
import json
import sys
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

parser = argparse.ArgumentParser()
parser.add_argument("--secret", required=True)
parser.add_argument("--log", required=True)
parser.add_argument("--fail", type=int, default=0)
args = parser.parse_args()
seen = {"n": 0}


class Engine(BaseHTTPRequestHandler):
    def log_message(self, *a):
        pass

    def answer(self, status, body=None):
        data = json.dumps(body or {}).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self):
        raw = self.rfile.read(int(self.headers.get("content-length", "0")))
        want = hmac.new(args.secret.encode(), raw, hashlib.sha256).hexdigest()
        signed = hmac.compare_digest(want, self.headers.get("x-signature", ""))
        job = json.loads(raw) if signed else {}
        seen["n"] += 1
        entry = {"n": seen["n"], "signed": signed, "job": job,
                 "job_header": self.headers.get("x-vouch-job-id")}
        if not signed:
            status, reply = 401, {"detail": "bad signature"}
        elif seen["n"] <= args.fail:
            status, reply = 503, {"detail": "busy"}
        else:
            front = job.get("media", {}).get("front")
            image = urllib.request.urlopen(front).read() if front else b""
            entry["front_bytes"] = len(image)
            entry["front_is_jpeg"] = image[:3] == b"\xff\xd8\xff"
            status, reply = 200, {
                "status": "Approved",
                "data": {"document_number": "X1234567", "checked_by": "test engine",
                         "front_bytes": len(image)},
                "warnings": [],
            }
        entry["answered"] = status
        with open(args.log, "a") as f:
            f.write(json.dumps(entry) + "\n")
        self.answer(status, reply)


server = ThreadingHTTPServer(("127.0.0.1", 0), Engine)
print("ready", server.server_address[1], flush=True)
server.serve_forever()
