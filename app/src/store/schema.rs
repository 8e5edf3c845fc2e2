//! The local database's schema. Migrations are only ever added, never edited
//! once released: a laptop may skip many versions between updates.

use rusqlite_migration::{M, Migrations};

pub fn migrations() -> Migrations<'static> {
    Migrations::new(vec![
        M::up(
            r#"
-- Automerge documents: a full save plus the incremental saves since, which
-- are folded into a new full save every so often (compaction).
CREATE TABLE documents (
    id          TEXT PRIMARY KEY,
    kind        TEXT NOT NULL CHECK (kind IN ('case', 'office_hour')),
    snapshot    BLOB NOT NULL,
    chunk_count INTEGER NOT NULL DEFAULT 0,
    version     INTEGER NOT NULL DEFAULT 1,
    heads       TEXT NOT NULL,
    updated_at  TEXT NOT NULL
) STRICT;

CREATE TABLE document_chunks (
    seq    INTEGER PRIMARY KEY,
    doc_id TEXT NOT NULL REFERENCES documents (id) ON DELETE CASCADE,
    bytes  BLOB NOT NULL
) STRICT;
CREATE INDEX document_chunks_by_doc ON document_chunks (doc_id, seq);

-- Index of cases, rebuilt from the document on every change, so that lists
-- and search never load documents.
CREATE TABLE cases (
    rowid          INTEGER PRIMARY KEY,
    id             TEXT NOT NULL UNIQUE REFERENCES documents (id) ON DELETE CASCADE,
    number         TEXT NOT NULL,
    status         TEXT NOT NULL,
    office_hour_id TEXT,
    department     TEXT,
    surname        TEXT NOT NULL,
    given_names    TEXT NOT NULL,
    town           TEXT NOT NULL,
    village        TEXT NOT NULL,
    services       TEXT NOT NULL,
    complete       INTEGER NOT NULL,
    missing_count  INTEGER NOT NULL,
    created_at     TEXT NOT NULL,
    updated_at     TEXT NOT NULL
) STRICT;
CREATE INDEX cases_by_updated ON cases (updated_at DESC);
CREATE INDEX cases_by_status ON cases (status, updated_at DESC);
CREATE INDEX cases_by_office_hour ON cases (office_hour_id, updated_at DESC);
CREATE INDEX cases_by_number ON cases (number);

CREATE TABLE case_services (
    case_rowid INTEGER NOT NULL REFERENCES cases (rowid) ON DELETE CASCADE,
    service_id TEXT NOT NULL,
    PRIMARY KEY (service_id, case_rowid)
) STRICT, WITHOUT ROWID;
CREATE INDEX case_services_by_case ON case_services (case_rowid);

-- Substring search in German compounds ("ausweis" in "Personalausweis")
-- needs trigrams; diacritics folded so "Muller" finds "Müller".
CREATE VIRTUAL TABLE cases_fts USING fts5 (
    number, name, place, services, notes,
    tokenize = 'trigram remove_diacritics 1'
);

CREATE TABLE office_hours (
    id         TEXT PRIMARY KEY REFERENCES documents (id) ON DELETE CASCADE,
    village    TEXT NOT NULL,
    venue      TEXT NOT NULL,
    date       TEXT NOT NULL,
    caseworker TEXT NOT NULL,
    department TEXT,
    status     TEXT NOT NULL
) STRICT;
CREATE INDEX office_hours_by_date ON office_hours (date DESC);

CREATE TABLE settings (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
) STRICT;
"#,
        ),
        // Sync: the heads the server is known to hold of each document.
        M::up("ALTER TABLE documents ADD COLUMN synced_heads TEXT NOT NULL DEFAULT '';"),
        // Lists and search at 100,000 cases: every change to a case gives it
        // the next `seq`, and its full-text row takes `seq` as rowid, so a
        // search walks the matches newest first and stops after one page
        // instead of collecting and sorting all of them. The new `starts`
        // column marks the start of every name and of the number ("^^schmidt")
        // so that words too short for a trigram are searched as prefixes in
        // the same index ("sc" as the trigram "^sc").
        M::up(
            r#"
ALTER TABLE cases ADD COLUMN seq INTEGER;
UPDATE cases SET seq = o.n
  FROM (SELECT rowid AS r, row_number() OVER (ORDER BY updated_at, rowid) AS n FROM cases) AS o
  WHERE o.r = cases.rowid;
CREATE UNIQUE INDEX cases_by_seq ON cases (seq);
DROP INDEX cases_by_updated;
DROP INDEX cases_by_status;
DROP INDEX cases_by_office_hour;
CREATE INDEX cases_by_status ON cases (status, seq);
CREATE INDEX cases_by_office_hour ON cases (office_hour_id, seq);

CREATE VIRTUAL TABLE cases_fts_by_seq USING fts5 (
    number, name, place, services, notes, starts,
    tokenize = 'trigram remove_diacritics 1'
);
INSERT INTO cases_fts_by_seq (rowid, number, name, place, services, notes, starts)
  SELECT c.seq, f.number, f.name, f.place, f.services, f.notes,
         '^^' || c.number || ' ^^' || replace(trim(c.surname), ' ', ' ^^')
           || ' ^^' || replace(trim(c.given_names), ' ', ' ^^')
  FROM cases_fts f JOIN cases c ON c.rowid = f.rowid;
DROP TABLE cases_fts;
ALTER TABLE cases_fts_by_seq RENAME TO cases_fts;
"#,
        ),
        // Back office: filters by caseworker, village, review and deadline.
        // `next_due` is the earliest deadline of a forwarded request that is
        // not closed; `offices` the offices forwarded to (ids, comma-separated).
        M::up(
            r#"
ALTER TABLE cases ADD COLUMN created_by TEXT NOT NULL DEFAULT '';
ALTER TABLE cases ADD COLUMN review_state TEXT;
ALTER TABLE cases ADD COLUMN next_due TEXT;
ALTER TABLE cases ADD COLUMN offices TEXT NOT NULL DEFAULT '';
CREATE INDEX cases_by_next_due ON cases (next_due) WHERE next_due IS NOT NULL;
CREATE INDEX cases_by_village ON cases (village, seq);
CREATE INDEX cases_by_created_by ON cases (created_by, seq);
ALTER TABLE cases ADD COLUMN requests INTEGER NOT NULL DEFAULT 0;
ALTER TABLE cases ADD COLUMN complete_requests INTEGER NOT NULL DEFAULT 0;
ALTER TABLE cases ADD COLUMN done_at TEXT;
-- Survey: sums and counts of the grades per question, for the averages.
ALTER TABLE office_hours ADD COLUMN ratings INTEGER NOT NULL DEFAULT 0;
ALTER TABLE office_hours ADD COLUMN advice_sum INTEGER NOT NULL DEFAULT 0;
ALTER TABLE office_hours ADD COLUMN advice_n INTEGER NOT NULL DEFAULT 0;
ALTER TABLE office_hours ADD COLUMN clarity_sum INTEGER NOT NULL DEFAULT 0;
ALTER TABLE office_hours ADD COLUMN clarity_n INTEGER NOT NULL DEFAULT 0;
ALTER TABLE office_hours ADD COLUMN place_sum INTEGER NOT NULL DEFAULT 0;
ALTER TABLE office_hours ADD COLUMN place_n INTEGER NOT NULL DEFAULT 0;
-- From the summary taken at closing: requests, and those complete then.
ALTER TABLE office_hours ADD COLUMN summary_requests INTEGER;
ALTER TABLE office_hours ADD COLUMN summary_complete_requests INTEGER;
-- Tours planned by the back office: from and to (HH:MM).
ALTER TABLE office_hours ADD COLUMN start_time TEXT;
ALTER TABLE office_hours ADD COLUMN end_time TEXT;
"#,
        ),
        // Sync asks every round which documents have changes the server
        // lacks. Without an index that read every document row, full save
        // and all, each page decrypted: some 90 ms a round at 3,000 cases,
        // seconds for a back office holding a county's.
        M::up(
            "CREATE INDEX documents_pending ON documents (updated_at, id)
               WHERE heads != synced_heads;",
        ),
        // Documents the server sent that this device could not read: kept
        // aside (not merged, not indexed) and reported, so that one broken
        // document never stops the rest of a sync.
        M::up(
            "CREATE TABLE set_aside (
                 doc_id TEXT NOT NULL,
                 kind   TEXT NOT NULL,
                 bytes  BLOB NOT NULL,
                 reason TEXT NOT NULL,
                 at     TEXT NOT NULL
             ) STRICT;",
        ),
        // Cases opened on this enrolled device, until the next sync hands
        // them to the server's audit trail.
        M::up(
            "CREATE TABLE opened (
                 seq    INTEGER PRIMARY KEY,
                 doc_id TEXT NOT NULL,
                 at     TEXT NOT NULL
             ) STRICT;",
        ),
        // A case's former numbers (space-separated), which a case number
        // still finds: a laptop renumbers what it recorded before it was
        // enrolled.
        M::up("ALTER TABLE cases ADD COLUMN former_numbers TEXT NOT NULL DEFAULT '';"),
        // Erasure (`privacy.rs`): what is left of erased cases (no personal
        // data), so that a copy is never taken again, and the erasures this
        // device ordered until the server confirms them. The full-text
        // index deletes a row's terms at once instead of leaving them in
        // its segments until the next merge.
        M::up(
            "CREATE TABLE tombstones (
                 doc_id    TEXT PRIMARY KEY,
                 number    TEXT NOT NULL,
                 erased_at TEXT NOT NULL,
                 successor TEXT
             ) STRICT;
             CREATE TABLE erase_orders (
                 doc_id    TEXT PRIMARY KEY,
                 reason    TEXT NOT NULL,
                 successor TEXT
             ) STRICT;
             -- Edits this device made to a case that was corrected
             -- elsewhere before they reached the server: the case as the
             -- server had it and as edited here (JSON), carried over to the
             -- corrected case once it arrives, then deleted.
             CREATE TABLE carried_edits (
                 successor TEXT PRIMARY KEY,
                 base      TEXT NOT NULL,
                 mine      TEXT NOT NULL
             ) STRICT;
             -- Survey ratings held back until five of an office hour (or
             -- its closing) go into its document together, shuffled: no
             -- upload and no change order ties a rating to a visit.
             CREATE TABLE pending_ratings (
                 id             INTEGER PRIMARY KEY,
                 office_hour_id TEXT NOT NULL,
                 rating         TEXT NOT NULL
             ) STRICT;
             INSERT INTO cases_fts (cases_fts, rank) VALUES ('secure-delete', 1);",
        ),
        // The knowledge base (the catalogue, answers) and ideas and
        // complaints are documents too: the kinds allowed widen. SQLite
        // cannot change a CHECK in place; the table is rebuilt as its
        // manual says (foreign keys off around the migrations: `migrate`),
        // and the references of chunks and indexes find the new table by
        // its name.
        M::up(
            "CREATE TABLE documents_new (
                 id           TEXT PRIMARY KEY,
                 kind         TEXT NOT NULL
                              CHECK (kind IN ('case', 'office_hour', 'catalog', 'answer', 'feedback')),
                 snapshot     BLOB NOT NULL,
                 chunk_count  INTEGER NOT NULL DEFAULT 0,
                 version      INTEGER NOT NULL DEFAULT 1,
                 heads        TEXT NOT NULL,
                 updated_at   TEXT NOT NULL,
                 synced_heads TEXT NOT NULL DEFAULT ''
             ) STRICT;
             INSERT INTO documents_new (id, kind, snapshot, chunk_count, version, heads,
                                        updated_at, synced_heads)
                 SELECT id, kind, snapshot, chunk_count, version, heads, updated_at, synced_heads
                 FROM documents;
             DROP TABLE documents;
             ALTER TABLE documents_new RENAME TO documents;
             CREATE INDEX documents_pending ON documents (updated_at, id)
                 WHERE heads != synced_heads;
             CREATE INDEX documents_by_kind ON documents (kind);",
        )
        .foreign_key_check(),
        // 11: signatures that tell who wrote changes relayed between laptops
        // in the hall (`attestations.rs`); they go with their document.
        M::up(
            "CREATE TABLE attestations (
                 doc_id      TEXT NOT NULL REFERENCES documents (id) ON DELETE CASCADE,
                 signer      TEXT NOT NULL,
                 attestation BLOB NOT NULL,
                 sent        INTEGER NOT NULL DEFAULT 0,
                 PRIMARY KEY (doc_id, signer)
             ) STRICT;",
        ),
    ])
}

