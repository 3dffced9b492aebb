//! `trip bench`: throughput and latency of the embedded runtime.

use std::path::{Path, PathBuf};

use anyhow::bail;
use clap::Args;
use serde_json::{Value, json};
use trip_local::Durability;
use trip_local::bench::{BenchOptions, BenchResult, TripShape, run, store_floor};

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
    #[arg(long, value_parser = positive_rate)]
    pub rate: Option<f64>,
    /// Share of trips that fail and compensate.
    #[arg(long, default_value_t = 0.0, value_parser = share)]
    pub failure_rate: f64,
    /// The trips: `readme` (the README's sample: 4 nights, a return flight for 2, a 4-day
    /// car: 10 inventory holds) or `small` (1 night, one way, 1 day: 3 holds).
    #[arg(long, default_value_t = TripShape::Readme)]
    pub shape: TripShape,
    /// Runs to take the median of.
    #[arg(long, default_value_t = 3)]
    pub runs: usize,
    /// Also measure the floor: only the writes a saga cannot do without, group-committed.
    #[arg(long)]
    pub floor: bool,
    /// Measure both durabilities side by side (runs alternate full and normal) instead of
    /// the one --durability picks.
    #[arg(long)]
    pub compare_durability: bool,
}

fn positive_rate(s: &str) -> Result<f64, String> {
    let r: f64 = s.parse().map_err(|e| format!("{s:?}: {e}"))?;
    if !r.is_finite() || r <= 0.0 {
        return Err(format!("{s}: sagas per second must be a positive number"));
    }
    Ok(r)
}

fn share(s: &str) -> Result<f64, String> {
    let r: f64 = s.parse().map_err(|e| format!("{s:?}: {e}"))?;
    if !(0.0..=1.0).contains(&r) {
        return Err(format!("{s}: a share from 0 to 1"));
    }
    Ok(r)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(0.0)
}

/// The file system a path is on, by name (tmpfs measures memory, not a disk).
fn file_system(dir: &Path) -> String {
    #[cfg(target_os = "linux")]
    {
        use std::os::unix::ffi::OsStrExt;
        let Ok(c) = std::ffi::CString::new(dir.as_os_str().as_bytes()) else {
            return "unknown".into();
        };
        // SAFETY: statfs fills the zeroed struct; the path is a valid C string.
        let mut st: libc::statfs = unsafe { std::mem::zeroed() };
        if unsafe { libc::statfs(c.as_ptr(), &mut st) } != 0 {
            return "unknown".into();
        }
        #[allow(clippy::unnecessary_cast)]
        match st.f_type as i64 {
            0x0102_1994 => "tmpfs (memory, not a disk)".into(),
            0xEF53 => "ext4".into(),
            0x5846_5342 => "xfs".into(),
            0x9123_683E => "btrfs".into(),
            0x794C_7630 => "overlayfs".into(),
            0x2FC1_2FC1 => "zfs".into(),
            0x6969 => "nfs".into(),
            other => format!("file system 0x{other:x}"),
        }
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = dir;
        "unknown".into()
    }
}

/// Removes a run's store and its companions.
fn remove_store(path: &Path) {
    for suffix in ["", "-wal", "-shm", ".lock"] {
        let mut s = path.as_os_str().to_owned();
        s.push(suffix);
        let _ = std::fs::remove_file(PathBuf::from(s));
    }
}

/// Where the runs' stores go: beside --store when it is given, else the current directory.
fn store_dir(ctx: &Ctx) -> anyhow::Result<PathBuf> {
    let dir = match &ctx.store {
        Some(p) if ctx.store_given => match p.parent() {
            Some(d) if !d.as_os_str().is_empty() => d.to_owned(),
            _ => PathBuf::from("."),
        },
        _ => PathBuf::from("."),
    };
    if !dir.is_dir() {
        bail!(
            "{}: no such directory for the bench's stores",
            dir.display()
        );
    }
    Ok(std::fs::canonicalize(&dir).unwrap_or(dir))
}

