//! Rendering: the plain `#[test]` fn that calls `::testdock::__private::run_test`.

use proc_macro2::TokenStream;
use quote::{format_ident, quote, quote_spanned, ToTokens};
use syn::spanned::Spanned;
use syn::ItemFn;

use crate::parse::{Arg, Compose, Config, Source};

/// The expansion of a valid test.
pub(crate) fn test(item: ItemFn, config: &Config, args: &[Arg]) -> TokenStream {
    let krate = config
        .krate
        .as_ref()
        .map_or_else(|| quote!(::testdock), |(p, _)| p.to_token_stream());
    let name = &item.sig.ident;
    let vis = &item.vis;
    let attrs = &item.attrs;
    let body_name = format_ident!("__testdock_body_{}", name);
    let mut body_fn = item.clone();
    body_fn.sig.ident = body_name.clone();
    body_fn.attrs.clear();
    body_fn.vis = syn::Visibility::Inherited;

    let mut meta = quote! {
        #krate::__private::TestMeta::new(
            ::core::concat!(::core::module_path!(), "::", ::core::stringify!(#name)),
            ::core::file!(),
            ::core::line!(),
        )
    };
    if let Some((d, _)) = &config.timeout {
        let (secs, nanos) = (d.as_secs(), d.subsec_nanos());
        meta.extend(quote!(.timeout(::core::time::Duration::new(#secs, #nanos))));
    }
    if let Some((true, _)) = &config.network {
        meta.extend(quote!(.per_test_network()));
    }
    if let Some((pool, _)) = &config.pool {
        meta.extend(quote!(.pool(#pool)));
    }
    match &config.compose {
        Some((Compose::File(file), _)) => meta.extend(quote_spanned! {file.span()=>
            .compose(::core::concat!(::core::env!("CARGO_MANIFEST_DIR"), "/", #file))
        }),
        Some((Compose::Expr(expr), _)) => {
            meta.extend(quote_spanned!(expr.span()=> .compose(#expr)))
        }
        None => {}
    }
    if config.has_container() {
        let spec = container_spec(config, &krate);
        meta.extend(quote!(.container(#spec)));
    }

    let pats: Vec<_> = args.iter().map(|a| &a.pat).collect();
    let setups: Vec<TokenStream> = args.iter().map(|a| setup(a, &krate)).collect();
    let start = if args.is_empty() {
        quote!()
    } else {
        quote! { let (#(#pats,)*) = #krate::__private::try_join!(#(#setups),*)?; }
    };
    let call_args: Vec<_> = args.iter().map(|a| &a.pat).collect();
    let call = if item.sig.asyncness.is_some() {
        quote!(#body_name(#(#call_args),*).await)
    } else {
        quote!(#krate::__private::run_blocking(move || #body_name(#(#call_args),*)).await)
    };
    let checks = checks(config, args, &krate);
    quote! {
        #checks
        #(#attrs)*
        #[::core::prelude::v1::test]
        #vis fn #name() {
            #body_fn
            #krate::__private::run_test(#meta, |__testdock_ctx: #krate::__private::TestContext| async move {
                let __testdock_ctx = &__testdock_ctx;
                #start
                ::core::result::Result::Ok(#call)
            });
        }
    }
}

/// Checks made outside the test fn (so that `cargo build`, where `#[test]` items are
/// compiled out, reports them too), each at the token it is about: every argument
/// without `#[from]` is a `Fixture`, the test's container (the attribute's `image` or
/// `spec`) goes to exactly one argument, and so does the stack of its `compose` file.
/// Types decide, through `Fixture::IS_TEST_CONTAINER` and `Fixture::IS_TEST_STACK`: a
/// user type that happens to be called `Container` is just another fixture.
fn checks(config: &Config, args: &[Arg], krate: &TokenStream) -> TokenStream {
    let fixtures: Vec<&syn::Type> = args
        .iter()
        .filter(|a| matches!(a.source, Source::Fixture))
        .map(|a| &a.ty)
        .collect();
    let container = Taken {
        flag: quote!(IS_TEST_CONTAINER),
        described: config.container_span(),
        none_described: "this `Container` argument has no container to take: describe it with \
                         `image = \"...\"` or `spec = ...` in the attribute, or name a fixture \
                         fn with `#[from(fixture_fn)]`",
        not_taken: "the attribute describes a container, but no argument takes it: add an \
                    argument of type `Container`",
        taken_twice: "the attribute describes one container, but several `Container` arguments \
                      take it: give the others `#[from(fixture_fn)]`",
    };
    let stack = Taken {
        flag: quote!(IS_TEST_STACK),
        described: config.compose.as_ref().map(|(_, span)| *span),
        none_described: "this `Stack` argument has no compose file to take: name one with \
                         `compose = \"tests/stack.yml\"` in the attribute, or name a fixture \
                         fn with `#[from(fixture_fn)]`",
        not_taken: "the attribute names a compose file, but no argument takes its stack: add \
                    an argument of type `testdock::compose::Stack`",
        taken_twice: "the attribute names one compose file, but several `Stack` arguments \
                      take it: give the others `#[from(fixture_fn)]`",
    };
    let mut checks = container.checks(&fixtures, krate);
    checks.extend(stack.checks(&fixtures, krate));
    checks
}

/// Something the attribute describes that exactly one argument takes: the argument
/// types whose `Fixture::<flag>` is true.
struct Taken {
    flag: TokenStream,
    /// The option that describes it, if the attribute does.
    described: Option<proc_macro2::Span>,
    none_described: &'static str,
    not_taken: &'static str,
    taken_twice: &'static str,
}

impl Taken {
    fn checks(&self, fixtures: &[&syn::Type], krate: &TokenStream) -> TokenStream {
        let fixture = quote!(#krate::__private::Fixture);
        let Taken { flag, .. } = self;
        let Some(span) = self.described else {
            // Nothing described: no argument may ask for it.
            let message = self.none_described;
            return fixtures
                .iter()
                .map(|ty| {
                    quote_spanned! {ty.span()=>
                        const _: () = ::core::assert!(!<#ty as #fixture>::#flag, #message);
                    }
                })
                .collect();
        };
        let count = fixtures
            .iter()
            .map(|ty| quote_spanned!(ty.span()=> (<#ty as #fixture>::#flag as usize)));
        let count = quote!(0 #(+ #count)*);
        let (not_taken, taken_twice) = (self.not_taken, self.taken_twice);
        quote_spanned! {span=>
            const _: () = ::core::assert!(#count >= 1, #not_taken);
            const _: () = ::core::assert!(#count <= 1, #taken_twice);
        }
    }
}

/// The future that produces one argument.
fn setup(arg: &Arg, krate: &TokenStream) -> TokenStream {
    let ty = &arg.ty;
    match &arg.source {
        Source::From(path) => quote_spanned!(path.span()=> #path(__testdock_ctx)),
        Source::Fixture => {
            quote_spanned!(ty.span()=> <#ty as #krate::__private::Fixture>::setup(__testdock_ctx))
        }
    }
}

/// The `ContainerSpec` the attribute's options describe: `spec = ...` or
/// `ContainerSpec::new(image)`, refined by the other options. Expressions are used as
/// written (nothing is rewritten), so they mean what they mean in ordinary code.
fn container_spec(config: &Config, krate: &TokenStream) -> TokenStream {
    let mut spec = match (&config.spec, &config.image) {
        (Some((spec, _)), _) => {
            quote_spanned!(spec.span()=> { let spec: #krate::ContainerSpec = #spec; spec })
        }
        (None, Some((image, _))) => quote!(#krate::ContainerSpec::new(#image)),
        (None, None) => unreachable!("checked by has_container"),
    };
    if let Some((cmd, _)) = &config.cmd {
        spec.extend(quote!(.cmd([#(#cmd),*])));
    }
    if let Some((env, _)) = &config.env {
        for (k, v) in env {
            spec.extend(quote!(.env(#k, #v)));
        }
    }
    if let Some((ports, _)) = &config.expose {
        for p in ports {
            spec.extend(quote!(.expose(#p)));
        }
    }
    if let Some((files, _)) = &config.files {
        for file in files {
            spec.extend(quote_spanned!(file.span()=> .file(#file)));
        }
    }
    if let Some((ready, _)) = &config.ready {
        spec.extend(quote_spanned!(ready.span()=> .wait_for(#ready)));
    }
    if let Some((d, _)) = &config.startup_timeout {
        let (secs, nanos) = (d.as_secs(), d.subsec_nanos());
        spec.extend(quote!(.startup_timeout(::core::time::Duration::new(#secs, #nanos))));
    }
    spec
}

#[cfg(test)]
mod tests;
