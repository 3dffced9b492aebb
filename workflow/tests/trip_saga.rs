//! The trip saga's definition, run by the interpreter with a recording event bus standing in
//! for EventBridge and the test standing in for the hotel, flight and car services.

use std::sync::{Arc, Mutex};

use serde_json::{Value, json};
use trip_workflow::{
    Engine, EngineConfig, ExecutionStatus, MemoryStore, RecordingPublisher, SeededRandom,
    TRIP_SAGA_ASL, TRIP_SAGA_NAME, VirtualClock, WorkflowError, trip_saga_substitutions,
};

const T0: i64 = 1_717_200_000_000;

fn definition() -> Value {
    serde_json::from_str(TRIP_SAGA_ASL).unwrap()
}

/// A state's TimeoutSeconds, in ms, as the definition sets it.
fn timeout_ms(state: &str) -> i64 {
    definition()["States"][state]["TimeoutSeconds"]
        .as_i64()
        .unwrap()
        * 1000
}

/// How often a state retries `States.Timeout` before giving up on it.
fn timeout_retries(state: &str) -> usize {
    definition()["States"][state]["Retry"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| {
            r["ErrorEquals"]
                .as_array()
                .unwrap()
                .iter()
                .any(|e| e == "States.Timeout" || e == "States.ALL")
        })
        .map_or(0, |r| r["MaxAttempts"].as_u64().unwrap_or(3) as usize)
}

struct Saga {
    engine: Engine,
    clock: VirtualClock,
    bus: Arc<Mutex<RecordingPublisher>>,
    store: MemoryStore,
    seen: usize,
    sm: String,
}

fn trip_request(trip: &str) -> Value {
    json!({
        "tripId": trip,
        "traveller": {"name": "Ada"},
        "hotel": {"hotelId": "H1", "checkIn": "2024-07-01", "checkOut": "2024-07-05"},
        "flight": {"from": "LHR", "to": "JFK", "date": "2024-07-01"},
        "car": {"carClass": "compact", "pickUp": "JFK"},
        "metadata": {"schemaVersion": "1", "correlationId": format!("corr-{trip}")}
    })
}

impl Saga {
    fn new() -> Saga {
        Saga::over(MemoryStore::new(), VirtualClock::new(T0), 1)
    }

    fn over(store: MemoryStore, clock: VirtualClock, seed: u64) -> Saga {
        let bus = Arc::new(Mutex::new(RecordingPublisher::default()));
        let mut engine = Engine::new(
            EngineConfig::default(),
            Box::new(store.clone()),
            Arc::new(clock.clone()),
            Box::new(SeededRandom::new(seed)),
        )
        .unwrap();
        engine.register_event_publisher(Arc::clone(&bus));
        let sm = engine
            .create_state_machine(
                TRIP_SAGA_NAME,
                TRIP_SAGA_ASL,
                &trip_saga_substitutions("trip-bus"),
            )
            .unwrap();
        Saga {
            engine,
            clock,
            bus,
            store,
            seen: 0,
            sm,
        }
    }

    fn start(&mut self, trip: &str) -> String {
        let arn = self
            .engine
            .start_execution(&self.sm, Some(trip), &trip_request(trip).to_string())
            .unwrap()
            .execution_arn;
        self.engine.run().unwrap();
        arn
    }

    /// Entries published since the last call.
    fn new_events(&mut self) -> Vec<Value> {
        let all = self.bus.lock().unwrap().published.clone();
        let fresh = all[self.seen..].to_vec();
        self.seen = all.len();
        fresh
    }

    fn all_detail_types(&self) -> Vec<String> {
        self.bus
            .lock()
            .unwrap()
            .published
            .iter()
            .map(|e| e["DetailType"].as_str().unwrap().to_string())
            .collect()
    }

    /// The token of the only new event, which must have the given detail type.
    fn expect_request(&mut self, detail_type: &str) -> String {
        let events = self.new_events();
        assert_eq!(
            events.len(),
            1,
            "expected one {detail_type}, got {events:#?}"
        );
        assert_eq!(events[0]["DetailType"], detail_type);
        assert_eq!(events[0]["Source"], "trip.saga");
        assert_eq!(events[0]["EventBusName"], "trip-bus");
        events[0]["Detail"]["metadata"]["taskToken"]
            .as_str()
            .unwrap()
            .to_string()
    }

    fn succeed(&mut self, token: &str, output: Value) {
        self.engine
            .send_task_success(token, &output.to_string())
            .unwrap();
        self.engine.run().unwrap();
    }

