//! The built-in inventory: what each service can sell, and how a request turns into units held
//! on inventory keys.
//!
//! | service | unit | inventory key | capacity per key |
//! | --- | --- | --- | --- |
//! | hotel | one room per stay | hotel and night (check-in up to, not including, check-out) | rooms per night |
//! | flight | one seat per passenger | route and departure date (UTC), the outbound and the optional return | seats per flight |
//! | car | one car | location, class and rental day (24-hour periods from pick-up, UTC) | cars per class per day |
//!
//! Hotels (rooms per night): HTL-LIS-ALFAMA 12, HTL-NYC-HUDSON 40, HTL-FNC-MARINA 25,
//! HTL-CDG-AEROPORT 60, HTL-PAR-LOUVRE 0 (sold out).
//!
//! Flights (seats per flight, every day): JFK-LIS 180, LIS-JFK 180, JFK-CDG 200, CDG-JFK 200,
//! LIS-FNC 0 (full), FNC-LIS 150, LIS-OPO 70, OPO-LIS 70.
//!
//! Cars (per location and class, per day): LIS economy 10, compact 8, midsize 5, suv 3, van 2
//! (no luxury); CDG economy 20, compact 15, midsize 10, fullsize 6, luxury 2, van 4;
//! FNC economy 6, compact 4, suv 2; JFK 10 of every class.
//!
//! Unknown hotels, routes and locations are refused (`UNKNOWN_HOTEL`, `NO_SUCH_FLIGHT`,
//! `NO_CARS_AT_LOCATION`); no room, seat or car left is `SOLD_OUT`, `FLIGHT_FULL` or
//! `NO_CAR_AVAILABLE`.

use chrono::{DateTime, Duration, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use trip_events::{CAR_CLASSES, CarRental, FlightBooking, HotelStay, Service};

use crate::error::{Refusal, reason};

/// A hotel of the catalogue.
#[derive(Debug, Clone, Copy)]
pub struct Hotel {
    pub id: &'static str,
    pub name: &'static str,
    /// Rooms per night.
    pub rooms: u32,
}

pub const HOTELS: &[Hotel] = &[
    Hotel {
        id: "HTL-LIS-ALFAMA",
        name: "Hotel Alfama Patio",
        rooms: 12,
    },
    Hotel {
        id: "HTL-NYC-HUDSON",
        name: "The Hudson River Inn",
        rooms: 40,
    },
    Hotel {
        id: "HTL-FNC-MARINA",
        name: "Funchal Marina Hotel",
        rooms: 25,
    },
    Hotel {
        id: "HTL-CDG-AEROPORT",
        name: "Hotel Aeroport Charles de Gaulle",
        rooms: 60,
    },
    Hotel {
        id: "HTL-PAR-LOUVRE",
        name: "Hotel Le Petit Louvre",
        rooms: 0,
    },
];

/// A daily flight of the catalogue.
#[derive(Debug, Clone, Copy)]
pub struct Route {
    pub from: &'static str,
    pub to: &'static str,
    /// Seats per flight.
    pub seats: u32,
}

pub const FLIGHTS: &[Route] = &[
    Route {
        from: "JFK",
        to: "LIS",
        seats: 180,
    },
    Route {
        from: "LIS",
        to: "JFK",
        seats: 180,
    },
    Route {
        from: "JFK",
        to: "CDG",
        seats: 200,
    },
    Route {
        from: "CDG",
        to: "JFK",
        seats: 200,
    },
    Route {
        from: "LIS",
        to: "FNC",
        seats: 0,
    },
    Route {
        from: "FNC",
        to: "LIS",
        seats: 150,
    },
    Route {
        from: "LIS",
        to: "OPO",
        seats: 70,
    },
    Route {
        from: "OPO",
        to: "LIS",
        seats: 70,
    },
];

/// The cars of one rental location, per class.
#[derive(Debug, Clone, Copy)]
pub struct CarFleet {
    pub location: &'static str,
    pub classes: &'static [(&'static str, u32)],
}

