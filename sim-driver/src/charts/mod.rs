//! Charts, as PNG and SVG, with no system font or image library: text is drawn with
//! DejaVu Sans embedded in the binary (the `dejavu` crate) through plotters' pure-Rust
//! `ab_glyph` renderer.
//!
//! **Owns** drawing. **May not** compute figures: it draws what `measure` and
//! `results` hold, and `plot` reads them back from files.
//!
//! Each chart is a [`Chart`] drawn once per backend by [`save`], so the PNG and the SVG
//! always show the same thing.

pub mod plot;
pub mod xy;

use std::ops::Range;
use std::path::Path;
use std::sync::Once;

use anyhow::Context;
use hdrhistogram::Histogram;
use plotters::coord::Shift;
use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;

/// Pixel size of every chart.
const SIZE: (u32, u32) = (1100, 650);

/// Something that can draw itself on any plotters backend.
pub trait Chart {
    /// Draws the chart on `area`.
    fn draw<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>) -> Result<(), String>;
}

/// Writes `<stem>.png` and `<stem>.svg` into `dir`.
pub fn save(chart: &impl Chart, dir: &Path, stem: &str) -> anyhow::Result<()> {
    static FONT: Once = Once::new();
    FONT.call_once(|| {
        // The embedded font is valid; if registration failed, text would be missing,
        // not the chart.
        let _ = plotters::style::register_font(
            "sans-serif",
            FontStyle::Normal,
            dejavu::sans::regular(),
        );
        let _ = plotters::style::register_font("sans-serif", FontStyle::Bold, dejavu::sans::bold());
    });
    let png = dir.join(format!("{stem}.png"));
    {
        let area = BitMapBackend::new(&png, SIZE).into_drawing_area();
        chart.draw(&area).map_err(anyhow::Error::msg)?;
        area.present()
            .map_err(|e| anyhow::anyhow!("{e}"))
            .with_context(|| format!("writing {}", png.display()))?;
    }
    let svg = dir.join(format!("{stem}.svg"));
    {
        let area = SVGBackend::new(&svg, SIZE).into_drawing_area();
        chart.draw(&area).map_err(anyhow::Error::msg)?;
        area.present()
            .map_err(|e| anyhow::anyhow!("{e}"))
            .with_context(|| format!("writing {}", svg.display()))?;
    }
    Ok(())
}

/// "850", "25k", "1.2M": short labels for rates and counts.
fn per_second_label(v: f64) -> String {
    if v >= 1e6 {
        format!("{:.1}M", v / 1e6)
    } else if v >= 1e4 {
        format!("{:.0}k", v / 1e3)
    } else {
        format!("{v:.0}")
    }
}

fn err<E: std::fmt::Debug>(e: E) -> String {
    format!("drawing failed: {e:?}")
}

/// The coordinate system every chart here uses.
type Ctx<'a, DB> = ChartContext<'a, DB, Cartesian2d<RangedCoordf64, RangedCoordf64>>;

/// A white canvas with a title and room for the axis labels.
fn frame<'a, DB: DrawingBackend>(
    area: &'a DrawingArea<DB, Shift>,
    title: &str,
    margin_right: u32,
    x: std::ops::Range<f64>,
    y: std::ops::Range<f64>,
) -> Result<Ctx<'a, DB>, String> {
    area.fill(&WHITE).map_err(err)?;
    ChartBuilder::on(area)
        .caption(title, ("sans-serif", 26))
        .margin(20)
        .margin_right(margin_right)
        .x_label_area_size(50)
        .y_label_area_size(90)
        .build_cartesian_2d(x, y)
        .map_err(err)
}

/// Shades the measured window (whole seconds since start) across the chart's height.
fn shade_window<'a, DB: DrawingBackend + 'a>(
    chart: &mut Ctx<'a, DB>,
    window: &Range<u64>,
    y_max: f64,
) -> Result<(), String> {
    let blue = RGBColor(230, 240, 255);
    chart
        .draw_series(std::iter::once(Rectangle::new(
            [(window.start as f64, 0.0), (window.end as f64, y_max)],
            blue.filled(),
        )))
        .map_err(err)?
        .label("measured window")
        .legend(move |(x, y)| Rectangle::new([(x, y - 6), (x + 20, y + 6)], blue.filled()));
    Ok(())
}