/// Brings the database to the newest schema. Foreign keys are off while
/// migrations run (a rebuilt table would otherwise take the rows that
/// refer to it along when the old one is dropped) and checked after each.
pub fn migrate(conn: &mut rusqlite::Connection) -> Result<(), rusqlite_migration::Error> {
    let foreign_keys = |conn: &rusqlite::Connection, on: bool| {
        conn.pragma_update(None, "foreign_keys", on).map_err(|err| {
            rusqlite_migration::Error::RusqliteError {
                query: format!("PRAGMA foreign_keys = {on}"),
                err,
            }
        })
    };
    foreign_keys(conn, false)?;
    let result = migrations().to_latest(conn);
    foreign_keys(conn, true)?;
    result
}

#[cfg(test)]
mod tests {
    use rusqlite::Connection;

    #[test]
    fn migrations_are_valid() {
        assert!(super::migrations().validate().is_ok());
    }

    /// A store indexed before migration 3 keeps its search: the full-text
    /// rows move to the change sequence, ordered by the old `updated_at`.
    /// What sync asks each round reads the pending documents' index, not
    /// every document.
    #[test]
    fn the_questions_of_sync_read_only_pending_documents() {
        let mut conn = Connection::open_in_memory().expect("in-memory database");
        super::migrations()
            .to_latest(&mut conn)
            .expect("migrations");
        for query in [
            crate::store::sync_state::PENDING_COUNT,
            crate::store::sync_state::PENDING_IDS,
            crate::store::sync_state::PENDING_UPLOADS,
        ] {
            let plan: Vec<String> = conn
                .prepare(&format!("EXPLAIN QUERY PLAN {query}"))
                .and_then(|mut s| s.query_map([], |r| r.get(3))?.collect())
                .expect("plan");
            assert!(
                plan.iter().any(
                    |step| step.contains("USING COVERING INDEX documents_pending")
                        || step.contains("USING INDEX documents_pending")
                ),
                "{query}: {plan:?}"
            );
            assert!(
                !plan.iter().any(|step| step.contains("TEMP B-TREE")),
                "{query}: {plan:?}"
            );
        }
    }

