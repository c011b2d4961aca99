//! A compose file's text to a [`Plan`]: YAML syntax (with line and column), the
//! supported keys ([`keys`](super::keys)), then the typed model of
//! `docker-compose-types` turned into testdock specs.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use docker_compose_types as dc;

use super::keys;
use super::model::{Condition, Dependency, NamedMount, Plan, ResourcePlan, ServicePlan};
use super::values::{self, ShortMount};
use crate::image::{BuildContext, ImageSource, PullPolicy, RegistryImage};
use crate::inject::InjectFile;
use crate::ports::Port;
use crate::spec::{ContainerSpec, Healthcheck};

/// Where an inline Dockerfile (`dockerfile_inline`) is put in the build context.
const INLINE_DOCKERFILE: &str = ".testdock-compose.Dockerfile";

/// Parses `yaml`; relative paths (build contexts, binds, env files) are resolved
/// against `base`.
pub(crate) fn parse(yaml: &str, base: &Path) -> Result<Plan, String> {
    let yaml = &values::interpolate(yaml, |name| std::env::var(name).ok())?;
    let mut doc: serde_norway::Value =
        serde_norway::from_str(yaml).map_err(|e| format!("invalid YAML: {e}"))?;
    keys::check(&doc)?;
    // From the text first, so that an error has its line and column.
    let file: dc::Compose = match serde_norway::from_str(yaml) {
        Ok(file) => file,
        Err(e) => {
            numbers_as_strings(&mut doc);
            serde_norway::from_value(doc).map_err(|_| e.to_string())?
        }
    };
    let mut plan = Plan {
        name: file.name.clone(),
        ..Plan::default()
    };
    for (name, service) in file.services.0 {
        let service = service.unwrap_or_default();
        let one = ServiceParse { name: &name, base };
        plan.services.push(
            one.plan(service)
                .map_err(|e| format!("service `{name}`: {e}"))?,
        );
    }
    for (name, volume) in file.volumes.0 {
        let resource = match Option::<dc::ComposeVolume>::from(volume) {
            Some(v) => ResourcePlan {
                driver: v.driver,
                options: options(v.driver_opts),
                internal: false,
            },
            None => ResourcePlan::default(),
        };
        plan.volumes.insert(name, resource);
    }
    for (name, network) in file.networks.0 {
        let resource = match Option::<dc::NetworkSettings>::from(network) {
            Some(n) => ResourcePlan {
                driver: n.driver,
                options: options(n.driver_opts),
                internal: n.internal,
            },
            None => ResourcePlan::default(),
        };
        plan.networks.insert(name, resource);
    }
    Ok(plan)
}

/// Numbers in `ports` and `expose` (`ports: [8080]`, which compose reads) as the strings
/// the typed model takes.
fn numbers_as_strings(doc: &mut serde_norway::Value) {
    use serde_norway::Value;
    let Some(services) = doc.get_mut("services").and_then(Value::as_mapping_mut) else {
        return;
    };
    for service in services.values_mut() {
        for key in ["ports", "expose"] {
            let items = service.get_mut(key).and_then(Value::as_sequence_mut);
            for item in items.into_iter().flatten() {
                if let Value::Number(n) = item {
                    *item = Value::String(n.to_string());
                }
            }
        }
    }
}

fn options(
    opts: impl IntoIterator<Item = (String, Option<dc::SingleValue>)>,
) -> BTreeMap<String, String> {
    opts.into_iter()
        .map(|(k, v)| (k, v.map(|v| v.to_string()).unwrap_or_default()))
        .collect()
}

struct ServiceParse<'a> {
    name: &'a str,
    base: &'a Path,
}

