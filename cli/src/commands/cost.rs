//! `trip cost`: dollars per million trips on AWS, priced from what sagas did in the embedded
//! runtime (trip_local::cost), against the original demo's shape.

use clap::Args;
use serde_json::json;
use trip_local::cost::{
    Assumptions, Bill, CostOptions, DemoAssumptions, US_EAST_1, idle_polling_usd_per_month,
    measure, measure_demo, optional_extras, price, price_demo,
};

use trip_local::bench::TripShape;

use crate::{Ctx, exit};

#[derive(Args)]
pub struct CostArgs {
    /// Trips to run through the embedded runtime.
    #[arg(long, default_value_t = 300)]
    pub trips: usize,
    /// Share of trips that fail and compensate (spread over hotel, flight and car).
    #[arg(long, default_value_t = 0.1)]
    pub failure_rate: f64,
    /// Trips in flight together (1: every Lambda batch holds one record, a quiet system).
    #[arg(long, default_value_t = 1)]
    pub concurrency: usize,
    /// The trips: `readme` (the README's sample: 4 nights, a return flight for 2, a 4-day
    /// car) or `small` (1 night, one way, 1 day).
    #[arg(long, default_value_t = TripShape::Readme)]
    pub shape: TripShape,
    /// The Lambdas' architecture: the stack deploys arm64 unless its context says
    /// `arch=x86_64`.
    #[arg(long, default_value = "arm64", value_parser = ["arm64", "x86_64"])]
    pub arch: String,
}

fn print_bill(title: &str, bill: &Bill) {
    println!("\n{title}");
    println!(
        "  {:<16} {:<58} {:>12} {:>12}",
        "service", "item", "per trip", "$/M trips"
    );
    for l in &bill.lines {
        println!(
            "  {:<16} {:<58} {:>12.6} {:>12.2}{}",
            l.service,
            l.item,
            l.per_trip,
            l.usd_per_million_trips,
            if l.core { "" } else { "  (observability)" }
        );
    }
    for (service, usd) in bill.by_service() {
        println!("  {service:<16} {usd:>85.2}");
    }
    println!(
        "  {:<16} {:>85.2}\n  {:<16} {:>85.2}",
        "core total",
        bill.core_total(),
        "total",
        bill.total()
    );
}

pub fn cost(ctx: &Ctx, args: CostArgs) -> anyhow::Result<u8> {
    let prices = US_EAST_1;
    let assumptions = Assumptions {
        arm64: args.arch == "arm64",
        ..Assumptions::default()
    };
    let demo_assumptions = DemoAssumptions::default();
    let run = |failure_rate: f64| {
        measure(&CostOptions {
            trips: args.trips,
            failure_rate,
            concurrency: args.concurrency,
            shape: args.shape,
            seed: 1,
        })
    };
    let happy = run(0.0)?;
    let mixed = run(args.failure_rate)?;
    let happy_bill = price(&happy, &assumptions, &prices);
    let mixed_bill = price(&mixed, &assumptions, &prices);
    let demo_happy = measure_demo(args.trips, 0.0, demo_assumptions.cancel_failure_rate, 1)?;
    let demo_mixed = measure_demo(
        args.trips,
        args.failure_rate,
        demo_assumptions.cancel_failure_rate,
        1,
    )?;
    let demo_happy_bill = price_demo(&demo_happy, &demo_assumptions, &prices);
    let demo_mixed_bill = price_demo(&demo_mixed, &demo_assumptions, &prices);
    let extras = optional_extras(&mixed, &prices);
    let idle = idle_polling_usd_per_month(mixed.queues.len(), &prices);

    if ctx.out.json {
        ctx.out.print_json(&json!({
            "trips": args.trips,
            "shape": args.shape,
            "arch": args.arch,
            "failureRate": args.failure_rate,
            "concurrency": args.concurrency,
            "prices": prices,
            "assumptions": assumptions,
            "happyPath": {"usage": happy, "bill": happy_bill.to_json()},
            "withFailures": {"usage": mixed, "bill": mixed_bill.to_json()},
            "optionalExtras": extras,
            "idleSqsPollingUsdPerMonth": idle,
            "originalDemo": {
                "assumptions": demo_assumptions,
                "happyPath": {"usage": demo_happy, "bill": demo_happy_bill.to_json()},
                "withFailures": {"usage": demo_mixed, "bill": demo_mixed_bill.to_json()},
            },
        }));
        return Ok(exit::OK);
    }
    println!(
        "{} trips of the {} shape ({} inventory holds each) through the embedded runtime \
         (memory, virtual clock, {} in flight); us-east-1 list prices; Lambda {} MB {}",
        args.trips,
        args.shape,
        args.shape.holds(),
        args.concurrency,
        assumptions.lambda_memory_mb,
        args.arch
    );
    print_bill("This design, happy path (all booked):", &happy_bill);
    print_bill(
        &format!(
            "This design, failure rate {} ({} booked, {} compensated):",
            args.failure_rate, mixed.booked, mixed.failed
        ),
        &mixed_bill,
    );
    print_bill(
        "Original demo's shape, happy path (sync Lambdas, 1024 MB Node.js, assumed 40 ms each):",
        &demo_happy_bill,
    );
    print_bill(
        &format!(
            "Original demo's shape, failure rate {} (cancels fail 60% and loop: {} failed cancels):",
            args.failure_rate, demo_mixed.failed_cancels
        ),
        &demo_mixed_bill,
    );
    println!("\nOptional, not in the totals (failure-rate run):");
    for l in &extras {
        println!(
            "  {:<16} {:<74} {:>12.2}",
            l.service, l.item, l.usd_per_million_trips
        );
    }
    println!(
        "  SQS: idle long-polling by Lambda's event source mappings, {} queues: ~${idle:.2} a \
         month whatever the traffic (assumed 5 pollers x 20 s waits)",
        mixed.queues.len()
    );
    let ratio = |a: f64, b: f64| if b > 0.0 { a / b } else { 0.0 };
    println!(
        "\nCore cost vs the demo: happy path {:.2}x, failure rate {}: {:.2}x (this design / demo)",
        ratio(happy_bill.core_total(), demo_happy_bill.core_total()),
        args.failure_rate,
        ratio(mixed_bill.core_total(), demo_mixed_bill.core_total())
    );
    Ok(exit::OK)
}
