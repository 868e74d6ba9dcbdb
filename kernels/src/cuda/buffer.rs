//! Device memory: typed buffers and weight matrices kept in their storage type on the GPU.

use super::signatures::DeviceAddress;
use super::{CudaDevice, CudaError};
use crate::{DType, Matrix, Storage};
use cudarc::driver::{CudaSlice, DevicePtr, DeviceRepr};
use std::marker::PhantomData;

/// A typed allocation in GPU memory. It stays valid as long as the [`CudaDevice`] that made it.
#[derive(Debug)]
pub struct GpuBuffer<T> {
    pub(crate) slice: CudaSlice<T>,
}

impl<T: DeviceRepr> GpuBuffer<T> {
    pub fn len(&self) -> usize {
        self.slice.len()
    }

    pub fn is_empty(&self) -> bool {
        self.slice.len() == 0
    }

    /// The buffer's device address, for kernel arguments.
    pub(crate) fn address(&self) -> DeviceAddress {
        let (address, _sync) = self.slice.device_ptr(self.slice.stream());
        DeviceAddress::from_raw(address)
    }

    /// The device address of element `offset`.
    pub(crate) fn address_at(&self, offset: usize) -> DeviceAddress {
        self.address()
            .offset_bytes(offset * std::mem::size_of::<T>())
    }

    /// Checks that the buffer holds at least `needed` elements.
    pub(crate) fn check_len(
        &self,
        op: &'static str,
        what: &str,
        needed: usize,
    ) -> Result<(), CudaError> {
        if self.len() < needed {
            return Err(CudaError::InvalidArgument {
                op,
                problem: format!(
                    "{what} holds {} elements but {needed} are needed",
                    self.len()
                ),
            });
        }
        Ok(())
    }
}

impl<T: DeviceRepr> GpuBuffer<T> {
    /// The whole buffer as a read-only view.
    pub fn view(&self) -> GpuView<'_, T> {
        GpuView {
            address: self.address(),
            len: self.len(),
            _buffer: PhantomData,
        }
    }
}

impl GpuBuffer<u32> {
    /// `len` elements of type `E` starting at 32-bit word `word_offset`: one upload can fill a
    /// buffer of words that kernels then read as several typed arrays.
    pub fn view_as<E: DeviceRepr>(
        &self,
        word_offset: usize,
        len: usize,
    ) -> Result<GpuView<'_, E>, CudaError> {
        let start = word_offset * 4;
        let end = start + len * std::mem::size_of::<E>();
        if end > self.len() * 4 || !start.is_multiple_of(std::mem::align_of::<E>()) {
            return Err(CudaError::InvalidArgument {
                op: "view_as",
                problem: format!(
                    "{len} elements of {} bytes at word {word_offset} do not fit, aligned, in \
                     {} words",
                    std::mem::size_of::<E>(),
                    self.len()
                ),
            });
        }
        Ok(GpuView {
            address: self.address().offset_bytes(start),
            len,
            _buffer: PhantomData,
        })
    }
}

/// A read-only run of elements inside a [`GpuBuffer`], borrowed from it.
#[derive(Debug, Clone, Copy)]
pub struct GpuView<'a, T> {
    address: DeviceAddress,
    len: usize,
    _buffer: PhantomData<&'a T>,
}

impl<T> GpuView<'_, T> {
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub(crate) fn address(&self) -> DeviceAddress {
        self.address
    }

    pub(crate) fn check_len(
        &self,
        op: &'static str,
        what: &str,
        needed: usize,
    ) -> Result<(), CudaError> {
        if self.len < needed {
            return Err(CudaError::InvalidArgument {
                op,
                problem: format!("{what} holds {} elements but {needed} are needed", self.len),
            });
        }
        Ok(())
    }
}

/// The elements of a weight matrix on the GPU, in the checkpoint's storage type.
#[derive(Debug)]
pub enum DeviceStorage {
    F32(GpuBuffer<f32>),
    /// BF16 or F16 bits.
    Half(GpuBuffer<u16>),
}

/// A row-major weight matrix on the GPU (`[out_features, in_features]`, as Hugging Face stores a
/// linear layer's weight).
#[derive(Debug)]
pub struct DeviceMatrix {
    rows: usize,
    cols: usize,
    dtype: DType,
    storage: DeviceStorage,
}

impl DeviceMatrix {
    /// Copies a host matrix to the GPU without changing its storage type.
    pub fn upload(device: &CudaDevice, matrix: &Matrix) -> Result<Self, CudaError> {
        let storage = match matrix.storage() {
            Storage::F32(values) => DeviceStorage::F32(device.upload(values)?),
            Storage::BF16(values) => {
                DeviceStorage::Half(device.upload(bytemuck::cast_slice::<_, u16>(values))?)
            }
            Storage::F16(values) => {
                DeviceStorage::Half(device.upload(bytemuck::cast_slice::<_, u16>(values))?)
            }
        };
        Ok(DeviceMatrix {
            rows: matrix.rows(),
            cols: matrix.cols(),
            dtype: matrix.dtype(),
            storage,
        })
    }

    pub fn rows(&self) -> usize {
        self.rows
    }

    pub fn cols(&self) -> usize {
        self.cols
    }

    pub fn dtype(&self) -> DType {
        self.dtype
    }

    /// Bytes the elements occupy, which is what one pass over the matrix reads.
    pub fn size_in_bytes(&self) -> usize {
        self.rows * self.cols * self.dtype.size_in_bytes()
    }

    pub(crate) fn address(&self) -> DeviceAddress {
        match &self.storage {
            DeviceStorage::F32(buffer) => buffer.address(),
            DeviceStorage::Half(buffer) => buffer.address(),
        }
    }
}