    fn fail(&mut self, token: &str, error: &str) {
        self.engine
            .send_task_failure(token, error, "the service said no")
            .unwrap();
        self.engine.run().unwrap();
    }

    fn advance_to_next_wakeup(&mut self) {
        let t = self
            .engine
            .next_wakeup()
            .expect("a timer should be pending");
        self.clock.set(t);
        self.engine.run().unwrap();
    }

    fn status(&mut self, arn: &str) -> ExecutionStatus {
        self.engine.describe_execution(arn).unwrap().status
    }
}

const BOOKINGS: [(&str, &str); 3] = [
    ("HotelBookingRequested", "hotel"),
    ("FlightBookingRequested", "flight"),
    ("CarBookingRequested", "car"),
];

#[test]
fn happy_path_books_all_three_in_four_transitions() {
    // Given a saga started for trip t-1
    let mut s = Saga::new();
    let arn = s.start("t-1");
    // When each service confirms its booking
    for (dt, key) in BOOKINGS {
        let token = s.expect_request(dt);
        s.succeed(&token, json!({"bookingId": format!("{key}-42")}));
    }
    // Then TripBooked carries the three bookings and the execution succeeded in 4 transitions
    let events = s.new_events();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["DetailType"], "TripBooked");
    assert_eq!(
        events[0]["Detail"],
        json!({
            "tripId": "t-1",
            "hotel": {"bookingId": "hotel-42"},
            "flight": {"bookingId": "flight-42"},
            "car": {"bookingId": "car-42"},
            "metadata": {"schemaVersion": "1", "correlationId": "corr-t-1"}
        })
    );
    let d = s.engine.describe_execution(&arn).unwrap();
    assert_eq!(d.status, ExecutionStatus::Succeeded);
    assert_eq!(d.transitions, 4);
    let entered: Vec<String> = s
        .engine
        .get_execution_history(&arn)
        .unwrap()
        .iter()
        .filter(|e| e.event_type.ends_with("StateEntered"))
        .map(|e| e.details["name"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        entered,
        ["BookHotel", "BookFlight", "BookCar", "NotifyTripBooked"]
    );
}

#[test]
fn booking_requests_carry_the_request_fields() {
    // Given a started saga
    let mut s = Saga::new();
    s.start("t-2");
    // When the hotel request is published
    let events = s.new_events();
    // Then its detail holds the trip, traveller, hotel and metadata with a token
    let d = &events[0]["Detail"];
    assert_eq!(d["tripId"], "t-2");
    assert_eq!(d["traveller"], json!({"name": "Ada"}));
    assert_eq!(d["hotel"]["hotelId"], "H1");
    assert!(d.get("flight").is_none());
    assert_eq!(d["metadata"]["schemaVersion"], "1");
    assert_eq!(d["metadata"]["correlationId"], "corr-t-2");
    assert!(!d["metadata"]["taskToken"].as_str().unwrap().is_empty());
}

/// Books the steps before `failing` (0-based), then fails `failing` with `error`.
fn fail_at(failing: usize, how: &str) -> (Saga, String) {
    let mut s = Saga::new();
    let arn = s.start(&format!("t-fail-{failing}-{how}"));
    for (i, (dt, key)) in BOOKINGS.iter().enumerate() {
        let token = s.expect_request(dt);
        if i == failing {
            match how {
                "business" => s.fail(&token, "Trip.BusinessError"),
                "timeout" => {
                    // No answer: the step times out after its TimeoutSeconds, is asked again
                    // on each retry of States.Timeout, and times out every time.
                    let state = ["BookHotel", "BookFlight", "BookCar"][i];
                    let timeout = timeout_ms(state);
                    s.clock.advance(timeout - 1_000);
                    s.engine.run().unwrap();
                    assert!(
                        s.new_events().is_empty(),
                        "nothing happens before the timeout"
                    );
                    s.clock.advance(1_000);
                    s.engine.run().unwrap();
                    for _ in 0..timeout_retries(state) {
                        s.advance_to_next_wakeup();
                        s.expect_request(dt);
                        s.clock.advance(timeout);
                        s.engine.run().unwrap();
                    }
                }
                _ => unreachable!(),
            }
            break;
        }
        s.succeed(&token, json!({"bookingId": format!("{key}-1")}));
    }
    (s, arn)
}

fn compensate_all(s: &mut Saga, expected: &[&str]) -> Vec<Value> {
    for dt in expected {
        let token = s.expect_request(dt);
        s.succeed(&token, json!({"cancelled": true}));
    }
    s.new_events()
}

