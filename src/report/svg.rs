//! A small SVG writer for the analysis figures ([`super::figures`]): shapes,
//! text (escaped), linear and log axes with ticks, and colour scales. Plain
//! SVG 1.1, no scripts, fonts by family name only.

use std::fmt::Write;

/// Escape text for XML and HTML element content and double- or
/// single-quoted attribute values (the SVG here and `report.html`).
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// matplotlib's tab10, the colours of series.
pub const PALETTE: [&str; 10] = [
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
    "#bcbd22", "#17becf",
];

/// Colour of series `i`.
pub fn colour(i: usize) -> &'static str {
    PALETTE[i % PALETTE.len()]
}

/// An SVG document being drawn.
pub struct Svg {
    pub width: f64,
    pub height: f64,
    body: String,
}

/// Horizontal text anchor.
#[derive(Clone, Copy)]
pub enum Anchor {
    Start,
    Middle,
    End,
}

impl Anchor {
    fn name(self) -> &'static str {
        match self {
            Anchor::Start => "start",
            Anchor::Middle => "middle",
            Anchor::End => "end",
        }
    }
}

impl Svg {
    /// A white canvas.
    pub fn new(width: f64, height: f64) -> Svg {
        let mut s = Svg {
            width,
            height,
            body: String::new(),
        };
        s.rect(0.0, 0.0, width, height, "#ffffff", None);
        s
    }

    /// Text at (x, y) (baseline at `y + size/3`, so `y` is its middle).
    pub fn text(&mut self, x: f64, y: f64, s: &str, size: f64, anchor: Anchor, style: &str) {
        let _ = writeln!(
            self.body,
            "<text x=\"{x:.1}\" y=\"{:.1}\" font-family=\"sans-serif\" font-size=\"{size}\" \
             text-anchor=\"{}\" {style}>{}</text>",
            y + size / 3.0,
            anchor.name(),
            escape(s)
        );
    }

    /// Text rotated by −90° (reading upwards) centred on (x, y).
    pub fn text_up(&mut self, x: f64, y: f64, s: &str, size: f64) {
        let _ = writeln!(
            self.body,
            "<text transform=\"translate({x:.1},{y:.1}) rotate(-90)\" y=\"{:.1}\" \
             font-family=\"sans-serif\" font-size=\"{size}\" text-anchor=\"middle\">{}</text>",
            size / 3.0,
            escape(s)
        );
    }

    /// A filled rectangle, optionally outlined.
    pub fn rect(&mut self, x: f64, y: f64, w: f64, h: f64, fill: &str, stroke: Option<&str>) {
        let stroke = stroke.map_or(String::new(), |s| format!(" stroke=\"{s}\""));
        let _ = writeln!(
            self.body,
            "<rect x=\"{x:.1}\" y=\"{y:.1}\" width=\"{:.1}\" height=\"{:.1}\" fill=\"{fill}\"{stroke}/>",
            w.max(0.0),
            h.max(0.0)
        );
    }

    /// A straight line; `dash` as an SVG dash array (`""`: solid).
    pub fn line(&mut self, a: (f64, f64), b: (f64, f64), stroke: &str, width: f64, dash: &str) {
        self.polyline(&[a, b], stroke, width, dash);
    }

    /// An open path through `points`.
    pub fn polyline(&mut self, points: &[(f64, f64)], stroke: &str, width: f64, dash: &str) {
        if points.is_empty() {
            return;
        }
        let pts: Vec<String> = points
            .iter()
            .map(|(x, y)| format!("{x:.1},{y:.1}"))
            .collect();
        let dash = if dash.is_empty() {
            String::new()
        } else {
            format!(" stroke-dasharray=\"{dash}\"")
        };
        let _ = writeln!(
            self.body,
            "<polyline points=\"{}\" fill=\"none\" stroke=\"{stroke}\" stroke-width=\"{width}\"{dash}/>",
            pts.join(" ")
        );
    }

