//! Chat templates rendered by Proofwright against what Hugging Face transformers rendered for the
//! same templates and conversations: every fixture checkpoint's own template
//! (`chat_template_example` in its expected.json, from scripts/make_fixtures.py) and the
//! hand-written templates in fixtures/chat_templates (goldens.json, from
//! scripts/make_chat_template_goldens.py). The text must be identical; where transformers
//! raised `raise_exception`, Proofwright must refuse with the same message.

use proofwright_model::{ChatMessage, ChatTemplate, ChatTemplateError, SpecialTokens};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> T {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[derive(Deserialize)]
struct FixtureExpected {
    /// Absent from fixtures made by other scripts (not transformers' reference checkpoints).
    chat_template_example: Option<ChatExample>,
}

#[derive(Deserialize)]
struct ChatExample {
    messages: Vec<ChatMessage>,
    add_generation_prompt: bool,
    text: String,
}

#[test]
fn every_fixture_checkpoint_renders_its_own_template_like_transformers() {
    let mut n_checked = 0;
    let mut entries: Vec<PathBuf> = std::fs::read_dir(fixtures_dir())
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.join("expected.json").exists())
        .collect();
    entries.sort();
    for dir in entries {
        let expected: FixtureExpected = read_json(&dir.join("expected.json"));
        let Some(example) = expected.chat_template_example else {
            continue;
        };
        let template = ChatTemplate::from_model_dir(&dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .unwrap_or_else(|| panic!("{}: no chat template found", dir.display()));
        let rendered = template
            .render(&example.messages, example.add_generation_prompt)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
        assert_eq!(rendered, example.text, "{}", dir.display());
        n_checked += 1;
    }
    assert!(
        n_checked >= 11,
        "only {n_checked} fixture checkpoints were found"
    );
}

#[derive(Deserialize)]
struct Goldens {
    cases: Vec<GoldenCase>,
}

#[derive(Deserialize)]
struct GoldenCase {
    template: String,
    tokenizer_fixture: String,
    conversation: String,
    add_generation_prompt: bool,
    variables: serde_json::Map<String, serde_json::Value>,
    text: Option<String>,
    error: Option<GoldenError>,
}

#[derive(Deserialize)]
struct GoldenError {
    kind: String,
    message: String,
}

#[derive(Deserialize)]
struct Conversations {
    conversations: BTreeMap<String, Vec<ChatMessage>>,
}

#[test]
fn hand_written_templates_render_like_transformers() {
    let chat_dir = fixtures_dir().join("chat_templates");
    let goldens: Goldens = read_json(&chat_dir.join("goldens.json"));
    let conversations: Conversations = read_json(&chat_dir.join("conversations.json"));
    let mut failures = Vec::new();
    let mut templates_seen = std::collections::BTreeSet::new();
    for case in &goldens.cases {
        let label = format!(
            "{} with {} tokens, {} (add_generation_prompt={}, variables={:?})",
            case.template,
            case.tokenizer_fixture,
            case.conversation,
            case.add_generation_prompt,
            case.variables
        );
        templates_seen.insert(case.template.clone());
        let source = std::fs::read_to_string(chat_dir.join("templates").join(&case.template))
            .unwrap_or_else(|e| panic!("{label}: {e}"));
        let special_tokens =
            SpecialTokens::from_model_dir(&fixtures_dir().join(&case.tokenizer_fixture))
                .unwrap_or_else(|e| panic!("{label}: {e}"));
        let template = ChatTemplate::new(source, special_tokens, case.template.clone())
            .unwrap_or_else(|e| panic!("{label}: {e}"));
        let messages = &conversations.conversations[&case.conversation];
        let outcome =
            template.render_with_variables(messages, case.add_generation_prompt, &case.variables);
        match (&outcome, &case.text, &case.error) {
            (Ok(rendered), Some(expected), None) if rendered == expected => {}
            (Ok(rendered), Some(expected), None) => failures.push(format!(
                "{label}:\n--- transformers\n{expected}\n--- proofwright\n{rendered}\n---"
            )),
            (Err(ChatTemplateError::Raised { message, .. }), None, Some(expected))
                if expected.kind == "raised" && *message == expected.message => {}
            (_, None, Some(expected)) if expected.kind != "raised" && outcome.is_err() => {}
            (outcome, _, _) => failures.push(format!(
                "{label}: got {outcome:?}, transformers gave text {:?} / error {:?}",
                case.text,
                case.error.as_ref().map(|e| &e.message)
            )),
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases differ:\n{}",
        failures.len(),
        goldens.cases.len(),
        failures.join("\n")
    );
    assert!(
        templates_seen.len() >= 7,
        "templates seen: {templates_seen:?}"
    );
}
