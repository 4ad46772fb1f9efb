//! `netladder-compare --redis-cpu DIR`: chapter 6's Redis CPU plot, from
//! what `cargo bench --bench redis_cpu -- --out DIR` wrote there
//! (`redis-cpu.csv` and `redis-cpu-run.txt`). Measures nothing: it draws
//! `redis-cpu.svg`, one panel per room count, Redis CPU per broadcast
//! against the number of servers, one line per mode (medians of the
//! measured slices, with a bar over their middle half, the 25th to 75th
//! percentile), and the sharded cluster's busiest node dashed.

use crate::plot::{COLORS, draw_caption_wrapped, human};
use plotters::element::DashedPathElement;
use plotters::prelude::*;
use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

/// One row of `redis-cpu.csv`: the columns the plot needs.
struct Run {
    mode: String,
    servers: usize,
    rooms: usize,
    per_broadcast: f64,
    max_node_per_broadcast: f64,
}

fn parse(csv: &str) -> Result<Vec<Run>, String> {
    let mut lines = csv.lines();
    let header: Vec<&str> = lines.next().ok_or("an empty CSV")?.split(',').collect();
    let col = |name: &str| {
        header
            .iter()
            .position(|h| *h == name)
            .ok_or(format!("no column {name} in redis-cpu.csv"))
    };
    let (mode, servers, rooms, per, max) = (
        col("mode")?,
        col("servers")?,
        col("rooms")?,
        col("cpu_us_per_broadcast")?,
        col("max_node_cpu_us_per_broadcast")?,
    );
    lines
        .filter(|l| !l.trim().is_empty())
        .enumerate()
        .map(|(i, line)| {
            let f: Vec<&str> = line.split(',').collect();
            let bad = |what: &str| format!("redis-cpu.csv line {}: bad {what}", i + 2);
            let get = |c: usize, what: &str| f.get(c).copied().ok_or_else(|| bad(what));
            Ok(Run {
                mode: get(mode, "mode")?.to_owned(),
                servers: get(servers, "servers")?
                    .parse()
                    .map_err(|_| bad("servers"))?,
                rooms: get(rooms, "rooms")?.parse().map_err(|_| bad("rooms"))?,
                per_broadcast: get(per, "CPU")?.parse().map_err(|_| bad("CPU"))?,
                max_node_per_broadcast: get(max, "CPU")?.parse().map_err(|_| bad("CPU"))?,
            })
        })
        .collect()
}

/// A point of the plot: servers, median, 25th and 75th percentiles.
type Point = (f64, f64, f64, f64);

/// A line of the plot: a label, whether dashed, and its points per room
/// count.
type Series = (String, bool, BTreeMap<usize, Vec<Point>>);

/// The `p` quantile (0..=1), interpolated between ranks, as the bench's
/// summary table computes it.
fn quantile(mut v: Vec<f64>, p: f64) -> f64 {
    v.sort_by(f64::total_cmp);
    let at = (v.len() - 1) as f64 * p;
    let (lo, hi) = (at.floor() as usize, at.ceil() as usize);
    v[lo] + (v[hi] - v[lo]) * (at - lo as f64)
}

fn series(runs: &[Run]) -> Vec<Series> {
    let label = |mode: &str| match mode {
        "classic" => "classic, one Redis".to_owned(),
        "classic-cluster" => "classic on a 3-node cluster".to_owned(),
        "sharded" => "sharded on a 3-node cluster".to_owned(),
        other => other.to_owned(),
    };
    let mut modes: Vec<&str> = Vec::new();
    for r in runs {
        if !modes.contains(&r.mode.as_str()) {
            modes.push(&r.mode);
        }
    }
    let medians = |mode: &str, f: fn(&Run) -> f64| {
        let mut by: BTreeMap<(usize, usize), Vec<f64>> = BTreeMap::new();
        for r in runs.iter().filter(|r| r.mode == mode) {
            by.entry((r.rooms, r.servers)).or_default().push(f(r));
        }
        let mut out: BTreeMap<usize, Vec<Point>> = BTreeMap::new();
        for ((rooms, servers), values) in by {
            let q = |p| quantile(values.clone(), p);
            out.entry(rooms)
                .or_default()
                .push((servers as f64, q(0.5), q(0.25), q(0.75)));
        }
        out
    };
    let mut out: Vec<Series> = modes
        .iter()
        .map(|m| (label(m), false, medians(m, |r| r.per_broadcast)))
        .collect();
    if modes.contains(&"sharded") {
        out.push((
            "sharded: its busiest node".to_owned(),
            true,
            medians("sharded", |r| r.max_node_per_broadcast),
        ));
    }
    out
}

const SIZE: (u32, u32) = (1140, 470);
const CAPTION: u32 = 44;

