pub mod error;
pub mod load;
pub mod model;
pub mod value;
