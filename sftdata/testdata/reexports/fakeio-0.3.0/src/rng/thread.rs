/// The thread's own generator.
pub fn thread_rng() -> u32 {
    4
}
