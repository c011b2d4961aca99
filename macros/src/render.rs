//! Rendering: the plain `#[test]` fn that calls `::testdock::__private::run_test`.

use proc_macro2::TokenStream;
use quote::{format_ident, quote, quote_spanned, ToTokens};
use syn::spanned::Spanned;
use syn::ItemFn;

use crate::parse::{Arg, Config, Source};

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
/// without `#[from]` is a `Fixture`, and the test's container (the attribute's `image`
/// or `spec`) goes to exactly one argument. Types decide, through
/// `Fixture::IS_TEST_CONTAINER`: a user type that happens to be called `Container` is
/// just another fixture.
fn checks(config: &Config, args: &[Arg], krate: &TokenStream) -> TokenStream {
    let fixtures: Vec<&syn::Type> = args
        .iter()
        .filter(|a| matches!(a.source, Source::Fixture))
        .map(|a| &a.ty)
        .collect();
    let fixture = quote!(#krate::__private::Fixture);
    let Some(span) = config.container_span() else {
        // No container described: no argument may ask for one.
        return fixtures
            .iter()
            .map(|ty| {
                quote_spanned! {ty.span()=>
                    const _: () = ::core::assert!(
                        !<#ty as #fixture>::IS_TEST_CONTAINER,
                        "this `Container` argument has no container to take: describe it with \
                         `image = \"...\"` or `spec = ...` in the attribute, or name a fixture \
                         fn with `#[from(fixture_fn)]`",
                    );
                }
            })
            .collect();
    };
    let count = fixtures
        .iter()
        .map(|ty| quote_spanned!(ty.span()=> (<#ty as #fixture>::IS_TEST_CONTAINER as usize)));
    let count = quote!(0 #(+ #count)*);
    quote_spanned! {span=>
        const _: () = ::core::assert!(
            #count >= 1,
            "the attribute describes a container, but no argument takes it: add an \
             argument of type `Container`",
        );
        const _: () = ::core::assert!(
            #count <= 1,
            "the attribute describes one container, but several `Container` arguments \
             take it: give the others `#[from(fixture_fn)]`",
        );
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