    /// A filled polygon with opacity.
    pub fn polygon(&mut self, points: &[(f64, f64)], fill: &str, opacity: f64) {
        let pts: Vec<String> = points
            .iter()
            .map(|(x, y)| format!("{x:.1},{y:.1}"))
            .collect();
        let _ = writeln!(
            self.body,
            "<polygon points=\"{}\" fill=\"{fill}\" fill-opacity=\"{opacity}\" stroke=\"none\"/>",
            pts.join(" ")
        );
    }

    /// A circle, filled or (with `hollow`) outlined.
    pub fn circle(&mut self, c: (f64, f64), r: f64, colour: &str, hollow: bool) {
        let fill = if hollow { "#ffffff" } else { colour };
        let _ = writeln!(
            self.body,
            "<circle cx=\"{:.1}\" cy=\"{:.1}\" r=\"{r}\" fill=\"{fill}\" stroke=\"{colour}\" stroke-width=\"1.5\"/>",
            c.0, c.1
        );
    }

    /// Title at the top left.
    pub fn title(&mut self, title: &str) {
        self.text(
            12.0,
            18.0,
            title,
            18.0,
            Anchor::Start,
            "font-weight=\"bold\"",
        );
    }

    /// The document.
    pub fn finish(self) -> String {
        format!(
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" \
             viewBox=\"0 0 {w} {h}\">\n{}</svg>\n",
            self.body,
            w = self.width,
            h = self.height
        )
    }
}

/// A data range mapped onto a pixel range (log10 when `log`).
#[derive(Clone, Copy)]
pub struct Scale {
    pub lo: f64,
    pub hi: f64,
    pub px0: f64,
    pub px1: f64,
    pub log: bool,
}

impl Scale {
    /// Pixel of `v` (not clamped).
    pub fn px(&self, v: f64) -> f64 {
        let (lo, hi, v) = if self.log {
            (self.lo.log10(), self.hi.log10(), v.log10())
        } else {
            (self.lo, self.hi, v)
        };
        self.px0 + (v - lo) / (hi - lo) * (self.px1 - self.px0)
    }
}

/// About `n` round tick values covering [lo, hi] (1, 2, 5 × 10^k steps).
pub fn ticks(lo: f64, hi: f64, n: usize) -> Vec<f64> {
    let span = (hi - lo).abs().max(f64::MIN_POSITIVE);
    let raw = span / n.max(1) as f64;
    let mag = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 2.5, 5.0, 10.0]
        .into_iter()
        .map(|m| m * mag)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * mag);
    let first = (lo / step).ceil() as i64;
    let last = (hi / step).floor() as i64;
    // k·m / 10^−e rather than k·m·10^e: 6 / 10 is 0.6, 6 · 0.1 is not.
    let m = step / mag;
    (first..=last)
        .map(|k| {
            if mag < 1.0 {
                k as f64 * m / (1.0 / mag).round()
            } else {
                k as f64 * step
            }
        })
        .collect()
}

/// Log-axis ticks: 1, 2, 5 × 10^k within [lo, hi].
pub fn log_ticks(lo: f64, hi: f64) -> Vec<f64> {
    let mut out = Vec::new();
    let mut k = lo.log10().floor() as i32;
    while 10f64.powi(k) <= hi {
        for m in [1.0, 2.0, 5.0] {
            let v = m * 10f64.powi(k);
            if v >= lo * (1.0 - 1e-9) && v <= hi * (1.0 + 1e-9) {
                out.push(v);
            }
        }
        k += 1;
    }
    out
}

/// A tick label without trailing zeros (`0.5`, `-1`, `2000`).
pub fn tick_label(v: f64) -> String {
    let s = format!("{v:.3}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s == "-0" {
        "0".into()
    } else {
        s.into()
    }
}

