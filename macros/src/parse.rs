//! Parsing `#[container_test(...)]`: the attribute's options and the test function's
//! arguments, into a [`Config`] that keeps spans so every error points at its token.

use std::time::Duration;

use proc_macro2::{Span, TokenStream};
use syn::parse::Parser;
use syn::punctuated::Punctuated;
use syn::spanned::Spanned;
use syn::{Expr, ExprLit, FnArg, ItemFn, Lit, Meta, Pat, Token, Type};

/// The options the attribute accepts, for error messages.
pub(crate) const OPTIONS: &str =
    "image, spec, cmd, env, expose, files, ready, startup_timeout, timeout, network, pool, compose, crate";

/// Options that refine the test's container and so need `image` or `spec`.
const CONTAINER_OPTIONS: [&str; 6] = ["cmd", "env", "expose", "files", "ready", "startup_timeout"];

/// Everything the attribute says, with spans.
#[derive(Default)]
pub(crate) struct Config {
    /// A string literal, or any expression that converts into `ImageSource`.
    pub(crate) image: Option<(Expr, Span)>,
    /// An expression giving a `ContainerSpec`.
    pub(crate) spec: Option<(Expr, Span)>,
    pub(crate) cmd: Option<(Vec<syn::LitStr>, Span)>,
    pub(crate) env: Option<(Vec<(String, String)>, Span)>,
    pub(crate) expose: Option<(Vec<syn::LitInt>, Span)>,
    /// Expressions giving `InjectFile`s.
    pub(crate) files: Option<(Vec<Expr>, Span)>,
    /// An expression giving a `Probe` (or anything `Into<Probe>`), used verbatim.
    pub(crate) ready: Option<(Expr, Span)>,
    pub(crate) startup_timeout: Option<(Duration, Span)>,
    pub(crate) timeout: Option<(Duration, Span)>,
    pub(crate) network: Option<(bool, Span)>,
    /// Pool mode on or off for this test (default: `TESTDOCK_POOL`).
    pub(crate) pool: Option<(bool, Span)>,
    /// A compose file relative to the crate's root (a string literal), or any
    /// expression converting into `ComposeSource`; a `Stack` argument takes it.
    pub(crate) compose: Option<(Compose, Span)>,
    pub(crate) krate: Option<(syn::Path, Span)>,
}

/// The attribute's `compose = ...`.
pub(crate) enum Compose {
    /// A file, relative to the crate's root (checked to exist at expansion).
    File(syn::LitStr),
    /// An expression giving a `Compose` (or a path), used verbatim.
    Expr(Expr),
}

/// How one argument of the test gets its value.
pub(crate) enum Source {
    /// `#[from(path)]`: an async fn taking `&TestContext`.
    From(syn::Path),
    /// `<Type as Fixture>::setup`: the type decides (a `Container` argument takes the
    /// container the attribute describes).
    Fixture,
}

/// One argument of the test function.
pub(crate) struct Arg {
    pub(crate) pat: Pat,
    pub(crate) ty: Type,
    pub(crate) source: Source,
}

/// Collects errors so all of them are reported at once.
#[derive(Default)]
pub(crate) struct Errors(Option<syn::Error>);

impl Errors {
    pub(crate) fn push(&mut self, span: Span, message: impl std::fmt::Display) {
        let error = syn::Error::new(span, message);
        match &mut self.0 {
            Some(all) => all.combine(error),
            None => self.0 = Some(error),
        }
    }

    pub(crate) fn into_result(self) -> syn::Result<()> {
        self.0.map_or(Ok(()), Err)
    }
}

