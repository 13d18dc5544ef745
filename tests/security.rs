//! Privileges inside containers: no_new_privs only when asked for (Docker's default is off),
//! so setuid binaries work, while the default seccomp filter stays loaded.

mod common;

use common::{busybox_rootfs_tar, Wharf};

/// A static program that prints its effective uid, built with the host's C compiler.
fn euid_program(dir: &std::path::Path) -> Vec<u8> {
    let src = dir.join("euid.c");
    std::fs::write(
        &src,
        "#include <stdio.h>\n#include <unistd.h>\nint main(void){printf(\"%d\\n\",(int)geteuid());return 0;}\n",
    )
    .unwrap();
    let bin = dir.join("euid");
    let out = std::process::Command::new("cc")
        .args(["-static", "-O2", "-o"])
        .arg(&bin)
        .arg(&src)
        .output()
        .expect("this test needs a C compiler (cc) with a static libc");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::read(bin).unwrap()
}

#[test]
fn setuid_binaries_work_unless_no_new_privileges_is_asked_for() {
    let w = Wharf::new();
    let program = euid_program(w.dir.path());
    let tar = w.dir.path().join("suid.tar");
    busybox_rootfs_tar(&tar, &[]);
    // Append the setuid-root program to the rootfs archive.
    {
        let f = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(&tar)
            .unwrap();
        let mut ar = tar::Builder::new(f);
        // Overwrite the end-of-archive blocks the first builder wrote.
        let len = std::fs::metadata(&tar).unwrap().len();
        use std::io::Seek;
        ar.get_mut()
            .seek(std::io::SeekFrom::Start(len - 1024))
            .unwrap();
        let mut h = common::header();
        h.set_size(program.len() as u64);
        h.set_mode(0o4755);
        h.set_entry_type(tar::EntryType::Regular);
        ar.append_data(&mut h, "bin/euid", &program[..]).unwrap();
        ar.finish().unwrap();
    }
    w.ok(&["import", tar.to_str().unwrap(), "suid"]);

    let out = w.ok(&["run", "--rm", "--user", "nobody", "suid", "/bin/euid"]);
    assert_eq!(
        out.trim(),
        "0",
        "a setuid-root binary runs as root by default"
    );
    let status = w.ok(&[
        "run",
        "--rm",
        "suid",
        "grep",
        "-E",
        "NoNewPrivs|Seccomp:",
        "/proc/self/status",
    ]);
    assert!(status.contains("NoNewPrivs:\t0"), "{status}");
    assert!(
        status.contains("Seccomp:\t2"),
        "the seccomp filter is loaded: {status}"
    );

    for opt in [
        "no-new-privileges",
        "no-new-privileges=true",
        "no-new-privileges:true",
    ] {
        let out = w.ok(&[
            "run",
            "--rm",
            "--user",
            "nobody",
            "--security-opt",
            opt,
            "suid",
            "/bin/euid",
        ]);
        assert_eq!(out.trim(), "65534", "with {opt}");
    }
    let out = w.ok(&[
        "run",
        "--rm",
        "--user",
        "nobody",
        "--security-opt",
        "no-new-privileges=false",
        "suid",
        "/bin/euid",
    ]);
    assert_eq!(out.trim(), "0");
    let (_, err) = w.fails(&[
        "run",
        "--rm",
        "--security-opt",
        "no-new-privileges=maybe",
        "suid",
        "true",
    ]);
    assert!(err.contains("no-new-privileges"), "{err}");
}
