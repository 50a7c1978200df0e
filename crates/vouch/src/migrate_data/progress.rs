//! Progress: one bar per table on a terminal, otherwise one line per table.

use std::io::IsTerminal;
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

pub enum Progress {
    Bars {
        bars: Vec<ProgressBar>,
        width: usize,
    },
    Lines(Vec<(&'static str, u64)>),
}

fn style(template: &str) -> ProgressStyle {
    ProgressStyle::with_template(template)
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ")
}

impl Progress {
    /// Bars when asked for and stderr is a terminal; lines otherwise.
    pub fn new(bars: bool, tables: &[(&'static str, u64)]) -> Self {
        if !bars || !std::io::stderr().is_terminal() {
            return Progress::Lines(tables.to_vec());
        }
        let multi = MultiProgress::with_draw_target(ProgressDrawTarget::stderr());
        let width = tables.iter().map(|(n, _)| n.len()).max().unwrap_or(0);
        let waiting = style(&format!(
            "{{prefix:>{width}}} {{bar:16}} {{pos:>8}}/{{len:<8}} waiting"
        ));
        let bars = tables
            .iter()
            .map(|(name, total)| {
                let bar = multi.add(ProgressBar::new(*total));
                bar.set_style(waiting.clone());
                bar.set_prefix(*name);
                bar
            })
            .collect();
        Progress::Bars { bars, width }
    }

    pub fn start(&self, table: usize) {
        if let Progress::Bars { bars, width } = self {
            let bar = &bars[table];
            bar.set_style(style(&format!(
                "{{prefix:>{width}.bold}} {{bar:16.cyan/blue}} {{pos:>8}}/{{len:<8}} {{per_sec:>13}} {{elapsed:>4}}"
            )));
            bar.reset_elapsed();
            bar.enable_steady_tick(Duration::from_millis(200));
        }
    }

    pub fn advance(&self, table: usize, rows: u64) {
        if let Progress::Bars { bars, .. } = self {
            bars[table].inc(rows);
        }
    }

    pub fn finish(&self, table: usize, rows: u64, took: Duration) {
        match self {
            Progress::Bars { bars, width } => {
                let bar = &bars[table];
                bar.set_style(style(&format!(
                    "{{prefix:>{width}.bold}} {{bar:16.green}} {{pos:>8}}/{{len:<8}} {:>13} {}",
                    rate(rows, took),
                    secs(took)
                )));
                bar.finish();
            }
            Progress::Lines(tables) => {
                println!(
                    "copied {rows} {} in {} ({})",
                    tables[table].0,
                    secs(took),
                    rate(rows, took)
                );
            }
        }
    }

    /// After the last table: ends the bars' last line, so what follows starts on a new one.
    pub fn done(&self) {
        if let Progress::Bars { .. } = self {
            eprintln!();
        }
    }

    /// Leaves the bars as they are (on an error).
    pub fn abandon(&self) {
        if let Progress::Bars { bars, .. } = self {
            for b in bars.iter().filter(|b| !b.is_finished()) {
                b.abandon();
            }
        }
    }
}

pub fn secs(d: Duration) -> String {
    format!("{:.1} s", d.as_secs_f64())
}

pub fn rate(rows: u64, took: Duration) -> String {
    let s = took.as_secs_f64();
    if rows == 0 || s <= 0.0 {
        return "-".into();
    }
    format!("{:.0} rows/s", rows as f64 / s)
}
