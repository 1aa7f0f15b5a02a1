//! The deployment kit (deploy/): scripts/check-deploy.sh's offline checks of the manifests and
//! Dockerfiles, and the GKE scripts run end to end with `gcloud`, `kubectl` and `docker` on PATH
//! replaced by recording wrappers (what needs a cloud is recorded, `kubectl kustomize` runs for
//! real), with verify.sh's `gcloud logging read` going for real to the emulator behind the pod
//! simulation.

use std::process::Command;

use super::pod::workspace_root;
use super::support::*;

#[test]
fn the_manifests_dockerfiles_and_scripts_pass_check_deploy() {
    let root = workspace_root();
    let setup = Command::new("bash")
        .arg("scripts/setup/deploy.sh")
        .current_dir(&root)
        .status()
        .unwrap();
    assert!(setup.success(), "scripts/setup/deploy.sh failed");
    let out = Command::new("bash")
        .arg("scripts/check-deploy.sh")
        .current_dir(&root)
        .env("LOGFERRY", BIN)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