/// Lines `(label, points, dashed)`, each solid line a colour of its own and a dashed
/// line the colour of the solid one before it, with a dot on each point when there are
/// few enough to see.
fn draw_lines<'a, DB: DrawingBackend + 'a>(
    chart: &mut Ctx<'a, DB>,
    lines: &[xy::XyLine],
) -> Result<(), String> {
    let mut group = 0usize;
    for (
        i,
        xy::XyLine {
            label,
            points: pts,
            dashed,
        },
    ) in lines.iter().enumerate()
    {
        if i > 0 && !dashed {
            group += 1;
        }
        let color = Palette99::pick(group).to_rgba();
        let style = color.stroke_width(if *dashed { 2 } else { 3 });
        let anno = if *dashed {
            chart
                .draw_series(DashedLineSeries::new(pts.clone(), 10, 6, style))
                .map_err(err)?
        } else {
            chart
                .draw_series(LineSeries::new(pts.clone(), style))
                .map_err(err)?
        };
        anno.label(label.clone())
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 20, y)], style));
        if pts.len() <= 40 {
            chart
                .draw_series(pts.iter().map(|&p| Circle::new(p, 4, color.filled())))
                .map_err(err)?;
        }
    }
    Ok(())
}

/// The legend box, drawn last so it sits on top.
fn legend<'a, DB: DrawingBackend + 'a>(
    chart: &mut Ctx<'a, DB>,
    position: SeriesLabelPosition,
) -> Result<(), String> {
    chart
        .configure_series_labels()
        .position(position)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .label_font(("sans-serif", 16))
        .draw()
        .map_err(err)
}

/// Final transactions per second over time: one line per shard and the total.
#[derive(Debug, Clone)]
pub struct Throughput {
    /// Chart title.
    pub title: String,
    /// Per second, per shard: transactions that became final.
    pub per_second: Vec<Vec<u64>>,
    /// The measured window, in whole seconds since start (shaded).
    pub window: Range<u64>,
    /// Times (s since start) where the offered rate changes (`[[phases]]`), marked.
    pub rate_changes: Vec<f64>,
    /// Injected faults (`[[faults]]`): from when to when (s since start), shaded.
    pub faults: Vec<(f64, f64)>,
}

impl Chart for Throughput {
    fn draw<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>) -> Result<(), String> {
        let totals: Vec<u64> = self.per_second.iter().map(|s| s.iter().sum()).collect();
        let x_max = (self.per_second.len() as u64).max(1);
        let y_max = (totals.iter().copied().max().unwrap_or(0) as f64 * 1.15).max(10.0);
        let mut chart = frame(area, &self.title, 20, 0f64..x_max as f64, 0f64..y_max)?;
        chart
            .configure_mesh()
            .x_desc("time since start (s)")
            .y_desc("final transactions per second")
            .y_label_formatter(&|v| per_second_label(*v))
            .label_style(("sans-serif", 16))
            .axis_desc_style(("sans-serif", 18))
            .draw()
            .map_err(err)?;
        shade_window(&mut chart, &self.window, y_max)?;
        // Shade each fault: a killed process until its restart, a faulty link while
        // it lasts.
        for (i, &(from, to)) in self.faults.iter().enumerate() {
            let red = RGBColor(255, 215, 215);
            let band = chart
                .draw_series(std::iter::once(Rectangle::new(
                    [(from, 0.0), (to.max(from + 0.05), y_max)],
                    red.filled(),
                )))
                .map_err(err)?;
            if i == 0 {
                band.label("fault ([[faults]]: process down, or link faulty)")
                    .legend(move |(x, y)| {
                        Rectangle::new([(x, y - 6), (x + 20, y + 6)], red.filled())
                    });
            }
        }
        for (i, &at) in self.rate_changes.iter().enumerate() {
            let gray = RGBColor(120, 120, 120).stroke_width(2);
            let mark = chart
                .draw_series(DashedLineSeries::new([(at, 0.0), (at, y_max)], 8, 6, gray))
                .map_err(err)?;
            if i == 0 {
                mark.label("offered rate changes ([[phases]])")
                    .legend(move |(x, y)| PathElement::new([(x, y), (x + 20, y)], gray));
            }
        }
        // A second's count is plotted at the second's middle.
        let point = |sec: usize, v: u64| (sec as f64 + 0.5, v as f64);
        let shards = self.per_second.first().map_or(0, Vec::len);
        for shard in 0..shards {
            let color = Palette99::pick(shard).to_rgba();
            chart
                .draw_series(LineSeries::new(
                    self.per_second
                        .iter()
                        .enumerate()
                        .map(|(i, s)| point(i, s[shard])),
                    color.stroke_width(2),
                ))
                .map_err(err)?
                .label(format!("shard {shard}"))
                .legend(move |(x, y)| {
                    PathElement::new([(x, y), (x + 20, y)], color.stroke_width(2))
                });
        }
        chart
            .draw_series(LineSeries::new(
                totals.iter().enumerate().map(|(i, &v)| point(i, v)),
                BLACK.stroke_width(3),
            ))
            .map_err(err)?
            .label("all shards")
            .legend(|(x, y)| PathElement::new([(x, y), (x + 20, y)], BLACK.stroke_width(3)));
        legend(&mut chart, SeriesLabelPosition::UpperRight)
    }
}

