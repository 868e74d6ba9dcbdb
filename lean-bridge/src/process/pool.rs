//! The pool of Lean processes: reused by import header and backend, capped in number, evicted
//! least-recently-used, recycled after a number of uses, restarted after a crash, and killed
//! (as a whole process group) when a request runs past its timeout.
//!
//! Processes are owned values: an idle one sits in the LRU cache, a busy one is owned by the
//! request using it. Each live process holds a semaphore permit, which is how the cap is kept.

use std::collections::HashSet;
use std::num::{NonZeroU32, NonZeroUsize};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::Duration;

use lru::LruCache;
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore};
use tokio::time::timeout;

use super::discovery::{LaunchCommand, LeanToolchain};
use super::error::{BackendKind, LeanProcessError, RequestPhase};
use super::header::split_import_header;
use super::limits::{
    DEFAULT_ADDRESS_SPACE_LIMIT_BYTES, DEFAULT_MAX_ANSWER_BYTES, DEFAULT_MAX_PROCESSES,
    DEFAULT_REQUEST_TIMEOUT, DEFAULT_STARTUP_TIMEOUT, DEFAULT_USES_BEFORE_RECYCLE,
};
use super::outcome::{CheckOutcome, CheckRequest, TacticOutcome};
use super::session::{LeanSession, SessionLimits};

/// The pool's limits. [`PoolSettings::default`] takes every value from [`super::limits`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoolSettings {
    pub max_processes: NonZeroUsize,
    pub request_timeout: Duration,
    pub startup_timeout: Duration,
    /// `RLIMIT_AS` for every process; `None` leaves the inherited limit.
    pub address_space_limit_bytes: Option<u64>,
    pub uses_before_recycle: NonZeroU32,
    pub max_answer_bytes: usize,
}

impl Default for PoolSettings {
    fn default() -> Self {
        PoolSettings {
            max_processes: DEFAULT_MAX_PROCESSES,
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
            startup_timeout: DEFAULT_STARTUP_TIMEOUT,
            address_space_limit_bytes: Some(DEFAULT_ADDRESS_SPACE_LIMIT_BYTES),
            uses_before_recycle: DEFAULT_USES_BEFORE_RECYCLE,
            max_answer_bytes: DEFAULT_MAX_ANSWER_BYTES,
        }
    }
}

/// How to start each backend; a backend without a command is unavailable in the pool.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BackendLaunches {
    pub language_server: Option<LaunchCommand>,
    pub repl: Option<LaunchCommand>,
}

impl BackendLaunches {
    /// The backends a discovered toolchain can start (see
    /// [`LeanToolchain::language_server_launch`] and [`LeanToolchain::repl_launch`] for the
    /// reason one is missing).
    pub fn from_toolchain(toolchain: &LeanToolchain) -> BackendLaunches {
        BackendLaunches {
            language_server: toolchain.language_server_launch().ok(),
            repl: toolchain.repl_launch().ok(),
        }
    }

    fn get(&self, backend: BackendKind) -> Option<&LaunchCommand> {
        match backend {
            BackendKind::LanguageServer => self.language_server.as_ref(),
            BackendKind::Repl => self.repl.as_ref(),
        }
    }
}

/// What processes are shared by: the backend and the document's import header, as written.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PoolKey {
    pub backend: BackendKind,
    pub import_header: String,
}

/// Names the process that answered a check, for tactic requests on its proof states.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcessTicket {
    key: PoolKey,
    serial: u64,
}

impl ProcessTicket {
    pub fn key(&self) -> &PoolKey {
        &self.key
    }

    /// The pool's number for the process (1 for the first one the pool started).
    pub fn serial(&self) -> u64 {
        self.serial
    }
}

/// A check's outcome and the process that produced it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PooledCheck {
    pub outcome: CheckOutcome,
    pub ticket: ProcessTicket,
}