#[test]
fn business_failure_at_each_step_compensates_last_in_first_out() {
    let cases: [(usize, &str, &[&str]); 3] = [
        (0, "BookHotel", &["HotelCancellationRequested"]),
        (
            1,
            "BookFlight",
            &["FlightCancellationRequested", "HotelCancellationRequested"],
        ),
        (
            2,
            "BookCar",
            &[
                "CarCancellationRequested",
                "FlightCancellationRequested",
                "HotelCancellationRequested",
            ],
        ),
    ];
    for (step, name, cancels) in cases {
        // Given a saga whose step `name` fails with a business error
        let (mut s, arn) = fail_at(step, "business");
        // When every compensation is confirmed
        let last = compensate_all(&mut s, cancels);
        // Then TripBookingFailed names the step, the error and what was undone
        assert_eq!(last.len(), 1, "{name}");
        assert_eq!(last[0]["DetailType"], "TripBookingFailed");
        let d = &last[0]["Detail"];
        assert_eq!(d["failedStep"], name);
        assert_eq!(d["error"]["Error"], "Trip.BusinessError");
        assert_eq!(d["error"]["Cause"], "the service said no");
        let undone = d["undone"].as_object().unwrap();
        assert_eq!(undone.len(), cancels.len(), "{name}: {undone:?}");
        assert_eq!(
            d["metadata"]["correlationId"],
            format!("corr-t-fail-{step}-business")
        );
        // And the execution failed with TripBookingFailed
        let desc = s.engine.describe_execution(&arn).unwrap();
        assert_eq!(desc.status, ExecutionStatus::Failed);
        assert_eq!(desc.error.as_deref(), Some("TripBookingFailed"));
        let cause = desc.cause.unwrap();
        assert!(
            cause.contains(name) && cause.contains("Trip.BusinessError"),
            "{cause}"
        );
        // And the whole event order is bookings, then cancels in reverse
        let mut expected: Vec<String> = BOOKINGS[..=step]
            .iter()
            .map(|(d, _)| d.to_string())
            .collect();
        expected.extend(cancels.iter().map(|c| c.to_string()));
        expected.push("TripBookingFailed".into());
        assert_eq!(s.all_detail_types(), expected);
    }
}

#[test]
fn timeout_at_each_step_is_compensated_like_a_failure() {
    let cases: [(usize, &str, &[&str]); 3] = [
        (0, "BookHotel", &["HotelCancellationRequested"]),
        (
            1,
            "BookFlight",
            &["FlightCancellationRequested", "HotelCancellationRequested"],
        ),
        (
            2,
            "BookCar",
            &[
                "CarCancellationRequested",
                "FlightCancellationRequested",
                "HotelCancellationRequested",
            ],
        ),
    ];
    for (step, name, cancels) in cases {
        // Given a step that never answers, When its timeout passes on every attempt
        let (mut s, arn) = fail_at(step, "timeout");
        let last = compensate_all(&mut s, cancels);
        // Then the saga compensates and reports States.Timeout
        assert_eq!(last[0]["DetailType"], "TripBookingFailed");
        assert_eq!(last[0]["Detail"]["failedStep"], name);
        assert_eq!(last[0]["Detail"]["error"]["Error"], "States.Timeout");
        assert_eq!(s.status(&arn), ExecutionStatus::Failed);
        let history = s.engine.get_execution_history(&arn).unwrap();
        assert!(history.iter().any(|e| e.event_type == "TaskTimedOut"));
    }
}

#[test]
fn transient_error_is_retried_with_backoff_then_succeeds() {
    // Given a saga waiting on the hotel
    let mut s = Saga::new();
    let arn = s.start("t-transient");
    let first = s.expect_request("HotelBookingRequested");
    // When the hotel service reports a transient error twice
    s.fail(&first, "Trip.TransientError");
    assert!(s.new_events().is_empty(), "the retry waits for its backoff");
    let wake = s.engine.next_wakeup().unwrap();
    assert!(
        wake <= s.clock.now() + 2_000,
        "first retry within IntervalSeconds (full jitter)"
    );
    s.advance_to_next_wakeup();
    let second = s.expect_request("HotelBookingRequested");
    assert_ne!(first, second, "each attempt gets a fresh token");
    s.fail(&second, "Trip.TransientError");
    s.advance_to_next_wakeup();
    let third = s.expect_request("HotelBookingRequested");
    // Then the third attempt's success moves the saga forward
    s.succeed(&third, json!({"bookingId": "h"}));
    s.expect_request("FlightBookingRequested");
    assert_eq!(s.status(&arn), ExecutionStatus::Running);
    // And the old tokens are stale
    let e = s.engine.send_task_success(&first, "{}").unwrap_err();
    assert!(e.is_stale_callback(), "{e:?}");
}

