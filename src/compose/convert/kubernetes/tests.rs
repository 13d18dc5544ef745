use super::dns_label;

#[test]
fn names_become_dns_labels() {
    assert_eq!(dns_label("web"), "web");
    assert_eq!(dns_label("api_server"), "api-server");
    assert_eq!(dns_label("My.App"), "my-app");
    assert_eq!(dns_label("1db"), "db");
    assert_eq!(dns_label("___"), "x");
    assert_eq!(dns_label(&"a".repeat(80)).len(), 63);
    assert_eq!(dns_label(&format!("{}_b", "a".repeat(62))), "a".repeat(62));
}
