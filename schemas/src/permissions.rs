//! Who may change which part of a document. One table, read by the UI (which
//! controls to show), the store and CLI (refuse early, with a clear message)
//! and the sync server (decide, per uploaded change).
//!
//! Caseworkers record visits: the citizen, requests and their document
//! checks, notes, appointments, the status; they open, begin and close
//! office hours and collect ratings; they add comments. The back office also
//! forwards requests and records the offices' answers, gives verdicts, plans
//! tours and moves documents between departments. An administrator may do
//! everything the back office may. What identifies a document is written
//! once, when it is created; comments and ratings are only ever added.

use crate::string_enum::string_enum;

string_enum! {
    /// What a device's user does. The default is the role that may least.
    pub enum Role ("role") {
        #[default]
        Caseworker = "caseworker",
        Backoffice = "backoffice",
        Admin = "admin",
    }
}

/// A part of a case or office hour, as the permission table knows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Part {
    /// `id`, `number`, `former_numbers`, `schema_version`, `created_at`,
    /// `created_by`: written by the change that creates the document (the
    /// number with its author's prefix, `created_by` its author's name),
    /// never again.
    Identity,
    /// The department that owns the document.
    Department,
    /// The visit as the caseworker records it: citizen, requests and their
    /// document checks, notes, appointments, status, office hour.
    Visit,
    /// `requests.*.forwarding`: the request sent on to an office, its
    /// deadline and answer.
    Forwarding,
    /// The back office's verdict.
    Review,
    /// The comment thread: new comments only.
    Comments,
    /// Who edits through which actor: each device its own entries only,
    /// never removed.
    Editors,
    /// An office hour's place, day, times and caseworker: the tour plan.
    Plan,
    /// An office hour's course: begun, closed, its summary.
    Course,
    /// The survey's ratings of an office hour: new ratings only.
    Ratings,
    /// The service catalogue: services, their checklists, the offices.
    Catalog,
    /// A question and its answer: written by whoever creates the entry (a
    /// caseworker's proposal), reworded by the back office.
    Answer,
    /// Whether an answer is accepted, and who checked it when.
    AnswerReview,
    /// An idea, praise or complaint as recorded: kind, category, text,
    /// the case it concerns.
    Feedback,
    /// Its answer and closing.
    FeedbackAnswer,
    /// `forwarding.mail`: what became of a forwarding's e-mail. Written by
    /// the sync server only.
    Mail,
    /// A field the layout does not have.
    Unknown,
}

impl Part {
    pub fn name(self) -> &'static str {
        match self {
            Part::Identity => "identity",
            Part::Department => "department",
            Part::Visit => "visit",
            Part::Forwarding => "forwarding",
            Part::Review => "review",
            Part::Comments => "comments",
            Part::Editors => "editors",
            Part::Plan => "plan",
            Part::Course => "course",
            Part::Ratings => "ratings",
            Part::Catalog => "catalogue",
            Part::Answer => "answer",
            Part::AnswerReview => "answer review",
            Part::Feedback => "feedback",
            Part::FeedbackAnswer => "feedback answer",
            Part::Mail => "mail status",
            Part::Unknown => "unknown field",
        }
    }

    /// Parts where only what is new may be written: an existing entry is
    /// never changed or removed, by anyone. (Editors are a map of entries
    /// each device keeps for its own actors: added, updated, never removed.)
    pub fn append_only(self) -> bool {
        matches!(self, Part::Comments | Part::Ratings)
    }
}

impl Role {
    /// Whether this role may change `part` of a document that exists
    /// already. (The change that creates a document may write its
    /// identity; what it may write besides is asked of this too.)
    pub fn may_change(self, part: Part) -> bool {
        match part {
            Part::Visit
            | Part::Comments
            | Part::Editors
            | Part::Course
            | Part::Ratings
            | Part::Feedback => true,
            Part::Forwarding
            | Part::Review
            | Part::Department
            | Part::Plan
            | Part::Catalog
            | Part::Answer
            | Part::AnswerReview
            | Part::FeedbackAnswer => self != Role::Caseworker,
            Part::Identity | Part::Mail | Part::Unknown => false,
        }
    }

    /// Whether this role may erase a case everywhere (a citizen's request
    /// under Art. 17 GDPR) or correct it without its history. Caseworkers
    /// may not: an erasure cannot be undone.
    pub fn may_erase(self) -> bool {
        self != Role::Caseworker
    }
}

/// One step of a path into a document's JSON shape.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Segment {
    Key(String),
    Index(usize),
}

impl std::fmt::Display for Segment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Segment::Key(key) => f.write_str(key),
            Segment::Index(index) => write!(f, "{index}"),
        }
    }
}

/// "requests.0.forwarding.due".
pub fn path_text(path: &[Segment]) -> String {
    path.iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(".")
}

fn key(path: &[Segment], at: usize) -> Option<&str> {
    match path.get(at) {
        Some(Segment::Key(key)) => Some(key),
        _ => None,
    }
}

/// The part of a case a path points into.
pub fn case_part(path: &[Segment]) -> Part {
    match key(path, 0) {
        Some(
            "id" | "number" | "former_numbers" | "schema_version" | "created_at" | "created_by"
            | "history_deleted_at",
        ) => Part::Identity,
        Some("department") => Part::Department,
        Some("requests") if key(path, 2) == Some("forwarding") => {
            if key(path, 3) == Some("mail") {
                Part::Mail
            } else {
                Part::Forwarding
            }
        }
        Some(
            "status" | "office_hour_id" | "citizen" | "requests" | "notes" | "appointments"
            | "done_at",
        ) => Part::Visit,
        Some("review") => Part::Review,
        Some("comments") => Part::Comments,
        Some("editors") => Part::Editors,
        _ => Part::Unknown,
    }
}

