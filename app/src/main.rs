//! The `sprechtag` binary: the desktop app, or the CLI when given a command.

use clap::Parser;
use sprechtag::cli::{self, Cli};

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let data_dir = cli.data_dir.clone();
    let mut stdout = std::io::stdout().lock();
    match cli::run(cli, &mut stdout) {
        Ok(None) => std::process::ExitCode::SUCCESS,
        Ok(Some(gui)) => {
            drop(stdout);
            match sprechtag::ui::run(data_dir, gui) {
                Ok(()) => std::process::ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("error: {e:#}");
                    std::process::ExitCode::FAILURE
                }
            }
        }
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
