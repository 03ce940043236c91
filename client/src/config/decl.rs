//! The machinery behind the property declaration in [`super`]: the
//! `declare_config!` macro, the value codecs it uses, [`PropertyInfo`],
//! [`Secret`], and the handling of names no declaration knows.
//!
//! Adding a property is one entry in the `declare_config!` invocation in
//! `config/mod.rs`:
//!
//! ```text
//! { "request.timeout.ms" ["socket.timeout.ms"] request_timeout: Duration,
//!   ms(0, 2147483647), "30000",
//!   "How long to wait for a response before the request fails or is retried." },
//! ```
//!
//! that is: the Java name, the librdkafka aliases, the Rust field and its
//! type, the kind of value (which fixes how the property string is parsed,
//! the range `validate()` enforces, the setter's argument, and the "Values"
//! column of the docs), the default as a property string (`unset` for
//! none), and one doc line. An optional trailing
//! `set(v: ArgType) => expression` replaces the kind's usual setter.
//!
//! Kinds: `ms(lo, hi)`, `ms_frac(lo, hi)` (fractional milliseconds),
//! `int(lo, hi)` (any integer field), `bool()`, `string()`,
//! `opt_string()` (empty = unset), `opt_bool()`, `secret()` (an
//! `Option<Secret>`: never echoed in errors, redacted in `Debug`),
//! `choice(Type, "values")` (an enum implementing [`Choice`]),
//! `list(Type, "values")` (a comma-separated list of a [`Choice`] enum) and
//! `custom(parse_fn, check_fn, "values")`.
//!
//! A `secret` marker before the name (`{ secret "sasl.jaas.config" [] ...`)
//! keeps the value out of error messages for any kind; the field's type
//! should then be [`Secret`] (or hold one) so that `Debug` redacts it. The
//! `secret()` kind implies the marker. A secret kind's parse and check
//! functions must not put the value in their reasons.

use crate::error::ConfigError;
use std::fmt;
use std::marker::PhantomData;
use std::time::Duration;

/// A value that must not be shown: passwords, key passwords, tokens,
/// inline private keys. `Debug` prints `[redacted]`; there is no `Display`.
/// Read it with [`expose`](Secret::expose) where it is used, and nowhere
/// else.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The secret itself, for the code that sends or uses it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl From<String> for Secret {
    fn from(s: String) -> Self {
        Secret(s)
    }
}

impl From<&str> for Secret {
    fn from(s: &str) -> Self {
        Secret(s.to_owned())
    }
}

/// Which config type accepts a property.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Scope {
    /// [`ClientConfig`](super::ClientConfig): accepted by all three configs.
    Client,
    /// [`ProducerConfig`](super::ProducerConfig) only.
    Producer,
    /// [`ConsumerConfig`](super::ConsumerConfig) only.
    Consumer,
    /// [`AdminConfig`](super::AdminConfig) only.
    Admin,
}

impl Scope {
    /// `client`, `producer`, `consumer` or `admin`.
    pub const fn name(self) -> &'static str {
        match self {
            Scope::Client => "client",
            Scope::Producer => "producer",
            Scope::Consumer => "consumer",
            Scope::Admin => "admin",
        }
    }

    /// The config type of this scope (`ProducerConfig`).
    pub const fn config_type(self) -> &'static str {
        match self {
            Scope::Client => "ClientConfig",
            Scope::Producer => "ProducerConfig",
            Scope::Consumer => "ConsumerConfig",
            Scope::Admin => "AdminConfig",
        }
    }
}

/// One declared property, as the docs tables show it. See
/// [`properties`](super::properties).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct PropertyInfo {
    /// The Java client's name (`linger.ms`).
    pub name: &'static str,
    /// Other accepted names, mostly librdkafka's (`queue.buffering.max.ms`).
    pub aliases: &'static [&'static str],
    /// Which config type accepts it.
    pub scope: Scope,
    /// The Rust field (and builder setter) on that config type.
    pub field: &'static str,
    /// What values are accepted, in words.
    pub values: &'static str,
    /// The default, as a property value; empty when unset by default.
    pub default: &'static str,
    /// One line saying what it does.
    pub doc: &'static str,
    /// The value is a secret: redacted in `Debug`, never echoed in errors.
    pub secret: bool,
}

