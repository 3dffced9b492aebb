//! Differential check of the local ASL interpreter against moto's (an independent
//! implementation of Step Functions): every case under `tests/conformance/` runs on both with
//! the same input and the same scripted task answers; status, output, error, cause and the
//! sequence of history event types must agree, except for the differences that
//! `tests/conformance/DIFFERENCES.md` lists and justifies.

use std::time::Duration;

use trip_tests::differential::{self, Case, Differences, create_task_source, run_local, run_moto};
use trip_tests::moto::MotoServer;

async fn check(name: &str) {
    // Given the case and a moto server with a queue and a bus for its waiting tasks
    let moto = MotoServer::start();
    let clients = moto.clients().await;
    let case = Case::load(name).unwrap();
    let source = create_task_source(&clients, name).await.unwrap();
    // When it runs on moto's interpreter and on ours (same substitutions: same queue URL)
    let theirs = run_moto(&clients, &case, &source, Duration::from_secs(30))
        .await
        .unwrap();
    let ours = run_local(&case, &differential::substitutions_for(&case, &source)).unwrap();
    eprintln!("{name}: moto {theirs:#?}\nours {ours:#?}");
    // Then they agree, but for the listed differences
    let concurrent = differential::runs_concurrently(&case.definition);
    Differences::load()
        .unwrap()
        .check(name, &theirs, &ours, concurrent);
}

macro_rules! cases {
    ($($test:ident => $name:literal),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $test() {
                check($name).await;
            }
        )*

        #[test]
        fn every_case_directory_has_a_test() {
            let listed: Vec<&str> = vec![$($name),*];
            let mut listed: Vec<String> = listed.into_iter().map(str::to_owned).collect();
            listed.sort();
            assert_eq!(differential::case_names().unwrap(), listed);
        }
    };
}

cases! {
    choice_operators => "choice-operators",
    parallel_branches => "parallel-branches",
    map_item_selector => "map-item-selector",
    retry_backoff => "retry-backoff",
    catch_result_path => "catch-result-path",
    intrinsics => "intrinsics",
    trip_saga_booked => "trip-saga-booked",
    trip_saga_car_fails => "trip-saga-car-fails",
    trip_saga_hotel_transient => "trip-saga-hotel-transient",
    trip_saga_flight_timeout => "trip-saga-flight-timeout",
}

#[test]
fn the_differences_file_names_only_existing_cases() {
    let names = differential::case_names().unwrap();
    for (case, aspect) in Differences::load().unwrap().0 {
        assert!(
            names.contains(&case),
            "DIFFERENCES.md names unknown case {case}"
        );
        assert!(
            differential::Aspect::ALL.iter().any(|a| a.name() == aspect),
            "DIFFERENCES.md names unknown aspect {aspect}"
        );
    }
}
