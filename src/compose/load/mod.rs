pub mod env;
pub mod interpolate;
pub mod merge;
pub mod normalize;
pub mod validate;
pub mod yaml;
