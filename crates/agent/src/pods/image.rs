//! What a container runs: its `image` resolved to a built-in app of the ferry binary or to a
//! program of the host, its command line with Kubernetes' entrypoint/cmd rules, and its
//! environment with `$(VAR)` expansion.

use std::collections::HashMap;
use std::path::Path;

use k8s_openapi::api::core::v1::Container;

/// The PATH a container gets unless its env sets one (the default of container images).
pub(crate) const DEFAULT_PATH: &str =
    "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// What an image means to ferry: the `ENTRYPOINT` and `CMD` it would have.
#[derive(Debug, PartialEq, Eq)]
struct Image {
    entrypoint: Vec<String>,
    cmd: Vec<String>,
}

/// Why a container cannot start: the waiting reason and message for its status.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct CannotRun {
    pub(crate) reason: &'static str,
    pub(crate) message: String,
}

/// `docker.io/library/nginx:1.27` → `nginx`; `luksa/kubia@sha256:…` → `luksa/kubia`.
pub(crate) fn short_name(image: &str) -> &str {
    let image = image.split('@').next().unwrap_or(image);
    let last_slash = image.rfind('/').map_or(0, |i| i + 1);
    let image = match image[last_slash..].find(':') {
        Some(colon) => &image[..last_slash + colon],
        None => image,
    };
    let image = image.strip_prefix("docker.io/").unwrap_or(image);
    image.strip_prefix("library/").unwrap_or(image)
}

/// The built-in app behind an image name, if any.
fn builtin(image: &str, ferry: &Path) -> Option<Image> {
    let app = |name: &str| {
        vec![
            ferry.display().to_string(),
            "app".to_string(),
            name.to_string(),
        ]
    };
    match short_name(image) {
        "luksa/kubia" | "kubia" => Some(Image {
            entrypoint: app("kubia"),
            cmd: Vec::new(),
        }),
        "nginx" => Some(Image {
            entrypoint: app("nginx"),
            cmd: Vec::new(),
        }),
        "busybox" | "alpine" | "debian" | "ubuntu" => Some(Image {
            entrypoint: Vec::new(),
            cmd: app("sleep"),
        }),
        _ => None,
    }
}

/// The container's command line: `command` replaces the image's entrypoint (and then its cmd
/// too), `args` replaces the cmd; `$(VAR)` references are expanded from `env`.
pub(crate) fn argv(
    container: &Container,
    ferry: &Path,
    env: &HashMap<String, String>,
) -> Result<Vec<String>, CannotRun> {
    let image_name = container.image.as_deref().unwrap_or_default();
    let image = builtin(image_name, ferry).unwrap_or(Image {
        entrypoint: Vec::new(),
        cmd: Vec::new(),
    });
    let argv: Vec<String> = match (&container.command, &container.args) {
        (Some(command), args) => command
            .iter()
            .chain(args.iter().flatten())
            .cloned()
            .collect(),
        (None, Some(args)) => image.entrypoint.iter().chain(args).cloned().collect(),
        (None, None) => image.entrypoint.into_iter().chain(image.cmd).collect(),
    };
    if argv.is_empty() {
        return Err(CannotRun {
            reason: "ErrImagePull",
            message: format!(
                "ferry runs no container images: {image_name:?} is not one of its built-in apps \
                 (luksa/kubia, kubia, nginx, busybox, alpine, debian, ubuntu); give the container \
                 a command to run a program of the node instead"
            ),
        });
    }
    Ok(argv.iter().map(|arg| expand(arg, env)).collect())
}

/// The kubelet's `$(VAR)` expansion: `$$` is a literal `$`, `$(NAME)` of a defined variable is
/// its value, anything else stays as written.
pub(crate) fn expand(input: &str, env: &HashMap<String, String>) -> String {
    let mut out = String::with_capacity(input.len());
    let mut rest = input;
    while let Some(dollar) = rest.find('$') {
        out.push_str(&rest[..dollar]);
        let after = &rest[dollar + 1..];
        if let Some(tail) = after.strip_prefix('$') {
            out.push('$');
            rest = tail;
        } else if let Some(name_and_tail) = after.strip_prefix('(') {
            match name_and_tail.find(')') {
                Some(close) => {
                    let name = &name_and_tail[..close];
                    match env.get(name) {
                        Some(value) => out.push_str(value),
                        None => out.push_str(&format!("$({name})")),
                    }
                    rest = &name_and_tail[close + 1..];
                }
                None => {
                    out.push_str("$(");
                    rest = name_and_tail;
                }
            }
        } else {
            out.push('$');
            rest = after;
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn container(image: &str, command: Option<&[&str]>, args: Option<&[&str]>) -> Container {
        let strings = |v: &[&str]| v.iter().map(|s| s.to_string()).collect();
        Container {
            name: "main".into(),
            image: Some(image.into()),
            command: command.map(strings),
            args: args.map(strings),
            ..Container::default()
        }
    }

    #[test]
    fn image_names_lose_registry_tag_and_digest() {
        assert_eq!(short_name("docker.io/library/nginx:1.27"), "nginx");
        assert_eq!(short_name("luksa/kubia:latest"), "luksa/kubia");
        assert_eq!(
            short_name("localhost:5000/app@sha256:abc"),
            "localhost:5000/app"
        );
    }

    #[test]
    fn builtins_run_the_ferry_binary_and_commands_override_them() {
        let ferry = Path::new("/bin/ferry");
        let env = HashMap::new();
        assert_eq!(
            argv(&container("luksa/kubia", None, None), ferry, &env).unwrap(),
            ["/bin/ferry", "app", "kubia"]
        );
        assert_eq!(
            argv(&container("busybox", None, None), ferry, &env).unwrap(),
            ["/bin/ferry", "app", "sleep"]
        );
        assert_eq!(
            argv(
                &container("busybox", None, Some(&["sh", "-c", "true"])),
                ferry,
                &env
            )
            .unwrap(),
            ["sh", "-c", "true"]
        );
        assert_eq!(
            argv(
                &container("mine", Some(&["echo"]), Some(&["hi"])),
                ferry,
                &env
            )
            .unwrap(),
            ["echo", "hi"]
        );
        let err = argv(&container("postgres", None, None), ferry, &env).unwrap_err();
        assert_eq!(err.reason, "ErrImagePull");
    }

    #[test]
    fn expansion_follows_the_kubelet() {
        let env = HashMap::from([("A".to_string(), "x".to_string())]);
        assert_eq!(expand("$(A)-$(B)-$$(A)-$-$(", &env), "x-$(B)-$(A)-$-$(");
    }
}
