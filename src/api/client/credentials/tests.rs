//! The credential store's choices and a helper's answers, with real script helpers.

use super::*;
use serde_json::json;
use std::path::Path;

fn decode(header: &str) -> Value {
    let bytes = base64::engine::general_purpose::URL_SAFE
        .decode(header)
        .unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

#[test]
fn precedence_helper_per_registry_then_store_then_file() {
    let v = json!({
        "credsStore": "everything",
        "credHelpers": {"reg.example:5000": "special", "empty.example": ""},
        "auths": {"reg.example:5000": {"auth": "dTpw"}},
    });
    assert_eq!(
        store_for(&v, "reg.example:5000"),
        Store::Helper("special".into())
    );
    assert_eq!(
        store_for(&v, "other.example"),
        Store::Helper("everything".into())
    );
    // an empty name is none: the store applies
    assert_eq!(
        store_for(&v, "empty.example"),
        Store::Helper("everything".into())
    );
    // keys match exactly, as in docker: a host is not its URL
    assert_eq!(
        store_for(&v, DOCKER_HUB_KEY),
        Store::Helper("everything".into())
    );
    let v = json!({"credHelpers": {"reg.example:5000": "special"}, "credsStore": ""});
    assert_eq!(
        store_for(&v, "reg.example:5000"),
        Store::Helper("special".into())
    );
    assert_eq!(store_for(&v, "other.example"), Store::File);
    assert_eq!(store_for(&json!({}), "x"), Store::File);
}

#[test]
fn a_token_user_means_an_identity_token() {
    let c = |user: &str| HelperCredentials {
        server_url: "r:5000".into(),
        username: user.into(),
        secret: "s".into(),
    };
    let a = AuthConfig::from_helper("r:5000", c(TOKEN_USERNAME));
    assert_eq!((a.username.as_str(), a.password.as_str()), ("", ""));
    assert_eq!(a.identity_token, "s");
    assert_eq!(
        decode(&a.header()),
        json!({"serveraddress": "r:5000", "identitytoken": "s"})
    );
    let a = AuthConfig::from_helper("r:5000", c("me"));
    assert_eq!((a.username.as_str(), a.password.as_str()), ("me", "s"));
    assert_eq!(
        decode(&a.header()),
        json!({"username": "me", "password": "s", "serveraddress": "r:5000"})
    );
    assert!(!format!("{a:?}").contains("\"s\""));
}

/// A helper script in `dir` keeping one credential in `dir/store.json`.
fn helper_script(dir: &Path, name: &str, body: &str) -> PathBuf {
    use std::os::unix::fs::PermissionsExt as _;
    let path = dir.join(format!("docker-credential-{name}"));
    std::fs::write(
        &path,
        format!(
            "#!/bin/sh\nstore={}\n{body}",
            dir.join("store.json").display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}

const KEEPER: &str = r#"read -r first || true
case "$1" in
  store) printf '%s\n' "$first" > "$store" ;;
  get) if [ -s "$store" ] && grep -qF "\"ServerURL\":\"$first\"" "$store"; then cat "$store"
   else echo "credentials not found in native keychain"; exit 1; fi ;;
  erase) : > "$store" ;;
  list) if [ -s "$store" ]; then echo '{"r:5000":"x"}'; else echo '{}'; fi ;;
esac
"#;

