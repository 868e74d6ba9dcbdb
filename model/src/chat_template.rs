//! Chat-model prompts through the checkpoint's own `chat_template`, rendered with minijinja set up
//! like transformers' sandboxed Jinja environment so that the text is what `apply_chat_template`
//! renders (trim_blocks, lstrip_blocks, loop controls, `raise_exception`, `strftime_now`,
//! transformers' `tojson`, Python string methods, the tokenizer's special tokens as variables).

use minijinja::value::{Kwargs, ValueKind};
use minijinja::{Environment, ErrorKind, UndefinedBehavior, Value};
use serde::{Deserialize, Serialize};
use serde_json::Value as JsonValue;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// The file newer transformers versions write the default chat template to; it takes priority
/// over `chat_template` in tokenizer_config.json.
pub const CHAT_TEMPLATE_FILE: &str = "chat_template.jinja";
/// The folder of named extra templates (`NAME.jinja`) next to `chat_template.jinja`.
pub const ADDITIONAL_CHAT_TEMPLATES_DIR: &str = "additional_chat_templates";
pub const TOKENIZER_CONFIG_FILE: &str = "tokenizer_config.json";
/// Read for special tokens only when tokenizer_config.json has no `added_tokens_decoder`, as
/// transformers does for checkpoints saved by old versions.
pub const SPECIAL_TOKENS_MAP_FILE: &str = "special_tokens_map.json";
/// The name transformers picks when a checkpoint has several templates and no tools are passed.
pub const DEFAULT_TEMPLATE_NAME: &str = "default";
/// The named special tokens transformers passes to the template (its `special_tokens_map`).
pub const SPECIAL_TOKEN_NAMES: [&str; 7] = [
    "bos_token",
    "eos_token",
    "unk_token",
    "sep_token",
    "pad_token",
    "cls_token",
    "mask_token",
];
/// How deep `tojson` and printing follow nested lists and maps before giving up (Python's
/// recursion limit would stop a cycle similarly).
const MAX_NESTING_DEPTH: usize = 128;
const TEMPLATE_NAME: &str = "chat_template";

/// One message of a conversation, as transformers' message dicts carry it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChatMessage {
    pub role: String,
    pub content: String,
    /// A reasoning model's thinking for an earlier assistant turn. Transformers also passes it
    /// as `thinking`, so templates that read either name see it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reasoning_content: Option<String>,
}

impl ChatMessage {
    pub fn new(role: impl Into<String>, content: impl Into<String>) -> Self {
        ChatMessage {
            role: role.into(),
            content: content.into(),
            reasoning_content: None,
        }
    }

    pub fn system(content: impl Into<String>) -> Self {
        ChatMessage::new("system", content)
    }

    pub fn user(content: impl Into<String>) -> Self {
        ChatMessage::new("user", content)
    }

    pub fn assistant(content: impl Into<String>) -> Self {
        ChatMessage::new("assistant", content)
    }

    /// The message as the template sees it: the same keys, in the same order, as transformers'
    /// dict (`thinking` first when there is reasoning, then role, content, reasoning_content).
    fn to_template_value(&self) -> Value {
        let mut entries: Vec<(&str, Value)> = Vec::with_capacity(4);
        if let Some(reasoning) = &self.reasoning_content {
            entries.push(("thinking", Value::from(reasoning.as_str())));
        }
        entries.push(("role", Value::from(self.role.as_str())));
        entries.push(("content", Value::from(self.content.as_str())));
        if let Some(reasoning) = &self.reasoning_content {
            entries.push(("reasoning_content", Value::from(reasoning.as_str())));
        }
        Value::from_pairs(entries)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ChatTemplateError {
    #[error("{path}: cannot read: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: invalid JSON: {source}")]
    Json {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
    #[error("{path}: `{field}` {problem}")]
    Field {
        path: PathBuf,
        field: String,
        problem: String,
    },
    #[error(
        "{path}: the checkpoint has several chat templates ({names}) and none is named `default`; \
         add a `default` one or pass a model directory whose template is unambiguous"
    )]
    NoDefaultTemplate { path: PathBuf, names: String },
    #[error("{origin}: chat template syntax error at line {line}: {message}; fix the template")]
    Syntax {
        origin: String,
        line: usize,
        message: String,
    },
    #[error("{origin}: the chat template refused the conversation: {message}")]
    Raised { origin: String, message: String },
    #[error("{origin}: rendering the chat template failed at line {line}: {message}")]
    Render {
        origin: String,
        line: usize,
        message: String,
    },
    #[error("the conversation is empty; a chat template needs at least one message")]
    EmptyConversation,
}

pub type ChatTemplateResult<T> = std::result::Result<T, ChatTemplateError>;

/// The special tokens a chat template sees as variables, in transformers' order; a token the
/// checkpoint does not set is left out (the template sees it as undefined).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SpecialTokens {
    pub tokens: Vec<(String, String)>,
}

