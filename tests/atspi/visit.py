#!/usr/bin/python3
"""A blind caseworker's day, through the AT-SPI bus only: what a screen
reader such as Orca gets from Sprechtag and does with it.

Unlocks the store, opens an office hour, records a visit, marks a document
and finds the case again by AT-SPI actions alone (doAction, setTextContents,
grabFocus), checking roles, names, states and the announcements of live
regions along the way. Run by tests/tests/atspi.rs inside its own X server
and session bus; needs Debian's python3 with pyatspi.

Usage: visit.py PASSPHRASE
Exit status 0 when everything held; otherwise the first failure on stderr.
"""

import sys
import time

import pyatspi
from gi.repository import Gio, GLib

TIMEOUT = 30.0

announcements = []


def fail(message):
    print("FAILED: " + message, file=sys.stderr)
    sys.exit(1)


def pump(seconds=0.0):
    """Runs GLib's main loop (which delivers AT-SPI events) for a while."""
    context = GLib.MainContext.default()
    end = time.monotonic() + seconds
    while True:
        while context.iteration(False):
            pass
        if time.monotonic() >= end:
            return
        time.sleep(0.02)


def wait_for(what, probe):
    end = time.monotonic() + TIMEOUT
    while time.monotonic() < end:
        pump(0.05)
        try:
            found = probe()
        except Exception:  # the tree changes under our feet; ask again
            found = None
        if found:
            return found
    fail("timed out waiting for " + what)


def enable_accessibility():
    """What a screen reader does on start: AccessKit's adapter waits for it."""
    bus = Gio.bus_get_sync(Gio.BusType.SESSION, None)
    bus.call_sync(
        "org.a11y.Bus", "/org/a11y/bus", "org.freedesktop.DBus.Properties", "Set",
        GLib.Variant("(ssv)", ("org.a11y.Status", "IsEnabled", GLib.Variant("b", True))),
        None, Gio.DBusCallFlags.NONE, -1, None)


def application():
    desktop = pyatspi.Registry.getDesktop(0)
    for i in range(desktop.childCount):
        app = desktop.getChildAtIndex(i)
        if app is not None and app.name == "sprechtag":
            return app
    return None


def frame():
    app = application()
    return app.getChildAtIndex(0) if app is not None and app.childCount else None


def walk(node):
    yield node
    for i in range(node.childCount):
        child = node.getChildAtIndex(i)
        if child is not None:
            yield from walk(child)


def find(role, name=None, prefix=None, root=None):
    for node in walk(root or frame()):
        if node.getRoleName() != role:
            continue
        if name is not None and node.name != name:
            continue
        if prefix is not None and not node.name.startswith(prefix):
            continue
        return node
    return None


def get(role, name=None, prefix=None):
    return wait_for("%s %r" % (role, name or prefix), lambda: find(role, name, prefix))


def has_state(node, state):
    return node.getState().contains(state)


def press(role, name=None, prefix=None):
    node = get(role, name, prefix)
    wait_for("%r to be enabled" % node.name, lambda: has_state(node, pyatspi.STATE_ENABLED))
    node.queryAction().doAction(0)
    pump(0.3)
    return node


def type_into(name, text, role="entry"):
    node = get(role, name)
    node.queryEditableText().setTextContents(text)
    pump(0.3)
    text_now = node.queryText().getText(0, -1)
    # A password field gives a bullet per character, never the characters.
    expected = "\u2022" * len(text) if role == "password text" else text
    if text_now != expected:
        fail("%r holds %r after typing %r" % (name, text_now, text))
    return node


def expect_title(title):
    wait_for("the window named %r" % title, lambda: frame() and frame().name == title)


def heard(text):
    """Whether a live region announced something containing `text`."""
    return any(text in message for message in announcements)


def on_announcement(event):
    announcements.append(str(event.any_data))


def check_tree():
    """No focusable control without a name; nothing named in English."""
    # egui's own names, and words a German screen would not use.
    english = {"Resize panel", "Close", "Open", "Search", "Cancel", "Save", "Delete",
               "Copy", "Paste", "Cut", "Select all", "Toggle", "Collapse", "Expand",
               "Scroll", "Menu", "Back", "Next", "Previous", "Today", "Yes", "No", "OK"}
    for node in walk(frame()):
        focusable = has_state(node, pyatspi.STATE_FOCUSABLE)
        role = node.getRoleName()
        if focusable and role != "frame" and not node.name.strip():
            fail("a focusable %s without a name" % role)
        if node.name in english or any(word in english for word in node.name.split()):
            fail("a %s named in English: %r" % (role, node.name))


