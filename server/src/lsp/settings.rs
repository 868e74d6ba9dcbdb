//! The server's settings: one object with the same keys in `initializationOptions`, the
//! `proofwright` section of `workspace/configuration` and `workspace/didChangeConfiguration`
//! (docs/lsp.md). Reading never fails: a bad value is a problem naming the key, and the previous
//! value is kept; an unknown key is noted for the log.

use super::limits::{
    MAX_DEBOUNCE_MS, MAX_NEW_TOKENS, MAX_ROUNDS, MAX_SAMPLES, MAX_THREADS, MAX_TIME_BUDGET_SECONDS,
};
use crate::prover::{LeanMode, SearchSettings, TemplateChoice, VerifierMode};
use serde_json::Value;
use std::num::NonZeroUsize;
use std::time::Duration;

/// The section name in `workspace/configuration` and `didChangeConfiguration`.
pub const SETTINGS_SECTION: &str = "proofwright";

/// Where the model runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeviceChoice {
    Auto,
    Cpu,
    Cuda,
}

impl DeviceChoice {
    pub fn name(self) -> &'static str {
        match self {
            DeviceChoice::Auto => "auto",
            DeviceChoice::Cpu => "cpu",
            DeviceChoice::Cuda => "cuda",
        }
    }
}

/// Everything a user can set.
#[derive(Debug, Clone, PartialEq)]
pub struct ServerSettings {
    /// A Hugging Face model directory or repo id.
    pub model: String,
    pub template: TemplateChoice,
    pub device: DeviceChoice,
    /// Model threads; `None` is every core.
    pub threads: Option<NonZeroUsize>,
    pub samples: NonZeroUsize,
    pub rounds: usize,
    pub max_new_tokens: NonZeroUsize,
    pub seed: u64,
    pub temperature: f32,
    pub verifier: VerifierMode,
    /// `None` takes the model's threshold.
    pub verifier_threshold: Option<f32>,
    pub lean: LeanMode,
    pub debounce: Duration,
    pub time_budget: Duration,
}

/// What loading a model depends on: when it changes, the model is loaded again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelChoice {
    pub model: String,
    pub template: TemplateChoice,
    pub device: DeviceChoice,
    pub threads: Option<NonZeroUsize>,
}

/// A value that could not be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SettingProblem {
    /// The key as the user wrote it (`samples`).
    pub key: String,
    pub message: String,
}

impl std::fmt::Display for SettingProblem {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            formatter,
            "{SETTINGS_SECTION}.{}: {}",
            self.key, self.message
        )
    }
}

/// The result of reading a settings object.
#[derive(Debug, Clone, PartialEq)]
pub struct SettingsUpdate {
    pub settings: ServerSettings,
    pub problems: Vec<SettingProblem>,
    pub unknown_keys: Vec<String>,
}

impl ServerSettings {
    pub fn model_choice(&self) -> ModelChoice {
        ModelChoice {
            model: self.model.clone(),
            template: self.template,
            device: self.device,
            threads: self.threads,
        }
    }

    /// The prover's settings for searches and verification.
    pub fn search_settings(&self) -> SearchSettings {
        SearchSettings {
            n_samples: self.samples,
            n_rounds: self.rounds,
            max_new_tokens: self.max_new_tokens,
            time_budget: self.time_budget,
            temperature: self.temperature,
            seed: self.seed,
            verifier: self.verifier,
            flag_threshold: self.verifier_threshold,
            ..SearchSettings::default()
        }
    }

    /// Reads `value` (a settings object) over these settings. A `proofwright` member holding an
    /// object is read instead of the object itself, so a wrapped object works too. `null` for a
    /// key that cannot be null leaves the value as it was.
    pub fn updated_with(&self, value: &Value) -> SettingsUpdate {
        let mut settings = self.clone();
        let mut problems = Vec::new();
        let mut unknown_keys = Vec::new();
        let object = match value {
            Value::Null => {
                return SettingsUpdate {
                    settings,
                    problems,
                    unknown_keys,
                }
            }
            Value::Object(object) => match object.get(SETTINGS_SECTION) {
                Some(Value::Object(inner)) => inner,
                _ => object,
            },
            other => {
                problems.push(SettingProblem {
                    key: "(settings)".to_owned(),
                    message: format!(
                        "the settings must be an object of keys and values, not {}; every setting keeps its value",
                        describe(other)
                    ),
                });
                return SettingsUpdate {
                    settings,
                    problems,
                    unknown_keys,
                };
            }
        };
        for (key, value) in object {
            let outcome = settings.set(key, value);
            match outcome {
                SetOutcome::Set | SetOutcome::Unchanged => {}
                SetOutcome::Unknown => unknown_keys.push(key.clone()),
                SetOutcome::Bad(message) => problems.push(SettingProblem {
                    key: key.clone(),
                    message,
                }),
            }
        }
        SettingsUpdate {
            settings,
            problems,
            unknown_keys,
        }
    }

