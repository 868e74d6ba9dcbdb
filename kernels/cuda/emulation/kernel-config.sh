# Sourced by `run` and `gpu-tests` (bash): reads what the host emulation needs from the Rust side,
# so the emulated kernels are built exactly as NVRTC builds them.
# - `defines`: the -D constants, from `pub const NAME: usize|u32 = VALUE;` in
#   kernels/src/cuda/mod.rs (NVRTC gets the same list from `constants_for_kernels`);
# - `kernels`: every kernel name declared in kernels/src/cuda/sources.rs, where `NAME = rms_norm (`
#   is one kernel and `NAME = embedding_{f32, bf16, f16} (` one per suffix.
# Exits with status 2, naming the file, when either list comes out empty (a changed layout).
emulation_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
constants_file="$emulation_dir/../../src/cuda/mod.rs"
sources_file="$emulation_dir/../../src/cuda/sources.rs"

defines=()
while read -r name value; do
  defines+=("-D$name=$value")
done < <(sed -nE 's/^pub const ([A-Z_]+): (usize|u32) = ([0-9]+);$/\1 \3/p' "$constants_file")
if [ "${#defines[@]}" -eq 0 ]; then
  echo "error: no constants found in $constants_file; update the pattern in ${BASH_SOURCE[0]}" >&2
  exit 2
fi

kernels=()
while IFS='|' read -r stem suffixes; do
  if [ -z "$suffixes" ]; then
    kernels+=("$stem")
  else
    for suffix in ${suffixes//,/ }; do
      kernels+=("$stem$suffix")
    done
  fi
done < <(sed -nE 's/^ +[A-Z_]+ = ([a-z0-9_]+)(\{([a-z0-9_, ]+)\})? \(.*/\1|\3/p' "$sources_file")
if [ "${#kernels[@]}" -eq 0 ]; then
  echo "error: no kernel names found in $sources_file; update the pattern in ${BASH_SOURCE[0]}" >&2
  exit 2
fi
