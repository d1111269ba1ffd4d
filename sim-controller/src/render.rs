//! Pictures of a run: a Mermaid sequence diagram (GitHub renders it) and a
//! Chrome/Perfetto trace (load it in `ui.perfetto.dev` or
//! `chrome://tracing`).

use std::collections::BTreeMap;
use std::fmt::Write as _;

use crate::sim::RunOutcome;
use crate::transcript::Shape;

/// Which participant an actor is drawn as: tasks share one lifeline.
fn lane(actor: &str) -> &str {
    if actor.starts_with("task ") {
        "tasks"
    } else {
        actor
    }
}

/// Left to right: the controller and its transport, the executor's access,
/// the session and its machinery, JIT'd code, managers, the rest.
fn rank(lane: &str) -> u8 {
    let first = lane.split(' ').next().unwrap_or(lane);
    match first {
        "script" => 0,
        "ctl" => 1,
        "net" => 2,
        "ca" => 3,
        "session" => 4,
        "dispatcher" => 5,
        "tasks" => 6,
        "jit" => 7,
        "host" => 8,
        "rm" | "memory" => 9,
        "cb" => 10,
        _ => 11,
    }
}

fn ident(lane: &str) -> String {
    lane.chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect()
}

/// Text Mermaid accepts in a message or note (no `;`, `#` or line breaks).
fn mermaid_text(s: &str) -> String {
    s.replace(';', ",")
        .replace('#', "no. ")
        .replace(['\n', '\r'], " ")
}

/// A Mermaid `sequenceDiagram` of the run, in a Markdown code fence.
pub fn mermaid(o: &RunOutcome) -> String {
    format!("```mermaid\n{}```\n", mermaid_diagram(o))
}

/// The Mermaid `sequenceDiagram` of the run, without a fence (what a web
/// page hands to Mermaid).
pub fn mermaid_diagram(o: &RunOutcome) -> String {
    let mut out = String::from("sequenceDiagram\n");
    let _ = writeln!(out, "    title {} (seed {})", o.scenario, o.seed);
    let mut lanes: Vec<&str> = Vec::new();
    for a in o.transcript.actors() {
        let l = lane(a);
        if !lanes.contains(&l) {
            lanes.push(l);
        }
    }
    // Stable: actors of one rank keep their order of appearance.
    lanes.sort_by_key(|l| rank(l));
    for l in &lanes {
        let _ = writeln!(out, "    participant {} as {}", ident(l), l);
    }
    let mut last_time = None;
    for e in &o.transcript.events {
        if last_time != Some(e.time) {
            let _ = writeln!(
                out,
                "    Note over {},{}: t={}",
                ident(lanes[0]),
                ident(lanes[lanes.len() - 1]),
                e.time
            );
            last_time = Some(e.time);
        }
        let me = ident(lane(&e.actor));
        let text = mermaid_text(&e.text);
        match &e.shape {
            // A message is drawn once, when it arrives.
            Shape::Send(..) => {
                let _ = writeln!(out, "    Note right of {me}: {text}");
            }
            Shape::Recv(_, from) => {
                let _ = writeln!(out, "    {}->>{me}: {text}", ident(lane(from)));
            }
            Shape::Lost(_, to) => {
                let _ = writeln!(out, "    {me}-x{}: {text}", ident(lane(to)));
            }
            Shape::Failure => {
                let _ = writeln!(out, "    Note over {me}: ❌ {text}");
            }
            Shape::Begin | Shape::End | Shape::Note | Shape::Quote => {
                let prefix = if lane(&e.actor) == e.actor {
                    String::new()
                } else {
                    format!("{}: ", e.actor)
                };
                let _ = writeln!(
                    out,
                    "    Note right of {me}: {}{text}",
                    mermaid_text(&prefix)
                );
            }
        }
    }
    out
}

