//! The torture suite on a node (deploy/k8s/daemonset): the fake kubelet of [`super::node`] writes
//! the CRI logs of many pods at once while the agent, with the DaemonSet's args and config,
//! ships them through the proxy of [`super::torture`] to the emulator: killed -9 in a loop;
//! through kubelet's rotation (rename, compression, removal) under load, container restarts and
//! pod deletions, and killed -9 once mid-rotation; with the API server down for a while as pods
//! come and go. Each scenario prints its row of the torture table and asserts that every line
//! arrived once, with its pod's resource and, for a pod the agent could know, its labels.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::kube_api::FakeKubeApi;
use super::node::{Container, Node, api_pod, container_entries, message_of};
use super::pod::{PROJECT, Proc, query};
use super::support::*;
use super::torture::{Proxy, Report, kills, scale, tally};

/// Pods writing on the node at once.
const PODS: usize = 30;

/// How often the load writes its next lines to every pod.
const ROUND: Duration = Duration::from_millis(10);

/// The `app` label of every pod of the load.
const APP: &str = "load";

/// A node with the API server (both namespaces known) and the proxy in front of the emulator.
fn node() -> (FakeKubeApi, Node, Proxy) {
    let api = FakeKubeApi::start();
    api.put_namespace("shop", serde_json::json!({"team": "payments"}));
    api.put_namespace("jobs", serde_json::json!({}));
    let node = Node::with_api(Some(&api));
    let proxy = Proxy::start(&node.emulator.url);
    node.send_through(&proxy.url);
    (api, node, proxy)
}

/// Names live as long as the test binary: [`Container`] borrows them for `'static`.
fn leak(name: String) -> &'static str {
    Box::leak(name.into_boxed_str())
}

/// The pods of a scenario, each with the number of its next line.
struct Load {
    pods: Vec<(Container, usize)>,
    /// Pods started so far (names and uids of new pods follow on).
    started: usize,
}

impl Load {
    fn start(node: &mut Node, api: &FakeKubeApi, count: usize) -> Load {
        let mut load = Load {
            pods: Vec::new(),
            started: 0,
        };
        for _ in 0..count {
            load.add(node, api);
        }
        load
    }

    /// A new pod, labelled `app=load` on the API server, then its container started; its
    /// lines are expected with the label. Returns its index.
    fn add(&mut self, node: &mut Node, api: &FakeKubeApi) -> usize {
        let i = self.started;
        self.started += 1;
        let c = Container::new(
            if i.is_multiple_of(3) { "jobs" } else { "shop" },
            leak(format!("load-{i}")),
            leak(format!("8f0e7c1a-1b2c-4d3e-8f40-{i:012x}")),
            if i.is_multiple_of(2) { "api" } else { "worker" },
        );
        api_pod(api, &c, APP);
        node.expect_apps(c.pod, &[Some(APP)]);
        c.start(node.root());
        self.pods.push((c, 0));
        self.pods.len() - 1
    }

    /// `count` more lines from every pod.
    fn round(&mut self, node: &mut Node, count: usize) {
        for (c, next) in &mut self.pods {
            node.write(c, *next, count);
            *next += count;
        }
    }

    /// Rounds of `count` lines every [`ROUND`] for `how_long`.
    fn run_for(&mut self, node: &mut Node, count: usize, how_long: Duration) {
        let until = Instant::now() + how_long;
        while Instant::now() < until {
            self.round(node, count);
            std::thread::sleep(ROUND);
        }
    }

    /// The pod at `index` is deleted right after its last lines (it has no more to write
    /// once its container stopped): gone from the API server, then kubelet removes its logs.
    /// The agent follows its file first: a file that went before anyone opened it is gone
    /// for any reader.
    fn delete(
        &mut self,
        index: usize,
        node: &mut Node,
        api: &FakeKubeApi,
        agent: &Proc,
    ) -> &'static str {
        let (c, next) = self.pods.remove(index);
        let file = fs::canonicalize(c.file(node.root())).unwrap();
        wait_until(&format!("the agent to open {}", file.display()), || {
            has_open(agent.id(), &file)
        });
        node.write(&c, next, 10);
        api.delete_pod(c.uid);
        c.delete(node.root());
        c.pod
    }
}

