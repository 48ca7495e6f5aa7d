//! A child process that takes its children with it: it runs in a process
//! group of its own, and dropping the guard ends the whole group (SIGTERM,
//! then SIGKILL), so nothing a test starts outlives it, even when the child
//! itself would leave a grandchild behind (`vtrain-deploy fork` killed with
//! SIGKILL leaves its anvil running).

use std::os::unix::process::CommandExt;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

/// A running process group, ended on drop.
pub struct ProcessGroup {
    child: Child,
}

impl ProcessGroup {
    /// Spawns `command` as the leader of a new process group.
    pub fn spawn(mut command: Command) -> std::io::Result<Self> {
        let child = command.process_group(0).spawn()?;
        Ok(Self { child })
    }

    /// The group id (the leader's pid).
    pub fn id(&self) -> u32 {
        self.child.id()
    }

    /// Ends every process of the group: SIGTERM (a clean shutdown), then
    /// SIGKILL for whatever is still there after five seconds.
    pub fn end(&mut self) {
        let group = self.id();
        signal_group("TERM", group);
        let start = Instant::now();
        while !members(group).is_empty() && start.elapsed() < Duration::from_secs(5) {
            let _ = self.child.try_wait();
            std::thread::sleep(Duration::from_millis(50));
        }
        signal_group("KILL", group);
        let _ = self.child.wait();
    }
}

impl Drop for ProcessGroup {
    fn drop(&mut self) {
        self.end();
    }
}

fn signal_group(signal: &str, group: u32) {
    let _ = Command::new("kill")
        .args([format!("-{signal}"), "--".into(), format!("-{group}")])
        .status();
}

/// The live processes (not zombies) of process group `group`, from /proc.
pub fn members(group: u32) -> Vec<u32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(|entry| {
            let pid: u32 = entry.ok()?.file_name().to_str()?.parse().ok()?;
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
            // `pid (comm) state ppid pgrp …`; comm may hold spaces or parentheses.
            let mut fields = stat.get(stat.rfind(')')? + 2..)?.split(' ');
            let state = fields.next()?;
            let pgrp: u32 = fields.nth(1)?.parse().ok()?;
            (pgrp == group && state != "Z").then_some(pid)
        })
        .collect()
}