pub const CAR_FLEETS: &[CarFleet] = &[
    CarFleet {
        location: "LIS",
        classes: &[
            ("economy", 10),
            ("compact", 8),
            ("midsize", 5),
            ("suv", 3),
            ("van", 2),
        ],
    },
    CarFleet {
        location: "CDG",
        classes: &[
            ("economy", 20),
            ("compact", 15),
            ("midsize", 10),
            ("fullsize", 6),
            ("luxury", 2),
            ("van", 4),
        ],
    },
    CarFleet {
        location: "FNC",
        classes: &[("economy", 6), ("compact", 4), ("suv", 2)],
    },
    CarFleet {
        location: "JFK",
        classes: &[
            ("economy", 10),
            ("compact", 10),
            ("midsize", 10),
            ("fullsize", 10),
            ("suv", 10),
            ("luxury", 10),
            ("van", 10),
        ],
    },
];

/// A DynamoDB transaction holds at most 100 items: the booking plus its holds must fit.
pub const MAX_HOLDS: usize = 90;

/// Units held on one inventory key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hold {
    /// The inventory key, e.g. `INV#hotel#HTL-LIS-ALFAMA#2031-06-10`.
    pub key: String,
    /// How many units the key has in all.
    pub capacity: u32,
    /// What the refusal says when this key has no room left.
    pub full_message: String,
}

/// What one booking holds: `units` on each of `holds`, all or nothing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HoldPlan {
    pub units: u32,
    pub holds: Vec<Hold>,
    /// The refusal reason when a key is full (`SOLD_OUT`, `FLIGHT_FULL`, `NO_CAR_AVAILABLE`).
    pub full_reason: String,
}

impl HoldPlan {
    /// The refusal when hold `index` has no room for the units.
    pub fn full_refusal(&self, index: usize) -> Refusal {
        let message = self
            .holds
            .get(index)
            .map(|h| h.full_message.clone())
            .unwrap_or_else(|| "no capacity left".to_owned());
        Refusal::new(&self.full_reason, message)
    }
}

/// The key of one unit of inventory: service, resource and date.
pub fn inventory_key(service: Service, resource: &str, date: NaiveDate) -> String {
    format!("INV#{service}#{resource}#{date}")
}

fn invalid(message: impl Into<String>) -> Refusal {
    Refusal::new(reason::INVALID_REQUEST, message)
}

fn date(field: &str, value: &str) -> Result<NaiveDate, Refusal> {
    NaiveDate::parse_from_str(value, "%Y-%m-%d")
        .map_err(|_| invalid(format!("{field} {value:?} is not a YYYY-MM-DD date")))
}

fn time(field: &str, value: &str) -> Result<DateTime<Utc>, Refusal> {
    DateTime::parse_from_rfc3339(value)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| invalid(format!("{field} {value:?} is not an RFC 3339 date-time")))
}

fn check_len(n: usize, what: &str) -> Result<(), Refusal> {
    if n > MAX_HOLDS {
        Err(invalid(format!(
            "{what} of {n} days is longer than this service books"
        )))
    } else {
        Ok(())
    }
}

