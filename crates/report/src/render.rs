//! Renderings of a [`Report`]: a terminal table, Markdown, JSON and CSV.

use crate::model::{PairRow, Report, WitnessDetail};
use crate::table::{markdown_lines, text_lines, Align};
use crate::ReportError;
use dmo_overlap::Direction;
use serde::Serialize;
use std::fmt::Write as _;
use std::str::FromStr;

/// Output format of `dmo report`.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Format {
    Table,
    Markdown,
    Json,
    Csv,
}

impl FromStr for Format {
    type Err = String;
    fn from_str(text: &str) -> Result<Format, String> {
        match text {
            "table" => Ok(Format::Table),
            "markdown" | "md" => Ok(Format::Markdown),
            "json" => Ok(Format::Json),
            "csv" => Ok(Format::Csv),
            other => Err(format!(
                "unknown format `{other}` (expected table, markdown, json or csv)"
            )),
        }
    }
}

/// The report as text in `format`, ending with a newline.
pub fn render(report: &Report, format: Format) -> Result<String, ReportError> {
    match format {
        Format::Table => Ok(table(report)),
        Format::Markdown => Ok(markdown(report)),
        Format::Json => {
            let mut text = serde_json::to_string_pretty(report)?;
            text.push('\n');
            Ok(text)
        }
        Format::Csv => csv(report),
    }
}

fn direction(direction: Direction) -> &'static str {
    match direction {
        Direction::Down => "down",
        Direction::Up => "up",
    }
}

/// Cells of the table and Markdown renderings, one row per pair.
const HEADINGS: [&str; 11] = [
    "#",
    "op",
    "kind",
    "pair",
    "in B",
    "out B",
    "s_min",
    "s_mono",
    "footprint",
    "naive",
    "saving",
];

fn cells(row: &PairRow) -> [String; 11] {
    [
        row.op_index.to_string(),
        row.op_name.clone(),
        row.op_kind.clone(),
        format!("{}->{}", row.input_name, row.output_name),
        row.input_bytes.to_string(),
        row.output_bytes.to_string(),
        row.s_min.to_string(),
        row.s_mono.to_string(),
        if row.best_direction == Direction::Up {
            format!("{} (up {})", row.footprint, row.best_offset)
        } else {
            row.footprint.to_string()
        },
        row.naive.to_string(),
        format!("{:.1}%", row.saving_percent),
    ]
}

fn witness_line(row: &PairRow, witness: &WitnessDetail) -> String {
    let site = |site: &Option<crate::InstructionSite>| {
        site.as_ref()
            .map(|s| s.describe())
            .unwrap_or_else(|| "?".into())
    };
    let access = match witness.output_access_kind {
        Some(dmo_core::AccessKind::Read) => "first read",
        _ => "written",
    };
    format!(
        "#{} {}: s={} is unsafe: output byte {} would clobber input byte {}; \
         {access} at t={} by {}, input last read at t={} by {}",
        row.op_index,
        row.op_name,
        witness.offset,
        witness.output_byte,
        witness.input_byte,
        witness.output_access_time.0,
        site(&witness.output_instruction),
        witness.input_last_read_time.0,
        site(&witness.input_instruction),
    )
}

/// `#4 RESHAPE: note` for every note of every row.
fn note_lines(report: &Report) -> Vec<String> {
    report
        .rows
        .iter()
        .flat_map(|row| {
            row.notes
                .iter()
                .map(move |note| format!("#{} {}: {note}", row.op_index, row.op_kind))
        })
        .collect()
}

/// `#0 CONV_2D = model op 0: input -> output` for every matched row.
fn model_row_lines(report: &Report) -> Vec<String> {
    report
        .rows
        .iter()
        .filter_map(|row| {
            let operator = row.model_operator?;
            Some(format!(
                "#{} {} = model op {operator}: `{}` -> `{}`",
                row.op_index,
                row.op_kind,
                row.model_input.as_deref().unwrap_or("?"),
                row.model_output.as_deref().unwrap_or("?")
            ))
        })
        .collect()
}

fn summary_lines(report: &Report) -> Vec<String> {
    let summary = &report.summary;
    let name = |op: &Option<String>| op.clone().unwrap_or_else(|| "-".into());
    vec![
        format!("ops {}, pairs {}", summary.ops, summary.pairs),
        format!(
            "peak as placed by the firmware: {} B (op {})",
            summary.placed_peak_bytes,
            name(&summary.placed_peak_op)
        ),
        format!(
            "peak with every op at its best safe overlap: {} B (op {})",
            summary.overlapped_peak_bytes,
            name(&summary.overlapped_peak_op)
        ),
        format!(
            "saving: {} B ({:.1}%)",
            summary.peak_saving_bytes, summary.peak_saving_percent
        ),
    ]
}

/// Op, kind and pair columns left-aligned, numbers right-aligned.
fn column_alignment() -> Vec<Align> {
    (0..HEADINGS.len())
        .map(|column| {
            if (1..=3).contains(&column) {
                Align::Left
            } else {
                Align::Right
            }
        })
        .collect()
}

