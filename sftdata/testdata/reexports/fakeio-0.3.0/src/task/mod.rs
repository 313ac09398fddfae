//! Tasks.

mod spawn;

pub use spawn::spawn;