/// Parses the attribute's arguments.
pub(crate) fn options(args: TokenStream, errors: &mut Errors) -> Config {
    let mut config = Config::default();
    let metas = match Punctuated::<Meta, Token![,]>::parse_terminated.parse2(args) {
        Ok(metas) => metas,
        Err(e) => {
            errors.push(
                e.span(),
                format!("{e}; options are written `name = value`, one of: {OPTIONS}"),
            );
            return config;
        }
    };
    for meta in metas {
        let Meta::NameValue(nv) = &meta else {
            errors.push(
                meta.span(),
                format!("expected `name = value`; valid options: {OPTIONS}"),
            );
            continue;
        };
        let Some(name) = nv.path.get_ident().map(|i| i.to_string()) else {
            errors.push(
                nv.path.span(),
                format!("unknown option; valid options: {OPTIONS}"),
            );
            continue;
        };
        let span = nv.path.span();
        let value = &nv.value;
        macro_rules! set {
            ($field:ident, $parsed:expr) => {{
                if config.$field.is_some() {
                    errors.push(span, format!("duplicate option `{name}`: give it once"));
                } else if let Some(v) = $parsed {
                    config.$field = Some((v, span));
                }
            }};
        }
        match name.as_str() {
            "image" => set!(image, image(value, errors)),
            "spec" => set!(spec, expression(value, "spec", "my_spec()", errors)),
            "files" => set!(
                files,
                array(value, &name, errors, |e, errs| expression(
                    e,
                    "files",
                    "InjectFile::from_bytes(\"/etc/app.conf\", \"k=v\")",
                    errs
                ))
            ),
            "cmd" => set!(
                cmd,
                array(value, &name, errors, |e, errs| string(e, "cmd", errs))
            ),
            "env" => set!(env, array(value, &name, errors, env_pair)),
            "expose" => set!(expose, array(value, &name, errors, port)),
            "ready" => set!(ready, Some(value.clone())),
            "startup_timeout" => set!(startup_timeout, duration(value, &name, errors)),
            "timeout" => set!(timeout, duration(value, &name, errors)),
            "network" => set!(network, boolean(value, &name, errors)),
            "pool" => set!(pool, boolean(value, &name, errors)),
            "compose" => set!(compose, compose_file(value, errors)),
            "crate" => set!(
                krate,
                string(value, &name, errors).and_then(|s| match s.parse::<syn::Path>() {
                    Ok(p) => Some(p),
                    Err(_) => {
                        errors.push(
                            s.span(),
                            "`crate` must name a path, e.g. `crate = \"my_testdock\"`",
                        );
                        None
                    }
                })
            ),
            _ => errors.push(
                span,
                format!("unknown option `{name}`; valid options: {OPTIONS}"),
            ),
        }
    }
    if let (Some(_), Some((_, spec_span))) = (&config.image, &config.spec) {
        errors.push(
            *spec_span,
            "give `image` or `spec`, not both: `spec = ...` is the whole container, \
             `image = ...` starts one from an image",
        );
    }
    if !config.has_container() {
        for (name, span) in config.container_options() {
            errors.push(
                span,
                format!(
                    "`{name}` refines the test's container and needs `image = \"...\"` \
                     or `spec = ...`"
                ),
            );
        }
    }
    config
}

impl Config {
    /// Whether the attribute describes the test's container.
    pub(crate) fn has_container(&self) -> bool {
        self.image.is_some() || self.spec.is_some()
    }

    /// The span of the option that describes the test's container.
    pub(crate) fn container_span(&self) -> Option<Span> {
        self.image
            .as_ref()
            .or(self.spec.as_ref())
            .map(|(_, span)| *span)
    }

    fn container_options(&self) -> Vec<(&'static str, Span)> {
        let spans = [
            self.cmd.as_ref().map(|c| c.1),
            self.env.as_ref().map(|c| c.1),
            self.expose.as_ref().map(|c| c.1),
            self.files.as_ref().map(|c| c.1),
            self.ready.as_ref().map(|c| c.1),
            self.startup_timeout.as_ref().map(|c| c.1),
        ];
        CONTAINER_OPTIONS
            .iter()
            .zip(spans)
            .filter_map(|(name, span)| span.map(|s| (*name, s)))
            .collect()
    }
}

fn lit(value: &Expr) -> Option<&Lit> {
    match value {
        Expr::Lit(ExprLit { lit, .. }) => Some(lit),
        _ => None,
    }
}

fn string(value: &Expr, name: &str, errors: &mut Errors) -> Option<syn::LitStr> {
    match lit(value) {
        Some(Lit::Str(s)) => Some(s.clone()),
        _ => {
            errors.push(
                value.span(),
                format!("`{name}` takes a string literal, e.g. `{name} = \"...\"`"),
            );
            None
        }
    }
}

/// A string literal or a non-literal expression (e.g. `my_image()`).
fn image(value: &Expr, errors: &mut Errors) -> Option<Expr> {
    match lit(value) {
        None | Some(Lit::Str(_)) => Some(value.clone()),
        Some(_) => {
            errors.push(
                value.span(),
                "`image` takes a string literal (`image = \"redis:7\"`) or an expression \
                 giving an image source (`image = my_image()`)",
            );
            None
        }
    }
}

/// Any expression but a literal (a spec or a file is built by code).
fn expression(value: &Expr, name: &str, example: &str, errors: &mut Errors) -> Option<Expr> {
    match lit(value) {
        None => Some(value.clone()),
        Some(_) => {
            errors.push(
                value.span(),
                format!("`{name}` takes an expression, e.g. `{example}`, not a literal"),
            );
            None
        }
    }
}

/// A string literal naming a compose file that exists, relative to the root of the
/// crate being compiled (where `cargo test` runs tests, and the base the expansion
/// uses), or a non-literal expression (e.g. `offline("tests/stack.yml")`).
fn compose_file(value: &Expr, errors: &mut Errors) -> Option<Compose> {
    if lit(value).is_none() {
        return Some(Compose::Expr(value.clone()));
    }
    let path = string(value, "compose", errors)?;
    let relative = path.value();
    if relative.is_empty() || std::path::Path::new(&relative).is_absolute() {
        errors.push(
            path.span(),
            "`compose` takes a path relative to the crate's root, e.g. \
             `compose = \"tests/stack.yml\"`",
        );
        return None;
    }
    // Checked here, so a typo is a compile error at the literal rather than a failed test.
    if let Ok(root) = std::env::var("CARGO_MANIFEST_DIR") {
        let full = std::path::Path::new(&root).join(&relative);
        if !full.is_file() {
            errors.push(
                path.span(),
                format!(
                    "no compose file `{relative}` under the crate's root: `compose` paths \
                     are relative to the directory of the crate's Cargo.toml"
                ),
            );
            return None;
        }
    }
    Some(Compose::File(path))
}

