//! The deployment files under `deploy/`, as far as this machine can check
//! them without Docker or a cluster: every setting they pass is one Latch
//! reads, and the probes name the routes Latch serves for them.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;
use std::path::Path;

fn repo() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
}

/// The environment variables `docs/configuration.md` documents.
fn documented_variables() -> BTreeSet<String> {
    let doc = std::fs::read_to_string(repo().join("docs/configuration.md")).unwrap();
    doc.lines()
        .filter(|line| line.starts_with("| `"))
        .filter_map(|line| {
            line.split(" | ")
                .nth(2)
                .map(|cell| cell.trim().trim_matches('`').to_owned())
        })
        .collect()
}

fn deploy_files() -> Vec<(String, String)> {
    let mut files = Vec::new();
    for dir in ["deploy", "deploy/kubernetes"] {
        for entry in std::fs::read_dir(repo().join(dir)).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|ext| ext == "yaml") {
                files.push((
                    path.display().to_string(),
                    std::fs::read_to_string(&path).unwrap(),
                ));
            }
        }
    }
    files
}

#[test]
fn every_setting_the_deployment_files_pass_is_one_latch_reads() {
    let documented = documented_variables();
    let mut seen = 0;
    for (path, text) in deploy_files() {
        for word in text.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')) {
            if word.starts_with("LATCH__") {
                seen += 1;
                assert!(documented.contains(word), "{path}: {word} is not a Latch setting");
            }
        }
    }
    assert!(seen > 0, "the deployment files pass settings");
}

#[test]
fn the_probes_ask_the_health_routes() {
    let deployment = std::fs::read_to_string(repo().join("deploy/kubernetes/deployment.yaml")).unwrap();
    assert!(deployment.contains("livenessProbe") && deployment.contains("path: /healthz"));
    assert!(deployment.contains("readinessProbe") && deployment.contains("path: /readyz"));
    assert!(deployment.contains("runAsNonRoot: true"));
}
