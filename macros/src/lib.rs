//! The `#[container_test]` attribute of testdock: parsing and code generation only.
//!
//! The attribute expands to a plain `#[test]` that makes one call into
//! `::testdock::__private::run_test` (the public `testdock::runner` API): everything it
//! does, a test can do by hand. Bad input is a compile error pointing at the offending
//! token; the function is still emitted so editors keep working.

#![forbid(unsafe_code)]

mod parse;
mod render;

use proc_macro::TokenStream;
use quote::ToTokens;

/// Marks an async (or plain) test that runs with containers. See the `testdock` docs.
#[proc_macro_attribute]
pub fn container_test(args: TokenStream, item: TokenStream) -> TokenStream {
    expand(args.into(), item.into()).into()
}

fn expand(
    args: proc_macro2::TokenStream,
    item: proc_macro2::TokenStream,
) -> proc_macro2::TokenStream {
    let mut function: syn::ItemFn = match syn::parse2(item.clone()) {
        Ok(f) => f,
        Err(e) => {
            let mut out = e.to_compile_error();
            out.extend(item);
            return out;
        }
    };
    let mut errors = parse::Errors::default();
    let config = parse::options(args, &mut errors);
    parse::check_test_attributes(&function, &mut errors);
    let original = function.clone();
    let fn_args = parse::arguments(&mut function, &mut errors);
    match errors.into_result() {
        Ok(()) => render::test(function, &config, &fn_args),
        Err(e) => {
            // Keep the item (without its arguments' helper attributes) for IDEs.
            let mut out = e.to_compile_error();
            let mut kept = original;
            for input in kept.sig.inputs.iter_mut() {
                if let syn::FnArg::Typed(t) = input {
                    t.attrs.retain(|a| !a.path().is_ident("from"));
                }
            }
            kept.attrs.retain(|a| !a.path().is_ident("test"));
            kept.attrs.push(syn::parse_quote!(#[allow(dead_code)]));
            out.extend(kept.into_token_stream());
            out
        }
    }
}
