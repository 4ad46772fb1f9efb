//! The SVG plots, with the plotters crate.

use crate::run::{Row, Server};
use plotters::prelude::*;
use std::path::Path;

const COLORS: [RGBColor; 5] = [
    RGBColor(214, 96, 77),
    RGBColor(67, 147, 195),
    RGBColor(90, 90, 90),
    RGBColor(77, 175, 74),
    RGBColor(152, 78, 163),
];

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

fn lines(
    rows: &[Row],
    servers: &[Server],
    path: &Path,
    title: &str,
    y_label: &str,
    f: fn(&Row) -> Option<f64>,
) -> Result<(), String> {
    let series: Vec<(&str, Vec<(f64, f64)>)> = servers
        .iter()
        .map(|s| (s.name, medians(rows, s.name, f)))
        .collect();
    let points = series.iter().flat_map(|(_, p)| p.iter());
    let (x_max, y_max) = points.fold((10.0f64, 1.0f64), |(x, y), &(px, py)| {
        (x.max(px), y.max(py))
    });
    let root = SVGBackend::new(path, (720, 420)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| e.to_string())?;
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 20))
        .margin(15)
        .x_label_area_size(40)
        .y_label_area_size(70)
        .build_cartesian_2d((10.0..x_max * 1.5).log_scale(), 0.0..y_max * 1.15)
        .map_err(|e| e.to_string())?;
    chart
        .configure_mesh()
        .x_desc("connections")
        .y_desc(y_label)
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
        .border_style(BLACK)
        .position(SeriesLabelPosition::UpperLeft)
        .draw()
        .map_err(|e| e.to_string())?;
    root.present().map_err(|e| e.to_string())
}

pub fn throughput(rows: &[Row], servers: &[Server], path: &Path) -> Result<(), String> {
    lines(
        rows,
        servers,
        path,
        "WebSocket echo throughput (median)",
        "messages per second",
        |r| r.msgs_per_sec,
    )
}

pub fn p99(rows: &[Row], servers: &[Server], path: &Path) -> Result<(), String> {
    lines(
        rows,
        servers,
        path,
        "WebSocket echo p99 latency (median)",
        "p99 latency, µs",
        |r| r.p99,
    )
}

pub fn idle_memory(rows: &[Row], servers: &[Server], path: &Path) -> Result<(), String> {
    let idle: Vec<&Row> = rows.iter().filter(|r| r.idle).collect();
    let y_max = idle
        .iter()
        .filter_map(|r| r.rss_kib_per_connection)
        .fold(1.0f64, f64::max);
    let root = SVGBackend::new(path, (720, 420)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| e.to_string())?;
    let labels: Vec<String> = idle
        .iter()
        .map(|r| format!("{} @{}", r.server, r.connections))
        .collect();
    let mut chart = ChartBuilder::on(&root)
        .caption(
            "Idle WebSocket connections: server RSS per connection",
            ("sans-serif", 20),
        )
        .margin(15)
        .x_label_area_size(40)
        .y_label_area_size(70)
        .build_cartesian_2d(0.0..labels.len() as f64, 0.0..y_max * 1.2)
        .map_err(|e| e.to_string())?;
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(0)
        .y_desc("KiB per connection")
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
                format!("{:.1}", value),
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
    root.present().map_err(|e| e.to_string())
}
