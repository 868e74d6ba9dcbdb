//! Prover work off the main loop: a bounded queue with two priorities (interactive requests
//! before background verification) served by a few worker threads. Every job carries a ticket
//! that cancels it when its request is cancelled or dropped, or when an edit makes it stale. A
//! panic inside a job is caught and reported as that job's error; the worker lives on.

use super::documents::ByteEdit;
use crate::prover::{Cancellation, ProgressEvent, WorkControl};
use proofwright_lean::position::ByteRange;
use std::collections::{HashMap, VecDeque};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};
use tokio::sync::oneshot;
use tower_lsp_server::ls_types::Uri;

/// Which queue a job waits in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Priority {
    /// A request someone waits for: commands, completion.
    Interactive,
    /// Verification after edits settle.
    Background,
}

/// When an edit to the job's document makes the job stale.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StalePolicy {
    /// Any newer version of the document cancels it (completion, background verification).
    AnyEdit,
    /// Only an edit that touches this range (in the job's version of the text) cancels it;
    /// edits elsewhere are recorded so that the result can be moved to where it now belongs.
    EditInside(ByteRange),
}

/// Why a job gave no result.
#[derive(Debug, thiserror::Error)]
pub enum JobError {
    #[error(
        "the prover is busy: {capacity} jobs are waiting already; wait for them or cancel some"
    )]
    QueueFull { capacity: usize },
    #[error("the work was cancelled")]
    Cancelled,
    #[error("the server is shutting down")]
    Stopped,
    #[error("the prover hit a bug ({message}); the server keeps running, see its log")]
    Panicked { message: String },
    #[error("{0:#}")]
    Failed(anyhow::Error),
}

/// What the queue and the rest of the server know about one job.
pub struct JobTicket {
    pub id: u64,
    /// For the log: `proofwright.prove file:///…`.
    pub description: String,
    pub priority: Priority,
    /// The document and its version the job works on.
    pub document: Option<(Uri, i32)>,
    pub stale_policy: StalePolicy,
    pub cancellation: Cancellation,
    tracking: Mutex<EditTracking>,
}

/// Edits to the job's document since the job's version.
#[derive(Debug, Default)]
struct EditTracking {
    edits: Vec<ByteEdit>,
    /// The newest document version whose edits are in `edits`.
    seen_version: Option<i32>,
}

impl JobTicket {
    /// How the job's work is steered: its cancellation, a deadline `time_budget` from now, and
    /// `progress` watching.
    pub fn work_control<'a>(
        &self,
        time_budget: Duration,
        progress: &'a (dyn Fn(ProgressEvent) + Sync),
    ) -> WorkControl<'a> {
        WorkControl {
            cancellation: self.cancellation.clone(),
            deadline: Some(Instant::now() + time_budget),
            progress,
        }
    }

    /// Where `range` (in the job's version of the text) lies in the document version
    /// `current_version`, when every edit since the job's version is known and none touched it.
    pub fn map_range(&self, range: ByteRange, current_version: i32) -> Option<ByteRange> {
        let tracking = lock(&self.tracking);
        let (_, job_version) = self.document.as_ref()?;
        let seen = tracking.seen_version.unwrap_or(*job_version);
        if seen != current_version {
            return None;
        }
        tracking
            .edits
            .iter()
            .try_fold(range, |range, edit| edit.map_range(range))
    }
}

/// How many jobs run and wait.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct QueueCounts {
    pub running: usize,
    pub waiting: usize,
}

/// What a caller asks for when it submits a job.
pub struct JobRequest {
    pub description: String,
    pub priority: Priority,
    pub document: Option<(Uri, i32)>,
    pub stale_policy: StalePolicy,
    /// The job's cancellation, when the caller cancels it from elsewhere too (a progress
    /// token's cancel button); a new one otherwise.
    pub cancellation: Option<Cancellation>,
}

type JobBody = Box<dyn FnOnce(&JobTicket) + Send>;

struct QueuedJob {
    ticket: Arc<JobTicket>,
    body: JobBody,
    /// Tells the waiter that the job was cancelled before it ran.
    cancel_notice: Option<Box<dyn FnOnce() + Send>>,
}

