//! TEST DOUBLE, never shipped: a stand-in for Lean's REPL and language server that speaks their
//! documented wire shapes and answers from a scripted fixture, for proofwright-lean's tests.
//!
//! It is not Lean and checks nothing. Invoked with `exe repl` among its arguments it speaks the
//! leanprover-community REPL protocol (JSON objects separated by blank lines); with `serve` or
//! `--server` it speaks Lean's language server protocol (`Content-Length` framed JSON-RPC).
//!
//! Environment:
//! - `PROOFWRIGHT_LEAN_STAND_IN_SCRIPT`: path of a JSON script (see [`Script`]); none: defaults.
//! - `PROOFWRIGHT_LEAN_STAND_IN_LOG`: file to append one JSON line per start and per request.
//! - `PROOFWRIGHT_LEAN_STAND_IN_PID_FILE`: where the `hang_with_grandchild` behaviour writes
//!   "<own pid> <grandchild pid>".
//!
//! Besides the script, it simulates three things Lean always does: every `sorry` word yields a
//! sorry (REPL) and a "declaration uses 'sorry'" warning on the declaration before it; every
//! `#print axioms NAME` line yields the axioms report for NAME (from the script's `axioms`
//! table, else `sorryAx` when its own text uses `sorry`, else none; "unknown constant" when NAME is
//! not declared with `theorem`, `lemma`, `def` or `axiom`).

use std::collections::{BTreeMap, HashSet};
use std::fs::OpenOptions;
use std::io::{BufRead, BufReader, Write};
use std::time::Duration;

use serde::Deserialize;
use serde_json::{json, Value};

const SCRIPT_VARIABLE: &str = "PROOFWRIGHT_LEAN_STAND_IN_SCRIPT";
const LOG_VARIABLE: &str = "PROOFWRIGHT_LEAN_STAND_IN_LOG";
const PID_FILE_VARIABLE: &str = "PROOFWRIGHT_LEAN_STAND_IN_PID_FILE";
const GRANDCHILD_ARGUMENT: &str = "--test-double-grandchild";
/// How long the grandchild and a hanging stand-in sleep: far longer than any test runs.
const HANG_DURATION: Duration = Duration::from_secs(3600);
const CRASH_EXIT_CODE: i32 = 70;
const USAGE_EXIT_CODE: i32 = 2;
const DEFAULT_SORRY_GOAL: &str = "⊢ stand-in goal";

/// A scripted fixture.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Script {
    /// What the fixture is for (not read).
    #[serde(default)]
    #[allow(dead_code)]
    description: String,
    /// Every rule whose `when_text_contains` occurs in a request's text applies to it.
    #[serde(default)]
    rules: Vec<Rule>,
    /// Axioms reported by `#print axioms NAME`, by declaration name.
    #[serde(default)]
    axioms: BTreeMap<String, Vec<String>>,
    /// Language server: send `workspace/configuration` and `client/registerCapability` requests
    /// after `initialized`, and complain in a diagnostic if they are never answered.
    #[serde(default = "default_true")]
    server_requests_after_initialize: bool,
}

impl Default for Script {
    fn default() -> Self {
        Script {
            description: String::new(),
            rules: Vec::new(),
            axioms: BTreeMap::new(),
            server_requests_after_initialize: true,
        }
    }
}

