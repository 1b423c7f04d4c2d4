//! Inline SVG charts for the validation report: line and point charts on linear axes, filled
//! bands, vertical error bars, histograms and a forest plot.
//!
//! Why not a plotting crate: plotters lays text out with font metrics from system fonts (or a
//! bundled font feature), which ties the output bytes to the machine; these charts only need
//! lines, dots and `<text>` placed on a fixed grid, written with fixed decimal formatting so the
//! same numbers always give the same bytes. Never: scripts, external references, or fonts.

use std::fmt::Write as _;

/// Plot area margins in pixels (left, right, top, bottom).
const MARGIN: (f64, f64, f64, f64) = (64.0, 16.0, 34.0, 48.0);

/// Colours of series, in order (colour-blind-safe palette).
pub const PALETTE: [&str; 6] = [
    "#0072b2", "#d55e00", "#009e73", "#cc79a7", "#e69f00", "#56b4e9",
];

/// Escapes text for XML.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

/// A coordinate, rounded to 0.01 px: fixed formatting keeps output bytes stable.
fn px(value: f64) -> String {
    format!("{value:.2}")
}

/// A tick label: as few decimals as the step needs.
fn tick_label(value: f64, step: f64) -> String {
    let decimals = if step >= 1.0 {
        0
    } else {
        (-step.log10().floor()) as usize
    };
    format!("{value:.decimals$}")
}

/// Tick positions covering `[min, max]` at a 1-2-5 step giving about `target` ticks.
pub fn ticks(min: f64, max: f64, target: usize) -> (Vec<f64>, f64) {
    let span = (max - min).abs().max(f64::MIN_POSITIVE);
    let raw = span / target.max(1) as f64;
    let magnitude = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0]
        .iter()
        .map(|m| m * magnitude)
        .find(|&s| s >= raw)
        .unwrap_or(10.0 * magnitude);
    let first = (min / step).ceil() as i64;
    let last = (max / step).floor() as i64;
    let values = (first..=last).map(|k| k as f64 * step).collect();
    (values, step)
}

/// A dot `(x, y)` with an optional vertical error bar `(low, high)`.
pub type Dot = (f64, f64, Option<(f64, f64)>);

/// One linear axis.
#[derive(Debug, Clone)]
pub struct Axis {
    /// Title under (x) or beside (y) the axis.
    pub label: String,
    /// Lowest value shown.
    pub min: f64,
    /// Highest value shown.
    pub max: f64,
}

impl Axis {
    /// An axis from `min` to `max`.
    pub fn new(label: &str, min: f64, max: f64) -> Self {
        let max = if max > min { max } else { min + 1.0 };
        Axis {
            label: label.into(),
            min,
            max,
        }
    }
}

/// A chart being drawn: axes, then layers in the order they are added.
#[derive(Debug, Clone)]
pub struct Chart {
    width: f64,
    height: f64,
    title: String,
    x: Axis,
    y: Axis,
    layers: String,
    legend: Vec<(String, String, bool)>,
    legend_low: bool,
}

impl Chart {
    /// An empty chart of `width` x `height` pixels.
    pub fn new(title: &str, width: f64, height: f64, x: Axis, y: Axis) -> Self {
        Chart {
            width,
            height,
            title: title.into(),
            x,
            y,
            layers: String::new(),
            legend: Vec::new(),
            legend_low: false,
        }
    }

    /// Puts the legend in the bottom-right corner (where ROC and calibration curves leave
    /// room) instead of the top-right.
    pub fn legend_bottom_right(&mut self) {
        self.legend_low = true;
    }

    fn sx(&self, x: f64) -> f64 {
        let (left, right, _, _) = MARGIN;
        let t = (x.clamp(self.x.min, self.x.max) - self.x.min) / (self.x.max - self.x.min);
        left + t * (self.width - left - right)
    }

    fn sy(&self, y: f64) -> f64 {
        let (_, _, top, bottom) = MARGIN;
        let t = (y.clamp(self.y.min, self.y.max) - self.y.min) / (self.y.max - self.y.min);
        self.height - bottom - t * (self.height - top - bottom)
    }

