//! `ferroproof-server`: the sync server's command line, store opening, listener and shutdown.
//!
//! Invariant: the server keeps no state outside the store but watcher subscriptions (and a throttle
//! of replay-marker cleaning); it prints
//! `listening on http://ADDR` (the bound address) only once it accepts connections.

mod access;
mod api;
mod auth;
mod deadline;
mod many;
mod memory;
mod names;
mod reply;
mod serve;
mod store;
mod watch;

use std::io::Write;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;

/// The ferroproof sync server: a create-only, content-named store of encrypted CARs and head records.
#[derive(Parser, Debug)]
#[command(name = "ferroproof-server", version)]
struct Cli {
    /// Address to listen on (port 0 picks a free port).
    #[arg(long, default_value = "127.0.0.1:8787")]
    listen: SocketAddr,
    /// A local folder (created if missing) or `s3://bucket[/prefix]` (configured by the AWS_* environment).
    #[arg(long, default_value = "./ferroproof-data")]
    store: String,
    /// No authorization: anyone who can reach the server may read and write (development only).
    /// Without it every request needs a UCAN invocation (docs/auth.md §7).
    #[arg(long)]
    open: bool,
    /// How often a ledger with watchers lists its heads, to hear writes made through other instances.
    #[arg(long, default_value_t = 200, value_parser = clap::value_parser!(u64).range(10..=60_000))]
    poll_ms: u64,
    /// Most connections open at once (beyond it a new connection is closed unread).
    #[arg(long, default_value_t = 4096, value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    max_connections: u64,
    /// How long a client may stall: to send a request head (or, idle, its next one), or between
    /// two parts of a body (a whole body gets 6 times this).
    #[arg(long, default_value_t = 20_000, value_parser = clap::value_parser!(u64).range(100..=600_000))]
    stall_ms: u64,
    /// Most object bytes held in memory at once (uploads being stored, answers being sent), in MiB;
    /// a request that cannot get its share within the stall time is answered 503.
    #[arg(long, default_value_t = 512, value_parser = clap::value_parser!(u32).range(16..=4_194_304))]
    max_memory_mib: u32,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{e}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> Result<(), String> {
    let store = store::open(&cli.store)?;
    let hub = watch::Hub::new(store.clone(), Duration::from_millis(cli.poll_ms));
    let auth = (!cli.open).then(|| auth::Auth::new(store.clone()));
    let app = api::router(api::App { store, hub, auth });
    let listener = tokio::net::TcpListener::bind(cli.listen)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", cli.listen))?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    {
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "listening on http://{addr}");
        let _ = out.flush();
    }
    let stall = Duration::from_millis(cli.stall_ms);
    reply::set_stall(stall);
    memory::set_budget(cli.max_memory_mib);
    serve::serve(
        listener,
        app,
        cli.max_connections as usize,
        stall,
        shutdown(),
    )
    .await;
    Ok(())
}

/// Resolves on SIGINT or SIGTERM.
async fn shutdown() {
    let int = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => return int.await.unwrap_or(()),
            };
        tokio::select! {
            _ = int => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    int.await.unwrap_or(());
}
