//! The progress line of a run on stderr (indicatif), and notes above it.

use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};

use crate::measure::tracker::Tracker;

/// The progress display: a bar on a terminal, a line every few seconds otherwise.
pub(super) struct Progress {
    /// The bar, if shown on a terminal.
    bar: Option<ProgressBar>,
    /// Print plain lines instead (stderr is not a terminal).
    lines: bool,
    /// (time, finals) at the last rate sample, for the live TPS figure.
    last: std::cell::Cell<(Duration, u64)>,
    /// When the last plain line was printed.
    last_line: std::cell::Cell<Duration>,
}

impl Progress {
    pub(super) fn new(enabled: bool, total: Duration) -> Progress {
        let bar = (enabled && !ProgressBar::new(0).is_hidden()).then(|| {
            let bar = ProgressBar::new(total.as_secs().max(1));
            bar.set_style(
                ProgressStyle::with_template(
                    "{spinner} [{elapsed_precise}] {bar:30} {pos}/{len} s  {msg}",
                )
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
            );
            bar
        });
        Progress {
            lines: enabled && bar.is_none(),
            bar,
            last: std::cell::Cell::new((Duration::ZERO, 0)),
            last_line: std::cell::Cell::new(Duration::ZERO),
        }
    }

    pub(super) fn update(&self, elapsed: Duration, t: &Tracker, draining: bool) {
        let (t0, f0) = self.last.get();
        let dt = (elapsed - t0).as_secs_f64();
        if dt < 0.9 {
            return;
        }
        let tps = (t.finals() - f0) as f64 / dt;
        self.last.set((elapsed, t.finals()));
        let phase = if draining { "draining" } else { "running" };
        let msg = format!(
            "{phase}: {tps:>9.0} tx/s final · {} final · {} in flight",
            t.finals(),
            t.unresolved()
        );
        if let Some(bar) = &self.bar {
            bar.set_position(elapsed.as_secs());
            bar.set_message(msg);
        } else if self.lines && elapsed - self.last_line.get() >= Duration::from_secs(2) {
            self.last_line.set(elapsed);
            eprintln!("[{:>5.1}s] {msg}", elapsed.as_secs_f64());
        }
    }

    /// A one-off line (a fault injected), above the bar or among the lines.
    pub(super) fn note(&self, text: &str) {
        if let Some(bar) = &self.bar {
            bar.println(format!("shardsim: {text}"));
        } else if self.lines {
            eprintln!("shardsim: {text}");
        }
    }

    pub(super) fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}