fn table(report: &Report) -> String {
    let rows: Vec<Vec<String>> = report.rows.iter().map(|row| cells(row).to_vec()).collect();
    // Text columns (op, kind, pair) left-aligned, numbers right-aligned.
    let lines = text_lines(&HEADINGS, &column_alignment(), &rows);
    let mut out = String::new();
    let _ = writeln!(out, "firmware {}", report.firmware);
    for line in lines {
        let _ = writeln!(out, "{line}");
    }
    let witnesses: Vec<String> = report
        .rows
        .iter()
        .filter_map(|row| row.witness.as_ref().map(|w| witness_line(row, w)))
        .collect();
    if !witnesses.is_empty() {
        let _ = writeln!(out, "\nwhy s_min - 1 is unsafe:");
        for witness in witnesses {
            let _ = writeln!(out, "  {witness}");
        }
    }
    let notes = note_lines(report);
    if !notes.is_empty() {
        let _ = writeln!(out, "\nnotes:");
        for note in notes {
            let _ = writeln!(out, "  {note}");
        }
    }
    if let Some(matching) = &report.model_match {
        let _ = writeln!(out);
        for (index, line) in matching.lines().into_iter().enumerate() {
            let indent = if index == 0 { "" } else { "  " };
            let _ = writeln!(out, "{indent}{line}");
        }
        for line in model_row_lines(report) {
            let _ = writeln!(out, "  {line}");
        }
    }
    out.push('\n');
    for summary in summary_lines(report) {
        let _ = writeln!(out, "{summary}");
    }
    out
}

fn markdown(report: &Report) -> String {
    let escape = |cell: &str| cell.replace('|', "\\|");
    let mut out = String::new();
    let _ = writeln!(out, "# dmo report: `{}`\n", escape(&report.firmware));
    let rows: Vec<Vec<String>> = report.rows.iter().map(|row| cells(row).to_vec()).collect();
    for line in markdown_lines(&HEADINGS, &column_alignment(), &rows) {
        let _ = writeln!(out, "{line}");
    }
    let witnesses: Vec<String> = report
        .rows
        .iter()
        .filter_map(|row| row.witness.as_ref().map(|w| witness_line(row, w)))
        .collect();
    if !witnesses.is_empty() {
        let _ = writeln!(out, "\n## Why `s_min - 1` is unsafe\n");
        for witness in witnesses {
            let _ = writeln!(out, "- {}", escape(&witness));
        }
    }
    let notes = note_lines(report);
    if !notes.is_empty() {
        let _ = writeln!(out, "\n## Notes\n");
        for note in notes {
            let _ = writeln!(out, "- {}", escape(&note));
        }
    }
    if let Some(matching) = &report.model_match {
        let _ = writeln!(out, "\n## Model\n");
        for line in matching.lines().into_iter().chain(model_row_lines(report)) {
            let _ = writeln!(out, "- {}", escape(&line));
        }
    }
    let _ = writeln!(out, "\n## Run\n");
    for summary in summary_lines(report) {
        let _ = writeln!(out, "- {summary}");
    }
    out
}

/// One CSV record: the row's scalar fields and the witness flattened.
#[derive(Serialize)]
struct CsvRecord<'a> {
    schema_version: u32,
    op_index: usize,
    op_name: &'a str,
    op_kind: &'a str,
    input_name: &'a str,
    input_address: String,
    input_bytes: u64,
    output_name: &'a str,
    output_address: String,
    output_bytes: u64,
    s_min: u64,
    s_mono: u64,
    u_min: u64,
    u_mono: u64,
    best_direction: &'static str,
    best_offset: u64,
    footprint: u64,
    naive: u64,
    saving_bytes: u64,
    saving_percent: f64,
    witness_output_byte: Option<u64>,
    witness_input_byte: Option<u64>,
    witness_output_time: Option<u64>,
    witness_input_time: Option<u64>,
    witness_output_instruction: Option<String>,
    witness_input_instruction: Option<String>,
}