impl PropertyInfo {
    /// Whether `name` is this property's name or one of its aliases.
    pub fn matches(&self, name: &str) -> bool {
        self.name == name || self.aliases.contains(&name)
    }

    /// The name and the aliases.
    pub fn names(&self) -> impl Iterator<Item = &'static str> + use<> {
        std::iter::once(self.name).chain(self.aliases.iter().copied())
    }
}

// ---------------------------------------------------------------------------
// Codecs: how a kind of value is parsed from a property string and checked
// when a field was assigned directly. Reasons never contain the value (the
// caller adds it, unless the property is a secret).
// ---------------------------------------------------------------------------

/// Parses and range-checks one kind of property value.
pub(crate) trait Codec<T> {
    /// The value of a property string.
    fn parse(&self, s: &str) -> Result<T, String>;
    /// Whether a value (perhaps assigned directly to the field) is allowed.
    fn check(&self, v: &T) -> Result<(), String>;
}

/// Whole milliseconds in `min..=max` as a `Duration` (with `frac`, also
/// fractional milliseconds, as librdkafka's `linger.ms`).
pub(crate) struct Millis {
    pub min: i64,
    pub max: i64,
    pub frac: bool,
}

impl Millis {
    fn expected(&self) -> String {
        let frac = if self.frac {
            " (fractions allowed)"
        } else {
            ""
        };
        format!("expected milliseconds in {}..={}{frac}", self.min, self.max)
    }
}

impl Codec<Duration> for Millis {
    fn parse(&self, s: &str) -> Result<Duration, String> {
        let s = s.trim();
        if let Ok(n) = s.parse::<i64>()
            && (self.min..=self.max).contains(&n)
            && let Ok(n) = u64::try_from(n)
        {
            return Ok(Duration::from_millis(n));
        }
        if self.frac
            && let Ok(f) = s.parse::<f64>()
            && f.is_finite()
            && (self.min as f64..=self.max as f64).contains(&f)
            && f >= 0.0
        {
            return Ok(Duration::from_secs_f64(f / 1000.0));
        }
        Err(self.expected())
    }

    fn check(&self, v: &Duration) -> Result<(), String> {
        let min = u128::try_from(self.min).unwrap_or(0);
        let max = u128::try_from(self.max).unwrap_or(0);
        // Whole milliseconds count: a sub-millisecond part (librdkafka's
        // fractional linger) is fine.
        let ms = v.as_millis();
        if ms < min || ms > max {
            return Err(format!(
                "{} ms is out of range: {}",
                v.as_secs_f64() * 1000.0,
                self.expected()
            ));
        }
        Ok(())
    }
}

/// An integer in `min..=max`, for any integer field type.
pub(crate) struct Int {
    pub min: i64,
    pub max: i64,
}

impl<T> Codec<T> for Int
where
    T: TryFrom<i64> + TryInto<i64> + Copy + fmt::Display,
{
    fn parse(&self, s: &str) -> Result<T, String> {
        s.trim()
            .parse::<i64>()
            .ok()
            .filter(|n| (self.min..=self.max).contains(n))
            .and_then(|n| T::try_from(n).ok())
            .ok_or_else(|| format!("expected an integer in {}..={}", self.min, self.max))
    }

    fn check(&self, v: &T) -> Result<(), String> {
        match (*v).try_into() {
            Ok(n) if (self.min..=self.max).contains(&n) => Ok(()),
            _ => Err(format!(
                "{v} is out of range: expected {}..={}",
                self.min, self.max
            )),
        }
    }
}

/// `true`/`false` (also `1`/`0`), case-insensitive.
pub(crate) struct Bool;

fn parse_bool(s: &str) -> Result<bool, String> {
    let s = s.trim();
    if s.eq_ignore_ascii_case("true") || s == "1" {
        Ok(true)
    } else if s.eq_ignore_ascii_case("false") || s == "0" {
        Ok(false)
    } else {
        Err("expected true or false".to_owned())
    }
}

