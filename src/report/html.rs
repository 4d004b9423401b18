//! `report.html`: one self-contained page to read a run — run metadata, the
//! figures as inline SVG, the results table, each analysis's sections and
//! the inputs table. Inline CSS, no scripts, nothing fetched from the
//! network.

use std::fmt::Write;

use super::grid::Table;
use super::markdown::{
    folds_description, inputs_table, instability_lines, rank_description, results_table, run_line,
};
use super::plot::Figure;
use super::svg::escape;
use super::Report;
use crate::probe::ProbeKind;

const STYLE: &str = "\
body{font-family:system-ui,-apple-system,'Segoe UI',Roboto,'DejaVu Sans',sans-serif;\
margin:2em auto;max-width:1280px;padding:0 1.5em;color:#222;line-height:1.45}\
h1{margin-bottom:.2em}h2{margin-top:1.8em;border-bottom:1px solid #ddd;padding-bottom:.2em}\
p.lead{color:#444;max-width:60em}\
table{border-collapse:collapse;margin:.6em 0;font-size:.92em}\
th,td{padding:.25em .7em;border-bottom:1px solid #e4e4e4;text-align:left;vertical-align:top}\
thead th{border-bottom:2px solid #bbb;background:#f6f6f6;position:sticky;top:0}\
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}\
table.meta th{font-weight:600;white-space:nowrap;color:#444}\
tbody tr:nth-child(even){background:#fafafa}\
code{font-family:ui-monospace,'DejaVu Sans Mono',monospace;font-size:.95em}\
figure{margin:1.2em 0;overflow-x:auto}\
figure svg{max-width:100%;height:auto;border:1px solid #eee}\
figcaption{color:#555;font-size:.9em;margin-top:.3em}\
footer{margin-top:3em;color:#777;font-size:.85em}";

/// The page. `figures` are inlined as SVG markup as given (they come from
/// [`super::figures::figures`], whose text is already escaped); every other
/// piece of text from the report is HTML-escaped here.
pub fn report_html(report: &Report, figures: &[Figure]) -> String {
    let mut h = String::new();
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>cpd report</title>\n<style>{STYLE}</style>\n</head>\n<body>\n"
    );
    let _ = writeln!(h, "<h1>cpd report</h1>");
    verdict_list(&mut h, report, "h2");
    let _ = writeln!(
        h,
        "<p class=\"lead\">R² is the mean over folds of scikit-learn's <code>r2_score</code> \
         on each held-out fold, with its 95 % interval in brackets (a bootstrap over structures \
         of the out-of-fold predictions; ± std over folds in a report without intervals). <em>comp</em>: probe on composition alone; <em>raw</em>: on the \
         embedding; <em>geom</em>: on the embedding after removing everything linear in \
         composition (<code>H − Q Qᵀ H</code>).</p>"
    );

    let _ = writeln!(h, "<h2>Run</h2>");
    let _ = writeln!(h, "<table class=\"meta\">\n<tbody>");
    for (k, v) in run_metadata(report) {
        let _ = writeln!(h, "<tr><th>{}</th><td>{}</td></tr>", escape(k), escape(&v));
    }
    let _ = writeln!(h, "</tbody>\n</table>");

    if !figures.is_empty() {
        let _ = writeln!(h, "<h2>Figures</h2>");
        for f in figures {
            let _ = writeln!(
                h,
                "<figure>\n{}<figcaption>{} (<code>{}</code>)</figcaption>\n</figure>",
                inline_svg(&f.svg, &f.title),
                escape(&f.title),
                escape(&f.file_name)
            );
        }
    }

    let _ = writeln!(h, "<h2>Results</h2>");
    html_table(&mut h, &results_table(report));
    for (title, lead, table) in super::parts::sections(report) {
        // The lead is Markdown; its `*` (emphasis) are dropped here.
        let lead = lead.replace('*', "");
        let _ = writeln!(h, "<h2>{}</h2>\n<p>{}</p>", escape(&title), escape(&lead));
        html_table(&mut h, &table);
    }
    let _ = writeln!(h, "<h2>Inputs</h2>");
    html_table(&mut h, &inputs_table(report));

    let _ = writeln!(
        h,
        "<footer>Written by {} {}. The same numbers are in <code>report.json</code> and \
         <code>results.csv</code>.</footer>\n</body>\n</html>",
        escape(&report.tool.name),
        escape(&report.tool.version)
    );
    h
}

