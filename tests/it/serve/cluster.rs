//! A throwaway PostgreSQL cluster for the service's Postgres tests: `initdb` into a
//! temporary folder, `pg_ctl start` on a free loopback port (TCP on 127.0.0.1 only, its
//! socket in the same folder), stopped and removed when dropped. The binaries are found
//! on `PATH` or under `/usr/lib/postgresql/*/bin` (Debian's `postgresql` package, which
//! `.ci/run` installs); without them the test fails, it is never skipped. `initdb` and
//! the server refuse to run as root: as root, the cluster runs as the `postgres` user
//! (Debian's package creates it), through `runuser`.

use std::path::{Path, PathBuf};
use std::process::Command;

pub struct Cluster {
    dir: tempfile::TempDir,
    bin: PathBuf,
    port: u16,
    as_postgres: bool,
}

/// The folder holding `initdb` and `pg_ctl`.
fn bin_dir() -> PathBuf {
    let on_path = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .unwrap_or_default();
    let mut debian: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .map(|d| d.filter_map(Result::ok).map(|e| e.path().join("bin")).collect())
        .unwrap_or_default();
    // The newest version first (the folders are named by major version).
    debian.sort_by_key(|p| {
        let version = p
            .parent()
            .and_then(Path::file_name)
            .and_then(|n| n.to_str()?.parse::<u32>().ok());
        std::cmp::Reverse(version)
    });
    on_path
        .into_iter()
        .chain(debian)
        .find(|d| ["initdb", "pg_ctl", "createdb"].iter().all(|b| d.join(b).is_file()))
        .unwrap_or_else(|| {
            panic!(
                "PostgreSQL is not installed (no initdb, pg_ctl and createdb on PATH or under /usr/lib/postgresql/*/bin): \
                 these tests need it; install Debian's `postgresql` package (.ci/run does)"
            )
        })
}

fn is_root() -> bool {
    let out = Command::new("id").arg("-u").output().expect("run `id -u`");
    String::from_utf8_lossy(&out.stdout).trim() == "0"
}

impl Cluster {
    /// Creates and starts a cluster; panics (naming what failed) if it cannot.
    pub fn start() -> Cluster {
        let bin = bin_dir();
        let dir = tempfile::tempdir().unwrap();
        let as_postgres = is_root();
        if as_postgres {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
            let chown = Command::new("chown")
                .args(["-R", "postgres:postgres"])
                .arg(dir.path())
                .status()
                .unwrap();
            assert!(chown.success(), "chown to the postgres user failed (is there one?)");
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let cluster = Cluster {
            dir,
            bin,
            port,
            as_postgres,
        };
        let data = cluster.data();
        cluster.run(
            "initdb",
            &[
                "-D",
                &data,
                "-U",
                "postgres",
                "-A",
                "trust",
                "-E",
                "UTF8",
                "--locale=C",
                "--no-sync",
            ],
        );
        let options = format!(
            "-c listen_addresses=127.0.0.1 -p {port} -k {} -c fsync=off -c max_connections=100",
            cluster.dir.path().display()
        );
        let log = cluster.dir.path().join("server.log").display().to_string();
        cluster.run(
            "pg_ctl",
            &["-D", &data, "-l", &log, "-o", &options, "-w", "-t", "120", "start"],
        );
        cluster
    }

    fn data(&self) -> String {
        self.dir.path().join("data").display().to_string()
    }

    /// Runs one of the binaries (as the `postgres` user when we are root).
    fn run(&self, program: &str, args: &[&str]) {
        let path = self.bin.join(program);
        let mut command = if self.as_postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(&path);
            c
        } else {
            Command::new(&path)
        };
        let out = command.args(args).output().unwrap();
        assert!(
            out.status.success(),
            "{program} {args:?} failed:\n{}{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
            std::fs::read_to_string(self.dir.path().join("server.log")).unwrap_or_default()
        );
    }

    /// The URL of database `db` (created by [`Cluster::create_db`] or `postgres`).
    pub fn url(&self, db: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{db}", self.port)
    }

    /// Runs SQL in database `db` with psql (stops at the first error).
    pub fn psql(&self, db: &str, sql: &str) {
        let port = self.port.to_string();
        let args = [
            "-h",
            "127.0.0.1",
            "-p",
            &port,
            "-U",
            "postgres",
            "-v",
            "ON_ERROR_STOP=1",
            "-d",
            db,
            "-c",
            sql,
        ];
        self.run("psql", &args);
    }

    /// Creates an empty database.
    pub fn create_db(&self, name: &str) -> String {
        let port = self.port.to_string();
        self.run("createdb", &["-h", "127.0.0.1", "-p", &port, "-U", "postgres", name]);
        self.url(name)
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let data = self.data();
        let path = self.bin.join("pg_ctl");
        let mut command = if self.as_postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(&path);
            c
        } else {
            Command::new(&path)
        };
        let _ = command.args(["-D", &data, "-m", "immediate", "-w", "stop"]).output();
    }
}
