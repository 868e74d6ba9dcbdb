//! Where a checkpoint's chat template is found (chat_template.jinja, tokenizer_config.json as a
//! string or as named templates) and the errors a template can give: a syntax error with its
//! line, `raise_exception`'s message, an empty conversation. Rendering itself is checked
//! against transformers in chat_template_goldens.rs.

use proofwright_model::{ChatMessage, ChatTemplate, ChatTemplateError, SpecialTokens};
use serde_json::json;
use std::path::Path;

fn write_model_dir(
    tokenizer_config: Option<serde_json::Value>,
    jinja_file: Option<&str>,
) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    if let Some(config) = tokenizer_config {
        std::fs::write(dir.path().join("tokenizer_config.json"), config.to_string()).unwrap();
    }
    if let Some(source) = jinja_file {
        std::fs::write(dir.path().join("chat_template.jinja"), source).unwrap();
    }
    dir
}

fn render_user(template: &ChatTemplate) -> String {
    template.render(&[ChatMessage::user("hi")], true).unwrap()
}

#[test]
fn the_template_is_found_where_transformers_looks() {
    let tokens = json!({"bos_token": "<s>", "eos_token": {"content": "</s>", "special": true}});
    let mut config = tokens.clone();
    config["chat_template"] = json!("config:{{ bos_token }}{{ messages[0].content }}");

    let from_config = write_model_dir(Some(config.clone()), None);
    let template = ChatTemplate::from_model_dir(from_config.path())
        .unwrap()
        .unwrap();
    assert_eq!(render_user(&template), "config:<s>hi");
    assert!(template
        .origin()
        .ends_with("tokenizer_config.json (chat_template)"));

    // chat_template.jinja wins over tokenizer_config.json.
    let both = write_model_dir(
        Some(config),
        Some("file:{{ eos_token }}{{ messages[0].content }}"),
    );
    let template = ChatTemplate::from_model_dir(both.path()).unwrap().unwrap();
    assert_eq!(render_user(&template), "file:</s>hi");

    // The list form: the template named `default`.
    let mut named = tokens.clone();
    named["chat_template"] = json!([
        {"name": "tool_use", "template": "tools"},
        {"name": "default", "template": "default:{{ messages[0].content }}"}
    ]);
    let dir = write_model_dir(Some(named), None);
    let template = ChatTemplate::from_model_dir(dir.path()).unwrap().unwrap();
    assert_eq!(render_user(&template), "default:hi");

    // No template at all: a completion-style checkpoint.
    let none = write_model_dir(Some(tokens), None);
    assert!(ChatTemplate::from_model_dir(none.path()).unwrap().is_none());
    let empty = tempfile::tempdir().unwrap();
    assert!(ChatTemplate::from_model_dir(empty.path())
        .unwrap()
        .is_none());
}

#[test]
fn special_tokens_come_from_tokenizer_config_then_special_tokens_map() {
    let dir = write_model_dir(
        Some(json!({"eos_token": "<|im_end|>", "pad_token": null})),
        None,
    );
    std::fs::write(
        dir.path().join("special_tokens_map.json"),
        json!({"bos_token": {"content": "<|begin|>"}, "unk_token": "<unk>"}).to_string(),
    )
    .unwrap();
    let tokens = SpecialTokens::from_model_dir(dir.path()).unwrap();
    assert_eq!(
        tokens.tokens,
        vec![
            ("bos_token".to_owned(), "<|begin|>".to_owned()),
            ("eos_token".to_owned(), "<|im_end|>".to_owned()),
            ("unk_token".to_owned(), "<unk>".to_owned()),
        ]
    );
    // A tokenizer_config.json with added_tokens_decoder is a new-style one: the map file is
    // ignored, as transformers does.
    let dir = write_model_dir(
        Some(json!({"eos_token": "</s>", "added_tokens_decoder": {}})),
        None,
    );
    std::fs::write(
        dir.path().join("special_tokens_map.json"),
        json!({"bos_token": "<s>"}).to_string(),
    )
    .unwrap();
    let tokens = SpecialTokens::from_model_dir(dir.path()).unwrap();
    assert_eq!(
        tokens.tokens,
        vec![("eos_token".to_owned(), "</s>".to_owned())]
    );
}