    fn path(&self, points: &[(f64, f64)]) -> String {
        let mut d = String::new();
        for (i, &(x, y)) in points
            .iter()
            .filter(|(x, y)| x.is_finite() && y.is_finite())
            .enumerate()
        {
            let _ = write!(
                d,
                "{}{},{}",
                if i == 0 { "M" } else { " L" },
                px(self.sx(x)),
                px(self.sy(y))
            );
        }
        d
    }

    /// A polyline through `points` (non-finite points are skipped), named in the legend.
    pub fn line(&mut self, points: &[(f64, f64)], colour: &str, dashed: bool, name: &str) {
        let dash = if dashed {
            " stroke-dasharray=\"6 4\""
        } else {
            ""
        };
        let _ = writeln!(
            self.layers,
            "<path class=\"series\" d=\"{}\" fill=\"none\" stroke=\"{colour}\" stroke-width=\"2\"{dash}/>",
            self.path(points)
        );
        if !name.is_empty() {
            self.legend.push((name.into(), colour.into(), dashed));
        }
    }

    /// A filled band between `lower` and `upper` (same x values).
    pub fn band(&mut self, lower: &[(f64, f64)], upper: &[(f64, f64)], colour: &str) {
        let mut outline: Vec<(f64, f64)> = upper.to_vec();
        outline.extend(lower.iter().rev());
        let _ = writeln!(
            self.layers,
            "<path class=\"band\" d=\"{} Z\" fill=\"{colour}\" fill-opacity=\"0.18\" stroke=\"none\"/>",
            self.path(&outline)
        );
    }

    /// Dots with optional vertical error bars `(x, y, low, high)`.
    pub fn points(&mut self, points: &[Dot], colour: &str, name: &str) {
        for &(x, y, bar) in points {
            if !(x.is_finite() && y.is_finite()) {
                continue;
            }
            if let Some((low, high)) = bar {
                let _ = writeln!(
                    self.layers,
                    "<line x1=\"{0}\" x2=\"{0}\" y1=\"{1}\" y2=\"{2}\" stroke=\"{colour}\" stroke-width=\"1.2\"/>",
                    px(self.sx(x)),
                    px(self.sy(low)),
                    px(self.sy(high))
                );
            }
            let _ = writeln!(
                self.layers,
                "<circle class=\"point\" cx=\"{}\" cy=\"{}\" r=\"3.5\" fill=\"{colour}\"/>",
                px(self.sx(x)),
                px(self.sy(y))
            );
        }
        if !name.is_empty() {
            self.legend.push((name.into(), colour.into(), false));
        }
    }

    /// Bars from y = 0 for bins `(left, right, height)`.
    pub fn bars(&mut self, bins: &[(f64, f64, f64)], colour: &str, name: &str) {
        for &(left, right, height) in bins {
            let (x0, x1) = (self.sx(left), self.sx(right));
            let (y0, y1) = (self.sy(0.0), self.sy(height));
            let _ = writeln!(
                self.layers,
                "<rect class=\"bar\" x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"{colour}\" fill-opacity=\"0.55\"/>",
                px(x0),
                px(y1.min(y0)),
                px((x1 - x0).max(0.0)),
                px((y0 - y1).abs())
            );
        }
        if !name.is_empty() {
            self.legend.push((name.into(), colour.into(), false));
        }
    }