impl SpecialTokens {
    /// Reads the named special tokens from tokenizer_config.json (plain strings or
    /// `{"content": ...}` objects), merged with special_tokens_map.json where transformers
    /// reads that file too. A directory with neither file has no special tokens.
    pub fn from_model_dir(model_dir: &Path) -> ChatTemplateResult<Self> {
        let config_path = model_dir.join(TOKENIZER_CONFIG_FILE);
        let config = read_json_object_if_present(&config_path)?.unwrap_or_default();
        let mut by_name: Vec<(String, Option<String>)> = SPECIAL_TOKEN_NAMES
            .iter()
            .map(|name| ((*name).to_owned(), token_content(config.get(*name))))
            .collect();
        if !config.contains_key("added_tokens_decoder") {
            let map_path = model_dir.join(SPECIAL_TOKENS_MAP_FILE);
            if let Some(map) = read_json_object_if_present(&map_path)? {
                for (name, token) in &mut by_name {
                    if let Some(value) = map.get(name.as_str()) {
                        *token = token_content(Some(value));
                    }
                }
            }
        }
        Ok(SpecialTokens {
            tokens: by_name
                .into_iter()
                .filter_map(|(name, token)| Some((name, token?)))
                .collect(),
        })
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.tokens
            .iter()
            .find(|(token_name, _)| token_name == name)
            .map(|(_, token)| token.as_str())
    }
}

fn token_content(value: Option<&JsonValue>) -> Option<String> {
    match value? {
        JsonValue::String(content) => Some(content.clone()),
        JsonValue::Object(added_token) => added_token
            .get("content")
            .and_then(JsonValue::as_str)
            .map(str::to_owned),
        _ => None,
    }
}

/// A checkpoint's chat template, compiled once, ready to render conversations.
pub struct ChatTemplate {
    /// Where the template came from (a file, or a file and a field), for error messages.
    origin: String,
    source: String,
    special_tokens: SpecialTokens,
    environment: Environment<'static>,
}

impl std::fmt::Debug for ChatTemplate {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("ChatTemplate")
            .field("origin", &self.origin)
            .field("special_tokens", &self.special_tokens)
            .finish_non_exhaustive()
    }
}

impl ChatTemplate {
    /// The model directory's default chat template, found where transformers looks:
    /// `chat_template.jinja` first, then `chat_template` in tokenizer_config.json (a string, or
    /// a list of `{name, template}` from which the one named `default` is taken). `None` when
    /// the checkpoint has no chat template (a completion-style model).
    pub fn from_model_dir(model_dir: &Path) -> ChatTemplateResult<Option<Self>> {
        let special_tokens = SpecialTokens::from_model_dir(model_dir)?;
        let template_file = model_dir.join(CHAT_TEMPLATE_FILE);
        if template_file.is_file() {
            let source = std::fs::read_to_string(&template_file).map_err(|source| {
                ChatTemplateError::Io {
                    path: template_file.clone(),
                    source,
                }
            })?;
            return ChatTemplate::new(source, special_tokens, template_file.display().to_string())
                .map(Some);
        }
        let config_path = model_dir.join(TOKENIZER_CONFIG_FILE);
        let Some(config) = read_json_object_if_present(&config_path)? else {
            return Ok(None);
        };
        let Some(source) = default_template_from_config(&config_path, &config)? else {
            return Ok(None);
        };
        let origin = format!("{} (chat_template)", config_path.display());
        ChatTemplate::new(source, special_tokens, origin).map(Some)
    }

