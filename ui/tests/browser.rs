//! The console in a real browser: Debian's Chromium, headless, driven over the DevTools
//! protocol, loads the page against a store with booked, compensated, rejected, stuck and
//! running trips (and hostile strings), and the tests assert on the rendered DOM. A
//! screenshot of each view goes to `target/ui-screenshots/`.
//!
//! Chromium must be installed (`apt-get install -y chromium`; `scripts/test.sh` does it):
//! without it these tests fail. Only outside CI, `TRIP_SKIP_BROWSER_TESTS=1` skips them.

mod support;

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use headless_chrome::protocol::cdp::Page;
use headless_chrome::protocol::cdp::Page::CaptureScreenshotFormatOption;
use headless_chrome::{Browser, LaunchOptions, Tab};
use serde_json::Value;
use support::*;

// Generous: CI runs these beside the whole suite on two cores.
const WAIT: Duration = Duration::from_secs(30);

/// Where Chromium is: `TRIP_CHROMIUM`, else Debian's binary or the first on PATH.
fn chromium() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("TRIP_CHROMIUM") {
        return Some(PathBuf::from(p)).filter(|p| p.is_file());
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    ["chromium", "chromium-browser", "google-chrome"]
        .iter()
        .flat_map(|name| {
            std::iter::once(Path::new("/usr/bin").join(name))
                .chain(std::env::split_paths(&path).map(move |d| d.join(name)))
        })
        .find(|p| p.is_file())
}

/// Chromium, or `None` when the tests may be skipped; anything else fails the test.
fn browser_or_skip() -> Option<(Browser, tempfile::TempDir)> {
    let Some(path) = chromium() else {
        let may_skip = std::env::var("TRIP_SKIP_BROWSER_TESTS").as_deref() == Ok("1")
            && std::env::var_os("CI").is_none();
        if may_skip {
            eprintln!("skipped: no Chromium and TRIP_SKIP_BROWSER_TESTS=1");
            return None;
        }
        panic!(
            "the browser tests need Chromium: `apt-get install -y chromium` (scripts/test.sh \
             installs it), or TRIP_CHROMIUM=/path/to/chromium; outside CI, \
             TRIP_SKIP_BROWSER_TESTS=1 skips them"
        );
    };
    let profile = tempfile::tempdir().unwrap();
    let args: Vec<&OsStr> = [
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
    ]
    .iter()
    .map(OsStr::new)
    .collect();
    let options = LaunchOptions::default_builder()
        .path(Some(path))
        .headless(true)
        // As root (CI), Chromium's sandbox cannot start.
        .sandbox(false)
        .window_size(Some((1400, 1800)))
        .user_data_dir(Some(profile.path().to_owned()))
        .args(args)
        .idle_browser_timeout(Duration::from_secs(120))
        .build()
        .unwrap();
    Some((Browser::new(options).expect("Chromium starts"), profile))
}

struct Console {
    _dir: tempfile::TempDir,
    store: PathBuf,
    ui: trip_ui::Running,
}

fn console() -> Console {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("trip.db");
    build_store(&store);
    let ui = trip_ui::start(trip_ui::Options {
        store: store.clone(),
        port: 0,
    })
    .unwrap();
    Console {
        _dir: dir,
        store,
        ui,
    }
}

/// Evaluates `js` in the page and brings its value back as JSON.
fn eval(tab: &Tab, js: &str) -> Value {
    let wrapped = format!("JSON.stringify(({js}) ?? null)");
    let out = tab
        .evaluate(&wrapped, false)
        .unwrap_or_else(|e| panic!("{js}: {e}"))
        .value;
    match out {
        Some(Value::String(json)) => serde_json::from_str(&json).unwrap(),
        other => panic!("{js}: {other:?}"),
    }
}

fn count(tab: &Tab, selector: &str) -> u64 {
    let js = format!(
        "document.querySelectorAll({}).length",
        Value::from(selector)
    );
    eval(tab, &js).as_u64().unwrap()
}

fn text(tab: &Tab, selector: &str) -> String {
    let js = format!(
        "(document.querySelector({}) || {{}}).textContent",
        Value::from(selector)
    );
    eval(tab, &js).as_str().unwrap_or_default().to_owned()
}

