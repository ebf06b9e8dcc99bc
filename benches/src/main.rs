//! `layerdig-bench`: measure layerdig on real images.
//!
//! - `compare IMAGE [--runs N] [--json]`: layerdig against the inflate floor, `pigz`/`gzip`
//!   and other secret scanners on `PATH`: median wall time, peak RSS, MB/s.
//! - `generate OUTDIR [--size 1G] [--format oci|docker|both] [--big-file 2G] [--tiny-files N]`:
//!   large bench images made from software on this machine, with planted secrets.

mod blobs;
mod compare;
mod generate;
mod measure;
mod rootfs;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "layerdig-bench", about = "Measure layerdig on real images")]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Time layerdig against the floor of inflating the image, pigz/gzip, and peers on PATH.
    Compare {
        /// Image: docker save tar, oci-archive tar, OCI layout or docker save directory.
        image: PathBuf,
        /// Timed runs per tool (the median is reported, with min and max).
        #[arg(long, default_value_t = 5)]
        runs: usize,
        /// The layerdig binary [default: next to this one, else on PATH].
        #[arg(long, value_name = "PATH")]
        layerdig: Option<PathBuf>,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Write large bench images built from software on this machine, with planted secrets.
    Generate {
        /// Directory for the archives (outside the repository: they are large).
        out_dir: PathBuf,
        /// Target uncompressed size of the image, e.g. 1G or 4G (0: only the extra layers).
        #[arg(long, default_value = "1G", value_parser = generate::parse_size)]
        size: u64,
        /// Archives to write: oci-archive with gzip layers, docker save with plain layers, or both.
        #[arg(long, value_enum, default_value_t = generate::Format::Both)]
        format: generate::Format,
        /// Add a layer holding one file of this size (mixed text), e.g. 2G.
        #[arg(long, default_value = "0", value_parser = generate::parse_size)]
        big_file: u64,
        /// Add a layer of this many tiny node_modules-like files.
        #[arg(long, default_value_t = 0)]
        tiny_files: usize,
        /// Add a layer of every jar, war and wheel on this machine (and one planted jar).
        #[arg(long)]
        archives: bool,
        /// Base name of the archives [default: from the options, e.g. bench-1g].
        #[arg(long)]
        name: Option<String>,
    },
}

fn main() -> ExitCode {
    let args: Vec<_> = std::env::args_os().collect();
    if args.get(1).is_some_and(|a| a == measure::HELPER) {
        return match measure::helper_main(&args[2..]) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("layerdig-bench: {e:#}");
                ExitCode::from(2)
            }
        };
    }
    let cli = Cli::parse();
    let result = match cli.command {
        Cmd::Compare { image, runs, layerdig, json } => compare::run(&compare::Options { image, runs, layerdig, json }),
        Cmd::Generate { out_dir, size, format, big_file, tiny_files, archives, name } => {
            generate::check_out_dir(&out_dir).and_then(|()| {
                let opts = generate::Options { out_dir, size, format, big_file, tiny_files, archives, name };
                for path in generate::run(&opts)? {
                    println!("{}", path.display());
                }
                Ok(())
            })
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("layerdig-bench: {e:#}");
            ExitCode::from(2)
        }
    }
}
