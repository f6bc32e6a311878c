//! # accel-mpi: accel's [`Communicator`](accel_core::comm::Communicator) over MPI
//!
//! One rank per process, over `MPI_COMM_WORLD`, through the `mpi` crate (rsmpi) on any MPI
//! it builds against (tested with Debian 12's OpenMPI 4.1.4). The same contract as the
//! in-process `LocalGroup`: every collective, in-place and out-of-place, every reduce op and
//! dtype, sequence numbers, typed errors; tests and programs written against
//! `&dyn Communicator` run on either.
//!
//! ```no_run
//! use accel_core::comm::{Communicator, ReduceOp};
//! use accel_core::{DType, Tensor};
//!
//! fn main() -> std::process::ExitCode {
//!     accel_mpi::run(|mpi| {
//!         let device = accel_cpu::device();
//!         let comm = mpi.world(&device);
//!         let t = Tensor::full(&device, &[4], DType::F32, comm.rank() as f64)?;
//!         comm.all_reduce_in_place(&t, ReduceOp::Sum)?;
//!         println!("rank {}: {:?}", comm.rank(), t.to_vec::<f32>()?);
//!         Ok(())
//!     })
//! }
//! ```
//!
//! ## Launch
//!
//! ```text
//! cd backends/mpi
//! cargo build --release --examples
//! mpirun -n 4 ../../target/release/examples/dp_training      # or $CARGO_TARGET_DIR/...
//! # as root in a container, and more ranks than cores:
//! export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
//! # always bound a job twice: mpirun's own timeout, and a KILL fallback
//! timeout -k 10 300 mpirun --timeout 120 -n 4 <program>
//! ```
//!
//! Building needs an MPI (`libopenmpi-dev openmpi-bin` on Debian/Ubuntu) and libclang
//! (`libclang-dev`, for rsmpi's bindgen). This crate is not a member of the root workspace,
//! so `cargo test --workspace` there works without MPI; it has its own `Cargo.lock`.
//!
//! ## How data moves
//!
//! Tensors are staged through host memory: read from the device into reusable buffers, one
//! blocking MPI collective, written back. Reductions widen on the host first (f32, f16 and
//! bf16 to f32; integers to i64), reduce with MPI's built-in Sum/Prod (and Max/Min for
//! integers) or a user operation (float Max/Min, with the contract's NaN and signed-zero
//! rules), and round once on the way back: f16/bf16 accumulate in f32 across ranks, never
//! in 16 bits. [`MpiOptions::deterministic`] reduces in rank order (all-gather + local fold),
//! bit-identical to `LocalGroup`'s deterministic mode.
//!
//! Before each call the ranks exchange a 64-byte fingerprint (collective, dtype, elements per
//! rank, root, sequence number; the reduce op too with [`MpiOptions::debug`]): a rank whose
//! call differs is named in an `Error::CommMismatch` on every rank, and no data moves.
//! Non-blocking forms run eagerly and return a completed `Work`.
//!
//! ## Failures: fail fast, never hang
//!
//! - A rank that **panics** aborts the whole job: [`Mpi::init`] installs a panic hook that
//!   calls `MPI_Abort` (exit code [`PANIC_CODE`]). Without it, unwinding would finalize MPI
//!   while the peers wait in a collective forever.
//! - A rank whose work **returns an error** from [`run`] aborts the job ([`ERROR_CODE`]).
//! - **Deadlines**: MPI cannot time out or cancel a blocking collective, so each blocking
//!   call (collectives, the fingerprint exchange, `send`, `recv`) arms a watchdog thread;
//!   a call still blocked at its deadline ([`Communicator::timeout`](accel_core::comm::Communicator::timeout),
//!   default 120 s) prints which call and sequence number stalled and aborts the job
//!   ([`TIMEOUT_CODE`]). The call does not return `Error::CommTimeout`, as `LocalGroup`'s
//!   does: after an MPI collective has started, ending the job is the only way out. MPI
//!   does not say which peer is missing.
//! - Invalid arguments (shape, dtype, device, root, too many elements for MPI's int counts)
//!   are errors returned before any rank communicates.
//!
//! `send` uses MPI's standard mode: a large message may wait for the matching `recv` (a
//! deadlocking send order ends at the deadline). Sending to oneself is refused.

#![forbid(unsafe_code)]

mod comm;
mod env;
mod reduce;

pub use comm::{MpiComm, MpiOptions};
pub use env::{ERROR_CODE, Mpi, PANIC_CODE, TIMEOUT_CODE, abort_job, run};