impl Codec<bool> for Bool {
    fn parse(&self, s: &str) -> Result<bool, String> {
        parse_bool(s)
    }

    fn check(&self, _: &bool) -> Result<(), String> {
        Ok(())
    }
}

/// An optional boolean: empty means unset.
pub(crate) struct OptBool;

impl Codec<Option<bool>> for OptBool {
    fn parse(&self, s: &str) -> Result<Option<bool>, String> {
        if s.trim().is_empty() {
            return Ok(None);
        }
        parse_bool(s).map(Some)
    }

    fn check(&self, _: &Option<bool>) -> Result<(), String> {
        Ok(())
    }
}

/// A string, trimmed.
pub(crate) struct Text;

impl Codec<String> for Text {
    fn parse(&self, s: &str) -> Result<String, String> {
        Ok(s.trim().to_owned())
    }

    fn check(&self, _: &String) -> Result<(), String> {
        Ok(())
    }
}

/// An optional string, trimmed: empty means unset.
pub(crate) struct OptText;

impl Codec<Option<String>> for OptText {
    fn parse(&self, s: &str) -> Result<Option<String>, String> {
        let s = s.trim();
        Ok((!s.is_empty()).then(|| s.to_owned()))
    }

    fn check(&self, _: &Option<String>) -> Result<(), String> {
        Ok(())
    }
}

/// An optional secret, taken as it is (not trimmed: a password may end in
/// a space); empty means unset.
#[allow(
    dead_code,
    reason = "the secret() kind; ssl.* and sasl.* properties will use it"
)]
pub(crate) struct SecretText;

impl Codec<Option<Secret>> for SecretText {
    fn parse(&self, s: &str) -> Result<Option<Secret>, String> {
        Ok((!s.is_empty()).then(|| Secret::new(s)))
    }

    fn check(&self, _: &Option<Secret>) -> Result<(), String> {
        Ok(())
    }
}

/// An enum whose property values are a fixed set of spellings.
pub(crate) trait Choice: Copy + PartialEq + 'static {
    /// Every accepted spelling (matched case-insensitively) and its value.
    /// The first spelling of a value is its name.
    const SPELLINGS: &'static [(&'static str, Self)];

    /// The value spelled `s`, or the reason it is none.
    fn parse_choice(s: &str) -> Result<Self, String> {
        let s = s.trim();
        Self::SPELLINGS
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case(s))
            .map(|&(_, v)| v)
            .ok_or_else(|| format!("expected {}", Self::expected()))
    }

    /// "a, b or c", every spelling.
    fn expected() -> String {
        let names: Vec<&str> = Self::SPELLINGS.iter().map(|(n, _)| *n).collect();
        match names.split_last() {
            Some((last, rest)) if !rest.is_empty() => format!("{} or {last}", rest.join(", ")),
            Some((last, _)) => (*last).to_owned(),
            None => String::new(),
        }
    }
}

/// A [`Choice`] enum, or a comma-separated list of them (duplicates
/// dropped, at least one).
pub(crate) struct Choices<T>(pub PhantomData<T>);

impl<T: Choice> Codec<T> for Choices<T> {
    fn parse(&self, s: &str) -> Result<T, String> {
        T::parse_choice(s)
    }

    fn check(&self, _: &T) -> Result<(), String> {
        Ok(())
    }
}

impl<T: Choice> Codec<Vec<T>> for Choices<T> {
    fn parse(&self, s: &str) -> Result<Vec<T>, String> {
        let mut out = Vec::new();
        for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let v = T::parse_choice(part).map_err(|why| format!("{part:?}: {why}"))?;
            if !out.contains(&v) {
                out.push(v);
            }
        }
        self.check(&out)?;
        Ok(out)
    }

    fn check(&self, v: &Vec<T>) -> Result<(), String> {
        if v.is_empty() {
            return Err(format!("expected at least one of {}", T::expected()));
        }
        Ok(())
    }
}

/// A value with its own parse and check functions.
pub(crate) struct Custom<T: 'static> {
    pub parse: fn(&str) -> Result<T, String>,
    pub check: fn(&T) -> Result<(), String>,
}