#[derive(Default)]
struct QueueState {
    interactive: VecDeque<QueuedJob>,
    background: VecDeque<QueuedJob>,
    running: usize,
    stopped: bool,
    /// Every queued or running job.
    live: HashMap<u64, Arc<JobTicket>>,
    /// Cancelled jobs taken off the queue, dropped by a worker: what they hold (a prover, and
    /// through it Lean's runtime) must not be dropped on the async main loop.
    discarded: Vec<QueuedJob>,
    next_id: u64,
}

impl QueueState {
    fn counts(&self) -> QueueCounts {
        QueueCounts {
            running: self.running,
            waiting: self.interactive.len() + self.background.len(),
        }
    }

    /// Takes queued jobs whose tickets were cancelled off the queue.
    fn drop_cancelled(&mut self) {
        for priority in [Priority::Interactive, Priority::Background] {
            let queue = match priority {
                Priority::Interactive => &mut self.interactive,
                Priority::Background => &mut self.background,
            };
            let (cancelled, kept): (VecDeque<QueuedJob>, VecDeque<QueuedJob>) = queue
                .drain(..)
                .partition(|job| job.ticket.cancellation.is_cancelled());
            *queue = kept;
            for mut job in cancelled {
                self.live.remove(&job.ticket.id);
                if let Some(notice) = job.cancel_notice.take() {
                    notice();
                }
                self.discarded.push(job);
            }
        }
    }
}

struct Shared {
    state: Mutex<QueueState>,
    wakeup: Condvar,
    capacity: usize,
    on_change: Box<dyn Fn(QueueCounts) + Send + Sync>,
}

/// The queue and its worker threads.
pub struct WorkQueue {
    shared: Arc<Shared>,
    workers: Mutex<Vec<JoinHandle<()>>>,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl WorkQueue {
    /// Starts `n_workers` threads. `on_change` hears every change of the counts.
    pub fn start(
        n_workers: usize,
        capacity: usize,
        on_change: impl Fn(QueueCounts) + Send + Sync + 'static,
    ) -> std::io::Result<WorkQueue> {
        let shared = Arc::new(Shared {
            state: Mutex::new(QueueState::default()),
            wakeup: Condvar::new(),
            capacity,
            on_change: Box::new(on_change),
        });
        let mut workers = Vec::new();
        for worker_idx in 0..n_workers.max(1) {
            let shared = shared.clone();
            workers.push(
                std::thread::Builder::new()
                    .name(format!("proofwright-lsp-worker-{worker_idx}"))
                    .spawn(move || worker_loop(&shared))?,
            );
        }
        Ok(WorkQueue {
            shared,
            workers: Mutex::new(workers),
        })
    }

    pub fn counts(&self) -> QueueCounts {
        lock(&self.shared.state).counts()
    }

    /// Queues `work`; its result (or why there is none) arrives through the handle. Dropping
    /// the handle before the result arrives cancels the job.
    pub fn submit<T: Send + 'static>(
        &self,
        request: JobRequest,
        work: impl FnOnce(&JobTicket) -> anyhow::Result<T> + Send + 'static,
    ) -> Result<JobHandle<T>, JobError> {
        let (sender, receiver) = oneshot::channel();
        let (counts, ticket) = {
            let mut state = lock(&self.shared.state);
            if state.stopped {
                return Err(JobError::Stopped);
            }
            state.drop_cancelled();
            if state.interactive.len() + state.background.len() >= self.shared.capacity {
                return Err(JobError::QueueFull {
                    capacity: self.shared.capacity,
                });
            }
            state.next_id += 1;
            let ticket = Arc::new(JobTicket {
                id: state.next_id,
                description: request.description,
                priority: request.priority,
                document: request.document,
                stale_policy: request.stale_policy,
                cancellation: request.cancellation.unwrap_or_default(),
                tracking: Mutex::new(EditTracking::default()),
            });
            let sender_slot = Arc::new(Mutex::new(Some(sender)));
            let notice_slot = sender_slot.clone();
            let cancel_notice: Box<dyn FnOnce() + Send> = Box::new(move || {
                if let Some(sender) = lock(&notice_slot).take() {
                    let _ = sender.send(Err(JobError::Cancelled));
                }
            });
            let body: JobBody = Box::new(move |ticket: &JobTicket| {
                let outcome = match catch_unwind(AssertUnwindSafe(|| work(ticket))) {
                    Ok(Ok(value)) => Ok(value),
                    Ok(Err(error)) => Err(JobError::Failed(error)),
                    Err(payload) => {
                        let message = panic_message(payload.as_ref());
                        tracing::error!("job {} panicked: {message}", ticket.description);
                        Err(JobError::Panicked { message })
                    }
                };
                if let Some(sender) = lock(&sender_slot).take() {
                    let _ = sender.send(outcome);
                }
            });
            let job = QueuedJob {
                ticket: ticket.clone(),
                body,
                cancel_notice: Some(cancel_notice),
            };
            state.live.insert(ticket.id, ticket.clone());
            match ticket.priority {
                Priority::Interactive => state.interactive.push_back(job),
                Priority::Background => state.background.push_back(job),
            }
            self.shared.wakeup.notify_one();
            let counts = state.counts();
            drop(state);
            (counts, ticket)
        };
        (self.shared.on_change)(counts);
        Ok(JobHandle {
            receiver,
            ticket,
            finished: false,
        })
    }

