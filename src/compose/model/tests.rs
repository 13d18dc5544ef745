//! Units and the policies parsed from Docker's strings.

use super::*;

#[test]
fn durations() {
    let d = |s: &str| Duration::parse(s).unwrap().to_string();
    assert_eq!(d("1m30s"), "1m30s");
    assert_eq!(d("90s"), "1m30s");
    assert_eq!(d("1h"), "1h0m0s");
    assert_eq!(d("500ms"), "500ms");
    assert_eq!(d("1.5s"), "1.5s");
    assert_eq!(d("10"), "10s");
    assert_eq!(d("0s"), "0s");
    assert!(Duration::parse("10 parsecs").is_err());
    assert!(Duration::parse("s").is_err());
}

#[test]
fn byte_sizes() {
    assert_eq!(ByteSize::parse("512m").unwrap().0, 512 << 20);
    assert_eq!(ByteSize::parse("1.5g").unwrap().0, 3 << 29);
    assert_eq!(ByteSize::parse("100KB").unwrap().0, 100 << 10);
    assert_eq!(ByteSize::parse("1024").unwrap().0, 1024);
    assert!(ByteSize::parse("12 apples").is_err());
}

#[test]
fn restart_and_network_mode() {
    assert_eq!(
        RestartPolicy::try_from("on-failure:3".to_string()).unwrap(),
        RestartPolicy::OnFailure(Some(3))
    );
    assert!(RestartPolicy::try_from("sometimes".to_string()).is_err());
    assert_eq!(
        NetworkMode::try_from("service:db".to_string()).unwrap(),
        NetworkMode::Service("db".into())
    );
}
