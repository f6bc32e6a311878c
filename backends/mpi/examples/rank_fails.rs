//! A job in which rank 1 fails while the other ranks wait in an all-reduce (run with
//! `mpirun -n 4 rank_fails <panic|error|stall>`). The job must end at once, non-zero:
//! - `panic`: rank 1 panics; the panic hook aborts the job (code 101);
//! - `error`: rank 1's work returns an error; `run` aborts the job (code 1);
//! - `stall`: rank 1 never makes the call; the others' 2 s deadline aborts the job (code 62).

use accel_core::comm::{Communicator, ReduceOp};
use accel_core::{DType, Error, Tensor};
use std::process::ExitCode;
use std::time::Duration;

fn main() -> ExitCode {
    let mode = std::env::args().nth(1).unwrap_or_default();
    accel_mpi::run(|mpi| {
        let dev = accel_cpu::device();
        let comm = mpi.world(&dev);
        comm.set_timeout(Duration::from_secs(2));
        let x = Tensor::full(&dev, &[1 << 16], DType::F32, 1.0)?;
        comm.all_reduce_in_place(&x, ReduceOp::Sum)?;
        if comm.rank() == 1 {
            match mode.as_str() {
                "panic" => panic!("rank 1 fails on purpose"),
                "error" => {
                    return Err(Error::Backend { backend: "test".into(), message: "rank 1 fails on purpose".into() });
                }
                _ => std::thread::sleep(Duration::from_secs(60)),
            }
        }
        comm.all_reduce_in_place(&x, ReduceOp::Sum)?;
        println!("rank {} finished: the job did not fail", comm.rank());
        Ok(())
    })
}
