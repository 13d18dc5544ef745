//! Building images from Dockerfiles: the front end (`dockerfile`) and, on top of the engine's
//! containers, layers and commit, the builder that runs each instruction with Docker's
//! semantics and caches the result of every step.

pub mod dockerfile;