fn default_true() -> bool {
    true
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Rule {
    #[serde(default)]
    when_text_contains: String,
    #[serde(default)]
    messages: Vec<ScriptedMessage>,
    #[serde(default)]
    goals: Vec<ScriptedGoal>,
    /// Tactic mode: the proofStatus to answer (default: "Completed" when no goals remain).
    #[serde(default)]
    proof_status: Option<String>,
    #[serde(default)]
    behaviour: Behaviour,
    /// For `slow`: seconds to wait before answering.
    #[serde(default)]
    delay_seconds: f64,
    /// For `huge`: the size of the extra message's text.
    #[serde(default)]
    huge_bytes: usize,
    /// Language server: report a fatal error in `$/lean/fileProgress` (kind 2).
    #[serde(default)]
    fatal_progress: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ScriptedMessage {
    /// "error", "warning", "info" or "trace".
    severity: String,
    /// The message starts at the first occurrence of this text (at the start if absent).
    #[serde(default)]
    at: String,
    data: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ScriptedGoal {
    /// The goal is reported for positions inside the first occurrence of this text.
    at: String,
    goals: Vec<String>,
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Behaviour {
    #[default]
    Answer,
    /// Wait `delay_seconds`, then answer.
    Slow,
    /// Write half an answer, then exit with status 70.
    Crash,
    /// Write something that is not the protocol, then keep running.
    Garbage,
    /// Answer with an extra message of `huge_bytes` bytes.
    Huge,
    /// Start a grandchild process in the same process group, write both ids to the pid file,
    /// and never answer.
    HangWithGrandchild,
}

/// One simulated message, in byte offsets of the text it is about.
struct SimulatedMessage {
    severity: &'static str,
    start: usize,
    end: usize,
    data: String,
}

fn main() {
    let arguments: Vec<String> = std::env::args().skip(1).collect();
    if arguments
        .iter()
        .any(|argument| argument == GRANDCHILD_ARGUMENT)
    {
        std::thread::sleep(HANG_DURATION);
        return;
    }
    if arguments.iter().any(|argument| argument == "--version") {
        println!("Lean (version 4.0.0, lean-stand-in-test-double)");
        return;
    }
    let script = match load_script() {
        Ok(script) => script,
        Err(problem) => {
            eprintln!("lean-stand-in-test-double: {problem}");
            std::process::exit(USAGE_EXIT_CODE);
        }
    };
    log(
        &json!({ "started": true, "arguments": arguments, "address_space_limit": address_space_limit() }),
    );
    if arguments
        .iter()
        .any(|argument| argument == "serve" || argument == "--server")
    {
        run_language_server(&script);
    } else if arguments.iter().any(|argument| argument == "repl") {
        run_repl(&script);
    } else {
        eprintln!("lean-stand-in-test-double: pass `exe repl`, `serve` or `--server`");
        std::process::exit(USAGE_EXIT_CODE);
    }
}

fn load_script() -> Result<Script, String> {
    let Some(path) = std::env::var_os(SCRIPT_VARIABLE) else {
        return Ok(Script::default());
    };
    let text = std::fs::read_to_string(&path)
        .map_err(|error| format!("cannot read script {}: {error}", path.to_string_lossy()))?;
    serde_json::from_str(&text)
        .map_err(|error| format!("bad script {}: {error}", path.to_string_lossy()))
}

fn log(entry: &Value) {
    let Some(path) = std::env::var_os(LOG_VARIABLE) else {
        return;
    };
    let mut entry = entry.clone();
    entry["pid"] = json!(std::process::id());
    if let Ok(mut file) = OpenOptions::new().create(true).append(true).open(path) {
        let mut line = entry.to_string();
        line.push('\n');
        let _ = file.write_all(line.as_bytes());
    }
}

/// The "Max address space" line of /proc/self/limits, to show the limit the parent set.
fn address_space_limit() -> Option<String> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    limits
        .lines()
        .find(|line| line.starts_with("Max address space"))
        .map(|line| line.split_whitespace().collect::<Vec<_>>().join(" "))
}

fn matching_rules<'script>(script: &'script Script, text: &str) -> Vec<&'script Rule> {
    script
        .rules
        .iter()
        .filter(|rule| text.contains(&rule.when_text_contains))
        .collect()
}

/// The first rule with a behaviour other than answering, if any.
fn special_rule<'script>(rules: &[&'script Rule]) -> Option<&'script Rule> {
    rules
        .iter()
        .copied()
        .find(|rule| rule.behaviour != Behaviour::Answer)
}