#[test]
fn transient_errors_beyond_max_attempts_are_compensated() {
    // Given a hotel service that keeps failing transiently
    let mut s = Saga::new();
    let arn = s.start("t-transient-forever");
    for _ in 0..3 {
        let t = s.expect_request("HotelBookingRequested");
        s.fail(&t, "Trip.TransientError");
        s.advance_to_next_wakeup();
    }
    // When the fourth attempt fails as well (MaxAttempts 3)
    let t = s.expect_request("HotelBookingRequested");
    s.fail(&t, "Trip.TransientError");
    // Then compensation starts
    let c = s.expect_request("HotelCancellationRequested");
    s.succeed(&c, json!({}));
    let last = s.new_events();
    assert_eq!(last[0]["Detail"]["error"]["Error"], "Trip.TransientError");
    assert_eq!(s.status(&arn), ExecutionStatus::Failed);
}

#[test]
fn a_failing_compensation_is_retried_until_it_succeeds() {
    // Given a saga whose flight booking failed
    let (mut s, arn) = fail_at(1, "business");
    // When the flight cancellation fails five times, with errors and timeouts
    for i in 0..5 {
        let t = s.expect_request("FlightCancellationRequested");
        if i % 2 == 0 {
            s.fail(&t, "Trip.TransientError");
        } else {
            s.clock.advance(timeout_ms("CancelFlight"));
            s.engine.run().unwrap();
        }
        s.advance_to_next_wakeup();
    }
    // Then the sixth try is still made and the saga finishes compensating
    let t = s.expect_request("FlightCancellationRequested");
    s.succeed(&t, json!({"cancelled": "flight"}));
    let t = s.expect_request("HotelCancellationRequested");
    s.succeed(&t, json!({"cancelled": "hotel"}));
    let last = s.new_events();
    assert_eq!(last[0]["DetailType"], "TripBookingFailed");
    assert_eq!(
        last[0]["Detail"]["undone"],
        json!({"flight": {"cancelled": "flight"}, "hotel": {"cancelled": "hotel"}})
    );
    assert_eq!(s.status(&arn), ExecutionStatus::Failed);
}

#[test]
fn duplicate_start_by_name_is_a_no_op() {
    // Given a running saga
    let mut s = Saga::new();
    let arn = s.start("t-dup");
    s.new_events();
    // When the same TripBookingRequested starts it again
    let again = s
        .engine
        .start_execution(&s.sm, Some("t-dup"), &trip_request("t-dup").to_string())
        .unwrap();
    s.engine.run().unwrap();
    // Then it is the same execution and nothing new is published
    assert_eq!(again.execution_arn, arn);
    assert!(again.already_running);
    assert!(s.new_events().is_empty());
    // And a different input under the same name is refused
    let mut other = trip_request("t-dup");
    other["hotel"]["hotelId"] = json!("H2");
    let e = s
        .engine
        .start_execution(&s.sm, Some("t-dup"), &other.to_string())
        .unwrap_err();
    assert_eq!(e.aws_error_name(), "ExecutionAlreadyExists");
}