    #[test]
    fn migration_3_moves_full_text_rows_to_the_change_sequence() {
        let mut conn = Connection::open_in_memory().expect("in-memory database");
        super::migrations()
            .to_version(&mut conn, 2)
            .expect("migrations 1-2");
        for (rowid, id, updated, surname) in [
            (1, "a", "2026-11-20T10:00:00Z", "Älteste"),
            (2, "b", "2026-11-22T10:00:00Z", "Neueste"),
            (3, "c", "2026-11-21T10:00:00Z", "Mittlere"),
        ] {
            conn.execute(
                "INSERT INTO documents (id, kind, snapshot, heads, updated_at)
                 VALUES (?1, 'case', x'', '', ?2)",
                [id, updated],
            )
            .expect("document row");
            conn.execute(
                "INSERT INTO cases (rowid, id, number, status, surname, given_names, town,
                                    village, services, complete, missing_count, created_at,
                                    updated_at)
                 VALUES (?1, ?2, 'X-1', 'open', ?3, '', '', '', '', 0, 0, ?4, ?4)",
                rusqlite::params![rowid, id, surname, updated],
            )
            .expect("case row");
            conn.execute(
                "INSERT INTO cases_fts (rowid, number, name, place, services, notes)
                 VALUES (?1, 'X-1', ?2, '', '', 'gemeinsame Notiz')",
                rusqlite::params![rowid, surname],
            )
            .expect("full-text row");
        }
        // Foreign keys on, as the bundled SQLite starts: `migrate` turns
        // them off, or rebuilding `documents` (migration 10) would take the
        // cases along.
        conn.pragma_update(None, "foreign_keys", true)
            .expect("foreign keys");
        conn.execute(
            "INSERT INTO document_chunks (doc_id, bytes) VALUES ('a', x'00')",
            [],
        )
        .expect("chunk");
        super::migrate(&mut conn).expect("later migrations");
        let kept: i64 = conn
            .query_row("SELECT count(*) FROM document_chunks", [], |r| r.get(0))
            .expect("chunks");
        assert_eq!(kept, 1, "the rebuilt documents table keeps the chunks");
        let on: bool = conn
            .query_row("PRAGMA foreign_keys", [], |r| r.get(0))
            .expect("pragma");
        assert!(on, "foreign keys are on again after the migrations");

