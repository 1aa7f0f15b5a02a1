//! Model-based test of the tailer: random sequences of appends, rename rotations,
//! copytruncates, polls with in-order and out-of-order acknowledgements, graceful restarts and
//! crashes. Whatever happens, the acknowledged output must be exactly the appended lines, in
//! order, each once.

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use proptest::prelude::*;
use tail::{Chunk, PathSpec, TailConfig, Tailer};

#[derive(Debug, Clone)]
enum Action {
    Append(usize),
    /// Writes half a line; the next append completes it.
    AppendHalf,
    Poll {
        ack: bool,
        reverse: bool,
    },
    Rotate,
    /// Rename only: the writer creates the new file with its next line.
    RotateLazily,
    CopyTruncate,
    Restart,
    Crash,
}

fn action() -> impl Strategy<Value = Action> {
    prop_oneof![
        4 => (1usize..40).prop_map(Action::Append),
        1 => Just(Action::AppendHalf),
        4 => (any::<bool>(), any::<bool>()).prop_map(|(ack, reverse)| Action::Poll { ack, reverse }),
        1 => Just(Action::Rotate),
        1 => Just(Action::RotateLazily),
        1 => Just(Action::CopyTruncate),
        1 => Just(Action::Restart),
        1 => Just(Action::Crash),
    ]
}

struct Harness {
    _dir: tempfile::TempDir,
    /// The file the writer appends to.
    log: PathBuf,
    /// The path the tailer follows: `log` itself, or a symlink to it (kubelet's
    /// `/var/log/containers/*.log`, whose target is renamed by rotation).
    followed: PathBuf,
    pos: PathBuf,
    tailer: Tailer,
    /// Chunks handed out and not yet acknowledged, with their delivery number.
    inflight: Vec<(u64, Chunk)>,
    delivered: Vec<(u64, String)>,
    deliveries: u64,
    expected: Vec<String>,
    next_line: u64,
    half_open: bool,
    rotations: u32,
    /// The tailer has not looked at the current file yet. A file renamed away before the
    /// tailer ever saw it cannot be found (fluentd has the same limit), so the model polls
    /// first; the agent polls every few milliseconds.
    rotated_since_poll: bool,
    /// The current tailer has polled while the log existed, so it follows a file at the path.
    tracking: bool,
}