#[tokio::test]
async fn helpers_store_get_erase_and_fail_in_dockers_words() {
    let dir = tempfile::tempdir().unwrap();
    helper_script(dir.path(), "keeper", KEEPER);
    helper_script(
        dir.path(),
        "broken",
        "echo 'the vault is sealed'; echo 'on stderr' >&2; exit 3\n",
    );
    std::fs::write(
        dir.path().join("config.json"),
        r#"{"credsStore": "keeper", "credHelpers": {"bad:1": "broken", "gone:1": "absent", "mute:1": "mute"},
            "proxies": {"default": {"httpProxy": "http://p:3128"}}}"#,
    )
    .unwrap();
    let load = || {
        let mut f = ConfigFile::load_from(dir.path().join("config.json")).unwrap();
        f.helper_dir = Some(dir.path().to_path_buf());
        f
    };
    let mut f = load();
    // nothing kept: anonymous, not an error
    assert!(f.get("r:5000").await.unwrap().is_none());
    let token = AuthConfig {
        username: "me".into(),
        identity_token: "refresh-me".into(),
        ..AuthConfig::default()
    };
    f.store("r:5000", &token).await.unwrap();
    f.save().unwrap();
    let kept = std::fs::read_to_string(dir.path().join("store.json")).unwrap();
    assert!(
        kept.contains(r#""Username":"<token>","Secret":"refresh-me""#),
        "{kept}"
    );
    let written = std::fs::read_to_string(dir.path().join("config.json")).unwrap();
    assert!(!written.contains("refresh-me"), "{written}");
    let f = load();
    assert_eq!(f.value()["auths"], json!({"r:5000": {}}));
    assert_eq!(
        f.value()["proxies"]["default"]["httpProxy"],
        "http://p:3128"
    );
    let a = f.get("r:5000").await.unwrap().unwrap();
    assert_eq!(a.identity_token, "refresh-me");
    assert!(a.username.is_empty() && a.password.is_empty());
    let keeper = Helper::at(dir.path().join("docker-credential-keeper"));
    assert_eq!(keeper.list().await.unwrap()["r:5000"], "x");
    // credHelpers wins over credsStore; a failure is the helper's own words
    let e = f.get("bad:1").await.unwrap_err().to_string();
    assert_eq!(
        e,
        "error getting credentials - err: exit status 3, out: `the vault is sealed`"
    );
    let mut g = load();
    let e = g.store("bad:1", &token).await.unwrap_err().to_string();
    assert_eq!(
        e,
        "error storing credentials - err: exit status 3, out: `the vault is sealed`"
    );
    let e = g.erase("bad:1").await.unwrap_err().to_string();
    assert_eq!(
        e,
        "error erasing credentials - err: exit status 3, out: `the vault is sealed`"
    );
    // with nothing on stdout, what it said on stderr
    helper_script(dir.path(), "mute", "echo 'only on stderr' >&2; exit 1\n");
    let e = f.get("mute:1").await.unwrap_err().to_string();
    assert_eq!(
        e,
        "error getting credentials - err: exit status 1, out: `only on stderr`"
    );
    let e = f.get("gone:1").await.unwrap_err().to_string();
    assert!(
        e.starts_with("error getting credentials - err: exec: \"")
            && e.contains("docker-credential-absent\": executable file not found"),
        "{e}"
    );
    // logout: erased in the helper, the entry gone, the rest kept
    let mut f = load();
    assert_eq!(f.logged_in_keys("r:5000"), vec!["r:5000".to_string()]);
    f.erase("r:5000").await.unwrap();
    f.save().unwrap();
    assert_eq!(std::fs::read(dir.path().join("store.json")).unwrap(), b"");
    let f = load();
    assert_eq!(f.value()["auths"], json!({}));
    assert!(f.get("r:5000").await.unwrap().is_none());
    assert!(f.value()["proxies"].is_object());
}

#[tokio::test]
async fn inline_entries_with_a_password_or_an_identity_token() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sub").join("config.json");
    let mut f = ConfigFile::load_from(&path).unwrap();
    let pw = AuthConfig {
        username: "me".into(),
        password: "p:w".into(),
        ..AuthConfig::default()
    };
    f.store("r:5000", &pw).await.unwrap();
    let token = AuthConfig {
        username: "me".into(),
        password: "ignored".into(),
        identity_token: "tok".into(),
        ..AuthConfig::default()
    };
    f.store("t:5000", &token).await.unwrap();
    f.save().unwrap();
    let f = ConfigFile::load_from(&path).unwrap();
    assert_eq!(f.value()["auths"]["r:5000"]["auth"], "bWU6cDp3");
    assert_eq!(
        f.value()["auths"]["t:5000"],
        json!({"auth": "bWU6", "identitytoken": "tok"})
    );
    let a = f.get("r:5000").await.unwrap().unwrap();
    assert_eq!((a.username.as_str(), a.password.as_str()), ("me", "p:w"));
    let a = f.get("t:5000").await.unwrap().unwrap();
    assert_eq!(
        (a.username.as_str(), a.identity_token.as_str()),
        ("me", "tok")
    );
    assert!(a.password.is_empty());
    // legacy URL keys are found by host, and logout considers a scheme form
    std::fs::write(
        &path,
        r#"{"auths": {"https://old.example/v1/": {"auth": "dTpw"}, "http://new.example": {}}}"#,
    )
    .unwrap();
    let f = ConfigFile::load_from(&path).unwrap();
    let a = f.get("old.example").await.unwrap().unwrap();
    assert_eq!((a.username.as_str(), a.password.as_str()), ("u", "p"));
    assert_eq!(
        f.logged_in_keys("new.example"),
        vec!["http://new.example".to_string()]
    );
    // as with docker, a logout does not look for a `/v1/` URL form
    assert!(f.logged_in_keys("old.example").is_empty());
    // a broken file is an error naming it, not silence
    std::fs::write(&path, "{not json").unwrap();
    let e = ConfigFile::load_from(&path).unwrap_err().to_string();
    assert!(e.starts_with(&format!("reading {}", path.display())), "{e}");
}