def main():
    passphrase = sys.argv[1]
    enable_accessibility()
    pyatspi.Registry.registerEventListener(on_announcement, "object:announcement")
    wait_for("the app on the AT-SPI bus", application)

    # Locked: the window says so, the passphrase field has a name.
    expect_title("Sprechtag – Entsperren")
    get("heading", "Sprechtag")
    type_into("Passphrase", passphrase, role="password text")
    press("push button", "Entsperren")

    # The tabs are a tab list; the selected one says so.
    expect_title("Sprechtag – Sprechtage")
    tabs = get("page tab list", "Bereiche")
    names = [tabs_child.name for tabs_child in walk(tabs) if tabs_child.getRoleName() == "page tab"]
    if names != ["Sprechtage", "Fälle", "Termine", "Leistungen", "Ideen & Beschwerden",
                 "Statistik", "Im Saal", "Einstellungen"]:
        fail("tabs: %r" % names)
    if not has_state(find("page tab", "Sprechtage"), pyatspi.STATE_SELECTED):
        fail("the open tab is not selected")
    check_tree()

    # Open an office hour.
    press("push button", "Sprechtag eröffnen")
    type_into("Ort", "Kleinbrück")
    type_into("Veranstaltungsort", "Dorfgemeinschaftshaus")
    type_into("Sachbearbeitung", "Anna Schäfer")
    press("push button", "Eröffnen")

    # Record a visit.
    press("push button", "Neuer Besuch (Strg+N)")
    expect_title("Sprechtag – Neuer Besuch")
    type_into("Nachname", "Zwölfmeier")
    type_into("Vorname(n)", "Wilhelmine")
    wait_for("'Gespeichert' to be announced", lambda: heard("Gespeichert"))
    title = wait_for("the case's number in the title",
                     lambda: frame().name if frame().name.startswith("Sprechtag – Fall ") else None)
    number = title.split("Fall ", 1)[1].split(" · ", 1)[0]
    for section in ["Angaben zur Person", "Anliegen", "Notizen", "Folgetermin"]:
        get("heading", section)
    type_into("Anliegen hinzufügen", "ausw")
    press("push button", "+ Personalausweis beantragen")
    get("heading", "Personalausweis beantragen")
    photo = get("radio button", prefix="Biometrisches Passfoto")
    radio_name = photo.name.split(": ", 1)[0] + ": vorgelegt"
    radio = press("radio button", radio_name)
    wait_for("the radio button to be checked", lambda: has_state(find("radio button", radio_name), pyatspi.STATE_CHECKED))
    announcements.clear()
    wait_for("the check to be saved and announced", lambda: heard("Gespeichert"))
    check_tree()

    # Find it again through the case list.
    press("page tab", "Fälle")
    expect_title("Sprechtag – Fälle")
    type_into("Suche", "zwölf")
    wait_for("the count to be announced", lambda: heard("1 von 1 Fällen"))
    get("table", "Fälle")
    row = get("push button", prefix="%s · Zwölfmeier, Wilhelmine" % number)
    for part in ["Kleinbrück", "Personalausweis beantragen", "offen"]:
        if part not in row.name:
            fail("the row's name %r lacks %r" % (row.name, part))
    header = find("column header", "Unterlagen")
    if header is None:
        fail("no column header 'Unterlagen'")
    row.queryAction().doAction(0)
    expect_title("Sprechtag – Fall %s · Zwölfmeier, Wilhelmine" % number)
    if not has_state(get("radio button", radio_name), pyatspi.STATE_CHECKED):
        fail("the presented document is not marked after opening the case again")
    check_tree()

    # Every other screen: titled, headed, nothing unnamed or in English.
    for tab, heading in [("Termine", "Termine des Tages"), ("Leistungen", "Leistungen"),
                         ("Ideen & Beschwerden", "Ideen, Lob und Beschwerden"),
                         ("Statistik", "Statistik für den Ausschuss"),
                         ("Im Saal", "Im Saal abgleichen"),
                         ("Einstellungen", "Einstellungen"), ("Sprechtage", "Sprechtage")]:
        press("page tab", tab)
        expect_title("Sprechtag – " + tab)
        get("heading", heading)
        if tab == "Statistik":
            # A chart is an image named by its title; its figures a table.
            get("image", "Besuche je Ort")
            get("table", "Besuche je Ort")
        if tab == "Im Saal":
            # Not enrolled: the view says what is missing, in German.
            get("label", prefix="Dieses Laptop hat noch keine Bescheinigung")
        check_tree()
    # Another citizen's case, through the list.
    press("page tab", "Fälle")
    type_into("Suche", "bleibtreu")
    other = wait_for("Bleibtreu's case", lambda: next(
        (n for n in walk(frame()) if n.getRoleName() == "push button"
         and " · Bleibtreu, Konrad" in n.name), None))
    erased = other.name.split(" · ", 1)[0]
    other.queryAction().doAction(0)
    pump(0.3)
    expect_title("Sprechtag – Fall %s · Bleibtreu, Konrad" % erased)

    # The citizen asks to be erased: the confirmation names the case and
    # the citizen and says it cannot be undone; no reason, no erasure.
    get("heading", "Fall löschen (Datenschutz)")
    press("push button", "Fall löschen …")
    warning = get("label", prefix="Fall %s von Konrad Bleibtreu" % erased)
    if "nicht rückgängig" not in warning.name:
        fail("the confirmation does not say it cannot be undone: %r" % warning.name)
    erase = get("push button", "Endgültig löschen")
    if has_state(erase, pyatspi.STATE_ENABLED):
        fail("'Endgültig löschen' works without a reason")
    check_tree()
    reasons = [n for n in walk(frame()) if n.getRoleName() == "entry"
               and n.name.startswith("Grund (ohne persönliche Daten, z. B. „Antrag")]
    if len(reasons) != 1:
        fail("one reason field for the erasure expected, found %d" % len(reasons))
    reasons[0].queryEditableText().setTextContents("Antrag nach Art. 17 DSGVO")
    pump(0.3)
    press("push button", "Endgültig löschen")
    wait_for("the erasure to be confirmed",
             lambda: find("label", prefix="Fall %s wurde gelöscht." % erased))
    press("page tab", "Fälle")
    wait_for("the case to leave the list",
             lambda: find("push button", prefix="%s · " % erased) is None)

    print("ok: %s recorded, found again and erased; %d announcements heard"
          % (number, len(announcements)))


if __name__ == "__main__":
    main()