impl ServiceParse<'_> {
    fn plan(&self, s: dc::Service) -> Result<ServicePlan, String> {
        let mut spec = ContainerSpec::new(self.image(&s)?);
        if let Some(command) = s.command {
            spec = spec.cmd(match command {
                dc::Command::Simple(line) => values::split_command(&line)?,
                dc::Command::Args(args) => args,
            });
        }
        if let Some(entrypoint) = s.entrypoint {
            spec = spec.entrypoint(match entrypoint {
                dc::Entrypoint::Simple(line) => values::split_command(&line)?,
                dc::Entrypoint::List(args) => args,
            });
        }
        for (key, value) in self.environment(s.env_file, s.environment)? {
            spec = spec.env(key, value);
        }
        for port in ports(s.ports)? {
            spec = spec.port(port);
        }
        let mut named_mounts = Vec::new();
        for volume in s.volumes {
            let (next, named) = self.mount(spec, volume)?;
            spec = next;
            named_mounts.extend(named);
        }
        for target in match s.tmpfs {
            Some(dc::Tmpfs::Simple(t)) => vec![t],
            Some(dc::Tmpfs::List(ts)) => ts,
            None => Vec::new(),
        } {
            spec = spec.tmpfs(target, None);
        }
        let healthcheck = s.healthcheck.is_some();
        if let Some(check) = s.healthcheck {
            spec = spec.healthcheck(healthcheck_of(check)?);
        }
        if let Some(user) = s.user {
            spec = spec.user(user);
        }
        if let Some(dir) = s.working_dir {
            spec = spec.workdir(dir);
        }
        if let Some(hostname) = s.hostname {
            spec = spec.hostname(hostname);
        }
        if let Some(signal) = s.stop_signal {
            spec = spec.stop_signal(signal);
        }
        for (key, value) in labels(s.labels) {
            spec = spec.label(key, value);
        }
        spec = spec.read_only_rootfs(s.read_only);
        Ok(ServicePlan {
            name: self.name.to_owned(),
            spec,
            named_mounts,
            networks: networks_of(s.networks),
            healthcheck,
            depends_on: dependencies(s.depends_on)?,
            profiles: s.profiles,
            probe: None,
        })
    }

    fn path(&self, relative: &str) -> PathBuf {
        match relative.strip_prefix("~/") {
            Some(rest) => std::env::var_os("HOME")
                .map(PathBuf::from)
                .unwrap_or_default()
                .join(rest),
            None => self.base.join(relative),
        }
    }

    fn image(&self, s: &dc::Service) -> Result<ImageSource, String> {
        if let Some(build) = &s.build_ {
            return Ok(ImageSource::Build(self.build(build)?));
        }
        let Some(reference) = &s.image else {
            return Err("has neither `image` nor `build`".to_owned());
        };
        let policy = match &s.pull_policy {
            None | Some(dc::PullPolicy::Missing) => PullPolicy::IfMissing,
            Some(dc::PullPolicy::Always) => PullPolicy::Always,
            Some(dc::PullPolicy::Never) => PullPolicy::Never,
            Some(dc::PullPolicy::Build) => {
                return Err("`pull_policy: build` needs a `build` section".to_owned())
            }
        };
        Ok(ImageSource::Registry(
            RegistryImage::new(reference.as_str()).pull_policy(policy),
        ))
    }

    fn build(&self, build: &dc::BuildStep) -> Result<BuildContext, String> {
        let step = match build {
            dc::BuildStep::Simple(context) => {
                return Ok(BuildContext::from_dir(self.path(context)))
            }
            dc::BuildStep::Advanced(step) => step,
        };
        if step.context.contains("://") {
            return Err(format!(
                "build context `{}`: only local directories are supported",
                step.context
            ));
        }
        let mut context = BuildContext::from_dir(self.path(&step.context));
        if let Some(inline) = &step.dockerfile_inline {
            context = context
                .file(InjectFile::from_bytes(INLINE_DOCKERFILE, inline.clone()))
                .dockerfile_path(INLINE_DOCKERFILE);
        } else if let Some(dockerfile) = &step.dockerfile {
            context = context.dockerfile_path(dockerfile.clone());
        }
        for (key, value) in build_args(step.args.clone()) {
            context = context.arg(key, value);
        }
        if let Some(target) = &step.target {
            context = context.target(target.clone());
        }
        Ok(context)
    }

    fn environment(
        &self,
        files: Option<dc::StringOrList>,
        environment: dc::Environment,
    ) -> Result<Vec<(String, String)>, String> {
        let mut env = Vec::new();
        let files = match files {
            Some(dc::StringOrList::Simple(f)) => vec![f],
            Some(dc::StringOrList::List(fs)) => fs,
            None => Vec::new(),
        };
        for file in files {
            let path = self.path(&file);
            let text = std::fs::read_to_string(&path)
                .map_err(|e| format!("env_file `{}`: {e}", path.display()))?;
            env.extend(values::env_file(&text));
        }
        let from_host = |key: &str| std::env::var(key).ok().map(|v| (key.to_owned(), v));
        match environment {
            dc::Environment::List(items) => {
                for item in items {
                    env.extend(match item.split_once('=') {
                        Some((k, v)) => Some((k.to_owned(), v.to_owned())),
                        None => from_host(&item),
                    });
                }
            }
            dc::Environment::KvPair(pairs) => {
                for (key, value) in pairs {
                    env.extend(match value {
                        Some(v) => Some((key, v.to_string())),
                        None => from_host(&key),
                    });
                }
            }
        }
        Ok(env)
    }

    /// Adds one `volumes` entry to `spec`; a named volume is returned for the stack.
    fn mount(
        &self,
        spec: ContainerSpec,
        volume: dc::Volumes,
    ) -> Result<(ContainerSpec, Option<NamedMount>), String> {
        let short = match volume {
            dc::Volumes::Simple(text) => values::mount(&text)?,
            dc::Volumes::Advanced(long) => {
                let source = long.source.clone().unwrap_or_default();
                let (target, read_only) = (long.target.clone(), long.read_only);
                match long._type.as_str() {
                    "bind" => ShortMount::Bind {
                        host: source,
                        target,
                        read_only,
                    },
                    "volume" if source.is_empty() => ShortMount::Anonymous { target },
                    "volume" => ShortMount::Named {
                        volume: source,
                        target,
                        read_only,
                    },
                    "tmpfs" => {
                        let size = long.tmpfs.map(|t| t.size);
                        return Ok((spec.tmpfs(target, size), None));
                    }
                    other => return Err(format!("volume type `{other}` is not supported")),
                }
            }
        };
        Ok(match short {
            ShortMount::Bind {
                host,
                target,
                read_only: true,
            } => (spec.bind_read_only(self.path(&host), target), None),
            ShortMount::Bind { host, target, .. } => (spec.bind(self.path(&host), target), None),
            ShortMount::Anonymous { target } => (spec.anonymous_volume(target), None),
            ShortMount::Named {
                volume,
                target,
                read_only,
            } => (
                spec,
                Some(NamedMount {
                    volume,
                    target,
                    read_only,
                }),
            ),
        })
    }
}

