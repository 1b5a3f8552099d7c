//! One module per subcommand: `Args` (clap) and `run(args) -> anyhow::Result<ExitCode>`.
pub mod op;
pub mod plan;
