//! CUDA graphs: a sequence of launches on the device's stream recorded once and replayed with one
//! call, which removes the per-kernel launch cost that dominates a small decode step.

use super::device::CudaDevice;
use super::CudaError;
use cudarc::driver::sys::{CUgraphInstantiate_flags, CUstreamCaptureMode};
use cudarc::driver::CudaGraph;

/// A recorded graph, replayed on the stream it was captured from. The buffers it was recorded
/// with must stay allocated, at the same addresses, as long as it is replayed.
pub struct CapturedGraph {
    graph: CudaGraph,
}

// SAFETY: CUDA requires that one graph is not used from two threads at once; `launch` takes
// `&mut self`, so a graph moved to another thread is still used by one thread at a time.
unsafe impl Send for CapturedGraph {}

impl std::fmt::Debug for CapturedGraph {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str("CapturedGraph")
    }
}

impl CapturedGraph {
    /// Queues the whole graph on the device's stream.
    pub fn launch(&mut self, device: &CudaDevice) -> Result<(), CudaError> {
        device.bind()?;
        self.graph
            .launch()
            .map_err(CudaError::driver("replaying a CUDA graph"))
    }
}

impl CudaDevice {
    /// Records what `record` queues on the stream as a graph instead of running it. Nothing may
    /// be allocated, freed or copied from the host inside `record`, and the caller must hold
    /// [`CudaDevice::exclusive_use`] so that no other thread queues work into the capture.
    pub fn capture(
        &self,
        record: impl FnOnce(&CudaDevice) -> Result<(), CudaError>,
    ) -> Result<CapturedGraph, CudaError> {
        if !self.is_in_exclusive_use() {
            return Err(CudaError::InvalidArgument {
                op: "capture",
                problem: "the caller does not hold the device's exclusive use, so other threads' \
                          work could land in the graph; hold `exclusive_use()` around the whole \
                          unit of work"
                    .to_owned(),
            });
        }
        self.bind()?;
        self.stream
            .begin_capture(CUstreamCaptureMode::CU_STREAM_CAPTURE_MODE_THREAD_LOCAL)
            .map_err(CudaError::driver("starting a CUDA graph capture"))?;
        // The capture must end whatever happened, a panic included, or the stream stays in
        // capture mode and every later op on it fails.
        let recorded = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| record(self)));
        let ended = self
            .stream
            .end_capture(CUgraphInstantiate_flags(0))
            .map_err(CudaError::driver("ending a CUDA graph capture"));
        let recorded = match recorded {
            Ok(recorded) => recorded,
            Err(panic) => {
                // The partial graph (if any) is dropped; the panic goes on to the caller.
                drop(ended);
                std::panic::resume_unwind(panic)
            }
        };
        recorded?;
        match ended? {
            Some(graph) => {
                graph
                    .upload()
                    .map_err(CudaError::driver("uploading a CUDA graph"))?;
                Ok(CapturedGraph { graph })
            }
            None => Err(CudaError::InvalidArgument {
                op: "capture",
                problem: "the capture recorded no work".to_owned(),
            }),
        }
    }
}
