//! A development PostgreSQL, run from the server binaries installed on the machine.
//!
//! `ec dev` uses this when no `DATABASE_URL` is given: it creates a cluster with `initdb` on first use, starts
//! it with `pg_ctl` on a loopback port, and stops it on exit. The data directory survives between runs, so the
//! platform finds its data again. PostgreSQL refuses to run as root; when we are root (containers, CI) every
//! server command runs as the `postgres` OS user through `runuser`, and the data directory belongs to it.
//!
//! The cluster trusts local connections (no password): it listens on 127.0.0.1 only and is for development.

use std::{
    ffi::OsStr,
    fs,
    path::{Path, PathBuf},
    process::{Command, Output},
};

/// Name of the database the platform uses inside the embedded cluster.
pub const DATABASE: &str = "ec";

/// Why the embedded PostgreSQL could not be used.
#[derive(Debug, thiserror::Error)]
pub enum EmbeddedPgError {
    #[error(
        "PostgreSQL server binaries (initdb, pg_ctl) were not found.\n\
         Either install them (Debian/Ubuntu: apt-get install postgresql; Fedora: dnf install postgresql-server; \
         macOS: brew install postgresql@16) and, if they are not on PATH, set PG_BIN_DIR to their directory; \
         or set DATABASE_URL to use a PostgreSQL server that is already running."
    )]
    BinariesNotFound,
    #[error(
        "running as root, so PostgreSQL must run as the 'postgres' OS user, but that user does not exist.\n\
         Create it (useradd --system postgres), run ec as an ordinary user, or set DATABASE_URL."
    )]
    NoPostgresUser,
    #[error(
        "the 'postgres' OS user cannot write to {0}.\n\
         Choose a data directory it can reach with --pg-data-dir (for example /var/tmp/ec-postgres), or set \
         DATABASE_URL."
    )]
    DataDirNotWritable(PathBuf),
    #[error("cannot prepare {path}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("`{command}` failed: {detail}")]
    Command { command: String, detail: String },
}

/// Where the cluster lives and how it is reached.
#[derive(Clone, Debug, clap::Args)]
pub struct EmbeddedPgArgs {
    /// Directory of the embedded PostgreSQL (cluster in `data/`, server log in `postgres.log`). Kept between
    /// runs.
    #[arg(id = "pg_data_dir", long = "pg-data-dir", env = "EC_PG_DATA_DIR", default_value = ".ec/postgres")]
    pub data_dir: PathBuf,

    /// Loopback port of the embedded PostgreSQL.
    #[arg(id = "pg_port", long = "pg-port", env = "EC_PG_PORT", default_value_t = 54320)]
    pub port: u16,

    /// Directory holding initdb and pg_ctl. Searched for when unset: PATH, `pg_config --bindir`, then
    /// /usr/lib/postgresql/<newest>/bin.
    #[arg(id = "pg_bin_dir", long = "pg-bin-dir", env = "PG_BIN_DIR")]
    pub bin_dir: Option<PathBuf>,
}

/// A running cluster. Stopped by [`EmbeddedPostgres::stop`] or, failing that, when dropped.
#[derive(Debug)]
pub struct EmbeddedPostgres {
    bin_dir: PathBuf,
    root: PathBuf,
    port: u16,
    as_postgres_user: bool,
    running: bool,
}

impl EmbeddedPostgres {
    /// Initialises the cluster if it does not exist yet and starts it. Blocking: run it off the async runtime.
    pub fn start(args: &EmbeddedPgArgs) -> Result<Self, EmbeddedPgError> {
        let bin_dir = find_binaries(args.bin_dir.as_deref())?;
        let as_postgres_user = running_as_root();
        if as_postgres_user && !user_exists("postgres") {
            return Err(EmbeddedPgError::NoPostgresUser);
        }
        let root = absolute(&args.data_dir)?;
        let mut pg = Self { bin_dir, root, port: args.port, as_postgres_user, running: false };
        pg.prepare_directories()?;
        if !pg.data_dir().join("PG_VERSION").exists() {
            tracing::info!(dir = %pg.data_dir().display(), "creating the embedded PostgreSQL cluster");
            pg.run_server_tool(
                "initdb",
                [
                    "-D".as_ref(),
                    pg.data_dir().as_os_str(),
                    "-U".as_ref(),
                    "postgres".as_ref(),
                    "--auth=trust".as_ref(),
                    "-E".as_ref(),
                    "UTF8".as_ref(),
                    "--no-locale".as_ref(),
                ],
            )?;
        }
        // random_page_cost: the data is on SSD or in memory, as PostgreSQL's documentation suggests lowering it
        // for. At the default (4, a spinning disk's), generic plans for lookups by a list of keys
        // (`id = ANY($1)`) scan a table of a thousand SKUs whole instead of probing its primary key
        // (docs/performance.md, "Checkout under load"). A production server is tuned the same way.
        let options = format!(
            "-p {} -c listen_addresses=127.0.0.1 -k {} -c random_page_cost=1.1",
            pg.port,
            pg.socket_dir().display()
        );
        pg.run_server_tool(
            "pg_ctl",
            [
                "-D".as_ref(),
                pg.data_dir().as_os_str(),
                "-l".as_ref(),
                pg.root.join("postgres.log").as_os_str(),
                "-o".as_ref(),
                options.as_ref(),
                "-w".as_ref(),
                "-t".as_ref(),
                "60".as_ref(),
                "start".as_ref(),
            ],
        )?;
        pg.running = true;
        tracing::info!(port = pg.port, dir = %pg.root.display(), "embedded PostgreSQL started");
        Ok(pg)
    }