    /// Compiles a template. `origin` names where it came from in error messages.
    pub fn new(
        source: String,
        special_tokens: SpecialTokens,
        origin: String,
    ) -> ChatTemplateResult<Self> {
        let mut environment = transformers_like_environment();
        environment
            .add_template_owned(TEMPLATE_NAME, source.clone())
            .map_err(|error| ChatTemplateError::Syntax {
                origin: origin.clone(),
                line: error.line().unwrap_or(1),
                message: error.detail().unwrap_or("invalid syntax").to_owned(),
            })?;
        Ok(ChatTemplate {
            origin,
            source,
            special_tokens,
            environment,
        })
    }

    pub fn source(&self) -> &str {
        &self.source
    }

    pub fn origin(&self) -> &str {
        &self.origin
    }

    pub fn special_tokens(&self) -> &SpecialTokens {
        &self.special_tokens
    }

    /// Renders a conversation as transformers' `apply_chat_template(messages, tokenize=False,
    /// add_generation_prompt=...)` does.
    pub fn render(
        &self,
        messages: &[ChatMessage],
        add_generation_prompt: bool,
    ) -> ChatTemplateResult<String> {
        self.render_with_variables(messages, add_generation_prompt, &serde_json::Map::new())
    }

    /// Like [`ChatTemplate::render`], with extra template variables such as Qwen3's
    /// `enable_thinking` (transformers' `**kwargs`); they override special tokens of the same
    /// name, as there.
    pub fn render_with_variables(
        &self,
        messages: &[ChatMessage],
        add_generation_prompt: bool,
        variables: &serde_json::Map<String, JsonValue>,
    ) -> ChatTemplateResult<String> {
        if messages.is_empty() {
            return Err(ChatTemplateError::EmptyConversation);
        }
        let mut context: Vec<(String, Value)> = vec![
            (
                "messages".to_owned(),
                messages
                    .iter()
                    .map(ChatMessage::to_template_value)
                    .collect(),
            ),
            ("tools".to_owned(), Value::from(())),
            ("documents".to_owned(), Value::from(())),
            (
                "add_generation_prompt".to_owned(),
                Value::from(add_generation_prompt),
            ),
        ];
        for (name, token) in &self.special_tokens.tokens {
            if !variables.contains_key(name) {
                context.push((name.clone(), Value::from(token.as_str())));
            }
        }
        for (name, value) in variables {
            context.push((name.clone(), Value::from(minijinja::value::Serde(value))));
        }
        let template = self
            .environment
            .get_template(TEMPLATE_NAME)
            .map_err(|error| self.render_error(error))?;
        template
            .render(Value::from_pairs(context))
            .map_err(|error| self.render_error(error))
    }

    fn render_error(&self, error: minijinja::Error) -> ChatTemplateError {
        if let Some(raised) = find_raised(&error) {
            return ChatTemplateError::Raised {
                origin: self.origin.clone(),
                message: raised.0.clone(),
            };
        }
        let message = match error.detail() {
            Some(detail) => format!("{}: {detail}", error.kind()),
            None => error.kind().to_string(),
        };
        ChatTemplateError::Render {
            origin: self.origin.clone(),
            line: error.line().unwrap_or(1),
            message,
        }
    }
}