    fn set(&mut self, key: &str, value: &Value) -> SetOutcome {
        let nullable = matches!(key, "threads" | "verifierThreshold");
        if value.is_null() && !nullable {
            return if KNOWN_KEYS.contains(&key) {
                SetOutcome::Unchanged
            } else {
                SetOutcome::Unknown
            };
        }
        let result: Result<(), String> = match key {
            "model" => match value.as_str().map(str::trim) {
                Some(model) if !model.is_empty() => {
                    self.model = model.to_owned();
                    Ok(())
                }
                _ => Err(format!(
                    "expected a model directory or Hugging Face repo id, got {}; keeping {:?}",
                    describe(value),
                    self.model
                )),
            },
            "template" => {
                match one_of(value, &["auto", "completion", "chat"], template_name(self.template))
                {
                    Ok("completion") => {
                        self.template = TemplateChoice::Completion;
                        Ok(())
                    }
                    Ok("chat") => {
                        self.template = TemplateChoice::Chat;
                        Ok(())
                    }
                    Ok(_) => {
                        self.template = TemplateChoice::Auto;
                        Ok(())
                    }
                    Err(message) => Err(message),
                }
            }
            "device" => match one_of(value, &["auto", "cpu", "cuda"], self.device.name()) {
                Ok("cpu") => {
                    self.device = DeviceChoice::Cpu;
                    Ok(())
                }
                Ok("cuda") => {
                    self.device = DeviceChoice::Cuda;
                    Ok(())
                }
                Ok(_) => {
                    self.device = DeviceChoice::Auto;
                    Ok(())
                }
                Err(message) => Err(message),
            },
            "threads" => {
                if value.is_null() {
                    self.threads = None;
                    Ok(())
                } else {
                    let keeping = self
                        .threads
                        .map_or_else(|| "every core".to_owned(), |threads| threads.to_string());
                    whole_number(value, 1, MAX_THREADS as u64, &keeping).map(|threads| {
                        self.threads = NonZeroUsize::new(threads as usize);
                    })
                }
            }
            "samples" => whole_number(value, 1, MAX_SAMPLES as u64, &self.samples.to_string())
                .map(|samples| {
                    if let Some(samples) = NonZeroUsize::new(samples as usize) {
                        self.samples = samples;
                    }
                }),
            "rounds" => whole_number(value, 0, MAX_ROUNDS as u64, &self.rounds.to_string())
                .map(|rounds| self.rounds = rounds as usize),
            "maxNewTokens" => whole_number(
                value,
                1,
                MAX_NEW_TOKENS as u64,
                &self.max_new_tokens.to_string(),
            )
            .map(|tokens| {
                if let Some(tokens) = NonZeroUsize::new(tokens as usize) {
                    self.max_new_tokens = tokens;
                }
            }),
            "seed" => whole_number(value, 0, u64::MAX, &self.seed.to_string())
                .map(|seed| self.seed = seed),
            "temperature" => match value.as_f64() {
                Some(temperature) if temperature >= 0.0 && temperature.is_finite() => {
                    self.temperature = temperature as f32;
                    Ok(())
                }
                _ => Err(format!(
                    "expected a number of 0 or more, got {}; keeping {}",
                    describe(value),
                    self.temperature
                )),
            },
            "verifier" => match one_of(
                value,
                &["fast", "deep"],
                match self.verifier {
                    VerifierMode::Fast => "fast",
                    VerifierMode::Deep => "deep",
                },
            ) {
                Ok("deep") => {
                    self.verifier = VerifierMode::Deep;
                    Ok(())
                }
                Ok(_) => {
                    self.verifier = VerifierMode::Fast;
                    Ok(())
                }
                Err(message) => Err(message),
            },
            "verifierThreshold" => {
                if value.is_null() {
                    self.verifier_threshold = None;
                    Ok(())
                } else {
                    match value.as_f64() {
                        Some(threshold) if (0.0..=1.0).contains(&threshold) => {
                            self.verifier_threshold = Some(threshold as f32);
                            Ok(())
                        }
                        _ => Err(format!(
                            "expected a number from 0 to 1 or null, got {}; keeping {}",
                            describe(value),
                            self.verifier_threshold.map_or_else(
                                || "the model's threshold".to_owned(),
                                |threshold| threshold.to_string()
                            )
                        )),
                    }
                }
            }
            "lean" => match one_of(value, &["auto", "off", "require"], lean_name(self.lean)) {
                Ok("off") => {
                    self.lean = LeanMode::Off;
                    Ok(())
                }
                Ok("require") => {
                    self.lean = LeanMode::Require;
                    Ok(())
                }
                Ok(_) => {
                    self.lean = LeanMode::Auto;
                    Ok(())
                }
                Err(message) => Err(message),
            },
            "debounceMs" => whole_number(
                value,
                0,
                MAX_DEBOUNCE_MS,
                &self.debounce.as_millis().to_string(),
            )
            .map(|milliseconds| self.debounce = Duration::from_millis(milliseconds)),
            "timeBudgetSeconds" => match value.as_f64() {
                Some(seconds) if seconds > 0.0 && seconds <= MAX_TIME_BUDGET_SECONDS => {
                    self.time_budget = Duration::from_secs_f64(seconds);
                    Ok(())
                }
                _ => Err(format!(
                    "expected a number of seconds above 0 and at most {MAX_TIME_BUDGET_SECONDS}, got {}; keeping {}",
                    describe(value),
                    self.time_budget.as_secs_f64()
                )),
            },
            _ => return SetOutcome::Unknown,
        };
        match result {
            Ok(()) => SetOutcome::Set,
            Err(message) => SetOutcome::Bad(message),
        }
    }
}

