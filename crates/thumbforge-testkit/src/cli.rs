//! The command-line contract every binary keeps.

use std::process::Command;

/// Asserts what `bin` does with its arguments: `--help` and `--version`
/// answer without touching a database or the disk (`version` is the
/// expected `--version` line), and an unknown argument is refused.
pub fn command_line_contract(bin: &str, version: &str) {
    let run = |args: &[&str]| {
        let dir = tempfile::tempdir().expect("temp dir");
        let out = Command::new(bin)
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
    };
    let name = version.split(' ').next().unwrap_or(version);

    let (ok, stdout, _) = run(&["--help"]);
    assert!(ok);
    assert!(stdout.contains(&format!("Usage: {name}")), "{stdout}");
    assert!(stdout.contains("THUMBFORGE_"), "{stdout}");

    let (ok, stdout, _) = run(&["--version"]);
    assert!(ok);
    assert_eq!(stdout.trim(), version);

    let (ok, _, stderr) = run(&["--bind", "0.0.0.0:1"]);
    assert!(!ok);
    assert!(stderr.contains("unexpected argument"), "{stderr}");
}
