//! Content digests (`sha256:…`), validated on parse.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sha2::{Digest as _, Sha256};

/// A content digest such as `sha256:6c3c…`, in the form the OCI image spec defines:
/// an algorithm, a colon, and a lowercase hex encoded value of the algorithm's length.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Digest {
    algorithm: Algorithm,
    encoded: String,
}

/// The hash algorithm of a [`Digest`].
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Algorithm {
    /// SHA-256, the algorithm every image in practice uses; layerdig verifies these.
    Sha256,
    /// SHA-512: accepted, not verified.
    Sha512,
    /// Any other registered algorithm: kept, not verified.
    Other(String),
}

impl Digest {
    /// The SHA-256 digest of `bytes`.
    pub fn sha256_of(bytes: &[u8]) -> Digest {
        Digest::from_sha256(Sha256::digest(bytes).into())
    }

    /// A SHA-256 digest from its raw 32 bytes.
    pub fn from_sha256(raw: [u8; 32]) -> Digest {
        Digest { algorithm: Algorithm::Sha256, encoded: crate::vocab::hex(&raw) }
    }

    /// The algorithm part.
    pub fn algorithm(&self) -> &Algorithm {
        &self.algorithm
    }

    /// The hex encoded part, after the colon.
    pub fn encoded(&self) -> &str {
        &self.encoded
    }

    /// The first 12 hex characters, the way container tools abbreviate ids.
    pub fn short(&self) -> &str {
        &self.encoded[..self.encoded.len().min(12)]
    }

    /// Whether layerdig can verify content against this digest.
    pub fn is_verifiable(&self) -> bool {
        self.algorithm == Algorithm::Sha256
    }

    fn algorithm_name(&self) -> &str {
        match &self.algorithm {
            Algorithm::Sha256 => "sha256",
            Algorithm::Sha512 => "sha512",
            Algorithm::Other(name) => name,
        }
    }
}

/// Why a string is not a digest.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid digest {input:?}: {reason}")]
pub struct DigestParseError {
    input: String,
    reason: &'static str,
}

impl FromStr for Digest {
    type Err = DigestParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = |reason| DigestParseError { input: s.chars().take(100).collect(), reason };
        let (algorithm, encoded) = s.split_once(':').ok_or_else(|| err("no ':' separator"))?;
        let is_hex = |e: &str| e.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        let algorithm = match algorithm {
            "sha256" if encoded.len() == 64 && is_hex(encoded) => Algorithm::Sha256,
            "sha256" => return Err(err("sha256 needs 64 lowercase hex characters")),
            "sha512" if encoded.len() == 128 && is_hex(encoded) => Algorithm::Sha512,
            "sha512" => return Err(err("sha512 needs 128 lowercase hex characters")),
            other => {
                let ok_alg = !other.is_empty()
                    && other.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"+._-".contains(&b));
                let ok_enc =
                    !encoded.is_empty() && encoded.bytes().all(|b| b.is_ascii_alphanumeric() || b"=_-".contains(&b));
                if !ok_alg || !ok_enc {
                    return Err(err("malformed algorithm or encoded part"));
                }
                Algorithm::Other(other.to_string())
            }
        };
        Ok(Digest { algorithm, encoded: encoded.to_string() })
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.algorithm_name(), self.encoded)
    }
}

impl fmt::Debug for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Digest({self})")
    }
}

impl Serialize for Digest {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Digest {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = String::deserialize(deserializer)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_rejects() {
        let ok = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
        let d: Digest = ok.parse().unwrap();
        assert_eq!(d.to_string(), ok);
        assert_eq!(d, Digest::sha256_of(b""));
        assert_eq!(d.short(), "e3b0c44298fc");
        for bad in ["", "sha256", "sha256:abc", &ok.to_uppercase(), "sha256:../../etc/passwd", ":abc"] {
            assert!(bad.parse::<Digest>().is_err(), "{bad} accepted");
        }
        assert!(!"blake3:abcdef".parse::<Digest>().unwrap().is_verifiable());
    }
}