/// Waits, crashes or hangs as the rule says. Returns normally when an answer should follow.
fn act_before_answering(rule: Option<&Rule>, partial_answer: &[u8]) {
    let Some(rule) = rule else {
        return;
    };
    match rule.behaviour {
        Behaviour::Slow => {
            std::thread::sleep(Duration::from_secs_f64(rule.delay_seconds.max(0.0)));
        }
        Behaviour::Crash => {
            let mut stdout = std::io::stdout().lock();
            let _ = stdout.write_all(partial_answer);
            let _ = stdout.flush();
            eprintln!("lean-stand-in-test-double: crashing on purpose mid-request");
            std::process::exit(CRASH_EXIT_CODE);
        }
        Behaviour::HangWithGrandchild => {
            let grandchild = std::env::current_exe().and_then(|executable| {
                std::process::Command::new(executable)
                    .arg(GRANDCHILD_ARGUMENT)
                    .stdin(std::process::Stdio::null())
                    .stdout(std::process::Stdio::null())
                    .stderr(std::process::Stdio::null())
                    .spawn()
            });
            if let (Ok(grandchild), Some(pid_file)) =
                (grandchild, std::env::var_os(PID_FILE_VARIABLE))
            {
                let _ = std::fs::write(
                    pid_file,
                    format!("{} {}\n", std::process::id(), grandchild.id()),
                );
            }
            loop {
                std::thread::sleep(HANG_DURATION);
            }
        }
        Behaviour::Answer | Behaviour::Garbage | Behaviour::Huge => {}
    }
}

/// Simulates what Lean would say about `text`: scripted messages, sorry warnings, axiom
/// reports (`context` is earlier text the declarations may live in, for the REPL's `env`).
fn simulate(script: &Script, rules: &[&Rule], text: &str, context: &str) -> Vec<SimulatedMessage> {
    let mut messages = Vec::new();
    for rule in rules {
        for message in &rule.messages {
            let start = if message.at.is_empty() {
                0
            } else {
                text.find(&message.at).unwrap_or(0)
            };
            messages.push(SimulatedMessage {
                severity: match message.severity.as_str() {
                    "error" => "error",
                    "warning" => "warning",
                    "trace" => "trace",
                    _ => "info",
                },
                start,
                end: start + message.at.len(),
                data: message.data.clone(),
            });
        }
        if rule.behaviour == Behaviour::Huge {
            messages.push(SimulatedMessage {
                severity: "info",
                start: 0,
                end: 0,
                data: "x".repeat(rule.huge_bytes),
            });
        }
    }
    let mut warned_declarations = HashSet::new();
    for sorry in sorry_offsets(text) {
        let declaration = declaration_start_before(text, sorry);
        if warned_declarations.insert(declaration) {
            messages.push(SimulatedMessage {
                severity: "warning",
                start: declaration,
                end: declaration,
                data: "declaration uses 'sorry'".to_owned(),
            });
        }
    }
    let mut line_start = 0;
    for line in text.split_inclusive('\n') {
        if let Some(name) = line.trim().strip_prefix("#print axioms ") {
            let name = name.trim();
            let all_text = format!("{context}\n{text}");
            let declared = ["theorem", "lemma", "def", "axiom"].iter().any(|keyword| {
                all_text.contains(&format!("{keyword} {name} "))
                    || all_text.contains(&format!("{keyword} {name}\n"))
            });
            let (severity, data) = if !declared {
                ("error", format!("unknown constant '{name}'"))
            } else {
                let axioms = script.axioms.get(name).cloned().unwrap_or_else(|| {
                    let own_text = declaration_text(&all_text, name);
                    if sorry_offsets(own_text).next().is_some() {
                        vec!["sorryAx".to_owned()]
                    } else {
                        Vec::new()
                    }
                });
                if axioms.is_empty() {
                    ("info", format!("'{name}' does not depend on any axioms"))
                } else {
                    (
                        "info",
                        format!("'{name}' depends on axioms: [{}]", axioms.join(", ")),
                    )
                }
            };
            messages.push(SimulatedMessage {
                severity,
                start: line_start,
                end: line_start + line.trim_end().len(),
                data,
            });
        }
        line_start += line.len();
    }
    messages
}

fn is_identifier_character(character: char) -> bool {
    character.is_alphanumeric() || character == '_' || character == '\''
}

/// Byte offsets of every `sorry` word outside `#print` lines.
fn sorry_offsets(text: &str) -> impl Iterator<Item = usize> + '_ {
    text.match_indices("sorry")
        .map(|(offset, _)| offset)
        .filter(move |&offset| {
            let before = text[..offset].chars().next_back();
            let after = text[offset + "sorry".len()..].chars().next();
            let line_start = text[..offset].rfind('\n').map_or(0, |index| index + 1);
            !before.is_some_and(is_identifier_character)
                && !after.is_some_and(is_identifier_character)
                && !text[line_start..].starts_with("#print")
        })
}

