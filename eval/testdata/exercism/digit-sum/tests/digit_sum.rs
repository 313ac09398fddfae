use digit_sum::*;

#[test]
fn small_number() {
    assert_eq!(digit_sum(1234), 10);
}

#[test]
#[ignore]
fn zero() {
    assert_eq!(digit_sum(0), 0);
}

#[test]
#[ignore]
fn largest() {
    assert_eq!(digit_sum(u64::MAX), 87);
}
