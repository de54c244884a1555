//! `docs/configuration.md` against what Latch reads: every key Latch's
//! settings accept is documented, every documented key is accepted and is in
//! `config/default.toml` (set, or commented out when unset by default), and
//! the documented defaults and environment variables are the real ones.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use latch::Settings;

/// One row of the reference table.
#[derive(Debug)]
struct Row {
    default: String,
    env: String,
}

fn repo_file(path: &str) -> String {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    std::fs::read_to_string(root.join(path)).unwrap()
}

/// The table of `docs/configuration.md`, by key.
fn documented() -> BTreeMap<String, Row> {
    repo_file("docs/configuration.md")
        .lines()
        .filter(|line| line.starts_with("| `"))
        .map(|line| {
            let cells: Vec<&str> = line.trim_matches('|').split(" | ").map(str::trim).collect();
            assert!(
                cells.len() >= 4,
                "a row needs key, default, variable, meaning: {line}"
            );
            let key = cells[0].trim_matches('`').to_owned();
            let row = Row {
                default: cells[1].to_owned(),
                env: cells[2].trim_matches('`').to_owned(),
            };
            (key, row)
        })
        .collect()
}

/// The keys of `config/default.toml`: their values, or `None` for a key
/// shown commented out (`# key = ...`, unset by default).
fn default_toml() -> BTreeMap<String, Option<toml::Value>> {
    let text = repo_file("config/default.toml");
    let mut keys = BTreeMap::new();
    let table: toml::Table = text.parse().unwrap();
    for (name, value) in table {
        match value {
            toml::Value::Table(section) => {
                for (key, value) in section {
                    keys.insert(format!("{name}.{key}"), Some(value));
                }
            }
            value => {
                keys.insert(name, Some(value));
            }
        }
    }
    let mut section = String::new();
    for line in text.lines() {
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            section = name.to_owned();
        } else if let Some(rest) = line.strip_prefix('#') {
            let rest = rest.trim_start();
            let name: String = rest
                .chars()
                .take_while(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '_')
                .collect();
            if !name.is_empty() && rest[name.len()..].trim_start().starts_with('=') {
                keys.entry(format!("{section}.{name}")).or_insert(None);
            }
        }
    }
    keys
}

/// The fields serde expects where `probe` is unknown: what Latch reads there.
fn accepted_fields(probe: &str) -> BTreeSet<String> {
    let message = Settings::with_overrides(&[(probe, "1")]).unwrap_err().to_string();
    let expected = message
        .split("expected ")
        .nth(1)
        .unwrap_or_else(|| panic!("no expected fields in: {message}"));
    // "... expected one of `a`, `b` for key `section`": the list only.
    let expected = expected.split(" for key ").next().unwrap_or(expected);
    expected
        .split('`')
        .skip(1)
        .step_by(2)
        .map(str::to_owned)
        .collect()
}

#[test]
fn every_key_latch_reads_is_documented_and_nothing_else() {
    let documented = documented();
    let sections: BTreeSet<String> = documented
        .keys()
        .filter_map(|key| key.split_once('.').map(|(section, _)| section.to_owned()))
        .collect();
    let top_level: BTreeSet<String> = documented
        .keys()
        .filter(|key| !key.contains('.'))
        .cloned()
        .chain(sections.iter().cloned())
        .collect();
    assert_eq!(
        accepted_fields("zz_probe"),
        top_level,
        "top-level keys and sections"
    );
    for section in &sections {
        let in_doc: BTreeSet<String> = documented
            .keys()
            .filter_map(|key| key.strip_prefix(&format!("{section}.")).map(str::to_owned))
            .collect();
        assert_eq!(
            accepted_fields(&format!("{section}.zz_probe")),
            in_doc,
            "[{section}]"
        );
    }
}

#[test]
fn every_documented_key_is_in_default_toml_and_back() {
    let documented: BTreeSet<String> = documented().into_keys().collect();
    let in_toml: BTreeSet<String> = default_toml().into_keys().collect();
    assert_eq!(
        documented.difference(&in_toml).collect::<Vec<_>>(),
        Vec::<&String>::new(),
        "documented, missing from config/default.toml (set or commented out)"
    );
    assert_eq!(
        in_toml.difference(&documented).collect::<Vec<_>>(),
        Vec::<&String>::new(),
        "in config/default.toml, not documented"
    );
}

#[test]
fn documented_defaults_and_variables_are_the_real_ones() {
    let documented = documented();
    for (key, value) in default_toml() {
        let row = &documented[&key];
        let expected_env = format!("LATCH__{}", key.replace('.', "__").to_uppercase());
        assert_eq!(row.env, expected_env, "{key}");
        match value {
            Some(value) => {
                let shown = match &value {
                    toml::Value::String(text) => text.clone(),
                    toml::Value::Array(items) if items.is_empty() => "[]".to_owned(),
                    other => other.to_string(),
                };
                assert!(
                    row.default.contains(&format!("`{shown}`")),
                    "{key}: default.toml has {shown}, the doc says {}",
                    row.default
                );
            }
            None => assert!(
                !row.default.starts_with('`'),
                "{key} is unset by default, the doc says {}",
                row.default
            ),
        }
    }
}
