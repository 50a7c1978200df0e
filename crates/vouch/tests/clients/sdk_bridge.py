"""Calls the Python `didit-sdk` (PyPI, 0.4.0) against vouch as a test asks: one JSON line in
({"call": "sessions.get_decision", "kwargs": {...}}), one JSON line out ({"ok", "type",
"result"} or {"ok": false, "error", "message", "status_code"}). The first line out is
{"ready": true, "version": ...}. A pydantic ValidationError means vouch answered something the
SDK's models refuse.

A call of "verify_webhook" takes {"body": <text>, "headers": {...}, "secret": ...} and answers
the SDK's verdict on a delivery vouch sent.

Usage: python3 sdk_bridge.py BASE_URL API_KEY   (BASE_URL ends in /v3)
"""

import importlib.metadata
import json
import sys
import tempfile
from pathlib import Path

from didit import Didit

base_url, api_key = sys.argv[1], sys.argv[2]
client = Didit(api_key=api_key, base_url=base_url, max_retries=0, timeout=30.0,
               capture_sensitive_response=True)
print(json.dumps({"ready": True, "version": importlib.metadata.version("didit-sdk")}), flush=True)


def plain(res):
    if isinstance(res, (bytes, bytearray)):
        return {"bytes": len(res), "head": bytes(res[:8]).decode("latin-1")}
    if isinstance(res, Path):
        data = res.read_bytes()
        return {"path": str(res), "bytes": len(data), "head": data[:8].decode("latin-1")}
    if hasattr(res, "model_dump"):
        return res.model_dump(mode="json")
    if isinstance(res, (dict, list, str, int, float, bool, type(None))):
        return res
    return str(res)


for line in sys.stdin:
    if not line.strip():
        continue
    req = json.loads(line)
    call, kwargs = req["call"], req.get("kwargs") or {}
    try:
        if call == "verify_webhook":
            res = client.verify_webhook(kwargs["body"].encode(), kwargs["headers"],
                                        secret=kwargs["secret"])
        elif call == "parse_webhook":
            res = client.parse_webhook(kwargs["body"].encode(), kwargs["headers"],
                                       secret=kwargs["secret"])
        else:
            if call == "sessions.download_pdf_report":
                kwargs["destination"] = str(Path(tempfile.mkdtemp()) / "report.pdf")
            if call == "session_imports.create" and "file_text" in kwargs:
                kwargs["file"] = kwargs.pop("file_text").encode()
            target = client
            for part in call.split("."):
                target = getattr(target, part)
            res = target(**kwargs)
        out = {"ok": True, "type": type(res).__name__, "result": plain(res)}
    except Exception as e:  # noqa: BLE001 - every failure is the answer
        out = {"ok": False, "error": type(e).__name__, "message": str(e)[:4000],
               "status_code": getattr(e, "status_code", None)}
    print(json.dumps(out, default=str), flush=True)
