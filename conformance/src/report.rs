//! The report: an op × dtype matrix on the terminal and the same data as JSON.

use crate::runner::{Report, Status};
use std::fmt::Write;

const COLUMNS: [&str; 10] = [
    "bool", "i8", "u8", "i32", "u32", "bf16", "f16", "f32", "f64", "mixed",
];

/// The terminal form: header, regressions, the matrix per layer, failures.
pub fn render(r: &Report) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "conformance of backend '{}' {} ({}){} against the reference",
        r.backend,
        r.backend_version,
        r.device,
        r.library
            .as_ref()
            .map(|l| format!(" from {l}"))
            .unwrap_or_default()
    );
    let _ = writeln!(
        s,
        "seed {}, {} cases per entry, {:.1} s",
        r.seed, r.cases, r.seconds
    );
    for sem in &r.semantics {
        let _ = writeln!(s, "declared semantics (expectations widened): {sem}");
    }
    if !r.regressions.is_empty() {
        let count = |st| r.regressions.iter().filter(|x| x.status == st).count();
        let _ = writeln!(
            s,
            "regressions: {} rerun, {} pass, {} fail, {} unsupported",
            r.regressions.len(),
            count(Status::Pass),
            count(Status::Fail),
            count(Status::Unsupported)
        );
    }
    for layer in ["kernel", "eager", "program", "model"] {
        let rows: Vec<&str> = {
            let mut v: Vec<&str> = Vec::new();
            for e in r.entries.iter().filter(|e| e.layer == layer) {
                if !v.contains(&e.op.as_str()) {
                    v.push(&e.op);
                }
            }
            v
        };
        if rows.is_empty() {
            continue;
        }
        let cols: Vec<&str> = COLUMNS
            .iter()
            .copied()
            .filter(|c| r.entries.iter().any(|e| e.layer == layer && e.dtype == *c))
            .collect();
        let width = rows.iter().map(|r| r.len()).max().unwrap_or(4).max(6);
        let _ = write!(s, "\n{:<width$}", format!("{layer} layer"));
        for c in &cols {
            let _ = write!(s, " {c:>6}");
        }
        s.push('\n');
        for row in rows {
            let _ = write!(s, "{row:<width$}");
            for c in &cols {
                let cell = r
                    .entries
                    .iter()
                    .find(|e| e.layer == layer && e.op == row && e.dtype == *c)
                    .map(|e| match e.status {
                        Status::Pass if e.widened > 0 => "ok~",
                        Status::Pass => "ok",
                        Status::Fail => "FAIL",
                        Status::Unsupported => "unsup",
                    })
                    .unwrap_or("");
                let _ = write!(s, " {cell:>6}");
            }
            s.push('\n');
        }
    }
    let _ = writeln!(
        s,
        "\nok: pass; ok~: pass with elements widened by declared semantics; unsup: not in the backend's capabilities; blank: op not defined on the dtype"
    );
    // Unsupported entries, grouped by reason.
    let mut reasons: Vec<(String, Vec<String>)> = Vec::new();
    for e in r.entries.iter().filter(|e| e.status == Status::Unsupported) {
        let item = format!("{}/{}", e.op, e.dtype);
        match reasons.iter_mut().find(|(why, _)| *why == e.note) {
            Some((_, items)) => items.push(item),
            None => reasons.push((e.note.clone(), vec![item])),
        }
    }
    for (why, items) in &reasons {
        let _ = writeln!(
            s,
            "unsupported ({why}): {} entries: {}",
            items.len(),
            items.join(" ")
        );
    }
    for reg in r.regressions.iter().filter(|x| x.status == Status::Fail) {
        if let Some(f) = &reg.failure {
            let _ = writeln!(s, "\nFAILED regression {} ({}):\n{f}", reg.file, reg.entry);
        }
    }
    for e in r.entries.iter().filter(|e| e.status == Status::Fail) {
        if let Some(f) = &e.failure {
            // Generated cases are shrunk; contract checks, the size
            // ladder, the models and crashes have no case to shrink.
            let fixed =
                f.inputs.is_empty() || e.op.starts_with("ladder:") || e.op.starts_with("model:");
            let how = if fixed { "" } else { " (shrunk)" };
            let _ = writeln!(s, "\nFAILED {} {} {}{how}:\n{f}", e.layer, e.op, e.dtype);
        }
    }
    let pass = r
        .entries
        .iter()
        .filter(|e| e.status == Status::Pass)
        .count();
    let unsup = r
        .entries
        .iter()
        .filter(|e| e.status == Status::Unsupported)
        .count();
    let _ = writeln!(
        s,
        "\n{}: {} entries pass, {} fail, {} unsupported",
        if r.passed() { "PASSED" } else { "FAILED" },
        pass,
        r.failures(),
        unsup
    );
    s
}

/// The JSON form.
pub fn json(r: &Report) -> String {
    serde_json::to_string_pretty(r).expect("the report serialises")
}