    /// A new version of `uri` arrived with `edits` (byte edits of the previous version, in
    /// order): cancels the jobs it makes stale and records the edits for the others.
    pub fn document_changed(&self, uri: &Uri, new_version: i32, edits: &[ByteEdit]) {
        let counts = {
            let mut state = lock(&self.shared.state);
            for ticket in state.live.values() {
                let Some((job_uri, job_version)) = &ticket.document else {
                    continue;
                };
                if job_uri != uri || *job_version >= new_version {
                    continue;
                }
                match ticket.stale_policy {
                    StalePolicy::AnyEdit => ticket.cancellation.cancel(),
                    StalePolicy::EditInside(guard) => {
                        let mut tracking = lock(&ticket.tracking);
                        tracking.edits.extend_from_slice(edits);
                        tracking.seen_version = Some(new_version);
                        let mapped = tracking
                            .edits
                            .iter()
                            .try_fold(guard, |range, edit| edit.map_range(range));
                        if mapped.is_none() {
                            tracing::info!(
                                "cancelling {}: an edit touched the proof it works on",
                                ticket.description
                            );
                            ticket.cancellation.cancel();
                        }
                    }
                }
            }
            state.drop_cancelled();
            state.counts()
        };
        self.shared.wakeup.notify_one();
        (self.shared.on_change)(counts);
    }

    /// Cancels every job on `uri` (the document was closed).
    pub fn cancel_document(&self, uri: &Uri) {
        self.cancel_where(|ticket| {
            ticket
                .document
                .as_ref()
                .is_some_and(|(job_uri, _)| job_uri == uri)
        });
    }

    /// Takes jobs cancelled from outside (through their cancellation) off the queue.
    pub fn sweep(&self) {
        self.cancel_where(|_| false);
    }

    /// Cancels every job (the model or Lean changed, or the server stops).
    pub fn cancel_all(&self) {
        self.cancel_where(|_| true);
    }

    pub fn cancel_where(&self, predicate: impl Fn(&JobTicket) -> bool) {
        let counts = {
            let mut state = lock(&self.shared.state);
            for ticket in state.live.values() {
                if predicate(ticket) {
                    ticket.cancellation.cancel();
                }
            }
            state.drop_cancelled();
            state.counts()
        };
        self.shared.wakeup.notify_one();
        (self.shared.on_change)(counts);
    }

