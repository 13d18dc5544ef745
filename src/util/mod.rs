//! Small helpers shared by every layer: ids, digests, atomic files, durations, byte sizes.

pub mod bytesize;
pub mod duration;
pub mod fsutil;
pub mod ids;
pub mod tls;
