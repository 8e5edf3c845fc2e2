#!/usr/bin/python3
"""A blind caseworker whose laptop store is damaged, through the AT-SPI bus
only: the app must say so in words a screen reader reads, offer the backup,
and restore it with the passphrase — by AT-SPI actions alone. Run by
tests/tests/atspi.rs; the helpers are visit.py's.

Usage: restore.py PASSPHRASE
Exit status 0 when everything held; otherwise the first failure on stderr.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from visit import (  # noqa: E402
    application, check_tree, enable_accessibility, expect_title, fail, find, get, press,
    type_into, wait_for,
)


def main():
    passphrase = sys.argv[1]
    enable_accessibility()
    wait_for("the app on the AT-SPI bus", application)
    expect_title("Sprechtag – Entsperren")
    type_into("Passphrase", passphrase, role="password text")
    press("push button", "Entsperren")

    # Read only, and said so: a banner, no sync, the way out.
    banner = get("label", prefix="Die Daten auf diesem Laptop sind beschädigt.")
    if "nichts ändern" not in banner.name:
        fail("the banner does not say that nothing can be changed: %r" % banner.name)
    get("label", "Kein Abgleich: Die Daten sind beschädigt.")
    if find("push button", "Jetzt synchronisieren") is not None:
        fail("a damaged store offers to sync")
    check_tree()
    press("push button", "Sicherung wiederherstellen …")

    # Back at the passphrase, with the backup named by its time.
    expect_title("Sprechtag – Entsperren")
    restore = get("push button", prefix="Sicherung vom ")
    if not restore.name.endswith(" wiederherstellen"):
        fail("the restore button does not say what it does: %r" % restore.name)
    check_tree()
    type_into("Passphrase", passphrase, role="password text")
    press("push button", restore.name)
    done = get("label", prefix="Die Sicherung vom ")
    if "wurde wiederhergestellt" not in done.name:
        fail("the restore is not confirmed: %r" % done.name)
    if find("label", prefix="Die Daten auf diesem Laptop sind beschädigt.") is not None:
        fail("the banner stays after the restore")
    print("ok: damage heard, backup restored: %s" % done.name)


if __name__ == "__main__":
    main()
