//! Docker's vocabulary, shared by the CLI, the compose layer and the engine, and depending on
//! nothing else in wharf: one grammar each for what users type in Docker's own syntax, so that
//! `wharf run -p`, compose `ports:` and `compose run -p` accept exactly the same inputs.

pub mod create;
pub mod mac;
pub mod platform;
pub mod port;
pub mod sysctl;
