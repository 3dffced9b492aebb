//! `trip simulate`: seeded simulations of many sagas under injected faults, in virtual time,
//! with the saga's invariants checked after every run (exit 5 on a violation).

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::{Context, bail};
use clap::Args;
use serde_json::json;
use trip_local::faults::FaultRates;
use trip_local::simulate::{SimOptions, SimReport, simulate as run_simulation};

use super::json_arg;
use crate::{Ctx, exit};

#[derive(Args)]
#[command(
    after_help = "Same seed, same run: a violation prints its seed, the violating trip's \
                        events and the command line that reruns it, and exits 5.\n\
                        Fault kinds: duplicate, delay, store-error, cancel-error, publish-error, \
                        lost-callback, workflow-publish-error, crash-mid-batch, process-crash."
)]
pub struct SimulateArgs {
    /// The first seed: it decides the trips, their arrival, ids, tokens, jitter and faults.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Trips per seed (a mix of booked, compensated at each step, capacity races, duplicates
    /// and invalid requests).
    #[arg(long, default_value_t = 50)]
    pub trips: usize,
    /// How many seeds to run, from --seed on.
    #[arg(long, default_value_t = 1)]
    pub seeds: u64,
    /// Fault rates: `default` (every kind), `none`, or a JSON FaultRates object (inline or
    /// file://path; missing fields are taken from the defaults).
    #[arg(long, default_value = "default")]
    pub faults: String,
    /// Rate of duplicate deliveries.
    #[arg(long)]
    pub rate_duplicate: Option<f64>,
    /// Rate of delayed (reordered) deliveries.
    #[arg(long)]
    pub rate_delay: Option<f64>,
    /// Longest injected delay (ms).
    #[arg(long)]
    pub max_delay_ms: Option<i64>,
    /// Rate of transient booking-store errors.
    #[arg(long)]
    pub rate_store_error: Option<f64>,
    /// Rate of failed compensations (the original demo failed 60%).
    #[arg(long)]
    pub rate_cancel_error: Option<f64>,
    /// Rate of transient publish errors in the services.
    #[arg(long)]
    pub rate_publish_error: Option<f64>,
    /// Rate of callbacks to the workflow lost on their way.
    #[arg(long)]
    pub rate_lost_callback: Option<f64>,
    /// Rate of the workflow's putEvents failing.
    #[arg(long)]
    pub rate_workflow_publish_error: Option<f64>,
    /// Rate of handler crashes in the middle of a batch.
    #[arg(long)]
    pub rate_crash_mid_batch: Option<f64>,
    /// Rate of whole-process crashes (restarted from the store) per step.
    #[arg(long)]
    pub rate_process_crash: Option<f64>,
}

fn rates(args: &SimulateArgs) -> anyhow::Result<Option<FaultRates>> {
    let mut r = match args.faults.as_str() {
        "default" => FaultRates::DEFAULT,
        "none" => FaultRates::NONE,
        other => {
            let text = json_arg(other, "fault rates")?;
            let given: serde_json::Value =
                serde_json::from_str(&text).context("--faults is not JSON")?;
            let mut base = serde_json::to_value(FaultRates::DEFAULT)?;
            let (Some(b), Some(g)) = (base.as_object_mut(), given.as_object()) else {
                bail!("--faults must be default, none or a JSON object of rates");
            };
            for (k, v) in g {
                if !b.contains_key(k) {
                    bail!(
                        "--faults: unknown fault {k:?} (known: {})",
                        b.keys().cloned().collect::<Vec<_>>().join(", ")
                    );
                }
                b.insert(k.clone(), v.clone());
            }
            serde_json::from_value(base).context("--faults: a rate is not a number")?
        }
    };
    let overrides = [
        (&mut r.duplicate, args.rate_duplicate),
        (&mut r.delay, args.rate_delay),
        (&mut r.store_error, args.rate_store_error),
        (&mut r.cancel_error, args.rate_cancel_error),
        (&mut r.publish_error, args.rate_publish_error),
        (&mut r.lost_callback, args.rate_lost_callback),
        (
            &mut r.workflow_publish_error,
            args.rate_workflow_publish_error,
        ),
        (&mut r.crash_mid_batch, args.rate_crash_mid_batch),
        (&mut r.process_crash, args.rate_process_crash),
    ];
    for (slot, given) in overrides {
        if let Some(v) = given {
            *slot = v;
        }
    }
    if let Some(ms) = args.max_delay_ms {
        r.max_delay_ms = ms;
    }
    let all = [
        r.duplicate,
        r.delay,
        r.store_error,
        r.cancel_error,
        r.publish_error,
        r.lost_callback,
        r.workflow_publish_error,
        r.crash_mid_batch,
        r.process_crash,
    ];
    if all.iter().any(|p| !(0.0..=1.0).contains(p)) {
        bail!("fault rates are probabilities between 0 and 1");
    }
    // Every cancel failing, or every callback lost, never ends: refuse what cannot settle.
    if r.cancel_error >= 1.0 || r.store_error >= 1.0 || r.publish_error >= 1.0 {
        bail!("a rate of 1 for cancel, store or publish errors never lets a saga end");
    }
    // A crash before every step restarts the runtime forever without running one.
    if r.process_crash >= 1.0 {
        bail!("a process-crash rate of 1 crashes before every step, so no saga ever runs");
    }
    Ok((r != FaultRates::NONE).then_some(r))
}

