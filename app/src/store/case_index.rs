//! The index of cases: one row per case in `cases` (and its services in
//! `case_services`) for lists and filters, and a full-text row in `cases_fts`
//! for search, both rewritten from the document on every change. Nothing in
//! a list or search loads a document.

use rusqlite::{OptionalExtension, Transaction, params};
use serde_json::{Value, json};
use sprechtag_schemas::{CaseSummary, normalize_for_search};

use super::{Result, now_rfc3339};

/// Full-text rows to write once the other writes of a transaction are done.
///
/// FTS5 moves its pending rows into a new on-disk segment at every statement
/// savepoint, and every write statement in a transaction opens one: indexing
/// a sync batch of hundreds of cases row by row made a segment per row and
/// spent its time merging them. One statement for all rows keeps them in one
/// segment.
#[derive(Debug, Default)]
#[must_use = "the rows reach the index only through `write`"]
pub(super) struct FullTextRows {
    removed: Vec<i64>,
    added: Vec<Value>,
}

impl FullTextRows {
    fn remove(&mut self, seq: i64) {
        // A case indexed twice in one transaction: its first row was never
        // written.
        let before = self.added.len();
        self.added.retain(|row| row[0].as_i64() != Some(seq));
        if self.added.len() == before {
            self.removed.push(seq);
        }
    }

    fn add(&mut self, row: Value) {
        self.added.push(row);
    }

    /// Takes over the rows of `other`, in order, as if they had been
    /// written here (one download's rows, once the download is taken).
    pub(super) fn absorb(&mut self, other: FullTextRows) {
        for seq in other.removed {
            self.remove(seq);
        }
        self.added.extend(other.added);
    }

    pub(super) fn write(self, tx: &Transaction<'_>) -> Result<()> {
        if !self.removed.is_empty() {
            tx.execute(
                "DELETE FROM cases_fts WHERE rowid IN (SELECT value FROM json_each(?1))",
                [Value::from(self.removed).to_string()],
            )?;
        }
        if !self.added.is_empty() {
            tx.execute(
                "INSERT INTO cases_fts (rowid, number, name, place, services, notes, starts)
                 SELECT value ->> 0, value ->> 1, value ->> 2, value ->> 3, value ->> 4,
                        value ->> 5, value ->> 6
                 FROM json_each(?1)",
                [Value::from(self.added).to_string()],
            )?;
        }
        Ok(())
    }
}