/// Names the templates of a list-form `chat_template` and picks the default one as
/// transformers does; `None` when there is no `chat_template` at all.
fn default_template_from_config(
    config_path: &Path,
    config: &serde_json::Map<String, JsonValue>,
) -> ChatTemplateResult<Option<String>> {
    match config.get("chat_template") {
        None | Some(JsonValue::Null) => Ok(None),
        Some(JsonValue::String(source)) => Ok(Some(source.clone())),
        Some(JsonValue::Array(named_templates)) => {
            let mut names = Vec::new();
            for entry in named_templates {
                let name = entry.get("name").and_then(JsonValue::as_str);
                let source = entry.get("template").and_then(JsonValue::as_str);
                let (Some(name), Some(source)) = (name, source) else {
                    return Err(ChatTemplateError::Field {
                        path: config_path.to_owned(),
                        field: "chat_template".to_owned(),
                        problem: "has an entry without a string `name` and `template`; each entry \
                                  must be {\"name\": ..., \"template\": ...}"
                            .to_owned(),
                    });
                };
                if name == DEFAULT_TEMPLATE_NAME {
                    return Ok(Some(source.to_owned()));
                }
                names.push(name.to_owned());
            }
            if names.is_empty() {
                return Ok(None);
            }
            Err(ChatTemplateError::NoDefaultTemplate {
                path: config_path.to_owned(),
                names: names.join(", "),
            })
        }
        Some(other) => Err(ChatTemplateError::Field {
            path: config_path.to_owned(),
            field: "chat_template".to_owned(),
            problem: format!(
                "is {}; it must be a template string or a list of named templates",
                json_type_name(other)
            ),
        }),
    }
}

fn json_type_name(value: &JsonValue) -> &'static str {
    match value {
        JsonValue::Null => "null",
        JsonValue::Bool(_) => "a boolean",
        JsonValue::Number(_) => "a number",
        JsonValue::String(_) => "a string",
        JsonValue::Array(_) => "a list",
        JsonValue::Object(_) => "an object",
    }
}

fn read_json_object_if_present(
    path: &Path,
) -> ChatTemplateResult<Option<serde_json::Map<String, JsonValue>>> {
    let bytes = match std::fs::read(path) {
        Ok(bytes) => bytes,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => {
            return Err(ChatTemplateError::Io {
                path: path.to_owned(),
                source,
            })
        }
    };
    let value: JsonValue =
        serde_json::from_slice(&bytes).map_err(|source| ChatTemplateError::Json {
            path: path.to_owned(),
            source,
        })?;
    match value {
        JsonValue::Object(object) => Ok(Some(object)),
        other => Err(ChatTemplateError::Field {
            path: path.to_owned(),
            field: "(top level)".to_owned(),
            problem: format!("is {}; it must be a JSON object", json_type_name(&other)),
        }),
    }
}

/// The message a template passed to `raise_exception`, carried as the source of a minijinja
/// error so that rendering can report it as the template's own refusal.
#[derive(Debug)]
struct RaisedByTemplate(String);

impl std::fmt::Display for RaisedByTemplate {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str(&self.0)
    }
}

impl std::error::Error for RaisedByTemplate {}

fn find_raised(error: &minijinja::Error) -> Option<&RaisedByTemplate> {
    let mut current: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(error) = current {
        if let Some(raised) = error.downcast_ref::<RaisedByTemplate>() {
            return Some(raised);
        }
        current = error.source();
    }
    None
}

/// An environment that behaves like transformers' `ImmutableSandboxedEnvironment(trim_blocks=True,
/// lstrip_blocks=True, extensions=[loopcontrols])` with its globals and `tojson` filter.
fn transformers_like_environment() -> Environment<'static> {
    let mut environment = Environment::new();
    let syntax = minijinja::syntax::SyntaxConfig::builder()
        .trim_blocks(true)
        .lstrip_blocks(true)
        .build()
        .expect("the default delimiters are valid");
    environment.set_syntax(syntax);
    environment.set_undefined_behavior(UndefinedBehavior::Lenient);
    environment.set_unknown_method_callback(minijinja_contrib::pycompat::unknown_method_callback);
    environment.set_formatter(|output, _state, value| {
        let text = match value.kind() {
            ValueKind::String => {
                return output
                    .write_str(value.as_str().unwrap_or(""))
                    .map_err(write_failure)
            }
            ValueKind::Undefined => return Ok(()),
            _ => python_repr(value, 0),
        };
        output.write_str(&text).map_err(write_failure)
    });
    environment.add_function("raise_exception", raise_exception);
    environment.add_function("strftime_now", strftime_now);
    environment.add_filter("tojson", tojson);
    environment
}

