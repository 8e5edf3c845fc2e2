//! Printed documents as the citizen and the back office get them: each PDF is
//! made by the real `sprechtag print` command and checked with poppler
//! (`pdftotext`, `pdffonts`, `pdfinfo`) and `qpdf --check`. Without those
//! tools the tests skip, except under CI, where they fail.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::{Value, json};
use sprechtag_schemas::IsoDate;
use tempfile::TempDir;

const PASSPHRASE: &str = "Dorfbrunnen-Lindenblatt-3";

struct Sandbox {
    tmp: TempDir,
}

impl Sandbox {
    fn new() -> Sandbox {
        Sandbox {
            tmp: tempfile::tempdir().expect("a temp dir can be created"),
        }
    }

    fn data(&self) -> PathBuf {
        self.tmp.path().join("data")
    }

    fn file(&self, name: &str) -> PathBuf {
        self.tmp.path().join(name)
    }

    fn run(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_sprechtag"))
            .arg("--data-dir")
            .arg(self.data())
            .args(args)
            .env("SPRECHTAG_PASSPHRASE", PASSPHRASE)
            .output()
            .expect("the sprechtag binary can be started")
    }

    fn ok(&self, args: &[&str]) -> Value {
        let output = self.run(args);
        assert!(
            output.status.success(),
            "sprechtag {args:?} failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        let stdout = String::from_utf8(output.stdout).expect("stdout is UTF-8");
        serde_json::from_str(stdout.lines().next().unwrap_or_default())
            .unwrap_or_else(|e| panic!("sprechtag {args:?} printed no JSON ({e}): {stdout}"))
    }

    fn open_office_hour(&self, place: &str, date: IsoDate) -> String {
        let opened = self.ok(&[
            "office-hour",
            "open",
            "--place",
            place,
            "--date",
            &date.to_string(),
            "--caseworker",
            "Anna Schäfer",
        ]);
        opened["id"]
            .as_str()
            .expect("an office hour id")
            .to_string()
    }

    /// Records a case; returns (id, number).
    fn new_case(&self, draft: &Value) -> (String, String) {
        let file = self.file(&format!("case-{}.json", next_number()));
        std::fs::write(&file, draft.to_string()).expect("the draft can be written");
        let created = self.ok(&["case", "new", "--json", path(&file)]);
        (
            created["id"].as_str().expect("id").to_string(),
            created["number"].as_str().expect("number").to_string(),
        )
    }

    /// Prints a document to FILE and returns the file.
    fn print(&self, kind: &str, id: &str) -> PathBuf {
        let out = self.file(&format!("{kind}.pdf"));
        self.ok(&["print", kind, id, "--out", path(&out)]);
        out
    }
}

fn next_number() -> usize {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

fn path(file: &Path) -> &str {
    file.to_str().expect("temp paths are UTF-8")
}

fn in_days(days: i64) -> IsoDate {
    IsoDate::new(IsoDate::today().date() + chrono::Duration::days(days))
}

/// Whether poppler and qpdf are installed; under CI their absence fails.
fn tools_present() -> bool {
    let missing: Vec<&str> = ["pdftotext", "pdffonts", "pdfinfo", "qpdf"]
        .into_iter()
        .filter(|tool| Command::new(tool).arg("-v").output().is_err())
        .collect();
    if missing.is_empty() {
        return true;
    }
    if std::env::var_os("CI").is_some() {
        panic!("missing {missing:?}: install poppler-utils and qpdf");
    }
    eprintln!("skipped: {missing:?} not installed (apt-get install poppler-utils qpdf)");
    false
}

fn tool(name: &str, args: &[&str], file: &Path) -> Output {
    Command::new(name)
        .args(args)
        .arg(file)
        .args(if name == "pdftotext" { &["-"][..] } else { &[] })
        .output()
        .unwrap_or_else(|e| panic!("{name} can be started: {e}"))
}

/// The text of the PDF with runs of whitespace folded to one space, so that
/// text wrapped across lines still matches.
fn text_of(file: &Path) -> String {
    let output = tool("pdftotext", &["-layout"], file);
    assert!(output.status.success(), "pdftotext failed on {file:?}");
    fold(&String::from_utf8(output.stdout).expect("pdftotext prints UTF-8"))
}

/// Whitespace folded to one space, and a line break after a hyphen undone.
fn fold(text: &str) -> String {
    text.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .replace("- ", "-")
}

fn page_count(file: &Path) -> usize {
    let output = tool("pdfinfo", &[], file);
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .find_map(|l| l.strip_prefix("Pages:"))
        .and_then(|n| n.trim().parse().ok())
        .expect("pdfinfo reports the page count")
}

/// `qpdf --check` passes, every font is embedded, title and author are set.
fn assert_sound_pdf(file: &Path, title_part: &str) {
    let check = tool("qpdf", &["--check"], file);
    assert!(
        check.status.success(),
        "qpdf --check failed: {}",
        String::from_utf8_lossy(&check.stdout)
    );
    let fonts = String::from_utf8(tool("pdffonts", &[], file).stdout).expect("UTF-8");
    let rows: Vec<&str> = fonts.lines().skip(2).collect();
    assert!(!rows.is_empty(), "no fonts in {file:?}:\n{fonts}");
    for row in rows {
        // Columns: name, type (two words), encoding, emb, sub, uni, object id.
        let columns: Vec<&str> = row.split_whitespace().collect();
        let emb = columns.len().checked_sub(5).map(|i| columns[i]);
        assert_eq!(emb, Some("yes"), "font not embedded: {row}\n{fonts}");
    }
    let info = String::from_utf8(tool("pdfinfo", &[], file).stdout).expect("UTF-8");
    let field = |name: &str| {
        info.lines()
            .find_map(|l| l.strip_prefix(name))
            .map(str::trim)
            .unwrap_or_default()
            .to_string()
    };
    assert!(
        field("Title:").contains(title_part),
        "title {:?} lacks {title_part:?}",
        field("Title:")
    );
    assert!(!field("Author:").is_empty(), "no author:\n{info}");
    assert!(
        info.contains("595.28 x 841.89") || info.contains("(A4)"),
        "not A4:\n{info}"
    );
}

fn assert_contains(text: &str, expected: &str) {
    let expected = fold(expected);
    assert!(
        text.contains(&expected),
        "{expected:?} not found in the PDF text:\n{text}"
    );
}

fn mueller_draft(office_hour_id: &str) -> Value {
    json!({
        "office_hour_id": office_hour_id,
        "citizen": {
            "surname": "Müller-Lüdenscheidt",
            "given_names": "Hans-Jürgen",
            "birth_date": "1938-02-14",
            "phone": "03456 998877",
            "address": { "street": "Lindenstraße 17", "postcode": "12351", "town": "Kleinbrück" },
            "needs": { "large_print": true }
        },
        "requests": [
            { "service_id": "personalausweis", "documents": [
                { "id": "bisheriger-ausweis", "state": "presented" },
                { "id": "biometrisches-foto", "state": "missing" }
            ] },
            { "service_id": "wohngeld", "documents": [
                { "id": "antragsformular", "state": "presented" },
                { "id": "mietvertrag", "state": "missing" },
                { "id": "einkommensnachweise", "state": "missing" }
            ] }
        ]
    })
}

/// Catalogue names of the documents a case marks missing.
fn missing_names(sandbox: &Sandbox, case_id: &str) -> Vec<String> {
    let case = sandbox.ok(&["case", "show", case_id]);
    let mut names = Vec::new();
    for request in case["requests"].as_array().expect("requests") {
        for document in request["documents"].as_array().expect("documents") {
            if document["state"] == "missing" {
                names.push(document["name"].as_str().expect("name").to_string());
            }
        }
    }
    names
}

#[test]
fn receipt_names_the_citizen_the_case_every_missing_document_and_the_appointment() {
    if !tools_present() {
        return;
    }
    let sandbox = Sandbox::new();
    let office_hour = sandbox.open_office_hour("Kleinbrück, Dorfgemeinschaftshaus", in_days(0));
    let (id, number) = sandbox.new_case(&mueller_draft(&office_hour));
    let date = in_days(14);
    sandbox.ok(&[
        "case",
        "book",
        &number,
        "--date",
        &date.to_string(),
        "--time",
        "10:30",
        "--place",
        "Bürgerbüro, Marktplatz 1, Musterstadt",
        "--purpose",
        "Fehlende Unterlagen abgeben",
    ]);

    let pdf = sandbox.print("receipt", &id);
    assert_sound_pdf(&pdf, &number);
    let text = text_of(&pdf);
    for expected in [
        "Eingangsbestätigung",
        "Hans-Jürgen Müller-Lüdenscheidt",
        number.as_str(),
        "Kleinbrück, Dorfgemeinschaftshaus",
        "Das haben Sie abgegeben",
        "Das fehlt noch – bitte bringen Sie mit:",
        "So geht es weiter",
        "Ihr nächster Termin",
        "um 10:30 Uhr",
        "Personalausweis beantragen",
        "03456 789-100",
    ] {
        assert_contains(&text, expected);
    }
    assert_contains(&text, &date.to_german());
    let missing = missing_names(&sandbox, &id);
    assert_eq!(missing.len(), 3);
    for name in &missing {
        assert_contains(&text, name);
    }
}

#[test]
fn appointment_letter_says_when_where_why_and_what_to_bring() {
    if !tools_present() {
        return;
    }
    let sandbox = Sandbox::new();
    let office_hour = sandbox.open_office_hour("Grünwald am See, Bürgerhaus", in_days(0));
    let (id, number) = sandbox.new_case(&mueller_draft(&office_hour));
    let later = sandbox.open_office_hour("Mühlbach, Dorfladen", in_days(21));
    let date = in_days(21);
    let booked = sandbox.ok(&[
        "case",
        "book",
        &id,
        "--date",
        &date.to_string(),
        "--time",
        "9:15",
        "--office-hour",
        &later,
        "--purpose",
        "Wohngeldantrag unterschreiben",
    ]);
    assert_eq!(booked["appointment"]["time"], "09:15");
    assert_eq!(booked["appointment"]["place"], "Mühlbach, Dorfladen");

    let pdf = sandbox.print("appointment", &number);
    assert_sound_pdf(&pdf, &number);
    let text = text_of(&pdf);
    for expected in [
        "Ihr Termin",
        "Müller-Lüdenscheidt",
        number.as_str(),
        "um 09:15 Uhr",
        "Mühlbach, Dorfladen",
        "Wohngeldantrag unterschreiben",
        "Bitte bringen Sie mit:",
    ] {
        assert_contains(&text, expected);
    }
    assert_contains(&text, &date.to_german());
    for name in missing_names(&sandbox, &id) {
        assert_contains(&text, &name);
    }

    // The day list shows the appointment too.
    let output = sandbox.run(&["case", "appointments", "--date", &date.to_string()]);
    assert!(output.status.success());
    let day: Value = serde_json::from_slice(&output.stdout).expect("one JSON line");
    assert_eq!(day["case_number"], number.as_str());
    assert_eq!(day["name"], "Müller-Lüdenscheidt, Hans-Jürgen");
    assert_eq!(day["appointment"]["office_hour_id"], later.as_str());
}

#[test]
fn report_lists_cases_services_missing_documents_and_appointments_but_no_other_personal_data() {
    if !tools_present() {
        return;
    }
    let sandbox = Sandbox::new();
    let office_hour = sandbox.open_office_hour("Kleinbrück, Dorfgemeinschaftshaus", in_days(0));
    let (mueller, mueller_number) = sandbox.new_case(&mueller_draft(&office_hour));
    let (_, baecker_number) = sandbox.new_case(&json!({
        "office_hour_id": office_hour,
        "citizen": { "surname": "Bäcker", "given_names": "Gisela", "phone": "06541 1234" },
        "requests": [ { "service_id": "reisepass" } ]
    }));
    let date = in_days(7);
    sandbox.ok(&[
        "case",
        "book",
        &mueller,
        "--date",
        &date.to_string(),
        "--time",
        "14:00",
        "--place",
        "Bürgerbüro Musterstadt",
        "--purpose",
        "Foto nachreichen",
    ]);
    sandbox.ok(&["office-hour", "close", &office_hour]);

    let pdf = sandbox.print("report", &office_hour);
    assert_sound_pdf(&pdf, "Tagesprotokoll");
    let text = text_of(&pdf);
    for expected in [
        "Tagesprotokoll",
        "Kleinbrück, Dorfgemeinschaftshaus",
        mueller_number.as_str(),
        baecker_number.as_str(),
        // Names wrap inside their table cell; each part is there.
        "Müller-Lüdenscheidt,",
        "Hans-Jürgen",
        "Bäcker, Gisela",
        "Anliegen nach Leistung",
        "Reisepass beantragen",
        "Fehlende Unterlagen",
        "Vereinbarte Termine",
        "14:00 Uhr",
        // The purpose wraps in its narrow column.
        "Foto",
        "nachreichen",
    ] {
        assert_contains(&text, expected);
    }
    assert_contains(&text, &date.to_german());
    for name in missing_names(&sandbox, &mueller) {
        assert_contains(&text, &name);
    }
    for private in [
        "14.02.1938",
        "1938",
        "03456 998877",
        "06541",
        "Lindenstraße",
    ] {
        assert!(
            !text.contains(private),
            "the report shows {private:?}:\n{text}"
        );
    }
}

#[test]
fn long_content_continues_on_further_pages_without_losing_a_line() {
    if !tools_present() {
        return;
    }
    let sandbox = Sandbox::new();
    let office_hour = sandbox.open_office_hour("Oberwiesental, Alte Schule", in_days(0));
    let catalog = sprechtag::catalog::shipped().expect("the shipped catalogue");
    let requests: Vec<Value> = catalog
        .services
        .iter()
        .take(12)
        .map(|service| {
            let documents: Vec<Value> = service
                .documents
                .iter()
                .map(|d| json!({ "id": d.id, "state": "missing" }))
                .collect();
            json!({ "service_id": service.id, "documents": documents })
        })
        .collect();
    let (id, number) = sandbox.new_case(&json!({
        "office_hour_id": office_hour,
        "citizen": {
            "surname": "Freifrau von Hohenzollern-Sigmaringen-Müller-Lüdenscheidt-Großkopf",
            "given_names": "Anna-Theresia Wilhelmine Ökonomierätin",
            "needs": { "large_print": true }
        },
        "requests": requests
    }));
    let pdf = sandbox.print("receipt", &id);
    assert_sound_pdf(&pdf, &number);
    assert!(
        page_count(&pdf) >= 2,
        "12 requests fit on {} page(s)",
        page_count(&pdf)
    );
    let text = text_of(&pdf);
    assert_contains(&text, "Großkopf");
    assert_contains(&text, &format!("Seite 1 von {}", page_count(&pdf)));
    let missing = missing_names(&sandbox, &id);
    assert!(missing.len() > 30, "only {} documents", missing.len());
    for name in &missing {
        assert_contains(&text, name);
    }
    for service in catalog.services.iter().take(12) {
        assert_contains(&text, &service.name.de);
    }

    sandbox.ok(&["office-hour", "close", &office_hour]);
    let report = sandbox.print("report", &office_hour);
    assert_sound_pdf(&report, "Tagesprotokoll");
    let text = text_of(&report);
    assert_contains(&text, &number);
}

#[test]
fn unknown_ids_fail_clearly_and_write_no_file() {
    if !tools_present() {
        return;
    }
    let sandbox = Sandbox::new();
    let office_hour = sandbox.open_office_hour("Altdorf, Pfarrsaal", in_days(0));
    let (_, number) = sandbox.new_case(&mueller_draft(&office_hour));
    for (kind, id, says) in [
        ("receipt", "XYZ-9999", "no case"),
        ("appointment", "XYZ-9999", "no case"),
        ("report", "no-such-office-hour", "no office hour"),
        // A case without an appointment has no letter to print.
        ("appointment", number.as_str(), "no appointment"),
    ] {
        let out = sandbox.file("never.pdf");
        let output = sandbox.run(&["print", kind, id, "--out", path(&out)]);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success(), "print {kind} {id} succeeded");
        assert!(
            stderr.contains(says) && stderr.contains(id),
            "print {kind} {id}: unclear message {stderr:?}"
        );
        assert!(!out.exists(), "print {kind} {id} wrote a file");
        assert!(
            !sandbox.data().join("prints").exists(),
            "print {kind} {id} wrote into the data dir"
        );
    }
}

#[test]
fn booking_refuses_a_past_date_a_bad_time_and_a_missing_place() {
    let sandbox = Sandbox::new();
    let office_hour = sandbox.open_office_hour("Birkenhain, Feuerwehrhaus", in_days(0));
    let (id, _) = sandbox.new_case(&mueller_draft(&office_hour));
    let tomorrow = in_days(1).to_string();
    let yesterday = in_days(-1).to_string();
    for (args, says) in [
        (
            vec![
                "--date",
                yesterday.as_str(),
                "--time",
                "10:00",
                "--place",
                "Bürgerbüro",
            ],
            "past",
        ),
        (
            vec![
                "--date",
                tomorrow.as_str(),
                "--time",
                "25:00",
                "--place",
                "Bürgerbüro",
            ],
            "HH:MM",
        ),
        (
            vec!["--date", tomorrow.as_str(), "--time", "10:00"],
            "place",
        ),
        (
            vec![
                "--date",
                tomorrow.as_str(),
                "--time",
                "10:00",
                "--office-hour",
                office_hour.as_str(),
            ],
            "office hour",
        ),
    ] {
        let mut full = vec!["case", "book", id.as_str(), "--purpose", "Nachreichen"];
        full.extend(args);
        let output = sandbox.run(&full);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success(), "{full:?} succeeded");
        assert!(
            stderr.contains(says),
            "{full:?}: unclear message {stderr:?}"
        );
    }
    let case = sandbox.ok(&["case", "show", &id]);
    assert_eq!(
        case["appointments"],
        json!([]),
        "a refused booking was stored"
    );
}

#[test]
fn printing_without_out_saves_under_the_data_dirs_prints_folder() {
    if !tools_present() {
        return;
    }
    let sandbox = Sandbox::new();
    let office_hour = sandbox.open_office_hour("Hohenfelde, Gemeindehaus", in_days(0));
    let (id, number) = sandbox.new_case(&mueller_draft(&office_hour));
    let printed = sandbox.ok(&["print", "receipt", &id]);
    let file = PathBuf::from(printed["file"].as_str().expect("file"));
    assert_eq!(file.parent(), Some(sandbox.data().join("prints").as_path()));
    assert!(file.to_string_lossy().contains(&number));
    assert_sound_pdf(&file, &number);
}
