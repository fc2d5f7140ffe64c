"""A webhook receiver for the tests, which verifies deliveries with the Standard Webhooks reference library.

    receiver.py serve PORT DIRECTORY
    receiver.py verify SECRET < REQUEST.json

`serve` answers every POST, and keeps each request as DIRECTORY/<n>.json (path, headers, body, the status it
answered). The path decides the answer, so tests can make it fail:
  - /fail/N: 500 to the first N requests to that path, then 204;
  - /slow/N: the first N requests to that path wait 3 s before answering (longer than the tests' timeout);
  - anything else: 204.

`verify` checks one kept request with `standardwebhooks` (PyPI), as a receiver would: the signature with SECRET
(a "whsec_..." secret) and the timestamp's freshness. It prints the verified body's type, or fails with why.
"""

import itertools
import json
import os
import sys
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def serve(port, directory):
    os.makedirs(directory, exist_ok=True)
    numbers = itertools.count(1)
    seen = Counter()
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("content-length", "0")))
            with lock:
                seen[self.path] += 1
                count = seen[self.path]
                number = next(numbers)
            parts = self.path.strip("/").split("/")
            status = 204
            if len(parts) == 2 and parts[0] == "fail" and count <= int(parts[1]):
                status = 500
            if len(parts) == 2 and parts[0] == "slow" and count <= int(parts[1]):
                time.sleep(3)
            kept = {
                "path": self.path,
                "headers": {name.lower(): value for name, value in self.headers.items()},
                "body": body.decode("utf-8"),
                "status": status,
            }
            path = os.path.join(directory, f"{number}.json")
            with open(path + ".part", "w", encoding="utf-8") as file:
                json.dump(kept, file, ensure_ascii=False)
            os.rename(path + ".part", path)
            self.send_response(status)
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    print(f"listening on 127.0.0.1:{port}", flush=True)
    server.serve_forever()


def verify(secret):
    from standardwebhooks.webhooks import Webhook

    kept = json.load(sys.stdin)
    headers = {name: kept["headers"][name] for name in ("webhook-id", "webhook-timestamp", "webhook-signature")}
    verified = Webhook(secret).verify(kept["body"], headers)
    print(verified["type"])


if __name__ == "__main__":
    if sys.argv[1] == "serve":
        serve(int(sys.argv[2]), sys.argv[3])
    elif sys.argv[1] == "verify":
        try:
            verify(sys.argv[2])
        except Exception as error:  # the library's own exception types say why
            print(f"{type(error).__name__}: {error}", file=sys.stderr)
            sys.exit(1)
