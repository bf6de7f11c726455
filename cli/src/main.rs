//! `ferroproof`: inspect, verify and export the ledgers of a sync server's store folder, or one CAR
//! file, using the engine for every format question (docs/cli.md).
//!
//! Invariant: every run ends with exit 0, [`fail::PROBLEMS`] (verify found problems) or a
//! [`fail::Fail`] code with one line on stderr; a panic (a bug) is reported the same way, as exit 7.

mod archive;
mod carfile;
mod export;
mod fail;
mod folder;
mod inspect;
mod invite;
mod verify;
mod walk;

use std::io::Write;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};
use fail::{Fail, PROBLEMS};
use folder::{LedgerDir, StoreDir};
use invite::Invite;

#[derive(Parser)]
#[command(
    name = "ferroproof",
    version,
    about = "Inspect, verify and export ferroproof ledgers"
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

/// What to read: a store folder (one ledger or all) or one CAR file.
#[derive(Args)]
struct Source {
    /// A `ferroproof-server --store` folder.
    #[arg(
        long,
        value_name = "PATH",
        required_unless_present = "car",
        conflicts_with = "car"
    )]
    store: Option<PathBuf>,
    /// One ledger of the store (default: every ledger, or the invite's).
    #[arg(long, value_name = "ID", requires = "store")]
    ledger: Option<String>,
    /// One CAR file (sealed as the engine stores them, or a plain CAR v1).
    #[arg(long, value_name = "FILE")]
    car: Option<PathBuf>,
}