fn boolean(value: &Expr, name: &str, errors: &mut Errors) -> Option<bool> {
    match lit(value) {
        Some(Lit::Bool(b)) => Some(b.value),
        _ => {
            errors.push(value.span(), format!("`{name}` takes `true` or `false`"));
            None
        }
    }
}

fn port(value: &Expr, errors: &mut Errors) -> Option<syn::LitInt> {
    match lit(value) {
        Some(Lit::Int(i)) if i.base10_parse::<u16>().is_ok() => Some(i.clone()),
        _ => {
            errors.push(
                value.span(),
                "`expose` takes port numbers (0-65535), e.g. `expose = [6379]`",
            );
            None
        }
    }
}

fn env_pair(value: &Expr, errors: &mut Errors) -> Option<(String, String)> {
    let s = string(value, "env", errors)?;
    match s.value().split_once('=') {
        Some((k, v)) if !k.is_empty() => Some((k.to_owned(), v.to_owned())),
        _ => {
            errors.push(s.span(), "`env` entries are `\"KEY=value\"`");
            None
        }
    }
}

fn array<T>(
    value: &Expr,
    name: &str,
    errors: &mut Errors,
    item: impl Fn(&Expr, &mut Errors) -> Option<T>,
) -> Option<Vec<T>> {
    let Expr::Array(array) = value else {
        errors.push(
            value.span(),
            format!("`{name}` takes a list in brackets, e.g. `{name} = [...]`"),
        );
        return None;
    };
    let mut items = Vec::with_capacity(array.elems.len());
    let mut all_ok = true;
    for elem in &array.elems {
        match item(elem, errors) {
            Some(v) => items.push(v),
            None => all_ok = false,
        }
    }
    all_ok.then_some(items)
}

fn duration(value: &Expr, name: &str, errors: &mut Errors) -> Option<Duration> {
    let s = string(value, name, errors)?;
    match parse_duration(&s.value()) {
        Ok(d) => Some(d),
        Err(why) => {
            errors.push(
                s.span(),
                format!("bad duration for `{name}`: {why}; write e.g. \"30s\", \"500ms\", \"2m\""),
            );
            None
        }
    }
}

/// `"30s"`, `"500ms"`, `"2m"`, `"1h"`, `"1m30s"`.
pub(crate) fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    if text.is_empty() {
        return Err("it is empty".into());
    }
    let mut total = Duration::ZERO;
    let mut rest = text;
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        if digits == 0 {
            return Err(format!("`{rest}` does not start with a number"));
        }
        let number: u64 = rest[..digits]
            .parse()
            .map_err(|_| "the number is too large".to_owned())?;
        rest = &rest[digits..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(rest.len());
        let unit = &rest[..unit_len];
        rest = &rest[unit_len..];
        total += match unit {
            "ms" => Duration::from_millis(number),
            "s" => Duration::from_secs(number),
            "m" => Duration::from_secs(number * 60),
            "h" => Duration::from_secs(number * 3600),
            "" => return Err(format!("`{number}` has no unit (ms, s, m or h)")),
            other => return Err(format!("unknown unit `{other}` (use ms, s, m or h)")),
        };
    }
    Ok(total)
}

/// Reads the test function's arguments and removes their `#[from(...)]` attributes.
///
/// Which argument gets which fixture is decided by types, not names: an argument
/// without `#[from]` is set up by its type's `Fixture` impl (see `render`).
pub(crate) fn arguments(item: &mut ItemFn, errors: &mut Errors) -> Vec<Arg> {
    let mut args = Vec::new();
    for input in item.sig.inputs.iter_mut() {
        let FnArg::Typed(typed) = input else {
            errors.push(input.span(), "a test cannot take `self`");
            continue;
        };
        let mut from = None;
        let mut kept = Vec::new();
        for attr in typed.attrs.drain(..) {
            if attr.path().is_ident("from") {
                match attr.parse_args::<syn::Path>() {
                    Ok(path) => from = Some(path),
                    Err(_) => errors.push(attr.span(), "write `#[from(fixture_fn)]` with the path of an async fn taking `&TestContext`"),
                }
            } else {
                kept.push(attr);
            }
        }
        typed.attrs = kept;
        args.push(Arg {
            pat: (*typed.pat).clone(),
            ty: (*typed.ty).clone(),
            source: from.map_or(Source::Fixture, Source::From),
        });
    }
    args
}

/// Attributes that would make the function a test twice.
pub(crate) fn check_test_attributes(item: &ItemFn, errors: &mut Errors) {
    for attr in &item.attrs {
        let path = attr.path();
        let last = path
            .segments
            .last()
            .map(|s| s.ident.to_string())
            .unwrap_or_default();
        if last == "test" || last == "container_test" {
            errors.push(
                path.span(),
                "#[container_test] already makes this a test: remove this attribute",
            );
        }
    }
}

#[cfg(test)]
mod tests;
