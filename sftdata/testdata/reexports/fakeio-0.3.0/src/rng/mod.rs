//! Random numbers.

mod thread;

/// A source of numbers.
pub trait Source {
    /// The next number.
    fn next(&mut self) -> u32;
}