fn ports(ports: dc::Ports) -> Result<Vec<Port>, String> {
    match ports {
        dc::Ports::Short(items) => items.iter().map(|p| values::port(p)).collect(),
        dc::Ports::Long(items) => items
            .into_iter()
            .map(|p| {
                let mut port = match p.protocol.as_deref() {
                    None | Some("tcp") => Port::tcp(p.target),
                    Some("udp") => Port::udp(p.target),
                    Some(other) => return Err(format!("protocol `{other}` is not supported")),
                };
                match p.published {
                    Some(dc::PublishedPort::Single(n)) => port = port.host_port(n),
                    Some(dc::PublishedPort::Range(r)) => {
                        let n = r.parse().map_err(|_| {
                            format!("published port `{r}`: ranges are not supported")
                        })?;
                        port = port.host_port(n);
                    }
                    None => {}
                }
                if let Some(ip) = p.host_ip {
                    port = port.host_ip(values::host_ip(&ip)?);
                }
                Ok(port)
            })
            .collect(),
    }
}

fn healthcheck_of(check: dc::Healthcheck) -> Result<Healthcheck, String> {
    if check.disable {
        return Err("`healthcheck.disable` is not supported".to_owned());
    }
    let mut hc = match check.test {
        Some(dc::HealthcheckTest::Single(line)) => Healthcheck::shell(line),
        Some(dc::HealthcheckTest::Multiple(test)) => match test.split_first() {
            Some((kind, rest)) if kind == "CMD" => Healthcheck::cmd(rest.to_vec()),
            Some((kind, [line])) if kind == "CMD-SHELL" => Healthcheck::shell(line.clone()),
            _ => return Err(format!("healthcheck test {test:?}: expected [\"CMD\", ...] or [\"CMD-SHELL\", \"...\"] (`NONE` is not supported)")),
        },
        None => return Err("`healthcheck` needs a `test`".to_owned()),
    };
    if let Some(d) = check.interval {
        hc = hc.interval(values::duration(&d)?);
    }
    if let Some(d) = check.timeout {
        hc = hc.timeout(values::duration(&d)?);
    }
    if let Some(d) = check.start_period {
        hc = hc.start_period(values::duration(&d)?);
    }
    if check.retries > 0 {
        hc = hc.retries(u32::try_from(check.retries).unwrap_or(u32::MAX));
    }
    Ok(hc)
}

