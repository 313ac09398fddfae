//! Wire helpers: a private module whose re-export makes no public path.

pub use crate::codec::Frame as WireFrame;
