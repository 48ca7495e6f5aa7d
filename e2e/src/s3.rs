//! A real S3-compatible server for the agents' stores: `s3s-fs`, which
//! `scripts/s3s.sh` installs into `.tools/s3s/bin`, keeping each bucket as a
//! folder and each object as a file in it.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::agent::free_port;

/// The `s3s-fs` binary: `$VTRAIN_S3S_FS`, else the checkout's
/// `.tools/s3s/bin/s3s-fs`.
pub fn s3s_fs_binary() -> PathBuf {
    let path = std::env::var_os("VTRAIN_S3S_FS").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../.tools/s3s/bin/s3s-fs"),
        PathBuf::from,
    );
    assert!(
        path.exists(),
        "{} is missing: run scripts/setup.sh (it calls scripts/s3s.sh), or point VTRAIN_S3S_FS at an s3s-fs binary",
        path.display()
    );
    path
}

/// An `s3s-fs` server on a free port of 127.0.0.1 with one bucket and one
/// access key, its data under a folder of the test; killed on drop.
pub struct S3Server {
    child: Child,
    data: PathBuf,
    bucket: String,
    endpoint: String,
    access_key: String,
    secret_key: String,
    log: PathBuf,
}

impl S3Server {
    /// Starts the server with its data in `dir/data` (bucket `bucket` is the
    /// folder `dir/data/<bucket>`) and its log at `dir/s3s-fs.log`; returns
    /// once it accepts connections.
    pub fn start(dir: &Path, bucket: &str) -> Self {
        let data = dir.join("data");
        std::fs::create_dir_all(data.join(bucket)).expect("the bucket's folder");
        let log = dir.join("s3s-fs.log");
        let port = free_port();
        // A secret no log could contain by chance, so that a test can look
        // for it.
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        let secret_key = format!("e2e-secret-{nanos:x}-{}", std::process::id());
        let access_key = "vtrain-e2e".to_owned();
        let out = std::fs::File::create(&log).expect("s3s-fs log");
        let child = Command::new(s3s_fs_binary())
            .args(["--host", "127.0.0.1", "--port", &port.to_string()])
            .args(["--access-key", &access_key, "--secret-key", &secret_key])
            .arg(&data)
            .env("RUST_LOG", "s3s_fs=info,s3s=warn")
            .stdin(Stdio::null())
            .stdout(out.try_clone().expect("log handle"))
            .stderr(out)
            .spawn()
            .expect("s3s-fs starts");
        let mut server = Self {
            child,
            data,
            bucket: bucket.to_owned(),
            endpoint: format!("http://127.0.0.1:{port}"),
            access_key,
            secret_key,
            log,
        };
        server.wait_listening(port);
        server
    }

    fn wait_listening(&mut self, port: u16) {
        let start = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("s3s-fs exited ({status}):\n{}", self.log());
            }
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "s3s-fs did not listen on {port} within 20 s:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// `s3://<bucket>/<prefix>`: a store location for `--store`.
    pub fn url(&self, prefix: &str) -> String {
        format!("s3://{}/{prefix}", self.bucket)
    }

    /// The environment an agent reaches the server with: the variables
    /// object_store's `AmazonS3Builder::from_env` reads.
    pub fn env(&self) -> Vec<(String, String)> {
        [
            ("AWS_ACCESS_KEY_ID", self.access_key.as_str()),
            ("AWS_SECRET_ACCESS_KEY", self.secret_key.as_str()),
            ("AWS_ENDPOINT_URL", self.endpoint.as_str()),
            ("AWS_REGION", "us-east-1"),
            // A local server without TLS.
            ("AWS_ALLOW_HTTP", "true"),
        ]
        .into_iter()
        .map(|(key, value)| (key.to_owned(), value.to_owned()))
        .collect()
    }

    /// The secret access key (which no agent may log).
    pub fn secret_key(&self) -> &str {
        &self.secret_key
    }

    /// The file that holds object `key` of the bucket (`prefix/states/…`).
    pub fn object_file(&self, key: &str) -> PathBuf {
        self.data.join(&self.bucket).join(key)
    }

    /// The server's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for S3Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