/// The text of declaration `name`: from its keyword to the next declaration or `#print`.
fn declaration_text<'text>(text: &'text str, name: &str) -> &'text str {
    let start = ["theorem", "lemma", "def", "axiom"]
        .iter()
        .filter_map(|keyword| text.find(&format!("{keyword} {name}")))
        .min()
        .unwrap_or(0);
    let rest = &text[start + 1..];
    let end = [
        "\ntheorem ",
        "\nlemma ",
        "\ndef ",
        "\naxiom ",
        "\nexample",
        "\n#print",
    ]
    .iter()
    .filter_map(|keyword| rest.find(keyword))
    .min()
    .map_or(text.len(), |offset| start + 1 + offset);
    &text[start..end]
}

fn declaration_start_before(text: &str, offset: usize) -> usize {
    ["theorem ", "lemma ", "example", "def ", "instance"]
        .iter()
        .filter_map(|keyword| text[..offset].rfind(keyword))
        .max()
        .unwrap_or(0)
}

/// Lean's position: 1-based line, column in codepoints.
fn lean_position(text: &str, offset: usize) -> Value {
    let offset = offset.min(text.len());
    let line_start = text[..offset].rfind('\n').map_or(0, |index| index + 1);
    let line = text[..offset].matches('\n').count() + 1;
    json!({ "line": line, "column": text[line_start..offset].chars().count() })
}

/// LSP's position: 0-based line, column in UTF-16 code units.
fn lsp_position(text: &str, offset: usize) -> Value {
    let offset = offset.min(text.len());
    let line_start = text[..offset].rfind('\n').map_or(0, |index| index + 1);
    let line = text[..offset].matches('\n').count();
    json!({ "line": line, "character": text[line_start..offset].encode_utf16().count() })
}

fn lsp_offset(text: &str, line: u64, character: u64) -> Option<usize> {
    let mut line_start = 0;
    for _ in 0..line {
        line_start += text[line_start..].find('\n')? + 1;
    }
    let mut units = 0u64;
    for (index, ch) in text[line_start..].char_indices() {
        if units >= character || ch == '\n' {
            return Some(line_start + index);
        }
        units += ch.len_utf16() as u64;
    }
    Some(text.len())
}

// ---------------------------------------------------------------------------------------------
// The REPL.

struct ReplState {
    environments: Vec<String>,
    next_proof_state: u64,
}

fn run_repl(script: &Script) {
    let stdin = std::io::stdin();
    let mut reader = BufReader::new(stdin.lock());
    let mut state = ReplState {
        environments: Vec::new(),
        next_proof_state: 0,
    };
    loop {
        let mut request = String::new();
        loop {
            let mut line = String::new();
            match reader.read_line(&mut line) {
                Ok(0) | Err(_) => {
                    if request.trim().is_empty() {
                        return;
                    }
                    break;
                }
                Ok(_) => {}
            }
            if line.trim().is_empty() {
                if request.trim().is_empty() {
                    continue;
                }
                break;
            }
            request.push_str(&line);
        }
        let answer = match serde_json::from_str::<Value>(&request) {
            Ok(request) => {
                log(&json!({ "received": request }));
                repl_answer(script, &mut state, &request)
            }
            Err(error) => Some(json!({ "message": format!("Could not parse JSON:\n{error}") })),
        };
        if let Some(answer) = answer {
            let mut stdout = std::io::stdout().lock();
            let text = serde_json::to_string_pretty(&answer).unwrap_or_default();
            let _ = stdout.write_all(text.as_bytes());
            let _ = stdout.write_all(b"\n\n");
            let _ = stdout.flush();
        }
    }
}