/// A committee's mean commit latency (proposal → commit) per second, one line per
/// shard: where view changes and slow rounds show.
#[derive(Debug, Clone)]
pub struct CommitLatency {
    /// Chart title.
    pub title: String,
    /// Per second, per shard: mean commit latency of its blocks (ms), if any.
    pub per_second: Vec<Vec<Option<f64>>>,
    /// The measured window, in whole seconds since start (shaded).
    pub window: Range<u64>,
}

impl Chart for CommitLatency {
    fn draw<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>) -> Result<(), String> {
        let x_max = (self.per_second.len() as u64).max(1) as f64;
        let top = self
            .per_second
            .iter()
            .flatten()
            .flatten()
            .fold(0.0f64, |a, &b| a.max(b));
        let y_max = (top * 1.15).max(1.0);
        let mut chart = frame(area, &self.title, 20, 0f64..x_max, 0f64..y_max)?;
        chart
            .configure_mesh()
            .x_desc("time since start (s)")
            .y_desc("mean commit latency of the second's blocks (ms)")
            .label_style(("sans-serif", 16))
            .axis_desc_style(("sans-serif", 18))
            .draw()
            .map_err(err)?;
        shade_window(&mut chart, &self.window, y_max)?;
        let shards = self.per_second.first().map_or(0, Vec::len);
        for shard in 0..shards {
            let color = Palette99::pick(shard).to_rgba();
            // A second without a commit (a halted committee) breaks the line.
            let mut runs: Vec<Vec<(f64, f64)>> = vec![Vec::new()];
            for (i, s) in self.per_second.iter().enumerate() {
                match s[shard] {
                    Some(ms) => runs
                        .last_mut()
                        .into_iter()
                        .for_each(|r| r.push((i as f64 + 0.5, ms))),
                    None => runs.push(Vec::new()),
                }
            }
            for (n, run) in runs.into_iter().filter(|r| !r.is_empty()).enumerate() {
                chart
                    .draw_series(run.iter().map(|&p| Circle::new(p, 3, color.filled())))
                    .map_err(err)?;
                let line = chart
                    .draw_series(LineSeries::new(run, color.stroke_width(2)))
                    .map_err(err)?;
                if n == 0 {
                    line.label(format!("shard {shard}")).legend(move |(x, y)| {
                        PathElement::new([(x, y), (x + 20, y)], color.stroke_width(2))
                    });
                }
            }
        }
        legend(&mut chart, SeriesLabelPosition::UpperRight)
    }
}