fn write_failure(_: std::fmt::Error) -> minijinja::Error {
    minijinja::Error::new(ErrorKind::WriteFailure, "cannot write the rendered text")
}

/// How Python's `str()` prints a value inside `{{ }}`: `True`, `None`, `1.0`, `['a', 1]`.
fn python_repr(value: &Value, depth: usize) -> String {
    if depth > MAX_NESTING_DEPTH {
        return "...".to_owned();
    }
    match value.kind() {
        ValueKind::None | ValueKind::Undefined => "None".to_owned(),
        ValueKind::Bool => (if value.is_true() { "True" } else { "False" }).to_owned(),
        ValueKind::Number if value.is_integer() => value.to_string(),
        ValueKind::Number => f64::try_from(value.clone())
            .map(python_float_repr)
            .unwrap_or_else(|_| value.to_string()),
        ValueKind::String => python_string_repr(value.as_str().unwrap_or("")),
        ValueKind::Seq => {
            let items: Vec<String> = value
                .try_iter()
                .map(|items| items.map(|item| python_repr(&item, depth + 1)).collect())
                .unwrap_or_default();
            format!("[{}]", items.join(", "))
        }
        ValueKind::Map => {
            let entries: Vec<String> = value
                .try_iter()
                .map(|keys| {
                    keys.map(|key| {
                        let item = value.get_item(&key).unwrap_or_default();
                        format!(
                            "{}: {}",
                            python_repr(&key, depth + 1),
                            python_repr(&item, depth + 1)
                        )
                    })
                    .collect()
                })
                .unwrap_or_default();
            format!("{{{}}}", entries.join(", "))
        }
        _ => value.to_string(),
    }
}

/// Python's `repr(str)`: single quotes unless the text has one and no double quote.
fn python_string_repr(text: &str) -> String {
    let quote = if text.contains('\'') && !text.contains('"') {
        '"'
    } else {
        '\''
    };
    let mut out = String::with_capacity(text.len() + 2);
    out.push(quote);
    for character in text.chars() {
        match character {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            _ if character == quote => {
                out.push('\\');
                out.push(character);
            }
            _ if (character as u32) < 0x20 || character as u32 == 0x7f => {
                let _ = write!(out, "\\x{:02x}", character as u32);
            }
            _ => out.push(character),
        }
    }
    out.push(quote);
    out
}

fn raise_exception(message: String) -> Result<Value, minijinja::Error> {
    Err(
        minijinja::Error::new(ErrorKind::InvalidOperation, message.clone())
            .with_source(RaisedByTemplate(message)),
    )
}

/// Python's `datetime.now().strftime(format)`: the local date and time.
fn strftime_now(format: String) -> Result<Value, minijinja::Error> {
    let now = jiff::ZonedDateTime::now();
    let formatted = jiff::fmt::strtime::format(format.as_str(), &now).map_err(|error| {
        minijinja::Error::new(
            ErrorKind::InvalidOperation,
            format!("strftime_now cannot format `{format}`: {error}"),
        )
    })?;
    Ok(Value::from(formatted))
}

