//! Scoring CSV files with a compiled model: columns are matched to the model's features by
//! name, every row goes through the engine exactly as on a device, and results are written as
//! CSV (decimal, or exact f32 bit patterns).

use std::io::{Read, Write};

use lockstep_engine::format::Objective;
use lockstep_engine::Model;

/// How `predict_csv` writes values.
#[derive(Debug, Clone, Copy, Default)]
pub struct PredictOptions {
    /// Write each value as the 8 lowercase hex digits of its f32 bit pattern.
    pub bits: bool,
    /// Read `inf`, `-inf` and decimals too large for an f32 as infinities instead of refusing
    /// them (conformance vectors from a framework, never measurements).
    pub allow_infinite: bool,
}

/// What `predict_csv` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PredictReport {
    /// Rows scored.
    pub rows: usize,
}

/// Why a CSV could not be scored. Line numbers count the header as line 1.
#[derive(Debug, thiserror::Error)]
pub enum PredictError {
    /// The input has no header line.
    #[error("the input is empty; expected a header line naming the feature columns")]
    NoHeader,
    /// A feature the model needs has no column.
    #[error("missing feature column '{name}' (the model needs: {needed})")]
    MissingColumn {
        /// The feature's name.
        name: String,
        /// All feature names, comma-separated.
        needed: String,
    },
    /// Two columns carry the same feature name.
    #[error("column '{name}' appears more than once in the header")]
    DuplicateColumn {
        /// The repeated name.
        name: String,
    },
    /// A cell is not a finite number.
    #[error("line {line}, column '{column}': '{value}' is not a finite number (use an empty cell, NA or NaN for missing)")]
    BadCell {
        /// 1-based line number.
        line: u64,
        /// Column name.
        column: String,
        /// The cell's text.
        value: String,
    },
    /// A row has fewer cells than the header.
    #[error("line {line}: {found} cells, but the header has {expected}")]
    RaggedRow {
        /// 1-based line number.
        line: u64,
        /// Header width.
        expected: usize,
        /// This row's width.
        found: usize,
    },
    /// The CSV reader failed.
    #[error("reading the CSV")]
    Csv(#[from] csv::Error),
    /// Opening the input failed.
    #[error("opening the input")]
    Open(#[source] std::io::Error),
    /// Writing the output failed.
    #[error("writing the scores")]
    Io(#[from] std::io::Error),
    /// The engine refused a row (cannot happen for a well-formed row of a loaded model).
    #[error("scoring a row")]
    Engine(#[from] lockstep_engine::Error),
}

/// The output column names for `model`: `margin` and `prob` for every classifier (a forest's
/// probability included), `margin` and `value` for a regression, with `_k` suffixes when the
/// model has several outputs.
pub fn output_columns(model: &Model<'_>) -> Vec<String> {
    let transformed = match model.objective() {
        Objective::Regression => "value",
        Objective::BinaryLogistic
        | Objective::BinaryProbability
        | Objective::MulticlassSoftmax
        | Objective::MulticlassOneVsRest => "prob",
    };
    let n = model.n_outputs();
    let names = |stem: &str| -> Vec<String> {
        if n == 1 {
            vec![stem.to_string()]
        } else {
            (0..n).map(|k| format!("{stem}_{k}")).collect()
        }
    };
    let mut columns = names("margin");
    columns.extend(names(transformed));
    columns
}

/// Parses one cell: a missing cell ([`crate::data::is_missing`]: empty, `NA` or `NaN`) is NaN;
/// anything else, trimmed, must parse as a finite f32 (rounded once, directly from the decimal
/// text). Infinities (`inf`, `-Infinity`) and decimals too large for an f32 (`1e999`) are
/// refused, as the data loader behind `train` and `validate` refuses them: they are not
/// measurements.
pub fn parse_cell(text: &str) -> Option<f32> {
    parse_cell_with(text, false)
}

/// [`parse_cell`], reading infinities (`inf`, `1e999`) as such when `allow_infinite` (for
/// conformance vectors: `predict --allow-infinite`, `parity --vectors`).
pub fn parse_cell_with(text: &str, allow_infinite: bool) -> Option<f32> {
    if crate::data::is_missing(text) {
        return Some(f32::NAN);
    }
    let value = text.trim().parse::<f32>().ok()?;
    (allow_infinite || value.is_finite()).then_some(value)
}

/// Formats one value for output.
pub fn format_value(value: f32, bits: bool) -> String {
    if bits {
        format!("{:08x}", value.to_bits())
    } else {
        format!("{value:?}")
    }
}

/// Reads feature rows from a CSV with a header, matching columns to the model's features by
/// name (extra columns ignored, a missing or repeated feature column refused).
pub struct FeatureReader<R: Read> {
    records: csv::StringRecordsIntoIter<R>,
    header: Vec<String>,
    columns: Vec<usize>,
    line: u64,
    allow_infinite: bool,
}

impl<R: Read> FeatureReader<R> {
    /// Reads the header and maps the model's features to columns.
    pub fn new(model: &Model<'_>, input: R) -> Result<Self, PredictError> {
        let reader = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .from_reader(input);
        let mut records = reader.into_records();
        let header = match records.next() {
            Some(record) => record?,
            None => return Err(PredictError::NoHeader),
        };
        let header: Vec<String> = header.iter().map(|name| name.trim().to_string()).collect();
        let mut columns = Vec::with_capacity(model.n_features());
        for name in model.feature_names() {
            let mut matches = header
                .iter()
                .enumerate()
                .filter(|(_, column)| column.as_str() == name);
            match (matches.next(), matches.next()) {
                (Some((index, _)), None) => columns.push(index),
                (Some(_), Some(_)) => {
                    return Err(PredictError::DuplicateColumn {
                        name: name.to_string(),
                    })
                }
                (None, _) => {
                    return Err(PredictError::MissingColumn {
                        name: name.to_string(),
                        needed: model.feature_names().collect::<Vec<_>>().join(", "),
                    })
                }
            }
        }
        Ok(FeatureReader {
            records,
            header,
            columns,
            line: 1,
            allow_infinite: false,
        })
    }

    /// Reads infinite cells as infinities instead of refusing them (see [`parse_cell_with`]).
    pub fn allowing_infinities(mut self, allow: bool) -> Self {
        self.allow_infinite = allow;
        self
    }

    /// Fills `features` with the next row; `Ok(false)` at the end of the input.
    pub fn next_row(&mut self, features: &mut [f32]) -> Result<bool, PredictError> {
        let record = match self.records.next() {
            Some(record) => record?,
            None => return Ok(false),
        };
        self.line += 1;
        let line = self.line;
        if record.len() != self.header.len() {
            return Err(PredictError::RaggedRow {
                line,
                expected: self.header.len(),
                found: record.len(),
            });
        }
        for (slot, &column) in features.iter_mut().zip(&self.columns) {
            let text = record.get(column).unwrap_or("");
            *slot = parse_cell_with(text, self.allow_infinite).ok_or_else(|| {
                PredictError::BadCell {
                    line,
                    column: crate::text::shown(&self.header[column]).to_string(),
                    value: crate::text::shown(text).to_string(),
                }
            })?;
        }
        Ok(true)
    }
}

/// Reads every row of a feature CSV (see [`FeatureReader`]).
pub fn read_feature_rows<R: Read>(
    model: &Model<'_>,
    input: R,
) -> Result<Vec<Vec<f32>>, PredictError> {
    read_feature_rows_with(model, input, false)
}

/// [`read_feature_rows`], reading infinite cells as infinities when `allow_infinite`.
pub fn read_feature_rows_with<R: Read>(
    model: &Model<'_>,
    input: R,
    allow_infinite: bool,
) -> Result<Vec<Vec<f32>>, PredictError> {
    let mut reader = FeatureReader::new(model, input)?.allowing_infinities(allow_infinite);
    let mut rows = Vec::new();
    let mut features = vec![0.0f32; model.n_features()];
    while reader.next_row(&mut features)? {
        rows.push(features.clone());
    }
    Ok(rows)
}

/// A failed write of the CSV writer: its I/O cause as [`PredictError::Io`] (so a full disk is
/// reported as a failed write), anything else as [`PredictError::Csv`].
fn write_failure(error: csv::Error) -> PredictError {
    if !error.is_io_error() {
        return PredictError::Csv(error);
    }
    match error.into_kind() {
        csv::ErrorKind::Io(cause) => PredictError::Io(cause),
        // `is_io_error` said it is one.
        _ => PredictError::Io(std::io::Error::other("the CSV writer failed")),
    }
}

/// Scores every row of `input` and writes one output row per input row to `output`.
pub fn predict_csv<R: Read, W: Write>(
    model: &Model<'_>,
    input: R,
    output: W,
    options: PredictOptions,
) -> Result<PredictReport, PredictError> {
    let mut reader = FeatureReader::new(model, input)?.allowing_infinities(options.allow_infinite);
    let mut writer = csv::WriterBuilder::new().from_writer(output);
    writer
        .write_record(output_columns(model))
        .map_err(write_failure)?;
    let n_outputs = model.n_outputs();
    let mut features = vec![0.0f32; model.n_features()];
    let mut margins = vec![0.0f32; n_outputs];
    let mut outputs = vec![0.0f32; n_outputs];
    let mut row_out: Vec<String> = Vec::with_capacity(2 * n_outputs);
    let mut rows = 0;
    while reader.next_row(&mut features)? {
        model.predict(&features, &mut margins, &mut outputs)?;
        row_out.clear();
        row_out.extend(
            margins
                .iter()
                .chain(&outputs)
                .map(|&v| format_value(v, options.bits)),
        );
        writer.write_record(&row_out).map_err(write_failure)?;
        rows += 1;
    }
    writer.flush()?;
    Ok(PredictReport { rows })
}