    /// The finished `<svg>` element.
    pub fn render(&self) -> String {
        let (left, right, top, bottom) = MARGIN;
        let (w, h) = (self.width, self.height);
        let mut out = String::new();
        let _ = writeln!(
            out,
            "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"chart\" width=\"{0}\" height=\"{1}\" viewBox=\"0 0 {0} {1}\" role=\"img\" aria-label=\"{2}\">",
            px(w),
            px(h),
            escape(&self.title)
        );
        let _ = writeln!(
            out,
            "<text x=\"{}\" y=\"20\" font-size=\"14\" font-weight=\"bold\">{}</text>",
            px(left),
            escape(&self.title)
        );
        // Grid and tick labels.
        let (x_ticks, x_step) = ticks(self.x.min, self.x.max, 6);
        for &t in &x_ticks {
            let x = px(self.sx(t));
            let _ = writeln!(
                out,
                "<line x1=\"{x}\" x2=\"{x}\" y1=\"{}\" y2=\"{}\" stroke=\"#ddd\"/><text x=\"{x}\" y=\"{}\" font-size=\"11\" text-anchor=\"middle\">{}</text>",
                px(top),
                px(h - bottom),
                px(h - bottom + 15.0),
                tick_label(t, x_step)
            );
        }
        let (y_ticks, y_step) = ticks(self.y.min, self.y.max, 5);
        for &t in &y_ticks {
            let y = px(self.sy(t));
            let _ = writeln!(
                out,
                "<line x1=\"{}\" x2=\"{}\" y1=\"{y}\" y2=\"{y}\" stroke=\"#ddd\"/><text x=\"{}\" y=\"{y}\" font-size=\"11\" text-anchor=\"end\" dominant-baseline=\"middle\">{}</text>",
                px(left),
                px(w - right),
                px(left - 6.0),
                tick_label(t, y_step)
            );
        }
        let _ = writeln!(
            out,
            "<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"none\" stroke=\"#444\"/>",
            px(left),
            px(top),
            px(w - left - right),
            px(h - top - bottom)
        );
        let _ = writeln!(
            out,
            "<text x=\"{}\" y=\"{}\" font-size=\"12\" text-anchor=\"middle\">{}</text>",
            px(left + (w - left - right) / 2.0),
            px(h - 10.0),
            escape(&self.x.label)
        );
        let _ = writeln!(
            out,
            "<text transform=\"translate(14 {}) rotate(-90)\" font-size=\"12\" text-anchor=\"middle\">{}</text>",
            px(top + (h - top - bottom) / 2.0),
            escape(&self.y.label)
        );
        out.push_str(&self.layers);
        let n_entries = self.legend.len() as f64;
        for (i, (name, colour, dashed)) in self.legend.iter().enumerate() {
            let y = if self.legend_low {
                h - bottom - 12.0 - 16.0 * (n_entries - 1.0 - i as f64)
            } else {
                top + 12.0 + 16.0 * i as f64
            };
            let x = w - right - 170.0;
            let dash = if *dashed {
                " stroke-dasharray=\"6 4\""
            } else {
                ""
            };
            let _ = writeln!(
                out,
                "<line x1=\"{}\" x2=\"{}\" y1=\"{y}\" y2=\"{y}\" stroke=\"{colour}\" stroke-width=\"3\"{dash}/><text x=\"{}\" y=\"{y}\" font-size=\"11\" dominant-baseline=\"middle\">{}</text>",
                px(x),
                px(x + 20.0),
                px(x + 26.0),
                escape(name)
            );
        }
        out.push_str("</svg>\n");
        out
    }
}

/// One row of a forest plot: a label, and an estimate with its interval, or a note saying
/// why there is none.
#[derive(Debug, Clone)]
pub struct ForestRow {
    /// Row label.
    pub label: String,
    /// `(estimate, low, high)`, or `None`.
    pub estimate: Option<(f64, f64, f64)>,
    /// Text shown at the right (e.g. "n 812, 31 events" or "too few events").
    pub note: String,
}