impl<T> Codec<T> for Custom<T> {
    fn parse(&self, s: &str) -> Result<T, String> {
        (self.parse)(s)
    }

    fn check(&self, v: &T) -> Result<(), String> {
        (self.check)(v)
    }
}

/// A `check` for [`Custom`] values that any value passes.
pub(crate) fn any_value<T>(_: &T) -> Result<(), String> {
    Ok(())
}

/// The default of a field: its declared property string, parsed. Every
/// declared default parses (a unit test holds each one to it); the
/// fallback is unreachable.
pub(crate) fn default_of<T: Default>(codec: &impl Codec<T>, value: &str) -> T {
    codec.parse(value).unwrap_or_default()
}

/// The error for a value `codec` rejected. A secret's value is not shown.
pub(crate) fn invalid_value(
    canonical: &str,
    used: &str,
    value: &str,
    secret: bool,
    reason: &str,
) -> ConfigError {
    let alias = if used == canonical {
        String::new()
    } else {
        format!(" (alias of {canonical})")
    };
    let shown = if secret {
        "(a secret, not shown)".to_owned()
    } else {
        format!("{value:?}")
    };
    ConfigError::new(used, format!("invalid value {shown}{alias}: {reason}"))
}

// ---------------------------------------------------------------------------
// The declaration macro.
// ---------------------------------------------------------------------------

/// The codec, "Values" text, secret flag and default setter of each kind.
macro_rules! prop_kind {
    (@codec ms($lo:literal, $hi:literal)) => {
        $crate::config::decl::Millis { min: $lo, max: $hi, frac: false }
    };
    (@codec ms_frac($lo:literal, $hi:literal)) => {
        $crate::config::decl::Millis { min: $lo, max: $hi, frac: true }
    };
    (@codec int($lo:literal, $hi:literal)) => {
        $crate::config::decl::Int { min: $lo, max: $hi }
    };
    (@codec bool()) => { $crate::config::decl::Bool };
    (@codec opt_bool()) => { $crate::config::decl::OptBool };
    (@codec string()) => { $crate::config::decl::Text };
    (@codec opt_string()) => { $crate::config::decl::OptText };
    (@codec secret()) => { $crate::config::decl::SecretText };
    (@codec choice($t:ty, $values:literal)) => {
        $crate::config::decl::Choices::<$t>(::std::marker::PhantomData)
    };
    (@codec list($t:ty, $values:literal)) => {
        $crate::config::decl::Choices::<$t>(::std::marker::PhantomData)
    };
    (@codec custom($parse:path, $check:path, $values:literal)) => {
        $crate::config::decl::Custom { parse: $parse, check: $check }
    };

    (@values ms($lo:literal, $hi:literal)) => {
        concat!("milliseconds, ", stringify!($lo), "..=", stringify!($hi))
    };
    (@values ms_frac($lo:literal, $hi:literal)) => {
        concat!("milliseconds, ", stringify!($lo), "..=", stringify!($hi), ", fractions allowed")
    };
    (@values int($lo:literal, $hi:literal)) => {
        concat!(stringify!($lo), "..=", stringify!($hi))
    };
    (@values bool()) => { "`true`, `false`" };
    (@values opt_bool()) => { "`true`, `false`" };
    (@values string()) => { "text" };
    (@values opt_string()) => { "text (empty: unset)" };
    (@values secret()) => { "text, secret" };
    (@values choice($t:ty, $values:literal)) => { $values };
    (@values list($t:ty, $values:literal)) => { concat!("comma-separated list of ", $values) };
    (@values custom($parse:path, $check:path, $values:literal)) => { $values };

    // A `secret` marker before the name, or the `secret()` kind.
    (@secret [secret] $kind:ident ($($args:tt)*)) => { true };
    (@secret [] secret()) => { true };
    (@secret [] $kind:ident ($($args:tt)*)) => { false };

    // The setter, unless the entry gives its own: `own` sets the field,
    // `forward` (on a producer or consumer config) the client's.
    (@setter $how:ident $field:ident $ty:ty, $doc:expr, string()) => {
        prop_kind!(@emit $how $field, $doc, (v: impl Into<String>) => v.into());
    };
    (@setter $how:ident $field:ident $ty:ty, $doc:expr, opt_string()) => {
        prop_kind!(@emit $how $field, $doc, (v: impl Into<String>) => Some(v.into()));
    };
    (@setter $how:ident $field:ident $ty:ty, $doc:expr, opt_bool()) => {
        prop_kind!(@emit $how $field, $doc, (v: bool) => Some(v));
    };
    (@setter $how:ident $field:ident $ty:ty, $doc:expr, secret()) => {
        prop_kind!(@emit $how $field, $doc,
            (v: impl Into<String>) => Some($crate::config::Secret::new(v)));
    };
    (@setter $how:ident $field:ident $ty:ty, $doc:expr, list($t:ty, $values:literal)) => {
        prop_kind!(@emit $how $field, $doc,
            (v: impl IntoIterator<Item = $t>) => v.into_iter().collect());
    };
    (@setter $how:ident $field:ident $ty:ty, $doc:expr, $kind:ident ($($args:tt)*)) => {
        prop_kind!(@emit $how $field, $doc, (v: $ty) => v);
    };

    (@emit own $field:ident, $doc:expr, ($arg:ident : $argty:ty) => $conv:expr) => {
        #[doc = $doc]
        pub fn $field(mut self, $arg: $argty) -> Self {
            self.$field = $conv;
            self
        }
    };
    (@emit forward $field:ident, $doc:expr, ($arg:ident : $argty:ty) => $conv:expr) => {
        #[doc = $doc]
        pub fn $field(mut self, $arg: $argty) -> Self {
            self.client = self.client.$field($arg);
            self
        }
    };
}