/// One room for every night of the stay.
pub fn plan_hotel(stay: &HotelStay) -> Result<HoldPlan, Refusal> {
    let hotel = HOTELS
        .iter()
        .find(|h| h.id == stay.hotel_id)
        .ok_or_else(|| {
            Refusal::new(
                reason::UNKNOWN_HOTEL,
                // The id comes from the request: keep the refusal (and the event carrying it)
                // small whatever its size.
                format!(
                    "there is no hotel {:?}",
                    crate::handlers::truncate_chars(&stay.hotel_id, 64)
                ),
            )
        })?;
    if stay.guests == 0 {
        return Err(invalid("a stay needs at least one guest"));
    }
    let check_in = date("checkIn", &stay.check_in)?;
    let check_out = date("checkOut", &stay.check_out)?;
    let nights = (check_out - check_in).num_days();
    if nights <= 0 {
        return Err(invalid(format!(
            "check-out {check_out} is not after check-in {check_in}"
        )));
    }
    check_len(nights as usize, "a stay")?;
    let holds = (0..nights)
        .map(|n| {
            let night = check_in + Duration::days(n);
            Hold {
                key: inventory_key(Service::Hotel, hotel.id, night),
                capacity: hotel.rooms,
                full_message: if hotel.rooms == 0 {
                    format!("{} is fully booked", hotel.name)
                } else {
                    format!("{} is fully booked on the night of {night}", hotel.name)
                },
            }
        })
        .collect();
    Ok(HoldPlan {
        units: 1,
        holds,
        full_reason: reason::SOLD_OUT.to_owned(),
    })
}

/// A seat per passenger on the outbound flight and, when there is one, on the return.
pub fn plan_flight(flight: &FlightBooking) -> Result<HoldPlan, Refusal> {
    if flight.passengers == 0 {
        return Err(invalid("a flight needs at least one passenger"));
    }
    let mut legs = vec![(
        flight.from.as_str(),
        flight.to.as_str(),
        time("departure", &flight.departure)?,
    )];
    if let Some(ret) = &flight.return_departure {
        legs.push((
            flight.to.as_str(),
            flight.from.as_str(),
            time("return", ret)?,
        ));
    }
    let mut holds = Vec::new();
    for (from, to, at) in legs {
        let route = FLIGHTS
            .iter()
            .find(|r| r.from == from && r.to == to)
            .ok_or_else(|| {
                Refusal::new(
                    reason::NO_SUCH_FLIGHT,
                    format!("there is no flight from {from} to {to}"),
                )
            })?;
        let day = at.date_naive();
        holds.push(Hold {
            key: inventory_key(Service::Flight, &format!("{from}-{to}"), day),
            capacity: route.seats,
            full_message: format!("flight {from}-{to} on {day} is full"),
        });
    }
    Ok(HoldPlan {
        units: flight.passengers,
        holds,
        full_reason: reason::FLIGHT_FULL.to_owned(),
    })
}

