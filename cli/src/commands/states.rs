//! `trip states run`: any ASL definition, run locally against scripted task answers.

use std::collections::BTreeMap;

use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use serde_json::Value;
use trip_workflow::{Responses, run_scripted};

use super::json_arg;
use crate::{Ctx, exit};

#[derive(Args)]
#[command(
    after_help = "Examples:\n  trip states run workflow/trip-saga.asl.json --input file://input.json --responses responses.json\n  trip states run my-machine.asl.json --input '{\"n\": 1}' --json"
)]
pub struct StatesArgs {
    #[command(subcommand)]
    pub action: StatesAction,
}

#[derive(Subcommand)]
pub enum StatesAction {
    /// Run a definition to completion in virtual time, answering each task from a responses
    /// file; print the execution history and the final status and output.
    Run {
        /// The definition (JSON file).
        #[arg(id = "definition_file", value_name = "DEFINITION")]
        definition: String,
        /// The execution input: JSON, or file://path.
        #[arg(long, default_value = "{}")]
        input: String,
        /// Scripted task answers: `{"StateName": [{"output": ...}, {"error": "E", "cause": "C"}, {"noAnswer": true}]}`.
        #[arg(long)]
        responses: Option<String>,
        /// A definition substitution, `Name=value` (repeatable); `EventBusName` defaults to trip-saga.
        #[arg(long = "substitution", short = 's')]
        substitutions: Vec<String>,
    },
}

pub fn states(ctx: &Ctx, args: StatesArgs) -> anyhow::Result<u8> {
    let StatesAction::Run {
        definition,
        input,
        responses,
        substitutions,
    } = args.action;
    let def = std::fs::read_to_string(&definition)
        .with_context(|| format!("cannot read the definition {definition}"))?;
    let input: Value =
        serde_json::from_str(&json_arg(&input, "input")?).context("--input is not JSON")?;
    let responses: Responses = match &responses {
        Some(r) => {
            let text = json_arg(
                &format!("file://{}", r.trim_start_matches("file://")),
                "responses",
            )?;
            serde_json::from_str(&text).with_context(|| format!("{r} is not a responses file"))?
        }
        None => Responses::default(),
    };
    let mut subs = BTreeMap::from([("EventBusName".to_owned(), "trip-saga".to_owned())]);
    for s in substitutions {
        let Some((k, v)) = s.split_once('=') else {
            bail!("--substitution takes Name=value, not {s:?}");
        };
        subs.insert(k.to_owned(), v.to_owned());
    }
    let run = run_scripted(&def, &subs, input, &responses)
        .with_context(|| format!("cannot run {definition}"))?;
    let out = ctx.out;
    if out.json {
        out.print_json(&run.to_json());
    } else {
        let events = run.history["events"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        print!("{}", crate::history::render(&out, &events));
        println!();
        println!("{} {}", out.bold("status:"), run.status);
        println!("{} {}", out.bold("state transitions:"), run.transitions);
        if let Some(o) = &run.output {
            println!("{} {o}", out.bold("output:"));
        }
        if let Some(e) = &run.error {
            println!(
                "{} {e}: {}",
                out.bold("error:"),
                run.cause.clone().unwrap_or_default()
            );
        }
    }
    Ok(if run.status == trip_workflow::ExecutionStatus::Succeeded {
        exit::OK
    } else {
        exit::TRIP_FAILED
    })
}
