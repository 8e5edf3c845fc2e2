//! Which service catalogue the app uses: the one shipped in the binary, or a
//! newer edition that an administration placed in the data dir
//! (`sprechtag catalog import FILE`).

use std::path::Path;
use std::sync::Arc;

use sprechtag_schemas::{Catalog, CatalogError};

/// File name of a replacement catalogue inside the data dir.
pub const CATALOG_FILE: &str = "catalog.json";

pub fn shipped() -> Result<Catalog, CatalogError> {
    sprechtag_schemas::knowledge::shipped_catalog()
}

/// The catalogue to use with the data in `dir`: a valid replacement whose
/// edition is not older than the shipped one, else the shipped one. A broken
/// replacement is reported, not silently ignored.
pub fn load(dir: &Path) -> Result<Arc<Catalog>, CatalogError> {
    let shipped = shipped()?;
    let path = dir.join(CATALOG_FILE);
    let Ok(text) = std::fs::read_to_string(&path) else {
        return Ok(Arc::new(shipped));
    };
    let replacement = Catalog::from_json(&text)?;
    if replacement.version >= shipped.version {
        Ok(Arc::new(replacement))
    } else {
        Ok(Arc::new(shipped))
    }
}

/// Validates `text` and installs it as the data dir's catalogue.
pub fn install(dir: &Path, text: &str) -> Result<Catalog, CatalogError> {
    let catalog = Catalog::from_json(text)?;
    crate::fsutil::write_atomically(&dir.join(CATALOG_FILE), text.as_bytes())
        .map_err(|e| CatalogError::Json(format!("cannot write {}: {e}", CATALOG_FILE)))?;
    Ok(catalog)
}