fn dependencies(deps: dc::DependsOnOptions) -> Result<Vec<Dependency>, String> {
    Ok(match deps {
        dc::DependsOnOptions::Simple(names) => names
            .into_iter()
            .map(|service| Dependency {
                service,
                condition: Condition::Started,
                required: true,
            })
            .collect(),
        dc::DependsOnOptions::Conditional(map) => {
            let mut deps = Vec::new();
            for (service, c) in map {
                let condition = Condition::parse(&c.condition).ok_or_else(|| {
                    format!("depends_on `{service}`: unknown condition `{}` (service_started, service_healthy, service_completed_successfully)", c.condition)
                })?;
                deps.push(Dependency {
                    service,
                    condition,
                    required: c.required.unwrap_or(true),
                });
            }
            deps
        }
    })
}

/// The networks a service joins, with their extra aliases, in the file's order
/// (`default` alone when it names none).
fn networks_of(networks: dc::Networks) -> Vec<(String, Vec<String>)> {
    let joined: Vec<(String, Vec<String>)> = match networks {
        dc::Networks::Simple(names) => names.into_iter().map(|n| (n, Vec::new())).collect(),
        dc::Networks::Advanced(map) => map
            .0
            .into_iter()
            .map(|(n, settings)| {
                let aliases = Option::<dc::AdvancedNetworkSettings>::from(settings)
                    .map(|s| s.aliases)
                    .unwrap_or_default();
                (n, aliases)
            })
            .collect(),
    };
    if joined.is_empty() {
        vec![("default".to_owned(), Vec::new())]
    } else {
        joined
    }
}

fn labels(labels: dc::Labels) -> Vec<(String, String)> {
    match labels {
        dc::Labels::List(items) => items
            .into_iter()
            .map(|l| match l.split_once('=') {
                Some((k, v)) => (k.to_owned(), v.to_owned()),
                None => (l, String::new()),
            })
            .collect(),
        dc::Labels::Map(map) => map.into_iter().collect(),
    }
}

fn build_args(args: Option<dc::BuildArgs>) -> Vec<(String, String)> {
    match args {
        None => Vec::new(),
        Some(dc::BuildArgs::Simple(arg)) => vec![split_arg(&arg)],
        Some(dc::BuildArgs::List(items)) => items.iter().map(|a| split_arg(a)).collect(),
        Some(dc::BuildArgs::KvPair(map)) => map.into_iter().collect(),
    }
}

fn split_arg(arg: &str) -> (String, String) {
    match arg.split_once('=') {
        Some((k, v)) => (k.to_owned(), v.to_owned()),
        None => (arg.to_owned(), std::env::var(arg).unwrap_or_default()),
    }
}
