//! The container image as far as this machine can check it without a Docker
//! engine: the Dockerfile's stages, user, health check and build cache, and
//! that what it runs exists in the binary.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::process::Command;

fn repo_file(path: &str) -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").join(path)).unwrap()
}

/// The Dockerfile's instructions, continuation lines joined, comments dropped.
fn instructions() -> Vec<String> {
    let text = repo_file("Dockerfile");
    let mut joined = Vec::new();
    let mut current = String::new();
    for line in text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
    {
        match line.strip_suffix('\\') {
            Some(head) => current.push_str(head),
            None => {
                current.push_str(line);
                joined.push(std::mem::take(&mut current));
            }
        }
    }
    joined
}

/// The instructions of the last stage (what the image runs).
fn final_stage() -> Vec<String> {
    let all = instructions();
    let last_from = all.iter().rposition(|i| i.starts_with("FROM ")).unwrap();
    all[last_from..].to_vec()
}

#[test]
fn the_image_is_built_in_one_stage_and_run_from_another() {
    let all = instructions();
    assert!(
        all.iter().filter(|i| i.starts_with("FROM ")).count() >= 2,
        "{all:#?}"
    );
    let build = all
        .iter()
        .find(|i| i.contains("cargo build"))
        .expect("a cargo build step");
    assert!(
        build.contains("--locked") && build.contains("--release"),
        "{build}"
    );
    for cache in ["/usr/local/cargo/registry", "/src/target"] {
        assert!(
            build.contains(&format!("--mount=type=cache,target={cache}")),
            "{build}"
        );
    }
    let last = final_stage();
    assert!(
        last.iter().any(|i| i.starts_with("COPY --from=build")),
        "{last:#?}"
    );
}

#[test]
fn the_service_runs_as_a_user_other_than_root() {
    let last = final_stage();
    let user = last
        .iter()
        .rev()
        .find_map(|i| i.strip_prefix("USER "))
        .expect("the final stage names its user");
    assert!(!["root", "0", "0:0"].contains(&user.trim()), "{user}");
}

/// Kubernetes' `runAsNonRoot` refuses to start an image whose user is a name
/// (it cannot tell whether the name is root), so the user is a number.
#[test]
fn the_image_user_is_numeric_for_run_as_non_root() {
    let last = final_stage();
    let user = last
        .iter()
        .rev()
        .find_map(|i| i.strip_prefix("USER "))
        .expect("the final stage names its user");
    let uid = user.trim().split(':').next().unwrap_or_default();
    assert!(uid.parse::<u32>().is_ok_and(|uid| uid != 0), "{user}");
}

#[test]
fn the_health_check_is_the_binary_itself() {
    let all = instructions();
    assert!(
        !all.iter().any(|i| i.contains("curl") || i.contains("wget")),
        "no HTTP client in the image"
    );
    let last = final_stage();
    let check = last
        .iter()
        .find(|i| i.starts_with("HEALTHCHECK"))
        .expect("a HEALTHCHECK");
    assert!(
        check.contains(r#"CMD ["/usr/local/bin/latch", "healthcheck"]"#),
        "{check}"
    );
    let help = Command::new(env!("CARGO_BIN_EXE_latch"))
        .args(["healthcheck", "--help"])
        .output()
        .unwrap();
    assert!(help.status.success(), "the subcommand the image runs exists");
    let entrypoint = last.iter().find(|i| i.starts_with("ENTRYPOINT")).unwrap();
    assert!(entrypoint.contains("/usr/local/bin/latch"), "{entrypoint}");
}

#[test]
fn the_build_context_leaves_out_build_output_and_local_data() {
    let ignored = repo_file(".dockerignore");
    for entry in ["target", ".git", "data"] {
        assert!(
            ignored.lines().any(|l| l.trim() == entry),
            "{entry} in .dockerignore"
        );
    }
}
