"""An SMTP sink on loopback for the mail tests: every accepted message is
written to OUT_DIR as NNN.json (recipients, headers and body, decoded); the first REFUSE messages are refused with a
temporary error (451), as a relay that is busy would. Prints the port once
it listens (on --port), then runs until its stdin closes."""

import argparse
import email
import email.policy
import json
import sys
from pathlib import Path

from aiosmtpd.controller import Controller


class Sink:
    def __init__(self, out_dir: Path, refuse: int):
        self.out_dir = out_dir
        self.refuse = refuse
        self.count = 0

    async def handle_DATA(self, server, session, envelope):
        if self.refuse > 0:
            self.refuse -= 1
            return "451 4.3.0 Bitte spaeter erneut versuchen"
        self.count += 1
        message = email.message_from_bytes(
            envelope.original_content, policy=email.policy.default
        )
        decoded = {
            "rcpt_to": envelope.rcpt_tos,
            "from": str(message["from"]),
            "to": str(message["to"]),
            "reply_to": str(message["reply-to"] or ""),
            "subject": str(message["subject"]),
            "body": message.get_content(),
        }
        name = self.out_dir / f"{self.count:03}.json"
        tmp = name.with_suffix(".tmp")
        tmp.write_text(json.dumps(decoded, ensure_ascii=False))
        tmp.rename(name)
        return "250 OK"


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--refuse", type=int, default=0)
    args = parser.parse_args()
    controller = Controller(
        Sink(Path(args.out), args.refuse), hostname="127.0.0.1", port=args.port
    )
    controller.start()
    print(args.port, flush=True)
    sys.stdin.read()
    controller.stop()


if __name__ == "__main__":
    main()
