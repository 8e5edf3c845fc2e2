//! Sprechtag's desktop app and CLI: the encrypted local store, the egui user
//! interface and the command line, all on one binary.

rust_i18n::i18n!("locales", fallback = "de");

mod background;
pub mod catalog;
pub mod cli;
pub mod demo;
mod fsutil;
pub mod hall;
mod merge;
pub mod paths;
pub mod print;
pub mod store;
pub mod sync;
pub mod ui;
