//! Secrets read through the decoders, end to end: a layer holding a Kubernetes Secret, Docker
//! registry credentials, UTF-16 settings files, a percent-encoded URL password and `\u`-escaped
//! JSON. Each finding says which encoding it came through, at the encoded bytes' line.

use layerdig::{Collect, Confidence, Encoding, Finding, Location, Report, Rules, Scanner};
use layerdig_tests::{Comp, LayerBuilder, Layout, SynthImage, SynthLayer, base64, github_token};

/// One gzip layer of these files in an OCI layout, scanned with secrets shown.
fn scan_files(files: &[(&str, &[u8])]) -> Report {
    let mut layer = LayerBuilder::new();
    for (path, content) in files {
        layer = layer.file(path, content);
    }
    let dir = tempfile::tempdir().unwrap();
    Layout::oci(&[SynthImage::new(vec![SynthLayer::new(layer.finish(), Comp::Gzip, "COPY . /")])], false, false)
        .write_dir(dir.path());
    let rules = Rules::builtin();
    let scanner = Scanner::builder().show_secrets(true).threads(2).build(&rules).unwrap();
    let mut sink = Collect::new();
    let stats = scanner.scan_path(dir.path(), &mut sink).unwrap();
    sink.into_report(stats)
}

/// The finding of rule `rule` and its location at `path`.
fn at<'r>(report: &'r Report, rule: &str, path: &str) -> (&'r Finding, &'r Location) {
    report
        .findings
        .iter()
        .filter(|f| f.rule_id == rule)
        .find_map(|f| f.locations.iter().find(|l| l.path.as_deref() == Some(path)).map(|l| (f, l)))
        .unwrap_or_else(|| panic!("no {rule} at {path}: {:#?}", report.findings))
}

#[test]
fn a_kubernetes_secret_with_a_base64_github_token() {
    let token = github_token();
    let encoded = base64(token.as_bytes());
    let yaml = format!(
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: ci\ntype: Opaque\ndata:\n  username: {}\n  GITHUB_TOKEN: {encoded}\n",
        base64(b"release-bot")
    );
    // The same token in plain text elsewhere: one finding (the fingerprint is over the decoded
    // token), two locations.
    let env = format!("GITHUB_TOKEN={token}\n");
    let report = scan_files(&[("deploy/secret.yaml", yaml.as_bytes()), ("app/.env", env.as_bytes())]);
    let (f, loc) = at(&report, "github.personal-access-token", "deploy/secret.yaml");
    assert_eq!(f.confidence, Confidence::High);
    assert_eq!(f.secret.as_deref(), Some(token.as_str()));
    assert_eq!((loc.encoding, loc.line, loc.column), (Some(Encoding::Base64), Some(8), Some(17)));
    let span = loc.span.unwrap();
    assert_eq!(&yaml[span.start as usize..span.end as usize], encoded);
    assert_eq!(f.locations.len(), 2, "{:#?}", f.locations);
    let plain = f.locations.iter().find(|l| l.path.as_deref() == Some("app/.env")).unwrap();
    assert_eq!(plain.encoding, None);
    let json = serde_json::to_value(&report.findings).unwrap();
    assert!(json.to_string().contains("\"encoding\":\"base64\""));
}

#[test]
fn docker_registry_auth_values() {
    let token = github_token();
    let auth = base64(format!("release-bot:{token}").as_bytes());
    let config = format!("{{\n  \"auths\": {{\n    \"ghcr.io\": {{\n      \"auth\": \"{auth}\"\n    }}\n  }}\n}}\n");
    let report = scan_files(&[
        ("root/.docker/config.json", config.as_bytes()),
        ("etc/pull-secret/.dockerconfigjson", config.replace('\n', "").as_bytes()),
    ]);
    let (f, loc) = at(&report, "github.personal-access-token", "root/.docker/config.json");
    assert_eq!((f.confidence, loc.encoding, loc.line), (Confidence::High, Some(Encoding::Base64), Some(4)));
    let (_, loc) = at(&report, "github.personal-access-token", "etc/pull-secret/.dockerconfigjson");
    assert_eq!((loc.encoding, loc.line), (Some(Encoding::Base64), Some(1)));
}

fn utf16le(text: &str, bom: bool) -> Vec<u8> {
    let mut out = if bom { vec![0xff, 0xfe] } else { Vec::new() };
    out.extend(text.encode_utf16().flat_map(u16::to_le_bytes));
    out
}

#[test]
fn utf16le_settings_files_with_and_without_a_bom() {
    let token = github_token();
    let ini = format!("; written by Notepad\r\n[github]\r\nuser = bot\r\ntoken = {token}\r\n");
    let with_bom = utf16le(&ini, true);
    let without = utf16le(&ini, false);
    let report = scan_files(&[("ProgramData/app/settings.ini", &with_bom), ("Users/bot/settings.ini", &without)]);
    for (path, data) in [("ProgramData/app/settings.ini", &with_bom), ("Users/bot/settings.ini", &without)] {
        let (f, loc) = at(&report, "github.personal-access-token", path);
        assert_eq!(f.secret.as_deref(), Some(token.as_str()));
        assert_eq!((loc.encoding, loc.line), (Some(Encoding::Utf16le), Some(4)), "{path}");
        let span = loc.span.unwrap();
        let encoded: Vec<u16> =
            data[span.start as usize..span.end as usize].chunks(2).map(|p| u16::from_le_bytes([p[0], p[1]])).collect();
        assert_eq!(String::from_utf16(&encoded).unwrap(), token, "{path}");
    }
}

#[test]
fn a_percent_encoded_url_password() {
    let url = "[remote \"origin\"]\n\turl = https://ci:Zq8%23vR2m%21Lx9%40pW4@git.example.com/app.git\n";
    let report = scan_files(&[("srv/app/.git/config", url.as_bytes())]);
    let (f, loc) = at(&report, "generic.url-password", "srv/app/.git/config");
    assert_eq!(f.secret.as_deref(), Some("Zq8#vR2m!Lx9@pW4"));
    assert_eq!((loc.encoding, loc.line), (Some(Encoding::Percent), Some(2)));
    let span = loc.span.unwrap();
    assert_eq!(&url[span.start as usize..span.end as usize], "Zq8%23vR2m%21Lx9%40pW4");
}

#[test]
fn unicode_escaped_json() {
    let token = github_token();
    let escaped: String = token.chars().map(|c| format!("\\u{:04x}", c as u32)).collect();
    let json = format!("{{\n  \"ci\": {{\n    \"token\": \"{escaped}\"\n  }}\n}}\n");
    let report = scan_files(&[("app/config/ci.json", json.as_bytes())]);
    let (f, loc) = at(&report, "github.personal-access-token", "app/config/ci.json");
    assert_eq!(f.secret.as_deref(), Some(token.as_str()));
    assert_eq!((loc.encoding, loc.line, loc.column), (Some(Encoding::UnicodeEscape), Some(3), Some(15)));
}
