//! Forwarding by e-mail, end to end: laptops record and forward, the
//! server sends to a real SMTP server (aiosmtpd on loopback), retries what
//! the relay refused, and writes what became of each mail into the case;
//! reminders and the morning digest follow the server's clock, which the
//! test moves.

use std::sync::{Arc, Mutex};

use chrono::{DateTime, Datelike, TimeZone, Utc};
use sprechtag_e2e::smtp::{Mail, SmtpSink};
use sprechtag_e2e::{Laptop, TestServer};
use sprechtag_schemas::{DocumentState, IsoDate, Role};
use sprechtag_server::config::{Clock, SmtpSettings, SmtpTls};

const DEPARTMENT: &str = "buergerbuero";
const BACKOFFICE_MAIL: &str = "backoffice@kreis.example";

/// A clock the test sets.
#[derive(Clone)]
struct TestClock(Arc<Mutex<DateTime<Utc>>>);

impl TestClock {
    fn at(time: DateTime<Utc>) -> TestClock {
        TestClock(Arc::new(Mutex::new(time)))
    }

    fn set(&self, time: DateTime<Utc>) {
        *self.0.lock().expect("clock") = time;
    }

    fn advance(&self, by: chrono::Duration) {
        let mut now = self.0.lock().expect("clock");
        *now += by;
    }

    fn clock(&self) -> Clock {
        let now = self.0.clone();
        Clock::new(move || *now.lock().expect("clock"))
    }
}

fn server_mailing_to(sink: &SmtpSink, clock: &TestClock) -> TestServer {
    let dir = tempfile::tempdir().expect("server dir");
    let clock = clock.clock();
    let port = sink.port;
    TestServer::start_configured(dir, move |settings| {
        settings.smtp = Some(SmtpSettings {
            host: "127.0.0.1".into(),
            port,
            tls: SmtpTls::None,
            from: "Sprechtag <sprechtag@kreis.example>".into(),
            user: None,
            password_file: None,
            ca_file: None,
            digest_at: "07:00".into(),
            poll_secs: 1,
        });
        settings
            .backoffice_mail
            .insert(DEPARTMENT.into(), BACKOFFICE_MAIL.into());
        settings.clock = clock;
    })
}

fn to(mail: &Mail, address: &str) -> bool {
    mail.rcpt_to.iter().any(|r| r == address)
}

fn utc(y: i32, m: u32, d: u32, h: u32, min: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, m, d, h, min, 0)
        .single()
        .expect("a time")
}

