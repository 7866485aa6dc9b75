//! How figures are shown in answers: averages to two decimals, money to a ten-thousandth
//! of a dollar (enough for per-call costs).

/// An average as the API gives it: two decimals (`10.33`).
pub fn average(value: f64) -> f64 {
    (value * 100.0).round() / 100.0
}

/// US dollars to a ten-thousandth.
pub fn money(value: f64) -> f64 {
    (value * 10_000.0).round() / 10_000.0
}

#[cfg(test)]
mod tests {
    #[test]
    fn averages_have_two_decimals_and_money_four() {
        assert_eq!(super::average(10.0 / 3.0 + 7.0), 10.33);
        assert_eq!(super::money(0.0085 * 3.0), 0.0255);
    }
}