#[test]
fn late_callback_after_timeout_is_rejected_as_stale() {
    // Given a hotel step that timed out
    let mut s = Saga::new();
    let arn = s.start("t-late");
    let token = s.expect_request("HotelBookingRequested");
    s.clock.advance(timeout_ms("BookHotel"));
    s.engine.run().unwrap();
    // (a timeout is retried forward first: the hotel is asked again, with a new token)
    s.advance_to_next_wakeup();
    s.expect_request("HotelBookingRequested");
    // When the hotel's answer arrives late
    let e = s
        .engine
        .send_task_success(&token, r#"{"bookingId":"late"}"#)
        .unwrap_err();
    // Then it is TaskTimedOut and changes nothing
    assert!(matches!(e, WorkflowError::TaskTimedOut(_)), "{e:?}");
    assert!(s.new_events().is_empty());
    assert_eq!(s.status(&arn), ExecutionStatus::Running);
    // And garbage tokens are InvalidToken
    assert!(matches!(
        s.engine.send_task_success("garbage", "{}"),
        Err(WorkflowError::InvalidToken(_))
    ));
}

#[test]
fn restart_in_the_middle_of_a_wait_continues_from_the_store() {
    // Given a saga waiting for the flight, run by an engine that then goes away
    let mut s = Saga::new();
    let arn = s.start("t-restart");
    let t = s.expect_request("HotelBookingRequested");
    s.succeed(&t, json!({"bookingId": "h-1"}));
    let flight_token = s.expect_request("FlightBookingRequested");
    let store = s.store.clone();
    let clock = s.clock.clone();
    drop(s);
    // When a new engine is built over the same store
    let mut s2 = Saga::over(store, clock, 99);
    assert_eq!(s2.status(&arn), ExecutionStatus::Running);
    // Then the old token continues the saga
    s2.succeed(&flight_token, json!({"bookingId": "f-1"}));
    let car = s2.expect_request("CarBookingRequested");
    s2.succeed(&car, json!({"bookingId": "c-1"}));
    let booked = s2.new_events();
    assert_eq!(booked[0]["DetailType"], "TripBooked");
    assert_eq!(booked[0]["Detail"]["hotel"], json!({"bookingId": "h-1"}));
    assert_eq!(s2.status(&arn), ExecutionStatus::Succeeded);
    // And the history is continuous across the restart
    let h = s2.engine.get_execution_history(&arn).unwrap();
    let ids: Vec<u64> = h.iter().map(|e| e.id).collect();
    assert_eq!(ids, (1..=ids.len() as u64).collect::<Vec<_>>());
}

#[test]
fn restart_keeps_pending_timers() {
    // Given a saga waiting for the hotel, and an engine restart
    let mut s = Saga::new();
    let arn = s.start("t-restart-timer");
    s.expect_request("HotelBookingRequested");
    let (store, clock) = (s.store.clone(), s.clock.clone());
    drop(s);
    let mut s2 = Saga::over(store, clock, 7);
    // When the step's timeout passes on the new engine
    assert_eq!(s2.engine.next_wakeup(), Some(T0 + timeout_ms("BookHotel")));
    s2.advance_to_next_wakeup();
    // Then the timeout fires and the step is retried forward
    s2.advance_to_next_wakeup();
    s2.expect_request("HotelBookingRequested");
    assert_eq!(s2.status(&arn), ExecutionStatus::Running);
}

#[test]
fn writes_can_be_batched_by_the_caller() {
    // Given an engine that does not flush by itself
    let store = MemoryStore::new();
    let clock = VirtualClock::new(T0);
    let bus = Arc::new(Mutex::new(RecordingPublisher::default()));
    let config = EngineConfig {
        auto_flush: false,
        ..EngineConfig::default()
    };
    let mut engine = Engine::new(
        config,
        Box::new(store.clone()),
        Arc::new(clock),
        Box::new(SeededRandom::new(1)),
    )
    .unwrap();
    engine.register_event_publisher(Arc::clone(&bus));
    let sm = engine
        .create_state_machine(TRIP_SAGA_NAME, TRIP_SAGA_ASL, &trip_saga_substitutions("b"))
        .unwrap();
    // When 50 sagas are started and run
    for i in 0..50 {
        engine
            .start_execution(
                &sm,
                Some(&format!("t-{i}")),
                &trip_request(&format!("t-{i}")).to_string(),
            )
            .unwrap();
    }
    engine.run().unwrap();
    assert_eq!(store.batches_written(), 0);
    engine.flush().unwrap();
    // Then everything lands in one batch
    assert_eq!(store.batches_written(), 1);
    assert_eq!(bus.lock().unwrap().published.len(), 50);
}

#[test]
fn the_definition_loads_with_its_substitution_and_names_every_state() {
    let m = trip_workflow::load_trip_saga("bus").unwrap();
    let mut names: Vec<&str> = m.states.keys().map(String::as_str).collect();
    names.sort();
    assert_eq!(
        names,
        [
            "BookCar",
            "BookCarFailed",
            "BookFlight",
            "BookFlightFailed",
            "BookHotel",
            "BookHotelFailed",
            "CancelCar",
            "CancelCarStuck",
            "CancelFlight",
            "CancelFlightStuck",
            "CancelHotel",
            "CancelHotelStuck",
            "DescribeCompensationStuck",
            "DescribeTripFailure",
            "NotifyCompensationStuck",
            "NotifyTripBooked",
            "NotifyTripBookingFailed",
            "TripBookingFailed",
            "TripCompensationStuck"
        ]
    );
    assert!(trip_workflow::load_definition(TRIP_SAGA_ASL, &Default::default()).is_err());
}
