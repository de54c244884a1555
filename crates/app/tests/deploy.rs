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

#[test]
fn prometheus_scrapes_the_port_the_instances_serve_metrics_on() {
    let compose = std::fs::read_to_string(repo().join("deploy/compose.yaml")).unwrap();
    let listen = compose
        .lines()
        .find_map(|line| line.trim().strip_prefix("LATCH__METRICS__LISTEN:"))
        .expect("compose gives metrics a listener of their own")
        .trim();
    let port = listen.rsplit(':').next().unwrap();
    let prometheus = std::fs::read_to_string(repo().join("deploy/prometheus.yml")).unwrap();
    for instance in ["latch-a", "latch-b"] {
        assert!(
            compose.contains(&format!("  {instance}:")),
            "compose runs {instance}"
        );
        assert!(
            prometheus.contains(&format!("\"{instance}:{port}\"")),
            "prometheus.yml scrapes {instance}:{port}"
        );
    }
    let deployment = std::fs::read_to_string(repo().join("deploy/kubernetes/deployment.yaml")).unwrap();
    assert!(deployment.contains(&format!("prometheus.io/port: \"{port}\"")));
    assert!(deployment.contains(&format!("containerPort: {port}")));
}
