//! E-mail: what the shop tells its customers, queued in the user service's `mails` table and sent over SMTP.
//!
//! - [`content`]: each message's words in English and Japanese, rendered as plain text and HTML with the
//!   shop's name and links to the storefront.
//! - [`queue`]: the `mails` table. A message is queued once per event and kind (`UNIQUE (event_id, kind)`),
//!   so an event handed over twice makes one message.
//! - [`orders`]: the subscriber of the order service's events (`order.v1.*`), which queues the confirmation,
//!   cancellation and shipping messages to the order's customer, whose address only this service knows.
//! - [`sender`]: the worker that sends what is due: over SMTP (`SMTP_URL`, STARTTLS or TLS, with
//!   credentials) with retries and a growing pause, recording a refusal (a 5xx answer) for good instead of
//!   retrying it; or, without `SMTP_URL`, nowhere: the table is then the mailbox, which in development the
//!   login pages show at `/dev/mail` ([`mailbox`]), so a developer can read every message and follow its
//!   links.

pub mod content;
pub mod mailbox;
pub mod orders;
pub mod queue;
pub mod sender;

use ec_platform::environment::Environment;

/// How the shop writes to its customers.
#[derive(Clone, Debug, clap::Args)]
pub struct MailArgs {
    /// SMTP server: smtp://USER:PASSWORD@HOST:587?tls=required (STARTTLS), smtps://USER:PASSWORD@HOST:465 (TLS),
    /// or smtp://HOST:25 (no TLS: a relay on the same host). Unset: messages are kept in the database and shown
    /// on the login pages at /dev/mail (development only; production refuses to start without it).
    #[arg(id = "smtp_url", long = "smtp-url", env = "SMTP_URL", hide_env_values = true)]
    pub smtp_url: Option<String>,

    /// The sender of every message, e.g. "Tea Shop <orders@tea.example>".
    #[arg(id = "mail_from", long = "mail-from", env = "MAIL_FROM", default_value = "Shop <shop@localhost>")]
    pub from: String,

    /// The shop's name, as messages sign with it.
    #[arg(id = "shop_name", long = "shop-name", env = "SHOP_NAME", default_value = "Shop")]
    pub shop_name: String,

    /// The storefront's public URL, which messages link to (an order's page is /orders/ID there).
    #[arg(
        id = "storefront_url",
        long = "storefront-url",
        env = "STOREFRONT_URL",
        default_value = "http://127.0.0.1:5173"
    )]
    pub storefront_url: url::Url,

    /// Seconds before a message that failed transiently is tried again the first time (doubling each time, at
    /// most an hour); for tests.
    #[arg(
        id = "mail_first_retry_secs",
        long = "mail-first-retry-secs",
        env = "MAIL_FIRST_RETRY_SECS",
        default_value_t = 30,
        hide = true
    )]
    pub first_retry_secs: u64,
}

impl MailArgs {
    /// Refuses what cannot reach a customer in production: no SMTP server, or the default sender.
    pub fn check(&self, environment: Environment) -> Result<(), String> {
        if environment != Environment::Production {
            return Ok(());
        }
        let Some(smtp) = &self.smtp_url else {
            return Err("production needs SMTP_URL: without it, no customer receives a message".into());
        };
        // Credentials and reset links cross the network in clear unless TLS is required (or the relay is local).
        let url = url::Url::parse(smtp).map_err(|e| format!("SMTP_URL is not a URL: {e}"))?;
        let tls = url.scheme() == "smtps" || url.query_pairs().any(|(k, v)| k == "tls" && v == "required");
        if !tls && !crate::config::names_this_machine(&url) {
            return Err("production needs TLS to the SMTP server: smtps://… or smtp://…?tls=required".into());
        }
        if self.from.ends_with("@localhost>") || self.from.ends_with("@localhost") {
            return Err("production needs MAIL_FROM, an address customers can answer".into());
        }
        Ok(())
    }
}

/// The languages the shop writes in: the storefront's.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Language {
    #[default]
    En,
    Ja,
}

impl Language {
    /// The language of `tag` (`en`, `ja`, `ja-JP`, ...): English for anything else.
    pub fn from_tag(tag: &str) -> Self {
        match tag.split(['-', '_']).next().map(str::to_ascii_lowercase).as_deref() {
            Some("ja") => Self::Ja,
            _ => Self::En,
        }
    }

