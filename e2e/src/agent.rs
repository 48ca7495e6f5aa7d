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

/// A free TCP port on 127.0.0.1 (bound and released).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
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
