//! `testdock ps` and `testdock prune` for CI pipelines and people.
//!
//! ```text
//! cargo run -p testdock --bin testdock -- ps            # list testdock's resources
//! cargo run -p testdock --bin testdock -- prune         # remove stale ones (owner proven dead)
//! cargo run -p testdock --bin testdock -- prune --kept  # remove containers kept for debugging
//! cargo run -p testdock --bin testdock -- prune --all   # remove every testdock resource
//! ```

use std::process::ExitCode;
use std::time::{SystemTime, UNIX_EPOCH};

use testdock::prune::{Prune, Resource, ResourceKind};

const USAGE: &str = "usage: testdock ps | testdock prune [--kept | --all]";

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let result = match args.as_slice() {
        ["ps"] => testdock::prune::ps().await.map(|list| print_table(&list)),
        ["prune"] => prune(Prune::Stale).await,
        ["prune", "--kept"] => prune(Prune::Kept).await,
        ["prune", "--all"] => prune(Prune::All).await,
        _ => {
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("testdock: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn prune(what: Prune) -> testdock::Result<()> {
    testdock::prune::prune(what)
        .await
        .map(|r| print_removed(&r))
}

fn kind(r: &Resource) -> &'static str {
    match r.kind {
        ResourceKind::Container => "container",
        ResourceKind::Network => "network",
        ResourceKind::Volume => "volume",
    }
}

fn print_table(list: &[Resource]) {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    println!(
        "{:<10} {:<34} {:<8} {:<32} {:<20} {:<24} {:<40} PORTS",
        "KIND", "NAME", "OWNER", "STATUS", "AGE/STATE", "SESSION", "TEST"
    );
    for r in list {
        let owner = r.owner.split('-').next().unwrap_or("");
        let status = r.ownership.to_string();
        let status = if r.role.is_empty() {
            status
        } else {
            format!("{status}/{}", r.role)
        };
        let age = if r.created > 0 {
            format!("{}s {}", now - r.created, r.state)
        } else {
            r.state.clone()
        };
        println!(
            "{:<10} {:<34} {:<8} {:<32} {:<20} {:<24} {:<40} {}",
            kind(r),
            r.name,
            owner,
            status,
            age,
            r.session,
            r.test,
            r.ports.join(",")
        );
    }
    println!("{} resource(s)", list.len());
}

fn print_removed(list: &[Resource]) {
    for r in list {
        println!(
            "removed {} {} (test {}, owner {})",
            kind(r),
            r.name,
            r.test,
            r.owner
        );
    }
    println!("{} resource(s) removed", list.len());
}