/// The `starts` column: every name and the number marked at its start, so
/// that one or two letters become a trigram ("^^schmidt" holds "^sc").
fn word_starts(case: &CaseSummary) -> String {
    std::iter::once(case.number.as_str())
        .chain(case.former_numbers.iter().map(String::as_str))
        .chain(case.citizen.surname.split_whitespace())
        .chain(case.citizen.given_names.split_whitespace())
        .map(|word| format!("^^{word}"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Rewrites the index entry of one case; its full-text row goes into
/// `full_text`, written when the transaction's writes are done.
pub(super) fn index_case(
    tx: &Transaction<'_>,
    case: &CaseSummary,
    full_text: &mut FullTextRows,
) -> Result<()> {
    let village: String = match &case.office_hour_id {
        Some(id) => tx
            .prepare_cached("SELECT village FROM office_hours WHERE id = ?1")?
            .query_row([id], |r| r.get(0))
            .optional()?
            .unwrap_or_default(),
        None => String::new(),
    };
    let services: Vec<&str> = case
        .requests
        .iter()
        .map(|r| r.service_name.as_str())
        .collect();
    let services = services.join(", ");
    let missing = case.missing_count();
    let open_forwardings = case
        .requests
        .iter()
        .filter_map(|r| r.forwarding.as_ref())
        .filter(|f| f.closed_at.is_none());
    let next_due = open_forwardings.map(|f| f.due).min();
    let mut offices: Vec<&str> = case
        .requests
        .iter()
        .filter_map(|r| r.forwarding.as_ref())
        .map(|f| f.office_id.as_str())
        .collect();
    offices.sort_unstable();
    offices.dedup();
    // The case moves to the front of every list: it takes the next change
    // sequence number, and its full-text row moves with it.
    let previous_seq: Option<i64> = tx
        .prepare_cached("SELECT seq FROM cases WHERE id = ?1")?
        .query_row([&case.id], |r| r.get(0))
        .optional()?
        .flatten();
    let seq: i64 = tx
        .prepare_cached("SELECT coalesce(max(seq), 0) + 1 FROM cases")?
        .query_row([], |r| r.get(0))?;
    let rowid: i64 = tx.prepare_cached(
        "INSERT INTO cases (id, number, status, office_hour_id, department, surname, given_names,
                            town, village, services, complete, missing_count, created_at,
                            updated_at, seq, created_by, review_state, next_due, offices,
                            requests, complete_requests, done_at, former_numbers)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17,
                 ?18, ?19, ?20, ?21, ?22, ?23)
         ON CONFLICT (id) DO UPDATE SET
            number = excluded.number, status = excluded.status,
            office_hour_id = excluded.office_hour_id, department = excluded.department,
            surname = excluded.surname, given_names = excluded.given_names,
            town = excluded.town, village = excluded.village, services = excluded.services,
            complete = excluded.complete, missing_count = excluded.missing_count,
            updated_at = excluded.updated_at, seq = excluded.seq,
            created_by = excluded.created_by, review_state = excluded.review_state,
            next_due = excluded.next_due, offices = excluded.offices,
            requests = excluded.requests, complete_requests = excluded.complete_requests,
            done_at = excluded.done_at, former_numbers = excluded.former_numbers
         RETURNING rowid",
    )?
    .query_row(
        params![
            case.id,
            case.number,
            case.status.as_str(),
            case.office_hour_id,
            case.department,
            case.citizen.surname,
            case.citizen.given_names,
            case.citizen.address.town,
            village,
            services,
            case.is_complete(),
            i64::try_from(missing).unwrap_or(i64::MAX),
            case.created_at,
            now_rfc3339(),
            seq,
            case.created_by,
            case.review.as_ref().map(|r| r.state.as_str()),
            next_due.map(|d| d.to_string()),
            offices.join(","),
            case.requests.len(),
            case.requests.iter().filter(|r| r.is_complete()).count(),
            case.done_at,
            case.former_numbers.join(" "),
        ],
        |r| r.get(0),
    )?;
    tx.prepare_cached("DELETE FROM case_services WHERE case_rowid = ?1")?
        .execute([rowid])?;
    let mut add_service = tx.prepare_cached(
        "INSERT OR IGNORE INTO case_services (case_rowid, service_id) VALUES (?1, ?2)",
    )?;
    for request in &case.requests {
        add_service.execute(params![rowid, request.service_id])?;
    }
    if let Some(previous) = previous_seq {
        full_text.remove(previous);
    }
    full_text.add(json!([
        seq,
        std::iter::once(&case.number)
            .chain(&case.former_numbers)
            .map(String::as_str)
            .collect::<Vec<_>>()
            .join(" "),
        format!("{} {}", case.citizen.surname, case.citizen.given_names),
        format!("{} {}", village, case.citizen.address.town),
        // Umlaut-folded too, so "Fuhrerschein" finds "Führerschein".
        format!("{services} {}", normalize_for_search(&services)),
        case.notes.as_str(),
        word_starts(case),
    ]));
    Ok(())
}

#[cfg(test)]
mod tests {
    use rusqlite::Connection;
    use serde_json::json;

    use super::FullTextRows;

    fn fts_rowids(conn: &Connection) -> Vec<i64> {
        conn.prepare("SELECT rowid FROM cases_fts ORDER BY rowid")
            .and_then(|mut s| s.query_map([], |r| r.get(0))?.collect())
            .expect("full-text rows")
    }

    /// A case indexed twice before the rows are written leaves one row, the
    /// later; rows written before are replaced.
    #[test]
    fn only_the_last_row_of_a_case_reaches_the_index() {
        let mut conn = Connection::open_in_memory().expect("in-memory database");
        super::super::schema::migrations()
            .to_latest(&mut conn)
            .expect("migrations");
        let row = |seq: i64, notes: &str| json!([seq, "AB-1", "Name", "", "", notes, "^^AB-1"]);

        let tx = conn.transaction().expect("tx");
        let mut rows = FullTextRows::default();
        rows.add(row(1, "erste Fassung"));
        rows.write(&tx).expect("write");
        let mut rows = FullTextRows::default();
        rows.remove(1);
        rows.add(row(2, "zweite Fassung"));
        rows.remove(2);
        rows.add(row(3, "dritte Fassung"));
        rows.write(&tx).expect("write");
        tx.commit().expect("commit");

        assert_eq!(fts_rowids(&conn), [3]);
        let notes: String = conn
            .query_row(
                "SELECT notes FROM cases_fts WHERE cases_fts MATCH 'fassung'",
                [],
                |r| r.get(0),
            )
            .expect("one match");
        assert_eq!(notes, "dritte Fassung");
    }
}
