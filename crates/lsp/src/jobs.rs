//! Slow work off the request loop: the code lens scores the pack's sample leads, and a
//! plugin may take its whole time budget on each. One worker thread does such jobs in
//! order; the loop hands a job over with a cancellation flag and answers the request when
//! the result comes back (or at once with `RequestCancelled` when the client cancels).

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;

use crossbeam_channel::{Receiver, Sender};
use leadscore::Loader;
use lsp_server::RequestId;

use super::samples::Samples;

/// Scoring the sample leads of a pack folder for the code lens of request `id`.
pub struct Job {
    pub id: RequestId,
    pub folder: PathBuf,
    /// The folder's save generation when the job was made: a result for an older one is stale.
    pub generation: u64,
    pub samples: Arc<Samples>,
    pub loader: Loader,
    pub cancel: Cancel,
}

/// A job's result: the lens text, or `None` when it was cancelled part way.
pub struct Done {
    pub id: RequestId,
    pub folder: PathBuf,
    pub generation: u64,
    pub lens: Option<String>,
}

/// A flag the loop sets and the job reads between leads.
#[derive(Clone, Default)]
pub struct Cancel(Arc<AtomicBool>);

impl Cancel {
    /// Asks the job to stop.
    pub fn cancel(&self) {
        self.0.store(true, Ordering::Relaxed);
    }

    /// Whether the job was asked to stop.
    pub fn is_cancelled(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }
}

/// The worker thread's two ends.
pub struct Worker {
    jobs: Sender<Job>,
    /// The results, in the order the jobs finished.
    pub done: Receiver<Done>,
}

impl Worker {
    /// Starts the thread, with the stack plugins need.
    pub fn start() -> std::io::Result<Worker> {
        let (jobs, inbox) = crossbeam_channel::unbounded::<Job>();
        let (results, done) = crossbeam_channel::unbounded();
        thread::Builder::new()
            .name("lsp-worker".into())
            .stack_size(leadscore::PLUGIN_STACK_SIZE)
            .spawn(move || {
                for job in inbox {
                    if job.cancel.is_cancelled() {
                        continue; // answered already; not started
                    }
                    // A panic while scoring is that lens's text, never the end of the thread
                    // (the loop would wait for results that cannot come).
                    let scored = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                        job.samples
                            .mql_summary(&job.folder, &job.loader, || job.cancel.is_cancelled())
                    }));
                    let lens =
                        scored.unwrap_or_else(|_| Some("sample leads not scored: an internal error".to_string()));
                    let done = Done {
                        id: job.id,
                        folder: job.folder,
                        generation: job.generation,
                        lens,
                    };
                    if results.send(done).is_err() {
                        return;
                    }
                }
            })?;
        Ok(Worker { jobs, done })
    }

    /// Hands a job over; `false` if the thread is gone.
    pub fn submit(&self, job: Job) -> bool {
        self.jobs.send(job).is_ok()
    }
}
