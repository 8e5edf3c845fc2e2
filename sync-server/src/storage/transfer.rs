//! `sprechtag-server migrate --from-data-dir DIR --to postgres://…`: moves
//! an embedded SQLite deployment to PostgreSQL, row for row — devices and
//! their tokens, documents with their saves, what each device holds and
//! was sent, sequence numbers, the audit trail, tombstones, the identity
//! and epoch, the mail queue — so that laptops carry on without
//! re-enrolment and without downloading again what they hold. One
//! transaction: the target has all of it or nothing. A target that holds
//! anything already is refused.

use postgres::types::ToSql;
use rusqlite::types::Value;

use super::{PostgresStorage, Result, SqliteStorage, Storage, StorageError};

/// How a column is typed in PostgreSQL (SQLite's values are converted).
#[derive(Clone, Copy)]
enum Kind {
    Text,
    Bytes,
    Int64,
    Int32,
    Bool,
}

use Kind::{Bool, Bytes, Int32, Int64, Text};

/// A table: its name, its columns, and whether its `BIGSERIAL` id must be
/// carried on.
type Table = (&'static str, &'static [(&'static str, Kind)], bool);

/// The tables in the order they can be filled (chunks after their
/// documents).
const TABLES: &[Table] = &[
    (
        "devices",
        &[
            ("id", Text),
            ("name", Text),
            ("user", Text),
            ("role", Text),
            ("department", Text),
            ("prefix", Text),
            ("token_hash", Bytes),
            ("code_hash", Bytes),
            ("code_expires_at", Int64),
            ("created_at", Text),
            ("last_seen", Text),
            ("revoked_at", Text),
            ("actor", Text),
            ("wipe_ordered_at", Text),
            ("wipe_delivered_at", Text),
        ],
        false,
    ),
    (
        "documents",
        &[
            ("id", Text),
            ("kind", Text),
            ("department", Text),
            ("snapshot", Bytes),
            ("chunk_count", Int32),
            ("heads", Bytes),
            ("seq", Int64),
            ("summary", Bytes),
        ],
        false,
    ),
    (
        "document_chunks",
        &[("id", Int64), ("doc_id", Text), ("bytes", Bytes)],
        true,
    ),
    (
        "device_documents",
        &[("device_id", Text), ("doc_id", Text), ("heads", Bytes)],
        false,
    ),
    (
        "device_pending",
        &[
            ("device_id", Text),
            ("doc_id", Text),
            ("heads", Bytes),
            ("seq", Int64),
        ],
        false,
    ),
    (
        "audit",
        &[
            ("seq", Int64),
            ("time", Text),
            ("event", Text),
            ("device_id", Text),
            ("user", Text),
            ("case_ids", Text),
            ("detail", Text),
            ("previous", Text),
            ("hash", Text),
        ],
        false,
    ),
    (
        "tombstones",
        &[
            ("doc_id", Text),
            ("number", Text),
            ("erased_at", Text),
            ("erased_by", Text),
            ("reason", Text),
            ("successor", Text),
        ],
        false,
    ),
    (
        "forwardings",
        &[
            ("doc_id", Text),
            ("request_id", Text),
            ("kind", Text),
            ("department", Text),
            ("office_id", Text),
            ("forwarded_at", Text),
            ("due", Text),
            ("closed", Bool),
        ],
        false,
    ),
    (
        "mail_queue",
        &[
            ("id", Int64),
            ("key", Text),
            ("purpose", Text),
            ("doc_id", Text),
            ("request_id", Text),
            ("department", Text),
            ("queued_at", Text),
            ("next_attempt_at", Text),
            ("attempts", Int32),
            ("last_error", Text),
            ("sent_at", Text),
        ],
        true,
    ),
];

/// Rows moved, by table.
pub type Moved = Vec<(&'static str, u64)>;

/// A SQLite value as the PostgreSQL column wants it.
fn convert(value: Value, kind: Kind, column: &str) -> Result<Box<dyn ToSql + Sync>> {
    let wrong = |value: &Value| {
        StorageError::Database(format!("column {column}: unexpected value {value:?}"))
    };
    Ok(match (kind, value) {
        (Text, Value::Null) => Box::new(None::<String>),
        (Bytes, Value::Null) => Box::new(None::<Vec<u8>>),
        (Int64, Value::Null) => Box::new(None::<i64>),
        (Int32, Value::Null) => Box::new(None::<i32>),
        (Bool, Value::Null) => Box::new(None::<bool>),
        (Text, Value::Text(text)) => Box::new(text),
        (Bytes, Value::Blob(bytes)) => Box::new(bytes),
        (Int64, Value::Integer(n)) => Box::new(n),
        (Int32, Value::Integer(n)) => {
            Box::new(i32::try_from(n).map_err(|_| wrong(&Value::Integer(n)))?)
        }
        (Bool, Value::Integer(n)) => Box::new(n != 0),
        (_, other) => return Err(wrong(&other)),
    })
}

/// Moves everything from `from` into the empty `to`.
pub fn sqlite_to_postgres(from: &SqliteStorage, to: &PostgresStorage) -> Result<Moved> {
    let source = from.read_connection();
    let mut target = to.write_connection()?;
    let mut tx = target.transaction()?;
    let occupied = tx.query_one(
        "SELECT (SELECT count(*) FROM devices) + (SELECT count(*) FROM documents)
                + (SELECT count(*) FROM audit)",
        &[],
    )?;
    let occupied: i64 = occupied.try_get(0)?;
    if occupied > 0 {
        return Err(StorageError::Conflict(format!(
            "{} already holds devices, documents or an audit trail: nothing was moved",
            to.location()
        )));
    }
    let mut moved = Vec::new();
    for (table, columns, serial) in TABLES {
        let names: Vec<&str> = columns.iter().map(|(name, _)| *name).collect();
        let select = format!("SELECT {} FROM {table}", names.join(", "));
        let quoted: Vec<String> = names.iter().map(|name| format!("\"{name}\"")).collect();
        let placeholders: Vec<String> = (1..=names.len()).map(|i| format!("${i}")).collect();
        let insert = tx.prepare(&format!(
            "INSERT INTO {table} ({}) VALUES ({})",
            quoted.join(", "),
            placeholders.join(", ")
        ))?;
        let mut statement = source.prepare(&select)?;
        let mut rows = statement.query([])?;
        let mut count = 0u64;
        while let Some(row) = rows.next()? {
            let mut values: Vec<Box<dyn ToSql + Sync>> = Vec::with_capacity(columns.len());
            for (index, (name, kind)) in columns.iter().enumerate() {
                values.push(convert(row.get(index)?, *kind, name)?);
            }
            let params: Vec<&(dyn ToSql + Sync)> = values.iter().map(|v| v.as_ref()).collect();
            tx.execute(&insert, &params)?;
            count += 1;
        }
        if *serial {
            // New rows continue after the moved ones.
            tx.execute(
                &format!(
                    "SELECT setval(pg_get_serial_sequence('{table}', 'id'),
                                   coalesce((SELECT max(id) FROM {table}), 0) + 1, false)"
                ),
                &[],
            )?;
        }
        moved.push((*table, count));
    }
    // The counter and the identity replace the fresh database's own.
    let newest: i64 =
        source.query_row("SELECT value FROM counters WHERE name = 'seq'", [], |r| {
            r.get(0)
        })?;
    tx.execute(
        "UPDATE counters SET value = $1 WHERE name = 'seq'",
        &[&newest],
    )?;
    let identity = from_identity(&source)?;
    for (name, value) in identity {
        tx.execute(
            "INSERT INTO identity (name, value) VALUES ($1, $2)
             ON CONFLICT (name) DO UPDATE SET value = excluded.value",
            &[&name, &value],
        )?;
    }
    tx.commit()?;
    Ok(moved)
}

fn from_identity(source: &rusqlite::Connection) -> Result<Vec<(String, String)>> {
    let mut statement = source.prepare("SELECT name, value FROM identity ORDER BY name")?;
    let rows = statement
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(rows)
}