    /// Cancels everything, refuses new work and waits up to `timeout` for the workers to
    /// finish the jobs in hand.
    pub fn stop(&self, timeout: Duration) {
        {
            let mut state = lock(&self.shared.state);
            state.stopped = true;
            for ticket in state.live.values() {
                ticket.cancellation.cancel();
            }
            state.drop_cancelled();
            drop(std::mem::take(&mut state.discarded));
        }
        self.shared.wakeup.notify_all();
        let deadline = Instant::now() + timeout;
        let workers = std::mem::take(&mut *lock(&self.workers));
        for worker in workers {
            while !worker.is_finished() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(10));
            }
            if worker.is_finished() {
                let _ = worker.join();
            } else {
                tracing::warn!("a worker thread is still busy at shutdown; leaving it behind");
            }
        }
    }
}

fn worker_loop(shared: &Shared) {
    loop {
        let job = {
            let mut state = lock(&shared.state);
            loop {
                state.drop_cancelled();
                if !state.discarded.is_empty() {
                    let discarded = std::mem::take(&mut state.discarded);
                    drop(state);
                    drop(discarded);
                    state = lock(&shared.state);
                    continue;
                }
                if state.stopped {
                    return;
                }
                if let Some(job) = state
                    .interactive
                    .pop_front()
                    .or_else(|| state.background.pop_front())
                {
                    state.running += 1;
                    break job;
                }
                state = shared
                    .wakeup
                    .wait(state)
                    .unwrap_or_else(|poisoned| poisoned.into_inner());
            }
        };
        (shared.on_change)(lock(&shared.state).counts());
        let ticket = job.ticket.clone();
        (job.body)(&ticket);
        let counts = {
            let mut state = lock(&shared.state);
            state.running -= 1;
            state.live.remove(&ticket.id);
            state.counts()
        };
        (shared.on_change)(counts);
    }
}

/// The text of a panic payload.
pub fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(text) = payload.downcast_ref::<&str>() {
        (*text).to_owned()
    } else if let Some(text) = payload.downcast_ref::<String>() {
        text.clone()
    } else {
        "a panic without a message".to_owned()
    }
}

/// The result of a queued job, to await. Dropping it first cancels the job.
pub struct JobHandle<T> {
    receiver: oneshot::Receiver<Result<T, JobError>>,
    ticket: Arc<JobTicket>,
    finished: bool,
}

impl<T> JobHandle<T> {
    pub fn ticket(&self) -> &Arc<JobTicket> {
        &self.ticket
    }

    /// Waits for the job. A job dropped from the queue (cancelled) gives `Cancelled`.
    pub async fn outcome(&mut self) -> Result<T, JobError> {
        let outcome = (&mut self.receiver).await;
        self.finished = true;
        match outcome {
            Ok(outcome) => outcome,
            Err(_) => Err(if self.ticket.cancellation.is_cancelled() {
                JobError::Cancelled
            } else {
                JobError::Stopped
            }),
        }
    }
}