        let by_seq: Vec<String> = conn
            .prepare("SELECT id FROM cases ORDER BY seq")
            .and_then(|mut s| s.query_map([], |r| r.get(0))?.collect())
            .expect("cases by seq");
        assert_eq!(by_seq, ["a", "c", "b"]);
        let found: Vec<String> = conn
            .prepare(
                "SELECT c.id FROM cases_fts JOIN cases c ON c.seq = cases_fts.rowid
                 WHERE cases_fts MATCH 'notiz' ORDER BY cases_fts.rowid DESC",
            )
            .and_then(|mut s| s.query_map([], |r| r.get(0))?.collect())
            .expect("search");
        assert_eq!(found, ["b", "c", "a"]);
        let oldest: String = conn
            .query_row(
                "SELECT c.id FROM cases_fts JOIN cases c ON c.seq = cases_fts.rowid
                 WHERE cases_fts MATCH 'alteste'",
                [],
                |r| r.get(0),
            )
            .expect("diacritics still folded");
        assert_eq!(oldest, "a");
        let by_start: String = conn
            .query_row(
                "SELECT c.id FROM cases_fts JOIN cases c ON c.seq = cases_fts.rowid
                 WHERE cases_fts MATCH 'starts : \"^mi\"'",
                [],
                |r| r.get(0),
            )
            .expect("names marked at their start");
        assert_eq!(by_start, "c");
    }
}
