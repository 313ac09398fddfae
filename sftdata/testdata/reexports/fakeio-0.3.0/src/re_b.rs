/// Finds bytes.
pub struct Matcher {
    pattern: Vec<u8>,
}

impl Matcher {
    /// Finds the pattern in bytes.
    pub fn find(&self, bytes: &[u8]) -> Option<usize> {
        bytes.windows(self.pattern.len()).position(|w| w == self.pattern.as_slice())
    }
}
