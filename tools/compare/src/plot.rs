//! The SVG plots, with the plotters crate, in the book's one style:
//! readable ticks (`140k`; `100`, `1k`, `10k`), axes that start at the data
//! rather than at an empty decade, a light grid, latency on a log axis, and
//! a caption under each plot saying where, when and how it was measured.
//! Later chapters' plots use these functions too.

use crate::run::{Row, Server};
use plotters::coord::ranged1d::{AsRangedCoord, ValueFormatter};
use plotters::prelude::*;
use std::path::Path;

pub(crate) const COLORS: [RGBColor; 5] = [
    RGBColor(214, 96, 77),
    RGBColor(67, 147, 195),
    RGBColor(90, 90, 90),
    RGBColor(77, 175, 74),
    RGBColor(152, 78, 163),
];

const SIZE: (u32, u32) = (760, 470);
/// Height of the caption strip under the chart.
const CAPTION: u32 = 44;

/// A tick label a reader takes in at a glance: `950`, `1k`, `2.5k`, `140k`,
/// `1.2M`; small values keep one decimal only when they need it.
pub fn human(value: f64) -> String {
    let (scaled, suffix) = match value.abs() {
        v if v >= 1e6 => (value / 1e6, "M"),
        v if v >= 1e3 => (value / 1e3, "k"),
        _ => (value, ""),
    };
    let text = if scaled.abs() >= 100.0 || scaled.fract().abs() < 0.05 {
        format!("{scaled:.0}")
    } else {
        format!("{scaled:.1}")
    };
    format!("{text}{suffix}")
}

/// The x range of a log axis around the data: a little margin on each
/// side, never an empty decade.
fn log_range(min: f64, max: f64) -> std::ops::Range<f64> {
    (min / 1.4)..(max * 1.4)
}

fn medians(rows: &[Row], server: &str, f: fn(&Row) -> Option<f64>) -> Vec<(f64, f64)> {
    let mut sizes: Vec<usize> = rows
        .iter()
        .filter(|r| !r.idle)
        .map(|r| r.connections)
        .collect();
    sizes.sort_unstable();
    sizes.dedup();
    sizes
        .into_iter()
        .filter_map(|n| {
            let values = rows
                .iter()
                .filter(|r| !r.idle && r.server == server && r.connections == n)
                .filter_map(f)
                .collect();
            crate::median(values).map(|m| (n as f64, m))
        })
        .collect()
}

/// Writes `caption` (wrapped to two lines if long) into the strip.
fn draw_caption<DB: DrawingBackend>(
    area: &DrawingArea<DB, plotters::coord::Shift>,
    caption: &str,
) -> Result<(), String> {
    draw_caption_wrapped(area, caption, 118)
}

/// [`draw_caption`] for a plot of another width: lines of at most
/// `chars` characters.
pub(crate) fn draw_caption_wrapped<DB: DrawingBackend>(
    area: &DrawingArea<DB, plotters::coord::Shift>,
    caption: &str,
    chars: usize,
) -> Result<(), String> {
    let mut lines = vec![String::new()];
    for word in caption.split(' ') {
        let line = lines.last_mut().expect("one line at least");
        if line.len() + word.len() > chars {
            lines.push(word.to_string());
        } else {
            if !line.is_empty() {
                line.push(' ');
            }
            line.push_str(word);
        }
    }
    for (i, line) in lines.iter().take(2).enumerate() {
        area.draw(&Text::new(
            line.clone(),
            (12, 6 + 16 * i as i32),
            ("sans-serif", 12).into_font().color(&RGBColor(80, 80, 80)),
        ))
        .map_err(|e| e.to_string())?;
    }
    Ok(())
}

/// One line per server against the connection count (log axis).
#[allow(clippy::too_many_arguments)]
fn lines<Y>(
    rows: &[Row],
    servers: &[Server],
    path: &Path,
    title: &str,
    y_label: &str,
    caption: &str,
    y_range: Y,
    legend: SeriesLabelPosition,
    f: fn(&Row) -> Option<f64>,
) -> Result<(), String>
where
    Y: AsRangedCoord<Value = f64>,
    Y::CoordDescType: ValueFormatter<f64>,
{
    let series: Vec<(&str, Vec<(f64, f64)>)> = servers
        .iter()
        .map(|s| (s.name, medians(rows, s.name, f)))
        .filter(|(_, points)| !points.is_empty())
        .collect();
    let xs = || series.iter().flat_map(|(_, p)| p.iter().map(|&(x, _)| x));
    let x_min = xs().fold(f64::INFINITY, f64::min);
    let x_max = xs().fold(0.0f64, f64::max);
    if !x_min.is_finite() {
        return Err(format!("{title}: no data to plot"));
    }
    let root = SVGBackend::new(path, SIZE).into_drawing_area();
    root.fill(&WHITE).map_err(|e| e.to_string())?;
    let (chart_area, caption_area) = root.split_vertically(SIZE.1 - CAPTION);
    let mut chart = ChartBuilder::on(&chart_area)
        .caption(title, ("sans-serif", 20))
        .margin(15)
        .x_label_area_size(40)
        .y_label_area_size(60)
        .build_cartesian_2d(log_range(x_min, x_max).log_scale(), y_range)
        .map_err(|e| e.to_string())?;
    chart
        .configure_mesh()
        .x_desc("connections")
        .y_desc(y_label)
        .x_label_formatter(&|x| human(*x))
        .y_label_formatter(&|y| human(*y))
        .bold_line_style(BLACK.mix(0.08))
        .light_line_style(TRANSPARENT)
        .axis_style(BLACK.mix(0.6))
        .draw()
        .map_err(|e| e.to_string())?;
    for (i, (name, points)) in series.into_iter().enumerate() {
        let color = COLORS[i % COLORS.len()];
        chart
            .draw_series(LineSeries::new(points.clone(), color.stroke_width(2)))
            .map_err(|e| e.to_string())?
            .label(name)
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2))
            });
        chart
            .draw_series(
                points
                    .into_iter()
                    .map(|p| Circle::new(p, 4, color.filled())),
            )
            .map_err(|e| e.to_string())?;
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.9))
        .border_style(BLACK.mix(0.3))
        .position(legend)
        .draw()
        .map_err(|e| e.to_string())?;
    draw_caption(&caption_area, caption)?;
    root.present().map_err(|e| e.to_string())
}

