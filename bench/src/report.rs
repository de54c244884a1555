//! The results table on stdout and the `--json` file.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::Path;

use crate::error::BenchError;
use crate::scenarios::{Figure, Scenario, Status, Target};

const HEADER: [&str; 9] = [
    "scenario", "backend", "figure", "value", "unit", "ceiling", "ratio", "target", "result",
];

/// Prints one row per figure, then the notes.
pub(crate) fn print_table(results: &[Scenario]) {
    let mut rows: Vec<[String; 9]> = Vec::new();
    for scenario in results {
        let lead = [scenario.scenario.to_owned(), scenario.backend.to_owned()];
        match &scenario.status {
            Status::Failed(reason) => {
                rows.push(row(&lead, "-", "", "", "", "", "", &format!("FAILED: {reason}")))
            }
            Status::Skipped(reason) => {
                rows.push(row(&lead, "-", "", "", "", "", "", &format!("skipped: {reason}")))
            }
            Status::Measured => {
                for figure in &scenario.figures {
                    rows.push(figure_row(&lead, figure));
                }
            }
        }
    }
    let mut widths = HEADER.map(str::len);
    for row in &rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let line = |out: &mut String, cells: &[String; 9]| {
        for (i, (cell, width)) in cells.iter().zip(widths).enumerate() {
            let pad = width.saturating_sub(cell.chars().count());
            // Numbers right-aligned, text left-aligned.
            if (3..=6).contains(&i) {
                let _ = write!(out, "{}{cell}  ", " ".repeat(pad));
            } else {
                let _ = write!(out, "{cell}{}  ", " ".repeat(pad));
            }
        }
        out.truncate(out.trim_end().len());
        out.push('\n');
    };
    println!();
    line(&mut out, &HEADER.map(str::to_owned));
    let rule = widths.map(|width| "-".repeat(width));
    line(&mut out, &rule);
    for row in &rows {
        line(&mut out, row);
    }
    print!("{out}");
    println!();
    for scenario in results {
        for note in &scenario.notes {
            println!("{} [{}]: {note}", scenario.scenario, scenario.backend);
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn row(
    lead: &[String; 2],
    figure: &str,
    value: &str,
    unit: &str,
    ceiling: &str,
    ratio: &str,
    target: &str,
    result: &str,
) -> [String; 9] {
    [
        lead[0].clone(),
        lead[1].clone(),
        figure.to_owned(),
        value.to_owned(),
        unit.to_owned(),
        ceiling.to_owned(),
        ratio.to_owned(),
        target.to_owned(),
        result.to_owned(),
    ]
}

fn figure_row(lead: &[String; 2], figure: &Figure) -> [String; 9] {
    let value = figure
        .value
        .map(|value| number(value, figure.unit))
        .unwrap_or_default();
    let ceiling = figure
        .ceiling
        .map(|ceiling| number(ceiling, figure.unit))
        .unwrap_or_default();
    let ratio = figure
        .ratio
        // Throughputs as a share of the ceiling; latencies as a multiple of it.
        .map(|ratio| match figure.unit {
            "ms" => format!("{ratio:.1}x"),
            _ => format!("{:.1} %", ratio * 100.0),
        })
        .unwrap_or_default();
    let target = match figure.target {
        Some(Target::RatioAtLeast(min)) => format!(">= {:.0} % of ceiling", min * 100.0),
        Some(Target::AtMost(max)) => format!("<= {max} {}", figure.unit),
        None => String::new(),
    };
    let result = match (figure.value, figure.met) {
        (None, _) => "no value",
        (Some(_), Some(true)) => "met",
        (Some(_), Some(false)) => "MISSED",
        (Some(_), None) => "",
    };
    row(
        lead,
        figure.name,
        &value,
        figure.unit,
        &ceiling,
        &ratio,
        &target,
        result,
    )
}

fn number(value: f64, unit: &str) -> String {
    match unit {
        "req/s" | "count" => format!("{value:.0}"),
        "ms" => format!("{value:.2}"),
        _ => format!("{value:.1}"),
    }
}

/// One JSON object per scenario, one per line.
pub(crate) fn write_json(path: &Path, results: &[Scenario]) -> Result<(), BenchError> {
    let mut file = std::io::BufWriter::new(std::fs::File::create(path)?);
    for scenario in results {
        serde_json::to_writer(&mut file, scenario)?;
        file.write_all(b"\n")?;
    }
    file.flush()?;
    Ok(())
}
