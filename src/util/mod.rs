//! Small helpers shared by every layer: ids, digests, atomic files, durations, byte sizes, and
//! the phase trace.

pub mod body;
pub mod bytesize;
pub mod duration;
pub mod fsutil;
pub mod ids;
pub mod tls;
pub mod trace;
pub mod trace_report;
