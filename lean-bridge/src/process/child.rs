//! One spawned Lean process: its own process group, an address-space limit, piped standard
//! streams, a bounded tail of its standard error, and a teardown that kills the whole group
//! and reaps the process.

use std::collections::VecDeque;
use std::process::{ExitStatus, Stdio};
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};
use tokio::task::JoinHandle;
use tokio::time::{sleep, timeout, Instant};

use super::discovery::LaunchCommand;
use super::error::{BackendKind, LeanProcessError};
use super::limits::{
    CRASH_EXIT_GRACE, CRASH_EXIT_POLL_INTERVAL, REAP_TIMEOUT, STDERR_DRAIN_TIMEOUT,
    STDERR_TAIL_BYTES,
};

/// A Lean process the process manager owns. Dropping it kills its process group.
pub(crate) struct ManagedChild {
    backend: BackendKind,
    child: Child,
    process_id: u32,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
    stderr_tail: Arc<Mutex<VecDeque<u8>>>,
    stderr_reader: Option<JoinHandle<()>>,
    exit_status: Option<Option<ExitStatus>>,
}

impl ManagedChild {
    /// Starts `launch` in a new process group with `address_space_limit_bytes` as its
    /// `RLIMIT_AS`. Must be called inside a tokio runtime.
    pub(crate) fn spawn(
        backend: BackendKind,
        launch: &LaunchCommand,
        address_space_limit_bytes: Option<u64>,
    ) -> Result<ManagedChild, LeanProcessError> {
        let spawn_failed = |source| LeanProcessError::SpawnFailed {
            backend,
            program: launch.program.clone(),
            source,
        };
        let mut command = Command::new(&launch.program);
        command
            .args(&launch.arguments)
            .current_dir(&launch.working_directory)
            .envs(launch.environment.iter().map(|(name, value)| (name, value)))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        #[cfg(unix)]
        {
            command.process_group(0);
            if let Some(limit_bytes) = address_space_limit_bytes {
                // SAFETY: the closure runs in the forked child before exec; it only calls
                // getrlimit and setrlimit, which are async-signal-safe, and allocates nothing.
                unsafe {
                    command.pre_exec(move || set_address_space_limit(limit_bytes));
                }
            }
        }
        #[cfg(not(unix))]
        let _ = address_space_limit_bytes;

        let mut child = command.spawn().map_err(spawn_failed)?;
        let missing_pipe = || {
            spawn_failed(std::io::Error::other(
                "the process's standard streams were not piped",
            ))
        };
        let process_id = child.id().ok_or_else(missing_pipe)?;
        let stdin = child.stdin.take().ok_or_else(missing_pipe)?;
        let stdout = child.stdout.take().ok_or_else(missing_pipe)?;
        let mut stderr = child.stderr.take().ok_or_else(missing_pipe)?;
        let stderr_tail = Arc::new(Mutex::new(VecDeque::with_capacity(STDERR_TAIL_BYTES)));
        let tail_for_reader = Arc::clone(&stderr_tail);
        let stderr_reader = tokio::spawn(async move {
            let mut chunk = vec![0u8; 4096];
            while let Ok(read) = stderr.read(&mut chunk).await {
                if read == 0 {
                    break;
                }
                if let Ok(mut tail) = tail_for_reader.lock() {
                    tail.extend(&chunk[..read]);
                    let excess = tail.len().saturating_sub(STDERR_TAIL_BYTES);
                    tail.drain(..excess);
                }
            }
        });
        Ok(ManagedChild {
            backend,
            child,
            process_id,
            stdin,
            stdout: BufReader::new(stdout),
            stderr_tail,
            stderr_reader: Some(stderr_reader),
            exit_status: None,
        })
    }

    pub(crate) fn process_id(&self) -> u32 {
        self.process_id
    }

    pub(crate) fn stdout(&mut self) -> &mut BufReader<ChildStdout> {
        &mut self.stdout
    }

    /// Writes and flushes `bytes` to the process's standard input. A closed pipe means the
    /// process is gone and is reported as a crash.
    pub(crate) async fn write_all(&mut self, bytes: &[u8]) -> Result<(), LeanProcessError> {
        let written = async {
            self.stdin.write_all(bytes).await?;
            self.stdin.flush().await
        }
        .await;
        match written {
            Ok(()) => Ok(()),
            Err(error) if error.kind() == std::io::ErrorKind::BrokenPipe => {
                Err(self.crash_error().await)
            }
            Err(source) => Err(LeanProcessError::Io {
                backend: self.backend,
                source,
            }),
        }
    }