/// One car of the class for every day of the rental.
pub fn plan_car(car: &CarRental) -> Result<HoldPlan, Refusal> {
    let fleet = CAR_FLEETS
        .iter()
        .find(|f| f.location == car.pick_up_location)
        .ok_or_else(|| {
            Refusal::new(
                reason::NO_CARS_AT_LOCATION,
                format!("no cars are rented at {:?}", car.pick_up_location),
            )
        })?;
    if !CAR_CLASSES.contains(&car.car_class.as_str()) {
        return Err(invalid(format!(
            "{:?} is not a car class ({})",
            car.car_class,
            CAR_CLASSES.join(", ")
        )));
    }
    let Some((class, cars)) = fleet.classes.iter().find(|(c, _)| *c == car.car_class) else {
        return Err(Refusal::new(
            reason::NO_CAR_AVAILABLE,
            format!("{} rents no {} cars", fleet.location, car.car_class),
        ));
    };
    let pick_up = time("pickUpAt", &car.pick_up_at)?;
    let drop_off = time("dropOffAt", &car.drop_off_at)?;
    if drop_off <= pick_up {
        return Err(invalid(format!(
            "drop-off {drop_off} is not after pick-up {pick_up}"
        )));
    }
    // A rental day is a started 24-hour period from the pick-up.
    let minutes = (drop_off - pick_up).num_minutes();
    let days = (minutes + 24 * 60 - 1) / (24 * 60);
    check_len(days as usize, "a rental")?;
    let first = pick_up.date_naive();
    let resource = format!("{}-{}", fleet.location, class);
    let holds = (0..days)
        .map(|d| {
            let day = first + Duration::days(d);
            Hold {
                key: inventory_key(Service::Car, &resource, day),
                capacity: *cars,
                full_message: format!("no {class} car is left at {} on {day}", fleet.location),
            }
        })
        .collect();
    Ok(HoldPlan {
        units: 1,
        holds,
        full_reason: reason::NO_CAR_AVAILABLE.to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stay(hotel: &str, from: &str, to: &str) -> HotelStay {
        HotelStay {
            hotel_id: hotel.into(),
            check_in: from.into(),
            check_out: to.into(),
            guests: 2,
        }
    }

    #[test]
    fn a_stay_holds_one_room_per_night_excluding_check_out() {
        let plan = plan_hotel(&stay("HTL-LIS-ALFAMA", "2031-06-10", "2031-06-13")).unwrap();
        assert_eq!(plan.units, 1);
        let keys: Vec<_> = plan.holds.iter().map(|h| h.key.as_str()).collect();
        assert_eq!(
            keys,
            [
                "INV#hotel#HTL-LIS-ALFAMA#2031-06-10",
                "INV#hotel#HTL-LIS-ALFAMA#2031-06-11",
                "INV#hotel#HTL-LIS-ALFAMA#2031-06-12"
            ]
        );
        assert!(plan.holds.iter().all(|h| h.capacity == 12));
    }

    #[test]
    fn unknown_hotel_and_bad_dates_are_refused() {
        let r = plan_hotel(&stay("HTL-NOWHERE", "2031-06-10", "2031-06-13")).unwrap_err();
        assert_eq!(r.reason, reason::UNKNOWN_HOTEL);
        let r = plan_hotel(&stay("HTL-LIS-ALFAMA", "2031-06-10", "2031-06-10")).unwrap_err();
        assert_eq!(r.reason, reason::INVALID_REQUEST);
    }

    #[test]
    fn a_return_flight_holds_seats_on_both_legs() {
        let plan = plan_flight(&FlightBooking {
            from: "JFK".into(),
            to: "LIS".into(),
            departure: "2031-06-09T22:15:00Z".into(),
            return_departure: Some("2031-06-14T11:00:00Z".into()),
            passengers: 3,
        })
        .unwrap();
        assert_eq!(plan.units, 3);
        let keys: Vec<_> = plan.holds.iter().map(|h| h.key.as_str()).collect();
        assert_eq!(
            keys,
            [
                "INV#flight#JFK-LIS#2031-06-09",
                "INV#flight#LIS-JFK#2031-06-14"
            ]
        );
    }

    #[test]
    fn an_unknown_return_route_is_no_such_flight() {
        let r = plan_flight(&FlightBooking {
            from: "LIS".into(),
            to: "CDG".into(),
            departure: "2031-06-09T22:15:00Z".into(),
            return_departure: None,
            passengers: 1,
        })
        .unwrap_err();
        assert_eq!(r.reason, reason::NO_SUCH_FLIGHT);
    }

    #[test]
    fn a_rental_holds_a_car_per_started_day() {
        let car = |class: &str, at: &str| CarRental {
            pick_up_location: at.into(),
            pick_up_at: "2031-06-10T09:00:00Z".into(),
            drop_off_at: "2031-06-14T08:00:00Z".into(),
            car_class: class.into(),
        };
        let plan = plan_car(&car("compact", "LIS")).unwrap();
        assert_eq!(plan.holds.len(), 4);
        assert_eq!(plan.holds[0].key, "INV#car#LIS-compact#2031-06-10");
        assert_eq!(plan.holds[3].key, "INV#car#LIS-compact#2031-06-13");
        assert_eq!(plan.holds[0].capacity, 8);
        assert_eq!(
            plan_car(&car("luxury", "LIS")).unwrap_err().reason,
            reason::NO_CAR_AVAILABLE
        );
        assert_eq!(
            plan_car(&car("economy", "OPO")).unwrap_err().reason,
            reason::NO_CARS_AT_LOCATION
        );
        assert_eq!(
            plan_car(&car("luxury", "JFK")).unwrap().holds[0].capacity,
            10
        );
    }
}