fn csv(report: &Report) -> Result<String, ReportError> {
    let mut writer = csv::Writer::from_writer(Vec::new());
    for row in &report.rows {
        let witness = row.witness.as_ref();
        let site = |pick: fn(&WitnessDetail) -> &Option<crate::InstructionSite>| {
            witness.and_then(|w| pick(w).as_ref().map(|s| s.describe()))
        };
        writer.serialize(CsvRecord {
            schema_version: report.schema_version,
            op_index: row.op_index,
            op_name: &row.op_name,
            op_kind: &row.op_kind,
            input_name: &row.input_name,
            input_address: row.input_address.to_string(),
            input_bytes: row.input_bytes,
            output_name: &row.output_name,
            output_address: row.output_address.to_string(),
            output_bytes: row.output_bytes,
            s_min: row.s_min,
            s_mono: row.s_mono,
            u_min: row.u_min,
            u_mono: row.u_mono,
            best_direction: direction(row.best_direction),
            best_offset: row.best_offset,
            footprint: row.footprint,
            naive: row.naive,
            saving_bytes: row.saving_bytes,
            saving_percent: row.saving_percent,
            witness_output_byte: witness.map(|w| w.output_byte),
            witness_input_byte: witness.map(|w| w.input_byte),
            witness_output_time: witness.map(|w| w.output_access_time.0),
            witness_input_time: witness.map(|w| w.input_last_read_time.0),
            witness_output_instruction: site(|w| &w.output_instruction),
            witness_input_instruction: site(|w| &w.input_instruction),
        })?;
    }
    // A report without pairs still gets its header line.
    if report.rows.is_empty() {
        return Ok(CSV_HEADER.to_owned() + "\n");
    }
    let bytes = writer
        .into_inner()
        .map_err(|error| ReportError::Write(error.into_error()))?;
    // Every field is UTF-8 text, so the CSV bytes are too.
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

/// The CSV header (also written for a report without pairs).
pub const CSV_HEADER: &str = "schema_version,op_index,op_name,op_kind,input_name,input_address,\
input_bytes,output_name,output_address,output_bytes,s_min,s_mono,u_min,u_mono,best_direction,\
best_offset,footprint,naive,saving_bytes,saving_percent,witness_output_byte,witness_input_byte,\
witness_output_time,witness_input_time,witness_output_instruction,witness_input_instruction";

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{RunSummary, SCHEMA_VERSION};

    fn empty_report() -> Report {
        Report {
            schema_version: SCHEMA_VERSION,
            firmware: "x.elf".into(),
            rows: Vec::new(),
            summary: RunSummary {
                ops: 0,
                pairs: 0,
                placed_peak_bytes: 0,
                placed_peak_op: None,
                overlapped_peak_bytes: 0,
                overlapped_peak_op: None,
                peak_saving_bytes: 0,
                peak_saving_percent: 0.0,
            },
            model_match: None,
        }
    }

    #[test]
    fn csv_header_constant_matches_the_serialised_fields() {
        // The header the csv crate derives from `CsvRecord` for a real row
        // must equal the constant written for a report without rows.
        let mut writer = csv::Writer::from_writer(Vec::new());
        writer
            .serialize(CsvRecord {
                schema_version: 1,
                op_index: 0,
                op_name: "",
                op_kind: "",
                input_name: "",
                input_address: String::new(),
                input_bytes: 0,
                output_name: "",
                output_address: String::new(),
                output_bytes: 0,
                s_min: 0,
                s_mono: 0,
                u_min: 0,
                u_mono: 0,
                best_direction: "down",
                best_offset: 0,
                footprint: 0,
                naive: 0,
                saving_bytes: 0,
                saving_percent: 0.0,
                witness_output_byte: None,
                witness_input_byte: None,
                witness_output_time: None,
                witness_input_time: None,
                witness_output_instruction: None,
                witness_input_instruction: None,
            })
            .unwrap();
        let text = String::from_utf8(writer.into_inner().unwrap()).unwrap();
        assert_eq!(text.lines().next(), Some(CSV_HEADER));
        assert_eq!(
            render(&empty_report(), Format::Csv).unwrap(),
            format!("{CSV_HEADER}\n")
        );
    }

    #[test]
    fn a_name_longer_than_a_format_width_is_printed_not_panicked_on() {
        // Issue 12 case 3: a 70,000-character op name (from a trace file)
        // made `write!("{cell:<width$}")` panic with "Formatting argument out
        // of range": std's format widths stop at 65535.
        let name = "n".repeat(70_000);
        let mut report = empty_report();
        report.rows.push(PairRow {
            op_index: 0,
            op_name: name.clone(),
            op_symbol: None,
            op_kind: "CONV_2D".into(),
            input_name: "in".into(),
            input_address: dmo_core::Address(0x2000_0000),
            input_bytes: 4,
            output_name: "out".into(),
            output_address: dmo_core::Address(0x2000_0010),
            output_bytes: 4,
            s_min: 0,
            s_mono: 0,
            u_min: 0,
            u_mono: 0,
            best_direction: Direction::Down,
            best_offset: 0,
            footprint: 4,
            naive: 8,
            saving_bytes: 4,
            saving_percent: 50.0,
            witness: None,
            model_operator: None,
            model_input: None,
            model_output: None,
            notes: Vec::new(),
        });
        report.summary.ops = 1;
        report.summary.pairs = 1;
        let text = render(&report, Format::Table).unwrap();
        // The heading line pads "op" to the name's width: 70,000 columns.
        let heading = text.lines().nth(1).unwrap();
        assert!(heading.starts_with("#  op "), "{}", &heading[..40]);
        assert!(text.contains(&name));
        let row = text.lines().nth(2).unwrap();
        assert_eq!(row.find(" CONV_2D"), heading.find(" kind"));
    }
}