/// Messages per second against connections; the y axis starts at 0, so
/// that the heights compare as ratios.
pub fn throughput(
    rows: &[Row],
    servers: &[Server],
    path: &Path,
    caption: &str,
) -> Result<(), String> {
    let y_max = rows
        .iter()
        .filter(|r| !r.idle)
        .filter_map(|r| r.msgs_per_sec)
        .fold(1.0f64, f64::max);
    lines(
        rows,
        servers,
        path,
        "WebSocket echo throughput (median)",
        "messages per second",
        caption,
        0.0..y_max * 1.15,
        // The lines fall to the right: the legend goes where they are not.
        SeriesLabelPosition::UpperRight,
        |r| r.msgs_per_sec,
    )
}

/// p99 latency against connections, both on log axes: the servers differ
/// by orders of magnitude.
pub fn p99(rows: &[Row], servers: &[Server], path: &Path, caption: &str) -> Result<(), String> {
    let values = rows.iter().filter(|r| !r.idle).filter_map(|r| r.p99);
    let (y_min, y_max) = values.fold((f64::INFINITY, 1.0f64), |(lo, hi), v| {
        (lo.min(v.max(1.0)), hi.max(v))
    });
    let y_min = if y_min.is_finite() { y_min } else { 1.0 };
    lines(
        rows,
        servers,
        path,
        "WebSocket echo p99 latency (median)",
        "p99 latency, µs (log scale)",
        caption,
        log_range(y_min, y_max).log_scale(),
        SeriesLabelPosition::UpperLeft,
        |r| r.p99,
    )
}

pub fn idle_memory(
    rows: &[Row],
    servers: &[Server],
    path: &Path,
    caption: &str,
) -> Result<(), String> {
    let idle: Vec<&Row> = rows.iter().filter(|r| r.idle).collect();
    let y_max = idle
        .iter()
        .filter_map(|r| r.rss_kib_per_connection)
        .fold(1.0f64, f64::max);
    let root = SVGBackend::new(path, SIZE).into_drawing_area();
    root.fill(&WHITE).map_err(|e| e.to_string())?;
    let (chart_area, caption_area) = root.split_vertically(SIZE.1 - CAPTION);
    let labels: Vec<String> = idle
        .iter()
        .map(|r| format!("{} @{}", r.server, human(r.connections as f64)))
        .collect();
    let mut chart = ChartBuilder::on(&chart_area)
        .caption(
            "Idle WebSocket connections: server RSS per connection",
            ("sans-serif", 20),
        )
        .margin(15)
        .x_label_area_size(40)
        .y_label_area_size(60)
        .build_cartesian_2d(0.0..labels.len() as f64, 0.0..y_max * 1.2)
        .map_err(|e| e.to_string())?;
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(0)
        .y_desc("KiB per connection")
        .y_label_formatter(&|y| human(*y))
        .bold_line_style(BLACK.mix(0.08))
        .light_line_style(TRANSPARENT)
        .axis_style(BLACK.mix(0.6))
        .draw()
        .map_err(|e| e.to_string())?;
    for (i, row) in idle.iter().enumerate() {
        let color = COLORS[servers
            .iter()
            .position(|s| s.name == row.server)
            .unwrap_or(0)
            % COLORS.len()];
        let value = row.rss_kib_per_connection.unwrap_or(0.0);
        let x = i as f64;
        chart
            .draw_series(std::iter::once(Rectangle::new(
                [(x + 0.15, 0.0), (x + 0.85, value)],
                color.filled(),
            )))
            .map_err(|e| e.to_string())?;
        chart
            .draw_series(std::iter::once(Text::new(
                format!("{value:.1}"),
                (x + 0.3, value + y_max * 0.03),
                ("sans-serif", 13),
            )))
            .map_err(|e| e.to_string())?;
        chart
            .draw_series(std::iter::once(Text::new(
                labels[i].clone(),
                (x + 0.1, -y_max * 0.02),
                ("sans-serif", 10),
            )))
            .map_err(|e| e.to_string())?;
    }
    draw_caption(&caption_area, caption)?;
    root.present().map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_read_at_a_glance() {
        assert_eq!(human(140000.0), "140k");
        assert_eq!(human(10.0), "10");
        assert_eq!(human(100.0), "100");
        assert_eq!(human(1000.0), "1k");
        assert_eq!(human(10000.0), "10k");
        assert_eq!(human(2500.0), "2.5k");
        assert_eq!(human(1_200_000.0), "1.2M");
        assert_eq!(human(0.5), "0.5");
    }

    #[test]
    fn log_axes_start_at_the_data() {
        let range = log_range(100.0, 10000.0);
        assert!(range.start > 50.0 && range.start < 100.0);
        assert!(range.end > 10000.0 && range.end < 20000.0);
    }
}