#[derive(Subcommand)]
enum Cmd {
    /// Ledgers, CARs, head records and sizes (with a key: the heads and the merged state).
    Inspect {
        #[command(flatten)]
        src: Source,
        /// The fp1. invite (or a file holding it, `-` for stdin, or a URL with #invite=).
        #[arg(long, value_name = "INVITE")]
        key_from: Option<String>,
    },
    /// Check names, GCM tags, block CIDs, head records and tree completeness.
    Verify {
        #[command(flatten)]
        src: Source,
        /// The fp1. invite (or a file holding it, `-` for stdin, or a URL with #invite=).
        #[arg(long, value_name = "INVITE")]
        key_from: Option<String>,
        /// Report every problem, not only the first.
        #[arg(long)]
        all: bool,
    },
    /// The ledger's current documents, merged from every head record (or read from an archive).
    Export {
        #[command(flatten)]
        src: Source,
        /// The fp1. invite (or a file holding it, `-` for stdin, or a URL with #invite=).
        #[arg(long, value_name = "INVITE")]
        key_from: Option<String>,
        /// `jsonl`: one `{"_id":…}` per line, in id order; `car`: a plain CAR v1 (docs/cli.md).
        #[arg(long, value_enum, default_value_t = Format::Jsonl)]
        format: Format,
        /// Write here instead of stdout.
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum Format {
    Jsonl,
    Car,
}

/// The ledgers a command works on: `--ledger`, else the invite's (or the only one), else all.
fn ledgers(s: &StoreDir, id: Option<&str>, inv: Option<&Invite>) -> Result<Vec<LedgerDir>, Fail> {
    if let Some(id) = id {
        return Ok(vec![s.ledger(id)?]);
    }
    let ids = s.ledger_ids()?;
    let Some(inv) = inv else {
        return ids.iter().map(|id| s.ledger(id)).collect();
    };
    if ids.contains(&inv.ledger) {
        return Ok(vec![s.ledger(&inv.ledger)?]);
    }
    match ids.as_slice() {
        [only] => Ok(vec![s.ledger(only)?]),
        [] => Err(Fail::Corrupt("the store holds no ledger".into())),
        _ => Err(Fail::Usage(format!(
            "the invite's ledger {} is not in this store and it holds {} ledgers: pick one with --ledger",
            inv.ledger,
            ids.len()
        ))),
    }
}

fn key_of(arg: Option<&str>) -> Result<Option<Invite>, Fail> {
    arg.map(invite::load).transpose()
}

fn emit(text: &[u8], out: Option<&PathBuf>) -> Result<(), Fail> {
    match out {
        Some(p) => std::fs::write(p, text).map_err(|e| Fail::Io(format!("{}: {e}", p.display()))),
        None => {
            let mut o = std::io::stdout().lock();
            match o.write_all(text).and_then(|_| o.flush()) {
                // the reader went away (`| head`): what it wanted it has
                Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
                r => r.map_err(|e| Fail::Io(format!("stdout: {e}"))),
            }
        }
    }
}

async fn run(cmd: Cmd) -> Result<i32, Fail> {
    match cmd {
        Cmd::Inspect { src, key_from } => {
            let inv = key_of(key_from.as_deref())?;
            let key = inv.as_ref().map(|i| &i.key);
            let mut out = String::new();
            if let Some(car) = &src.car {
                out = carfile::inspect(car, key).await?;
            } else if let Some(store) = &src.store {
                let s = StoreDir::open(store)?;
                let ls = ledgers(&s, src.ledger.as_deref(), inv.as_ref())?;
                if ls.is_empty() {
                    out.push_str("no ledgers\n");
                }
                for l in &ls {
                    if let Err(f) = inspect::ledger(l, key, &mut out).await {
                        emit(out.as_bytes(), None)?;
                        return Err(f);
                    }
                }
            }
            emit(out.as_bytes(), None).map(|_| 0)
        }
        Cmd::Verify { src, key_from, all } => {
            let inv = key_of(key_from.as_deref())?;
            let key = inv.as_ref().map(|i| &i.key);
            let mut p = verify::Problems {
                all,
                list: Vec::new(),
            };
            let mut lines = Vec::new();
            if let Some(car) = &src.car {
                let (summary, problems) = carfile::verify(car, key).await?;
                lines.push(summary);
                p.list = problems;
            } else if let Some(store) = &src.store {
                let s = StoreDir::open(store)?;
                for l in ledgers(&s, src.ledger.as_deref(), inv.as_ref())? {
                    lines.push(verify::ledger(&l, key, &mut p).await?);
                    if p.stop() {
                        break;
                    }
                }
            }
            if p.list.is_empty() {
                let text: String = lines.iter().map(|l| format!("{l}\n")).collect();
                return emit(text.as_bytes(), None).map(|_| 0);
            }
            let shown = if all { p.list.len() } else { 1 };
            for problem in &p.list[..shown] {
                eprintln!("ferroproof: problem: {problem}");
            }
            Ok(PROBLEMS)
        }
        Cmd::Export {
            src,
            key_from,
            format,
            out,
        } => {
            let inv = key_of(key_from.as_deref())?;
            let (name, rows) = match (&src.store, &src.car, &inv) {
                (_, Some(car), _) => {
                    let rows = carfile::archive_rows(car, inv.as_ref().map(|i| &i.key)).await?;
                    let file = car.file_name().unwrap_or_default();
                    (file.to_string_lossy().into_owned(), rows)
                }
                (Some(store), _, Some(inv)) => {
                    let s = StoreDir::open(store)?;
                    let l = ledgers(&s, src.ledger.as_deref(), Some(inv))?.remove(0);
                    (l.id.clone(), export::rows(&l, &inv.key).await?)
                }
                _ => return Err(Fail::Usage("export of a store needs --key-from".into())),
            };
            let bytes = match format {
                Format::Jsonl => export::jsonl(&rows)?,
                Format::Car => export::car(&name, &rows)?,
            };
            emit(&bytes, out.as_ref()).map(|_| 0)
        }
    }
}

fn main() {
    std::panic::set_hook(Box::new(|info| {
        let msg = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_default();
        eprintln!(
            "ferroproof: internal error (a bug): {}",
            msg.replace('\n', " ")
        );
        std::process::exit(7);
    }));
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            std::process::exit(if e.use_stderr() { fail::USAGE } else { 0 });
        }
    };
    let code = match futures::executor::block_on(run(cli.cmd)) {
        Ok(code) => code,
        Err(f) => {
            eprintln!("ferroproof: error: {}", f.message());
            f.code()
        }
    };
    std::process::exit(code);
}