/// Draws `DIR/redis-cpu.svg` from `DIR/redis-cpu.csv` and
/// `DIR/redis-cpu-run.txt`.
pub fn plot(dir: &Path) -> Result<(), String> {
    let read = |name: &str| {
        fs::read_to_string(dir.join(name)).map_err(|e| format!("{}: {e}", dir.join(name).display()))
    };
    let runs = parse(&read("redis-cpu.csv")?)?;
    let caption = read("redis-cpu-run.txt")?.trim().to_string();
    let lines = series(&runs);
    let mut rooms: Vec<usize> = runs.iter().map(|r| r.rooms).collect();
    rooms.sort_unstable();
    rooms.dedup();
    let points = || lines.iter().flat_map(|(_, _, by)| by.values().flatten());
    let x_max = points().map(|p| p.0).fold(1.0f64, f64::max);
    let y_max = points().map(|p| p.3).fold(1.0f64, f64::max);
    if rooms.is_empty() {
        return Err("redis-cpu.csv has no rows".into());
    }
    let path = dir.join("redis-cpu.svg");
    let root = SVGBackend::new(&path, SIZE).into_drawing_area();
    root.fill(&WHITE).map_err(|e| e.to_string())?;
    let (charts, caption_area) = root.split_vertically(SIZE.1 - CAPTION);
    let (title_area, charts) = charts.split_vertically(36);
    title_area
        .titled(
            "Redis CPU per room broadcast against servers: medians, and bars over the middle half of the slices",
            ("sans-serif", 20),
        )
        .map_err(|e| e.to_string())?;
    let panels = charts.split_evenly((1, rooms.len()));
    for (p, (area, &r)) in panels.iter().zip(&rooms).enumerate() {
        let title = if r == 1 {
            "1 room".to_owned()
        } else {
            format!("{r} rooms")
        };
        let mut chart = ChartBuilder::on(area)
            .caption(title, ("sans-serif", 15))
            .margin(12)
            .x_label_area_size(36)
            .y_label_area_size(if p == 0 { 56 } else { 40 })
            .build_cartesian_2d(0.5..x_max + 0.5, 0.0..y_max * 1.15)
            .map_err(|e| e.to_string())?;
        let mut mesh = chart.configure_mesh();
        mesh.x_desc("servers")
            .x_labels(x_max as usize + 1)
            .x_label_formatter(&|x| {
                if x.fract() == 0.0 {
                    human(*x)
                } else {
                    String::new()
                }
            })
            .y_label_formatter(&|y| human(*y))
            .bold_line_style(BLACK.mix(0.08))
            .light_line_style(TRANSPARENT)
            .axis_style(BLACK.mix(0.6));
        if p == 0 {
            mesh.y_desc("Redis CPU, µs per broadcast");
        }
        mesh.draw().map_err(|e| e.to_string())?;
        for (i, (name, dashed, by)) in lines.iter().enumerate() {
            let color = COLORS[i % COLORS.len()];
            let Some(pts) = by.get(&r) else { continue };
            // The bars side by side, a little apart, so that none hides
            // another.
            let dx = (i as f64 - (lines.len() - 1) as f64 / 2.0) * 0.07;
            chart
                .draw_series(pts.iter().map(|&(x, _, q1, q3)| {
                    PathElement::new(
                        vec![(x + dx, q1), (x + dx, q3)],
                        color.mix(0.5).stroke_width(3),
                    )
                }))
                .map_err(|e| e.to_string())?;
            let pts: Vec<(f64, f64)> = pts.iter().map(|&(x, m, _, _)| (x, m)).collect();
            let style = color.stroke_width(2);
            let drawn = if *dashed {
                chart.draw_series(DashedLineSeries::new(pts.clone(), 6, 4, style))
            } else {
                chart.draw_series(LineSeries::new(pts.clone(), style))
            }
            .map_err(|e| e.to_string())?;
            if p == 0 {
                let dashed = *dashed;
                drawn.label(name.as_str()).legend(move |(x, y)| {
                    let (dash, gap) = if dashed { (6, 4) } else { (24, 0) };
                    DashedPathElement::new(
                        vec![(x, y), (x + 24, y)],
                        dash,
                        gap,
                        color.stroke_width(2),
                    )
                });
            }
            chart
                .draw_series(pts.iter().map(|&pt| Circle::new(pt, 3, color.filled())))
                .map_err(|e| e.to_string())?;
        }
        if p == 0 {
            chart
                .configure_series_labels()
                .background_style(WHITE.mix(0.9))
                .border_style(BLACK.mix(0.3))
                .position(SeriesLabelPosition::UpperLeft)
                .draw()
                .map_err(|e| e.to_string())?;
        }
    }
    // 1140 pixels hold about 175 characters of the caption's font.
    draw_caption_wrapped(&caption_area, &caption, 175)?;
    root.present().map_err(|e| e.to_string())?;
    println!("drew {}", path.display());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_bench_csv_and_takes_medians() {
        let csv = "mode,servers,rooms,cpu_us_per_broadcast,max_node_cpu_us_per_broadcast\n\
                   sharded,2,10,9,4\nsharded,2,10,7,3\nsharded,2,10,8,5\nclassic,1,10,5,5\n";
        let runs = parse(csv).unwrap();
        assert_eq!(runs.len(), 4);
        let lines = series(&runs);
        let names: Vec<&str> = lines.iter().map(|l| l.0.as_str()).collect();
        assert_eq!(
            names,
            [
                "sharded on a 3-node cluster",
                "classic, one Redis",
                "sharded: its busiest node"
            ]
        );
        assert_eq!(lines[0].2[&10], vec![(2.0, 8.0, 7.5, 8.5)]);
        assert_eq!(lines[2].2[&10], vec![(2.0, 4.0, 3.5, 4.5)]);
        assert!(parse("mode,servers\nx,1\n").is_err());
        assert!(
            parse(
                "mode,servers,rooms,cpu_us_per_broadcast,max_node_cpu_us_per_broadcast\nx,a,1,1,1\n"
            )
            .is_err()
        );
    }
}
