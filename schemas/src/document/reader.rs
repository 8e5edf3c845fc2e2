//! A read-through view of a document for hydration that reads each map or
//! list once.
//!
//! autosurgeon hydrates a struct field by field, one `get` per field, and in
//! automerge 0.12's columnar op set every `get` seeks through the object's
//! columns from the start: a case of 30 fields cost ~100 µs to hydrate, as
//! much as half of loading it. Reading an object whole with `map_range` /
//! `list_range` costs about one `get`, so this view reads an object the first
//! time any of its entries is asked for and answers the rest from memory.
//! Everything else is passed through to the document.

use std::cell::RefCell;
use std::collections::HashMap;
use std::ops::RangeBounds;

use automerge::{AutomergeError, ObjId, ObjType, Prop, Value};
use autosurgeon::ReadDoc;

/// The visible entries of one object: what `get` would give for each key or
/// index.
enum Entries {
    Map(HashMap<String, (Value<'static>, ObjId)>),
    List(Vec<(Value<'static>, ObjId)>),
}

pub(super) struct ObjectReader<'a, D> {
    doc: &'a D,
    objects: RefCell<HashMap<ObjId, Entries>>,
}

impl<'a, D: ReadDoc> ObjectReader<'a, D> {
    pub(super) fn new(doc: &'a D) -> Self {
        ObjectReader {
            doc,
            objects: RefCell::new(HashMap::new()),
        }
    }

    /// Reads `obj` into memory unless it is there; false for text and
    /// unknown objects, which are left to the document.
    fn cache(&self, obj: &ObjId) -> bool {
        if self.objects.borrow().contains_key(obj) {
            return true;
        }
        match self.read_object(obj) {
            Some(entries) => {
                self.objects.borrow_mut().insert(obj.clone(), entries);
                true
            }
            None => false,
        }
    }

    fn read_object(&self, obj: &ObjId) -> Option<Entries> {
        match self.doc.object_type(obj)? {
            ObjType::Map | ObjType::Table => Some(Entries::Map(
                self.doc
                    .map_range(obj, ..)
                    .map(|item| {
                        let id = item.id();
                        (item.key.into_owned(), (item.value.into_value(), id))
                    })
                    .collect(),
            )),
            ObjType::List => Some(Entries::List(
                self.doc
                    .list_range(obj, ..)
                    .map(|item| {
                        let id = item.id();
                        (item.value.into_value(), id)
                    })
                    .collect(),
            )),
            // Text is read whole through `text`.
            ObjType::Text => None,
        }
    }
}

impl<D: ReadDoc> ReadDoc for ObjectReader<'_, D> {
    type Parents<'b>
        = D::Parents<'b>
    where
        Self: 'b;

    fn get_heads(&self) -> Vec<automerge::ChangeHash> {
        self.doc.get_heads()
    }

    fn get<P: Into<Prop>>(
        &self,
        obj: &ObjId,
        prop: P,
    ) -> Result<Option<(Value<'_>, ObjId)>, AutomergeError> {
        let prop = prop.into();
        if !self.cache(obj) {
            return self.doc.get(obj, prop);
        }
        let objects = self.objects.borrow();
        let found = match (objects.get(obj), &prop) {
            (Some(Entries::Map(entries)), Prop::Map(key)) => entries.get(key.as_str()),
            (Some(Entries::List(entries)), Prop::Seq(index)) => entries.get(*index),
            // A key into a list or an index into a map: let the document
            // answer (or refuse) as it would without this view.
            _ => return self.doc.get(obj, prop),
        };
        Ok(found.cloned())
    }

    fn object_type<O: AsRef<ObjId>>(&self, obj: O) -> Option<ObjType> {
        self.doc.object_type(obj)
    }

    fn map_range<'b, O, R>(&'b self, obj: O, range: R) -> automerge::iter::MapRange<'b>
    where
        R: RangeBounds<String> + 'b,
        O: AsRef<ObjId>,
        R: RangeBounds<String>,
    {
        self.doc.map_range(obj, range)
    }

    fn list_range<O: AsRef<ObjId>, R: RangeBounds<usize>>(
        &self,
        obj: O,
        range: R,
    ) -> automerge::iter::ListRange<'_> {
        self.doc.list_range(obj, range)
    }

    fn length<O: AsRef<ObjId>>(&self, obj: O) -> usize {
        let obj = obj.as_ref();
        if !self.cache(obj) {
            return self.doc.length(obj);
        }
        match self.objects.borrow().get(obj) {
            Some(Entries::Map(entries)) => entries.len(),
            Some(Entries::List(entries)) => entries.len(),
            None => 0,
        }
    }

    fn text<O: AsRef<ObjId>>(&self, obj: O) -> Result<String, AutomergeError> {
        self.doc.text(obj)
    }

    fn parents<O: AsRef<ObjId>>(&self, obj: O) -> Result<Self::Parents<'_>, AutomergeError> {
        self.doc.parents(obj)
    }

    fn is_empty(&self) -> bool {
        self.doc.is_empty()
    }
}
