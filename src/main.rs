//! The `leadscore` command: a thin shell over the library (see `src/cli/`).

mod cli;

/// jemalloc, whose per-thread counters give each plugin call its memory budget
/// (`limit memory`, src/plugin/budget.rs).
#[cfg(feature = "jemalloc")]
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

fn main() -> std::process::ExitCode {
    cli::main()
}