pub fn bench(ctx: &Ctx, args: BenchArgs) -> anyhow::Result<u8> {
    let durable = ctx.store.is_some();
    let modes: Vec<Option<Durability>> = match (durable, args.compare_durability) {
        (false, _) => vec![None],
        (true, false) => vec![Some(ctx.durability)],
        (true, true) => vec![Some(Durability::Full), Some(Durability::Normal)],
    };
    let dir = if durable { Some(store_dir(ctx)?) } else { None };
    let name = |what: &str, mode: Durability, run_no: usize| {
        dir.as_ref().map(|d| {
            d.join(format!(
                "bench-{}-{what}-{mode}-{}.db",
                std::process::id(),
                run_no + 1
            ))
        })
    };
    let fs = dir.as_deref().map(file_system);
    if !ctx.out.json {
        match (&dir, &fs) {
            (Some(d), Some(fs)) => println!(
                "stores: {}/bench-{}-*.db ({fs}), removed after each run; durability {}",
                d.display(),
                std::process::id(),
                modes
                    .iter()
                    .flatten()
                    .map(Durability::to_string)
                    .collect::<Vec<_>>()
                    .join(" and ")
            ),
            _ => println!("store: memory (nothing on disk)"),
        }
        println!(
            "trips: {} of the {} shape ({} inventory holds each)",
            args.trips,
            args.shape,
            args.shape.holds()
        );
    }
    let mut results: Vec<(Option<Durability>, BenchResult)> = Vec::new();
    for run_no in 0..args.runs.max(1) {
        // Runs of the two durabilities alternate, so that a machine getting slower or faster
        // during the session weighs on both alike.
        for mode in &modes {
            let store = mode.and_then(|m| name("run", m, run_no));
            let options = BenchOptions {
                trips: args.trips,
                concurrency: args.concurrency,
                rate: args.rate,
                failure_rate: args.failure_rate,
                store: store.clone(),
                durability: mode.unwrap_or_default(),
                shape: args.shape,
                seed: run_no as u64 + 1,
            };
            let r = run(&options);
            if let Some(s) = &store {
                remove_store(s);
            }
            let r = r?;
            if !ctx.out.json {
                println!(
                    "run {} {:<7} {:>8.0} sagas/s  p50 {:>6.2} ms  p99 {:>6.2} ms  ({} booked, {} compensated, {} commits)",
                    run_no + 1,
                    mode.map_or("memory".to_owned(), |m| m.to_string()),
                    r.sagas_per_s,
                    r.p50_ms,
                    r.p99_ms,
                    r.booked,
                    r.failed,
                    r.commits
                );
            }
            results.push((*mode, r));
        }
    }
    let violations: usize = results.iter().map(|(_, r)| r.invariant_violations).sum();
    let mut summaries = Vec::new();
    for mode in &modes {
        let of: Vec<&BenchResult> = results
            .iter()
            .filter(|(m, _)| m == mode)
            .map(|(_, r)| r)
            .collect();
        let floor = match mode {
            Some(m) if args.floor => {
                let mut v = Vec::new();
                for run_no in 0..args.runs.max(1) {
                    let Some(path) = name("floor", *m, run_no) else {
                        continue;
                    };
                    let f = store_floor(&path, args.trips, 5, args.shape, *m);
                    remove_store(&path);
                    v.push(f?.sagas_per_s);
                }
                Some(median(v))
            }
            _ => None,
        };
        summaries.push(json!({
            "durability": mode.map(|m| m.to_string()),
            "runs": of.len(),
            "medianSagasPerS": median(of.iter().map(|r| r.sagas_per_s).collect()),
            "medianP50Ms": median(of.iter().map(|r| r.p50_ms).collect()),
            "medianP99Ms": median(of.iter().map(|r| r.p99_ms).collect()),
            "storeFloorSagasPerS": floor,
        }));
    }
    let summary = json!({
        "store": if durable { "durable (SQLite file)" } else { "memory" },
        "storeDir": dir.as_ref().map(|d| d.display().to_string()),
        "fileSystem": fs,
        "trips": args.trips,
        "shape": args.shape,
        "holdsPerTrip": args.shape.holds(),
        "concurrency": args.rate.is_none().then_some(args.concurrency),
        "rate": args.rate,
        "failureRate": args.failure_rate,
        "invariantViolations": violations,
        "byDurability": summaries,
        "results": results.iter().map(|(_, r)| r).collect::<Vec<_>>(),
    });
    if ctx.out.json {
        ctx.out.print_json(&summary);
    } else {
        let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
        for s in &summaries {
            let f = |k: &str| s[k].as_f64().unwrap_or(0.0);
            println!(
                "median of {} ({}): {:.0} sagas/s, p50 {:.2} ms, p99 {:.2} ms ({} cores)",
                s["runs"],
                match &s["durability"] {
                    Value::String(d) => format!("durability {d}"),
                    _ => "memory".into(),
                },
                f("medianSagasPerS"),
                f("medianP50Ms"),
                f("medianP99Ms"),
                cores,
            );
            if let Some(fl) = s["storeFloorSagasPerS"].as_f64() {
                println!(
                    "  store floor (the minimal durable writes alone, 5 sagas started a commit, \
                     each commit waited for): {fl:.0} sagas/s"
                );
            }
        }
    }
    Ok(if violations > 0 {
        exit::INVARIANT
    } else {
        exit::OK
    })
}