/// Transformers' `tojson`: Python's `json.dumps(x, ensure_ascii=False, indent=None,
/// separators=None, sort_keys=False)`, with no HTML escaping.
fn tojson(
    value: &Value,
    ensure_ascii: Option<bool>,
    indent: Option<Value>,
    kwargs: Kwargs,
) -> Result<Value, minijinja::Error> {
    let ensure_ascii = match kwargs.get::<Option<bool>>("ensure_ascii")? {
        Some(flag) => flag,
        None => ensure_ascii.unwrap_or(false),
    };
    let indent = match kwargs.get::<Option<Value>>("indent")? {
        Some(value) => Some(value),
        None => indent,
    };
    let indent = match indent {
        None => None,
        Some(value) if value.is_none() => None,
        Some(value) => Some(match value.as_str() {
            Some(text) => text.to_owned(),
            None => {
                let width = i64::try_from(value.clone()).map_err(|_| {
                    minijinja::Error::new(
                        ErrorKind::InvalidOperation,
                        "tojson: indent must be a number or a string",
                    )
                })?;
                " ".repeat(usize::try_from(width).unwrap_or(0))
            }
        }),
    };
    let (item_separator, key_separator) = match kwargs.get::<Option<Value>>("separators")? {
        Some(pair) if !pair.is_none() => {
            let parts: Vec<Value> = pair.try_iter()?.collect();
            match parts.as_slice() {
                [item, key] => (
                    item.as_str().unwrap_or(",").to_owned(),
                    key.as_str().unwrap_or(":").to_owned(),
                ),
                _ => {
                    return Err(minijinja::Error::new(
                        ErrorKind::InvalidOperation,
                        "tojson: separators must be a pair of strings",
                    ))
                }
            }
        }
        _ if indent.is_some() => (",".to_owned(), ": ".to_owned()),
        _ => (", ".to_owned(), ": ".to_owned()),
    };
    let sort_keys = kwargs.get::<Option<bool>>("sort_keys")?.unwrap_or(false);
    kwargs.assert_all_used()?;
    let style = JsonStyle {
        ensure_ascii,
        indent,
        item_separator,
        key_separator,
        sort_keys,
    };
    let mut out = String::new();
    write_json(value, &style, 0, &mut out)?;
    Ok(Value::from(out))
}

struct JsonStyle {
    ensure_ascii: bool,
    indent: Option<String>,
    item_separator: String,
    key_separator: String,
    sort_keys: bool,
}

fn write_json(
    value: &Value,
    style: &JsonStyle,
    depth: usize,
    out: &mut String,
) -> Result<(), minijinja::Error> {
    if depth > MAX_NESTING_DEPTH {
        return Err(minijinja::Error::new(
            ErrorKind::InvalidOperation,
            "tojson: the value is nested too deeply",
        ));
    }
    match value.kind() {
        ValueKind::None => out.push_str("null"),
        ValueKind::Bool => out.push_str(if value.is_true() { "true" } else { "false" }),
        ValueKind::Number if value.is_integer() => out.push_str(&value.to_string()),
        ValueKind::Number => {
            let number = f64::try_from(value.clone())?;
            out.push_str(&python_float_repr(number));
        }
        ValueKind::String => write_json_string(value.as_str().unwrap_or(""), style, out),
        ValueKind::Seq | ValueKind::Iterable => {
            let items: Vec<Value> = value.try_iter()?.collect();
            write_json_container(('[', ']'), items.len(), style, depth, out, |index, out| {
                write_json(&items[index], style, depth + 1, out)
            })?;
        }
        ValueKind::Map => {
            let mut entries: Vec<(String, Value)> = Vec::new();
            for key in value.try_iter()? {
                let item = value.get_item(&key)?;
                let key_text = match key.kind() {
                    ValueKind::String => key.as_str().unwrap_or("").to_owned(),
                    ValueKind::None => "null".to_owned(),
                    ValueKind::Bool => (if key.is_true() { "true" } else { "false" }).to_owned(),
                    _ => key.to_string(),
                };
                entries.push((key_text, item));
            }
            if style.sort_keys {
                entries.sort_by(|left, right| left.0.cmp(&right.0));
            }
            write_json_container(
                ('{', '}'),
                entries.len(),
                style,
                depth,
                out,
                |index, out| {
                    let (key, item) = &entries[index];
                    write_json_string(key, style, out);
                    out.push_str(&style.key_separator);
                    write_json(item, style, depth + 1, out)
                },
            )?;
        }
        other => {
            return Err(minijinja::Error::new(
                ErrorKind::InvalidOperation,
                format!("tojson: a value of type {other} is not JSON serializable"),
            ))
        }
    }
    Ok(())
}

