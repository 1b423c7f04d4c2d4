//! The timing protocol `compare-timer` (timer.rs) and the code path's timer (codegen_timer.rs)
//! share, so every Lockstep figure of the peer comparison is taken the same way: the command
//! line, the rows file, the single-row median and the printed result.
//!
//! Command line: MODEL ROWS.f32 N_FEATURES SINGLE_ROWS [--outputs]. ROWS.f32 holds row-major
//! little-endian f32 features (NaN = missing). The result is one line
//! `batch_ns=<total> single_ns=<median of the per-call times>`; with `--outputs`, the batch's
//! outputs follow, one line per value, as 8 hex digits of the f32 bits.

use std::process::ExitCode;
use std::time::Instant;

/// A timer's exit: success, or `program: message` on standard error and status 1.
pub fn exit(program: &str, result: Result<(), String>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("{program}: {message}");
            ExitCode::from(1)
        }
    }
}

/// The parsed command line with the rows read.
pub struct Run {
    /// The first argument (the model file, or `-` when the model is compiled in).
    pub model: String,
    /// Every row's features, row-major.
    pub rows: Vec<f32>,
    /// Features per row.
    pub n_features: usize,
    /// How many rows are timed one call at a time.
    pub single_rows: usize,
    /// Whether the batch's outputs are printed after the result line.
    pub print_outputs: bool,
}

impl Run {
    /// Reads the command line and the rows file; `usage` names the program's first argument.
    pub fn from_args(usage: &str) -> Result<Run, String> {
        let args: Vec<String> = std::env::args().skip(1).collect();
        let (model, rows_path, n_features, single_rows, print_outputs) = match args.as_slice() {
            [m, r, f, s] => (m, r, f, s, false),
            [m, r, f, s, o] if o == "--outputs" => (m, r, f, s, true),
            _ => {
                return Err(format!(
                    "usage: {usage} ROWS.f32 N_FEATURES SINGLE_ROWS [--outputs]"
                ))
            }
        };
        let n_features: usize = n_features
            .parse()
            .map_err(|_| format!("N_FEATURES '{n_features}' is not a number"))?;
        let single_rows: usize = single_rows
            .parse()
            .map_err(|_| format!("SINGLE_ROWS '{single_rows}' is not a number"))?;
        let raw = std::fs::read(rows_path).map_err(|e| format!("{rows_path}: {e}"))?;
        let rows: Vec<f32> = raw
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect();
        if n_features == 0 || raw.len() % 4 != 0 || !rows.len().is_multiple_of(n_features) {
            return Err(format!(
                "{rows_path}: {} bytes do not make rows of {n_features} f32",
                raw.len()
            ));
        }
        Ok(Run {
            model: model.clone(),
            rows,
            n_features,
            single_rows,
            print_outputs,
        })
    }

    /// The first `single_rows` rows, each given to `call` and timed on its own; the median.
    pub fn time_single_rows(
        &self,
        mut call: impl FnMut(&[f32]) -> Result<(), String>,
    ) -> Result<u128, String> {
        let mut times = Vec::with_capacity(self.single_rows);
        for row in self
            .rows
            .chunks_exact(self.n_features)
            .take(self.single_rows)
        {
            let start = Instant::now();
            call(std::hint::black_box(row))?;
            times.push(start.elapsed().as_nanos());
        }
        times.sort_unstable();
        Ok(times.get(times.len() / 2).copied().unwrap_or(0))
    }

    /// Prints the result line, then the outputs' bits when asked for.
    pub fn report(&self, batch_ns: u128, single_ns: u128, outputs: &[f32]) {
        println!("batch_ns={batch_ns} single_ns={single_ns}");
        if self.print_outputs {
            let mut text = String::with_capacity(outputs.len() * 9);
            for value in outputs {
                text.push_str(&format!("{:08x}\n", value.to_bits()));
            }
            print!("{text}");
        }
    }
}
