//! The deploy files: `render.yaml` is valid YAML, wires the database, a generated JWT
//! secret and a generated metrics token, runs migrations before deploys, checks `/ready`, and
//! names every variable the server reads.

use std::collections::HashMap;

use deskringer::config::REQUIRED_IN_PRODUCTION;
use yaml_rust2::{Yaml, YamlLoader};

fn read(file: &str) -> String {
    std::fs::read_to_string(format!("{}/{file}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

fn web_service() -> Yaml {
    let docs = YamlLoader::load_from_str(&read("render.yaml")).expect("render.yaml is valid YAML");
    docs[0]["services"].as_vec().unwrap().iter().find(|s| s["type"].as_str() == Some("web")).unwrap().clone()
}

fn env_vars(service: &Yaml) -> HashMap<String, Yaml> {
    service["envVars"].as_vec().unwrap().iter().map(|v| (v["key"].as_str().unwrap().to_owned(), v.clone())).collect()
}

#[test]
fn render_yaml_configures_the_web_service_for_production() {
    let service = web_service();
    assert_eq!(service["healthCheckPath"].as_str(), Some("/ready"));
    assert_eq!(service["preDeployCommand"].as_str(), Some("deskringer migrate"));
    let vars = env_vars(&service);
    assert_eq!(vars["APP_ENV"]["value"].as_str(), Some("production"));
    assert_eq!(vars["DATABASE_URL"]["fromDatabase"]["property"].as_str(), Some("connectionString"));
    assert_eq!(vars["JWT_SECRET_KEY"]["generateValue"].as_bool(), Some(true));
    assert_eq!(vars["METRICS_TOKEN"]["generateValue"].as_bool(), Some(true));
    for name in REQUIRED_IN_PRODUCTION {
        assert!(vars.contains_key(*name), "render.yaml must provide {name}");
    }
}

#[test]
fn render_yaml_lists_every_documented_variable() {
    let vars = env_vars(&web_service());
    let documented: Vec<String> = read(".env.example")
        .lines()
        .filter(|line| !line.trim_start().starts_with('#'))
        .filter_map(|line| line.split_once('=').map(|(key, _)| key.trim().to_owned()))
        .filter(|key| !key.is_empty())
        .collect();
    // Development-only variables do not belong in a production Blueprint.
    for key in documented
        .iter()
        .filter(|k| !["ADMIN_EMAIL", "ADMIN_PASSWORD", "RUST_LOG_FORMAT", "PORT"].contains(&k.as_str()))
    {
        assert!(vars.contains_key(key), "render.yaml does not list {key}");
    }
    for (key, var) in &vars {
        let provided = var["value"].as_str().is_some()
            || var["fromDatabase"].as_hash().is_some()
            || var["generateValue"].as_bool().is_some();
        assert!(provided || var["sync"].as_bool() == Some(false), "{key} has neither a value nor sync: false");
    }
}

#[test]
fn the_dockerfile_builds_in_stages_and_runs_as_a_user() {
    let dockerfile = read("Dockerfile");
    assert_eq!(dockerfile.matches("\nFROM ").count() + usize::from(dockerfile.starts_with("FROM ")), 2, "two stages");
    assert!(dockerfile.contains("cargo build --release --locked --bin deskringer"));
    // A numeric user, the one created for the service, so orchestrators can tell it is not root.
    let user = dockerfile.lines().find_map(|line| line.strip_prefix("USER ")).expect("a USER line").trim();
    assert!(user.parse::<u32>().is_ok_and(|uid| uid > 0), "USER {user} is not a non-root uid");
    assert!(dockerfile.contains(&format!("--uid {user} ")), "USER {user} is not the user the image creates");
    assert!(dockerfile.contains("COPY migrations"));
    // The web app's files are compiled into the release binary, so the build needs them.
    assert!(dockerfile.contains("COPY web ./web"), "the build stage must copy web/ for the app under /app/");
    // Checked queries build from the committed cache, without a database.
    assert!(dockerfile.contains("ENV SQLX_OFFLINE=true") && dockerfile.contains("COPY .sqlx"));
}
