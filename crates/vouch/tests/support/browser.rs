//! Where the browser tests' Chromium and Node packages are, and whether they are installed.

use std::path::PathBuf;

pub fn browser_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/browser")
}

/// Whether the browser and the driver are installed; outside CI a missing one skips the test.
pub fn browser_available() -> bool {
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    let missing: Vec<String> = [
        (
            std::path::Path::new(&chromium).exists(),
            format!("Chromium at {chromium}"),
        ),
        (
            browser_dir().join("node_modules/playwright-core").exists(),
            "tests/browser/node_modules (npm ci)".to_string(),
        ),
        (
            browser_dir()
                .join("node_modules/@didit-protocol/sdk-web")
                .exists(),
            "Didit's web SDK in tests/browser/node_modules (npm ci)".to_string(),
        ),
    ]
    .into_iter()
    .filter(|(ok, _)| !ok)
    .map(|(_, what)| what)
    .collect();
    if missing.is_empty() {
        return true;
    }
    let ci = std::env::var("CI").is_ok_and(|v| v == "true" || v == "1");
    assert!(
        !ci,
        "CI=true and the browser tests lack {missing:?}: run scripts/test.sh"
    );
    println!("skipping the browser tests: missing {missing:?} (scripts/test.sh installs them)");
    false
}

/// Runs one of `tests/browser/`'s scripts on a plan file; answers the JSON it prints.
pub async fn run(script: &str, plan_file: PathBuf) -> serde_json::Value {
    let script = browser_dir().join(script);
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new("node")
            .arg(script)
            .arg(&plan_file)
            .output()
            .expect("node")
    })
    .await
    .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "the browser run failed: {stderr}");
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stdout)))
}

/// What a script's report says went wrong: each page's problems, and axe's serious or critical
/// violations (axe ran where `passes` is not -1, and must have checked something there).
pub fn failures(report: &serde_json::Value) -> Vec<String> {
    let mut failures = Vec::new();
    for p in report["pages"].as_array().unwrap() {
        let name = p["name"].as_str().unwrap();
        for problem in p["problems"].as_array().unwrap() {
            failures.push(format!("{name}: {problem}"));
        }
        let js = !name.contains("no-javascript") && p["passes"].as_i64() != Some(-1);
        let passes = p["passes"].as_u64().unwrap_or(0);
        if js && passes < 10 {
            failures.push(format!(
                "{name}: axe passed only {passes} rules: did it run?"
            ));
        }
        println!("{name}: axe passed {passes} rules");
        for v in p["violations"].as_array().unwrap() {
            println!("{name}: axe {v}");
            if matches!(v["impact"].as_str(), Some("serious" | "critical")) {
                failures.push(format!("{name}: axe {v}"));
            }
        }
    }
    failures
}
