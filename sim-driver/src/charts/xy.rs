//! A plain x–y chart of a few lines, and two of them stacked: the placement study's
//! charts (cross-shard share and imbalance against shards, figures per epoch).

use plotters::coord::Shift;
use plotters::prelude::*;

use super::{Chart, draw_lines, err, frame, legend, per_second_label};

/// One line of an [`Xy`] chart.
#[derive(Debug, Clone)]
pub struct XyLine {
    /// Legend label.
    pub label: String,
    /// Points, in x order.
    pub points: Vec<(f64, f64)>,
    /// Drawn dashed.
    pub dashed: bool,
}

/// How the y axis is labelled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum YAxis {
    /// A share 0..1, labelled in percent.
    Percent,
    /// A ratio near 1 ("1.25").
    Ratio,
    /// A count ("850", "25k").
    Count,
}

/// A chart of lines over a numeric x axis.
#[derive(Debug, Clone)]
pub struct Xy {
    /// Title.
    pub title: String,
    /// What x measures.
    pub x_desc: String,
    /// What y measures.
    pub y_desc: String,
    /// The y axis's kind.
    pub y_axis: YAxis,
    /// Where to put x ticks, with their labels (e.g. shard counts on a log scale);
    /// `None` labels x as numbers.
    pub x_ticks: Option<Vec<(f64, String)>>,
    /// Vertical marks (e.g. epoch boundaries), drawn faint.
    pub marks: Vec<f64>,
    /// The lines; a dashed line takes the colour of the solid line before it.
    pub lines: Vec<XyLine>,
}

impl Chart for Xy {
    fn draw<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>) -> Result<(), String> {
        let points = self.lines.iter().flat_map(|l| &l.points);
        let x_min = points.clone().map(|p| p.0).fold(f64::INFINITY, f64::min);
        let x_max = points
            .clone()
            .map(|p| p.0)
            .fold(f64::NEG_INFINITY, f64::max);
        let (x_min, x_max) = if x_min.is_finite() && x_max > x_min {
            (x_min, x_max)
        } else {
            (0.0, 1.0)
        };
        let pad = (x_max - x_min) * 0.04;
        let y_top = points.map(|p| p.1).fold(0.0, f64::max);
        let y_max = match self.y_axis {
            YAxis::Percent => (y_top * 1.15).clamp(0.05, 1.0),
            YAxis::Ratio | YAxis::Count => (y_top * 1.15).max(1.0),
        };
        let mut chart = frame(area, &self.title, 40, x_min - pad..x_max + pad, 0f64..y_max)?;
        let ticks = self.x_ticks.clone();
        let y_axis = self.y_axis;
        let x_label = move |v: &f64| match &ticks {
            Some(t) => t
                .iter()
                .find(|(x, _)| (x - v).abs() < 1e-6)
                .map(|(_, l)| l.clone())
                .unwrap_or_default(),
            // Whole numbers only: epochs and counts have no halves.
            None if (v - v.round()).abs() < 1e-6 => per_second_label(*v),
            None => String::new(),
        };
        let y_label = move |v: &f64| match y_axis {
            YAxis::Percent => format!("{:.0}%", v * 100.0),
            YAxis::Ratio => format!("{v:.2}"),
            YAxis::Count => per_second_label(*v),
        };
        let mut mesh = chart.configure_mesh();
        mesh.x_desc(&self.x_desc)
            .y_desc(&self.y_desc)
            .x_label_formatter(&x_label)
            .y_label_formatter(&y_label)
            .label_style(("sans-serif", 16))
            .axis_desc_style(("sans-serif", 18));
        // Ticks at whole x values (log2 of the shard counts, or epochs): as many
        // labels as whole values in range, at most 12.
        let whole = (x_max - x_min).round() as usize + 1;
        mesh.x_labels(whole.clamp(2, 12))
            .y_labels(6)
            .light_line_style(TRANSPARENT);
        mesh.draw().map_err(err)?;
        let grey = RGBColor(150, 150, 150);
        chart
            .draw_series(
                self.marks
                    .iter()
                    .map(|&x| PathElement::new([(x, 0.0), (x, y_max)], grey.stroke_width(2))),
            )
            .map_err(err)?;
        draw_lines(&mut chart, &self.lines)?;
        legend(&mut chart, SeriesLabelPosition::MiddleRight)
    }
}

/// Two charts, one above the other, sharing the picture.
#[derive(Debug, Clone)]
pub struct Stacked(pub Xy, pub Xy);

impl Chart for Stacked {
    fn draw<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>) -> Result<(), String> {
        let (top, bottom) = area.split_vertically(area.dim_in_pixel().1 / 2);
        self.0.draw(&top)?;
        self.1.draw(&bottom)
    }
}