fn json_str(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A Chrome trace-event JSON document of the run: one track per actor,
/// spans for tasks and JIT'd code, instants for events, and flow arrows
/// for messages. One tick of virtual time is drawn as 1 ms; events within
/// a tick are spread by 1 µs so their order stays visible.
pub fn trace_json(o: &RunOutcome) -> String {
    let mut tids: BTreeMap<&str, usize> = BTreeMap::new();
    let actors = o.transcript.actors();
    for (i, a) in actors.iter().enumerate() {
        tids.insert(a, i + 1);
    }
    let mut items: Vec<String> = Vec::new();
    items.push(format!(
        "{{\"ph\":\"M\",\"pid\":1,\"name\":\"process_name\",\"args\":{{\"name\":{}}}}}",
        json_str(&format!("{} (seed {})", o.scenario, o.seed))
    ));
    for (a, tid) in &tids {
        items.push(format!(
            "{{\"ph\":\"M\",\"pid\":1,\"tid\":{tid},\"name\":\"thread_name\",\"args\":{{\"name\":{}}}}}",
            json_str(a)
        ));
        items.push(format!(
            "{{\"ph\":\"M\",\"pid\":1,\"tid\":{tid},\"name\":\"thread_sort_index\",\"args\":{{\"sort_index\":{tid}}}}}"
        ));
    }
    let mut last_time = u64::MAX;
    let mut sub = 0u64;
    for e in &o.transcript.events {
        if e.time != last_time {
            last_time = e.time;
            sub = 0;
        } else {
            sub += 1;
        }
        let ts = e.time * 1000 + sub;
        let tid = tids[e.actor.as_str()];
        let name = json_str(&e.text);
        let common = format!("\"pid\":1,\"tid\":{tid},\"ts\":{ts}");
        match &e.shape {
            Shape::Begin => items.push(format!("{{\"ph\":\"B\",{common},\"name\":{name}}}")),
            Shape::End => items.push(format!("{{\"ph\":\"E\",{common},\"name\":{name}}}")),
            Shape::Send(no, _) | Shape::Recv(no, _) => {
                let ph = if matches!(e.shape, Shape::Send(..)) {
                    "s"
                } else {
                    "f"
                };
                items.push(format!(
                    "{{\"ph\":\"i\",\"s\":\"t\",{common},\"name\":{name}}}"
                ));
                let bp = if ph == "f" { ",\"bp\":\"e\"" } else { "" };
                items.push(format!("{{\"ph\":\"{ph}\",{common},\"id\":{no},\"cat\":\"msg\",\"name\":\"m{no}\"{bp}}}"));
            }
            Shape::Lost(..) | Shape::Note | Shape::Quote | Shape::Failure => {
                items.push(format!(
                    "{{\"ph\":\"i\",\"s\":\"t\",{common},\"name\":{name}}}"
                ));
            }
        }
    }
    format!(
        "{{\"displayTimeUnit\":\"ms\",\"traceEvents\":[\n{}\n]}}\n",
        items.join(",\n")
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transcript::{Event, Transcript};

    fn outcome() -> RunOutcome {
        let ev = |time, actor: &str, text: &str, shape| Event {
            time,
            actor: actor.into(),
            text: text.into(),
            shape,
        };
        RunOutcome {
            scenario: "s".into(),
            seed: 1,
            transcript: Transcript {
                events: vec![
                    ev(0, "ctl", "call c1 [m1]", Shape::Send(1, "ca".into())),
                    ev(2, "ca", "call \"c1\"; go", Shape::Recv(1, "ctl".into())),
                    ev(2, "task 1", "start", Shape::Begin),
                    ev(2, "task 1", "end", Shape::End),
                ],
            },
            violations: vec![],
            failures: vec![],
            expectations: 0,
            steps: 4,
            reached: vec![],
            runtime_probes: vec![],
            choices_taken: 0,
        }
    }

    #[test]
    fn mermaid_draws_messages_and_lanes() {
        let m = mermaid(&outcome());
        assert!(m.starts_with("```mermaid\nsequenceDiagram\n"));
        assert!(m.contains("participant tasks as tasks"));
        assert!(m.contains("ctl->>ca: call \"c1\", go"));
        assert!(m.contains("Note right of tasks: task 1: start"));
    }

    #[test]
    fn trace_json_is_well_formed_enough() {
        let j = trace_json(&outcome());
        assert!(j.starts_with("{\"displayTimeUnit\""));
        assert!(j.contains("\"ph\":\"s\",\"pid\":1,\"tid\":1,\"ts\":0,\"id\":1"));
        assert!(j.contains("\"ph\":\"f\",\"pid\":1,\"tid\":2,\"ts\":2000,\"id\":1"));
        assert!(j.contains("\"ph\":\"E\",\"pid\":1,\"tid\":3,\"ts\":2002"));
        assert!(j.contains("\\\"c1\\\""));
        // Balanced braces and brackets (strings contain none unescaped here).
        assert_eq!(j.matches('{').count(), j.matches('}').count());
    }
}
