//! What a registry sweep scans: the catalog's repositories under a prefix, and of each the tags
//! a [`TagSelection`] keeps.

use std::fmt;
use std::str::FromStr;

use super::client::Client;
use super::error::RegistryErrorKind;

/// Which tags of each repository a sweep scans.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TagSelection {
    /// Every tag (the default).
    #[default]
    All,
    /// Only `latest`, when the repository has it.
    Latest,
    /// The last N tags in the order the registry lists them (distribution 3 sorts them; 2.8 lists
    /// them in its storage's order).
    Last(usize),
}

impl FromStr for TagSelection {
    type Err = String;

    fn from_str(s: &str) -> Result<TagSelection, String> {
        match s {
            "all" => Ok(TagSelection::All),
            "latest" => Ok(TagSelection::Latest),
            n => match n.parse::<usize>() {
                Ok(n) if n > 0 => Ok(TagSelection::Last(n)),
                _ => Err(format!("--tags takes all, latest or a number above 0, not {s:?}")),
            },
        }
    }
}

impl fmt::Display for TagSelection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TagSelection::All => f.write_str("all"),
            TagSelection::Latest => f.write_str("latest"),
            TagSelection::Last(n) => write!(f, "{n}"),
        }
    }
}

impl TagSelection {
    /// The tags kept, in the registry's order.
    pub fn select(self, mut tags: Vec<String>) -> Vec<String> {
        match self {
            TagSelection::All => tags,
            TagSelection::Latest => {
                tags.retain(|t| t == "latest");
                tags.truncate(1);
                tags
            }
            TagSelection::Last(n) => {
                let skip = tags.len().saturating_sub(n);
                tags.split_off(skip)
            }
        }
    }
}

/// Whether `repository` is `prefix` or under `prefix/` (every repository for an empty prefix).
pub fn under_prefix(repository: &str, prefix: &str) -> bool {
    let prefix = prefix.trim_matches('/');
    prefix.is_empty()
        || repository == prefix
        || repository.strip_prefix(prefix).is_some_and(|rest| rest.starts_with('/'))
}

impl Client {
    /// The repositories under `prefix`, in the catalog's order.
    ///
    /// # Errors
    /// As [`Client::catalog`].
    pub fn repositories(&self, prefix: &str) -> Result<Vec<String>, RegistryErrorKind> {
        Ok(self.catalog()?.into_iter().filter(|r| under_prefix(r, prefix)).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tag_selections() {
        let tags = || ["1.0", "1.1", "2.0", "latest"].map(String::from).to_vec();
        assert_eq!(TagSelection::All.select(tags()), tags());
        assert_eq!(TagSelection::Latest.select(tags()), ["latest"]);
        assert_eq!(TagSelection::Latest.select(vec!["1".into()]), Vec::<String>::new());
        assert_eq!(TagSelection::Last(2).select(tags()), ["2.0", "latest"]);
        assert_eq!(TagSelection::Last(9).select(tags()), tags());
        assert_eq!("3".parse(), Ok(TagSelection::Last(3)));
        assert_eq!("all".parse(), Ok(TagSelection::All));
        assert!("0".parse::<TagSelection>().is_err() && "newest".parse::<TagSelection>().is_err());
    }

    #[test]
    fn prefixes() {
        assert!(under_prefix("team/app", "team"));
        assert!(under_prefix("team", "team/"));
        assert!(!under_prefix("teamster/app", "team"));
        assert!(under_prefix("anything", ""));
    }
}
