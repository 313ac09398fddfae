/// Finds text.
pub struct Matcher {
    pattern: String,
}

impl Matcher {
    /// Finds the pattern in text.
    pub fn find(&self, text: &str) -> Option<usize> {
        text.find(self.pattern.as_str())
    }
}