    /// The language of `tag` if the shop writes in it; `None` for any other (`fr`, `*`).
    pub fn supported(tag: &str) -> Option<Self> {
        match tag.trim().split(['-', '_']).next().map(str::to_ascii_lowercase).as_deref() {
            Some("ja") => Some(Self::Ja),
            Some("en") => Some(Self::En),
            _ => None,
        }
    }

    /// The first language the shop writes in among `tags`, in the order given (OpenID Connect's `ui_locales`).
    pub fn first_of<'a>(tags: impl IntoIterator<Item = &'a str>) -> Option<Self> {
        tags.into_iter().find_map(Self::supported)
    }

    /// The language an `Accept-Language` header prefers most among those the shop writes in (by quality, the
    /// header's order breaking ties; `q=0` excludes a language).
    pub fn preferred(accept_language: &str) -> Option<Self> {
        let mut ranked: Vec<(u16, usize, Self)> = accept_language
            .split(',')
            .enumerate()
            .filter_map(|(order, item)| {
                let mut parts = item.split(';');
                let language = Self::supported(parts.next()?)?;
                let quality = parts.find_map(|p| p.trim().strip_prefix("q=")).map_or(Some(1000), |q| {
                    q.trim().parse::<f32>().ok().map(|q| (q.clamp(0.0, 1.0) * 1000.0) as u16)
                })?;
                (quality > 0).then_some((quality, order, language))
            })
            .collect();
        ranked.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
        ranked.first().map(|&(_, _, language)| language)
    }

    /// As stored and as the wire shows it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::En => "en",
            Self::Ja => "ja",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_preferred_language_is_the_best_rated_one_the_shop_writes_in() {
        assert_eq!(Language::preferred("ja-JP,ja;q=0.9,en-US;q=0.8,en;q=0.7"), Some(Language::Ja));
        assert_eq!(Language::preferred("fr-FR, en;q=0.5, ja;q=0.4"), Some(Language::En));
        assert_eq!(Language::preferred("en;q=0.2, ja;q=0.9"), Some(Language::Ja));
        assert_eq!(Language::preferred("ja;q=0, en;q=0.1"), Some(Language::En));
        assert_eq!(Language::preferred("fr, de"), None);
        assert_eq!(Language::preferred("ja;q=nonsense, en"), Some(Language::En));
        assert_eq!(Language::preferred(""), None);
        assert_eq!(Language::first_of("de ja en".split(' ')), Some(Language::Ja));
    }

    #[test]
    fn a_language_tag_picks_japanese_or_else_english() {
        assert_eq!(Language::from_tag("ja"), Language::Ja);
        assert_eq!(Language::from_tag("ja-JP"), Language::Ja);
        assert_eq!(Language::from_tag("JA"), Language::Ja);
        assert_eq!(Language::from_tag("en-GB"), Language::En);
        assert_eq!(Language::from_tag("fr"), Language::En);
        assert_eq!(Language::from_tag(""), Language::En);
    }

    #[test]
    fn production_needs_an_smtp_server_and_a_real_sender() {
        let mut args: MailArgs = ec_platform::config::defaults();
        assert!(args.check(Environment::Development).is_ok());
        assert!(args.check(Environment::Production).unwrap_err().contains("SMTP_URL"));
        args.smtp_url = Some("smtp://user:secret@mail.example:587".into());
        assert!(args.check(Environment::Production).unwrap_err().contains("TLS"));
        args.smtp_url = Some("smtp://mail.example:587?tls=opportunistic".into());
        assert!(args.check(Environment::Production).unwrap_err().contains("TLS"));
        args.smtp_url = Some("smtp://127.0.0.1:25".into());
        assert!(args.check(Environment::Production).unwrap_err().contains("MAIL_FROM"));
        args.smtp_url = Some("smtp://mail.example:587?tls=required".into());
        assert!(args.check(Environment::Production).unwrap_err().contains("MAIL_FROM"));
        args.from = "Tea Shop <orders@tea.example>".into();
        assert!(args.check(Environment::Production).is_ok());
    }
}
