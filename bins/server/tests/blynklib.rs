//! The real PyPI device client `blynklib==0.2.6` against the server.
//!
//! Needs `python3`. The venv lives at `<workspace>/target/py-venv` (the same one
//! `.ci/run` prepares); it is created here when missing, under a file lock so parallel
//! test processes do not race.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::*;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};

const BLYNKLIB: &str = "blynklib==0.2.6";
const READY_CHECK: &str =
    "import blynklib, importlib.metadata as m; assert m.version('blynklib') == '0.2.6'";

fn workspace_target() -> PathBuf {
    // bins/server → the workspace root (taken lexically, not through `..`).
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let root = manifest.parent().and_then(Path::parent).unwrap_or(manifest);
    root.join("target")
}

fn venv_python(venv: &Path) -> PathBuf {
    venv.join("bin").join("python")
}

fn venv_ready(venv: &Path) -> bool {
    std::process::Command::new(venv_python(venv))
        .args(["-c", READY_CHECK])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn run(cmd: &mut std::process::Command, what: &str) {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("{what}: cannot run: {e}"));
    assert!(
        out.status.success(),
        "{what} failed ({}):\n{}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Makes sure `<workspace>/target/py-venv` has blynklib 0.2.6; returns its python.
fn ensure_venv() -> PathBuf {
    let target = workspace_target();
    let venv = target.join("py-venv");
    if venv_ready(&venv) {
        return venv_python(&venv);
    }
    let python3 = std::process::Command::new("python3")
        .arg("--version")
        .output();
    assert!(
        python3.is_ok_and(|o| o.status.success()),
        "python3 is required by the blynklib device-client test but was not found on PATH; \
         install Python 3 with the venv module (Debian: apt-get install python3 python3-venv)"
    );
    std::fs::create_dir_all(&target).unwrap();
    let _lock = LockFile::acquire(target.join("py-venv.lock"));
    if !venv_ready(&venv) {
        run(
            std::process::Command::new("python3")
                .args(["-m", "venv"])
                .arg(&venv),
            "python3 -m venv target/py-venv",
        );
        run(
            std::process::Command::new(venv_python(&venv)).args([
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
                BLYNKLIB,
            ]),
            "pip install blynklib==0.2.6",
        );
        assert!(
            venv_ready(&venv),
            "blynklib 0.2.6 not importable after install"
        );
    }
    venv_python(&venv)
}

/// A lock held by creating a file exclusively (`create_new` is atomic); removed on drop.
/// A lock file older than [`STALE_LOCK`] is left over from a killed run and is taken over.
struct LockFile(PathBuf);

const STALE_LOCK: Duration = Duration::from_secs(600);

impl LockFile {
    fn acquire(path: PathBuf) -> LockFile {
        loop {
            match std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&path)
            {
                Ok(_) => return LockFile(path),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    let stale = std::fs::metadata(&path)
                        .and_then(|m| m.modified())
                        .ok()
                        .and_then(|t| t.elapsed().ok())
                        .is_some_and(|age| age > STALE_LOCK);
                    if stale {
                        let _ = std::fs::remove_file(&path);
                    } else {
                        std::thread::sleep(Duration::from_millis(200));
                    }
                }
                Err(e) => panic!("cannot create {}: {e}", path.display()),
            }
        }
    }
}

impl Drop for LockFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

