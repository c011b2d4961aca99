//! Rendering: the plain `#[test]` fn that calls `::testdock::__private::run_test`.

use proc_macro2::TokenStream;
use quote::{format_ident, quote, quote_spanned, ToTokens};
use syn::spanned::Spanned;
use syn::visit_mut::VisitMut;
use syn::{Expr, ItemFn};

use crate::parse::{Arg, Config, Source};

/// Probe constructors that may be written without `Probe::` in `ready = ...`.
const PROBES: [&str; 12] = [
    "log",
    "log_regex",
    "tcp",
    "http",
    "exec",
    "healthy",
    "exit",
    "delay",
    "all",
    "any",
    "custom",
    "none",
];

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
    if let Some((network, _)) = &config.network {
        meta.extend(quote!(.network(#network)));
    }

    let pats: Vec<_> = args.iter().map(|a| &a.pat).collect();
    let setups: Vec<TokenStream> = args.iter().map(|a| setup(a, config, &krate)).collect();
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
    // Checked outside the test fn too, so that `cargo build` (where `#[test]` items are
    // compiled out) reports an argument type that is not a fixture, at the type.
    let checks = args
        .iter()
        .filter(|a| matches!(a.source, Source::Fixture))
        .map(|a| {
            let ty = &a.ty;
            quote_spanned! {ty.span()=>
                const _: () = {
                    fn __testdock_is_fixture<T: #krate::__private::Fixture>() {}
                    fn __testdock_check() {
                        __testdock_is_fixture::<#ty>();
                    }
                };
            }
        });
    quote! {
        #(#checks)*
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

/// The future that produces one argument.
fn setup(arg: &Arg, config: &Config, krate: &TokenStream) -> TokenStream {
    let ty = &arg.ty;
    match &arg.source {
        Source::From(path) => quote_spanned!(path.span()=> #path(__testdock_ctx)),
        Source::Fixture => {
            quote_spanned!(ty.span()=> <#ty as #krate::__private::Fixture>::setup(__testdock_ctx))
        }
        Source::Inline => {
            let spec = inline_spec(config, krate);
            quote!(#krate::__private::start_inline(__testdock_ctx, #spec))
        }
    }
}

/// The `ContainerSpec` the attribute's options describe.
fn inline_spec(config: &Config, krate: &TokenStream) -> TokenStream {
    let image = config.image.as_ref().map(|(i, _)| i);
    let mut spec = quote!(#krate::ContainerSpec::new(#image));
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
    if let Some((ready, _)) = &config.ready {
        let mut probe = ready.clone();
        PrefixProbes { krate }.visit_expr_mut(&mut probe);
        spec.extend(quote_spanned!(ready.span()=> .wait_for(#probe)));
    }
    if let Some((d, _)) = &config.startup_timeout {
        let (secs, nanos) = (d.as_secs(), d.subsec_nanos());
        spec.extend(quote!(.startup_timeout(::core::time::Duration::new(#secs, #nanos))));
    }
    spec
}

/// Rewrites `log("x")` into `::testdock::Probe::log("x")` (and so on for every probe
/// constructor), and wraps the items of `all([...])`/`any([...])` in `Probe::from`.
struct PrefixProbes<'a> {
    krate: &'a TokenStream,
}

impl VisitMut for PrefixProbes<'_> {
    fn visit_expr_mut(&mut self, expr: &mut Expr) {
        syn::visit_mut::visit_expr_mut(self, expr);
        let Expr::Call(call) = expr else { return };
        let Expr::Path(func) = &*call.func else {
            return;
        };
        let Some(ident) = func.path.get_ident() else {
            return;
        };
        if !PROBES.contains(&ident.to_string().as_str()) {
            return;
        }
        let krate = self.krate;
        let is_composite = ident == "all" || ident == "any";
        *call.func = syn::parse_quote_spanned!(ident.span()=> #krate::Probe::#ident);
        if is_composite {
            if let Some(Expr::Array(items)) = call.args.first_mut() {
                for item in items.elems.iter_mut() {
                    *item = syn::parse_quote!(#krate::Probe::from(#item));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests;