/// The part of an office hour a path points into.
pub fn office_hour_part(path: &[Segment]) -> Part {
    match key(path, 0) {
        Some("id" | "schema_version") => Part::Identity,
        Some("department") => Part::Department,
        Some("village" | "venue" | "date" | "start_time" | "end_time" | "caseworker") => Part::Plan,
        Some("status" | "closed_at" | "summary") => Part::Course,
        Some("ratings") => Part::Ratings,
        _ => Part::Unknown,
    }
}

/// The part of the catalogue document a path points into.
pub fn catalog_part(path: &[Segment]) -> Part {
    match key(path, 0) {
        Some("id" | "schema_version") => Part::Identity,
        Some("catalog" | "edited_by" | "edited_at") => Part::Catalog,
        _ => Part::Unknown,
    }
}

/// The part of an answer a path points into.
pub fn answer_part(path: &[Segment]) -> Part {
    match key(path, 0) {
        Some("id" | "schema_version") => Part::Identity,
        Some("question" | "answer" | "service_ids" | "written_by" | "written_at") => Part::Answer,
        Some("status" | "checked_by" | "checked_at") => Part::AnswerReview,
        _ => Part::Unknown,
    }
}

/// The part of an idea, praise or complaint a path points into.
pub fn feedback_part(path: &[Segment]) -> Part {
    match key(path, 0) {
        Some("id" | "schema_version" | "created_at" | "created_by") => Part::Identity,
        Some("department") => Part::Department,
        Some("forwarding") if key(path, 1) == Some("mail") => Part::Mail,
        Some("kind" | "category" | "text" | "case_id") => Part::Feedback,
        Some("forwarding" | "answer" | "closed_at" | "closed_by") => Part::FeedbackAnswer,
        _ => Part::Unknown,
    }
}

/// Whether `user`, the enrolled user of a device, signed `name` — a review,
/// a comment, an editor entry. Devices sign "user (PREFIX)", or "Gerät
/// PREFIX" while not enrolled: a device's case-number prefix, which names
/// no person.
pub fn signed_by(name: &str, user: &str) -> bool {
    let name = name.trim();
    let prefix_in =
        |text: &str| (2..=5).contains(&text.len()) && text.bytes().all(|b| b.is_ascii_uppercase());
    name == user
        || name
            .strip_prefix(user)
            .and_then(|rest| rest.strip_prefix(" ("))
            .and_then(|rest| rest.strip_suffix(')'))
            .is_some_and(prefix_in)
        || name.strip_prefix("Gerät ").is_some_and(prefix_in)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn path(text: &str) -> Vec<Segment> {
        text.split('.')
            .map(|s| match s.parse() {
                Ok(index) => Segment::Index(index),
                Err(_) => Segment::Key(s.to_string()),
            })
            .collect()
    }

    #[test]
    fn a_caseworker_records_visits_and_comments_but_does_not_decide() {
        let role = Role::Caseworker;
        for allowed in [
            "citizen.surname",
            "requests.0.documents.1.state",
            "requests",
            "notes",
            "appointments.0.date",
            "status",
            "comments.2.text",
            "editors.abcd",
        ] {
            assert!(role.may_change(case_part(&path(allowed))), "{allowed}");
        }
        for refused in [
            "requests.0.forwarding.due",
            "requests.1.forwarding",
            "review.by",
            "review",
            "department",
            "number",
            "created_by",
            "surprise",
        ] {
            assert!(!role.may_change(case_part(&path(refused))), "{refused}");
        }
    }

    #[test]
    fn the_back_office_decides_but_nobody_rewrites_what_identifies_a_case() {
        for role in [Role::Backoffice, Role::Admin] {
            for allowed in ["requests.0.forwarding.answer", "review.state", "department"] {
                assert!(role.may_change(case_part(&path(allowed))), "{allowed}");
            }
            for refused in ["id", "number", "created_at", "schema_version"] {
                assert!(!role.may_change(case_part(&path(refused))), "{refused}");
            }
        }
    }

    #[test]
    fn tours_are_planned_by_the_back_office_and_run_by_caseworkers() {
        assert!(!Role::Caseworker.may_change(office_hour_part(&path("date"))));
        assert!(!Role::Caseworker.may_change(office_hour_part(&path("start_time"))));
        assert!(Role::Caseworker.may_change(office_hour_part(&path("status"))));
        assert!(Role::Caseworker.may_change(office_hour_part(&path("ratings.r1.advice"))));
        assert!(Role::Backoffice.may_change(office_hour_part(&path("village"))));
        assert!(Part::Ratings.append_only() && Part::Comments.append_only());
    }

    #[test]
    fn a_signature_names_the_enrolled_user() {
        assert!(signed_by("a.schaefer (ANS)", "a.schaefer"));
        assert!(signed_by("a.schaefer", "a.schaefer"));
        assert!(signed_by("Gerät ANS", "a.schaefer"));
        assert!(!signed_by("Dr. Weber (Backoffice-Leitung)", "a.schaefer"));
        assert!(!signed_by("a.schaefer2 (ANS)", "a.schaefer"));
        assert!(!signed_by("a.schaefer (Leitung)", "a.schaefer"));
        assert!(!signed_by("Gerät Dr. Weber", "a.schaefer"));
    }
}