#[test]
fn a_forwarded_request_is_mailed_to_its_office_retried_and_shown_on_every_laptop() {
    // The relay refuses the first message once, as a busy one does.
    let sink = SmtpSink::start(1);
    let clock = TestClock::at(Utc::now());
    let server = server_mailing_to(&sink, &clock);
    let mut caseworker = server.laptop("field", Role::Caseworker, DEPARTMENT);
    let mut backoffice = server.laptop("office", Role::Backoffice, DEPARTMENT);

    let mut case = caseworker.new_case("Musterfrau", &["hund-anmelden", "wohngeld"]);
    case = caseworker
        .store
        .update_case(&case.id, "phone and checks", |case| {
            case.citizen.phone = "0170 1234567".into();
            let documents = &mut case.requests[0].documents;
            documents[0].state = DocumentState::Presented;
            documents[1].state = DocumentState::Missing;
            Ok(())
        })
        .expect("phone");
    caseworker.sync();
    backoffice.sync();
    let due = IsoDate::today().add_working_days(10);
    let (dog, housing) = (case.requests[0].id.clone(), case.requests[1].id.clone());
    // The tax office does not get the citizen's name; the social welfare
    // office (which calls back) does, as the catalogue says.
    backoffice
        .store
        .forward_request_asking(
            &case.id,
            &dog,
            "steueramt",
            Some(due),
            "Gilt die Ermäßigung für einen Blindenführhund?",
        )
        .expect("forward to the tax office");
    backoffice
        .store
        .forward_request(&case.id, &housing, "sozialamt", Some(due))
        .expect("forward to the welfare office");
    backoffice.sync();

    // One of the two is refused once; the other arrives.
    let first = sink.wait_for(1);
    assert_eq!(first.len(), 1);
    std::thread::sleep(std::time::Duration::from_secs(2));
    assert_eq!(
        sink.messages().len(),
        1,
        "the refused mail waits for its retry"
    );
    caseworker.sync();
    let seen = caseworker.store.case(&case.id).expect("case");
    let statuses: Vec<_> = seen
        .requests
        .iter()
        .map(|r| {
            r.forwarding
                .as_ref()
                .and_then(|f| f.mail.clone())
                .expect("the server wrote a mail status")
        })
        .collect();
    assert_eq!(
        statuses.iter().filter(|s| s.sent_at.is_some()).count(),
        1,
        "{statuses:?}"
    );
    let waiting = statuses
        .iter()
        .find(|s| s.sent_at.is_none())
        .expect("one waits");
    assert!(
        waiting.error.as_deref().is_some_and(|e| e.contains("451")),
        "{waiting:?}"
    );
    assert_eq!(waiting.attempts, 1);
    assert!(!waiting.given_up);

    // A minute later (server time) it is tried again, and accepted.
    clock.advance(chrono::Duration::minutes(2));
    let mails = sink.wait_for(2);
    let tax = mails
        .iter()
        .find(|m| to(m, "steueramt@kreis.example"))
        .expect("mail to the tax office");
    let welfare = mails
        .iter()
        .find(|m| to(m, "sozialamt@kreis.example"))
        .expect("mail to the welfare office");
    for mail in [tax, welfare] {
        assert!(mail.subject.contains(&case.number), "{}", mail.subject);
        assert!(mail.body.contains(&case.number), "{}", mail.body);
        assert!(mail.body.contains(&due.to_german()), "{}", mail.body);
        assert_eq!(
            mail.reply_to, BACKOFFICE_MAIL,
            "replies go to the back office"
        );
        assert!(mail.body.contains(BACKOFFICE_MAIL), "{}", mail.body);
    }
    if std::env::var_os("SHOW_MAIL").is_some() {
        eprintln!("{}\n\n{}\n----\n{}", tax.subject, tax.body, welfare.body);
    }
    assert!(tax.body.contains("Blindenführhund"), "{}", tax.body);
    let (presented, missing) = (
        &case.requests[0].documents[0].name,
        &case.requests[0].documents[1].name,
    );
    let missing_part = tax
        .body
        .split("Noch fehlende Unterlagen:")
        .nth(1)
        .expect("the missing documents");
    assert!(
        tax.body.contains(presented.as_str()) && missing_part.contains(missing.as_str()),
        "{}",
        tax.body
    );
    assert!(
        !tax.body.contains("Musterfrau") && !tax.body.contains("0170"),
        "no name or phone for an office that does not need them: {}",
        tax.body
    );
    assert!(
        welfare.body.contains("Musterfrau") && welfare.body.contains("0170 1234567"),
        "{}",
        welfare.body
    );

    // Both laptops show both as sent.
    for laptop in [&mut caseworker, &mut backoffice] {
        laptop.sync();
        let seen = laptop.store.case(&case.id).expect("case");
        for request in &seen.requests {
            let mail = request
                .forwarding
                .as_ref()
                .and_then(|f| f.mail.as_ref())
                .expect("status");
            assert!(mail.sent_at.is_some(), "{mail:?}");
            assert_eq!(mail.error, None);
        }
    }
    // Nothing is sent twice, however often the laptops sync.
    backoffice.sync();
    std::thread::sleep(std::time::Duration::from_secs(2));
    assert_eq!(sink.messages().len(), 2);
}

#[test]
fn the_office_is_reminded_and_the_back_office_gets_one_digest_of_what_is_overdue() {
    let sink = SmtpSink::start(0);
    // Server time: a Monday two weeks or so ahead, 06:00 (UTC, the CI's
    // zone); the forwarding is due that Thursday, the reminder goes two
    // working days before.
    let today = IsoDate::today();
    let mut monday = today.add_days(8);
    while monday.date().weekday() != chrono::Weekday::Mon {
        monday = monday.add_days(1);
    }
    let due = monday.add_days(3);
    let remind_on = due.sub_working_days(2);
    let at = |day: IsoDate, hour: u32, minute: u32| {
        let d = day.date();
        utc(d.year(), d.month(), d.day(), hour, minute)
    };
    let clock = TestClock::at(at(monday, 6, 0));
    let server = server_mailing_to(&sink, &clock);
    let mut backoffice: Laptop = server.laptop("office", Role::Backoffice, DEPARTMENT);
    let case = backoffice.new_case("Beispiel", &["hund-anmelden"]);
    backoffice
        .store
        .forward_request(&case.id, &case.requests[0].id, "steueramt", Some(due))
        .expect("forward");
    backoffice.sync();
    let mails = sink.wait_for(1);
    assert!(mails[0].subject.starts_with("Weiterleitung"), "{mails:?}");

    // The day before the reminder: nothing yet.
    clock.set(at(remind_on.add_days(-1), 18, 0));
    std::thread::sleep(std::time::Duration::from_millis(2500));
    assert_eq!(sink.messages().len(), 1);
    // Two working days before the deadline: the reminder, once.
    clock.set(at(remind_on, 8, 0));
    let mails = sink.wait_for(2);
    let reminder = &mails[1];
    assert!(to(reminder, "steueramt@kreis.example"), "{reminder:?}");
    assert!(reminder.subject.starts_with("Erinnerung"), "{reminder:?}");
    assert!(reminder.body.contains(&case.number));
    assert!(reminder.body.contains(&due.to_german()));
    clock.set(at(remind_on.add_days(1), 8, 0));
    std::thread::sleep(std::time::Duration::from_millis(2500));
    assert_eq!(sink.messages().len(), 2, "one reminder, not one a day");

    // The day after the deadline, before seven: overdue, but the digest
    // waits for the morning.
    let overdue = due.add_days(1);
    clock.set(at(overdue, 6, 30));
    std::thread::sleep(std::time::Duration::from_millis(2500));
    assert_eq!(sink.messages().len(), 2);
    clock.set(at(overdue, 7, 5));
    let mails = sink.wait_for(3);
    let digest = &mails[2];
    assert!(to(digest, BACKOFFICE_MAIL), "{digest:?}");
    assert!(digest.subject.contains("Überfällige"), "{}", digest.subject);
    assert!(digest.body.contains(&case.number), "{}", digest.body);
    assert!(!digest.body.contains("Beispiel"), "no names in the digest");
    // Later the same morning: no second digest.
    clock.set(at(overdue, 9, 0));
    std::thread::sleep(std::time::Duration::from_millis(2500));
    assert_eq!(sink.messages().len(), 3);

    // Answered: the next morning's digest has nothing to list.
    backoffice
        .store
        .answer_forwarding(&case.id, &case.requests[0].id, "erledigt", true)
        .expect("answer");
    backoffice.sync();
    clock.set(at(overdue.add_days(3), 7, 30));
    std::thread::sleep(std::time::Duration::from_millis(2500));
    assert_eq!(sink.messages().len(), 3, "nothing overdue, no digest");
}