/// Every key the server reads.
pub const KNOWN_KEYS: [&str; 14] = [
    "model",
    "template",
    "device",
    "threads",
    "samples",
    "rounds",
    "maxNewTokens",
    "seed",
    "temperature",
    "verifier",
    "verifierThreshold",
    "lean",
    "debounceMs",
    "timeBudgetSeconds",
];

enum SetOutcome {
    Set,
    Unchanged,
    Unknown,
    Bad(String),
}

pub fn template_name(template: TemplateChoice) -> &'static str {
    match template {
        TemplateChoice::Auto => "auto",
        TemplateChoice::Completion => "completion",
        TemplateChoice::Chat => "chat",
    }
}

pub fn lean_name(lean: LeanMode) -> &'static str {
    match lean {
        LeanMode::Auto => "auto",
        LeanMode::Off => "off",
        LeanMode::Require => "require",
    }
}

fn one_of<'a>(value: &Value, choices: &[&'a str], keeping: &str) -> Result<&'a str, String> {
    value
        .as_str()
        .and_then(|text| choices.iter().find(|choice| **choice == text).copied())
        .ok_or_else(|| {
            format!(
                "expected one of {}, got {}; keeping {keeping:?}",
                choices
                    .iter()
                    .map(|choice| format!("{choice:?}"))
                    .collect::<Vec<_>>()
                    .join(", "),
                describe(value)
            )
        })
}

fn whole_number(value: &Value, minimum: u64, maximum: u64, keeping: &str) -> Result<u64, String> {
    let number = value.as_u64().or_else(|| {
        value
            .as_f64()
            .filter(|number| number.fract() == 0.0 && *number >= 0.0 && *number < u64::MAX as f64)
            .map(|number| number as u64)
    });
    match number {
        Some(number) if (minimum..=maximum).contains(&number) => Ok(number),
        _ => Err(format!(
            "expected a whole number from {minimum} to {maximum}, got {}; keeping {keeping}",
            describe(value)
        )),
    }
}

