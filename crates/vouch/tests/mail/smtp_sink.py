"""A real SMTP server for vouch's tests, built on aiosmtpd.

Every accepted message is written as an .eml file into --dir. Recipients whose local part starts
with "reject" are refused with a permanent 550, so tests can see a 5xx recorded as failed. Three
more prefixes make the server misbehave the first time it sees that address (then it behaves):
"greylist" answers RCPT with a temporary 451; "dropdata" reads the whole message, then drops the
connection instead of answering it (nothing is kept); "slow" waits --slow seconds before
answering RCPT. Every conversation that reaches RCPT is counted in --dir/rcpt.log.
Prints "ready <port>" once listening; runs until killed.
"""

import argparse
import asyncio
import os
import time
import uuid

from aiosmtpd.controller import Controller


class Sink:
    def __init__(self, directory, slow):
        self.directory = directory
        self.slow = slow
        self.seen = set()

    def first_time(self, what, address):
        key = (what, address.lower())
        if key in self.seen:
            return False
        self.seen.add(key)
        return True

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        with open(os.path.join(self.directory, "rcpt.log"), "a") as log:
            log.write(address + "\n")
        lower = address.lower()
        if lower.startswith("reject"):
            return "550 5.1.1 Mailbox unavailable"
        if lower.startswith("greylist") and self.first_time("rcpt", address):
            return "451 4.7.1 Greylisted, please try again later"
        if lower.startswith("slow") and self.first_time("rcpt", address):
            await asyncio.sleep(self.slow)
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if any(a.lower().startswith("dropdata") for a in envelope.rcpt_tos) and self.first_time(
            "data", envelope.rcpt_tos[0]
        ):
            server.transport.abort()
            return "451 4.3.0 never sent: the connection is gone"
        name = f"{time.time_ns()}-{uuid.uuid4().hex}.eml"
        tmp = os.path.join(self.directory, name + ".tmp")
        with open(tmp, "wb") as f:
            f.write(b"X-Envelope-To: " + ",".join(envelope.rcpt_tos).encode() + b"\r\n")
            f.write(envelope.original_content or envelope.content)
        os.rename(tmp, os.path.join(self.directory, name))
        return "250 Message accepted for delivery"


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--dir", required=True)
    p.add_argument("--slow", type=float, default=3.0)
    a = p.parse_args()
    os.makedirs(a.dir, exist_ok=True)
    controller = Controller(Sink(a.dir, a.slow), hostname="127.0.0.1", port=a.port)
    controller.start()
    print(f"ready {a.port}", flush=True)
    try:
        while True:
            time.sleep(3600)
    finally:
        controller.stop()


if __name__ == "__main__":
    main()
