//! `berth`: Amazon ECR on your own machine. See README.md.

use berth_server::config::{Cli, Command, LogFormat};
use clap::Parser;
use std::process::ExitCode;

/// Large buffers (request bodies, manifests, 4 MiB write blocks) go back to the system when
/// freed: glibc otherwise raises its mmap threshold after the first large free and keeps
/// later ones in its heap, so RSS would stay at the high-water mark of the busiest moment.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn return_large_buffers_to_the_system() {
    // SAFETY: mallopt only sets an allocator parameter; it is called before any thread
    // starts, as glibc asks.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 2 * 1024 * 1024);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn return_large_buffers_to_the_system() {}

/// Each connection is a file descriptor: the soft limit (often 1,024) goes up to the hard
/// one, so that `--max-connections` and not the descriptor table decides.
#[cfg(unix)]
fn raise_open_file_limit() {
    let mut limit = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: getrlimit/setrlimit read and write the struct we own.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) == 0 && limit.rlim_cur < limit.rlim_max
        {
            limit.rlim_cur = limit.rlim_max;
            libc::setrlimit(libc::RLIMIT_NOFILE, &limit);
        }
    }
}

#[cfg(not(unix))]
fn raise_open_file_limit() {}

fn main() -> ExitCode {
    return_large_buffers_to_the_system();
    raise_open_file_limit();
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    if let Some(file) = berth_server::config_file::named(&args) {
        if let Err(e) = berth_server::config_file::apply(&file) {
            eprintln!("berth: {e}");
            return ExitCode::from(2);
        }
    }
    let cli = Cli::parse_from(args);
    let filter = tracing_subscriber::EnvFilter::try_from_env("BERTH_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let logs = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    match cli.log_format {
        LogFormat::Json => logs.json().init(),
        LogFormat::Text => logs.init(),
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("berth: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let options = match cli.command {
        Some(Command::Completions { shell }) => {
            use clap::CommandFactory;
            clap_complete::generate(shell, &mut Cli::command(), "berth", &mut std::io::stdout());
            return ExitCode::SUCCESS;
        }
        Some(Command::Certs(berth_server::config::CertsCommand::Init { dir, regions })) => {
            let regions = if regions.is_empty() {
                berth_server::tls::DEFAULT_REGIONS.map(String::from).to_vec()
            } else {
                regions
            };
            return match berth_server::tls::init(&dir, &regions) {
                Ok(files) => {
                    print!("{}", berth_server::tls::instructions(&files, &regions));
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("berth certs init: {e}");
                    ExitCode::FAILURE
                }
            };
        }
        Some(Command::Export { data_dir, out }) => {
            return match runtime.block_on(berth_server::backup::export(&data_dir, &out)) {
                Ok(moved) => {
                    println!(
                        "exported {} blobs ({} bytes) and the metadata of {} to {}",
                        moved.blobs,
                        moved.bytes,
                        data_dir.display(),
                        out.display()
                    );
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("berth export: {e:#}");
                    ExitCode::FAILURE
                }
            };
        }
        Some(Command::Import { data_dir, archive }) => {
            return match berth_server::backup::import(&archive, &data_dir) {
                Ok(moved) => {
                    println!(
                        "imported {} blobs ({} bytes, every digest verified) into {}",
                        moved.blobs,
                        moved.bytes,
                        data_dir.display()
                    );
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("berth import: {e:#}");
                    ExitCode::FAILURE
                }
            };
        }
        Some(Command::Man) => {
            use clap::CommandFactory;
            let page = clap_mangen::Man::new(Cli::command());
            return match page.render(&mut std::io::stdout()) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("berth man: {e}");
                    ExitCode::FAILURE
                }
            };
        }
        Some(Command::Gc { data_dir, grace }) => {
            return match runtime.block_on(berth_server::gc(&data_dir, grace)) {
                Ok(report) => {
                    println!(
                        "deleted {} unreferenced blobs ({} bytes) and {} leftovers",
                        report.blobs_deleted, report.bytes_freed, report.leftovers_deleted
                    );
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("berth gc: {e:#}");
                    ExitCode::FAILURE
                }
            };
        }
        Some(Command::Fsck(check)) => {
            // 0: clean; 1: something is wrong; 2: the check itself could not run.
            return match runtime.block_on(berth_server::fsck(&check)) {
                Ok(true) => ExitCode::SUCCESS,
                Ok(false) => ExitCode::from(1),
                Err(e) => {
                    eprintln!("berth fsck: {e:#}");
                    ExitCode::from(2)
                }
            };
        }
        Some(Command::Serve(options)) => *options,
        None => cli.serve,
    };
    match runtime.block_on(berth_server::serve(options)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("berth: {e:#}");
            ExitCode::FAILURE
        }
    }
}
