/// Counts things.
pub struct Counter {
    n: u64,
}

impl Counter {
    /// Adds one and returns the new count.
    pub fn bump(&mut self) -> u64 {
        self.n += 1;
        self.n
    }

    /// Private: left out.
    fn reset(&mut self) {
        self.n = 0;
    }
}

impl Default for Counter {
    /// Trait implementation: left out.
    fn default() -> Self {
        Counter { n: 0 }
    }
}