/// Counters describing what the pool has done since it was made.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PoolStatistics {
    /// Processes spawned.
    pub started: u64,
    /// Processes alive now (idle or busy).
    pub live: usize,
    /// Processes alive and idle now.
    pub idle: usize,
    /// Idle processes shut down to make room under the cap.
    pub evicted: u64,
    /// Processes shut down after `uses_before_recycle` requests.
    pub recycled: u64,
    /// Processes that exited while answering.
    pub crashed: u64,
    /// Idle processes found dead and replaced before use.
    pub found_dead: u64,
    /// Requests (or starts) that ran past their timeout.
    pub timed_out: u64,
    /// Processes shut down after unreadable or oversized output or an I/O error.
    pub failed: u64,
}

struct PooledSession {
    session: LeanSession,
    key: PoolKey,
    serial: u64,
    uses: u32,
    // Released when the session is dropped, after its process group was killed.
    _permit: OwnedSemaphorePermit,
    _registration: LiveRegistration,
}

/// Marks a process as alive in the pool's state until it is dropped, however that happens
/// (shut down by the pool, or dropped with a cancelled request), and then wakes waiters.
struct LiveRegistration {
    shared: Weak<Shared>,
    serial: u64,
}

impl Drop for LiveRegistration {
    fn drop(&mut self) {
        // While the pool itself is being dropped the upgrade fails and nothing is left to do.
        if let Some(shared) = self.shared.upgrade() {
            shared.lock_state().live_serials.remove(&self.serial);
            shared.changed.notify_waiters();
        }
    }
}

struct Shared {
    state: Mutex<PoolState>,
    /// Signalled whenever a process becomes idle or goes away.
    changed: Notify,
}

impl Shared {
    fn lock_state(&self) -> MutexGuard<'_, PoolState> {
        // The state holds no invariant that a panicking holder could break half-way, so a
        // poisoned lock is still usable.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

struct PoolState {
    idle: LruCache<PoolKey, Vec<PooledSession>>,
    live_serials: HashSet<u64>,
    next_serial: u64,
    statistics: PoolStatistics,
}

/// Lean processes shared across requests. All methods take `&self`; the pool may be shared
/// between tasks behind an `Arc`.
pub struct LeanPool {
    settings: PoolSettings,
    launches: BackendLaunches,
    permits: Arc<Semaphore>,
    shared: Arc<Shared>,
}

enum Taken {
    Session(Box<PooledSession>),
    Gone,
    Busy,
}

impl LeanPool {
    pub fn new(settings: PoolSettings, launches: BackendLaunches) -> LeanPool {
        LeanPool {
            permits: Arc::new(Semaphore::new(settings.max_processes.get())),
            settings,
            launches,
            shared: Arc::new(Shared {
                state: Mutex::new(PoolState {
                    idle: LruCache::unbounded(),
                    live_serials: HashSet::new(),
                    next_serial: 1,
                    statistics: PoolStatistics::default(),
                }),
                changed: Notify::new(),
            }),
        }
    }

    pub fn settings(&self) -> &PoolSettings {
        &self.settings
    }

    /// Checks a document on a process of `backend` that has its import header, starting one
    /// when none is idle. A request that times out is reported as [`LeanProcessError::TimedOut`]
    /// and not retried; its process group is killed.
    pub async fn check(
        &self,
        backend: BackendKind,
        request: &CheckRequest,
    ) -> Result<PooledCheck, LeanProcessError> {
        let key = PoolKey {
            backend,
            import_header: split_import_header(&request.text).header,
        };
        let mut pooled = self.take_or_start(&key).await?;
        let answered = timeout(self.settings.request_timeout, pooled.session.check(request)).await;
        let ticket = ProcessTicket {
            key: pooled.key.clone(),
            serial: pooled.serial,
        };
        let outcome = self.finish(pooled, answered).await?;
        Ok(PooledCheck { outcome, ticket })
    }