    /// Whether the process has exited, without reaping it (so its process group id stays
    /// reserved until [`ManagedChild::kill_and_reap`]).
    pub(crate) fn has_exited(&self) -> bool {
        if self.exit_status.is_some() {
            return true;
        }
        peek_exited(self.process_id)
    }

    /// Builds the error for a process that closed its output or input unexpectedly: waits a
    /// moment for it to exit by itself, kills the group, reaps it and quotes its stderr.
    pub(crate) async fn crash_error(&mut self) -> LeanProcessError {
        let deadline = Instant::now() + CRASH_EXIT_GRACE;
        while !self.has_exited() && Instant::now() < deadline {
            sleep(CRASH_EXIT_POLL_INTERVAL).await;
        }
        let exit = match self.kill_and_reap().await {
            Some(status) => status.to_string(),
            None => "exit status unknown".to_owned(),
        };
        let stderr_tail = self.drain_stderr().await;
        LeanProcessError::Crashed {
            backend: self.backend,
            exit,
            stderr_tail,
        }
    }

    /// Kills the process group and reaps the process; returns its exit status when known.
    pub(crate) async fn kill_and_reap(&mut self) -> Option<ExitStatus> {
        if let Some(status) = self.exit_status {
            return status;
        }
        self.kill_group();
        let status = match timeout(REAP_TIMEOUT, self.child.wait()).await {
            Ok(Ok(status)) => Some(status),
            _ => None,
        };
        self.exit_status = Some(status);
        status
    }

    /// Kills the process group, reaps the process and stops the stderr reader.
    pub(crate) async fn shutdown(mut self) -> Option<ExitStatus> {
        let status = self.kill_and_reap().await;
        if let Some(reader) = self.stderr_reader.take() {
            reader.abort();
        }
        status
    }

    /// The last bytes the process wrote to standard error, as text.
    pub(crate) fn stderr_tail(&self) -> String {
        match self.stderr_tail.lock() {
            Ok(tail) => {
                let bytes: Vec<u8> = tail.iter().copied().collect();
                String::from_utf8_lossy(&bytes).trim().to_owned()
            }
            Err(_) => String::new(),
        }
    }

    async fn drain_stderr(&mut self) -> String {
        if let Some(reader) = self.stderr_reader.take() {
            let abort = reader.abort_handle();
            if timeout(STDERR_DRAIN_TIMEOUT, reader).await.is_err() {
                abort.abort();
            }
        }
        self.stderr_tail()
    }

    fn kill_group(&mut self) {
        if self.exit_status.is_some() {
            return;
        }
        #[cfg(unix)]
        if let Ok(process_group) = libc::pid_t::try_from(self.process_id) {
            // SAFETY: killpg has no memory-safety preconditions. The process is not reaped yet,
            // so its id still names the group it leads and cannot have been reused.
            unsafe {
                libc::killpg(process_group, libc::SIGKILL);
            }
        }
        let _ = self.child.start_kill();
    }
}

impl Drop for ManagedChild {
    fn drop(&mut self) {
        // The async paths reap; here the runtime's orphan reaper does (kill_on_drop).
        self.kill_group();
        if let Some(reader) = self.stderr_reader.take() {
            reader.abort();
        }
    }
}

#[cfg(unix)]
fn set_address_space_limit(limit_bytes: u64) -> std::io::Result<()> {
    let mut current = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes into the rlimit we own; setrlimit only reads it.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_AS, &mut current) != 0 {
            return Err(std::io::Error::last_os_error());
        }
        let limit = (limit_bytes as libc::rlim_t).min(current.rlim_max);
        let wanted = libc::rlimit {
            rlim_cur: limit,
            rlim_max: limit,
        };
        if libc::setrlimit(libc::RLIMIT_AS, &wanted) != 0 {
            return Err(std::io::Error::last_os_error());
        }
    }
    Ok(())
}

#[cfg(target_os = "linux")]
fn peek_exited(process_id: u32) -> bool {
    // SAFETY: siginfo_t is plain data for which all-zero is valid; waitid with WNOWAIT only
    // reports on our own child and leaves it unreaped.
    unsafe {
        let mut info: libc::siginfo_t = std::mem::zeroed();
        let status = libc::waitid(
            libc::P_PID,
            process_id,
            &mut info,
            libc::WEXITED | libc::WNOHANG | libc::WNOWAIT,
        );
        status == 0 && info.si_pid() != 0
    }
}

#[cfg(not(target_os = "linux"))]
fn peek_exited(_process_id: u32) -> bool {
    // Without waitid's WNOWAIT, an exited process is noticed when talking to it fails.
    false
}
