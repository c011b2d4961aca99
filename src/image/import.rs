//! Importing a root filesystem tarball as an image (`POST /images/create?fromSrc=-`),
//! the way the Docker CLI does, so that Docker and Podman make the same image:
//!
//! - the reference goes whole in `repo` (`repo=name:tag`, no `tag` parameter): Podman
//!   4 ignores `tag` and would store `name:latest`;
//! - each config instruction is a `changes` parameter of its own: Podman takes
//!   newline-joined `changes` (how bollard sends them) as one instruction and silently
//!   drops all but the first. [`one_change_per_parameter`] also serves commit, whose
//!   `changes` Podman reads the same way.

use bollard::query_parameters::CreateImageOptionsBuilder;
use bollard::{BollardRequest, Docker};
use futures::TryStreamExt;

/// Imports `tar` as `reference`, with `changes` (Dockerfile instructions) applied to its
/// config.
pub(super) async fn import(
    docker: &Docker,
    reference: &str,
    changes: &[String],
    tar: Vec<u8>,
) -> Result<(), bollard::errors::Error> {
    let options = CreateImageOptionsBuilder::default()
        .from_src("-")
        .repo(reference)
        .changes(changes.to_vec())
        .build();
    docker
        .clone()
        .with_request_modifier(one_change_per_parameter)
        .create_image(Some(options), Some(bollard::body_full(tar.into())), None)
        .try_for_each(|_| futures::future::ready(Ok(())))
        .await
}

/// An image id as Docker writes it (`sha256:<64 hex>`): Podman answers a commit with
/// the bare hex.
pub(crate) fn full_id(id: String) -> String {
    let bare = id.len() == 64 && id.bytes().all(|b| b.is_ascii_hexdigit());
    if bare {
        format!("sha256:{id}")
    } else {
        id
    }
}

/// The request with its `changes` parameter split at its (encoded) newlines into one
/// parameter per instruction (for import and commit: bollard joins them with newlines).
pub(crate) fn one_change_per_parameter(mut request: BollardRequest) -> BollardRequest {
    let uri = request.uri().to_string();
    let split = split_changes(&uri);
    if split != uri {
        if let Ok(parsed) = split.parse::<hyper::Uri>() {
            *request.uri_mut() = parsed;
        }
    }
    request
}

/// `uri` with each `changes=a%0Ab` query parameter written as `changes=a&changes=b`.
/// An instruction holds no raw newline (values are JSON-quoted), so each encoded newline
/// separates two instructions.
fn split_changes(uri: &str) -> String {
    let Some((path, query)) = uri.split_once('?') else {
        return uri.to_owned();
    };
    let params: Vec<String> = query
        .split('&')
        .flat_map(|param| match param.strip_prefix("changes=") {
            Some(value) => value
                .split("%0A")
                .map(|change| format!("changes={change}"))
                .collect(),
            None => vec![param.to_owned()],
        })
        .collect();
    format!("{path}?{}", params.join("&"))
}

#[cfg(test)]
mod tests {
    use super::{full_id, split_changes};

    #[test]
    fn a_bare_image_id_gets_its_algorithm() {
        let hex = "ab".repeat(32);
        assert_eq!(full_id(hex.clone()), format!("sha256:{hex}"));
        assert_eq!(full_id(format!("sha256:{hex}")), format!("sha256:{hex}"));
        assert_eq!(full_id("abc".to_owned()), "abc");
    }

    #[test]
    fn each_instruction_becomes_a_parameter_of_its_own() {
        let uri = "http://d/v1.41/images/create?fromSrc=-&repo=testdock%2Fhost%3Aab\
                   &changes=LABEL+a%3Db%0AENV+A%3D%22x%22%0AUSER+nobody";
        assert_eq!(
            split_changes(uri),
            "http://d/v1.41/images/create?fromSrc=-&repo=testdock%2Fhost%3Aab\
             &changes=LABEL+a%3Db&changes=ENV+A%3D%22x%22&changes=USER+nobody"
        );
    }

    #[test]
    fn a_request_without_changes_is_left_alone() {
        let uri = "http://d/v1.41/images/create?fromSrc=-&repo=r%3At";
        assert_eq!(split_changes(uri), uri);
        assert_eq!(split_changes("http://d/_ping"), "http://d/_ping");
    }
}