/// A complaint recorded in the app's form reaches the back office, is
/// forwarded to the responsible office by e-mail, closed with the answer,
/// and counted in the statistics.
#[test]
fn a_complaint_recorded_in_the_app_is_mailed_to_the_office_and_counted() {
    use egui::accesskit::Role as A11y;
    use sprechtag_e2e::gui::{Gui, Queryable};

    let sink = SmtpSink::start(0);
    let clock = TestClock::at(Utc::now());
    let server = server_mailing_to(&sink, &clock);
    let field = server.laptop("field", Role::Caseworker, DEPARTMENT);
    let field_dir = field.data_dir();
    drop(field.store);
    let text = "Wir haben über eine Stunde gewartet, ohne Stuhl.";
    let mut gui = Gui::new(&field_dir);
    gui.unlock();
    gui.activate(A11y::Tab, "Ideen & Beschwerden");
    gui.activate(A11y::RadioButton, "Idee");
    gui.activate(A11y::RadioButton, "Beschwerde");
    gui.fill(
        A11y::MultilineTextInput,
        "Was die Bürgerin oder der Bürger sagt",
        text,
    );
    assert!(gui.has(A11y::CheckBox, "Anonym (keinem Fall zugeordnet)"));
    gui.activate(A11y::Button, "Erfassen");
    gui.wait_for("the recorded complaint", |h| {
        h.query_by_label_contains("Beschwerde erfasst").is_some()
    });
    assert!(gui.shows("Beschwerde · Wartezeit"));
    assert!(gui.shows(text));
    gui.sync_now();
    drop(gui);

    let mut office = server.laptop("office", Role::Backoffice, DEPARTMENT);
    office.sync();
    let list = office.store.feedback_list().expect("list");
    assert_eq!(list.len(), 1);
    assert_eq!(list[0].text, text);
    assert_eq!(list[0].case_id, None, "anonymous");
    let due = IsoDate::today().add_working_days(5);
    office
        .store
        .forward_feedback(&list[0].id, "buergerbuero", Some(due))
        .expect("forward");
    office.sync();
    let mails = sink.wait_for(1);
    assert!(to(&mails[0], "buergerbuero@kreis.example"), "{mails:?}");
    assert!(mails[0].body.contains(text), "{}", mails[0].body);
    assert!(mails[0].body.contains("Beschwerde"), "{}", mails[0].body);
    assert!(mails[0].body.contains(&due.to_german()));
    office
        .store
        .close_feedback(&list[0].id, "Wir stellen Stühle auf.")
        .expect("close");
    let counts = office.store.statistics().expect("statistics").feedback;
    assert_eq!(counts.len(), 1, "{counts:?}");
    assert_eq!(counts[0].count, 1);
    assert_eq!(
        counts[0].category,
        sprechtag_schemas::FeedbackCategory::Waiting
    );
    assert_eq!(counts[0].kind, sprechtag_schemas::FeedbackKind::Complaint);
    // Another department's back office never sees it; the knowledge base
    // reaches every department.
    let mut elsewhere = server.laptop("other", Role::Backoffice, "sozialamt");
    elsewhere
        .store
        .add_answer("Gibt es Parkplätze?", "Ja, hinter dem Kreishaus.", &[])
        .expect("answer");
    elsewhere.sync();
    assert!(elsewhere.store.feedback_list().expect("list").is_empty());
    office.sync();
    let answers = office.store.answers().expect("answers");
    assert!(answers.iter().any(|a| a.question == "Gibt es Parkplätze?"));
}
