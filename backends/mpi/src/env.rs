//! The MPI environment of one process: initialization, the fail-fast panic hook, the
//! deadline watchdog and [`run`], the entry point a rank program wraps its work in.

use crate::comm::{MpiComm, MpiOptions};
use accel_core::{Device, Error, Result};
use mpi::environment::Universe;
use mpi::topology::SimpleCommunicator;
use mpi::traits::Communicator as _;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, Once};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// True between `MPI_Init` and `MPI_Finalize`: the panic hook aborts the job only then.
static LIVE: AtomicBool = AtomicBool::new(false);
static RANK: AtomicUsize = AtomicUsize::new(0);
static HOOK: Once = Once::new();

/// Exit code of a job aborted because a rank panicked.
pub const PANIC_CODE: i32 = 101;
/// Exit code of a job aborted because a blocking call missed its deadline.
pub const TIMEOUT_CODE: i32 = 62;
/// Exit code of a job aborted because a rank's work returned an error ([`run`]).
pub const ERROR_CODE: i32 = 1;

/// Ends every rank of the job now (`MPI_Abort` on `MPI_COMM_WORLD`).
pub fn abort_job(code: i32) -> ! {
    SimpleCommunicator::world().abort(code)
}

/// This process's MPI session. Created once per process; dropping it finalizes MPI.
///
/// Initialization requests `MPI_THREAD_MULTIPLE`, because the watchdog thread may call
/// `MPI_Abort` while the rank's own thread is blocked inside a collective.
pub struct Mpi {
    universe: Option<Universe>,
    rank: usize,
    size: usize,
    watchdog: Arc<Watchdog>,
    thread: Option<JoinHandle<()>>,
}

impl Mpi {
    /// Initializes MPI and installs the panic hook that aborts the whole job when any thread
    /// of this rank panics (the default unwinding would run `MPI_Finalize` while the peers
    /// wait inside a collective: the job would hang).
    pub fn init() -> Result<Mpi> {
        let (universe, _threading) =
            mpi::initialize_with_threading(mpi::Threading::Multiple).ok_or_else(|| Error::Backend {
                backend: "mpi".into(),
                message: "MPI is already initialized in this process (create one accel_mpi::Mpi per process)".into(),
            })?;
        let world = universe.world();
        let (rank, size) = (world.rank() as usize, world.size() as usize);
        RANK.store(rank, Ordering::SeqCst);
        LIVE.store(true, Ordering::SeqCst);
        HOOK.call_once(|| {
            let previous = std::panic::take_hook();
            std::panic::set_hook(Box::new(move |info| {
                previous(info);
                if LIVE.load(Ordering::SeqCst) {
                    let rank = RANK.load(Ordering::SeqCst);
                    eprintln!("accel-mpi: rank {rank} panicked; aborting the job (MPI_Abort, code {PANIC_CODE})");
                    abort_job(PANIC_CODE);
                }
            }));
        });
        let watchdog = Arc::new(Watchdog::default());
        let w = watchdog.clone();
        let thread =
            std::thread::Builder::new().name("accel-mpi-watchdog".into()).spawn(move || w.watch(rank)).map_err(
                |e| Error::Backend { backend: "mpi".into(), message: format!("cannot start the watchdog: {e}") },
            )?;
        Ok(Mpi { universe: Some(universe), rank, size, watchdog, thread: Some(thread) })
    }

    /// This process's rank in `MPI_COMM_WORLD`.
    pub fn rank(&self) -> usize {
        self.rank
    }

    /// Ranks in `MPI_COMM_WORLD`.
    pub fn size(&self) -> usize {
        self.size
    }

    /// A communicator over `MPI_COMM_WORLD` whose tensors live on `device`.
    pub fn communicator(&self, device: &Device, options: MpiOptions) -> MpiComm<'_> {
        MpiComm::new(self.rank, self.size, device.clone(), options, self.watchdog.clone())
    }

    /// A communicator with default options.
    pub fn world(&self, device: &Device) -> MpiComm<'_> {
        self.communicator(device, MpiOptions::default())
    }

    /// Ends the whole job with `code`.
    pub fn abort(&self, code: i32) -> ! {
        abort_job(code)
    }
}