/// One latency class for the percentile spectrum.
#[derive(Debug, Clone)]
pub struct Spectrum {
    /// Legend label.
    pub label: String,
    /// Points (x, latency ms) where x = -log10(1 - quantile): 0 is the median's
    /// left neighbour 0%, 1 is 90%, 2 is 99%, 3 is 99.9%.
    pub points: Vec<(f64, f64)>,
}

impl Spectrum {
    /// The spectrum of a histogram of microseconds, up to the quantile its count
    /// supports (a 1,000-sample histogram says nothing about p99.99).
    pub fn of(label: &str, h: &Histogram<u64>) -> Spectrum {
        let mut points = Vec::new();
        if !h.is_empty() {
            let x_max = (h.len() as f64).log10().min(6.0);
            let mut x = 0.0;
            while x <= x_max + 1e-9 {
                let q = 1.0 - 10f64.powf(-x);
                points.push((x, h.value_at_quantile(q) as f64 / 1000.0));
                x += 0.05;
            }
        }
        Spectrum {
            label: label.to_string(),
            points,
        }
    }
}

/// Colours of the latency classes, in order: distinct, and readable on white.
const CLASS_COLORS: [RGBColor; 4] = [
    RGBColor(31, 119, 180),
    RGBColor(214, 39, 40),
    RGBColor(0, 0, 0),
    RGBColor(44, 160, 44),
];

/// Latency by percentile, the HdrHistogram way: the tail gets as much room as the body.
#[derive(Debug, Clone)]
pub struct Latency {
    /// Chart title.
    pub title: String,
    /// One curve per class.
    pub classes: Vec<Spectrum>,
}

impl Chart for Latency {
    fn draw<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>) -> Result<(), String> {
        let all = self.classes.iter().flat_map(|c| &c.points);
        let x_max = all.clone().map(|p| p.0).fold(1.0, f64::max).ceil();
        let y_max = all.map(|p| p.1).fold(1.0, f64::max) * 1.1;
        let mut chart = frame(area, &self.title, 50, 0f64..x_max, 0f64..y_max)?;
        chart
            .configure_mesh()
            .x_desc("percentile")
            .y_desc("latency (ms), intended send → final")
            .x_labels((x_max as usize) + 1)
            .x_label_formatter(&|x| {
                let p = 100.0 * (1.0 - 10f64.powf(-x));
                match x.round() as i32 {
                    0 => "0%".to_string(),
                    1 => "90%".into(),
                    2 => "99%".into(),
                    _ => format!("{p:.*}%", (x.round() as usize).saturating_sub(2)),
                }
            })
            .label_style(("sans-serif", 16))
            .axis_desc_style(("sans-serif", 18))
            .draw()
            .map_err(err)?;
        for (class, color) in self.classes.iter().zip(CLASS_COLORS) {
            let color = color.to_rgba();
            chart
                .draw_series(LineSeries::new(
                    class.points.iter().copied(),
                    color.stroke_width(3),
                ))
                .map_err(err)?
                .label(class.label.clone())
                .legend(move |(x, y)| {
                    PathElement::new([(x, y), (x + 20, y)], color.stroke_width(3))
                });
        }
        legend(&mut chart, SeriesLabelPosition::UpperLeft)
    }
}

/// One line of a [`VsShards`] chart.
#[derive(Debug, Clone)]
pub struct Line {
    /// Legend label.
    pub label: String,
    /// (shards, value) points in shard order.
    pub points: Vec<(u32, f64)>,
    /// Drawn dashed (ideal lines, p99s).
    pub dashed: bool,
}

/// A figure against the number of shards (a sweep).
#[derive(Debug, Clone)]
pub struct VsShards {
    /// What the x axis counts: `shards`, or a swept parameter (`cluster.validators`).
    pub x_desc: String,
    /// Chart title.
    pub title: String,
    /// What the y axis measures.
    pub y_desc: String,
    /// The lines. A dashed line takes the colour of the solid line before it.
    pub lines: Vec<Line>,
}

