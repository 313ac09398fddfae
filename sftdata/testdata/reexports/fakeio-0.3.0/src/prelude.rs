//! The usual imports: `use fakeio::prelude::*;`.

pub use crate::shapes::*;
pub use crate::Datagram;