fn describe(value: &Value) -> String {
    let text = value.to_string();
    super::framing::excerpt(&text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn defaults() -> ServerSettings {
        ServerSettings {
            model: "model-dir".to_owned(),
            template: TemplateChoice::Auto,
            device: DeviceChoice::Auto,
            threads: None,
            samples: NonZeroUsize::new(4).expect("positive"),
            rounds: 2,
            max_new_tokens: NonZeroUsize::new(256).expect("positive"),
            seed: 0,
            temperature: 0.8,
            verifier: VerifierMode::Fast,
            verifier_threshold: None,
            lean: LeanMode::Auto,
            debounce: Duration::from_millis(500),
            time_budget: Duration::from_secs(120),
        }
    }

    #[test]
    fn every_key_is_read() {
        let update = defaults().updated_with(&json!({
            "model": "other", "template": "completion", "device": "cpu", "threads": 2,
            "samples": 8, "rounds": 0, "maxNewTokens": 32, "seed": 7, "temperature": 0.5,
            "verifier": "deep", "verifierThreshold": 0.3, "lean": "off", "debounceMs": 0,
            "timeBudgetSeconds": 1.5
        }));
        assert_eq!(update.problems, vec![]);
        assert_eq!(update.unknown_keys, Vec::<String>::new());
        let settings = update.settings;
        assert_eq!(settings.model, "other");
        assert_eq!(settings.template, TemplateChoice::Completion);
        assert_eq!(settings.device, DeviceChoice::Cpu);
        assert_eq!(settings.threads, NonZeroUsize::new(2));
        assert_eq!(settings.samples.get(), 8);
        assert_eq!(settings.rounds, 0);
        assert_eq!(settings.max_new_tokens.get(), 32);
        assert_eq!(settings.seed, 7);
        assert_eq!(settings.temperature, 0.5);
        assert_eq!(settings.verifier, VerifierMode::Deep);
        assert_eq!(settings.verifier_threshold, Some(0.3));
        assert_eq!(settings.lean, LeanMode::Off);
        assert_eq!(settings.debounce, Duration::ZERO);
        assert_eq!(settings.time_budget, Duration::from_secs_f64(1.5));
    }

    #[test]
    fn bad_values_are_problems_and_keep_the_old_value() {
        let update = defaults().updated_with(&json!({
            "proofwright": {
                "samples": 0, "rounds": -1, "lean": "sometimes", "verifierThreshold": 2,
                "model": "", "debounceMs": "soon", "threads": 1.5, "colour": "blue"
            }
        }));
        assert_eq!(update.settings, defaults());
        let rendered: Vec<String> = update.problems.iter().map(ToString::to_string).collect();
        assert_eq!(
            rendered,
            vec![
                "proofwright.debounceMs: expected a whole number from 0 to 60000, got \"soon\"; keeping 500",
                "proofwright.lean: expected one of \"auto\", \"off\", \"require\", got \"sometimes\"; keeping \"auto\"",
                "proofwright.model: expected a model directory or Hugging Face repo id, got \"\"; keeping \"model-dir\"",
                "proofwright.rounds: expected a whole number from 0 to 1000, got -1; keeping 2",
                "proofwright.samples: expected a whole number from 1 to 64, got 0; keeping 4",
                "proofwright.threads: expected a whole number from 1 to 1024, got 1.5; keeping every core",
                "proofwright.verifierThreshold: expected a number from 0 to 1 or null, got 2; keeping the model's threshold",
            ]
        );
        assert_eq!(update.unknown_keys, vec!["colour".to_owned()]);
    }

    #[test]
    fn null_resets_nullable_keys_and_leaves_the_others() {
        let mut start = defaults();
        start.threads = NonZeroUsize::new(3);
        start.verifier_threshold = Some(0.5);
        let update = start
            .updated_with(&json!({"threads": null, "verifierThreshold": null, "samples": null}));
        assert_eq!(update.problems, vec![]);
        assert_eq!(update.settings, defaults());
    }

    #[test]
    fn a_settings_value_that_is_not_an_object_is_one_problem() {
        let update = defaults().updated_with(&json!([1, 2]));
        assert_eq!(update.settings, defaults());
        assert_eq!(
            update.problems[0].to_string(),
            "proofwright.(settings): the settings must be an object of keys and values, not [1,2]; every setting keeps its value"
        );
    }
}
