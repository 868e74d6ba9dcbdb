//! Which processor runs a model: the caller's request (`auto`, `cpu`, `cuda`) resolved against
//! what this build and this machine have. `auto` takes the GPU when there is a usable one and
//! otherwise falls back to the CPU, with the reason for one log line; `cuda` without a usable
//! GPU is an error that says why.

use crate::error::{ModelError, Result};
use crate::forward::Transformer;
use crate::LanguageModel;
use std::path::Path;
use std::str::FromStr;
#[cfg(feature = "cuda")]
use std::sync::{Arc, OnceLock};

/// The GPU used when one is asked for (multi-GPU placement is not supported).
pub const CUDA_DEVICE_ORDINAL: usize = 0;

/// What the caller asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DeviceRequest {
    /// The GPU if a usable one is present, else the CPU.
    #[default]
    Auto,
    Cpu,
    Cuda,
}

impl DeviceRequest {
    pub const NAMES: [&'static str; 3] = ["auto", "cpu", "cuda"];

    pub fn name(self) -> &'static str {
        match self {
            DeviceRequest::Auto => "auto",
            DeviceRequest::Cpu => "cpu",
            DeviceRequest::Cuda => "cuda",
        }
    }
}

impl FromStr for DeviceRequest {
    type Err = ModelError;

    fn from_str(text: &str) -> Result<Self> {
        match text {
            "auto" => Ok(DeviceRequest::Auto),
            "cpu" => Ok(DeviceRequest::Cpu),
            "cuda" => Ok(DeviceRequest::Cuda),
            other => Err(ModelError::InvalidRequest {
                what: "device",
                problem: format!("`{other}` is not a device; choose auto, cpu or cuda"),
            }),
        }
    }
}

impl std::fmt::Display for DeviceRequest {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str(self.name())
    }
}

/// A device a model can run on.
#[derive(Clone)]
pub enum Device {
    Cpu,
    #[cfg(feature = "cuda")]
    Cuda(Arc<proofwright_kernels::cuda::CudaDevice>),
}

impl Device {
    /// For people: `cpu` or `cuda (NVIDIA H100 80GB HBM3, sm_90)`.
    pub fn description(&self) -> String {
        match self {
            Device::Cpu => "cpu".to_owned(),
            #[cfg(feature = "cuda")]
            Device::Cuda(device) => {
                let info = device.info();
                format!("cuda ({}, {})", info.name, info.arch())
            }
        }
    }

    pub fn is_gpu(&self) -> bool {
        !matches!(self, Device::Cpu)
    }
}

impl std::fmt::Debug for Device {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str(&self.description())
    }
}

/// The outcome of [`select_device`].
#[derive(Debug, Clone)]
pub struct DeviceSelection {
    pub device: Device,
    /// Why `auto` did not take a GPU, for one log line; `None` when nothing fell back.
    pub fallback_reason: Option<String>,
}

/// Resolves a request. The GPU is probed once per process (before any other CUDA call, so a
/// machine without the driver or libraries never reaches one) and reused afterwards.
pub fn select_device(request: DeviceRequest) -> Result<DeviceSelection> {
    match request {
        DeviceRequest::Cpu => Ok(DeviceSelection {
            device: Device::Cpu,
            fallback_reason: None,
        }),
        DeviceRequest::Cuda => match open_gpu() {
            Ok(device) => Ok(DeviceSelection {
                device,
                fallback_reason: None,
            }),
            Err(reason) => Err(ModelError::DeviceUnavailable { reason }),
        },
        DeviceRequest::Auto => Ok(match open_gpu() {
            Ok(device) => DeviceSelection {
                device,
                fallback_reason: None,
            },
            Err(reason) => DeviceSelection {
                device: Device::Cpu,
                fallback_reason: Some(reason),
            },
        }),
    }
}

#[cfg(feature = "cuda")]
fn open_gpu() -> std::result::Result<Device, String> {
    use proofwright_kernels::cuda::CudaDevice;
    static OPENED: OnceLock<std::result::Result<Arc<CudaDevice>, String>> = OnceLock::new();
    OPENED
        .get_or_init(|| CudaDevice::open(CUDA_DEVICE_ORDINAL).map_err(|error| error.to_string()))
        .clone()
        .map(Device::Cuda)
}

#[cfg(not(feature = "cuda"))]
fn open_gpu() -> std::result::Result<Device, String> {
    Err("this build has no CUDA support (it was built without the `cuda` feature)".to_owned())
}

impl LanguageModel {
    /// Loads a Hugging Face model directory onto `device`.
    pub fn load_on(model_dir: &Path, device: &Device) -> Result<Self> {
        let model = LanguageModel::load(model_dir)?;
        let transformer = model.transformer.to_device(device)?;
        Ok(LanguageModel {
            transformer,
            ..model
        })
    }
}

/// The engine behind a [`Transformer`]'s `generate` and `score`.
#[derive(Clone, Default)]
pub(crate) enum Backend {
    #[default]
    Cpu,
    #[cfg(feature = "cuda")]
    Cuda(Arc<crate::cuda::CudaTransformer>),
}

impl Backend {
    #[cfg_attr(not(feature = "cuda"), allow(unused_variables))]
    pub(crate) fn for_device(device: &Device, transformer: &Transformer) -> Result<Self> {
        match device {
            Device::Cpu => Ok(Backend::Cpu),
            #[cfg(feature = "cuda")]
            Device::Cuda(gpu) => Ok(Backend::Cuda(Arc::new(crate::cuda::CudaTransformer::new(
                gpu.clone(),
                transformer,
            )?))),
        }
    }

    pub(crate) fn description(&self) -> String {
        match self {
            Backend::Cpu => Device::Cpu.description(),
            #[cfg(feature = "cuda")]
            Backend::Cuda(engine) => Device::Cuda(engine.device().clone()).description(),
        }
    }
}

impl std::fmt::Debug for Backend {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str(&self.description())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_parse_from_their_names_and_nothing_else() {
        for name in DeviceRequest::NAMES {
            assert_eq!(DeviceRequest::from_str(name).unwrap().name(), name);
        }
        let error = DeviceRequest::from_str("gpu").unwrap_err().to_string();
        assert!(
            error.contains("`gpu`") && error.contains("auto, cpu or cuda"),
            "{error}"
        );
    }

    #[test]
    fn models_can_be_shared_between_threads_on_every_device() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<Device>();
        assert_send_sync::<Transformer>();
        assert_send_sync::<LanguageModel>();
    }

    #[test]
    fn the_cpu_is_always_available_and_never_a_fallback() {
        let selection = select_device(DeviceRequest::Cpu).unwrap();
        assert!(!selection.device.is_gpu());
        assert!(selection.fallback_reason.is_none());
    }
}
