/// Starts a task and returns its id.
pub fn spawn(f: fn()) -> u64 {
    f();
    1
}
