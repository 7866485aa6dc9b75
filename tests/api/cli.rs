//! The `deskringer` binary's `migrate`, `create-admin` and `reseal-calendar-secrets`
//! subcommands, run for real.

use std::io::Write;
use std::process::{Command, Output, Stdio};

use axum::http::{Method, StatusCode};
use serde_json::json;

use crate::helpers::TestApp;

fn deskringer(app: &TestApp, args: &[&str], stdin: &str) -> Output {
    deskringer_with(app, args, stdin, &[])
}

/// [`deskringer`] with more environment variables.
fn deskringer_with(app: &TestApp, args: &[&str], stdin: &str, env: &[(&str, &str)]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_deskringer"))
        .args(args)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("DATABASE_URL", app.database_url())
        .env("RUST_LOG", "warn")
        .envs(env.iter().copied())
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

#[tokio::test]
async fn reseal_calendar_secrets_moves_every_secret_to_the_new_key_with_the_previous_one_held() {
    use base64::Engine;
    use deskringer::secrets::{LEGACY_KEY_ID, SecretKey};
    // Arrange: two keys with different ids; three businesses' secrets, sealed under the old
    // key, under the old key before key ids (id 1), and under the new key already.
    let app = TestApp::spawn().await;
    assert!(deskringer(&app, &["migrate"], "").status.success());
    let old_bytes = [7u8; 32];
    let new_bytes = (8..=255u8)
        .map(|b| [b; 32])
        .find(|b| SecretKey::from_bytes(b).unwrap().id() != SecretKey::from_bytes(&old_bytes).unwrap().id())
        .unwrap();
    let (old, new) = (SecretKey::from_bytes(&old_bytes).unwrap(), SecretKey::from_bytes(&new_bytes).unwrap());
    let legacy = SecretKey::new(LEGACY_KEY_ID, &old_bytes).unwrap();
    let rows = [
        ("Old", old.seal(b"1//old-refresh-token").unwrap()),
        ("Legacy", legacy.seal(b"cal_live_legacy-key").unwrap()),
        ("Current", new.seal(b"1//current-refresh-token").unwrap()),
    ];
    let mut ids = Vec::new();
    for (name, sealed) in &rows {
        let id = app.insert_customer(name, &format!("{}@example.test", name.to_lowercase()), "active").await;
        sqlx::query("INSERT INTO calendar_connections (customer_id, provider, secret) VALUES ($1, 'google', $2)")
            .bind(id)
            .bind(sealed)
            .execute(&app.db)
            .await
            .unwrap();
        ids.push(id);
    }
    let encode = |bytes: &[u8]| base64::engine::general_purpose::STANDARD.encode(bytes);
    let (old_key, new_key) = (encode(&old_bytes), encode(&new_bytes));
    let stored = || async {
        let mut secrets = Vec::new();
        for id in &ids {
            let secret: Vec<u8> = sqlx::query_scalar("SELECT secret FROM calendar_connections WHERE customer_id = $1")
                .bind(id)
                .fetch_one(&app.db)
                .await
                .unwrap();
            secrets.push(secret);
        }
        secrets
    };

    // Act + Assert: without the previous key, the old secrets cannot be opened; nothing changes.
    let alone = deskringer_with(&app, &["reseal-calendar-secrets"], "", &[("CALENDAR_TOKEN_KEY", &new_key)]);
    assert!(!alone.status.success());
    let stderr = String::from_utf8_lossy(&alone.stderr);
    assert!(stderr.contains("CALENDAR_TOKEN_KEY_PREVIOUS"), "{stderr}");
    assert!(stderr.contains(&format!("{}, {}", ids[0], ids[1])), "names the businesses: {stderr}");
    assert_eq!(stored().await, rows.iter().map(|(_, sealed)| sealed.clone()).collect::<Vec<_>>());

    // With it, every secret ends under the new key, which alone opens each to what it was.
    let env = [("CALENDAR_TOKEN_KEY", new_key.as_str()), ("CALENDAR_TOKEN_KEY_PREVIOUS", old_key.as_str())];
    let output = deskringer_with(&app, &["reseal-calendar-secrets"], "", &env);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains("2 calendar secret(s) re-sealed") && stdout.contains("1 already"), "{stdout}");
    let after = stored().await;
    assert!(after.iter().all(|secret| secret[0] == new.id()), "all under the new key");
    let opened: Vec<String> = after.iter().map(|secret| new.open_string(secret).unwrap()).collect();
    assert_eq!(opened, ["1//old-refresh-token", "cal_live_legacy-key", "1//current-refresh-token"]);
    assert_eq!(after[2], rows[2].1, "a secret already under the new key is left as it is");
    assert!(!after.iter().any(|secret| secret.windows(8).any(|w| w == b"1//old-r")), "never stored in plaintext");

    // Running it again changes nothing; the server then needs only the new key.
    let again = deskringer_with(&app, &["reseal-calendar-secrets"], "", &[("CALENDAR_TOKEN_KEY", &new_key)]);
    assert!(again.status.success(), "{}", String::from_utf8_lossy(&again.stderr));
    assert!(String::from_utf8_lossy(&again.stdout).contains("0 calendar secret(s) re-sealed"));
    assert_eq!(stored().await, after);
    // And without any key it says which one it needs.
    let no_key = deskringer(&app, &["reseal-calendar-secrets"], "");
    assert!(!no_key.status.success());
    assert!(String::from_utf8_lossy(&no_key.stderr).contains("CALENDAR_TOKEN_KEY"));
}
