//! The binary's command line: `--help` and `--version` answer without
//! touching a database or the disk, and unknown arguments are refused.

use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_thumbforge-api");

fn run(args: &[&str]) -> (bool, String, String) {
    let dir = tempfile::tempdir().expect("temp dir");
    let out = Command::new(BIN)
        .args(args)
        .current_dir(dir.path())
        // Were the arguments ignored, this would start against nothing.
        .env("THUMBFORGE_DATA_DIR", dir.path().join("data"))
        .env_remove("DATABASE_URL")
        .env_remove("REDIS_URL")
        .output()
        .expect("the binary runs");
    assert!(
        !dir.path().join("data").exists(),
        "`{}` created the data directory",
        args.join(" ")
    );
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn help_and_version_answer_and_unknown_arguments_are_refused() {
    let (ok, stdout, _) = run(&["--help"]);
    assert!(ok);
    assert!(stdout.contains("Usage: thumbforge-api"), "{stdout}");
    assert!(stdout.contains("THUMBFORGE_"), "{stdout}");

    let (ok, stdout, _) = run(&["--version"]);
    assert!(ok);
    assert_eq!(
        stdout.trim(),
        concat!("thumbforge-api ", env!("CARGO_PKG_VERSION"))
    );

    let (ok, _, stderr) = run(&["--bind", "0.0.0.0:1"]);
    assert!(!ok);
    assert!(stderr.contains("unexpected argument"), "{stderr}");
}
