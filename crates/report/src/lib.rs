//! The per-layer report of a firmware run: for every (input, output) pair of
//! every op, the mined `s_min`/`s_mono`, footprint, naive size and saving,
//! the witness that makes `s_min - 1` unsafe (both instructions as
//! `symbol+offset: disassembly`), and the run's peaks as placed and with
//! every op at its best safe overlap.
//!
//! The library builds a typed [`Report`] (from a trace file with
//! [`report_of_trace`], or online while emulating with [`analyse`]) and
//! renders it with [`render`]; it prints nothing. The JSON and CSV schemas
//! are documented in `docs/report-format.md`.

mod family_report;
mod model;
mod model_match;
mod op_report;
mod plan_report;
mod render;
mod sources;
mod table;
mod verify;

pub use family_report::{
    render_families, FamilyCell, FamilyColumn, FamilyComparison, FamilyRow, TracedCost,
};
pub use model::{
    InstructionSite, ModelMatch, PairRow, Report, RunSummary, SiteLookup, WitnessDetail,
    SCHEMA_VERSION,
};
pub use model_match::match_model;
pub use op_report::render_op;
pub use plan_report::{render_plan, render_plan_summary, LayerRow, McuRow, PeakReport, PlanReport};
pub use render::{render, Format, CSV_HEADER};
pub use sources::{
    analyse, report_of_trace, report_of_trace_with_model, Analysis, FirmwareSites, RecordedSites,
    TraceSites,
};
pub use table::{markdown_lines, text_lines, write_table, Align};
pub use verify::{
    verify, CheckRuns, Claim, ObservedClobber, OffsetCheck, OpSelector, PairVerification, SeedRun,
    Verification, VerifyRequest,
};

use thiserror::Error;

/// Why a report could not be made.
#[derive(Debug, Error)]
pub enum ReportError {
    #[error(transparent)]
    Trace(#[from] dmo_trace::TraceError),
    #[error(transparent)]
    Emulator(#[from] dmo_emu::EmuError),
    #[error("{firmware}: no op named `{op}`{}", input.as_ref().map(|name| format!(" with an input named `{name}`")).unwrap_or_default())]
    NoSuchOp {
        firmware: String,
        op: String,
        input: Option<String>,
    },
    #[error("{firmware}: the run failed: {status}")]
    RunFailed { firmware: String, status: String },
    #[error("cannot write the report")]
    Write(#[from] std::io::Error),
    #[error("cannot write the report as CSV")]
    Csv(#[from] csv::Error),
    #[error("cannot write the report as JSON")]
    Json(#[from] serde_json::Error),
    #[error(transparent)]
    Plan(#[from] dmo_plan::PlanError),
    #[error(transparent)]
    Files(#[from] dmo_fsio::FsioError),
    #[error(transparent)]
    PlanRecord(#[from] dmo_plan::RecordError),
    #[error("cannot start {jobs} threads for the checks: {message}")]
    Threads { jobs: usize, message: String },
}
