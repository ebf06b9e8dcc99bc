//! What a user names as an input, spelled as skopeo and podman spell image references:
//! `docker://HOST[:PORT]/REPO[:TAG|@DIGEST]` (a registry), `docker-daemon:NAME[:TAG]` (a container
//! engine's API), `oci:DIR[:REF]`, `oci-archive:FILE`, `docker-archive:FILE`, `-` (an archive on
//! standard input), or a plain path, recognised from what is on disk.

use std::fmt;
use std::path::PathBuf;

use crate::image::Digest;

/// An input to scan.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Input {
    /// A file or directory, recognised from what is there.
    Path(PathBuf),
    /// A `docker save`, `podman save` or oci-archive tar read from standard input as it arrives.
    Stdin,
    /// An image in a registry, read through the OCI distribution API.
    Registry(RegistryRef),
    /// An image in a container engine (Docker, or podman's Docker-compatible service), by name,
    /// `NAME@DIGEST` or image id.
    Daemon(String),
    /// An OCI image layout directory; with a reference, only the image whose
    /// `org.opencontainers.image.ref.name` it is.
    OciLayout {
        /// The layout's directory.
        dir: PathBuf,
        /// The image's reference name in `index.json`.
        reference: Option<String>,
    },
    /// An oci-archive tar.
    OciArchive(PathBuf),
    /// A `docker save` tar (classic or Docker ≥ 25).
    DockerArchive(PathBuf),
}

/// An image in a registry: `HOST[:PORT]/REPO[:TAG]` or `HOST[:PORT]/REPO@DIGEST`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RegistryRef {
    /// The registry's host, with its port when one is given.
    pub registry: String,
    /// The repository: one or more lowercase path components.
    pub repository: String,
    /// The tag (`latest` when neither a tag nor a digest is given).
    pub tag: Option<String>,
    /// The manifest's digest, when the reference pins one.
    pub digest: Option<Digest>,
}

impl RegistryRef {
    /// Parse `HOST[:PORT]/REPO[:TAG][@DIGEST]` (what follows `docker://`). The host is required:
    /// a reference's first component is a host when it holds a `.` or a `:`, or is `localhost`.
    ///
    /// # Errors
    /// A message saying what is wrong with the reference.
    pub fn parse(text: &str) -> Result<RegistryRef, String> {
        let whole = text.trim_start_matches("//");
        let (rest, digest) = match whole.split_once('@') {
            Some((rest, digest)) => {
                (rest, Some(digest.parse::<Digest>().map_err(|e| format!("docker://{whole}: {e}"))?))
            }
            None => (whole, None),
        };
        let (registry, path) = rest
            .split_once('/')
            .filter(|(host, _)| host.contains('.') || host.contains(':') || *host == "localhost")
            .ok_or_else(|| {
                format!("docker://{whole}: a registry reference names its host: docker://HOST[:PORT]/REPO[:TAG]")
            })?;
        // A tag follows the last component's colon (a port's colon is in the host, not here).
        let (repository, tag) = match path.rsplit_once(':') {
            Some((repo, tag)) if !tag.contains('/') => (repo, Some(tag.to_string())),
            _ => (path, None),
        };
        let component_ok = |c: &str| {
            !c.is_empty()
                && c.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b))
                && c.bytes().next().is_some_and(|b| b.is_ascii_alphanumeric())
        };
        if !repository.split('/').all(component_ok) {
            return Err(format!(
                "docker://{whole}: {repository:?} is not a repository name (lowercase letters, digits and . _ - between slashes)"
            ));
        }
        if let Some(tag) = &tag {
            let ok = tag.len() <= 128
                && tag.bytes().all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
                && tag.bytes().next().is_some_and(|b| b.is_ascii_alphanumeric() || b == b'_');
            if !ok {
                return Err(format!("docker://{whole}: {tag:?} is not a tag"));
            }
        }
        let tag = if tag.is_none() && digest.is_none() { Some("latest".to_string()) } else { tag };
        Ok(RegistryRef { registry: registry.to_string(), repository: repository.to_string(), tag, digest })
    }

    /// What the manifest is asked for by: the digest when pinned, else the tag.
    pub fn manifest_reference(&self) -> String {
        match (&self.digest, &self.tag) {
            (Some(d), _) => d.to_string(),
            (None, Some(t)) => t.clone(),
            (None, None) => "latest".to_string(),
        }
    }
}

impl fmt::Display for RegistryRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.registry, self.repository)?;
        if let Some(tag) = &self.tag {
            write!(f, ":{tag}")?;
        }
        if let Some(digest) = &self.digest {
            write!(f, "@{digest}")?;
        }
        Ok(())
    }
}

