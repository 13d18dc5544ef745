//! MAC addresses as Docker takes them (`--mac-address`, `MacAddress` in the API):
//! `02:42:ac:11:00:02`, or with dashes.

/// The six bytes of `s`; what was expected when it is not a unicast MAC address.
pub fn parse_mac(s: &str) -> Result<[u8; 6], String> {
    let bad =
        || format!("invalid MAC address {s:?}: expected six hex bytes such as 02:42:ac:11:00:02");
    let parts: Vec<&str> = s.split([':', '-']).collect();
    if parts.len() != 6 {
        return Err(bad());
    }
    let mut mac = [0u8; 6];
    for (b, p) in mac.iter_mut().zip(&parts) {
        if p.len() != 2 {
            return Err(bad());
        }
        *b = u8::from_str_radix(p, 16).map_err(|_| bad())?;
    }
    if mac[0] & 1 == 1 {
        // A multicast address cannot be a link's own.
        return Err(format!("invalid MAC address {s:?}: a multicast address"));
    }
    Ok(mac)
}

#[cfg(test)]
mod tests {
    use super::parse_mac;

    #[test]
    fn six_hex_bytes_unicast() {
        assert_eq!(
            parse_mac("02:42:ac:11:00:02").unwrap(),
            [2, 0x42, 0xac, 0x11, 0, 2]
        );
        assert_eq!(parse_mac("02-42-AC-11-00-02").unwrap()[2], 0xac);
        for bad in [
            "",
            "02:42:ac:11:00",
            "02:42:ac:11:00:02:03",
            "0g:42:ac:11:00:02",
            "2:42:ac:11:00:02",
        ] {
            assert!(
                parse_mac(bad)
                    .unwrap_err()
                    .contains("expected six hex bytes"),
                "{bad}"
            );
        }
        assert!(parse_mac("01:00:5e:00:00:01")
            .unwrap_err()
            .contains("multicast"));
    }
}