fn write_json_container(
    (open, close): (char, char),
    n_items: usize,
    style: &JsonStyle,
    depth: usize,
    out: &mut String,
    mut write_item: impl FnMut(usize, &mut String) -> Result<(), minijinja::Error>,
) -> Result<(), minijinja::Error> {
    out.push(open);
    if n_items == 0 {
        out.push(close);
        return Ok(());
    }
    for index in 0..n_items {
        if index > 0 {
            out.push_str(&style.item_separator);
        }
        if let Some(indent) = &style.indent {
            out.push('\n');
            out.push_str(&indent.repeat(depth + 1));
        }
        write_item(index, out)?;
    }
    if let Some(indent) = &style.indent {
        out.push('\n');
        out.push_str(&indent.repeat(depth));
    }
    out.push(close);
    Ok(())
}

/// A JSON string as Python's json module writes it.
fn write_json_string(text: &str, style: &JsonStyle, out: &mut String) {
    out.push('"');
    for character in text.chars() {
        match character {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{08}' => out.push_str("\\b"),
            '\u{0c}' => out.push_str("\\f"),
            ' '..='~' => out.push(character),
            _ if (character as u32) < 0x20 || style.ensure_ascii => {
                let mut units = [0u16; 2];
                for unit in character.encode_utf16(&mut units) {
                    let _ = write!(out, "\\u{unit:04x}");
                }
            }
            _ => out.push(character),
        }
    }
    out.push('"');
}

/// Python's `repr(float)`: the shortest digits that round-trip, in positional notation for
/// exponents from -4 to 15 and scientific (`1e-05`, `1e+16`) outside.
fn python_float_repr(number: f64) -> String {
    if number.is_nan() {
        return "NaN".to_owned();
    }
    if number.is_infinite() {
        return if number > 0.0 {
            "Infinity"
        } else {
            "-Infinity"
        }
        .to_owned();
    }
    let scientific = format!("{number:e}");
    let (mantissa, exponent) = scientific
        .split_once('e')
        .expect("Rust's {:e} always has an exponent");
    let exponent: i32 = exponent.parse().expect("Rust's {:e} exponent is a number");
    let (sign, mantissa) = match mantissa.strip_prefix('-') {
        Some(rest) => ("-", rest),
        None => ("", mantissa),
    };
    let digits: String = mantissa.chars().filter(|c| *c != '.').collect();
    if (-4..16).contains(&exponent) {
        let n_digits = digits.len() as i32;
        let positional = if exponent < 0 {
            format!("0.{}{digits}", "0".repeat((-exponent - 1) as usize))
        } else if exponent + 1 >= n_digits {
            format!(
                "{digits}{}.0",
                "0".repeat((exponent + 1 - n_digits) as usize)
            )
        } else {
            let split = (exponent + 1) as usize;
            format!("{}.{}", &digits[..split], &digits[split..])
        };
        format!("{sign}{positional}")
    } else {
        let mantissa = if digits.len() > 1 {
            format!("{}.{}", &digits[..1], &digits[1..])
        } else {
            digits
        };
        let exponent_sign = if exponent < 0 { '-' } else { '+' };
        format!("{sign}{mantissa}e{exponent_sign}{:02}", exponent.abs())
    }
}

#[cfg(test)]
mod tests {
    use super::python_float_repr;

    #[test]
    fn floats_print_like_python_repr() {
        let cases = [
            (0.1, "0.1"),
            (1.0, "1.0"),
            (-2.5, "-2.5"),
            (1e-5, "1e-05"),
            (0.0001, "0.0001"),
            (1e16, "1e+16"),
            (1234567890123456.0, "1234567890123456.0"),
            (1.5e300, "1.5e+300"),
            (0.0, "0.0"),
            (100.0, "100.0"),
            (f64::NAN, "NaN"),
            (f64::NEG_INFINITY, "-Infinity"),
        ];
        for (number, expected) in cases {
            assert_eq!(python_float_repr(number), expected, "{number}");
        }
    }
}