impl Input {
    /// Parse an input as the command line and Python take it. A name with no known transport
    /// prefix is a path (so a file named `app:1.tar` is still a file).
    ///
    /// # Errors
    /// A message saying what is wrong with a reference.
    pub fn parse(text: &str) -> Result<Input, String> {
        if text == "-" {
            return Ok(Input::Stdin);
        }
        let Some((transport, rest)) = text.split_once(':') else { return Ok(Input::Path(PathBuf::from(text))) };
        let non_empty = |what: &str| {
            if rest.is_empty() { Err(format!("{text}: {transport}: needs {what}")) } else { Ok(rest.to_string()) }
        };
        match transport {
            "docker" => {
                if !rest.starts_with("//") {
                    return Err(format!("{text}: a registry reference is written docker://HOST[:PORT]/REPO[:TAG]"));
                }
                Ok(Input::Registry(RegistryRef::parse(rest)?))
            }
            "docker-daemon" => Ok(Input::Daemon(non_empty("an image name, NAME:TAG or an image id")?)),
            "oci" => {
                let rest = non_empty("a layout directory")?;
                // `oci:DIR:REF`; a directory whose name holds a colon is taken whole when it exists.
                match rest.rsplit_once(':') {
                    Some((dir, reference)) if !PathBuf::from(&rest).exists() && !dir.is_empty() => {
                        Ok(Input::OciLayout { dir: PathBuf::from(dir), reference: Some(reference.to_string()) })
                    }
                    _ => Ok(Input::OciLayout { dir: PathBuf::from(rest), reference: None }),
                }
            }
            "oci-archive" => Ok(Input::OciArchive(PathBuf::from(non_empty("a file")?))),
            "docker-archive" => Ok(Input::DockerArchive(PathBuf::from(non_empty("a file")?))),
            _ => Ok(Input::Path(PathBuf::from(text))),
        }
    }

    /// The name reports give the input: a path as given, a reference with its transport.
    pub fn name(&self) -> String {
        self.to_string()
    }
}

impl fmt::Display for Input {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Input::Path(p) => write!(f, "{}", p.display()),
            Input::Stdin => f.write_str("-"),
            Input::Registry(r) => write!(f, "docker://{r}"),
            Input::Daemon(name) => write!(f, "docker-daemon:{name}"),
            Input::OciLayout { dir, reference: None } => write!(f, "oci:{}", dir.display()),
            Input::OciLayout { dir, reference: Some(r) } => write!(f, "oci:{}:{r}", dir.display()),
            Input::OciArchive(p) => write!(f, "oci-archive:{}", p.display()),
            Input::DockerArchive(p) => write!(f, "docker-archive:{}", p.display()),
        }
    }
}

impl From<PathBuf> for Input {
    fn from(path: PathBuf) -> Input {
        Input::Path(path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_references_as_skopeo_spells_them() {
        let r = |s: &str| match Input::parse(s).unwrap() {
            Input::Registry(r) => r,
            other => panic!("{s}: {other:?}"),
        };
        let a = r("docker://127.0.0.1:5000/team/app:1.2");
        assert_eq!(
            (a.registry.as_str(), a.repository.as_str(), a.tag.as_deref()),
            ("127.0.0.1:5000", "team/app", Some("1.2"))
        );
        assert_eq!(a.to_string(), "127.0.0.1:5000/team/app:1.2");
        let b = r("docker://registry.example.com/app");
        assert_eq!(b.tag.as_deref(), Some("latest"));
        let d = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
        let c = r(&format!("docker://localhost:5000/app@{d}"));
        assert_eq!((c.tag, c.digest.map(|d| d.to_string())), (None, Some(d.to_string())));
        assert_eq!(r(&format!("docker://localhost/app:v1@{d}")).manifest_reference(), d);
        for bad in [
            "docker://app:1",
            "docker:app",
            "docker://host.example/App:1",
            "docker://host.example/app:-x",
            "docker://h.example/app@sha256:12",
        ] {
            assert!(Input::parse(bad).is_err(), "{bad} accepted");
        }
    }

    #[test]
    fn parses_local_forms_and_paths() {
        assert_eq!(Input::parse("-").unwrap(), Input::Stdin);
        assert_eq!(Input::parse("image.tar").unwrap(), Input::Path("image.tar".into()));
        assert_eq!(Input::parse("docker-daemon:app:1").unwrap(), Input::Daemon("app:1".into()));
        assert_eq!(
            Input::parse("oci:/no/such/layout:v1").unwrap(),
            Input::OciLayout { dir: "/no/such/layout".into(), reference: Some("v1".into()) }
        );
        assert_eq!(Input::parse("oci:layout").unwrap(), Input::OciLayout { dir: "layout".into(), reference: None });
        assert_eq!(Input::parse("oci-archive:a.tar").unwrap(), Input::OciArchive("a.tar".into()));
        assert_eq!(Input::parse("docker-archive:a.tar").unwrap(), Input::DockerArchive("a.tar".into()));
        assert_eq!(Input::parse("./weird:name.tar").unwrap(), Input::Path("./weird:name.tar".into()));
        assert!(Input::parse("docker-daemon:").is_err());
        for s in ["docker-daemon:app:1", "oci:layout:v1", "docker://h.example/a:1"] {
            assert_eq!(Input::parse(s).unwrap().name(), s);
        }
    }
}
