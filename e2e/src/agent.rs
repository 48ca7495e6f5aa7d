//! Running the shipped binaries as processes.

use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};

/// The binary `name` that cargo built next to this test executable.
pub fn binary(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("the executable's path");
    // A test runs from target/<profile>/deps/, a binary from target/<profile>/.
    let mut dir = exe.parent().expect("the executable's folder");
    if dir.ends_with("deps") {
        dir = dir.parent().unwrap_or(dir);
    }
    let path = dir.join(name);
    assert!(
        path.exists(),
        "{} is missing: build the workspace's binaries first (cargo build --bins)",
        path.display()
    );
    path
}

/// The lowest port [`free_port`] hands out.
const PORTS_FROM: u16 = 10_000;

/// A free TCP port on 127.0.0.1 for a process to listen on: checked by
/// binding it, then released for the process to take.
///
/// It is drawn at random from below the kernel's ephemeral range
/// (`net.ipv4.ip_local_port_range`, 32768–60999 by default), not asked of the
/// kernel with port 0. A port-0 port is an ephemeral one, and between its
/// release and the process's bind every outgoing connection of every test
/// running beside it (agents poll anvil many times a second) may take it as
/// its local port: the agent then fails to listen and exits, and its test
/// waits for a watchtower that is not there. Below that range only another
/// listener can collide, and a random draw over some 20,000 ports, never the
/// same twice in one test process, makes that rare.
pub fn free_port() -> u16 {
    use std::hash::{BuildHasher, Hasher};
    static GIVEN: std::sync::Mutex<Vec<u16>> = std::sync::Mutex::new(Vec::new());
    let below = ephemeral_start().saturating_sub(1).max(PORTS_FROM + 1_000);
    let span = u64::from(below - PORTS_FROM);
    let mut given = GIVEN
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let seed = std::collections::hash_map::RandomState::new()
        .build_hasher()
        .finish();
    for attempt in 0..span {
        let port = PORTS_FROM + ((seed.wrapping_add(attempt.wrapping_mul(7_919))) % span) as u16;
        if given.contains(&port) {
            continue;
        }
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            given.push(port);
            return port;
        }
    }
    panic!("no free port between {PORTS_FROM} and {below}");
}

/// The first port of the kernel's ephemeral range (32768 if unreadable).
fn ephemeral_start() -> u16 {
    std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|text| text.split_whitespace().next()?.parse().ok())
        .unwrap_or(32_768)
}

/// A running agent binary, restartable, killed with SIGKILL on drop.
pub struct Agent {
    program: PathBuf,
    args: Vec<String>,
    envs: Vec<(String, String)>,
    log: PathBuf,
    child: Option<Child>,
}

impl Agent {
    /// Starts `program args…` with `envs`, appending its output to `log`.
    pub fn start(
        program: PathBuf,
        args: Vec<String>,
        envs: Vec<(String, String)>,
        log: PathBuf,
    ) -> Self {
        let mut agent = Self {
            program,
            args,
            envs,
            log,
            child: None,
        };
        agent.restart();
        agent
    }

    /// The URL of the agent's HTTP server (from its `--listen` flag).
    pub fn listen_url(&self) -> Option<String> {
        let at = self.args.iter().position(|a| a == "--listen")?;
        Some(format!("http://{}", self.args.get(at + 1)?))
    }

    /// (Re)starts the process.
    pub fn restart(&mut self) {
        assert!(self.child.is_none(), "already running");
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .expect("agent log");
        let child = Command::new(&self.program)
            .args(&self.args)
            .envs(self.envs.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .env("RUST_LOG", "info")
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log handle"))
            .stderr(log)
            .spawn()
            .expect("agent starts");
        self.child = Some(child);
    }

    /// `kill -9`: no chance to clean up.
    pub fn kill9(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// `kill -TERM` (what Ctrl-C or a service manager sends), then waits for
    /// the process to exit; returns how long that took.
    pub fn terminate(&mut self) -> std::time::Duration {
        let start = std::time::Instant::now();
        if let Some(mut child) = self.child.take() {
            let _ = Command::new("kill")
                .args(["-TERM", &child.id().to_string()])
                .status();
            let _ = child.wait();
        }
        start.elapsed()
    }

    /// The process id, while running.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// The log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// CPU seconds (user + system) the running process has used so far.
    pub fn cpu_seconds(&self) -> Option<f64> {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.pid()?)).ok()?;
        let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
        let ticks: f64 =
            fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
        Some(ticks / 100.0)
    }
}

/// How many lines of an agent's log a failing test prints.
const LOG_TAIL_LINES: usize = 80;

impl Drop for Agent {
    fn drop(&mut self) {
        self.kill9();
        // A failing test (a panic unwinds through here) prints the end of
        // each agent's log, so that a CI failure says what the agents did
        // (the test's folder, with the whole logs, is gone by then).
        if std::thread::panicking() {
            let log = self.log();
            let lines: Vec<&str> = log.lines().collect();
            let tail = &lines[lines.len().saturating_sub(LOG_TAIL_LINES)..];
            eprintln!(
                "--- the last {} lines of {} ---\n{}\n--- end of {} ---",
                tail.len(),
                self.log.display(),
                tail.join("\n"),
                self.log.display()
            );
        }
    }
}

/// Runs the `vtrain` CLI to completion.
pub fn run_cli(args: &[&str], envs: &[(&str, &str)]) -> Output {
    Command::new(binary("vtrain"))
        .args(args)
        .envs(envs.iter().copied())
        .env("NO_COLOR", "1")
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .output()
        .expect("vtrain runs")
}
