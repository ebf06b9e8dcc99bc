//! Test data: real throwaway keys and tokens, made for these tests and never used anywhere.
//!
//! Keys were generated with `openssl genpkey` / `openssl ecparam` / `openssl genrsa -aes128`
//! and `ssh-keygen -t ed25519` (passphrase `throwaway` for the encrypted ones). Only their
//! bodies are stored; [`pem`] adds the BEGIN/END lines at run time, so this source file does not
//! itself look like a leaked key to secret scanners (layerdig included).

/// A PEM block with `label` around `body` lines.
pub(crate) fn pem(label: &str, body: &[&str]) -> String {
    let mut out = format!("-----BEGIN {label}-----\n");
    for line in body {
        out.push_str(line);
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

/// A GitHub token with a valid checksum, computed with Python (`zlib.crc32`, base62, padded).
/// Assembled at run time so the source does not hold a token-shaped literal.
pub(crate) fn github_token() -> String {
    format!("{}_{}", "ghp", "u8jzPde0IgxLd6GncfBAepfJBd0Kh8024xXH")
}

/// [`github_token`] with the last checksum character changed.
pub(crate) fn github_token_bad() -> String {
    format!("{}_{}", "ghp", "u8jzPde0IgxLd6GncfBAepfJBd0Kh8024xXI")
}

/// An npm token with a valid checksum.
pub(crate) fn npm_token() -> String {
    format!("{}_{}", "npm", "oOOL8dKLzdocJ2isAjIhKtJ0RlgLKO24tJGF")
}

/// `PRIVATE KEY` body (`ed.pem`).
pub(crate) const ED25519_PKCS8: &[&str] = &["MC4CAQAwBQYDK2VwBCIEIM7yBQGijkRI+fCPT/YFzm4XxW79ca5ViPiopMvB66zr"];

/// `EC PRIVATE KEY` body (`ec_sec1.pem`).
pub(crate) const EC_SEC1: &[&str] = &[
    "MHcCAQEEIDRlWFtmMKCoRsqH57IwXvGxtbIyZ2EBoykjIknpIyEjoAoGCCqGSM49",
    "AwEHoUQDQgAEoejFoHfY23syGC9cYR9nnY6odifN4/f7vRtozgPpza7eRDW+b5WP",
    "N2Oc9g8+fSePRlDPKKD4RTV1h1zVR8N8vA==",
];

/// `ENCRYPTED PRIVATE KEY` body (`ed_enc.pem`).
pub(crate) const ENCRYPTED_PKCS8: &[&str] = &[
    "MIGbMFcGCSqGSIb3DQEFDTBKMCkGCSqGSIb3DQEFDDAcBAjKM5ThnC8l2gICCAAw",
    "DAYIKoZIhvcNAgkFADAdBglghkgBZQMEAQIEECM/G0hluZfABZxNFT+bAQYEQNIK",
    "IKpW7Q02h0P4hDDg76PudRpEwWSphHbpJ1sa++bF8MSpZZ2oI1Ey6iDkMtP6+PUT",
    "tLS9EgucpW8h8uV1BgQ=",
];

/// `RSA PRIVATE KEY` body (`rsa_enc.pem`).
pub(crate) const RSA_LEGACY_ENCRYPTED: &[&str] = &[
    "Proc-Type: 4,ENCRYPTED",
    "DEK-Info: AES-128-CBC,53E93B96041979404FD5551CEBFA3135",
    "",
    "Vv1zDe8HSYXOOYi/cMp4sl1VReTY9NB/vJ+FtjcEtdRucJJFeG5fXZEABI1yUy7u",
    "zZpGBDrM9tinjDvvCSnL7EEqEjtcMtsHLwN1/DPnrBjhuTY46yqKlm8Uygjtjjth",
    "L5tUI6txEGhpKonelTPFAniksnhU5MIoapP0si18DrIPbYak3NFtNYagWkPZ6qn5",
    "jwJ8CbD0QI60WhlmfvCXrkQRYcnh0OUbAi9hKBBN0VGKQ16pRAFP2TQaKHxFIEpO",
    "UvFq1k5Go3g4bGRxgJy8SDyU9Jg7flPYUbwtZcSYW3JAprui+xOBzsm+siU3a6dH",
    "dw3LFKOWRvkN1S2q/uMq44kAOSq/Kdr3X7ChsyJsCBM8LXt4r/394Obj9tN7tR+F",
    "UAHYeHxA/qvll5JUedV9abIwMRhy9VF+ohSubbENWJzsvY0AuZ0Dgj/7R77WxGUO",
    "FeAKqshdzJpWWZ2xAFMW69wU9kFpBTUw6h/u3jAdmNANi5Iv/qJRfpMq/Ceg/E6F",
    "f5bVRHXEvfI5+2Bzf3YqL30Zm9eklq1af9AaJj8MEj7whTb98GzuI1B7lfDBpfk4",
    "8unF/N9XaZcgdTjG1a1mgQzk08HUYyvEi9xtyIm1ywqLwa06boucIlmlKQu8KruL",
    "hfly9jQclc6mLjqaocCZpvC48m62CtAqAo5nfHoCdn74Zn36G47ApsFbNao6qX4i",
    "KGkj+eUaTXK+wFLDhwAeZRMUeW0rH2b50qB8L76oXBnR8kE/Ec6LxbayJWiLm8sw",
    "DHcXgby4wytYIjigBjiaOKIHUVfr0MwF6+I0arEN21N7GOMFwmciS2qSOIz7vBxQ",
];

/// `OPENSSH PRIVATE KEY` body (`ssh_plain`).
pub(crate) const OPENSSH: &[&str] = &[
    "b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW",
    "QyNTUxOQAAACAE0sobW1QuHvKqTfs0hNBQImFHddNr912TxVEw3G2JiwAAAJDL8YR7y/GE",
    "ewAAAAtzc2gtZWQyNTUxOQAAACAE0sobW1QuHvKqTfs0hNBQImFHddNr912TxVEw3G2Jiw",
    "AAAEBr9V0K+jwA1l+LVZuocQmzJxgWeeMt14cAJ/byOxJNKwTSyhtbVC4e8qpN+zSE0FAi",
    "YUd102v3XZPFUTDcbYmLAAAACXRocm93YXdheQECAwQ=",
];

/// `OPENSSH PRIVATE KEY` body (`ssh_enc`).
pub(crate) const OPENSSH_ENCRYPTED: &[&str] = &[
    "b3BlbnNzaC1rZXktdjEAAAAACmFlczI1Ni1jdHIAAAAGYmNyeXB0AAAAGAAAABCsc0YtVy",
    "fLByDuQtbYIGAoAAAAEAAAAAEAAAAzAAAAC3NzaC1lZDI1NTE5AAAAIMts2MjzjyyrvhTd",
    "8lO7yGwhcljiK1uZXSxDg8CPOmDZAAAAkEY3w5ruVWgRnfIsKfjjTao7ngWEE8PbdWQsWa",
    "ThccQx1xogS8a8nGx79HHgpDLkf9zfYVwIJrfPadofqDOWtAHR0rIVnzVUDH7iZ+RUjeAv",
    "ho9bopezX1EHML5XiVcMFdk2aswFOKNiaBbtmhmSPyKTZ64+rAqyI392KSZba0ydzoSJSU",
    "FzAj9zu4dsSGvETA==",
];