    /// URL of the platform's database.
    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{DATABASE}", self.port)
    }

    /// The cluster's data directory.
    pub fn data_dir(&self) -> PathBuf {
        self.root.join("data")
    }

    fn socket_dir(&self) -> PathBuf {
        self.root.join("run")
    }

    /// Stops the server, waiting for it to exit (fast mode: open sessions are ended, data is flushed).
    pub fn stop(&mut self) -> Result<(), EmbeddedPgError> {
        if !self.running {
            return Ok(());
        }
        self.running = false;
        self.run_server_tool(
            "pg_ctl",
            [
                "-D".as_ref(),
                self.data_dir().as_os_str(),
                "-m".as_ref(),
                "fast".as_ref(),
                "-w".as_ref(),
                "stop".as_ref(),
            ],
        )?;
        tracing::info!("embedded PostgreSQL stopped");
        Ok(())
    }

    fn prepare_directories(&self) -> Result<(), EmbeddedPgError> {
        for dir in [self.root.clone(), self.data_dir(), self.socket_dir()] {
            fs::create_dir_all(&dir).map_err(|source| EmbeddedPgError::Io { path: dir.clone(), source })?;
        }
        if self.as_postgres_user {
            run(Command::new("chown").arg("-R").arg("postgres:postgres").arg(&self.root))?;
            let writable = Command::new("runuser")
                .args(["-u", "postgres", "--", "test", "-w"])
                .arg(self.data_dir())
                .status()
                .is_ok_and(|s| s.success());
            if !writable {
                return Err(EmbeddedPgError::DataDirNotWritable(self.root.clone()));
            }
        }
        // initdb insists on an empty or absent directory with owner-only permissions.
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let data = self.data_dir();
            fs::set_permissions(&data, fs::Permissions::from_mode(0o700))
                .map_err(|source| EmbeddedPgError::Io { path: data, source })?;
        }
        Ok(())
    }

    fn run_server_tool<I, S>(&self, tool: &str, args: I) -> Result<Output, EmbeddedPgError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let program = self.bin_dir.join(tool);
        let mut command = if self.as_postgres_user {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(program);
            c
        } else {
            Command::new(program)
        };
        command.args(args);
        run(&mut command)
    }
}

impl Drop for EmbeddedPostgres {
    fn drop(&mut self) {
        if let Err(e) = self.stop() {
            tracing::error!(error = %e, "could not stop the embedded PostgreSQL");
        }
    }
}

fn run(command: &mut Command) -> Result<Output, EmbeddedPgError> {
    let described = format!("{command:?}").replace('"', "");
    let output =
        command.output().map_err(|e| EmbeddedPgError::Command { command: described.clone(), detail: e.to_string() })?;
    if !output.status.success() {
        return Err(EmbeddedPgError::Command {
            command: described,
            detail: format!(
                "{}\n{}{}",
                output.status,
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            ),
        });
    }
    Ok(output)
}

fn absolute(path: &Path) -> Result<PathBuf, EmbeddedPgError> {
    std::path::absolute(path).map_err(|source| EmbeddedPgError::Io { path: path.to_owned(), source })
}

/// Finds a directory holding both `initdb` and `pg_ctl`.
pub fn find_binaries(explicit: Option<&Path>) -> Result<PathBuf, EmbeddedPgError> {
    let has_tools = |dir: &Path| dir.join("initdb").is_file() && dir.join("pg_ctl").is_file();
    if let Some(dir) = explicit {
        return if has_tools(dir) { Ok(dir.to_owned()) } else { Err(EmbeddedPgError::BinariesNotFound) };
    }
    let on_path =
        std::env::var_os("PATH").map(|paths| std::env::split_paths(&paths).collect::<Vec<_>>()).unwrap_or_default();
    let from_pg_config = Command::new("pg_config")
        .arg("--bindir")
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| PathBuf::from(String::from_utf8_lossy(&o.stdout).trim()));
    // Debian and Ubuntu install server binaries off PATH, one directory per major version.
    let mut debian: Vec<(u32, PathBuf)> = fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let version = entry.file_name().to_str()?.parse().ok()?;
            Some((version, entry.path().join("bin")))
        })
        .collect();
    debian.sort_by_key(|(version, _)| std::cmp::Reverse(*version));

    on_path
        .into_iter()
        .chain(from_pg_config)
        .chain(debian.into_iter().map(|(_, dir)| dir))
        .find(|dir| has_tools(dir))
        .ok_or(EmbeddedPgError::BinariesNotFound)
}

fn running_as_root() -> bool {
    Command::new("id").arg("-u").output().is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

fn user_exists(name: &str) -> bool {
    Command::new("id").arg("-u").arg(name).output().is_ok_and(|o| o.status.success())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_explicit_directory_without_the_tools_is_reported_with_install_advice() {
        let err = find_binaries(Some(Path::new("/nonexistent"))).unwrap_err();
        let message = err.to_string();
        assert!(message.contains("apt-get install postgresql"), "{message}");
        assert!(message.contains("DATABASE_URL"), "{message}");
    }
}