    /// Runs a tactic on a proof state from an earlier check on the REPL backend. Fails with
    /// [`LeanProcessError::ProcessGone`] when that process was since restarted, recycled or
    /// evicted; waits while it is busy with another request.
    pub async fn run_tactic(
        &self,
        ticket: &ProcessTicket,
        proof_state: u64,
        tactic: &str,
    ) -> Result<TacticOutcome, LeanProcessError> {
        if ticket.key.backend != BackendKind::Repl {
            return Err(LeanProcessError::TacticModeUnsupported {
                backend: ticket.key.backend,
            });
        }
        let mut pooled = loop {
            let notified = self.shared.changed.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            let taken = {
                let mut state = self.lock_state();
                take_idle_by_serial(&mut state, &ticket.key, ticket.serial)
            };
            match taken {
                Taken::Session(pooled) if pooled.session.has_exited() => {
                    self.lock_state().statistics.found_dead += 1;
                    self.discard(*pooled).await;
                    return Err(LeanProcessError::ProcessGone);
                }
                Taken::Session(pooled) => break *pooled,
                Taken::Gone => return Err(LeanProcessError::ProcessGone),
                Taken::Busy => notified.await,
            }
        };
        let answered = timeout(
            self.settings.request_timeout,
            pooled.session.run_tactic(proof_state, tactic),
        )
        .await;
        self.finish(pooled, answered).await
    }

    /// What the pool has done so far.
    pub fn statistics(&self) -> PoolStatistics {
        let state = self.lock_state();
        let mut statistics = state.statistics;
        statistics.live = state.live_serials.len();
        statistics.idle = state.idle.iter().map(|(_, sessions)| sessions.len()).sum();
        statistics
    }

    /// The keys of the idle processes, most recently used first.
    pub fn idle_keys(&self) -> Vec<PoolKey> {
        let state = self.lock_state();
        state
            .idle
            .iter()
            .flat_map(|(key, sessions)| sessions.iter().map(move |_| key.clone()))
            .collect()
    }

    /// Shuts down every idle process (busy ones are shut down when their request ends and the
    /// pool is dropped).
    pub async fn shutdown(&self) {
        let sessions: Vec<PooledSession> = {
            let mut state = self.lock_state();
            let mut sessions = Vec::new();
            while let Some((_, mut idle)) = state.idle.pop_lru() {
                sessions.append(&mut idle);
            }
            sessions
        };
        for pooled in sessions {
            self.discard(pooled).await;
        }
    }

    /// Settles a finished (or timed-out) request: the process goes back to the idle set, or is
    /// shut down after a timeout, a crash, unreadable output, or its last permitted use.
    async fn finish<T>(
        &self,
        mut pooled: PooledSession,
        answered: Result<Result<T, LeanProcessError>, tokio::time::error::Elapsed>,
    ) -> Result<T, LeanProcessError> {
        pooled.uses = pooled.uses.saturating_add(1);
        let backend = pooled.key.backend;
        match answered {
            Err(_elapsed) => {
                self.lock_state().statistics.timed_out += 1;
                self.discard(pooled).await;
                Err(LeanProcessError::TimedOut {
                    backend,
                    phase: RequestPhase::Answering,
                    timeout: self.settings.request_timeout,
                })
            }
            Ok(Err(error)) if !error.leaves_process_usable() => {
                {
                    let mut state = self.lock_state();
                    match error {
                        LeanProcessError::Crashed { .. } => state.statistics.crashed += 1,
                        _ => state.statistics.failed += 1,
                    }
                }
                self.discard(pooled).await;
                Err(error)
            }
            Ok(result) => {
                if pooled.uses >= self.settings.uses_before_recycle.get() {
                    self.lock_state().statistics.recycled += 1;
                    self.discard(pooled).await;
                } else {
                    self.return_idle(pooled);
                }
                result
            }
        }
    }

    /// An idle process for `key`, or a new one once there is room under the cap: room is made
    /// by evicting the least recently used idle process, or by waiting for a busy one.
    async fn take_or_start(&self, key: &PoolKey) -> Result<PooledSession, LeanProcessError> {
        let launch =
            self.launches
                .get(key.backend)
                .ok_or(LeanProcessError::BackendNotConfigured {
                    backend: key.backend,
                })?;
        loop {
            let notified = self.shared.changed.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();

            let idle = {
                let mut state = self.lock_state();
                take_idle(&mut state, key)
            };
            if let Some(pooled) = idle {
                if pooled.session.has_exited() {
                    self.lock_state().statistics.found_dead += 1;
                    self.discard(pooled).await;
                    continue;
                }
                return Ok(pooled);
            }
            if let Ok(permit) = Arc::clone(&self.permits).try_acquire_owned() {
                return self.start(key, launch, permit).await;
            }
            let evicted = {
                let mut state = self.lock_state();
                let evicted = pop_least_recently_used(&mut state);
                if evicted.is_some() {
                    state.statistics.evicted += 1;
                }
                evicted
            };
            if let Some(evicted) = evicted {
                self.discard(evicted).await;
                continue;
            }
            tokio::select! {
                _ = notified => {}
                permit = Arc::clone(&self.permits).acquire_owned() => {
                    if let Ok(permit) = permit {
                        return self.start(key, launch, permit).await;
                    }
                }
            }
        }
    }

