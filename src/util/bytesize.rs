//! Byte sizes as Docker writes them (`512m`, `1g`, `100k`, `1.5GB`) and as tables show them.

/// Parse a size like `12m` or `1g` (binary units, like Docker's `RAMInBytes`).
pub fn parse_bytes(s: &str) -> Result<i64, String> {
    let t = s.trim().to_ascii_lowercase();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    // go-units allows one space between the number and the unit (`512 MB`).
    let unit = unit.strip_prefix(' ').unwrap_or(unit);
    let value: f64 = num.parse().map_err(|_| format!("invalid size: '{s}'"))?;
    let factor: f64 = match unit.trim_end_matches('b').trim_end_matches('i') {
        "" => 1.0,
        "k" => 1024.0,
        "m" => 1024.0 * 1024.0,
        "g" => 1024.0 * 1024.0 * 1024.0,
        "t" => 1024f64.powi(4),
        "p" => 1024f64.powi(5),
        _ => return Err(format!("invalid size: '{s}'")),
    };
    if unit == "bb" || unit.len() > 3 {
        return Err(format!("invalid size: '{s}'"));
    }
    let bytes = value * factor;
    // Past i64 the cast would saturate: a size the kernel cannot hold is refused, not capped.
    if !bytes.is_finite() || bytes >= i64::MAX as f64 {
        return Err(format!("invalid size: '{s}'"));
    }
    Ok(bytes as i64)
}

/// Human size with decimal units, like Docker's tables (`4.26MB`, `1.2GB`): 4 significant
/// digits at most, as go-units' `HumanSize`.
pub fn human_size(bytes: i64) -> String {
    human_size_digits(bytes, 4)
}

/// [`human_size`] with `digits` significant digits at most (go-units'
/// `HumanSizeWithPrecision`; the docker CLI's `SIZE` columns use 3).
pub fn human_size_digits(bytes: i64, digits: i32) -> String {
    let units = ["B", "kB", "MB", "GB", "TB", "PB"];
    let mut v = bytes as f64;
    let mut i = 0;
    while v >= 1000.0 && i < units.len() - 1 {
        v /= 1000.0;
        i += 1;
    }
    if i == 0 {
        return format!("{bytes}B");
    }
    let whole_digits = if v >= 100.0 {
        3
    } else if v >= 10.0 {
        2
    } else {
        1
    };
    let decimals = (digits - whole_digits).max(0) as usize;
    let s = format!("{v:.decimals$}");
    let s = if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.')
    } else {
        &s
    };
    format!("{s}{}", units[i])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_print_with_docker_precision() {
        assert_eq!(human_size(1_987_000), "1.987MB");
        assert_eq!(human_size_digits(1_987_000, 3), "1.99MB");
        assert_eq!(human_size_digits(5_003, 3), "5kB");
        assert_eq!(human_size_digits(123_456, 3), "123kB");
        assert_eq!(human_size_digits(7, 3), "7B");
        assert_eq!(human_size(100_000), "100kB");
    }

    #[test]
    fn parses_sizes() {
        assert_eq!(parse_bytes("12m").unwrap(), 12 * 1024 * 1024);
        assert_eq!(parse_bytes("1g").unwrap(), 1 << 30);
        assert_eq!(parse_bytes("100").unwrap(), 100);
        assert_eq!(
            parse_bytes("99999999999999999999g").unwrap_err(),
            "invalid size: '99999999999999999999g'"
        );
        assert_eq!(parse_bytes("64MB").unwrap(), 64 << 20);
        assert!(parse_bytes("12q").is_err());
    }

    #[test]
    fn human_sizes() {
        assert_eq!(human_size(512), "512B");
        assert_eq!(human_size(4_260_000), "4.26MB");
        assert_eq!(human_size(1_000_000), "1MB");
    }
}
