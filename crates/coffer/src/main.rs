//! The `coffer` binary: `serve` runs every service on one endpoint; `account`, `trail` and `bench` are the
//! operator's tools.

mod admin;
mod bench;
mod config;
mod edge;
mod serve;
mod state;

use std::path::PathBuf;

use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "coffer",
    version,
    about = "Private files, encrypted under keys you control, delivered fast."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the API endpoint (S3, KMS, IAM, STS, CloudFront and CloudTrail APIs) with embedded storage.
    Serve(ServeArgs),
    /// Manage accounts.
    Account {
        #[command(subcommand)]
        command: AccountCommand,
    },
    /// Inspect the audit trail.
    Trail {
        #[command(subcommand)]
        command: TrailCommand,
    },
    /// Load-test a running endpoint.
    Bench(bench::BenchArgs),
    /// Run an edge node alone, pointed at an API endpoint.
    Edge(edge::EdgeArgs),
}

#[derive(Debug, clap::Args)]
struct ServeArgs {
    /// TOML configuration file (unknown keys are rejected).
    #[arg(long, env = "COFFER_CONFIG")]
    config: Option<PathBuf>,
    /// Where all state lives [default: ./coffer-data].
    #[arg(long, env = "COFFER_DATA_DIR")]
    data_dir: Option<PathBuf>,
    /// Address of the API endpoint [default: 127.0.0.1:9000].
    #[arg(long, env = "COFFER_API")]
    api: Option<String>,
    /// Default region, for requests that name none [default: us-east-1].
    #[arg(long, env = "COFFER_REGION")]
    region: Option<String>,
    /// The edge's viewer HTTP listener, or `off` [default: 127.0.0.1:8080].
    #[arg(long, env = "COFFER_EDGE_HTTP")]
    edge_http: Option<String>,
    /// The edge's viewer HTTPS listener, or `off` [default: 127.0.0.1:8443].
    #[arg(long, env = "COFFER_EDGE_HTTPS")]
    edge_https: Option<String>,
}

#[derive(Debug, Subcommand)]
enum AccountCommand {
    /// Create an account and print its root credentials (shared-credentials file format).
    Create {
        #[arg(long)]
        name: String,
        #[arg(long, env = "COFFER_DATA_DIR", default_value = "./coffer-data")]
        data_dir: PathBuf,
        /// Print JSON instead of the credentials-file format.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
enum TrailCommand {
    /// Check every audit record's hash chain and every signed digest; print OK or the first problem.
    Verify {
        #[arg(long, env = "COFFER_DATA_DIR", default_value = "./coffer-data")]
        data_dir: PathBuf,
    },
}

fn main() -> std::process::ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("COFFER_LOG")
                .unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Serve(args) => serve::run(args),
        Command::Account {
            command:
                AccountCommand::Create {
                    name,
                    data_dir,
                    json,
                },
        } => admin::create_account(&data_dir, &name, json),
        Command::Trail {
            command: TrailCommand::Verify { data_dir },
        } => trail_verify(&data_dir),
        Command::Bench(args) => bench::run(args),
        Command::Edge(args) => edge::run(args),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("coffer: {e:#}");
            std::process::ExitCode::from(1)
        }
    }
}

fn trail_verify(data_dir: &std::path::Path) -> anyhow::Result<std::process::ExitCode> {
    let layout = state::Layout::new(data_dir);
    let signer = audit::DigestSigner::load_or_create(&layout.audit_key())
        .map_err(|e| anyhow::anyhow!("loading the audit signing key: {e}"))?;
    match audit::verify(&layout.audit_dir(), &signer.public_key_der()) {
        Ok(report) => {
            println!(
                "OK: {} records (seq 1..={}) in {} segments; {} signed digests cover records through seq {}; \
                 {} records after the last digest",
                report.records,
                report.last_seq,
                report.segments,
                report.digests,
                report.digested_through,
                report.undigested_records
            );
            Ok(std::process::ExitCode::SUCCESS)
        }
        Err(e) => {
            println!("FAILED: {e}");
            Ok(std::process::ExitCode::from(2))
        }
    }
}
