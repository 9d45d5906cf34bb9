# Recipes for blynk-ota (https://just.systems). Each is also a plain cargo command.

# List the recipes.
default:
    @just --list

# Format every crate.
fmt:
    cargo fmt --all

# Lint exactly as CI does.
lint:
    cargo fmt --all --check
    cargo clippy --workspace --all-targets -- -D warnings

# Run every test (the README's test command).
test:
    cargo test --workspace

# Test one crate, e.g. `just test-crate blynk-proto`.
test-crate CRATE:
    cargo test -p {{CRATE}}

# Lint one crate.
clippy-crate CRATE:
    cargo clippy -p {{CRATE}} --all-targets -- -D warnings

# Run the benchmarks (results: docs/benchmarks.md).
bench:
    cargo bench --workspace

# Run one crate's benchmarks.
bench-crate CRATE:
    cargo bench -p {{CRATE}}

# Fleet benchmarks with blynk-sim (bench/*.sh; each appends a section to docs/benchmarks.md).
bench-startup *ARGS:
    bash bench/startup.sh {{ARGS}}

bench-idle *ARGS:
    bash bench/idle-connections.sh {{ARGS}}

bench-throughput *ARGS:
    bash bench/throughput.sh {{ARGS}}

bench-login-storm *ARGS:
    bash bench/login-storm.sh {{ARGS}}

bench-ota-fanout *ARGS:
    bash bench/ota-fanout.sh {{ARGS}}

bench-downloads *ARGS:
    bash bench/downloads.sh {{ARGS}}

# Run the server on its embedded defaults.
run:
    cargo run --release --bin blynk-server

# Everything CI runs.
ci:
    bash .ci/run
