//! Encoding and decoding frames.

mod frame;

pub use self::frame::{decode, encode, Frame};