/// A horizontal forest plot of `rows` on an x axis from `min` to `max`, with a vertical
/// reference line at `reference`.
pub fn forest_plot(
    title: &str,
    axis_label: &str,
    rows: &[ForestRow],
    (min, max): (f64, f64),
    reference: Option<f64>,
) -> String {
    let (label_width, note_width, row_height, top, bottom) = (170.0, 190.0, 22.0, 34.0, 44.0);
    let plot_width = 360.0;
    let width = label_width + plot_width + note_width;
    let height = top + bottom + row_height * rows.len().max(1) as f64;
    let sx = |x: f64| label_width + (x.clamp(min, max) - min) / (max - min) * plot_width;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"chart\" width=\"{0}\" height=\"{1}\" viewBox=\"0 0 {0} {1}\" role=\"img\" aria-label=\"{2}\">",
        px(width),
        px(height),
        escape(title)
    );
    let _ = writeln!(
        out,
        "<text x=\"8\" y=\"20\" font-size=\"14\" font-weight=\"bold\">{}</text>",
        escape(title)
    );
    let (x_ticks, step) = ticks(min, max, 5);
    for &t in &x_ticks {
        let x = px(sx(t));
        let _ = writeln!(
            out,
            "<line x1=\"{x}\" x2=\"{x}\" y1=\"{}\" y2=\"{}\" stroke=\"#ddd\"/><text x=\"{x}\" y=\"{}\" font-size=\"11\" text-anchor=\"middle\">{}</text>",
            px(top),
            px(height - bottom),
            px(height - bottom + 15.0),
            tick_label(t, step)
        );
    }
    if let Some(r) = reference {
        let x = px(sx(r));
        let _ = writeln!(
            out,
            "<line x1=\"{x}\" x2=\"{x}\" y1=\"{}\" y2=\"{}\" stroke=\"#444\" stroke-dasharray=\"4 3\"/>",
            px(top),
            px(height - bottom)
        );
    }
    for (i, row) in rows.iter().enumerate() {
        let y = top + row_height * (i as f64 + 0.5);
        let _ = writeln!(
            out,
            "<text x=\"8\" y=\"{}\" font-size=\"12\" dominant-baseline=\"middle\">{}</text>",
            px(y),
            escape(&row.label)
        );
        if let Some((estimate, low, high)) = row.estimate {
            let _ = writeln!(
                out,
                "<line x1=\"{}\" x2=\"{}\" y1=\"{2}\" y2=\"{2}\" stroke=\"{3}\" stroke-width=\"1.5\"/><rect class=\"point\" x=\"{4}\" y=\"{5}\" width=\"8\" height=\"8\" fill=\"{3}\"/>",
                px(sx(low)),
                px(sx(high)),
                px(y),
                PALETTE[0],
                px(sx(estimate) - 4.0),
                px(y - 4.0)
            );
        }
        let _ = writeln!(
            out,
            "<text x=\"{}\" y=\"{}\" font-size=\"11\" dominant-baseline=\"middle\">{}</text>",
            px(label_width + plot_width + 10.0),
            px(y),
            escape(&row.note)
        );
    }
    let _ = writeln!(
        out,
        "<text x=\"{}\" y=\"{}\" font-size=\"12\" text-anchor=\"middle\">{}</text>",
        px(label_width + plot_width / 2.0),
        px(height - 10.0),
        escape(axis_label)
    );
    out.push_str("</svg>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_use_round_steps_inside_the_range() {
        let (values, step) = ticks(0.0, 1.0, 5);
        assert_eq!(step, 0.2);
        assert_eq!(values.len(), 6);
        assert_eq!(tick_label(values[1], step), "0.2");
        let (values, step) = ticks(-0.03, 0.12, 6);
        assert_eq!(step, 0.05);
        assert_eq!(values.first().copied(), Some(0.0));
    }

    #[test]
    fn charts_escape_text_and_render_identically() {
        let draw = || {
            let mut chart = Chart::new(
                "ROC <test> & co",
                400.0,
                300.0,
                Axis::new("x", 0.0, 1.0),
                Axis::new("y", 0.0, 1.0),
            );
            chart.line(
                &[(0.0, 0.0), (0.5, 0.7), (1.0, 1.0)],
                PALETTE[0],
                false,
                "model",
            );
            chart.points(&[(0.2, 0.3, Some((0.1, 0.4)))], PALETTE[1], "groups");
            chart.render()
        };
        let svg = draw();
        assert_eq!(svg, draw());
        assert!(svg.contains("ROC &lt;test&gt; &amp; co"));
        assert!(svg.contains("<path class=\"series\" d=\"M64.00,"));
        assert_eq!(svg.matches("<circle").count(), 1);
    }

    #[test]
    fn forest_plot_keeps_rows_without_an_estimate() {
        let rows = [
            ForestRow {
                label: "female".into(),
                estimate: Some((0.8, 0.75, 0.85)),
                note: "n 10".into(),
            },
            ForestRow {
                label: "tiny group".into(),
                estimate: None,
                note: "too few events".into(),
            },
        ];
        let svg = forest_plot("AUC by subgroup", "AUC", &rows, (0.5, 1.0), Some(0.8));
        assert!(svg.contains("tiny group"));
        assert!(svg.contains("too few events"));
        assert_eq!(svg.matches("class=\"point\"").count(), 1);
    }
}
