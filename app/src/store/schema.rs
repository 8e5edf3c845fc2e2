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
    ])
}

#[cfg(test)]
mod tests {
    #[test]
    fn migrations_are_valid() {
        assert!(super::migrations().validate().is_ok());
    }
}