fn repl_answer(script: &Script, state: &mut ReplState, request: &Value) -> Option<Value> {
    if let Some(command) = request.get("cmd").and_then(Value::as_str) {
        let context = match request.get("env") {
            None => String::new(),
            Some(environment) => {
                let known = environment
                    .as_u64()
                    .and_then(|environment| state.environments.get(environment as usize));
                match known {
                    Some(text) => text.clone(),
                    None => return Some(json!({ "message": "Unknown environment." })),
                }
            }
        };
        let rules = matching_rules(script, command);
        let special = special_rule(&rules);
        act_before_answering(special, b"{\"env\": ");
        if special.is_some_and(|rule| rule.behaviour == Behaviour::Garbage) {
            write_raw(b"stand-in garbage: this is not JSON\n\n");
            return None;
        }
        let messages: Vec<Value> = simulate(script, &rules, command, &context)
            .into_iter()
            .map(|message| {
                json!({
                    "severity": message.severity,
                    "pos": lean_position(command, message.start),
                    "endPos": lean_position(command, message.end),
                    "data": message.data,
                })
            })
            .collect();
        let sorries: Vec<Value> = sorry_offsets(command)
            .map(|offset| {
                let proof_state = state.next_proof_state;
                state.next_proof_state += 1;
                json!({
                    "goal": DEFAULT_SORRY_GOAL,
                    "proofState": proof_state,
                    "pos": lean_position(command, offset),
                    "endPos": lean_position(command, offset + "sorry".len()),
                })
            })
            .collect();
        let environment = state.environments.len();
        state.environments.push(format!("{context}\n{command}"));
        let mut answer = json!({ "env": environment });
        if !messages.is_empty() {
            answer["messages"] = Value::Array(messages);
        }
        if !sorries.is_empty() {
            answer["sorries"] = Value::Array(sorries);
        }
        if request.get("allTactics").and_then(Value::as_bool) == Some(true) {
            let mut tactics = Vec::new();
            for rule in &rules {
                for goal in &rule.goals {
                    let Some(start) = command.find(&goal.at) else {
                        continue;
                    };
                    let proof_state = state.next_proof_state;
                    state.next_proof_state += 1;
                    tactics.push(json!({
                        "tactic": goal.at,
                        "goals": goal.goals.join("\n\n"),
                        "proofState": proof_state,
                        "pos": lean_position(command, start),
                        "endPos": lean_position(command, start + goal.at.len()),
                        "usedConstants": [],
                    }));
                }
            }
            answer["tactics"] = Value::Array(tactics);
        }
        return Some(answer);
    }
    if let Some(tactic) = request.get("tactic").and_then(Value::as_str) {
        let known = request
            .get("proofState")
            .and_then(Value::as_u64)
            .is_some_and(|proof_state| proof_state < state.next_proof_state);
        if !known {
            return Some(json!({ "message": "Unknown proof state." }));
        }
        let rules = matching_rules(script, tactic);
        let special = special_rule(&rules);
        act_before_answering(special, b"{\"proofState\": ");
        let goals: Vec<String> = rules
            .iter()
            .flat_map(|rule| rule.goals.iter().flat_map(|goal| goal.goals.clone()))
            .collect();
        let status = rules
            .iter()
            .find_map(|rule| rule.proof_status.clone())
            .unwrap_or_else(|| {
                if goals.is_empty() {
                    "Completed".to_owned()
                } else {
                    "Incomplete: open goals remain".to_owned()
                }
            });
        let messages: Vec<Value> = simulate(script, &rules, tactic, "")
            .into_iter()
            .map(|message| {
                json!({
                    "severity": message.severity,
                    "pos": lean_position(tactic, message.start),
                    "endPos": lean_position(tactic, message.end),
                    "data": message.data,
                })
            })
            .collect();
        let proof_state = state.next_proof_state;
        state.next_proof_state += 1;
        let mut answer =
            json!({ "proofState": proof_state, "goals": goals, "proofStatus": status });
        if !messages.is_empty() {
            answer["messages"] = Value::Array(messages);
        }
        return Some(answer);
    }
    Some(json!({ "message": "stand-in: only cmd and tactic requests are simulated" }))
}

fn write_raw(bytes: &[u8]) {
    let mut stdout = std::io::stdout().lock();
    let _ = stdout.write_all(bytes);
    let _ = stdout.flush();
}

// ---------------------------------------------------------------------------------------------
// The language server.

struct Document {
    uri: String,
    version: i64,
    text: String,
}

fn send_frame(message: &Value) {
    let body = message.to_string();
    write_raw(format!("Content-Length: {}\r\n\r\n{body}", body.len()).as_bytes());
}