impl std::fmt::Debug for Mpi {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mpi").field("rank", &self.rank).field("size", &self.size).finish_non_exhaustive()
    }
}

impl Drop for Mpi {
    fn drop(&mut self) {
        LIVE.store(false, Ordering::SeqCst);
        self.watchdog.stop();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        // Finalizes MPI.
        drop(self.universe.take());
    }
}

/// Runs one rank's work: initializes MPI, calls `work`, finalizes. A rank whose work returns
/// an error prints it and aborts the job (exit code [`ERROR_CODE`]); one that panics aborts
/// it through the panic hook ([`PANIC_CODE`]); so the other ranks fail fast instead of
/// waiting in their next collective.
pub fn run<F>(work: F) -> ExitCode
where
    F: FnOnce(&Mpi) -> Result<()>,
{
    let mpi = match Mpi::init() {
        Ok(m) => m,
        Err(e) => {
            eprintln!("accel-mpi: {e}");
            return ExitCode::FAILURE;
        }
    };
    match work(&mpi) {
        Ok(()) => {
            drop(mpi);
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("accel-mpi: rank {} failed: {e}; aborting the job (MPI_Abort, code {ERROR_CODE})", mpi.rank);
            mpi.abort(ERROR_CODE)
        }
    }
}

/// One armed deadline: the blocking call the rank is in.
#[derive(Debug, Clone, Copy)]
struct Armed {
    id: u64,
    op: &'static str,
    seq: u64,
    size: usize,
    timeout: Duration,
    deadline: Instant,
}

#[derive(Debug, Default)]
struct WatchState {
    next_id: u64,
    armed: Option<Armed>,
    stop: bool,
}

/// Aborts the job when a blocking MPI call outlives its deadline. MPI cannot cancel a
/// collective that has started, so a call past its deadline can only end by ending the job.
#[derive(Debug, Default)]
pub(crate) struct Watchdog {
    state: Mutex<WatchState>,
    cv: Condvar,
}

/// How often the watchdog looks at the armed deadline (deadlines are kept to within this).
const POLL: Duration = Duration::from_millis(10);

/// Disarms the watchdog when the call returns.
pub(crate) struct ArmGuard(Arc<Watchdog>, u64);

impl Drop for ArmGuard {
    fn drop(&mut self) {
        let mut s = self.0.state.lock().unwrap_or_else(|e| e.into_inner());
        if s.armed.is_some_and(|a| a.id == self.1) {
            s.armed = None;
        }
    }
}

impl Watchdog {
    pub(crate) fn arm(self: &Arc<Self>, op: &'static str, seq: u64, size: usize, timeout: Duration) -> ArmGuard {
        let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        s.next_id += 1;
        let id = s.next_id;
        let deadline =
            Instant::now().checked_add(timeout).unwrap_or_else(|| Instant::now() + Duration::from_secs(1 << 30));
        // No wake-up: the watchdog polls (see `POLL`), so arming costs no context switch.
        s.armed = Some(Armed { id, op, seq, size, timeout, deadline });
        ArmGuard(self.clone(), id)
    }

    fn stop(&self) {
        self.state.lock().unwrap_or_else(|e| e.into_inner()).stop = true;
        self.cv.notify_all();
    }

    fn watch(&self, rank: usize) {
        let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            if s.stop {
                return;
            }
            if let Some(a) = s.armed {
                let now = Instant::now();
                if now >= a.deadline {
                    eprintln!(
                        "accel-mpi: rank {rank} of {}: {} (seq {}) did not complete within {:.1} s \
                             (a peer died or never made the call); aborting the job (MPI_Abort, code {TIMEOUT_CODE})",
                        a.size,
                        a.op,
                        a.seq,
                        a.timeout.as_secs_f64()
                    );
                    abort_job(TIMEOUT_CODE);
                }
            }
            s = self.cv.wait_timeout(s, POLL).unwrap_or_else(|e| e.into_inner()).0;
        }
    }
}