/// Frame of a plot: light grid lines at `yticks` (and `xticks` when given
/// as positions), axis lines, tick labels and axis titles.
#[allow(clippy::too_many_arguments)]
pub fn frame(
    svg: &mut Svg,
    x: &Scale,
    y: &Scale,
    xticks: &[(f64, String)],
    yticks: &[(f64, String)],
    xdesc: &str,
    ydesc: &str,
) {
    let (x0, x1) = (x.px0.min(x.px1), x.px0.max(x.px1));
    let (y0, y1) = (y.px0.min(y.px1), y.px0.max(y.px1));
    for (v, label) in yticks {
        let py = y.px(*v);
        svg.line((x0, py), (x1, py), "#e0e0e0", 1.0, "");
        svg.text(x0 - 6.0, py, label, 13.0, Anchor::End, "");
    }
    for (v, label) in xticks {
        let px = x.px(*v);
        svg.line((px, y0), (px, y1), "#f0f0f0", 1.0, "");
        svg.line((px, y1), (px, y1 + 4.0), "#555555", 1.0, "");
        svg.text(px, y1 + 14.0, label, 13.0, Anchor::Middle, "");
    }
    svg.line((x0, y1), (x1, y1), "#555555", 1.0, "");
    svg.line((x0, y0), (x0, y1), "#555555", 1.0, "");
    svg.text((x0 + x1) / 2.0, y1 + 34.0, xdesc, 14.0, Anchor::Middle, "");
    svg.text_up(x0 - 48.0, (y0 + y1) / 2.0, ydesc, 14.0);
}

/// Diverging colour for R² in [−1, 1]: blue below 0, white at 0, red above
/// (clamped), as matplotlib's RdBu reversed.
pub fn diverging(v: f64) -> String {
    let t = v.clamp(-1.0, 1.0);
    let (r, g, b) = if t >= 0.0 {
        mix((255.0, 255.0, 255.0), (178.0, 24.0, 43.0), t)
    } else {
        mix((255.0, 255.0, 255.0), (33.0, 102.0, 172.0), -t)
    };
    format!("#{:02x}{:02x}{:02x}", r as u8, g as u8, b as u8)
}

/// Sequential colour for values in [0, 1] (white to dark blue).
pub fn sequential(v: f64) -> String {
    let stops = [
        (247.0, 251.0, 255.0),
        (198.0, 219.0, 239.0),
        (107.0, 174.0, 214.0),
        (33.0, 113.0, 181.0),
        (8.0, 48.0, 107.0),
    ];
    let t = v.clamp(0.0, 1.0) * (stops.len() - 1) as f64;
    let i = (t.floor() as usize).min(stops.len() - 2);
    let (r, g, b) = mix(stops[i], stops[i + 1], t - i as f64);
    format!("#{:02x}{:02x}{:02x}", r as u8, g as u8, b as u8)
}

/// Whether text on `fill` (from [`diverging`] or [`sequential`]) should be
/// white.
pub fn dark(fill: &str) -> bool {
    let c = |i: usize| u8::from_str_radix(&fill[i..i + 2], 16).unwrap_or(255) as f64;
    0.299 * c(1) + 0.587 * c(3) + 0.114 * c(5) < 128.0
}

fn mix(a: (f64, f64, f64), b: (f64, f64, f64), t: f64) -> (f64, f64, f64) {
    (
        a.0 + (b.0 - a.0) * t,
        a.1 + (b.1 - a.1) * t,
        a.2 + (b.2 - a.2) * t,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_are_round_and_cover_the_range() {
        assert_eq!(ticks(-1.0, 1.0, 4), vec![-1.0, -0.5, 0.0, 0.5, 1.0]);
        assert_eq!(ticks(0.0, 1.0, 5), vec![0.0, 0.2, 0.4, 0.6, 0.8, 1.0]);
        assert_eq!(
            log_ticks(100.0, 2000.0),
            vec![100.0, 200.0, 500.0, 1000.0, 2000.0]
        );
        assert_eq!(tick_label(-0.0), "0");
        assert_eq!(tick_label(0.25), "0.25");
        let s = Scale {
            lo: 10.0,
            hi: 1000.0,
            px0: 0.0,
            px1: 200.0,
            log: true,
        };
        assert!((s.px(100.0) - 100.0).abs() < 1e-9);
    }

    #[test]
    fn colours_run_from_blue_through_white_to_red() {
        assert_eq!(diverging(0.0), "#ffffff");
        assert_eq!(diverging(1.0), "#b2182b");
        assert_eq!(diverging(-5.0), "#2166ac");
        assert!(dark(&sequential(1.0)) && !dark(&sequential(0.0)));
    }
}
