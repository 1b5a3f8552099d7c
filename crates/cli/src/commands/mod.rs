//! One module per subcommand: `Args` (clap) and `run(args) -> anyhow::Result<ExitCode>`.
pub mod analyse;
pub mod check;
pub mod clobbers;
pub mod compare;
pub mod dump;
pub mod firmware;
pub mod firmware_args;
pub mod info;
pub mod op;
pub mod plan;
pub mod plan_measured;
pub mod plot;
pub mod progress;
pub mod report;
pub mod text;
pub mod trace;
pub mod verify;