impl Chart for VsShards {
    fn draw<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>) -> Result<(), String> {
        let points = self.lines.iter().flat_map(|l| &l.points);
        let x_max = points.clone().map(|p| p.0).max().unwrap_or(1).max(1);
        let y_max = points.map(|p| p.1).fold(1.0, f64::max) * 1.15;
        let mut chart = frame(
            area,
            &self.title,
            40,
            0f64..f64::from(x_max) + 0.5,
            0f64..y_max,
        )?;
        chart
            .configure_mesh()
            .x_desc(&self.x_desc)
            .x_labels(x_max as usize + 2)
            .x_label_formatter(&|v| {
                // Shard counts are whole: label only the whole ticks.
                if (v - v.round()).abs() < 1e-6 {
                    format!("{v:.0}")
                } else {
                    String::new()
                }
            })
            .y_desc(&self.y_desc)
            .y_label_formatter(&|v| per_second_label(*v))
            .label_style(("sans-serif", 16))
            .axis_desc_style(("sans-serif", 18))
            .draw()
            .map_err(err)?;
        let lines: Vec<xy::XyLine> = self
            .lines
            .iter()
            .map(|l| xy::XyLine {
                label: l.label.clone(),
                points: l.points.iter().map(|&(s, v)| (f64::from(s), v)).collect(),
                dashed: l.dashed,
            })
            .collect();
        draw_lines(&mut chart, &lines)?;
        legend(&mut chart, SeriesLabelPosition::UpperLeft)
    }
}

/// Per second: receipts emitted and not yet applied, across all shards, at its end.
pub fn in_flight(rows: &[Vec<crate::measure::tracker::ShardSecond>]) -> Vec<u64> {
    let mut balance: i128 = 0;
    rows.iter()
        .map(|r| {
            balance += r
                .iter()
                .map(|c| i128::from(c.receipts_emitted) - i128::from(c.receipts_applied))
                .sum::<i128>();
            balance.max(0) as u64
        })
        .collect()
}

/// Receipts over time: in flight across the cluster, and each shard's delayed-receipt
/// queue (congestion).
#[derive(Debug, Clone)]
pub struct CrossShard {
    /// Chart title.
    pub title: String,
    /// Per second: receipts emitted and not yet applied, across all shards, at its end.
    pub in_flight: Vec<u64>,
    /// Per second, per shard: longest delayed-receipt queue after a block.
    pub delayed: Vec<Vec<u64>>,
    /// Per second: two-phase transactions aborted, all shards.
    pub aborts: Vec<u64>,
    /// Per second: of the transactions that became final, the share that crossed
    /// shards (`None` in a second where none did) — a dial for the synthetic workload,
    /// a result of placement for real traffic.
    pub share: Vec<Option<f64>>,
    /// Per second: accounts whose migration completed, all shards.
    pub moved: Vec<u64>,
    /// When each placement epoch began (s), marked on the lower panels.
    pub epochs: Vec<f64>,
}

impl CrossShard {
    /// From the per-second, per-shard counts of a run.
    pub fn from_rows(
        title: String,
        rows: &[Vec<crate::measure::tracker::ShardSecond>],
    ) -> CrossShard {
        CrossShard {
            title,
            in_flight: in_flight(rows),
            delayed: rows
                .iter()
                .map(|r| r.iter().map(|c| c.delayed_max).collect())
                .collect(),
            aborts: rows
                .iter()
                .map(|r| r.iter().map(|c| c.aborts).sum())
                .collect(),
            share: rows
                .iter()
                .map(|r| {
                    let (all, cross) = r.iter().fold((0u64, 0u64), |(a, c), s| {
                        (a + s.final_total, c + s.final_cross)
                    });
                    (all > 0).then(|| cross as f64 / all as f64)
                })
                .collect(),
            moved: rows
                .iter()
                .map(|r| r.iter().map(|c| c.accounts_in).sum())
                .collect(),
            epochs: Vec::new(),
        }
    }

    /// The same, with placement epochs beginning at `epochs` (s).
    pub fn with_epochs(mut self, epochs: Vec<f64>) -> CrossShard {
        self.epochs = epochs;
        self
    }
}

