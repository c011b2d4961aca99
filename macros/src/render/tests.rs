use quote::quote;

use crate::parse::{self, Errors};

fn expand(args: proc_macro2::TokenStream, item: proc_macro2::TokenStream) -> String {
    crate::expand(args, item).to_string()
}

#[test]
fn the_expansion_is_one_call_into_the_runner() {
    let out = expand(
        quote!(
            image = "redis:7",
            expose = [6379],
            ready = Probe::log("Ready"),
            timeout = "30s"
        ),
        quote!(
            async fn t(c: Container) {
                let _ = c;
            }
        ),
    );
    assert!(out.contains(":: core :: prelude :: v1 :: test"), "{out}");
    assert!(
        out.contains(":: testdock :: __private :: run_test"),
        "{out}"
    );
    assert!(
        out.contains(". wait_for (Probe :: log (\"Ready\"))"),
        "{out}"
    );
    assert!(
        out.contains(". container (:: testdock :: ContainerSpec :: new (\"redis:7\")"),
        "{out}"
    );
    assert!(out.contains(". expose (6379)"), "{out}");
    assert!(out.contains("Duration :: new (30u64 , 0u32)"), "{out}");
    assert!(!out.contains("compile_error"), "{out}");
}

#[test]
fn probe_expressions_are_used_as_written() {
    let out = expand(
        quote!(
            image = "x",
            ready = Probe::custom("c", |c| async move { log(c) })
        ),
        quote!(
            async fn t(c: Container) {}
        ),
    );
    assert!(
        out.contains(". wait_for (Probe :: custom (\"c\" , | c | async move { log (c) }))"),
        "{out}"
    );
}

#[test]
fn a_spec_and_files_become_the_test_container() {
    let out = expand(
        quote!(
            spec = my_spec(),
            files = [config_file()],
            network = true,
            pool = true
        ),
        quote!(
            async fn t(c: Container) {}
        ),
    );
    assert!(
        out.contains(
            "let spec : :: testdock :: ContainerSpec = my_spec () ; spec } . file (config_file ())"
        ),
        "{out}"
    );
    assert!(out.contains(". per_test_network ()"), "{out}");
    assert!(out.contains(". pool (true)"), "{out}");
}

#[test]
fn types_decide_which_argument_takes_the_container() {
    let out = expand(
        quote!(image = "x"),
        quote!(
            async fn t(a: Container, b: Redis) {}
        ),
    );
    assert!(
        out.contains(
            "< Container as :: testdock :: __private :: Fixture > :: IS_TEST_CONTAINER as usize"
        ),
        "{out}"
    );
    assert!(
        out.contains("< Redis as :: testdock :: __private :: Fixture > :: setup"),
        "{out}"
    );
}

#[test]
fn a_renamed_crate_is_used_everywhere() {
    let out = expand(
        quote!(crate = "td", image = "x"),
        quote!(
            async fn t(c: Container) {}
        ),
    );
    assert!(out.contains("td :: __private :: run_test"), "{out}");
    assert!(!out.contains(":: testdock ::"), "{out}");
}

#[test]
fn plain_functions_run_on_a_blocking_thread() {
    let out = expand(
        quote!(),
        quote!(
            fn t() {}
        ),
    );
    assert!(out.contains("run_blocking"), "{out}");
}

#[test]
fn ignore_and_should_panic_are_kept() {
    let out = expand(
        quote!(),
        quote!(
            #[ignore]
            #[should_panic]
            async fn t() {}
        ),
    );
    assert!(
        out.contains("# [ignore]") && out.contains("# [should_panic]"),
        "{out}"
    );
}

#[test]
fn on_error_the_item_is_still_emitted_with_the_error() {
    let out = expand(
        quote!(imgae = "x"),
        quote!(
            async fn t() {}
        ),
    );
    assert!(out.contains("compile_error"), "{out}");
    assert!(out.contains("async fn t"), "{out}");
    let mut errors = Errors::default();
    let _ = parse::options(quote!(imgae = "x"), &mut errors);
    assert!(errors.into_result().is_err());
}

#[test]
fn a_compose_file_is_resolved_from_the_crate_root_and_taken_by_the_stack_argument() {
    let out = expand(
        quote!(compose = "Cargo.toml"),
        quote!(
            async fn t(stack: Stack) {}
        ),
    );
    assert!(
        out.contains(
            ". compose (:: core :: concat ! (:: core :: env ! (\"CARGO_MANIFEST_DIR\") , \"/\" , \"Cargo.toml\"))"
        ),
        "{out}"
    );
    assert!(
        out.contains("< Stack as :: testdock :: __private :: Fixture > :: IS_TEST_STACK"),
        "{out}"
    );
    let out = expand(
        quote!(compose = offline("tests/stack.yml")),
        quote!(
            async fn t(stack: Stack) {}
        ),
    );
    assert!(
        out.contains(". compose (offline (\"tests/stack.yml\"))"),
        "{out}"
    );
}
