//! Field-wise three-way merge of JSON values (objects recursively, lists
//! and scalars as a whole): what the editor keeps of its typing when a save
//! comes back, and what a laptop carries over of its edits when a case it
//! edited was corrected elsewhere.

use serde_json::Value;

/// Which side wins a field both sides changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Prefer {
    Mine,
    Theirs,
}

/// `theirs`, with what `mine` changed since `old`; a field both changed
/// takes the `prefer`red side.
pub fn three_way(old: &Value, mine: &Value, theirs: Value, prefer: Prefer) -> Value {
    match (old, mine, theirs) {
        (Value::Object(old), Value::Object(mine), Value::Object(mut theirs)) => {
            for (key, mine) in mine {
                let merged = match (old.get(key), theirs.remove(key)) {
                    (Some(old), Some(theirs)) => three_way(old, mine, theirs, prefer),
                    // Added on both sides, or gone from theirs.
                    (None, Some(theirs)) if prefer == Prefer::Theirs => theirs,
                    (_, None) if prefer == Prefer::Theirs => continue,
                    _ => mine.clone(),
                };
                theirs.insert(key.clone(), merged);
            }
            Value::Object(theirs)
        }
        (old, mine, theirs) if mine == old => theirs,
        (old, mine, theirs) if theirs == *old || prefer == Prefer::Mine => mine.clone(),
        (_, _, theirs) => theirs,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn each_side_keeps_what_only_it_changed_and_the_preferred_side_wins_the_rest() {
        let old = json!({ "a": 1, "b": 1, "c": 1, "n": { "x": 1, "y": 1 } });
        let mine = json!({ "a": 2, "b": 1, "c": 2, "n": { "x": 2, "y": 1 } });
        let theirs = json!({ "a": 1, "b": 3, "c": 3, "n": { "x": 1, "y": 3 } });
        assert_eq!(
            three_way(&old, &mine, theirs.clone(), Prefer::Mine),
            json!({ "a": 2, "b": 3, "c": 2, "n": { "x": 2, "y": 3 } })
        );
        assert_eq!(
            three_way(&old, &mine, theirs, Prefer::Theirs),
            json!({ "a": 2, "b": 3, "c": 3, "n": { "x": 2, "y": 3 } })
        );
    }
}
