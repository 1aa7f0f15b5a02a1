//! The deployment kit (deploy/): scripts/check-deploy.sh's offline checks of the manifests and
//! Dockerfiles, and the GKE scripts run end to end with `gcloud`, `kubectl`, `docker` and
//! `gke-gcloud-auth-plugin` on PATH replaced by recording stand-ins (fake-cloud-cli.sh: what
//! needs a cloud is recorded, `kubectl kustomize` runs for real), while verify.sh's
//! `gcloud logging read` is the real gcloud, pointed at the emulator behind the pod simulation.

mod scripts;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use super::pod::workspace_root;
use super::support::*;

#[test]
fn the_manifests_dockerfiles_and_scripts_pass_check_deploy() {
    let root = workspace_root();
    setup_deploy_tools();
    let out = Command::new("bash")
        .arg("scripts/check-deploy.sh")
        .current_dir(&root)
        .env("LOGFERRY", BIN)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
}

/// scripts/setup/deploy.sh: installs what the kit's tests need, or fails (never skips).
fn setup_deploy_tools() {
    let setup = Command::new("bash")
        .arg("scripts/setup/deploy.sh")
        .current_dir(workspace_root())
        .status()
        .unwrap();
    assert!(setup.success(), "scripts/setup/deploy.sh failed");
}

/// The absolute path of `tool` on the test's own PATH; fails loudly when it is missing.
fn real_tool(tool: &str) -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .map(|dir| dir.join(tool))
        .find(|p| p.is_file())
        .unwrap_or_else(|| {
            panic!("{tool} is not installed: bash scripts/setup/deploy.sh installs it (the kit's tests run it)")
        })
}

/// stdout and stderr of a finished command, for assertion messages.
fn text(out: &Output) -> String {
    format!(
        "exit {}\n--- stdout\n{}\n--- stderr\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// A test's stand-ins for the cloud tools and what they recorded.
struct FakeCloud {
    dir: PathBuf,
    bin: PathBuf,
    record: PathBuf,
    applied: PathBuf,
    last_build: PathBuf,
}

const FAKE_CLI: &str = include_str!("fake-cloud-cli.sh");
const CLOUD_TOOLS: &[&str] = &["gcloud", "kubectl", "docker", "gke-gcloud-auth-plugin"];

impl FakeCloud {
    fn new(dir: &Path) -> FakeCloud {
        use std::os::unix::fs::PermissionsExt;
        setup_deploy_tools();
        let bin = dir.join("fake-bin");
        fs::create_dir_all(&bin).unwrap();
        let script = dir.join("fake-cloud-cli.sh");
        fs::write(&script, FAKE_CLI).unwrap();
        fs::set_permissions(&script, fs::Permissions::from_mode(0o755)).unwrap();
        for tool in CLOUD_TOOLS {
            std::os::unix::fs::symlink(&script, bin.join(tool)).unwrap();
        }
        FakeCloud {
            dir: dir.to_path_buf(),
            bin,
            record: dir.join("calls.tsv"),
            applied: dir.join("applied.yaml"),
            last_build: dir.join("last-build"),
        }
    }

    /// `bash deploy/gke/SCRIPT ARGS` with the stand-ins first on PATH, in a clean environment.
    fn script(&self, script: &str, args: &[&str]) -> Command {
        let path = std::env::var_os("PATH").unwrap_or_default();
        let mut dirs = vec![self.bin.clone()];
        dirs.extend(std::env::split_paths(&path));
        self.script_with_path(script, args, std::env::join_paths(dirs).unwrap())
    }

    /// [`FakeCloud::script`] with only the stand-ins but `without` and the basic tools on PATH:
    /// a machine where `without` is not installed.
    fn script_without(&self, script: &str, args: &[&str], without: &str) -> Command {
        let bin = self.dir.join(format!("bin-without-{without}"));
        fs::create_dir_all(&bin).unwrap();
        for tool in CLOUD_TOOLS.iter().filter(|t| **t != without) {
            let _ = std::os::unix::fs::symlink(self.bin.join(tool), bin.join(tool));
        }
        for tool in [
            "bash", "env", "dirname", "basename", "cat", "mktemp", "rm", "cp", "date", "seq",
            "grep", "sed", "cut", "head", "sleep", "curl", "git",
        ] {
            if tool != without {
                let _ = std::os::unix::fs::symlink(real_tool(tool), bin.join(tool));
            }
        }
        self.script_with_path(script, args, bin.into_os_string())
    }

    fn script_with_path(&self, script: &str, args: &[&str], path: std::ffi::OsString) -> Command {
        let mut command = Command::new(real_tool("bash"));
        command
            .arg(workspace_root().join("deploy/gke").join(script))
            .args(args)
            .current_dir(&self.dir)
            .env_clear()
            .env("PATH", path)
            .env("HOME", &self.dir)
            .env("FAKE_RECORD", &self.record)
            .env("FAKE_APPLIED", &self.applied)
            .env("REAL_KUBECTL", real_tool("kubectl"))
            .env("LAST_BUILD", &self.last_build);
        command
    }

    /// Every recorded call: the tool, then its arguments.
    fn calls(&self) -> Vec<Vec<String>> {
        fs::read_to_string(&self.record)
            .unwrap_or_default()
            .lines()
            .map(|l| l.split('\t').map(str::to_owned).collect())
            .collect()
    }

    /// The recorded calls of `tool` whose arguments start with `words`.
    fn calls_of(&self, tool: &str, words: &[&str]) -> Vec<Vec<String>> {
        self.calls()
            .into_iter()
            .filter(|c| c[0] == tool && c.len() > words.len() && c[1..=words.len()] == *words)
            .map(|c| c[1..].to_vec())
            .collect()
    }
}

/// The value after `flag` in a recorded call.
fn flag<'a>(call: &'a [String], flag: &str) -> Option<&'a str> {
    let at = call.iter().position(|w| w == flag)?;
    call.get(at + 1).map(String::as_str)
}

/// A throwaway gcloud configuration whose Cloud Logging API is the emulator at `url`, with
/// credentials turned off (the emulator needs none): the real `gcloud logging read` then reads
/// the emulator.
fn gcloud_config_for(dir: &Path, url: &str) -> PathBuf {
    let config = dir.join(format!("gcloud-config-{}", url.rsplit(':').next().unwrap()));
    for (property, value) in [
        ("api_endpoint_overrides/logging", format!("{url}/")),
        ("auth/disable_credentials", "true".to_owned()),
        ("core/disable_usage_reporting", "true".to_owned()),
        ("component_manager/disable_update_check", "true".to_owned()),
    ] {
        let out = Command::new(real_tool("gcloud"))
            .args(["config", "set", property, &value])
            .env("CLOUDSDK_CONFIG", &config)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "gcloud config set {property}: {}",
            text(&out)
        );
    }
    config
}