/// The verdict under a heading of level `heading`, when there is one.
fn verdict_list(h: &mut String, report: &Report, heading: &str) {
    if !report.verdict.is_empty() {
        let _ = writeln!(h, "<{heading}>Verdict</{heading}>\n<ul class=\"verdict\">");
        for line in &report.verdict {
            let _ = writeln!(h, "<li>{}</li>", escape(line));
        }
        let _ = writeln!(h, "</ul>");
    }
}

/// The report in brief as an HTML fragment, for a notebook's display of a
/// report: the run line, the verdict, the results table (R² with their
/// intervals) and the instability lines of the text table. No figures (a
/// notebook shows those one by one) and no page around it; the style is
/// inline, so the fragment looks the same wherever it is put. `rows`: the
/// number of structures, for the run line.
pub fn summary_html(report: &Report, rows: usize) -> String {
    let mut h = String::from("<div class=\"cpd-report\">\n");
    let _ = writeln!(
        h,
        "<p><strong>{}</strong></p>",
        escape(&run_line(report, rows))
    );
    verdict_list(&mut h, report, "h4");
    html_table(&mut h, &results_table(report));
    let lines = instability_lines(report);
    if !lines.is_empty() {
        let _ = writeln!(h, "<pre>{}</pre>", escape(lines.trim_end()));
    }
    h.push_str("</div>\n");
    h
}

/// The run's settings as (label, value) pairs.
fn run_metadata(report: &Report) -> Vec<(&str, String)> {
    let s = &report.settings;
    let mut m = vec![
        (
            "tool",
            format!("{} {}", report.tool.name, report.tool.version),
        ),
        ("folds", folds_line(report)),
        ("probes", s.probes.join(", ")),
        ("targets", s.targets.join(", ")),
        ("composition", composition_line(report)),
        ("scaling (ridge, mlp)", s.scale.describe().to_string()),
        (
            "target residualised",
            if s.residualize_target { "yes" } else { "no" }.to_string(),
        ),
    ];
    if s.probes.iter().any(|p| p == "ridge") {
        m.push(("ridge", ridge_line(report)));
    }
    m.extend(probe_lines(report));
    if s.similarity {
        m.push((
            "similarity",
            "linear CKA between every pair of layers, raw and geom".into(),
        ));
    }
    if !s.compare.is_empty() {
        m.push((
            "comparisons",
            format!(
                "{} between every pair of layers, raw and geom, on at most {} structures",
                s.compare.join(", "),
                s.compare_rows.unwrap_or_default()
            ),
        ));
    }
    m.push(("linear algebra", s.linalg_backend.clone()));
    m.push(("time", format!("{:.2} s", report.timing.seconds)));
    m
}

/// The folds: how many, how they were made, rows per fold.
fn folds_line(report: &Report) -> String {
    let s = &report.settings;
    let sizes: Vec<String> = s.fold_sizes.iter().map(|n| n.to_string()).collect();
    format!(
        "{} ({}); rows per fold {}",
        s.folds,
        folds_description(report),
        sizes.join(", ")
    )
}

/// The composition basis: mode, columns, rank and the columns dropped.
fn composition_line(report: &Report) -> String {
    let c = &report.composition;
    format!(
        "{} of {}; {} of {} columns with the intercept; dropped: {}",
        c.mode,
        c.columns.join(", "),
        rank_description(report),
        c.columns.len() + 1,
        if c.dropped.is_empty() {
            "none".to_string()
        } else {
            c.dropped.join(", ")
        }
    )
}