fn read_frame(reader: &mut impl BufRead) -> Option<Value> {
    let mut length = None;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).ok()? == 0 {
            return None;
        }
        let line = line.trim_end();
        if line.is_empty() {
            if length.is_some() {
                break;
            }
            continue;
        }
        if let Some((name, value)) = line.split_once(':') {
            if name.eq_ignore_ascii_case("content-length") {
                length = value.trim().parse::<usize>().ok();
            }
        }
    }
    let mut body = vec![0u8; length?];
    reader.read_exact(&mut body).ok()?;
    serde_json::from_slice(&body).ok()
}

fn run_language_server(script: &Script) {
    let stdin = std::io::stdin();
    let mut reader = BufReader::new(stdin.lock());
    let mut unanswered: HashSet<String> = HashSet::new();
    let mut document: Option<Document> = None;
    while let Some(message) = read_frame(&mut reader) {
        log(&json!({ "received": message }));
        let method = message
            .get("method")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let id = message.get("id").cloned();
        let params = message.get("params").cloned().unwrap_or(Value::Null);
        if method.is_empty() {
            // An answer to one of our requests.
            if let Some(id) = id.as_ref().and_then(Value::as_str) {
                unanswered.remove(id);
            }
            continue;
        }
        let respond = |result: Value| {
            if let Some(id) = &id {
                send_frame(&json!({ "jsonrpc": "2.0", "id": id, "result": result }));
            }
        };
        match method {
            "initialize" => respond(json!({
                "capabilities": { "textDocumentSync": 1 },
                "serverInfo": { "name": "lean-stand-in-test-double" }
            })),
            "initialized" => {
                if script.server_requests_after_initialize {
                    send_frame(&json!({
                        "jsonrpc": "2.0", "id": "stand-in-configuration", "method": "workspace/configuration",
                        "params": { "items": [{ "section": "lean" }] }
                    }));
                    send_frame(&json!({
                        "jsonrpc": "2.0", "id": "stand-in-registration", "method": "client/registerCapability",
                        "params": { "registrations": [] }
                    }));
                    unanswered.insert("stand-in-configuration".to_owned());
                    unanswered.insert("stand-in-registration".to_owned());
                }
            }
            "textDocument/didOpen" => {
                let item = params.get("textDocument").cloned().unwrap_or(Value::Null);
                document = Some(Document {
                    uri: item
                        .get("uri")
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .to_owned(),
                    version: item.get("version").and_then(Value::as_i64).unwrap_or(0),
                    text: item
                        .get("text")
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .to_owned(),
                });
            }
            "textDocument/didChange" => {
                if let Some(document) = document.as_mut() {
                    document.version = params
                        .pointer("/textDocument/version")
                        .and_then(Value::as_i64)
                        .unwrap_or(document.version + 1);
                    if let Some(text) = params
                        .get("contentChanges")
                        .and_then(Value::as_array)
                        .and_then(|changes| changes.last())
                        .and_then(|change| change.get("text"))
                        .and_then(Value::as_str)
                    {
                        document.text = text.to_owned();
                    }
                }
            }
            "textDocument/waitForDiagnostics" => {
                let Some(document) = document.as_ref() else {
                    respond(json!({}));
                    continue;
                };
                // Like a server waiting for its configuration: read until our requests are
                // answered. A client that never answers leaves this request hanging.
                while !unanswered.is_empty() {
                    let Some(message) = read_frame(&mut reader) else {
                        return;
                    };
                    log(&json!({ "received": message }));
                    if message.get("method").is_some() {
                        break;
                    }
                    if let Some(id) = message.get("id").and_then(Value::as_str) {
                        unanswered.remove(id);
                    }
                }
                let rules = matching_rules(script, &document.text);
                let special = special_rule(&rules);
                act_before_answering(special, b"Content-Length: 100\r\n\r\n{\"jsonrpc\"");
                if special.is_some_and(|rule| rule.behaviour == Behaviour::Garbage) {
                    write_raw(b"stand-in garbage: this is not a header line\r\n\r\n");
                    continue;
                }
                publish_diagnostics(script, &rules, document, &unanswered);
                respond(json!({}));
            }
            "$/lean/plainGoal" => {
                let goals = document
                    .as_ref()
                    .and_then(|document| plain_goal(script, document, &params));
                respond(goals.unwrap_or(Value::Null));
            }
            "shutdown" => respond(Value::Null),
            "exit" => return,
            _ => {
                if let Some(id) = &id {
                    send_frame(&json!({
                        "jsonrpc": "2.0", "id": id,
                        "error": { "code": -32601, "message": format!("stand-in does not simulate {method}") }
                    }));
                }
            }
        }
    }
}