/// How a default is shown in the docs: `unset` or the value in backticks.
macro_rules! prop_default {
    (@str unset) => {
        ""
    };
    (@str $v:literal) => {
        $v
    };
    (@doc unset) => {
        "unset"
    };
    (@doc $v:literal) => {
        concat!("`", $v, "`")
    };
}

/// Declares the three config structs from one entry per property; see
/// the module docs of `config::decl` for the entry syntax.
macro_rules! declare_config {
    (
        $(#[$cmeta:meta])* client ClientConfig { $($c:tt),* $(,)? }
        $(#[$pmeta:meta])* producer ProducerConfig { $($p:tt),* $(,)? }
        $(#[$kmeta:meta])* consumer ConsumerConfig { $($k:tt),* $(,)? }
        $(#[$ameta:meta])* admin AdminConfig { $($a:tt),* $(,)? }
    ) => {
        declare_config!(@struct ClientConfig, Client, [$(#[$cmeta])*], [], [], [], $($c)*);
        declare_config!(@struct ProducerConfig, Producer, [$(#[$pmeta])*],
            [
                /// Connection settings (shared by every client type).
                pub client: ClientConfig,
            ],
            [client: ClientConfig::default(),],
            [$($c)*],
            $($p)*);
        declare_config!(@struct ConsumerConfig, Consumer, [$(#[$kmeta])*],
            [
                /// Connection settings (shared by every client type).
                pub client: ClientConfig,
            ],
            [client: ClientConfig::default(),],
            [$($c)*],
            $($k)*);
        declare_config!(@struct AdminConfig, Admin, [$(#[$ameta])*],
            [
                /// Connection settings (shared by every client type).
                pub client: ClientConfig,
            ],
            [client: ClientConfig::default(),],
            [$($c)*],
            $($a)*);
    };

    (@struct $S:ident, $scope:ident, [$($meta:tt)*], [$($head:tt)*], [$($head_default:tt)*],
        [$($fwd:tt)*],
        $({
            $($secret:ident)? $name:literal [$($alias:literal),*] $field:ident : $ty:ty,
            $kind:ident ($($kargs:tt)*), $default:tt, $doc:literal
            $(, set($arg:ident : $argty:ty) => $conv:expr)?
        })*
    ) => {
        $($meta)*
        ///
        /// | Property | Aliases | Values | Default | Field | What it does |
        /// |----------|---------|--------|---------|-------|--------------|
        #[doc = concat!($(
            "| `", $name, "` | ", $("`", $alias, "` ",)* "| ",
            prop_kind!(@values $kind($($kargs)*)), " | ",
            prop_default!(@doc $default), " | [`", stringify!($field), "`](", stringify!($S), "::", stringify!($field), ") | ",
            $doc, " |\n",
        )*)]
        #[derive(Debug, Clone, PartialEq, Eq)]
        pub struct $S {
            $($head)*
            $(
                #[doc = concat!("`", $name, "`", $(" (alias `", $alias, "`)",)* ": ", $doc)]
                #[doc = ""]
                #[doc = concat!("Values: ", prop_kind!(@values $kind($($kargs)*)),
                    "; default: ", prop_default!(@doc $default), ".")]
                pub $field: $ty,
            )*
        }

        impl Default for $S {
            fn default() -> Self {
                $S {
                    $($head_default)*
                    $(
                        $field: $crate::config::decl::default_of::<$ty>(
                            &prop_kind!(@codec $kind($($kargs)*)),
                            prop_default!(@str $default),
                        ),
                    )*
                }
            }
        }

        impl $S {
            /// The properties this config type declares (for a producer or
            /// consumer config, without the client properties it also
            /// accepts).
            pub const PROPERTIES: &'static [$crate::config::PropertyInfo] = &[$(
                $crate::config::PropertyInfo {
                    name: $name,
                    aliases: &[$($alias),*],
                    scope: $crate::config::Scope::$scope,
                    field: stringify!($field),
                    values: prop_kind!(@values $kind($($kargs)*)),
                    default: prop_default!(@str $default),
                    doc: $doc,
                    secret: prop_kind!(@secret [$($secret)?] $kind($($kargs)*)),
                },
            )*];

            /// Sets one of this type's own properties; `None` if `name` is
            /// not one.
            fn set_declared(
                &mut self,
                name: &str,
                value: &str,
            ) -> Option<Result<(), $crate::error::ConfigError>> {
                match name {
                    $(
                        $name $(| $alias)* => Some(
                            $crate::config::decl::Codec::<$ty>::parse(
                                &prop_kind!(@codec $kind($($kargs)*)),
                                value,
                            )
                            .map(|v| self.$field = v)
                            .map_err(|reason| {
                                $crate::config::decl::invalid_value(
                                    $name,
                                    name,
                                    value,
                                    prop_kind!(@secret [$($secret)?] $kind($($kargs)*)),
                                    &reason,
                                )
                            }),
                        ),
                    )*
                    _ => None,
                }
            }

            /// Checks every declared field against its kind's range (the
            /// fields are public, so they may hold anything).
            fn check_declared(&self) -> Result<(), $crate::error::ConfigError> {
                $(
                    $crate::config::decl::Codec::<$ty>::check(
                        &prop_kind!(@codec $kind($($kargs)*)),
                        &self.$field,
                    )
                    .map_err(|reason| $crate::error::ConfigError::new($name, reason))?;
                )*
                Ok(())
            }

            $(
                declare_config!(@setter own, $field: $ty, $name, $doc, $kind($($kargs)*)
                    $(, set($arg: $argty) => $conv)?);
            )*

            declare_config!(@forward $($fwd)*);
        }
    };

    (@setter $how:ident, $field:ident : $ty:ty, $name:literal, $doc:literal, $kind:ident ($($kargs:tt)*)) => {
        prop_kind!(@setter $how $field $ty, concat!("Sets `", $name, "`: ", $doc), $kind($($kargs)*));
    };
    (@setter $how:ident, $field:ident : $ty:ty, $name:literal, $doc:literal, $kind:ident ($($kargs:tt)*),
        set($arg:ident : $argty:ty) => $conv:expr) => {
        prop_kind!(@emit $how $field, concat!("Sets `", $name, "`: ", $doc), ($arg: $argty) => $conv);
    };

    (@forward $({
        $($secret:ident)? $name:literal [$($alias:literal),*] $field:ident : $ty:ty,
        $kind:ident ($($kargs:tt)*), $default:tt, $doc:literal
        $(, set($arg:ident : $argty:ty) => $conv:expr)?
    })*) => {
        $(
            declare_config!(@setter forward, $field: $ty, $name, $doc, $kind($($kargs)*)
                $(, set($arg: $argty) => $conv)?);
        )*
    };
}

/// Declares the properties accepted and ignored on purpose: the
/// [`IGNORED_PROPERTIES`](super::IGNORED_PROPERTIES) list and its docs table.
macro_rules! declare_ignored {
    ($(#[$meta:meta])* $($name:literal => $why:literal,)*) => {
        $(#[$meta])*
        ///
        /// | Property | Why it is ignored |
        /// |----------|-------------------|
        #[doc = concat!($("| `", $name, "` | ", $why, " |\n",)*)]
        pub const IGNORED_PROPERTIES: &[(&str, &str)] = &[$(($name, $why),)*];
    };
}

// ---------------------------------------------------------------------------
// Names no declaration knows.
// ---------------------------------------------------------------------------

/// Handles a name `scope`'s declarations do not know: ignored on purpose,
/// SSL/SASL not supported yet, the other client type's, or unknown (with a
/// suggestion).
pub(crate) fn not_declared(scope: Scope, name: &str) -> Result<(), ConfigError> {
    if let Some((_, why)) = super::IGNORED_PROPERTIES.iter().find(|(n, _)| *n == name) {
        // The value is not logged: an ignored name may still carry a secret.
        tracing::debug!(property = name, "configuration property ignored: {why}");
        return Ok(());
    }
    if name.starts_with("ssl.") || name.starts_with("sasl.") {
        // Often a Java property purekafka has no use for yet, sometimes a typo.
        let reason = match suggest(name, known_names(scope)) {
            Some(s) => format!("this SSL/SASL property is not supported yet; did you mean {s}?"),
            None => "this SSL/SASL property is not supported yet".to_owned(),
        };
        return Err(ConfigError::new(name, reason));
    }
    // The config types that do take it (a few names, such as
    // default.api.timeout.ms, belong to two).
    let owners: Vec<Scope> = super::properties()
        .filter(|p| p.matches(name) && p.scope != scope)
        .map(|p| p.scope)
        .collect();
    if !owners.is_empty() {
        let kinds: Vec<&str> = owners.iter().map(|s| s.name()).collect();
        let article = if kinds.first().is_some_and(|k| k.starts_with('a')) {
            "an"
        } else {
            "a"
        };
        let reason = if scope == Scope::Client {
            let types: Vec<&str> = owners.iter().map(|s| s.config_type()).collect();
            format!(
                "is {article} {} property: set it on {}",
                kinds.join(" and "),
                types.join(" or ")
            )
        } else {
            format!(
                "is {article} {} property, not a {} property",
                kinds.join(" and "),
                scope.name()
            )
        };
        return Err(ConfigError::new(name, reason));
    }
    let reason = match suggest(name, known_names(scope)) {
        Some(s) => format!("unknown property; did you mean {s}?"),
        None => "unknown property".to_owned(),
    };
    Err(ConfigError::new(name, reason))
}

/// Every name (and alias) a config of `scope` accepts.
pub(crate) fn known_names(scope: Scope) -> impl Iterator<Item = &'static str> {
    super::properties()
        .filter(move |p| p.scope == Scope::Client || p.scope == scope)
        .flat_map(PropertyInfo::names)
}

/// The closest known name, if it is close enough to be a likely typo.
pub(crate) fn suggest(
    name: &str,
    candidates: impl Iterator<Item = &'static str>,
) -> Option<&'static str> {
    let limit = (name.chars().count() / 4).max(2);
    candidates
        .map(|c| (edit_distance(name, c), c))
        .filter(|&(d, _)| d <= limit)
        .min_by_key(|&(d, _)| d)
        .map(|(_, c)| c)
}

/// Levenshtein distance (over chars).
pub(crate) fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0; b.len() + 1];
    for (i, ca) in a.chars().enumerate() {
        cur[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != *cb);
            cur[j + 1] = sub.min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}
