pub fn digit_sum(n: u64) -> u64 {
    todo!("sum the digits of {n}")
}
