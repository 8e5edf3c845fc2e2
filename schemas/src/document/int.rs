//! Integers in documents are stored as automerge's signed `Int`: automerge
//! for JavaScript returns those as numbers, but unsigned `Uint` values as
//! `BigInt`, which `JSON.stringify` refuses. Documents written before this
//! was so hold `Uint`s: both are read, and a field is written as `Int` at
//! its next change (the server takes a value re-typed with the same number
//! as no change at all, see `integrity`).
//!
//! Use with `#[autosurgeon(with = "crate::document::int")]` on an unsigned
//! field, `crate::document::int::optional` on an `Option` of one.

use automerge::{ObjId, ScalarValue, Value};
use autosurgeon::{HydrateError, Prop, ReadDoc, Reconciler};

/// The number at `prop`, from an `Int` or a `Uint`.
fn read<D: ReadDoc, T: TryFrom<i64> + TryFrom<u64>>(
    doc: &D,
    obj: &ObjId,
    prop: Prop<'_>,
) -> Result<Option<T>, HydrateError> {
    let too_large =
        || HydrateError::unexpected("a small integer", "an integer out of range".into());
    match doc.get(obj, &prop)? {
        None => Ok(None),
        Some((Value::Scalar(value), _)) => match value.as_ref() {
            ScalarValue::Null => Ok(None),
            ScalarValue::Int(i) => T::try_from(*i).map(Some).map_err(|_| too_large()),
            ScalarValue::Uint(u) => T::try_from(*u).map(Some).map_err(|_| too_large()),
            other => Err(HydrateError::unexpected("an integer", format!("{other:?}"))),
        },
        Some((Value::Object(kind), _)) => Err(HydrateError::unexpected(
            "an integer",
            format!("an object of type {kind:?}"),
        )),
    }
}

pub fn hydrate<D: ReadDoc, T: TryFrom<i64> + TryFrom<u64>>(
    doc: &D,
    obj: &ObjId,
    prop: Prop<'_>,
) -> Result<T, HydrateError> {
    read(doc, obj, prop)?.ok_or_else(|| HydrateError::unexpected("an integer", "nothing".into()))
}

pub fn reconcile<R: Reconciler, T: Copy + TryInto<i64>>(
    value: &T,
    mut reconciler: R,
) -> Result<(), R::Error> {
    reconciler.i64((*value).try_into().unwrap_or(i64::MAX))
}

/// The same for an optional number (`null` when absent).
pub mod optional {
    use super::*;

    pub fn hydrate<D: ReadDoc, T: TryFrom<i64> + TryFrom<u64>>(
        doc: &D,
        obj: &ObjId,
        prop: Prop<'_>,
    ) -> Result<Option<T>, HydrateError> {
        super::read(doc, obj, prop)
    }

    pub fn reconcile<R: Reconciler, T: Copy + TryInto<i64>>(
        value: &Option<T>,
        mut reconciler: R,
    ) -> Result<(), R::Error> {
        match value {
            Some(value) => super::reconcile(value, reconciler),
            None => reconciler.none(),
        }
    }
}

#[cfg(test)]
mod tests {
    use automerge::{AutoCommit, ROOT, ReadDoc as _, transaction::Transactable};
    use autosurgeon::{Hydrate, Reconcile};

    #[derive(Debug, PartialEq, Reconcile, Hydrate)]
    struct Counted {
        #[autosurgeon(with = "crate::document::int")]
        count: u64,
        #[autosurgeon(with = "crate::document::int::optional")]
        grade: Option<u8>,
        #[autosurgeon(missing = "Default::default", with = "crate::document::int")]
        added_later: u64,
    }

    #[test]
    fn numbers_are_written_signed_and_read_either_way() {
        let mut doc = AutoCommit::new();
        let counted = Counted {
            count: 3,
            grade: Some(2),
            added_later: 1,
        };
        autosurgeon::reconcile(&mut doc, &counted).expect("write");
        assert_eq!(
            autosurgeon::hydrate::<_, Counted>(&doc).expect("read"),
            counted
        );
        let stored = doc.get(ROOT, "count").expect("get").expect("a value").0;
        assert_eq!(stored, automerge::Value::int(3));
        // A document of an earlier release: unsigned.
        let mut old = AutoCommit::new();
        old.put(ROOT, "count", 7_u64).expect("put");
        old.put(ROOT, "grade", automerge::ScalarValue::Null)
            .expect("put");
        let read: Counted = autosurgeon::hydrate(&old).expect("read");
        assert_eq!(
            read,
            Counted {
                count: 7,
                grade: None,
                added_later: 0
            }
        );
        // Too large for the field: an error, not a wrap-around.
        old.put(ROOT, "grade", 300_i64).expect("put");
        assert!(autosurgeon::hydrate::<_, Counted>(&old).is_err());
    }
}
