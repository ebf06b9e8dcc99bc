//! The registry's authentication schemes, as its `WWW-Authenticate` challenge names them:
//! none, `Basic` (the credentials on every request), or `Bearer` (the token flow of the
//! distribution spec: a GET to the challenge's realm with `service` and `scope`, the credentials
//! as Basic if there are any, answered by `{"token": …, "expires_in": …}`).
//!
//! Tokens are cached per scope (`repository:REPO:pull`, `registry:catalog:*`) until a few
//! seconds before they expire (`expires_in`, 60 s when the answer leaves it out, as the spec
//! says).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::credentials::{Credentials, Secret};

/// A parsed `WWW-Authenticate` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Challenge {
    /// `Basic realm=…`.
    Basic,
    /// `Bearer realm=…,service=…,scope=…`.
    Bearer {
        /// Where tokens are asked for.
        realm: String,
        /// The `service` parameter, when given.
        service: Option<String>,
        /// The `scope` the registry asked for, when given.
        scope: Option<String>,
    },
}

impl Challenge {
    /// Parse a header value; `None` for a scheme layerdig does not speak.
    pub(crate) fn parse(header: &str) -> Option<Challenge> {
        let header = header.trim();
        let (scheme, rest) = header.split_once(char::is_whitespace).unwrap_or((header, ""));
        let params = parse_params(rest);
        let get = |name: &str| params.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.clone());
        if scheme.eq_ignore_ascii_case("basic") {
            Some(Challenge::Basic)
        } else if scheme.eq_ignore_ascii_case("bearer") {
            Some(Challenge::Bearer { realm: get("realm")?, service: get("service"), scope: get("scope") })
        } else {
            None
        }
    }
}

/// `k="v", k2=v2`: quoted values may hold commas and escaped quotes.
fn parse_params(s: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut chars = s.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| *c == ',' || c.is_whitespace()) {
            chars.next();
        }
        let mut key = String::new();
        while let Some(&c) = chars.peek() {
            if c == '=' || c == ',' {
                break;
            }
            key.push(c);
            chars.next();
        }
        if key.is_empty() {
            break;
        }
        let mut value = String::new();
        if chars.peek() == Some(&'=') {
            chars.next();
            if chars.peek() == Some(&'"') {
                chars.next();
                while let Some(c) = chars.next() {
                    match c {
                        '\\' => value.extend(chars.next()),
                        '"' => break,
                        c => value.push(c),
                    }
                }
            } else {
                while let Some(&c) = chars.peek() {
                    if c == ',' {
                        break;
                    }
                    value.push(c);
                    chars.next();
                }
            }
        }
        out.push((key.trim().to_string(), value.trim().to_string()));
    }
    out
}

/// How requests to one registry are authorised, learnt from its first challenge.
#[derive(Debug)]
pub(crate) enum Scheme {
    /// `/v2/` answered without a challenge.
    Anonymous,
    /// Basic: the credentials on each request.
    Basic,
    /// The token flow.
    Bearer { realm: String, service: Option<String> },
}

/// A token and when it stops being used.
#[derive(Debug, Clone)]
pub(crate) struct Token {
    pub(crate) value: Secret,
    pub(crate) expires: Instant,
}

/// Tokens by scope.
#[derive(Debug, Default)]
pub(crate) struct TokenCache {
    tokens: Mutex<HashMap<String, Token>>,
}

impl TokenCache {
    /// A token for `scope` that is still good for a few seconds.
    pub(crate) fn get(&self, scope: &str) -> Option<Secret> {
        let tokens = self.tokens.lock().unwrap_or_else(|e| e.into_inner());
        let token = tokens.get(scope)?;
        (token.expires > Instant::now() + Duration::from_secs(5)).then(|| token.value.clone())
    }

    pub(crate) fn put(&self, scope: &str, token: Token) {
        self.tokens.lock().unwrap_or_else(|e| e.into_inner()).insert(scope.to_string(), token);
    }

    pub(crate) fn forget(&self, scope: &str) {
        self.tokens.lock().unwrap_or_else(|e| e.into_inner()).remove(scope);
    }
}

/// A token endpoint's answer.
#[derive(serde::Deserialize)]
pub(crate) struct TokenAnswer {
    #[serde(default)]
    token: Option<String>,
    #[serde(default)]
    access_token: Option<String>,
    #[serde(default)]
    expires_in: Option<u64>,
}

impl TokenAnswer {
    /// The token and its expiry, counted from `asked` (when the request went out).
    pub(crate) fn into_token(self, asked: Instant) -> Option<Token> {
        let value = self.token.filter(|t| !t.is_empty()).or(self.access_token.filter(|t| !t.is_empty()))?;
        // The spec: "if omitted, the default is 60 seconds"; less than that is taken as 60.
        let lifetime = self.expires_in.unwrap_or(60).max(60);
        Some(Token { value: Secret::new(value), expires: asked + Duration::from_secs(lifetime) })
    }
}

/// The `Authorization` value for a token.
pub(crate) fn bearer(token: &Secret) -> String {
    format!("Bearer {}", token.expose())
}

/// The `Authorization` value for Basic credentials.
pub(crate) fn basic(creds: &Credentials) -> String {
    creds.basic()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_challenges() {
        let c = Challenge::parse(
            r#"Bearer realm="https://auth.example/token",service="registry.example",scope="repository:a/b:pull,push""#,
        );
        assert_eq!(
            c,
            Some(Challenge::Bearer {
                realm: "https://auth.example/token".into(),
                service: Some("registry.example".into()),
                scope: Some("repository:a/b:pull,push".into()),
            })
        );
        assert_eq!(Challenge::parse(r#"Basic realm="Registry Realm""#), Some(Challenge::Basic));
        assert_eq!(
            Challenge::parse("bearer realm=http://h/t"),
            Some(Challenge::Bearer { realm: "http://h/t".into(), service: None, scope: None })
        );
        assert_eq!(Challenge::parse("Negotiate"), None);
        assert_eq!(Challenge::parse("Bearer service=x"), None);
    }

    #[test]
    fn tokens_expire_and_default_to_sixty_seconds() {
        let now = Instant::now();
        let t: TokenAnswer = serde_json::from_str(r#"{"token":"abc","expires_in":300}"#).unwrap();
        let t = t.into_token(now).unwrap();
        assert_eq!(t.expires, now + Duration::from_secs(300));
        let t: TokenAnswer = serde_json::from_str(r#"{"access_token":"abc"}"#).unwrap();
        assert_eq!(t.into_token(now).unwrap().expires, now + Duration::from_secs(60));
        let cache = TokenCache::default();
        cache.put("s", Token { value: Secret::new("x"), expires: now + Duration::from_secs(2) });
        assert!(cache.get("s").is_none(), "a token about to expire is not used");
        cache.put("s", Token { value: Secret::new("x"), expires: now + Duration::from_secs(100) });
        assert!(cache.get("s").is_some());
        assert!(!format!("{cache:?}").contains("\"x\""));
    }
}