impl Harness {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("app.log");
        Self::with(dir, log.clone(), log)
    }

    /// The node layout: the tailer follows `containers/app.log`, a symlink to
    /// `pods/ns_pod_uid/app/0.log`, which rotation renames to `0.log.N` beside it.
    fn linked() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let pods = dir.path().join("pods/ns_pod_uid/app");
        let containers = dir.path().join("containers");
        fs::create_dir_all(&pods).unwrap();
        fs::create_dir_all(&containers).unwrap();
        let log = pods.join("0.log");
        let followed = containers.join("app.log");
        std::os::unix::fs::symlink(&log, &followed).unwrap();
        Self::with(dir, log, followed)
    }

    fn with(dir: tempfile::TempDir, log: PathBuf, followed: PathBuf) -> Self {
        let pos = dir.path().join("app.log.pos");
        let tailer = Self::tailer(&followed, &pos);
        Self {
            _dir: dir,
            log,
            followed,
            pos,
            tailer,
            inflight: Vec::new(),
            delivered: Vec::new(),
            deliveries: 0,
            expected: Vec::new(),
            next_line: 0,
            half_open: false,
            rotations: 0,
            rotated_since_poll: true,
            tracking: false,
        }
    }

    fn tailer(log: &std::path::Path, pos: &std::path::Path) -> Tailer {
        let spec = PathSpec::new(vec![log.display().to_string()], &[]).unwrap();
        let mut cfg = TailConfig::new(spec);
        cfg.pos_file = Some(pos.to_path_buf());
        cfg.rotate_wait = Duration::ZERO;
        cfg.read_size = 97; // small reads exercise lines split across reads
        Tailer::new(cfg, Instant::now()).unwrap()
    }

    fn write(&mut self, text: &str) {
        if !self.log.exists() {
            self.rotated_since_poll = true;
        }
        let mut file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .unwrap();
        file.write_all(text.as_bytes()).unwrap();
    }

    fn append(&mut self, n: usize) {
        let mut text = String::new();
        if self.half_open {
            text.push_str("end\n");
            self.half_open = false;
        }
        for _ in 0..n {
            let line = format!(
                "line {} {}",
                self.next_line,
                "x".repeat((self.next_line % 13) as usize)
            );
            self.next_line += 1;
            text.push_str(&line);
            text.push('\n');
            self.expected.push(line);
        }
        self.write(&text);
    }

    fn append_half(&mut self) {
        if self.half_open {
            return;
        }
        let line = format!("half {} ", self.next_line);
        self.next_line += 1;
        self.write(&line);
        self.expected.push(format!("{line}end"));
        self.half_open = true;
    }

    fn poll(&mut self, ack: bool, reverse: bool) {
        self.rotated_since_poll = false;
        self.tracking |= self.log.exists();
        for chunk in self.tailer.poll(Instant::now()) {
            self.deliveries += 1;
            self.inflight.push((self.deliveries, chunk));
        }
        if ack {
            self.ack_all(reverse);
        }
        // The agent persists after every poll that changed something (here: new files).
        self.tailer.persist().unwrap();
    }

    fn ack_all(&mut self, reverse: bool) {
        let mut inflight = std::mem::take(&mut self.inflight);
        if reverse {
            inflight.reverse();
        }
        for (number, chunk) in inflight {
            self.tailer.ack(chunk.file, chunk.seq, chunk.end());
            let text = String::from_utf8(chunk.data.to_vec()).unwrap();
            for line in text.split_terminator('\n') {
                self.delivered.push((number, line.to_string()));
            }
        }
        self.tailer.persist().unwrap();
    }

    /// Polls until every file is read to its end and every chunk is acknowledged.
    fn catch_up(&mut self) {
        for _ in 0..10_000 {
            self.poll(true, false);
            if self.tailer.caught_up() && self.tailer.open_files() <= 1 {
                return;
            }
        }
        panic!("tailer never caught up");
    }

    fn rotate(&mut self, create: bool) {
        // Only a file the tailer never saw at all needs a poll first; several rotations
        // between two polls are found by the sibling scan.
        if !self.tracking {
            self.poll(false, false);
        }
        // A writer finishes its line before it reopens the file.
        if self.half_open || !self.log.exists() {
            self.append(0);
        }
        self.rotations += 1;
        let to = self.log.with_extension(format!("log.{}", self.rotations));
        fs::rename(&self.log, to).unwrap();
        if create {
            fs::File::create(&self.log).unwrap();
        }
        self.rotated_since_poll = true;
    }

    fn copytruncate(&mut self) {
        // copytruncate loses what was written after the last read; the agent is assumed to
        // have caught up (the README documents the window).
        if self.half_open {
            self.append(0);
        }
        if !self.log.exists() {
            return;
        }
        self.catch_up();
        self.rotations += 1;
        // The copy is named apart from the log: a rename rotation makes the tailer look for
        // missed rotations among `app.log*` siblings written since, and a copy left there by
        // copytruncate would look like one (mixing both methods on one path is unsupported).
        let copy = self
            .log
            .with_file_name(format!("copied-{}", self.rotations));
        fs::copy(&self.log, copy).unwrap();
        fs::OpenOptions::new()
            .write(true)
            .truncate(true)
            .open(&self.log)
            .unwrap();
        // A truncation followed by more writing than was read, all while the agent is down,
        // cannot be told apart from growth in general; the agent looks before it stops.
        self.rotated_since_poll = true;
    }

    fn restart(&mut self, crash: bool) {
        if self.rotated_since_poll {
            self.poll(false, false);
        }
        if crash {
            self.inflight.clear();
        } else {
            self.ack_all(false);
        }
        self.tailer = Self::tailer(&self.followed, &self.pos);
        self.rotated_since_poll = true;
        self.tracking = false;
    }

    fn finish(mut self) -> (Vec<String>, Vec<String>) {
        if self.half_open {
            self.append(0);
        }
        self.catch_up();
        self.delivered.sort_by_key(|(number, _)| *number);
        let got = self.delivered.into_iter().map(|(_, line)| line).collect();
        (got, self.expected)
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn acknowledged_output_equals_appended_lines(actions in proptest::collection::vec(action(), 1..40)) {
        check(Harness::new(), actions)?;
    }

    #[test]
    fn through_a_symlink_whose_target_rotates_too(actions in proptest::collection::vec(action(), 1..40)) {
        check(Harness::linked(), actions)?;
    }
}

