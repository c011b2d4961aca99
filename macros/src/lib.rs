//! The `#[container_test]` attribute of testdock.
//!
//! Not implemented yet: the attribute expands to a `compile_error!` that says so (the
//! test function is still emitted so editors keep working), rather than pretending to
//! run containers. Until then use the fixture API: `testdock::ContainerSpec` in a
//! `#[tokio::test]`.

use proc_macro::TokenStream;
use quote::quote_spanned;

/// Marks a test that runs with containers. Not implemented yet; see the crate docs.
#[proc_macro_attribute]
pub fn container_test(args: TokenStream, item: TokenStream) -> TokenStream {
    let span = proc_macro2::TokenStream::from(args)
        .into_iter()
        .next()
        .map_or_else(proc_macro2::Span::call_site, |t| t.span());
    let item = proc_macro2::TokenStream::from(item);
    quote_spanned! {span=>
        ::core::compile_error!(
            "#[container_test] is not implemented yet; start containers with \
             `testdock::ContainerSpec::new(..).start().await` inside a `#[tokio::test]`"
        );
        #item
    }
    .into()
}
