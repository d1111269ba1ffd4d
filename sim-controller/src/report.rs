//! `orc-sim report`: one self-contained HTML page of a replay — per
//! scenario the seeds run, the probes reached, and each failing run with
//! its reproduce line, its Mermaid sequence diagram and its Perfetto trace.
//!
//! Everything is inside the page: the diagrams as Mermaid text (drawn by
//! Mermaid when the page can load it from a CDN, shown as text otherwise)
//! and the traces as `data:` URLs (a download link, and a link that opens
//! the trace in the Perfetto UI through its `postMessage` interface).

use std::fmt::Write as _;

use crate::render;
use crate::runner::{Rerun, ScenarioReport, Summary};
use crate::sim::{RunOutcome, SwarmPlan};

/// Failing runs per scenario drawn with a diagram and a trace (the others
/// are listed with their reproduce lines).
pub const PICTURED_FAILURES: usize = 5;

/// Where the page loads Mermaid from.
const MERMAID_URL: &str = "https://cdn.jsdelivr.net/npm/mermaid@11/dist/mermaid.esm.min.mjs";
const PERFETTO_URL: &str = "https://ui.perfetto.dev";

/// Escapes text for HTML (content and attribute values).
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

/// Standard base64 (RFC 4648, with padding).
pub fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// An HTML id made of `parts`.
fn id(parts: &[&str]) -> String {
    parts
        .join("-")
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

const STYLE: &str = "\
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 90em; padding: 0 1em; }
table { border-collapse: collapse; margin: 0.5em 0; }
th, td { border: 1px solid #ccc; padding: 0.2em 0.6em; text-align: left; }
td.num { text-align: right; }
.pass { color: #070; }
.fail { color: #b00; font-weight: bold; }
pre { background: #f6f6f6; padding: 0.5em; overflow: auto; }
pre.mermaid { background: #fff; border: 1px solid #ddd; }
section { border-top: 1px solid #ddd; margin-top: 1.5em; }
";

/// The Perfetto UI loads a trace posted to it once it answers `PING`
/// with `PONG` (its documented `postMessage` interface).
const PERFETTO_SCRIPT: &str = r#"
document.querySelectorAll("a.perfetto").forEach(function (a) {
  a.addEventListener("click", function (ev) {
    ev.preventDefault();
    var link = document.getElementById(a.dataset.trace);
    var b64 = link.href.substring(link.href.indexOf(",") + 1);
    var bytes = Uint8Array.from(atob(b64), function (c) { return c.charCodeAt(0); });
    var origin = "PERFETTO_URL";
    var ui = window.open(origin + "/#!/");
    if (!ui) { alert("The browser blocked the Perfetto window: download the trace and open it at " + origin); return; }
    var timer = setInterval(function () { ui.postMessage("PING", origin); }, 50);
    window.addEventListener("message", function pong(e) {
      if (e.source !== ui || e.data !== "PONG") return;
      clearInterval(timer);
      window.removeEventListener("message", pong);
      ui.postMessage({ perfetto: { buffer: bytes.buffer, title: a.dataset.title, fileName: link.download } }, origin);
    });
  });
});
"#;

const MERMAID_SCRIPT: &str = r#"
try {
  const mermaid = (await import("MERMAID_URL")).default;
  mermaid.initialize({ startOnLoad: false, maxTextSize: 10000000, maxEdges: 100000 });
  await mermaid.run({ querySelector: "pre.mermaid" });
} catch (e) {
  document.querySelectorAll("p.mermaid-note").forEach(function (p) { p.hidden = false; });
}
"#;

/// The HTML page of `summary`.
pub fn html(summary: &Summary) -> String {
    let mut h = String::new();
    let verdict = if summary.passed() { "pass" } else { "FAIL" };
    let class = if summary.passed() { "pass" } else { "fail" };
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <title>orc-sim report: {verdict}</title>\n<style>\n{STYLE}</style>\n</head>\n<body>\n\
         <h1>orc-sim replay: <span class=\"{class}\">{verdict}</span></h1>\n"
    );
    let mut about = format!(
        "{} scenarios, {} runs, {} scheduler steps in {:.2} s.",
        summary.scenarios.len(),
        summary.runs(),
        summary.steps(),
        summary.wall.as_secs_f64()
    );
    if summary.swarm {
        about.push_str(" Swarm runs: each seed also picks transport faults.");
    }
    if let Some(b) = summary.base_seed {
        let _ = write!(about, " An exploration of fresh seeds from {b}.");
    }
    if let Some(s) = summary.shard {
        let _ = write!(about, " Shard {s} of the runs.");
    }
    let _ = writeln!(h, "<p>{}</p>", escape(&about));
    for l in &summary.previous_unfinished {
        let _ = writeln!(
            h,
            "<p class=\"fail\">The previous replay stopped during: <code>{}</code></p>",
            escape(l)
        );
    }
    summary_table(&mut h, summary);
    probe_table(&mut h, summary);
    let _ = writeln!(h, "<h2 id=\"scenarios\">Scenarios</h2>");
    for r in &summary.scenarios {
        scenario(&mut h, summary, r);
    }
    let _ = write!(
        h,
        "<script>{}</script>\n<script type=\"module\">{}</script>\n</body>\n</html>\n",
        PERFETTO_SCRIPT.replace("PERFETTO_URL", PERFETTO_URL),
        MERMAID_SCRIPT.replace("MERMAID_URL", MERMAID_URL)
    );
    h
}

fn summary_table(h: &mut String, summary: &Summary) {
    let _ = writeln!(
        h,
        "<h2 id=\"summary\">Summary</h2>\n<table>\n<thead><tr><th>scenario</th><th>seeds</th>\
         <th>result</th><th>probes reached</th><th>time</th><th>steps</th></tr></thead>\n<tbody>"
    );
    for r in &summary.scenarios {
        let class = if r.passed() { "pass" } else { "fail" };
        let probes = if r.probes.is_empty() {
            "-".to_owned()
        } else {
            format!(
                "{}/{}",
                r.probes.iter().filter(|p| p.reached > 0).count(),
                r.probes.len()
            )
        };
        let _ = writeln!(
            h,
            "<tr><td><a href=\"#{}\">{}</a></td><td class=\"num\">{}</td><td class=\"{class}\">{}</td>\
             <td class=\"num\">{probes}</td><td class=\"num\">{:.2} s</td><td class=\"num\">{}</td></tr>",
            id(&["scenario", &r.name]),
            escape(&r.name),
            r.seeds.len(),
            escape(&r.verdict()),
            r.time.as_secs_f64(),
            r.steps
        );
    }
    let _ = writeln!(h, "</tbody>\n</table>");
}

fn probe_table(h: &mut String, summary: &Summary) {
    let _ = writeln!(h, "<h2 id=\"probes\">Probes</h2>");
    let rows: Vec<_> = summary
        .scenarios
        .iter()
        .flat_map(|r| r.probes.iter().map(move |p| (r, p)))
        .collect();
    if rows.is_empty() {
        let _ = writeln!(
            h,
            "<p>No scenario declares a probe (<code>reach \"PATTERN\"</code>).</p>"
        );
        return;
    }
    let _ = writeln!(
        h,
        "<table>\n<thead><tr><th>scenario</th><th>probe</th><th>seeds reached</th></tr></thead>\n<tbody>"
    );
    for (r, p) in rows {
        let never = p.reached == 0 && !r.seeds.is_empty();
        let _ = writeln!(
            h,
            "<tr><td>{}</td><td><code>reach {}</code> (line {})</td><td class=\"{}\">{}/{}{}</td></tr>",
            escape(&r.name),
            escape(&format!("{:?}", p.pattern)),
            p.line,
            if never { "fail" } else { "pass" },
            p.reached,
            r.seeds.len(),
            if never { " never reached" } else { "" }
        );
    }
    let _ = writeln!(h, "</tbody>\n</table>");
}

/// `0, 1, 2, 3, ..., 99` for long lists.
fn seed_list(seeds: &[u64]) -> String {
    let shown: Vec<String> = seeds.iter().take(20).map(u64::to_string).collect();
    let mut s = shown.join(", ");
    if seeds.len() > 20 {
        let _ = write!(s, ", ... ({} in all)", seeds.len());
    }
    s
}

fn scenario(h: &mut String, summary: &Summary, r: &ScenarioReport) {
    let class = if r.passed() { "pass" } else { "fail" };
    let _ = writeln!(
        h,
        "<section id=\"{}\">\n<h3>{} <span class=\"{class}\">{}</span></h3>",
        id(&["scenario", &r.name]),
        escape(&r.name),
        escape(&r.verdict())
    );
    let _ = writeln!(
        h,
        "<p>File <code>{}</code>.</p>",
        escape(&r.path.display().to_string())
    );
    if !r.rules.is_empty() {
        let _ = writeln!(h, "<ul>");
        for rule in &r.rules {
            let _ = writeln!(h, "<li>rule: {}</li>", escape(rule));
        }
        let _ = writeln!(h, "</ul>");
    }
    if let Some(e) = &r.error {
        let _ = writeln!(h, "<pre class=\"fail\">{}</pre>\n</section>", escape(e));
        return;
    }
    let _ = writeln!(
        h,
        "<p>Seeds run: {} ({}); {} passed, {} failed.</p>",
        r.seeds.len(),
        escape(&seed_list(&r.seeds)),
        r.seeds.len() - r.failed_seeds.len(),
        r.failed_seeds.len()
    );
    if !r.probes.is_empty() {
        let _ = writeln!(h, "<p>Probes:</p>\n<ul>");
        for p in &r.probes {
            let never = p.reached == 0 && !r.seeds.is_empty();
            let _ = writeln!(
                h,
                "<li><code>reach {}</code>: reached by {} of {} seeds{}</li>",
                escape(&format!("{:?}", p.pattern)),
                p.reached,
                r.seeds.len(),
                if never {
                    " — <span class=\"fail\">never reached</span>"
                } else {
                    ""
                }
            );
        }
        let _ = writeln!(h, "</ul>");
    }
    for n in &r.nondeterministic {
        let what = match n.rerun {
            Rerun::InPool => "two runs in parallel",
            Rerun::Alone => "the run made alone and the run made in parallel",
        };
        let _ = writeln!(
            h,
            "<p class=\"fail\">Seed {}: {what} gave different transcripts, from line {}:</p>\n<pre>{}\n{}</pre>",
            n.seed,
            n.line,
            escape(&n.first),
            escape(&n.other)
        );
    }
    for (k, f) in r.failed.iter().enumerate() {
        if k < PICTURED_FAILURES {
            failure(h, summary, r, f);
        } else {
            let _ = writeln!(
                h,
                "<p>Seed {} failed: <code>{}</code></p>",
                f.seed,
                escape(&summary.reproduce(r, f.seed))
            );
        }
    }
    if r.failed_seeds.len() > r.failed.len() {
        let rest = &r.failed_seeds[r.failed.len()..];
        let _ = writeln!(h, "<p>Also failed: seeds {}.</p>", escape(&seed_list(rest)));
    }
    let _ = writeln!(h, "</section>");
}

fn failure(h: &mut String, summary: &Summary, r: &ScenarioReport, f: &RunOutcome) {
    let seed = f.seed.to_string();
    let anchor = id(&[&r.name, "seed", &seed]);
    let _ = writeln!(h, "<h4 id=\"{anchor}\">Seed {seed} failed</h4>\n<ul>");
    for v in &f.violations {
        let _ = writeln!(h, "<li class=\"fail\">invariant: {}</li>", escape(v));
    }
    for x in &f.failures {
        let _ = writeln!(h, "<li class=\"fail\">{}</li>", escape(x));
    }
    let _ = writeln!(h, "</ul>");
    if summary.swarm {
        let _ = writeln!(
            h,
            "<p>Swarm plan: {}.</p>",
            escape(&SwarmPlan::for_seed(f.seed).to_string())
        );
    }
    let _ = writeln!(
        h,
        "<p>Reproduce: <code>{}</code></p>",
        escape(&summary.reproduce(r, f.seed))
    );
    let _ = writeln!(
        h,
        "<pre class=\"mermaid\">{}</pre>\n<p class=\"mermaid-note\" hidden>Mermaid could not be \
         loaded: the diagram is shown as text (paste it into a Mermaid editor to draw it).</p>",
        escape(&render::mermaid_diagram(f))
    );
    let trace = id(&["trace", &r.name, &seed]);
    let file = format!("{}-{seed}.json", r.name);
    let _ = writeln!(
        h,
        "<p>Perfetto trace: <a id=\"{trace}\" download=\"{}\" href=\"data:application/json;base64,{}\">download</a> \
         or <a class=\"perfetto\" data-trace=\"{trace}\" data-title=\"{}\" href=\"{PERFETTO_URL}\">open it in the Perfetto UI</a> \
         (or open {PERFETTO_URL} and choose <em>Open trace file</em> with the downloaded file).</p>",
        escape(&file),
        base64(render::trace_json(f).as_bytes()),
        escape(&format!("{} seed {seed}", r.name))
    );
    let _ = writeln!(
        h,
        "<details><summary>Transcript</summary>\n<pre>{}</pre>\n</details>",
        escape(&f.render())
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_of_the_rfc_vectors() {
        for (plain, enc) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64(plain.as_bytes()), enc, "{plain}");
        }
    }

    #[test]
    fn escapes_markup() {
        assert_eq!(
            escape(r#"<a href="x">&'</a>"#),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;&lt;/a&gt;"
        );
        assert_eq!(id(&["a b", "seed", "3"]), "a_b-seed-3");
    }
}