impl Chart for CrossShard {
    fn draw<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>) -> Result<(), String> {
        // Receipts above, the cross-shard share of what became final below, and — when
        // accounts moved — how many arrived each second, epochs marked.
        let (area, below) = area.split_vertically(area.dim_in_pixel().1 * 2 / 3);
        let below = if self.moved.iter().any(|&m| m > 0) {
            let (share, moved) = below.split_horizontally(below.dim_in_pixel().0 / 2);
            xy::Xy {
                title: "accounts moved (epochs marked)".into(),
                x_desc: "time since start (s)".into(),
                y_desc: "accounts / s".into(),
                y_axis: xy::YAxis::Count,
                x_ticks: None,
                marks: self.epochs.clone(),
                lines: vec![xy::XyLine {
                    label: "accounts whose move completed".into(),
                    points: self
                        .moved
                        .iter()
                        .enumerate()
                        .map(|(i, &m)| (i as f64 + 0.5, m as f64))
                        .collect(),
                    dashed: false,
                }],
            }
            .draw(&moved)?;
            share
        } else {
            below
        };
        xy::Xy {
            title: if self.moved.iter().any(|&m| m > 0) {
                "cross-shard share".into()
            } else {
                "share of final transactions that crossed shards".into()
            },
            x_desc: "time since start (s)".into(),
            y_desc: "cross-shard".into(),
            y_axis: xy::YAxis::Percent,
            x_ticks: None,
            marks: self.epochs.clone(),
            lines: vec![xy::XyLine {
                label: "cross-shard share (per second)".into(),
                points: self
                    .share
                    .iter()
                    .enumerate()
                    .filter_map(|(i, s)| s.map(|s| (i as f64 + 0.5, s)))
                    .collect(),
                dashed: false,
            }],
        }
        .draw(&below)?;
        let area = &area;
        let x_max = (self.in_flight.len() as f64).max(1.0);
        let peak = self
            .in_flight
            .iter()
            .chain(self.delayed.iter().flatten())
            .chain(&self.aborts)
            .copied()
            .max()
            .unwrap_or(0);
        let y_max = (peak as f64 * 1.15).max(10.0);
        let mut chart = frame(area, &self.title, 20, 0f64..x_max, 0f64..y_max)?;
        chart
            .configure_mesh()
            .x_desc("time since start (s)")
            .y_desc("receipts")
            .y_label_formatter(&|v| per_second_label(*v))
            .label_style(("sans-serif", 16))
            .axis_desc_style(("sans-serif", 18))
            .draw()
            .map_err(err)?;
        let point = |sec: usize, v: u64| (sec as f64 + 1.0, v as f64);
        chart
            .draw_series(LineSeries::new(
                self.in_flight.iter().enumerate().map(|(i, &v)| point(i, v)),
                BLACK.stroke_width(3),
            ))
            .map_err(err)?
            .label("in flight, all shards (end of each second)")
            .legend(|(x, y)| PathElement::new([(x, y), (x + 20, y)], BLACK.stroke_width(3)));
        if self.aborts.iter().any(|&a| a > 0) {
            chart
                .draw_series(LineSeries::new(
                    self.aborts.iter().enumerate().map(|(i, &v)| point(i, v)),
                    RED.stroke_width(3),
                ))
                .map_err(err)?
                .label("two-phase aborts (per second)")
                .legend(|(x, y)| PathElement::new([(x, y), (x + 20, y)], RED.stroke_width(3)));
        }
        let shards = self.delayed.first().map_or(0, Vec::len);
        for shard in 0..shards {
            let color = Palette99::pick(shard).to_rgba();
            chart
                .draw_series(LineSeries::new(
                    self.delayed
                        .iter()
                        .enumerate()
                        .map(|(i, s)| (i as f64 + 0.5, s[shard] as f64)),
                    color.stroke_width(2),
                ))
                .map_err(err)?
                .label(format!("delayed queue, shard {shard} (max in second)"))
                .legend(move |(x, y)| {
                    PathElement::new([(x, y), (x + 20, y)], color.stroke_width(2))
                });
        }
        legend(&mut chart, SeriesLabelPosition::UpperRight)
    }
}
