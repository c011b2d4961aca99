use quote::quote;

use super::*;

fn parse(args: TokenStream) -> (Config, Option<String>) {
    let mut errors = Errors::default();
    let config = options(args, &mut errors);
    (config, errors.into_result().err().map(|e| e.to_string()))
}

#[test]
fn all_options_are_read() {
    let (c, err) = parse(quote!(
        image = "redis:7",
        cmd = ["redis-server"],
        env = ["A=1", "B=x=y"],
        expose = [6379, 8080],
        ready = log("Ready"),
        startup_timeout = "10s",
        timeout = "1m30s",
        network = true,
        pool = false,
        crate = "td"
    ));
    assert!(err.is_none(), "{err:?}");
    let image = c.image.unwrap().0;
    assert_eq!(quote!(#image).to_string(), "\"redis:7\"");
    assert_eq!(c.cmd.unwrap().0.len(), 1);
    assert_eq!(
        c.env.unwrap().0,
        [("A".into(), "1".into()), ("B".into(), "x=y".into())]
    );
    assert_eq!(c.expose.unwrap().0.len(), 2);
    assert!(c.ready.is_some());
    assert_eq!(c.startup_timeout.unwrap().0, Duration::from_secs(10));
    assert_eq!(c.timeout.unwrap().0, Duration::from_secs(90));
    assert!(c.network.unwrap().0);
    assert!(!c.pool.unwrap().0);
    assert!(c.krate.is_some());
}

#[test]
fn an_unknown_option_lists_the_valid_ones() {
    let (_, err) = parse(quote!(image = "x", imgae = "y"));
    let err = err.unwrap();
    assert!(err.contains("unknown option `imgae`"), "{err}");
    assert!(err.contains(OPTIONS), "{err}");
}

#[test]
fn a_wrong_literal_type_names_the_expected_one() {
    let (_, err) = parse(quote!(image = 5));
    assert!(err.unwrap().contains("`image` takes a string literal"));
    let (c, err) = parse(quote!(image = common::busybox()));
    assert!(err.is_none() && c.image.is_some());
    let (_, err) = parse(quote!(image = "x", expose = ["80"]));
    assert!(err.unwrap().contains("port numbers"));
    let (_, err) = parse(quote!(network = "yes"));
    assert!(err.unwrap().contains("`true` or `false`"));
}

#[test]
fn a_duplicate_option_is_an_error() {
    let (_, err) = parse(quote!(image = "a", image = "b"));
    assert!(err.unwrap().contains("duplicate option `image`"));
}

#[test]
fn container_options_need_an_image_or_a_spec() {
    let (_, err) = parse(quote!(expose = [80], ready = Probe::log("x")));
    let err = err.unwrap();
    assert!(
        err.contains(
            "`expose` refines the test's container and needs `image = \"...\"` or `spec = ...`"
        ),
        "{err}"
    );
}

#[test]
fn durations_take_units() {
    assert_eq!(parse_duration("500ms").unwrap(), Duration::from_millis(500));
    assert_eq!(parse_duration("2m").unwrap(), Duration::from_secs(120));
    assert_eq!(parse_duration("1h1s").unwrap(), Duration::from_secs(3601));
    assert!(parse_duration("30").unwrap_err().contains("no unit"));
    assert!(parse_duration("3 weeks")
        .unwrap_err()
        .contains("unknown unit"));
    assert!(parse_duration("").is_err());
    let (_, err) = parse(quote!(timeout = "soon"));
    assert!(err.unwrap().contains("bad duration for `timeout`"));
}

#[test]
fn every_error_is_reported_not_just_the_first() {
    let (_, err) = parse(quote!(image = 1, timeout = "x", bogus = 2));
    let mut errors = Errors::default();
    let _ = options(quote!(image = 1, timeout = "x", bogus = 2), &mut errors);
    let count = errors.into_result().unwrap_err().into_iter().count();
    assert_eq!(count, 3, "{err:?}");
}

#[test]
fn arguments_get_their_sources_from_their_attribute_or_their_type() {
    let mut item: ItemFn = syn::parse_quote! {
        async fn t(c: testdock::Container, #[from(make_db)] db: testdock::Container, r: Redis) {}
    };
    let mut errors = Errors::default();
    let args = arguments(&mut item, &mut errors);
    assert!(errors.into_result().is_ok());
    assert!(matches!(args[0].source, Source::Fixture));
    assert!(matches!(args[1].source, Source::From(_)));
    assert!(matches!(args[2].source, Source::Fixture));
    let text = quote!(#item).to_string();
    assert!(
        !text.contains("from"),
        "the helper attribute is removed: {text}"
    );
}

#[test]
fn image_and_spec_together_are_an_error_at_spec() {
    let (_, err) = parse(quote!(image = "x", spec = my_spec()));
    let err = err.expect("an error");
    assert!(err.contains("give `image` or `spec`, not both"), "{err}");
}

#[test]
fn spec_and_files_take_expressions_not_literals() {
    let (config, err) = parse(quote!(
        spec = my_spec(),
        files = [InjectFile::from_bytes("/a", "b"), config_file()]
    ));
    assert!(err.is_none(), "{err:?}");
    assert!(config.has_container());
    assert_eq!(config.files.map(|f| f.0.len()), Some(2));
    let (_, err) = parse(quote!(spec = "x"));
    assert!(err
        .expect("an error")
        .contains("`spec` takes an expression"));
}

#[test]
fn files_need_a_container() {
    let (_, err) = parse(quote!(files = [f()]));
    let err = err.expect("an error");
    assert!(
        err.contains("`files` refines the test's container"),
        "{err}"
    );
}

#[test]
fn a_second_test_attribute_is_an_error() {
    let item: ItemFn = syn::parse_quote!(
        #[tokio::test]
        async fn t() {}
    );
    let mut errors = Errors::default();
    check_test_attributes(&item, &mut errors);
    assert!(errors
        .into_result()
        .unwrap_err()
        .to_string()
        .contains("already makes this a test"));
}

#[test]
fn compose_takes_an_existing_file_or_an_expression() {
    // Unit tests run with the macro crate's root as CARGO_MANIFEST_DIR.
    let (c, err) = parse(quote!(compose = "Cargo.toml"));
    assert!(err.is_none(), "{err:?}");
    assert!(matches!(c.compose, Some((Compose::File(f), _)) if f.value() == "Cargo.toml"));
    let (c, err) = parse(quote!(compose = offline("tests/stack.yml")));
    assert!(err.is_none(), "{err:?}");
    assert!(matches!(c.compose, Some((Compose::Expr(_), _))));
    let (_, err) = parse(quote!(compose = "tests/no_such_stack.yml"));
    let err = err.unwrap();
    assert!(
        err.contains("no compose file `tests/no_such_stack.yml` under"),
        "{err}"
    );
    assert!(
        err.contains("relative to the directory of the crate's Cargo.toml"),
        "{err}"
    );
    let (_, err) = parse(quote!(compose = "/etc/stack.yml"));
    assert!(err.unwrap().contains("path relative to the crate's root"));
    let (_, err) = parse(quote!(compose = 7));
    assert!(err.unwrap().contains("`compose` takes a string literal"));
}