fn check(mut h: Harness, actions: Vec<Action>) -> Result<(), TestCaseError> {
    {
        for action in actions {
            match action {
                Action::Append(n) => h.append(n),
                Action::AppendHalf => h.append_half(),
                Action::Poll { ack, reverse } => h.poll(ack, reverse),
                Action::Rotate => h.rotate(true),
                Action::RotateLazily => h.rotate(false),
                Action::CopyTruncate => h.copytruncate(),
                Action::Restart => h.restart(false),
                Action::Crash => h.restart(true),
            }
        }
        let (got, expected) = h.finish();
        if got != expected {
            let missing: Vec<&String> = expected.iter().filter(|l| !got.contains(l)).collect();
            let mut seen = std::collections::HashSet::new();
            let repeated: Vec<&String> = got.iter().filter(|l| !seen.insert(*l)).collect();
            prop_assert!(
                false,
                "missing {:?}, repeated {:?}, out of order: {}",
                missing,
                repeated,
                missing.is_empty() && repeated.is_empty()
            );
        }
    }
    Ok(())
}

/// A file quiet for a while is looked at less often than every poll (at most a second apart),
/// a busy one on every poll, and every file on every poll while the agent drains.
#[test]
fn an_idle_file_is_looked_at_less_often_and_every_poll_when_eager() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("app.log");
    fs::write(&log, "first\n").unwrap();
    let spec = PathSpec::new(vec![log.display().to_string()], &[]).unwrap();
    let t0 = Instant::now();
    let mut tailer = Tailer::new(TailConfig::new(spec), t0).unwrap();
    let at = |ms: u64| t0 + Duration::from_millis(ms);
    let lines = |chunks: Vec<tail::Chunk>| -> String {
        chunks
            .iter()
            .map(|c| String::from_utf8_lossy(&c.data).into_owned())
            .collect()
    };
    assert_eq!(lines(tailer.poll(at(0))), "first\n");
    // Quiet for a moment: still looked at on every poll.
    tailer.poll(at(100));
    fs::write(&log, "first\nsecond\n").unwrap();
    assert_eq!(lines(tailer.poll(at(200))), "second\n");
    // Quiet for two seconds: the next look is half a second later.
    tailer.poll(at(300));
    tailer.poll(at(2_300));
    let mut file = OpenOptions::new().append(true).open(&log).unwrap();
    file.write_all(b"third\n").unwrap();
    assert_eq!(lines(tailer.poll(at(2_400))), "", "skipped: idle");
    assert!(
        tailer.caught_up(),
        "a skipped idle file counts as at its end"
    );
    assert_eq!(lines(tailer.poll(at(2_800))), "third\n");
    // Busy again: every poll.
    file.write_all(b"fourth\n").unwrap();
    assert_eq!(lines(tailer.poll(at(2_850))), "fourth\n");
    // Idle again, and draining: every poll looks.
    tailer.poll(at(2_900));
    tailer.poll(at(6_900));
    file.write_all(b"fifth\n").unwrap();
    assert_eq!(lines(tailer.poll(at(6_950))), "");
    tailer.set_eager(true);
    assert_eq!(lines(tailer.poll(at(6_960))), "fifth\n");
}