impl<T> Drop for JobHandle<T> {
    fn drop(&mut self) {
        if !self.finished {
            self.ticket.cancellation.cancel();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;

    fn uri() -> Uri {
        "file:///project/A.lean".parse().expect("uri")
    }

    fn request(priority: Priority, stale_policy: StalePolicy) -> JobRequest {
        JobRequest {
            description: "test job".to_owned(),
            priority,
            document: Some((uri(), 1)),
            stale_policy,
            cancellation: None,
        }
    }

    fn block_on<F: std::future::Future>(future: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime")
            .block_on(future)
    }

    /// A job that holds its worker until told to go on.
    fn gate(queue: &WorkQueue) -> (JobHandle<()>, mpsc::Sender<()>, mpsc::Receiver<()>) {
        let (release, released) = mpsc::channel::<()>();
        let (started_sender, started) = mpsc::channel::<()>();
        let handle = queue
            .submit(
                JobRequest {
                    description: "gate".to_owned(),
                    priority: Priority::Interactive,
                    document: None,
                    stale_policy: StalePolicy::AnyEdit,
                    cancellation: None,
                },
                move |_| {
                    let _ = started_sender.send(());
                    let _ = released.recv();
                    Ok(())
                },
            )
            .expect("queued");
        (handle, release, started)
    }

    #[test]
    fn interactive_jobs_run_before_background_jobs() {
        let queue = WorkQueue::start(1, 8, |_| {}).expect("queue");
        let (mut gate_handle, release, started) = gate(&queue);
        started.recv().expect("the gate started");
        let order = Arc::new(Mutex::new(Vec::new()));
        let mut handles = Vec::new();
        for (name, priority) in [
            ("background", Priority::Background),
            ("interactive", Priority::Interactive),
        ] {
            let order = order.clone();
            handles.push(
                queue
                    .submit(
                        JobRequest {
                            description: name.to_owned(),
                            priority,
                            document: None,
                            stale_policy: StalePolicy::AnyEdit,
                            cancellation: None,
                        },
                        move |_| {
                            lock(&order).push(name);
                            Ok(())
                        },
                    )
                    .expect("queued"),
            );
        }
        assert_eq!(
            queue.counts(),
            QueueCounts {
                running: 1,
                waiting: 2
            }
        );
        release.send(()).expect("release");
        block_on(async {
            gate_handle.outcome().await.expect("gate");
            for handle in &mut handles {
                handle.outcome().await.expect("job");
            }
        });
        assert_eq!(*lock(&order), vec!["interactive", "background"]);
        queue.stop(Duration::from_secs(5));
    }

    #[test]
    fn a_full_queue_refuses_work_and_a_panic_is_an_error() {
        let queue = WorkQueue::start(1, 1, |_| {}).expect("queue");
        let (_gate_handle, release, started) = gate(&queue);
        started.recv().expect("the gate started");
        let mut panicking = queue
            .submit(
                request(Priority::Interactive, StalePolicy::AnyEdit),
                |_| -> anyhow::Result<()> { panic!("deliberate") },
            )
            .expect("queued");
        let refused = queue.submit(request(Priority::Interactive, StalePolicy::AnyEdit), |_| {
            Ok(())
        });
        assert!(matches!(refused, Err(JobError::QueueFull { capacity: 1 })));
        release.send(()).expect("release");
        let outcome = block_on(panicking.outcome());
        assert_eq!(
            outcome.expect_err("panicked").to_string(),
            "the prover hit a bug (deliberate); the server keeps running, see its log"
        );
        // The worker survived.
        let mut after = queue
            .submit(request(Priority::Interactive, StalePolicy::AnyEdit), |_| {
                Ok(5)
            })
            .expect("queued");
        assert_eq!(block_on(after.outcome()).expect("ran"), 5);
        queue.stop(Duration::from_secs(5));
    }

    #[test]
    fn edits_cancel_stale_jobs_and_move_the_others() {
        let queue = WorkQueue::start(1, 8, |_| {}).expect("queue");
        let (_gate_handle, release, started) = gate(&queue);
        started.recv().expect("the gate started");
        let any_edit = queue
            .submit(request(Priority::Background, StalePolicy::AnyEdit), |_| {
                Ok(())
            })
            .expect("queued");
        let guarded = queue
            .submit(
                request(
                    Priority::Interactive,
                    StalePolicy::EditInside(ByteRange::new(100, 200)),
                ),
                |_| Ok(()),
            )
            .expect("queued");
        // An insertion of 5 bytes before the guarded range.
        queue.document_changed(
            &uri(),
            2,
            &[ByteEdit {
                start: 10,
                old_end: 10,
                new_len: 5,
            }],
        );
        assert!(any_edit.ticket().cancellation.is_cancelled());
        assert!(!guarded.ticket().cancellation.is_cancelled());
        assert_eq!(
            guarded.ticket().map_range(ByteRange::new(120, 130), 2),
            Some(ByteRange::new(125, 135))
        );
        assert_eq!(
            guarded.ticket().map_range(ByteRange::new(120, 130), 3),
            None
        );
        // An edit inside the guarded range (now 105..205).
        queue.document_changed(
            &uri(),
            3,
            &[ByteEdit {
                start: 150,
                old_end: 151,
                new_len: 0,
            }],
        );
        assert!(guarded.ticket().cancellation.is_cancelled());
        assert_eq!(
            queue.counts(),
            QueueCounts {
                running: 1,
                waiting: 0
            }
        );
        release.send(()).expect("release");
        queue.stop(Duration::from_secs(5));
    }
}
