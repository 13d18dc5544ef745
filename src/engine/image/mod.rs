//! The image store: content-addressed blobs, layers unpacked once and shared, image records and
//! tags in the state store, and the archive formats (docker save/load, OCI layout, import).

pub mod archive;
pub mod cancel;
pub mod changes;
pub mod config;
pub mod ingest;
pub mod layer;
pub mod reference;
mod store;
pub mod unpack;

pub use store::{ImageRecord, ImageStore, RemovedImage};
