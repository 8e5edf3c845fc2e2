//! The server's command line as an administrator uses it. (Being an
//! integration test of this package, it also makes `cargo test --workspace`
//! build the `sprechtag-server` binary that the end-to-end tests start.)

use std::process::Command;

fn server() -> Command {
    Command::new(env!("CARGO_BIN_EXE_sprechtag-server"))
}

#[test]
fn the_printed_example_settings_file_loads() {
    let output = server().arg("config").output().expect("run config");
    assert!(output.status.success());
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("sprechtag-server.toml");
    std::fs::write(&file, &output.stdout).expect("write example");
    let settings = sprechtag_server::Settings::load(Some(&file)).expect("the example loads");
    assert_eq!(settings.listen.port(), 8443);
    assert_eq!(
        settings.data_dir,
        std::path::PathBuf::from("/var/lib/sprechtag")
    );
}

#[test]
fn enrolling_with_an_unknown_role_fails_naming_the_role_and_registers_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let output = server()
        .args(["device", "enrol", "--data-dir"])
        .arg(dir.path())
        .args([
            "--name",
            "Laptop",
            "--user",
            "u",
            "--role",
            "chef",
            "--department",
            "d",
        ])
        .output()
        .expect("run enrol");
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("chef"));
    let list = server()
        .args(["device", "list", "--data-dir"])
        .arg(dir.path())
        .output()
        .expect("run list");
    assert!(list.status.success());
    assert!(list.stdout.is_empty(), "no device was registered");
}