/// Waits until every line of `pods` arrived.
fn wait_pods_delivered(node: &Node, pods: &[&str]) {
    for pod in pods {
        let want = node.expected.values().filter(|e| e.pod == *pod).count();
        let filter = format!(r#"resource.labels.pod_name="{pod}""#);
        wait_until(&format!("every line of {pod}"), || {
            let arrived = query(&node.emulator, PROJECT, &filter).len();
            if arrived < want {
                std::thread::sleep(Duration::from_millis(200));
            }
            arrived >= want
        });
    }
}

/// Kubelet's log rotation (`container_log_manager.go`), its checks scaled from every 10 s to
/// every [`KUBELET_CHECK`]: a running container's file past `max_size` is rotated — the
/// oldest rotated files removed down to `max_files - 2`, every rotated file but the newest
/// compressed (written to `.gz`, the original removed), then the file renamed with a
/// timestamp and the runtime told to reopen it.
struct Kubelet {
    max_size: u64,
    max_files: usize,
    rotations: usize,
}

const KUBELET_CHECK: Duration = Duration::from_millis(100);

impl Kubelet {
    /// Rotates `c`'s file if it is past `max_size`, running `between` after the rename and
    /// before the runtime reopens the file; says whether it did.
    fn check(&mut self, root: &Path, c: &mut Container, between: impl FnOnce()) -> bool {
        let size = fs::metadata(c.file(root)).map_or(0, |m| m.len());
        if size < self.max_size {
            return false;
        }
        let prefix = format!("{}.log.", c.restarts);
        let mut rotated: Vec<PathBuf> = fs::read_dir(c.dir(root))
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| {
                let name = p.file_name().unwrap().to_string_lossy();
                name.starts_with(&prefix) && !name.ends_with(".tmp")
            })
            .collect();
        rotated.sort();
        let excess = rotated.len().saturating_sub(self.max_files - 2);
        for old in rotated.drain(..excess) {
            fs::remove_file(old).unwrap();
        }
        if let Some((_newest, older)) = rotated.split_last() {
            for old in older
                .iter()
                .filter(|p| !p.to_string_lossy().ends_with(".gz"))
            {
                // The bytes copied, not gzipped: nothing reads a `.gz`, what matters is that
                // the uncompressed file goes.
                let tmp = PathBuf::from(format!("{}.gz.tmp", old.display()));
                fs::copy(old, &tmp).unwrap();
                fs::rename(&tmp, format!("{}.gz", old.display())).unwrap();
                fs::remove_file(old).unwrap();
            }
        }
        c.rename_current(root);
        between();
        fs::File::create(c.file(root)).unwrap();
        self.rotations += 1;
        true
    }
}

/// Waits until the emulator holds as many entries as lines were written (then the account
/// tells lost from repeated), querying every half second: a query of 100,000 entries costs
/// the machine the agent runs on.
fn wait_delivered(node: &Node, agent: &Proc, phase: &str) {
    let want = node.expected.len();
    let mut last = 0;
    let arrived = wait_for(|| {
        last = container_entries(&node.emulator).len();
        if last < want {
            std::thread::sleep(Duration::from_millis(500));
        }
        last >= want
    });
    if !arrived {
        let log = agent.log();
        let tail: Vec<&str> = log.lines().rev().take(30).collect();
        eprintln!("{phase}: only {last} of {want} lines arrived; the agent's last lines:");
        for line in tail.iter().rev() {
            eprintln!("{line}");
        }
    }
}

/// The scenario's row of the torture table, by message (in the order written, per pod).
fn account(scenario: &str, node: &Node, proxy: &Proxy, peak_rss_mib: f64) -> Report {
    let mut expected: Vec<String> = node.expected.keys().cloned().collect();
    expected.sort_by_cached_key(|m| {
        let (container, n) = m.rsplit_once(" line ").unwrap();
        (container.to_owned(), n.parse::<usize>().unwrap())
    });
    let entries = container_entries(&node.emulator);
    tally(
        scenario,
        &entries,
        &expected,
        |e| Some(message_of(e)),
        proxy,
        peak_rss_mib,
    )
}