fn publish_diagnostics(
    script: &Script,
    rules: &[&Rule],
    document: &Document,
    unanswered: &HashSet<String>,
) {
    let text = &document.text;
    let diagnostic = |severity: &str, start: usize, end: usize, message: &str| {
        json!({
            "range": { "start": lsp_position(text, start), "end": lsp_position(text, end) },
            "severity": match severity { "error" => 1, "warning" => 2, "trace" => 4, _ => 3 },
            "source": "Lean 4",
            "message": message,
        })
    };
    // Noise the client must ignore: another document, and an older version of this one.
    send_frame(&json!({
        "jsonrpc": "2.0", "method": "textDocument/publishDiagnostics",
        "params": { "uri": "file:///stand-in/other.lean", "version": 1,
                    "diagnostics": [diagnostic("error", 0, 0, "stand-in: diagnostics for another document")] }
    }));
    if document.version > 1 {
        send_frame(&json!({
            "jsonrpc": "2.0", "method": "textDocument/publishDiagnostics",
            "params": { "uri": document.uri, "version": document.version - 1,
                        "diagnostics": [diagnostic("error", 0, 0, "stand-in: stale diagnostics from an older version")] }
        }));
    }
    let whole = json!({ "start": lsp_position(text, 0), "end": lsp_position(text, text.len()) });
    send_frame(&json!({
        "jsonrpc": "2.0", "method": "$/lean/fileProgress",
        "params": { "textDocument": { "uri": document.uri, "version": document.version },
                    "processing": [{ "range": whole, "kind": 1 }] }
    }));
    // A first, partial publication; the later one for the same version replaces it.
    send_frame(&json!({
        "jsonrpc": "2.0", "method": "textDocument/publishDiagnostics",
        "params": { "uri": document.uri, "version": document.version,
                    "diagnostics": [diagnostic("error", 0, 0, "stand-in: partial diagnostics, replaced later")] }
    }));
    let mut diagnostics: Vec<Value> = simulate(script, rules, text, "")
        .into_iter()
        .map(|message| diagnostic(message.severity, message.start, message.end, &message.data))
        .collect();
    if !unanswered.is_empty() {
        let mut names: Vec<&String> = unanswered.iter().collect();
        names.sort();
        diagnostics.push(diagnostic(
            "error",
            0,
            0,
            &format!("stand-in: the client left server requests unanswered: {names:?}"),
        ));
    }
    if rules.iter().any(|rule| rule.fatal_progress) {
        send_frame(&json!({
            "jsonrpc": "2.0", "method": "$/lean/fileProgress",
            "params": { "textDocument": { "uri": document.uri, "version": document.version },
                        "processing": [{ "range": whole, "kind": 2 }] }
        }));
    }
    send_frame(&json!({
        "jsonrpc": "2.0", "method": "textDocument/publishDiagnostics",
        "params": { "uri": document.uri, "version": document.version, "diagnostics": diagnostics }
    }));
    send_frame(&json!({
        "jsonrpc": "2.0", "method": "$/lean/fileProgress",
        "params": { "textDocument": { "uri": document.uri, "version": document.version }, "processing": [] }
    }));
}

fn plain_goal(script: &Script, document: &Document, params: &Value) -> Option<Value> {
    let line = params.pointer("/position/line")?.as_u64()?;
    let character = params.pointer("/position/character")?.as_u64()?;
    let offset = lsp_offset(&document.text, line, character)?;
    let rules = matching_rules(script, &document.text);
    for rule in rules {
        for goal in &rule.goals {
            let Some(start) = document.text.find(&goal.at) else {
                continue;
            };
            if start <= offset && offset < start + goal.at.len() {
                let rendered = format!("```lean\n{}\n```", goal.goals.join("\n\n"));
                return Some(json!({ "rendered": rendered, "goals": goal.goals }));
            }
        }
    }
    None
}
