"""A real SMTP server for the tests (aiosmtpd), which keeps what it receives as files a test can read.

    server.py PORT DIRECTORY

Every message it accepts is written to DIRECTORY/<n>.json: its envelope recipients, its headers (decoded),
its plain-text and HTML parts (decoded from their transfer encodings, as a mail client shows them), and the
message as received. Recipients decide what the server answers, so tests can make it refuse:
  - a local part starting with "refused" gets 550 (no such mailbox: a permanent refusal);
  - a message to a local part starting with "later" gets 451 (try again later) the first two times it is sent
    (told apart by its Message-ID, which a sender keeps when it tries again).
"""

import email
import email.policy
import itertools
import json
import os
import sys
import threading
from collections import Counter

from aiosmtpd.controller import Controller


class Keeper:
    def __init__(self, directory):
        self.directory = directory
        self.numbers = itertools.count(1)
        self.deferred = Counter()

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        local = address.split("@", 1)[0].lower()
        if local.startswith("refused"):
            return "550 5.1.1 No such mailbox here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        message = email.message_from_bytes(envelope.original_content, policy=email.policy.default)
        if any(address.split("@", 1)[0].lower().startswith("later") for address in envelope.rcpt_tos):
            self.deferred[str(message.get("message-id"))] += 1
            if self.deferred[str(message.get("message-id"))] <= 2:
                return "451 4.3.0 Try again later"

        def part(kind):
            body = message.get_body(preferencelist=(kind,))
            return body.get_content() if body is not None else None

        kept = {
            "to": envelope.rcpt_tos,
            "headers": {name.lower(): str(value) for name, value in message.items()},
            "text": part("plain"),
            "html": part("html"),
            "raw": envelope.original_content.decode("utf-8", "replace"),
        }
        path = os.path.join(self.directory, f"{next(self.numbers)}.json")
        with open(path + ".part", "w", encoding="utf-8") as file:
            json.dump(kept, file, ensure_ascii=False)
        os.rename(path + ".part", path)
        return "250 Message accepted"


def main():
    port, directory = int(sys.argv[1]), sys.argv[2]
    os.makedirs(directory, exist_ok=True)
    controller = Controller(Keeper(directory), hostname="127.0.0.1", port=port, server_hostname="localhost")
    controller.start()
    print(f"listening on 127.0.0.1:{port}", flush=True)
    try:
        threading.Event().wait()
    finally:
        controller.stop()


if __name__ == "__main__":
    main()