/// A small xorshift: the same kill times on every run.
fn next(seed: &mut u64) -> u64 {
    *seed ^= *seed << 13;
    *seed ^= *seed >> 7;
    *seed ^= *seed << 17;
    *seed
}

/// The agent as the DaemonSet runs it, killed -9 [`kills`] times 100–300 ms after it
/// started while 30 pods write, and started again from the positions on the node's disk; the
/// last one runs until every line arrived and stops cleanly.
#[test]
fn node_crash_loop_kill_9_loses_and_shows_nothing_twice() {
    let (api, mut node, proxy) = node();
    let mut load = Load::start(&mut node, &api, PODS);
    // Lines from before the first start (read_from_head).
    load.round(&mut node, 20);
    let per_round = 3 * scale();
    let kills = kills();
    let mut seed = 0x9e37_79b9_u64;
    let mut peak: f64 = 0.0;
    for k in 0..kills {
        let mut agent = node.start_agent(&format!("agent-{k}.log"));
        let alive = Duration::from_millis(100 + next(&mut seed) % 200);
        load.run_for(&mut node, per_round, alive);
        peak = peak.max(agent.peak_rss_mib());
        agent.kill();
        // Lines while no agent runs.
        load.round(&mut node, per_round);
    }
    let mut agent = node.start_agent("agent-last.log");
    load.run_for(&mut node, per_round, Duration::from_millis(500));
    wait_delivered(&node, &agent, "after the last start");
    peak = peak.max(agent.peak_rss_mib());
    let log = agent.stop("the last agent");
    let scenario = format!("node: {PODS} pods, {kills} × kill -9");
    account(&scenario, &node, &proxy, peak).print_and_check();
    node.assert_every_line_once(&log);
}

/// Kubelet rotating files under load (several rotations a second across the node, each
/// rotation compressing the one before), containers restarting into `N+1.log`, pods deleted
/// right after their last lines and new ones started, and the agent killed -9 once between a
/// rename and the runtime's reopen.
#[test]
fn node_kubelet_rotation_under_load_loses_and_shows_nothing_twice() {
    let (api, mut node, proxy) = node();
    let root = node.root().to_owned();
    let mut load = Load::start(&mut node, &api, PODS);
    let mut agent = node.start_agent("agent-1.log");
    for (c, _) in &load.pods {
        let file = fs::canonicalize(c.file(&root)).unwrap();
        wait_until("the agent to open every pod's file", || {
            has_open(agent.id(), &file)
        });
    }
    let mut kubelet = Kubelet {
        max_size: 32 * 1024,
        max_files: 5,
        rotations: 0,
    };
    let total = 60_000 * scale();
    // About 400 lines a second per container: a container rotates about once a second (every
    // 10 s at the most on a real node, past 10 MiB), several times a second on the node, and
    // a file may live at its path for less than the agent's refresh_interval (a new
    // container's first file included, while the agent runs or is down). At half this rate
    // two tailer bugs did not show; at this rate they lost 115–2,694 lines a run.
    let per_round = 6;
    let (mut restarts, mut killed, mut drained) = (0, false, false);
    let mut deleted = Vec::new();
    let mut peak: f64 = 0.0;
    let started = Instant::now();
    let mut last_check = Instant::now();
    while node.expected.len() < total {
        load.round(&mut node, per_round);
        std::thread::sleep(ROUND);
        if last_check.elapsed() < KUBELET_CHECK {
            continue;
        }
        last_check = Instant::now();
        let kill = !killed && node.expected.len() >= total / 2;
        if kill && !drained {
            // A pod's logs deleted before the agent shipped them and the agent killed
            // meanwhile: they are gone, whoever reads them. The kill waits until the
            // deleted pods' lines arrived, and no pod goes until it is done.
            wait_pods_delivered(&node, &deleted);
            drained = true;
        }
        for (c, _) in &mut load.pods {
            if kill && !killed {
                peak = peak.max(agent.peak_rss_mib());
                killed = kubelet.check(&root, c, || agent.kill());
                if killed {
                    agent = node.start_agent("agent-2.log");
                }
            } else {
                kubelet.check(&root, c, || {});
            }
        }
        // About every second a container restarts; every two a pod goes and one comes.
        let seconds = started.elapsed().as_secs() as usize;
        if seconds > restarts {
            let (c, next) = &mut load.pods[(restarts * 7 + 3) % PODS];
            c.restart(&root);
            *next = 0;
            restarts += 1;
        }
        if seconds / 2 > deleted.len() && !kill {
            deleted.push(load.delete(deleted.len() % 5, &mut node, &api, &agent));
            load.add(&mut node, &api);
        }
    }
    assert!(killed, "the agent was killed mid-rotation");
    wait_delivered(&node, &agent, "after the load");
    peak = peak.max(agent.peak_rss_mib());
    let log = agent.stop("the agent");
    let scenario = format!(
        "node: {} rotations, {restarts} restarts, {} pods deleted, 1 × kill -9",
        kubelet.rotations,
        deleted.len()
    );
    account(&scenario, &node, &proxy, peak).print_and_check();
    node.assert_every_line_once(&log);
}

