//! `wharf compose convert --format kubernetes`, run as a user runs it. Each directory under
//! `tests/data/kubernetes/` is a case: `compose.yaml` (and the files it names), `args`
//! (optional, `env=KEY=VALUE` lines), and `expected.yaml` (the output, with the warnings as
//! `# stderr:` lines first) or `expected_error.txt`. Absolute paths under the case print as
//! `$DIR`; `UPDATE_GOLDEN=1` rewrites the expectations.
//!
//! Every generated manifest is also validated against the Kubernetes API's OpenAPI schemas,
//! strictly (unknown fields refused), by PyPI's `kubernetes-validate`, which `scripts/test`
//! installs in a venv and names in `WHARF_KUBERNETES_VALIDATE`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn cases_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/kubernetes")
}

fn validator() -> PathBuf {
    let p = std::env::var_os("WHARF_KUBERNETES_VALIDATE")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from("/var/tmp/wharf-venv-kubernetes-validate-1.37.0/bin/kubernetes-validate")
        });
    assert!(
        p.exists(),
        "{} is missing: run the tests with scripts/test, which installs kubernetes-validate",
        p.display()
    );
    p
}

fn convert(dir: &Path, extra: &[&str]) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_wharf"));
    c.current_dir(dir)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", "/home/user")
        .args(["compose", "convert", "--format", "kubernetes"])
        .args(extra);
    if let Ok(args) = std::fs::read_to_string(dir.join("args")) {
        for line in args.lines().filter(|l| !l.trim().is_empty()) {
            let (k, v) = line.split_once('=').expect("args: key=value");
            assert_eq!(k, "env", "unknown args key {k}");
            let (a, b) = v.split_once('=').unwrap_or((v, ""));
            c.env(a, b);
        }
    }
    c.output().expect("run wharf")
}

fn validate(files: &[PathBuf]) {
    let out = Command::new(validator())
        .arg("--strict")
        .args(files)
        .output()
        .expect("run kubernetes-validate");
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && !text.contains("ERROR") && !text.contains("WARN"),
        "kubernetes-validate refused the manifests:\n{text}"
    );
    assert!(text.contains("passed"), "nothing validated:\n{text}");
}

fn check(dir: &Path, failures: &mut Vec<String>) {
    let out = convert(dir, &[]);
    let d = dir.display().to_string();
    let stdout = String::from_utf8_lossy(&out.stdout).replace(&d, "$DIR");
    let stderr = String::from_utf8_lossy(&out.stderr).replace(&d, "$DIR");
    let update = std::env::var_os("UPDATE_GOLDEN").is_some();
    let (file, actual) = if out.status.success() {
        let mut text: String = stderr.lines().map(|l| format!("# stderr: {l}\n")).collect();
        text.push_str(&stdout);
        // the manifests themselves must be valid Kubernetes objects
        let tmp = std::env::temp_dir().join(format!(
            "wharf-k8s-{}-{}.yaml",
            std::process::id(),
            dir.file_name().unwrap().to_string_lossy()
        ));
        std::fs::write(&tmp, out.stdout.as_slice()).unwrap();
        validate(std::slice::from_ref(&tmp));
        let _ = std::fs::remove_file(&tmp);
        ("expected.yaml", text)
    } else {
        ("expected_error.txt", stderr)
    };
    let path = dir.join(file);
    if update {
        std::fs::write(&path, &actual).unwrap();
        return;
    }
    match std::fs::read_to_string(&path) {
        Ok(expected) if expected == actual => {}
        Ok(expected) => failures.push(format!(
            "{}: output differs\n--- expected\n{expected}\n--- actual\n{actual}",
            dir.display()
        )),
        Err(_) => failures.push(format!("{}: no {file}; actual:\n{actual}", dir.display())),
    }
}

#[test]
fn conversions_match_their_golden_files_and_validate() {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(cases_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    assert!(dirs.len() >= 3);
    let mut failures = Vec::new();
    for d in &dirs {
        check(d, &mut failures);
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn output_directory_gets_one_valid_file_per_object() {
    let out_dir = tempfile::tempdir().unwrap();
    let target = out_dir.path().join("k8s");
    let case = cases_dir().join("shop");
    let out = convert(&case, &["-o", target.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut files: Vec<PathBuf> = std::fs::read_dir(&target)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    let names: Vec<String> = files
        .iter()
        .map(|f| f.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    for want in [
        "web-deployment.yaml",
        "web-service.yaml",
        "db-statefulset.yaml",
        "migrate-job.yaml",
        "pgdata-persistentvolumeclaim.yaml",
        "dbpass-secret.yaml",
        "nginx-configmap.yaml",
    ] {
        assert!(
            names.iter().any(|n| n == want),
            "{want} missing from {names:?}"
        );
    }
    for f in &files {
        let text = std::fs::read_to_string(f).unwrap();
        assert_eq!(
            text.matches("\n---\n").count() + usize::from(text.starts_with("---\n")),
            1,
            "{}: one object per file",
            f.display()
        );
    }
    validate(&files);
}