fn error_text(result: Result<impl std::fmt::Debug, ChatTemplateError>, dir: &Path) -> String {
    result
        .unwrap_err()
        .to_string()
        .replace(&dir.display().to_string(), "<dir>")
}

#[test]
fn bad_templates_and_configs_are_errors_that_name_the_problem() {
    let syntax = write_model_dir(
        None,
        Some("line one\n{% if messages %}\n{{ messages[0] }\n{% endif %}"),
    );
    let text = error_text(ChatTemplate::from_model_dir(syntax.path()), syntax.path());
    assert!(
        text.starts_with("<dir>/chat_template.jinja: chat template syntax error at line 3: "),
        "{text}"
    );
    assert!(text.ends_with("; fix the template"), "{text}");

    let no_default = write_model_dir(
        Some(
            json!({"chat_template": [{"name": "rag", "template": "a"}, {"name": "tool_use", "template": "b"}]}),
        ),
        None,
    );
    assert_eq!(
        error_text(
            ChatTemplate::from_model_dir(no_default.path()),
            no_default.path()
        ),
        "<dir>/tokenizer_config.json: the checkpoint has several chat templates (rag, tool_use) \
         and none is named `default`; add a `default` one or pass a model directory whose \
         template is unambiguous"
    );

    let wrong_type = write_model_dir(Some(json!({"chat_template": 3})), None);
    assert_eq!(
        error_text(
            ChatTemplate::from_model_dir(wrong_type.path()),
            wrong_type.path()
        ),
        "<dir>/tokenizer_config.json: `chat_template` is a number; it must be a template string \
         or a list of named templates"
    );

    let not_json = tempfile::tempdir().unwrap();
    std::fs::write(not_json.path().join("tokenizer_config.json"), "{").unwrap();
    let text = error_text(
        ChatTemplate::from_model_dir(not_json.path()),
        not_json.path(),
    );
    assert!(
        text.starts_with("<dir>/tokenizer_config.json: invalid JSON: "),
        "{text}"
    );
}

#[test]
fn render_errors_say_what_the_template_said() {
    let template = ChatTemplate::new(
        "{% if messages[0].role != 'user' %}{{ raise_exception('the first message must be the user\\'s') }}{% endif %}\n{{ messages[0].content | no_such_filter }}".to_owned(),
        SpecialTokens::default(),
        "test.jinja".to_owned(),
    )
    .unwrap();
    assert_eq!(
        template.render(&[ChatMessage::assistant("x")], false).unwrap_err().to_string(),
        "test.jinja: the chat template refused the conversation: the first message must be the user's"
    );
    let error = template
        .render(&[ChatMessage::user("x")], false)
        .unwrap_err()
        .to_string();
    assert!(
        error.starts_with("test.jinja: rendering the chat template failed at line 2: "),
        "{error}"
    );
    assert_eq!(
        template.render(&[], true).unwrap_err().to_string(),
        "the conversation is empty; a chat template needs at least one message"
    );
}

#[test]
fn strftime_now_formats_the_local_date() {
    let template = ChatTemplate::new(
        "{{ strftime_now('%d %b %Y') }}".to_owned(),
        SpecialTokens::default(),
        "date.jinja".to_owned(),
    )
    .unwrap();
    let before = jiff::ZonedDateTime::now().strftime("%d %b %Y").to_string();
    let rendered = render_user(&template);
    let after = jiff::ZonedDateTime::now().strftime("%d %b %Y").to_string();
    assert!(
        rendered == before || rendered == after,
        "{rendered} vs {before} / {after}"
    );
}
