#!/usr/bin/python3
"""A blind caseworker in the hall, through the AT-SPI bus only: opens "Im
Saal", reaches a colleague's laptop by its address, hears the exchange
done, finds the colleague listed by name with an exchange button named
after it, and finds the colleague's case in the case list. Run by
tests/tests/atspi.rs; the helpers are visit.py's.

Usage: hall.py PASSPHRASE ADDRESS PEER_NAME SURNAME
Exit status 0 when everything held; otherwise the first failure on stderr.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import pyatspi  # noqa: E402

from visit import (  # noqa: E402
    announcements, application, check_tree, enable_accessibility, expect_title, fail, find,
    frame, get, has_state, heard, on_announcement, press, type_into, wait_for, walk,
)


def main():
    passphrase, address, peer_name, surname = sys.argv[1:5]
    enable_accessibility()
    pyatspi.Registry.registerEventListener(on_announcement, "object:announcement")
    wait_for("the app on the AT-SPI bus", application)
    expect_title("Sprechtag – Entsperren")
    type_into("Passphrase", passphrase, role="password text")
    press("push button", "Entsperren")
    expect_title("Sprechtag – Sprechtage")

    press("page tab", "Im Saal")
    expect_title("Sprechtag – Im Saal")
    get("heading", "Im Saal abgleichen")
    get("heading", "Laptops in der Nähe")
    # Certified by its last sync: no banner asking for one.
    if find("label", prefix="Dieses Laptop hat noch keine Bescheinigung") is not None:
        fail("a certified laptop is told it has no certificate")
    check_tree()

    # The colleague by address: the field is named by its label.
    type_into("Adresse (Rechner:Port)", address)
    announcements.clear()
    press("push button", "Verbinden und abgleichen")
    # Spoken without looking for it: the exchange is done.
    wait_for("the exchange to be announced",
             lambda: heard("Zuletzt abgeglichen mit %s (" % peer_name))
    done = get("label", prefix="Zuletzt abgeglichen mit %s (" % peer_name)
    print("heard: " + done.name)
    # The status bar says it in every view.
    get("label", prefix="Im Saal zuletzt: %s (" % peer_name)
    # Listed now, by name, with its user and an exchange button named
    # after it (the button's own text is only "Abgleichen").
    get("label", peer_name)
    button = get("push button", "Mit %s abgleichen" % peer_name)
    if not has_state(button, pyatspi.STATE_FOCUSABLE):
        fail("the exchange button cannot be reached with the keyboard")
    if find("label", prefix="Abgeglichen, aber") is not None:
        fail("documents were refused")
    check_tree()

    # The colleague's case is here now.
    press("page tab", "Fälle")
    expect_title("Sprechtag – Fälle")
    type_into("Suche", surname)
    row = wait_for("the colleague's case in the list", lambda: next(
        (n for n in walk(frame()) if n.getRoleName() == "push button"
         and (" · %s, " % surname) in n.name), None))
    print("ok: " + row.name)


if __name__ == "__main__":
    main()
