//! Every CUDA kernel compiles with NVRTC for every architecture CI covers (sm_80 and sm_90),
//! defines every kernel the Rust side launches, and takes exactly the parameters declared for it
//! in `kernels/src/cuda/sources.rs` (count, order, width, integer or float, read from the PTX),
//! and every kernel the PTX defines is declared there; compiled binaries are cached by source
//! hash and architecture. This needs libnvrtc but no GPU. Where libnvrtc cannot be found the
//! tests are skipped with a printed reason, unless `PROOFWRIGHT_REQUIRE_NVRTC=1` is set (CI sets
//! it), in which case they fail: a kernel that does not compile or does not match its declaration
//! must fail CI.

use proofwright_kernels::cuda::compile::{
    all_sources, cache_path, cached_compile, compile_with_ptx, nvrtc_version, CI_ARCHITECTURES,
};
use proofwright_kernels::cuda::{libraries, CudaLibrary};

const REQUIRE_VARIABLE: &str = "PROOFWRIGHT_REQUIRE_NVRTC";
/// The first bytes of every ELF file, which a CUBIN is.
const ELF_MAGIC: &[u8] = b"\x7fELF";

/// Whether libnvrtc is available; prints why not, or panics when it is required.
fn nvrtc_available(test: &str) -> bool {
    match libraries::load(&[CudaLibrary::Nvrtc]) {
        Ok(()) => true,
        Err(error) => {
            let required = std::env::var(REQUIRE_VARIABLE).is_ok_and(|value| value == "1");
            assert!(
                !required,
                "{test}: {REQUIRE_VARIABLE}=1 but libnvrtc cannot be loaded: {error}"
            );
            println!("skipping {test}: libnvrtc cannot be loaded ({error})");
            false
        }
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack
        .windows(needle.len())
        .any(|window| window == needle)
}

/// Compiles each file once per architecture and checks the binary and the PTX of that one
/// compilation, so the signature check adds no NVRTC time.
#[test]
fn every_kernel_compiles_for_every_ci_architecture_with_the_declared_signatures() {
    if !nvrtc_available(
        "every_kernel_compiles_for_every_ci_architecture_with_the_declared_signatures",
    ) {
        return;
    }
    let (major, minor) = nvrtc_version().unwrap();
    println!("NVRTC {major}.{minor}");
    let mut failures = Vec::new();
    let mut kernels_checked = 0;
    for arch in CI_ARCHITECTURES {
        for source in all_sources() {
            match compile_with_ptx(source, arch) {
                Ok(compiled) => {
                    let binary = compiled.cubin;
                    if !binary.starts_with(ELF_MAGIC) {
                        failures.push(format!("{} for {arch}: not an ELF binary", source.file));
                    }
                    failures.extend(
                        source
                            .compare_with_ptx(&compiled.ptx)
                            .iter()
                            .map(|mismatch| format!("{arch}: {mismatch}")),
                    );
                    kernels_checked += source.kernel_names().count();
                    for function in source.kernel_names() {
                        let symbol = [function.as_bytes(), b"\0"].concat();
                        if !contains(&binary, &symbol) {
                            failures.push(format!(
                                "{} for {arch}: kernel `{function}` is not defined",
                                source.file
                            ));
                        }
                    }
                }
                Err(error) => failures.push(error.to_string()),
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
    println!(
        "{kernels_checked} kernel signatures (every kernel, every architecture) match the PTX"
    );
}

#[test]
fn compiled_kernels_are_cached_by_source_hash_and_architecture() {
    if !nvrtc_available("compiled_kernels_are_cached_by_source_hash_and_architecture") {
        return;
    }
    let cache = tempfile::tempdir().unwrap();
    let source = &all_sources()[0];
    let first = cached_compile(source, "sm_80", Some(cache.path())).unwrap();
    let path = cache_path(cache.path(), source, "sm_80").unwrap();
    assert_eq!(std::fs::read(&path).unwrap(), first, "the binary is stored");
    let name = path.file_name().unwrap().to_string_lossy().into_owned();
    assert!(
        name.starts_with("elementwise-sm_80-") && name.ends_with(".cubin"),
        "{name}"
    );

    // A cached entry is what is returned: replace it and the replacement comes back.
    std::fs::write(&path, b"stand-in binary").unwrap();
    let again = cached_compile(source, "sm_80", Some(cache.path())).unwrap();
    assert_eq!(again, b"stand-in binary");

    // Another architecture is another entry.
    let other = cache_path(cache.path(), source, "sm_90").unwrap();
    assert_ne!(other, path);
    cached_compile(source, "sm_90", Some(cache.path())).unwrap();
    assert!(other.exists());
    let entries = std::fs::read_dir(cache.path()).unwrap().count();
    assert_eq!(entries, 2, "no temporary files are left behind");
}