/// Waits until `js` is true (the page renders after its fetches answer).
fn wait_until(tab: &Tab, js: &str) {
    let start = std::time::Instant::now();
    while eval(tab, js) != Value::Bool(true) {
        assert!(start.elapsed() < WAIT, "timed out waiting for {js}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn screenshot(tab: &Tab, name: &str) {
    shoot(tab, name, None);
}

/// The top of the page at 70%: the picture in the README (docs/trip-ui.png is a copy).
fn screenshot_top(tab: &Tab, name: &str) {
    let clip = Page::Viewport {
        x: 0.0,
        y: 0.0,
        width: 1400.0,
        height: 1060.0,
        scale: 0.7,
    };
    shoot(tab, name, Some(clip));
}

fn shoot(tab: &Tab, name: &str, clip: Option<Page::Viewport>) {
    // Cargo's target dir: CARGO_TARGET_TMPDIR is `<target>/tmp`.
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .unwrap()
        .join("ui-screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    let png = tab
        .capture_screenshot(CaptureScreenshotFormatOption::Png, None, clip, true)
        .unwrap();
    assert!(png.starts_with(b"\x89PNG"), "a PNG");
    std::fs::write(dir.join(name), png).unwrap();
}

/// Hostile strings are text: none ran as script or became an element.
fn assert_nothing_injected(tab: &Tab) {
    assert_eq!(
        eval(tab, "document.body.dataset.pwned || null"),
        Value::Null
    );
    assert_eq!(
        count(tab, "#app img, #app script"),
        0,
        "no element came from data"
    );
}

fn open(browser: &Browser, url: &str) -> std::sync::Arc<Tab> {
    let tab = browser.new_tab().unwrap();
    tab.set_default_timeout(WAIT);
    tab.navigate_to(url)
        .unwrap()
        .wait_until_navigated()
        .unwrap();
    tab
}

#[test]
fn the_trips_view_lists_every_trip_with_counts_filters_and_search() {
    let Some((browser, _profile)) = browser_or_skip() else {
        return;
    };
    let c = console();
    let tab = open(&browser, &c.ui.url_with_token());
    wait_until(
        &tab,
        "document.querySelectorAll('#trips tr[data-trip-id]').length === 6",
    );
    assert_eq!(
        eval(&tab, "location.search"),
        "",
        "the token left the address bar"
    );
    assert_eq!(text(&tab, "[data-count=total]"), "6");
    assert_eq!(text(&tab, "[data-count=rejected]"), "2");
    assert_eq!(text(&tab, "[data-count=stuck]"), "1");
    for (id, state) in [
        (BOOKED, "booked"),
        (COMPENSATED, "compensated"),
        (REJECTED, "rejected"),
        (STUCK, "stuck"),
        (RUNNING, "running"),
        (HOSTILE_TRIP, "rejected"),
    ] {
        let js = format!(
            "[...document.querySelectorAll('#trips tr[data-trip-id]')]
               .find(r => r.dataset.tripId === {}).dataset.state",
            Value::from(id)
        );
        assert_eq!(eval(&tab, &js), state, "{id}");
    }
    // The hostile id is a link whose text is the id, not an image.
    let links: Vec<Value> = eval(
        &tab,
        "[...document.querySelectorAll('#trips a.trip-link')].map(a => a.textContent)",
    )
    .as_array()
    .unwrap()
    .clone();
    assert!(links.contains(&Value::from(HOSTILE_TRIP)), "{links:?}");
    assert_nothing_injected(&tab);
    let dom = tab.get_content().unwrap();
    assert!(dom.contains("&lt;img src=x onerror="), "escaped in the DOM");
    screenshot(&tab, "trips.png");

    // Filter by state.
    tab.find_element("button[data-filter=rejected]")
        .unwrap()
        .click()
        .unwrap();
    wait_until(
        &tab,
        "document.querySelectorAll('#trips tr[data-trip-id]').length === 2",
    );
    assert_eq!(
        count(&tab, "#trips tr[data-state=rejected]"),
        2,
        "only rejected trips"
    );
    // Search (with the filter back on all).
    tab.find_element("button[data-filter=all]")
        .unwrap()
        .click()
        .unwrap();
    tab.find_element("#search").unwrap().click().unwrap();
    tab.type_str("lisbon").unwrap();
    wait_until(
        &tab,
        "document.querySelectorAll('#trips tr[data-trip-id]').length === 2",
    );
    assert_eq!(
        eval(
            &tab,
            "[...document.querySelectorAll('#trips tr[data-trip-id]')].map(r => r.dataset.tripId)"
        ),
        serde_json::json!([COMPENSATED, BOOKED])
    );
}

#[test]
fn one_trip_shows_its_graph_timeline_history_and_bookings() {
    let Some((browser, _profile)) = browser_or_skip() else {
        return;
    };
    let c = console();
    let tab = open(&browser, &format!("{}#/trip/{COMPENSATED}", c.ui.url()));
    wait_until(
        &tab,
        "!!document.querySelector('#graph g.node[data-mark=failed]')",
    );
    assert_eq!(text(&tab, "#trip-id"), COMPENSATED);
    assert_eq!(
        eval(
            &tab,
            "[...document.querySelectorAll('#graph g.node[data-mark=failed]')].map(n => n.dataset.stateName)"
        ),
        serde_json::json!(["BookCar"])
    );
    assert_eq!(count(&tab, "#graph g.node[data-mark=compensation]"), 7);
    assert_eq!(count(&tab, "#graph g.node[data-mark=visited]"), 2);
    assert_eq!(count(&tab, "#graph path.edge.taken"), 9);
    // The history table has every entry of the execution, with the failure's error.
    let api: Value = serde_json::from_str(
        &ureq::get(format!("{}api/trips/{COMPENSATED}", c.ui.url()))
            .call()
            .unwrap()
            .body_mut()
            .read_to_string()
            .unwrap(),
    )
    .unwrap();
    let entries = api["history"].as_array().unwrap().len() as u64;
    assert!(entries > 40);
    assert_eq!(count(&tab, "#history tbody tr"), entries);
    assert_eq!(count(&tab, "#timeline li"), 14);
    let failed_row = eval(
        &tab,
        "[...document.querySelectorAll('#history tr[data-type=TaskFailed]')].map(r => r.cells[4].textContent)",
    );
    assert_eq!(failed_row, serde_json::json!(["Trip.BusinessError"]));
    screenshot(&tab, "trip-compensated.png");
    screenshot_top(&tab, "readme.png");
    // An event links to the history entry it caused, and clicking it shows that entry.
    let js = "[...document.querySelectorAll('#timeline li')]
                .find(li => li.querySelector('.dt').textContent === 'CarBookingFailed')
                .querySelector('a.link').dataset.historyId";
    let target = eval(&tab, js).as_str().unwrap().to_owned();
    assert_eq!(
        text(&tab, &format!("#h-{target} td:nth-child(3)")),
        "TaskFailed"
    );
    eval(
        &tab,
        "[...document.querySelectorAll('#timeline li')]
           .find(li => li.querySelector('.dt').textContent === 'CarBookingFailed')
           .querySelector('a.link').click()",
    );
    wait_until(
        &tab,
        &format!("document.getElementById('h-{target}').classList.contains('flash')"),
    );
    assert_eq!(count(&tab, "#bookings tbody tr"), 3);
    assert!(text(&tab, "#bookings").contains("NO_CAR_AVAILABLE"));

    // The stuck trip: where it waits, and the hostile trip's page: its id as text.
    let tab = open(&browser, &format!("{}#/trip/{STUCK}", c.ui.url()));
    wait_until(
        &tab,
        "!!document.querySelector('#graph g.node[data-mark=current]')",
    );
    assert_eq!(
        eval(
            &tab,
            "document.querySelector('#graph g.node[data-mark=current]').dataset.stateName"
        ),
        "BookFlight"
    );
    let encoded: String = HOSTILE_TRIP.bytes().map(|b| format!("%{b:02X}")).collect();
    let tab = open(&browser, &format!("{}#/trip/{encoded}", c.ui.url()));
    wait_until(&tab, "!!document.querySelector('#reasons li')");
    assert_eq!(text(&tab, "#trip-id"), HOSTILE_TRIP);
    assert_eq!(
        count(&tab, "#no-execution"),
        1,
        "a rejected trip ran no state machine"
    );
    assert_nothing_injected(&tab);
    screenshot(&tab, "trip-hostile-rejected.png");
}

#[test]
fn the_dead_letters_view_and_live_updates() {
    let Some((browser, _profile)) = browser_or_skip() else {
        return;
    };
    let c = console();
    let tab = open(&browser, &format!("{}#/dlq", c.ui.url_with_token()));
    wait_until(
        &tab,
        "document.querySelectorAll('#dead-letters tbody tr').length === 1",
    );
    assert_eq!(text(&tab, "#dlq-count"), "1");
    assert!(text(&tab, "#dead-letters pre").contains(HOSTILE_TYPE));
    assert!(!text(&tab, "#dead-letters td.reason").is_empty());
    assert_nothing_injected(&tab);
    assert_eq!(count(&tab, "#redrive"), 1, "the token offers the action");
    screenshot(&tab, "dead-letters.png");

    // Live: another writer books a trip; the open list shows it without a reload.
    let tab = open(&browser, &c.ui.url());
    wait_until(
        &tab,
        "document.querySelectorAll('#trips tr[data-trip-id]').length === 6",
    );
    wait_until(
        &tab,
        "document.getElementById('live').textContent === 'live'",
    );
    assert_eq!(count(&tab, "#redrive"), 0);
    {
        let mut rt = trip_local::Runtime::open(trip_local::RuntimeOptions {
            store: Some(c.store.clone()),
            ..trip_local::RuntimeOptions::default()
        })
        .unwrap();
        rt.put_events(&renamed("trip-live-0001")).unwrap();
        rt.run_until_idle(None, |_| true).unwrap();
    }
    wait_until(
        &tab,
        "(document.querySelector('#trips tr[data-trip-id=\"trip-live-0001\"]') || {}).dataset?.state === 'booked'",
    );
    screenshot(&tab, "trips-live.png");

    // Without the token in its address, the page offers no action.
    let tab = open(&browser, &format!("{}#/dlq", c.ui.url()));
    wait_until(
        &tab,
        "document.querySelectorAll('#dead-letters tbody tr').length >= 1",
    );
    // (sessionStorage is per tab: this tab never saw the token)
    assert_eq!(count(&tab, "#redrive"), 0);
}
