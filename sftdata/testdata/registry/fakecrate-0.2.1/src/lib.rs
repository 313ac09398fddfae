//! A small crate for testing the crate docs reader.
//!
//! ```
//! # use fakecrate::double;
//! assert_eq!(double(2), 4);
//! ```

#![deny(missing_docs)]

pub mod sub;
mod hidden_impl;

pub use hidden_impl::Counter;

/// Doubles a number.
///
/// # Examples
///
/// ```
/// assert_eq!(fakecrate::double(3), 6);
/// ```
pub fn double(x: u32) -> u32 {
    x * 2
}

/// Not shown: private.
fn helper() -> u32 {
    /// Inside a function body: not an item of the docs.
    pub fn inner() {}
    inner();
    1
}

/// Not shown either.
#[doc(hidden)]
pub fn secret() {}

/// Prints a greeting.
#[macro_export]
macro_rules! greet {
    ($name:expr) => {
        println!("hello {}", $name)
    };
}

/// A tuple struct declared without a body.
pub struct Meters(pub f64);

#[cfg(test)]
mod tests {
    /// A test helper.
    pub fn check() {}
}