async fn drive_blynklib(tls: bool) {
    let python = tokio::task::spawn_blocking(ensure_venv).await.unwrap();
    let t = start().await;
    let token = t.create_device("py@x.io", "bench", "python").await;
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/py/blynklib_client.py");
    let mut cmd = tokio::process::Command::new(python);
    cmd.arg(script).arg("127.0.0.1");
    if tls {
        cmd.arg(t.server.https_addr().port().to_string())
            .arg(&token)
            .arg(t.dir.path().join("tls/cert.pem"));
    } else {
        cmd.arg(t.server.http_addr().port().to_string()).arg(&token);
    }
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut stderr = child.stderr.take().unwrap();
    let connected = tokio::time::timeout(Duration::from_secs(30), async {
        while let Some(line) = stdout.next_line().await.unwrap() {
            if line == "CONNECTED" {
                return Ok(());
            }
            if line.starts_with("FAIL") {
                return Err(line);
            }
        }
        Err("client exited".to_owned())
    })
    .await;
    if !matches!(connected, Ok(Ok(()))) {
        let _ = child.start_kill();
        let mut err = String::new();
        let _ = stderr.read_to_string(&mut err).await;
        panic!("blynklib did not connect: {connected:?}\n{err}");
    }

    // The server shows it online with the info blynklib reported.
    let device = t.device(&token).await;
    assert_eq!(device["online"], true, "{device}");
    assert_eq!(device["info"]["library_version"], "0.2.6");
    assert_eq!(device["info"]["board"], "python");
    assert_eq!(device["info"]["buff_in"], 1024);
    assert_eq!(device["info"]["heartbeat"], 10);
    let transport = if tls { "tls" } else { "tcp" };
    assert_eq!(device["connections"][0]["transport"], transport);

    // It stays connected (its run loop keeps going without errors or reconnects).
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(t.device(&token).await["online"], true);
    drop(child.stdin.take());
    let status = tokio::time::timeout(Duration::from_secs(15), child.wait())
        .await
        .expect("client exits after stdin closes")
        .unwrap();
    let mut rest = Vec::new();
    while let Some(line) = stdout.next_line().await.unwrap() {
        rest.push(line);
    }
    let mut err = String::new();
    let _ = stderr.read_to_string(&mut err).await;
    assert!(status.success(), "client failed: {status} {rest:?}\n{err}");
    assert!(
        rest.iter().any(|l| l == "STILL CONNECTED"),
        "{rest:?}\n{err}"
    );
}

#[tokio::test]
async fn blynklib_logs_in_gets_info_acked_and_stays_connected() {
    drive_blynklib(false).await;
}

#[tokio::test]
async fn blynklib_over_tls() {
    drive_blynklib(true).await;
}

/// blynklib with a build in its info message: a deferred campaign sends the OTA command
/// right after the OK to the info message; blynklib (one message per receive) must see
/// both, fire `internal_ota` with the URL, and the URL must serve the exact image.
#[tokio::test]
async fn blynklib_receives_internal_ota_and_downloads_the_image() {
    let python = tokio::task::spawn_blocking(ensure_venv).await.unwrap();
    let t = start().await;
    let token = t.create_device("py@x.io", "bench", "python").await;
    let image = firmware_fixture("esp8266_legacy_build.bin");
    let r = t.upload("", &image).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let sha256 = r.json()["firmware"]["sha256"].as_str().unwrap().to_owned();

    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/py/blynklib_ota.py");
    let mut child = tokio::process::Command::new(python)
        .arg(script)
        .arg("127.0.0.1")
        .arg(t.server.http_addr().port().to_string())
        .arg(&token)
        .arg("111")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut lines = Vec::new();
    let finished = tokio::time::timeout(Duration::from_secs(40), async {
        while let Some(line) = stdout.next_line().await.unwrap() {
            lines.push(line);
        }
    })
    .await;
    let mut err = String::new();
    let _ = child.stderr.take().unwrap().read_to_string(&mut err).await;
    assert!(
        finished.is_ok(),
        "blynklib did not finish: {lines:?}\n{err}"
    );
    let url = lines
        .iter()
        .find_map(|l| l.strip_prefix("URL "))
        .unwrap_or_else(|| panic!("no internal_ota: {lines:?}\n{err}"));
    assert!(
        url.starts_with(&format!(
            "http://127.0.0.1:{}/ota/",
            t.server.http_addr().port()
        )),
        "{url}"
    );
    let bytes = lines
        .iter()
        .find_map(|l| l.strip_prefix("BYTES "))
        .unwrap_or_else(|| panic!("no download: {lines:?}\n{err}"));
    assert_eq!(bytes, format!("{} {sha256}", image.len()));
    assert!(child.wait().await.unwrap().success());
    let entry = t.ota_status().await["campaigns"][0]["devices"][0].clone();
    assert_eq!(entry["state"], "downloaded", "{entry}");
    assert_eq!(entry["attempts"], 1, "{entry}");
}
