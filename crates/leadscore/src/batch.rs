//! The one batch scorer: a pool of threads with the deep stacks plugin calls need, that
//! scores a batch of leads in parallel and hands the results back in input order.
//!
//! The command line (`score`, `stats`, `backtest`…), the service's writer and the Python
//! module all score on a [`Pool`]; the stack size ([`PLUGIN_STACK_SIZE`]) and the rule for
//! how many threads one may ask for ([`threads`]) live here and nowhere else. Memory stays
//! bounded because work arrives a batch at a time: the caller reads the next batch while
//! this one is scored, and reuses the per-lead buffers from batch to batch ([`Pool::each`]).
//!
//! ```
//! let pack = leadscore::Pack::from_source("pack", "threshold 10\nrule \"Big\": company.size >= 100 => +10\n")?;
//! let pool = leadscore::batch::Pool::new(leadscore::batch::threads(Some(2))?)?;
//! let scorer = pack.scorer(chrono::Utc::now());
//! let leads = [r#"{"company":{"size":500}}"#, r#"{"company":{"size":5}}"#, "[]"];
//! let mut results = Vec::new();
//! pool.map(&leads, &mut results, |text| scorer.score_json(text).map(|outcome| outcome.mql));
//! assert_eq!(results.len(), 3);
//! assert!(matches!(results[0], Ok(true)));
//! assert!(matches!(results[1], Ok(false)));
//! assert!(results[2].is_err());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use rayon::prelude::*;

use crate::plugin::PLUGIN_STACK_SIZE;

/// Worker threads one may ask for, at most, per core: each reserves a
/// [`PLUGIN_STACK_SIZE`] stack.
pub const THREADS_PER_CORE: usize = 4;

/// This machine's cores (1 when it cannot tell).
pub fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get)
}

/// A number of threads asked for that the rule refuses.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{asked} threads is more than {most} ({THREADS_PER_CORE} per core on this machine's {cores})")]
#[non_exhaustive]
pub struct ThreadsError {
    /// What was asked for.
    pub asked: usize,
    /// The most allowed here.
    pub most: usize,
    /// The machine's cores.
    pub cores: usize,
}

/// The rule every front end applies to a number of threads asked for: `None` or `0` is
/// one per core; otherwise at most [`THREADS_PER_CORE`] per core.
///
/// ```
/// let cores = leadscore::batch::cores();
/// assert_eq!(leadscore::batch::threads(None), Ok(cores));
/// assert_eq!(leadscore::batch::threads(Some(1)), Ok(1));
/// assert!(leadscore::batch::threads(Some(1000 * cores)).is_err());
/// ```
pub fn threads(asked: Option<usize>) -> Result<usize, ThreadsError> {
    let cores = cores();
    let most = THREADS_PER_CORE * cores;
    match asked {
        None | Some(0) => Ok(cores),
        Some(n) if n <= most => Ok(n),
        Some(asked) => Err(ThreadsError { asked, most, cores }),
    }
}

/// A thread builder with the stack plugin calls need, for a thread that scores on its own
/// (a service's writer, a worker of another runtime).
pub fn thread(name: impl Into<String>) -> std::thread::Builder {
    std::thread::Builder::new()
        .name(name.into())
        .stack_size(PLUGIN_STACK_SIZE)
}

/// Scoring threads: results in input order, work spread over every thread.
#[derive(Debug)]
pub struct Pool {
    inner: rayon::ThreadPool,
    threads: usize,
}

impl Pool {
    /// A pool of `threads` threads (check a user's number with [`threads`] first), each with
    /// the [`PLUGIN_STACK_SIZE`] stack, named `leadscore-N`.
    pub fn new(threads: usize) -> std::io::Result<Pool> {
        let inner = rayon::ThreadPoolBuilder::new()
            .num_threads(threads.max(1))
            .stack_size(PLUGIN_STACK_SIZE)
            .thread_name(|i| format!("leadscore-{i}"))
            .build()
            .map_err(std::io::Error::other)?;
        Ok(Pool { inner, threads })
    }

    /// How many threads it has.
    pub fn threads(&self) -> usize {
        self.threads
    }

    /// `work` on every item, in parallel, each with its own reusable slot (a buffer kept
    /// from batch to batch); returns when all are done. `slots` is resized to `items`.
    pub fn each<T: Sync, S: Send + Default>(&self, items: &[T], slots: &mut Vec<S>, work: impl Fn(&T, &mut S) + Sync) {
        slots.truncate(items.len());
        slots.resize_with(items.len(), S::default);
        self.inner.install(|| {
            items
                .par_iter()
                .zip(slots.par_iter_mut())
                .for_each(|(item, slot)| work(item, slot));
        });
    }

    /// `work` on every item, in parallel; `out` holds the results in input order (its
    /// allocation is reused).
    pub fn map<T: Sync, R: Send>(&self, items: &[T], out: &mut Vec<R>, work: impl Fn(&T) -> R + Sync) {
        self.inner.install(|| items.par_iter().map(&work).collect_into_vec(out));
    }

    /// `work` on every item taken by value, in parallel; `out` holds the results in input
    /// order.
    pub fn map_owned<T: Send, R: Send>(&self, items: Vec<T>, out: &mut Vec<R>, work: impl Fn(T) -> R + Sync) {
        self.inner
            .install(|| items.into_par_iter().map(&work).collect_into_vec(out));
    }

    /// Runs `work` on one of the pool's threads (its deep stack) and returns its result.
    pub fn run<R: Send>(&self, work: impl FnOnce() -> R + Send) -> R {
        self.inner.install(work)
    }

    /// Starts `work` on the pool without waiting for it (a [`Pool::map`] inside it runs on
    /// this pool too).
    pub fn spawn(&self, work: impl FnOnce() + Send + 'static) {
        self.inner.spawn(work);
    }
}