/// The ridge penalty: the leave-one-out grid, or the fixed alphas.
fn ridge_line(report: &Report) -> String {
    let s = &report.settings;
    let a = &s.ridge.alphas;
    match (s.ridge.selection.as_str(), a.first(), a.last()) {
        ("loo", Some(lo), Some(hi)) => format!(
            "alpha chosen per training fold by leave-one-out over {} values from {lo} to {hi}",
            a.len()
        ),
        (sel, _, _) => format!(
            "alpha {} ({sel})",
            a.iter()
                .map(|x| x.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// One (probe, description) line per probe of the run whose parameters
/// describe themselves.
fn probe_lines(report: &Report) -> Vec<(&str, String)> {
    let s = &report.settings;
    s.probe_params
        .iter()
        .filter_map(|(name, params)| {
            s.probes
                .iter()
                .any(|p| p == name)
                .then(|| serde_json::from_value::<ProbeKind>(name.as_str().into()).ok())
                .flatten()
                .and_then(|k| k.describe(params))
                .map(|line| (name.as_str(), line))
        })
        .collect()
}

/// An SVG document made fit for inlining: no namespace URL (the HTML parser
/// puts `<svg>` in the SVG namespace itself) and an accessible name.
fn inline_svg(svg: &str, title: &str) -> String {
    let svg = svg.replacen(" xmlns=\"http://www.w3.org/2000/svg\"", "", 1);
    svg.replacen(
        "<svg ",
        &format!("<svg role=\"img\" aria-label=\"{}\" ", escape(title)),
        1,
    )
}

fn html_table(h: &mut String, t: &Table) {
    let class = |numeric: bool| if numeric { " class=\"num\"" } else { "" };
    let _ = writeln!(h, "<table>\n<thead>\n<tr>");
    for c in &t.columns {
        let _ = write!(h, "<th{}>{}</th>", class(c.numeric), escape(&c.name));
    }
    let _ = writeln!(h, "\n</tr>\n</thead>\n<tbody>");
    for row in &t.rows {
        let _ = write!(h, "<tr>");
        for (v, c) in row.iter().zip(&t.columns) {
            if c.code {
                let _ = write!(h, "<td{}><code>{}</code></td>", class(c.numeric), escape(v));
            } else {
                let _ = write!(h, "<td{}>{}</td>", class(c.numeric), escape(v));
            }
        }
        let _ = writeln!(h, "</tr>");
    }
    let _ = writeln!(h, "</tbody>\n</table>");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::figures::figures;
    use crate::report::fixture::{report, triple};

    /// Void elements of HTML that the page uses (no end tag).
    const VOID: &[&str] = &["meta"];

    /// Check that every element opened is closed, in order; returns the
    /// names of the elements seen.
    fn check_balanced(html: &str) -> Vec<String> {
        let mut stack: Vec<String> = Vec::new();
        let mut seen = Vec::new();
        let mut rest = html;
        while let Some(i) = rest.find('<') {
            rest = &rest[i + 1..];
            let end = rest.find('>').expect("unterminated tag");
            let tag = &rest[..end];
            rest = &rest[end + 1..];
            if tag.starts_with('!') {
                continue; // <!DOCTYPE html>
            }
            assert!(!tag.contains('<'), "'<' inside a tag: {tag}");
            let closing = tag.starts_with('/');
            let name: String = tag
                .trim_start_matches('/')
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric())
                .collect();
            assert!(!name.is_empty(), "bad tag <{tag}>");
            seen.push(name.clone());
            if closing {
                assert_eq!(
                    stack.pop().as_deref(),
                    Some(name.as_str()),
                    "</{name}> closes the wrong element"
                );
            } else if !(tag.ends_with('/') || VOID.contains(&name.as_str())) {
                stack.push(name);
            }
        }
        assert!(stack.is_empty(), "unclosed: {stack:?}");
        seen
    }

    fn sample() -> Report {
        let mut results = triple(
            "sevennet0",
            "l_last",
            "gap_ev",
            [Some(0.404), Some(0.7231), Some(0.3179)],
        );
        results.extend(triple(
            "<ani>&",
            "aev",
            "gap_ev",
            [Some(0.404), Some(0.7419), Some(-1.4243)],
        ));
        results.extend(triple(
            "sevennet0",
            "l_last",
            "mass \"amu\"",
            [Some(1.0), Some(0.273), None],
        ));
        report(results)
    }

    #[test]
    fn page_holds_every_record_escaped_and_nothing_from_the_network() {
        let r = sample();
        let figs = figures(&r).unwrap();
        let html = report_html(&r, &figs);
        for rec in &r.results {
            if let Some(m) = rec.r2_mean {
                let cell = format!("{m:.3} ± {:.3}", rec.r2_std.unwrap());
                assert!(
                    html.contains(&format!("<td class=\"num\">{cell}</td>")),
                    "{cell}"
                );
            }
        }
        // The undefined geom R² of the mass target is a dash, not a number.
        assert!(html.contains("<td>mass &quot;amu&quot;</td><td>ridge</td><td class=\"num\">1.000 ± 0.020</td><td class=\"num\">0.273 ± 0.020</td><td class=\"num\">—</td>"));
        // Text from the report is escaped everywhere, the figures included.
        assert!(html.contains("<td>&lt;ani&gt;&amp;</td>"));
        assert!(html.contains("<code>data/&lt;emb&gt; &amp; co.npz</code>"));
        assert!(!html.contains("<ani>") && !html.contains("<emb>"));
        // Self-contained: no scripts, no external resources, no URLs at all.
        let lower = html.to_lowercase();
        for bad in [
            "http", "<script", "src=", "href=", "url(", "@import", "<link", "<iframe",
        ] {
            assert!(!lower.contains(bad), "{bad}");
        }
        // Metadata: tool, folds and seed, targets, composition, inputs (sha
        // shortened to 12 digits), timing.
        for s in [
            "<td>cpd 0.1.0</td>",
            "<td>5 (shuffled, seed 0); rows per fold 20, 20, 20, 20, 20</td>",
            "<td>gap_ev, mass &quot;amu&quot;</td>",
            "<td>counts of H, C; rank 3 of 3 columns with the intercept; dropped: none</td>",
            "<td><code>0123456789ab</code></td>",
            "<td>1.25 s</td>",
        ] {
            assert!(html.contains(s), "{s}");
        }
        assert!(!html.contains("0123456789abc"));
    }

    #[test]
    fn page_is_balanced_and_inlines_every_figure() {
        let r = sample();
        let figs = figures(&r).unwrap();
        assert_eq!(figs.len(), 2);
        let html = report_html(&r, &figs);
        let seen = check_balanced(&html);
        for name in [
            "html", "head", "body", "table", "figure", "svg", "rect", "text",
        ] {
            assert!(seen.iter().any(|s| s == name), "{name}");
        }
        assert_eq!(html.matches("<svg ").count(), 2);
        assert_eq!(html.matches("<figure>").count(), 2);
        for f in &figs {
            assert!(html.contains(&format!("(<code>{}</code>)", f.file_name)));
            assert!(html.contains(&format!("aria-label=\"{}\"", escape(&f.title))));
        }
        // The clipped value's label made it into the page.
        assert!(html.contains("-1.424"));
        // 3 result rows + 1 input row, each with its header row.
        assert_eq!(html.matches("<thead>").count(), 2);
        assert_eq!(
            html.matches("<tr>").count(),
            2 + 3 + 1 + run_metadata(&r).len()
        );
    }

    #[test]
    fn page_without_figures_has_no_figure_section() {
        let r = sample();
        let html = report_html(&r, &[]);
        check_balanced(&html);
        assert!(!html.contains("<h2>Figures</h2>") && !html.contains("<svg"));
    }

    #[test]
    fn summary_holds_the_run_line_verdict_table_and_instability_lines() {
        let mut r = sample();
        r.verdict = vec!["sevennet0 <first>".into(), "ani second".into()];
        let plain = summary_html(&r, 100);
        check_balanced(&plain);
        assert!(plain.starts_with("<div class=\"cpd-report\">\n<p><strong>cpd 0.1.0: 100 structures, 5 folds (seed 0), composition rank 3 (H C)</strong></p>"));
        assert!(plain.contains("<h4>Verdict</h4>\n<ul class=\"verdict\">\n<li>sevennet0 &lt;first&gt;</li>\n<li>ani second</li>\n</ul>"));
        // The results table and nothing else: 3 rows and their header.
        assert_eq!(plain.matches("<tr>").count(), 1 + 3);
        assert!(plain.contains("<td class=\"num\">0.723 ± 0.020</td>"));
        assert!(!plain.contains("<pre>") && !plain.contains("<svg") && !plain.contains("<style"));
        let key = r.results[0].key();
        r.instability.unstable = vec![key.clone()];
        r.instability.rule = "a rule".into();
        let flagged = summary_html(&r, 100);
        check_balanced(&flagged);
        let pre = format!("<pre>! unstable, 1 of {} records: a rule\n  --predictions writes every out-of-fold prediction</pre>", r.results.len());
        assert!(flagged.contains(&pre), "{flagged}");
    }

    #[test]
    fn escape_covers_markup_and_quotes() {
        assert_eq!(
            escape(r#"<a href='x'>&"#),
            "&lt;a href=&#39;x&#39;&gt;&amp;"
        );
        assert_eq!(escape("\"R²\""), "&quot;R²&quot;");
    }
}
