# thumbforge tasks. `just` is optional: every recipe calls a plain command
# or a script in scripts/, which work without it.

default:
    @just --list

# Run the embedded server: SQLite, local files, the offline renderer
run *ARGS:
    cargo run --release -p thumbforge-cli -- serve {{ARGS}}

# Formatting, clippy -D warnings and the whole test suite (what CI runs)
test:
    bash scripts/test.sh

# Submit/poll throughput, render time, the production topology and the real workload (slow and capped providers); paste the output into docs/benchmarks.md
bench:
    bash scripts/bench.sh

# The multi-host drill in network namespaces (needs root): throughput with 1-3 worker hosts, a rolling restart, a worker host's link cut (docs/queue.md); --reduced is the CI size
drill-hosts *ARGS:
    bash scripts/drill-hosts.sh {{ARGS}}

# Regenerate the sample thumbnails in docs/img
samples:
    cargo run --release -p thumbforge-render --example samples

# A long fuzzing pass (the suite runs 256 cases per target); CASES=1000000 for longer
fuzz CASES="100000":
    PROPTEST_CASES={{CASES}} cargo test -p thumbforge-api --lib fuzz
    PROPTEST_CASES={{CASES}} cargo test -p thumbforge-providers --test fuzz

# Format the code
fmt:
    cargo fmt --all