/// The API server down for 5 s (scaled from a minute) while pods write, new pods start and
/// known ones are deleted: nothing waits for it (every line arrives while it is still down),
/// the known pods' lines keep their labels, and once it is back the new pods' lines get theirs.
#[test]
fn node_api_server_down_holds_nothing_back_and_keeps_known_labels() {
    let (api, mut node, proxy) = node();
    let mut load = Load::start(&mut node, &api, PODS);
    let mut agent = node.start_agent("agent.log");
    let per_round = 2 * scale();
    load.run_for(&mut node, per_round, Duration::from_secs(1));

    api.go_down();
    let lists = api.lists("pods");
    let mut born_in_outage = Vec::new();
    for _ in 0..5 {
        load.run_for(&mut node, per_round, Duration::from_millis(500));
        let i = load.add(&mut node, &api);
        let pod = load.pods[i].0.pod;
        node.expect_apps(pod, &[None, Some(APP)]);
        born_in_outage.push(pod);
        load.delete(0, &mut node, &api, &agent);
    }
    load.run_for(&mut node, per_round, Duration::from_millis(2500));
    wait_delivered(&node, &agent, "with the API server down");
    let held_back = node.expected.len() - container_entries(&node.emulator).len();
    assert_eq!(held_back, 0, "lines held back while the API server is down");

    api.come_back();
    wait_until("the agent to list the pods again", || {
        api.lists("pods") > lists
    });
    load.add(&mut node, &api);
    // Until the agent has listed them, the new pods' lines go on without their labels; once
    // one arrives with them, every next one has them.
    let mut missing = born_in_outage.clone();
    let deadline = Instant::now() + DEADLINE;
    while !missing.is_empty() {
        assert!(
            Instant::now() < deadline,
            "no line of {missing:?} arrived labelled after the API server came back\n{}",
            agent.log()
        );
        load.run_for(&mut node, per_round, Duration::from_millis(100));
        missing.retain(|pod| {
            let labelled =
                format!(r#"resource.labels.pod_name="{pod}" AND labels."k8s-pod/app"="{APP}""#);
            query(&node.emulator, PROJECT, &labelled).is_empty()
        });
    }
    for pod in born_in_outage {
        node.expect_apps(pod, &[Some(APP)]);
    }
    load.run_for(&mut node, per_round, Duration::from_secs(1));
    wait_delivered(&node, &agent, "at the end");
    let peak = agent.peak_rss_mib();
    let log = agent.stop("the agent");
    let scenario = format!("node: API server down 5 s, {PODS} pods, 5 born and 5 deleted in it");
    account(&scenario, &node, &proxy, peak).print_and_check();
    node.assert_every_line_once(&log);
}
