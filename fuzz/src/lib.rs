//! Shared logic of the newipd fuzz targets. `check` is also compiled into the
//! main crate's `tests/fuzz_corpus.rs` via `#[path]`.

pub mod check;
