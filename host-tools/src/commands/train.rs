//! `lockstep train`: trains a model with a progress bar, writes the model and its training
//! record (MODEL.training.json) together and atomically, and prints a summary.

use std::path::PathBuf;

use anyhow::{Context, Result};

use crate::output::{self, OutputSet};
use crate::text::{shown, shown_path};
use crate::train::config::{ModelKind, TrainConfig};
use crate::train::pipeline;

/// What `lockstep train` was asked to do.
pub struct TrainArgs {
    /// The data (CSV with a header).
    pub data: PathBuf,
    /// The schema (TOML).
    pub schema: PathBuf,
    /// Settings (TOML); without it every setting has its default.
    pub config: Option<PathBuf>,
    /// The outcome column (overrides the config).
    pub target: Option<String>,
    /// Rows that train (overrides the config).
    pub train_where: Option<String>,
    /// Where to write the compiled model; the record goes next to it.
    pub output: PathBuf,
    /// No progress bar.
    pub quiet: bool,
}

/// Trains, writes the model and its record, and prints a summary (a progress bar meanwhile
/// unless `quiet`).
pub fn run(args: TrainArgs) -> Result<()> {
    let (data, schema, output) = (&args.data, &args.schema, &args.output);
    let record_path = output.with_extension("training.json");
    let mut inputs = vec![("--data", data.as_path()), ("--schema", schema.as_path())];
    if let Some(config) = &args.config {
        inputs.push(("--config", config.as_path()));
    }
    output::refuse_overwriting_inputs(
        &inputs,
        &[
            ("-o", output.as_path()),
            ("the training record", &record_path),
        ],
    )
    .context("train")?;
    let mut config = match args.config.as_deref() {
        Some(path) => pipeline::load_config(path).context("train: reading the config")?,
        None => TrainConfig::default(),
    };
    if args.target.is_some() {
        config.target = args.target;
    }
    if args.train_where.is_some() {
        config.train_where = args.train_where;
    }
    let kind = config.kind;
    let bar = if args.quiet {
        indicatif::ProgressBar::hidden()
    } else if kind == ModelKind::Gbdt {
        indicatif::ProgressBar::new(config.gbdt.n_trees as u64)
    } else {
        // Forests and the logistic path report no rounds: a spinner shows the work is alive.
        let spinner = indicatif::ProgressBar::new_spinner();
        spinner.enable_steady_tick(std::time::Duration::from_millis(120));
        spinner.set_message(format!("training a {kind:?} model").to_lowercase());
        spinner
    };
    if kind == ModelKind::Gbdt {
        bar.set_style(
            indicatif::ProgressStyle::with_template(
                "train {bar:30} {pos}/{len} rounds {msg} ({elapsed})",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
    }
    let outcome = pipeline::train_model(data, schema, config, |round| {
        bar.set_position(round.round as u64 + 1);
        if let Some(auc) = round.valid_auc {
            bar.set_message(format!("valid AUC {auc:.4}"));
        }
    })
    .with_context(|| {
        format!(
            "train: '{}' with schema '{}'",
            shown_path(data),
            shown_path(schema)
        )
    })?;
    bar.finish_and_clear();
    let json =
        serde_json::to_string_pretty(&outcome.record).context("train: encoding the record")?;
    // The model and its record appear together or not at all.
    let mut set = OutputSet::new();
    set.bytes(output, &outcome.model).context("train")?;
    set.bytes(&record_path, (json + "\n").as_bytes())
        .context("train")?;
    set.commit().context("train")?;
    let r = &outcome.record;
    let shape = match (&r.logistic, r.best_round) {
        (Some(path), _) => format!(
            "elastic-net path of {} lambdas, {} of {} variables selected",
            path.lambdas.len(),
            r.selected_variables.len(),
            path.coefficients.len()
        ),
        (None, Some(best)) => format!("{} trees (best round {best})", r.n_trees),
        (None, None) => format!("{} trees", r.n_trees),
    };
    eprintln!(
        "trained {} in {:.3} s on {} rows ({} events), {shape}, test AUC {} on {} rows -> '{}', record '{}'",
        shown(&r.target),
        outcome.train_seconds,
        r.train.rows,
        r.train.events,
        r.test_auc.map_or("n/a".into(), |a| format!("{a:.4}")),
        r.test.rows,
        shown_path(output),
        shown_path(&record_path)
    );
    Ok(())
}
