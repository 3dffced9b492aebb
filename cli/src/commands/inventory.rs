//! `trip inventory`: what the services can sell — the built-in catalogue of hotels, flights
//! and car fleets with their capacities (`services/booking/src/inventory.rs`).

use clap::Args;
use comfy_table::{Table, presets::UTF8_FULL_CONDENSED};
use serde_json::json;
use trip_booking::inventory::{CAR_FLEETS, FLIGHTS, HOTELS};

use crate::{Ctx, exit};

#[derive(Args)]
#[command(after_help = "Examples:\n  trip inventory\n  trip inventory --json")]
pub struct InventoryArgs {}

pub fn inventory(ctx: &Ctx, _args: InventoryArgs) -> anyhow::Result<u8> {
    let out = ctx.out;
    if out.json {
        out.print_json(&json!({
            "hotels": HOTELS.iter().map(|h| json!({
                "hotelId": h.id, "name": h.name, "roomsPerNight": h.rooms,
            })).collect::<Vec<_>>(),
            "flights": FLIGHTS.iter().map(|f| json!({
                "from": f.from, "to": f.to, "seatsPerDailyFlight": f.seats,
            })).collect::<Vec<_>>(),
            "cars": CAR_FLEETS.iter().flat_map(|c| c.classes.iter().map(|(class, n)| json!({
                "location": c.location, "carClass": class, "carsPerDay": n,
            }))).collect::<Vec<_>>(),
        }));
        return Ok(exit::OK);
    }
    let note = |n: u32, empty: &str| {
        if n == 0 {
            empty.to_owned()
        } else {
            String::new()
        }
    };
    let mut hotels = Table::new();
    hotels.load_preset(UTF8_FULL_CONDENSED);
    hotels.set_header(["hotel", "name", "rooms per night", ""]);
    for h in HOTELS {
        hotels.add_row([
            h.id.to_owned(),
            h.name.to_owned(),
            h.rooms.to_string(),
            note(h.rooms, "sold out"),
        ]);
    }
    let mut flights = Table::new();
    flights.load_preset(UTF8_FULL_CONDENSED);
    flights.set_header(["flight", "seats (daily)", ""]);
    for f in FLIGHTS {
        flights.add_row([
            format!("{}-{}", f.from, f.to),
            f.seats.to_string(),
            note(f.seats, "full"),
        ]);
    }
    let mut cars = Table::new();
    cars.load_preset(UTF8_FULL_CONDENSED);
    cars.set_header(["location", "cars per class per day"]);
    for c in CAR_FLEETS {
        let classes: Vec<String> = c
            .classes
            .iter()
            .map(|(class, n)| format!("{class} {n}"))
            .collect();
        cars.add_row([c.location.to_owned(), classes.join(", ")]);
    }
    println!("{}\n{hotels}\n", out.bold("hotels"));
    println!("{}\n{flights}\n", out.bold("flights"));
    println!("{}\n{cars}", out.bold("cars"));
    println!(
        "{}",
        out.dim(
            "A stay holds one room per night; a flight one seat per passenger on the outbound \
             and the return; a car one car per 24-hour rental day. Anything else is refused."
        )
    );
    Ok(exit::OK)
}
