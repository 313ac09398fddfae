//! A made-up crate whose items are re-exported under other paths.

pub mod codec;
pub mod prelude;
pub mod shapes;
pub mod task;
mod wire;
pub mod rng;
mod re_a;
mod re_b;

pub use crate::rng::thread::thread_rng;
pub use crate::re_a::Matcher;

/// Matching bytes.
pub mod bytes {
    pub use crate::re_b::*;
}

cfg_rt! {
    pub use task::spawn;
}

pub use crate::codec::{decode as unpack, encode, Frame};
pub use self::shapes::Shape as Figure;
pub use wire::WireFrame as Datagram;
pub use std::collections::HashMap;

// pub use shapes::perimeter as perim;
/* pub use shapes::perimeter as around_block; */
pub(crate) use shapes::perimeter as around;
use shapes::Area as Surface;
#[doc(hidden)]
pub use shapes::Kind as SecretKind;
#[cfg(test)]
pub use shapes::Kind as TestKind;

/// Doubles a number.
pub fn double(x: u32) -> u32 {
    pub use crate::shapes::Kind as InnerKind;
    let text = "pub use shapes::Kind as StringKind;";
    x * 2 + text.len() as u32 * 0
}

/// Small helpers.
pub mod util {
    pub use super::double as twice;
    pub use crate::shapes::{self, Kind::*};
}

/// Not part of the documented API.
#[doc(hidden)]
pub mod internal {
    pub use crate::codec::encode as raw_encode;
}

#[cfg(test)]
mod tests {
    pub use super::double as test_double;
}