fn fmt_duration(ms: i64) -> String {
    let s = ms / 1000;
    if s >= 3600 {
        format!("{}h{:02}m", s / 3600, (s % 3600) / 60)
    } else {
        format!("{}m{:02}s", s / 60, s % 60)
    }
}

pub fn simulate(ctx: &Ctx, args: SimulateArgs) -> anyhow::Result<u8> {
    let faults = rates(&args)?;
    // The named store keeps the run for `trip status`/`export`; otherwise a temporary file
    // (a file all the same, so that process crashes really restart from it).
    let store: Option<PathBuf> = if ctx.store_given {
        ctx.store.clone()
    } else {
        None
    };
    let out = ctx.out;
    let mut reports: Vec<SimReport> = Vec::new();
    for i in 0..args.seeds.max(1) {
        let seed = args.seed.wrapping_add(i);
        let store = store.as_ref().map(|p| {
            if args.seeds > 1 {
                let mut s = p.as_os_str().to_owned();
                s.push(format!(".{seed}"));
                PathBuf::from(s)
            } else {
                p.clone()
            }
        });
        let options = SimOptions {
            seed,
            trips: args.trips,
            faults,
            store,
        };
        let r = run_simulation(&options).with_context(|| format!("seed {seed}"))?;
        if !out.json {
            let outcomes: Vec<String> =
                r.outcomes.iter().map(|(k, v)| format!("{v} {k}")).collect();
            println!(
                "seed {:<6} {} trips ({}), {} events, {} faults, {} restart(s), {} dead letter(s), {} virtual, log {}  {}",
                r.seed,
                r.trips,
                outcomes.join(", "),
                r.events,
                r.faults_total,
                r.restarts,
                r.dead_letters,
                fmt_duration(r.virtual_ms),
                r.log_digest,
                if r.ok() {
                    out.good("ok")
                } else {
                    out.bad(&format!("{} VIOLATION(S)", r.violations.len()))
                }
            );
            for v in &r.violations {
                println!(
                    "{} seed {} trip {} [{}]: {}",
                    out.bad("VIOLATION"),
                    v.seed,
                    out.trip(&v.trip_id),
                    v.invariant,
                    v.detail
                );
                for line in &v.trace {
                    println!("    {line}");
                }
                println!("  rerun: {}", out.bold(&v.rerun));
            }
        }
        reports.push(r);
    }

    let mut faults_by_kind: BTreeMap<String, u64> = BTreeMap::new();
    let mut outcomes: BTreeMap<String, usize> = BTreeMap::new();
    for r in &reports {
        for (k, v) in &r.faults {
            *faults_by_kind.entry(k.clone()).or_default() += v;
        }
        for (k, v) in &r.outcomes {
            *outcomes.entry(k.clone()).or_default() += v;
        }
    }
    let sagas: usize = reports.iter().map(|r| r.trips).sum();
    let events: usize = reports.iter().map(|r| r.events).sum();
    let faults_total: u64 = faults_by_kind.values().sum();
    let violations: usize = reports.iter().map(|r| r.violations.len()).sum();
    if out.json {
        out.print_json(&json!({
            "seeds": reports.len(),
            "sagas": sagas,
            "events": events,
            "outcomes": outcomes,
            "faults": faults_by_kind,
            "faultsTotal": faults_total,
            "violations": violations,
            "runs": reports,
        }));
    } else {
        println!();
        println!(
            "{} seed(s), {sagas} sagas, {events} events, {} violation(s)",
            reports.len(),
            violations
        );
        println!("faults injected ({faults_total} in all):");
        for (k, v) in &faults_by_kind {
            println!("  {k:<28} {v}");
        }
        if violations == 0 {
            println!("{}", out.good("invariants ok"));
        }
    }
    Ok(if violations > 0 {
        exit::INVARIANT
    } else {
        exit::OK
    })
}
