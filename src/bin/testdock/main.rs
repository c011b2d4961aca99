//! `testdock`, the command for CI pipelines and people: lists (`ps`) and removes
//! (`prune`) the containers, networks and volumes testdock made, selected by owner,
//! test and session. Install it with `cargo install testdock --locked`; `testdock
//! --help` says the rest.

mod args;
mod output;
mod usage;

use std::future::Future;
use std::process::ExitCode;

use args::Command;

fn main() -> ExitCode {
    let args = std::env::args_os()
        .skip(1)
        .map(|a| a.to_string_lossy().into_owned());
    let command = match args::parse(args) {
        Ok(command) => command,
        Err(e) => {
            eprintln!("testdock: {e}; see testdock --help");
            return ExitCode::from(2);
        }
    };
    match command {
        Command::Help(topic) => {
            emit(usage::text(topic));
            ExitCode::SUCCESS
        }
        Command::Version => {
            emit(&format!("testdock {}\n", env!("CARGO_PKG_VERSION")));
            ExitCode::SUCCESS
        }
        Command::Ps { selection, json } => on_daemon(async move {
            let list = testdock::prune::ps(selection).await?;
            Ok(if json {
                output::json(&list)
            } else {
                output::table(&list, now())
            })
        }),
        Command::Prune { selection } => on_daemon(async move {
            let removed = testdock::prune::prune(selection).await?;
            Ok(output::removed(&removed))
        }),
    }
}

/// Runs `work` against the daemon and prints what it returns, or its error.
fn on_daemon(work: impl Future<Output = testdock::Result<String>>) -> ExitCode {
    let result = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| testdock::Error::Config {
            message: format!("cannot start an async runtime: {e}"),
        })
        .and_then(|runtime| runtime.block_on(work));
    match result {
        Ok(text) => {
            emit(&text);
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("testdock: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Prints `text` on standard output; a reader that hung up (`| head`) is no error.
fn emit(text: &str) {
    let _ = std::io::Write::write_all(&mut std::io::stdout().lock(), text.as_bytes());
}

/// Seconds since the epoch.
fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}
