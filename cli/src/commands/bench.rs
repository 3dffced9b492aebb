//! `trip bench`: throughput and latency of the embedded runtime.

use clap::Args;
use serde_json::json;
use trip_local::bench::{BenchOptions, BenchResult, run};

use crate::{Ctx, exit};

#[derive(Args)]
pub struct BenchArgs {
    /// Sagas per run.
    #[arg(long, default_value_t = 2000)]
    pub trips: usize,
    /// Sagas in flight at once (closed loop). A saga is in flight until its outcome is on
    /// disk, a commit after its last step: 128 keeps the runtime's loop and the store's
    /// writer both busy.
    #[arg(long, default_value_t = 128)]
    pub concurrency: usize,
    /// Start this many sagas per second instead (open loop; latency from the scheduled start).
    #[arg(long)]
    pub rate: Option<f64>,
    /// Share of trips that fail and compensate.
    #[arg(long, default_value_t = 0.0)]
    pub failure_rate: f64,
    /// Runs to take the median of.
    #[arg(long, default_value_t = 3)]
    pub runs: usize,
    /// Also measure the floor: only the writes a saga cannot do without, group-committed.
    #[arg(long)]
    pub floor: bool,
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(0.0)
}

pub fn bench(ctx: &Ctx, args: BenchArgs) -> anyhow::Result<u8> {
    let dir = tempfile::tempdir()?;
    let durable = ctx.store.is_some();
    let mut results: Vec<BenchResult> = Vec::new();
    for run_no in 0..args.runs.max(1) {
        // A fresh store per run: every run starts from the same empty state.
        let store = durable.then(|| dir.path().join(format!("bench-{run_no}.db")));
        let r = run(&BenchOptions {
            trips: args.trips,
            concurrency: args.concurrency,
            rate: args.rate,
            failure_rate: args.failure_rate,
            store,
            seed: run_no as u64 + 1,
        })?;
        if !ctx.out.json {
            println!(
                "run {}: {:>8.0} sagas/s  p50 {:>6.2} ms  p99 {:>6.2} ms  ({} booked, {} compensated, {} commits)",
                run_no + 1,
                r.sagas_per_s,
                r.p50_ms,
                r.p99_ms,
                r.booked,
                r.failed,
                r.commits
            );
        }
        results.push(r);
    }
    let violations: usize = results.iter().map(|r| r.invariant_violations).sum();
    let floor = if args.floor {
        let mut v = Vec::new();
        for run_no in 0..args.runs.max(1) {
            let path = dir.path().join(format!("floor-{run_no}.db"));
            v.push(trip_local::bench::store_floor(&path, args.trips, 5)?);
        }
        Some(median(v))
    } else {
        None
    };
    let summary = json!({
        "store": if durable { "durable (SQLite file)" } else { "memory" },
        "trips": args.trips,
        "concurrency": args.rate.is_none().then_some(args.concurrency),
        "rate": args.rate,
        "failureRate": args.failure_rate,
        "runs": results.len(),
        "medianSagasPerS": median(results.iter().map(|r| r.sagas_per_s).collect()),
        "medianP50Ms": median(results.iter().map(|r| r.p50_ms).collect()),
        "medianP99Ms": median(results.iter().map(|r| r.p99_ms).collect()),
        "invariantViolations": violations,
        "storeFloorSagasPerS": floor,
        "results": results,
    });
    if ctx.out.json {
        ctx.out.print_json(&summary);
    } else {
        println!(
            "median of {}: {:.0} sagas/s, p50 {:.2} ms, p99 {:.2} ms ({}, {} cores)",
            results.len(),
            summary["medianSagasPerS"].as_f64().unwrap_or(0.0),
            summary["medianP50Ms"].as_f64().unwrap_or(0.0),
            summary["medianP99Ms"].as_f64().unwrap_or(0.0),
            summary["store"].as_str().unwrap_or(""),
            std::thread::available_parallelism().map_or(0, |n| n.get()),
        );
        if let Some(f) = floor {
            println!(
                "store floor (the minimal durable writes alone, 5 sagas a commit): {f:.0} sagas/s"
            );
        }
    }
    Ok(if violations > 0 {
        exit::INVARIANT
    } else {
        exit::OK
    })
}
