//! Which state machine and routing table the embedded runtime runs: `--definition` and
//! `--routing` when given; else the repository's `workflow/trip-saga.asl.json` and
//! `events/routing.json` when `trip` runs inside a checkout (so an edit takes effect without
//! a rebuild); else the copies built into the binary. Every verb that opens the runtime uses
//! the same choice, and `trip book` says which it was.

use std::path::{Path, PathBuf};

use anyhow::Context;
use trip_events::routing::RoutingTable;

pub const DEFINITION_IN_REPO: &str = "workflow/trip-saga.asl.json";
pub const ROUTING_IN_REPO: &str = "events/routing.json";

/// Where one of the two came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    BuiltIn,
    /// Given with `--definition` / `--routing`.
    Flag(PathBuf),
    /// Found in the checkout `trip` runs in.
    Repository(PathBuf),
}

impl std::fmt::Display for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Origin::BuiltIn => write!(f, "built-in"),
            Origin::Flag(p) => write!(f, "{}", p.display()),
            Origin::Repository(p) => write!(f, "{} (this checkout)", p.display()),
        }
    }
}

/// The chosen definition and routing table, loaded.
pub struct Sources {
    pub definition: Option<String>,
    pub definition_origin: Origin,
    pub routing: Option<RoutingTable>,
    pub routing_origin: Origin,
}

impl Sources {
    /// One line for a verb's header.
    pub fn describe(&self) -> String {
        format!(
            "state machine {} · routing {}",
            self.definition_origin, self.routing_origin
        )
    }
}

/// The checkout `dir` is in: the nearest ancestor holding `relative`.
fn in_checkout(dir: &Path, relative: &str) -> Option<PathBuf> {
    let found = dir
        .ancestors()
        .map(|d| d.join(relative))
        .find(|p| p.is_file())?;
    // Shown (and read) relative to where trip runs, when it is below it.
    Some(
        found
            .strip_prefix(dir)
            .map(Path::to_path_buf)
            .unwrap_or(found),
    )
}

pub fn resolve(definition: Option<&Path>, routing: Option<&Path>) -> anyhow::Result<Sources> {
    let cwd = std::env::current_dir().unwrap_or_default();
    let definition_origin = match definition {
        Some(p) => Origin::Flag(p.to_owned()),
        None => in_checkout(&cwd, DEFINITION_IN_REPO).map_or(Origin::BuiltIn, Origin::Repository),
    };
    let routing_origin = match routing {
        Some(p) => Origin::Flag(p.to_owned()),
        None => in_checkout(&cwd, ROUTING_IN_REPO).map_or(Origin::BuiltIn, Origin::Repository),
    };
    let read = |origin: &Origin, what: &str| -> anyhow::Result<Option<String>> {
        match origin {
            Origin::BuiltIn => Ok(None),
            Origin::Flag(p) | Origin::Repository(p) => std::fs::read_to_string(p)
                .with_context(|| format!("cannot read the {what} {}", p.display()))
                .map(Some),
        }
    };
    let definition = read(&definition_origin, "state machine definition")?;
    if let (Some(text), Origin::Flag(p) | Origin::Repository(p)) = (&definition, &definition_origin)
    {
        serde_json::from_str::<serde_json::Value>(text)
            .with_context(|| format!("the state machine definition {} is not JSON", p.display()))?;
    }
    let routing = match (read(&routing_origin, "routing table")?, &routing_origin) {
        (Some(text), Origin::Flag(p) | Origin::Repository(p)) => Some(
            RoutingTable::from_json(&text)
                .with_context(|| format!("the routing table {}", p.display()))?,
        ),
        _ => None,
    };
    Ok(Sources {
        definition,
        definition_origin,
        routing,
        routing_origin,
    })
}