    async fn start(
        &self,
        key: &PoolKey,
        launch: &LaunchCommand,
        permit: OwnedSemaphorePermit,
    ) -> Result<PooledSession, LeanProcessError> {
        let limits = SessionLimits {
            address_space_limit_bytes: self.settings.address_space_limit_bytes,
            max_answer_bytes: self.settings.max_answer_bytes,
        };
        let session = LeanSession::spawn(key.backend, launch, &limits)?;
        let serial = {
            let mut state = self.lock_state();
            let serial = state.next_serial;
            state.next_serial += 1;
            state.statistics.started += 1;
            state.live_serials.insert(serial);
            serial
        };
        let mut pooled = PooledSession {
            session,
            key: key.clone(),
            serial,
            uses: 0,
            _permit: permit,
            _registration: LiveRegistration {
                shared: Arc::downgrade(&self.shared),
                serial,
            },
        };
        let started = timeout(
            self.settings.startup_timeout,
            pooled.session.start(&key.import_header),
        )
        .await;
        match started {
            Ok(Ok(())) => Ok(pooled),
            Ok(Err(error)) => {
                if matches!(error, LeanProcessError::Crashed { .. }) {
                    self.lock_state().statistics.crashed += 1;
                }
                self.discard(pooled).await;
                Err(error)
            }
            Err(_elapsed) => {
                self.lock_state().statistics.timed_out += 1;
                self.discard(pooled).await;
                Err(LeanProcessError::TimedOut {
                    backend: key.backend,
                    phase: RequestPhase::Starting,
                    timeout: self.settings.startup_timeout,
                })
            }
        }
    }

    fn return_idle(&self, pooled: PooledSession) {
        {
            let mut state = self.lock_state();
            state
                .idle
                .get_or_insert_mut(pooled.key.clone(), Vec::new)
                .push(pooled);
        }
        self.shared.changed.notify_waiters();
    }

    /// Kills the process group, reaps the process and frees its place under the cap (the
    /// permit and the registration are dropped only after the process is reaped).
    async fn discard(&self, pooled: PooledSession) {
        let PooledSession {
            session,
            _permit,
            _registration,
            ..
        } = pooled;
        session.shutdown().await;
        drop(_permit);
        drop(_registration);
    }

    fn lock_state(&self) -> MutexGuard<'_, PoolState> {
        self.shared.lock_state()
    }
}

fn take_idle(state: &mut PoolState, key: &PoolKey) -> Option<PooledSession> {
    let sessions = state.idle.get_mut(key)?;
    // The most recently returned process of this key is the warmest.
    let pooled = sessions.pop();
    if sessions.is_empty() {
        state.idle.pop(key);
    }
    pooled
}

fn take_idle_by_serial(state: &mut PoolState, key: &PoolKey, serial: u64) -> Taken {
    if let Some(sessions) = state.idle.get_mut(key) {
        if let Some(position) = sessions.iter().position(|pooled| pooled.serial == serial) {
            let pooled = sessions.remove(position);
            if sessions.is_empty() {
                state.idle.pop(key);
            }
            return Taken::Session(Box::new(pooled));
        }
    }
    if state.live_serials.contains(&serial) {
        Taken::Busy
    } else {
        Taken::Gone
    }
}

fn pop_least_recently_used(state: &mut PoolState) -> Option<PooledSession> {
    let key = state.idle.peek_lru().map(|(key, _)| key.clone())?;
    let sessions = state.idle.peek_mut(&key)?;
    let pooled = if sessions.is_empty() {
        None
    } else {
        // The oldest process of the least recently used key.
        Some(sessions.remove(0))
    };
    if sessions.is_empty() {
        state.idle.pop(&key);
    }
    pooled
}
