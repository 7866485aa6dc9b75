//! The `deskringer` binary's `migrate` and `create-admin` subcommands, run for real.

use std::io::Write;
use std::process::{Command, Output, Stdio};

use axum::http::{Method, StatusCode};
use serde_json::json;

use crate::helpers::TestApp;

fn deskringer(app: &TestApp, args: &[&str], stdin: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_deskringer"))
        .args(args)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("DATABASE_URL", app.database_url())
        .env("RUST_LOG", "warn")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary runs");
    child.stdin.take().unwrap().write_all(stdin.as_bytes()).unwrap();
    child.wait_with_output().unwrap()
}

#[tokio::test]
async fn create_admin_makes_an_account_that_can_log_in() {
    // Arrange
    let app = TestApp::spawn().await;
    assert!(deskringer(&app, &["migrate"], "").status.success());

    // Act
    let output = deskringer(
        &app,
        &["create-admin", "--email", "Ops@DeskRinger.test", "--name", "Ops", "--password-stdin"],
        "s3cret-pass\n",
    );

    // Assert
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    assert!(String::from_utf8_lossy(&output.stdout).contains("ops@deskringer.test"));
    let login = app
        .call(
            Method::POST,
            "/api/admin/login",
            None,
            Some(json!({"email": "ops@deskringer.test", "password": "s3cret-pass"})),
        )
        .await;
    assert_eq!(login.assert_ok(StatusCode::OK)["admin"]["name"], "Ops");
}

#[tokio::test]
async fn create_admin_refuses_a_duplicate_or_short_password_and_says_why() {
    let app = TestApp::spawn().await;
    let args = ["create-admin", "--email", "ops@deskringer.test", "--password-stdin"];
    assert!(deskringer(&app, &args, "s3cret-pass\n").status.success());

    let duplicate = deskringer(&app, &args, "another-pass\n");
    assert!(!duplicate.status.success());
    assert!(String::from_utf8_lossy(&duplicate.stderr).contains("already exists"));

    let short = deskringer(&app, &["create-admin", "--email", "new@deskringer.test", "--password-stdin"], "short\n");
    assert!(!short.status.success());
    assert!(String::from_utf8_lossy(&short.stderr).contains("at least 8"));
    assert_eq!(app.count("admins").await, 1);
}

#[test]
fn a_password_flag_does_not_exist() {
    let output = Command::new(env!("CARGO_BIN_EXE_deskringer"))
        .args(["create-admin", "--email", "a@b.test", "--password", "visible-in-ps"])
        .output()
        .unwrap();
    assert!(!output.status.success());
}
