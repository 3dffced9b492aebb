//! Sources and detail-types: the names on the bus, in one place.

use std::fmt;
use std::str::FromStr;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Event sources. Every source of the saga starts with `trip.`.
pub mod source {
    /// A client asking for a trip (`put-events`).
    pub const CLIENT: &str = "trip.client";
    /// The saga workflow: commands to the services and the trip's outcome.
    pub const SAGA: &str = "trip.saga";
    /// The saga bridge: requests it refuses before a saga starts.
    pub const BRIDGE: &str = "trip.bridge";
    /// The hotel service.
    pub const HOTEL: &str = "trip.hotel";
    /// The flight service.
    pub const FLIGHT: &str = "trip.flight";
    /// The car rental service.
    pub const CAR: &str = "trip.car";
    /// Prefix shared by every source of the saga (the catch-all rule matches on it).
    pub const PREFIX: &str = "trip.";
}

/// One of the three booking services of the saga, in the order the saga books them.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Service {
    Hotel,
    Flight,
    Car,
}

impl Service {
    /// Booking order; compensation runs it backwards.
    pub const ALL: [Service; 3] = [Service::Hotel, Service::Flight, Service::Car];

    pub fn name(self) -> &'static str {
        match self {
            Service::Hotel => "hotel",
            Service::Flight => "flight",
            Service::Car => "car",
        }
    }

    /// The source of the events this service emits.
    pub fn source(self) -> &'static str {
        match self {
            Service::Hotel => source::HOTEL,
            Service::Flight => source::FLIGHT,
            Service::Car => source::CAR,
        }
    }

    /// The workflow state that books with this service.
    pub fn book_step(self) -> &'static str {
        match self {
            Service::Hotel => "BookHotel",
            Service::Flight => "BookFlight",
            Service::Car => "BookCar",
        }
    }

    /// The workflow state that undoes this service's booking.
    pub fn cancel_step(self) -> &'static str {
        match self {
            Service::Hotel => "CancelHotel",
            Service::Flight => "CancelFlight",
            Service::Car => "CancelCar",
        }
    }

    pub fn booking_requested(self) -> DetailType {
        match self {
            Service::Hotel => DetailType::HotelBookingRequested,
            Service::Flight => DetailType::FlightBookingRequested,
            Service::Car => DetailType::CarBookingRequested,
        }
    }

    pub fn booked(self) -> DetailType {
        match self {
            Service::Hotel => DetailType::HotelBooked,
            Service::Flight => DetailType::FlightBooked,
            Service::Car => DetailType::CarBooked,
        }
    }

    pub fn booking_failed(self) -> DetailType {
        match self {
            Service::Hotel => DetailType::HotelBookingFailed,
            Service::Flight => DetailType::FlightBookingFailed,
            Service::Car => DetailType::CarBookingFailed,
        }
    }

    pub fn cancellation_requested(self) -> DetailType {
        match self {
            Service::Hotel => DetailType::HotelCancellationRequested,
            Service::Flight => DetailType::FlightCancellationRequested,
            Service::Car => DetailType::CarCancellationRequested,
        }
    }

    pub fn cancelled(self) -> DetailType {
        match self {
            Service::Hotel => DetailType::HotelCancelled,
            Service::Flight => DetailType::FlightCancelled,
            Service::Car => DetailType::CarCancelled,
        }
    }
}

impl fmt::Display for Service {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Service {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "hotel" => Ok(Service::Hotel),
            "flight" => Ok(Service::Flight),
            "car" => Ok(Service::Car),
            other => Err(format!(
                "unknown service {other:?} (expected hotel, flight or car)"
            )),
        }
    }
}

macro_rules! detail_types {
    ($($variant:ident => $source:expr),+ $(,)?) => {
        /// Every detail-type of the saga. Facts are past-tense nouns; commands end in `Requested`.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        pub enum DetailType {
            $($variant),+
        }

        impl DetailType {
            pub const ALL: &'static [DetailType] = &[$(DetailType::$variant),+];

            /// The detail-type string on the bus.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(DetailType::$variant => stringify!($variant)),+
                }
            }

            /// The source that emits this detail-type.
            pub fn source(self) -> &'static str {
                match self {
                    $(DetailType::$variant => $source),+
                }
            }
        }

        impl FromStr for DetailType {
            type Err = String;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s {
                    $(stringify!($variant) => Ok(DetailType::$variant),)+
                    other => Err(format!("unknown detail-type {other:?}")),
                }
            }
        }
    };
}

detail_types! {
    TripBookingRequested => source::CLIENT,
    HotelBookingRequested => source::SAGA,
    FlightBookingRequested => source::SAGA,
    CarBookingRequested => source::SAGA,
    HotelBooked => source::HOTEL,
    FlightBooked => source::FLIGHT,
    CarBooked => source::CAR,
    HotelBookingFailed => source::HOTEL,
    FlightBookingFailed => source::FLIGHT,
    CarBookingFailed => source::CAR,
    HotelCancellationRequested => source::SAGA,
    FlightCancellationRequested => source::SAGA,
    CarCancellationRequested => source::SAGA,
    HotelCancelled => source::HOTEL,
    FlightCancelled => source::FLIGHT,
    CarCancelled => source::CAR,
    TripBooked => source::SAGA,
    TripBookingFailed => source::SAGA,
    TripBookingRejected => source::BRIDGE,
    TripCompensationStuck => source::SAGA,
}

impl DetailType {
    /// The service this event is addressed to or comes from, if any.
    pub fn service(self) -> Option<Service> {
        Service::ALL.into_iter().find(|s| {
            [
                s.booking_requested(),
                s.booked(),
                s.booking_failed(),
                s.cancellation_requested(),
                s.cancelled(),
            ]
            .contains(&self)
        })
    }

    /// Commands the workflow sends and waits on with a task token.
    pub fn is_command(self) -> bool {
        self.as_str().ends_with("Requested") && self != DetailType::TripBookingRequested
    }

    /// A service's answer to a command: it carries the task token back to the workflow.
    pub fn is_outcome(self) -> bool {
        matches!(self.source(), source::HOTEL | source::FLIGHT | source::CAR)
    }
}

impl fmt::Display for DetailType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_detail_type_round_trips_through_its_name() {
        for dt in DetailType::ALL {
            assert_eq!(dt.as_str().parse::<DetailType>(), Ok(*dt));
            assert!(dt.source().starts_with(source::PREFIX));
        }
    }

    #[test]
    fn each_service_owns_exactly_five_detail_types() {
        for s in Service::ALL {
            let owned = DetailType::ALL
                .iter()
                .filter(|d| d.service() == Some(s))
                .count();
            assert_eq!(owned, 5, "{s}");
        }
        assert_eq!(DetailType::TripBooked.service(), None);
    }

    #[test]
    fn commands_and_outcomes_are_told_apart() {
        assert!(DetailType::HotelCancellationRequested.is_command());
        assert!(!DetailType::TripBookingRequested.is_command());
        assert!(DetailType::CarBookingFailed.is_outcome());
        assert!(!DetailType::TripBookingFailed.is_outcome());
    }
}
