//! Where a process runs, and what production refuses.
//!
//! `EC_ENV` names the environment: `development` (a laptop: `ec dev`, tests), `staging` (a trial of the
//! production topology, such as `deploy/compose.yaml`: the payment sandbox and development secrets are
//! allowed, and say so in the log) or `production`. Production refuses at start-up what would let strangers
//! in: the payment sandbox (its test cards approve anything), the embedded OAuth2 server, a missing internal
//! secret, and secrets that are published development values, placeholders or too guessable
//! ([`check_production_secret`]).
//!
//! An unset `EC_ENV` means development for `ec dev`; `ec serve`, the production entry point, assumes
//! production, and its first log line says it assumed so ([`EnvironmentArgs::resolve`]). A forgotten setting
//! thus fails closed: a deployment has to say `staging` or `development` to get what production refuses.

use std::{collections::HashMap, fmt};

/// Where a process runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Environment {
    /// A developer's machine or a test run.
    Development,
    /// A trial of the production topology, with development conveniences (the payment sandbox) allowed.
    Staging,
    /// A real shop.
    Production,
}

impl Environment {
    /// The name `EC_ENV` takes.
    pub fn as_str(self) -> &'static str {
        match self {
            Environment::Development => "development",
            Environment::Staging => "staging",
            Environment::Production => "production",
        }
    }
}

impl fmt::Display for Environment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The `EC_ENV` setting.
#[derive(Clone, Copy, Debug, Default, clap::Args)]
pub struct EnvironmentArgs {
    /// Where this process runs: development, staging or production. Production refuses the payment sandbox,
    /// the embedded OAuth2 server and development secrets. Unset: `ec dev` assumes development, `ec serve`
    /// production.
    #[arg(id = "ec_env", long = "environment", env = "EC_ENV", value_enum)]
    pub environment: Option<Environment>,
}

impl EnvironmentArgs {
    /// The environment set, or `unset` when none is; the assumption is logged, so the first line of a
    /// process started without `EC_ENV` says what it took itself to be.
    pub fn resolve(self, unset: Environment) -> Environment {
        match self.environment {
            Some(environment) => {
                tracing::info!(%environment, "environment (EC_ENV)");
                environment
            }
            None => {
                tracing::warn!(
                    environment = %unset,
                    "EC_ENV is not set: assuming {unset}; set EC_ENV=development, staging or production to say so"
                );
                unset
            }
        }
    }
}

/// Secrets this repository publishes (`deploy/.env`, `deploy/k8s/overlays/production/secrets.env.example`):
/// anyone can read them, so production refuses them whatever their length.
const PUBLISHED: &[&str] = &[
    "development-only-internal-token-0123456789abcdef",
    "CHANGE-ME-CHANGE-ME-CHANGE-ME-CHANGE-ME",
    "development-only-hydra-secret-0123456789",
];

/// Words that mark a value as a placeholder or a development value (compared without `-` and `_`, any case).
const PLACEHOLDER_WORDS: &[&str] = &["changeme", "development", "example", "placeholder", "insecure", "dummy"];

/// The least estimated entropy, in bits, of a production secret: what 22 random base64 characters or 32
/// random hex digits carry.
pub const MIN_SECRET_BITS: f64 = 128.0;

/// Why production refuses a secret.
#[derive(Debug, PartialEq, thiserror::Error)]
pub enum SecretError {
    #[error("is a development value published in this repository")]
    Published,
    #[error("looks like a placeholder or a development value (it contains {0:?})")]
    Placeholder(&'static str),
    #[error("is too guessable: about {bits:.0} bits of entropy, {MIN_SECRET_BITS:.0} needed")]
    LowEntropy { bits: f64 },
}

/// How a production secret is made, for the messages that refuse one.
pub const HOW_TO_MAKE_A_SECRET: &str = "make one with `openssl rand -hex 32`";

/// Whether `value` may be a production secret: not a value this repository publishes, no placeholder word,
/// and at least [`MIN_SECRET_BITS`] of entropy as estimated from its characters (so repetitions and runs are
/// refused while 32 random bytes in hex or base64 pass).
pub fn check_production_secret(value: &str) -> Result<(), SecretError> {
    if PUBLISHED.contains(&value) {
        return Err(SecretError::Published);
    }
    let folded: String = value.chars().filter(|c| *c != '-' && *c != '_').flat_map(char::to_lowercase).collect();
    if let Some(word) = PLACEHOLDER_WORDS.iter().find(|word| folded.contains(*word)) {
        return Err(SecretError::Placeholder(word));
    }
    let bits = estimated_bits(value);
    if bits < MIN_SECRET_BITS {
        return Err(SecretError::LowEntropy { bits });
    }
    Ok(())
}

/// The value's length times the Shannon entropy of its characters' frequencies or, if lower, of the steps
/// between neighbouring characters: low for repetitions and small alphabets (`CHANGE-ME-CHANGE-ME-…`) and for
/// runs (`0123456789…`, `abab…`), which a guesser tries first. An estimate, generous to a human's choice but
/// never to a pattern.
fn estimated_bits(value: &str) -> f64 {
    let chars: Vec<i64> = value.chars().map(|c| i64::from(u32::from(c))).collect();
    let steps: Vec<i64> = chars.windows(2).map(|pair| pair[1] - pair[0]).collect();
    shannon(&chars).min(shannon(&steps)) * chars.len() as f64
}

/// The Shannon entropy, in bits per symbol, of the symbols' frequencies in `symbols`.
fn shannon(symbols: &[i64]) -> f64 {
    let mut counts: HashMap<i64, usize> = HashMap::new();
    for symbol in symbols {
        *counts.entry(*symbol).or_default() += 1;
    }
    let total = symbols.len() as f64;
    counts
        .values()
        .map(|&n| {
            let p = n as f64 / total;
            -p * p.log2()
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn published_values_and_placeholders_are_refused() {
        for value in PUBLISHED {
            assert_eq!(check_production_secret(value), Err(SecretError::Published), "{value}");
        }
        let cases = [
            ("my-changeme-secret-4f9a8b7c6d5e4f3a2b1c0d9e8f7a", "changeme"),
            ("Change_Me_7f3a9b2c4d6e8f0a1b3c5d7e9f0a2b4c", "changeme"),
            ("example-3f9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f1a", "example"),
            ("DEVELOPMENT9f8e7d6c5b4a3928171605f4e3d2c1b0a", "development"),
        ];
        for (value, word) in cases {
            assert_eq!(check_production_secret(value), Err(SecretError::Placeholder(word)), "{value}");
        }
    }

    #[test]
    fn repetitive_or_small_alphabet_secrets_are_refused() {
        let runs = ["0123456789".repeat(4), "abcdefghijklmnopqrstuvwxyz0123456789ABCDEF".into(), "xyz1".repeat(12)];
        let repetitions = ["a".repeat(64), "ab".repeat(20)];
        for value in runs.into_iter().chain(repetitions) {
            assert!(
                matches!(check_production_secret(&value), Err(SecretError::LowEntropy { .. })),
                "{value} was accepted"
            );
        }
    }

    #[test]
    fn random_secrets_in_hex_or_base64_pass() {
        use base64::Engine;
        for _ in 0..100 {
            let mut bytes = [0u8; 32];
            getrandom::fill(&mut bytes).unwrap();
            let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
            let base64 = base64::engine::general_purpose::STANDARD.encode(bytes);
            assert_eq!(check_production_secret(&hex), Ok(()), "{hex}");
            assert_eq!(check_production_secret(&base64), Ok(()), "{base64}");
        }
    }
}
