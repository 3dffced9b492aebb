//! The deployed stack's names: `cdk-outputs.json` (`{ "<Stack>": { "<Key>": "<value>" } }`),
//! with command-line overrides on top.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{Context, bail};
use serde_json::Value;

use super::AwsArgs;

/// The stack outputs and the overrides of one `trip --aws` command.
#[derive(Debug, Clone)]
pub struct Deployed {
    /// `(stack name, outputs)`, if the outputs file exists.
    stack: Option<(String, BTreeMap<String, String>)>,
    outputs_file: String,
    args: AwsArgs,
}

/// The CDK app's construct ids: `catch-all-log` -> `CatchAllLog` (infra/lib/trip-saga-stack.ts).
pub fn pascal(name: &str) -> String {
    name.split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(|w| {
            let mut chars = w.chars();
            chars.next().map_or_else(String::new, |first| {
                first.to_ascii_uppercase().to_string() + chars.as_str()
            })
        })
        .collect()
}

/// Reads one stack's outputs from the file's text: `stack` or the first one.
fn parse_outputs(
    text: &str,
    stack: Option<&str>,
    file: &Path,
) -> anyhow::Result<(String, BTreeMap<String, String>)> {
    let all: serde_json::Map<String, Value> = serde_json::from_str(text)
        .with_context(|| format!("{} is not a cdk outputs file", file.display()))?;
    let (name, outputs) = match stack {
        Some(name) => all.get_key_value(name).with_context(|| {
            format!(
                "no stack {name:?} in {} (it has: {})",
                file.display(),
                all.keys().cloned().collect::<Vec<_>>().join(", ")
            )
        })?,
        None => all
            .iter()
            .next()
            .with_context(|| format!("{} names no stack", file.display()))?,
    };
    let Some(outputs) = outputs.as_object() else {
        bail!("{}: stack {name} has no outputs object", file.display());
    };
    let values = outputs
        .iter()
        .filter_map(|(k, v)| {
            let v = match v {
                Value::String(s) => s.clone(),
                Value::Null => return None,
                other => other.to_string(),
            };
            Some((k.clone(), v))
        })
        .collect();
    Ok((name.clone(), values))
}

impl Deployed {
    /// Reads the outputs file if it exists (a missing file is fine while the flags name
    /// everything a command needs).
    pub fn load(args: &AwsArgs) -> anyhow::Result<Deployed> {
        let file = &args.outputs;
        let stack = match std::fs::read_to_string(file) {
            Ok(text) => Some(parse_outputs(&text, args.stack.as_deref(), file)?),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => return Err(e).with_context(|| format!("cannot read {}", file.display())),
        };
        Ok(Deployed {
            stack,
            outputs_file: file.display().to_string(),
            args: args.clone(),
        })
    }

    /// The stack's name in the outputs file.
    pub fn stack_name(&self) -> Option<&str> {
        self.stack.as_ref().map(|(n, _)| n.as_str())
    }

    /// An output of the stack.
    pub fn output(&self, key: &str) -> Option<&str> {
        self.stack
            .as_ref()
            .and_then(|(_, o)| o.get(key))
            .map(String::as_str)
    }

    fn required(&self, given: &Option<String>, key: &str, flag: &str) -> anyhow::Result<String> {
        if let Some(v) = given {
            return Ok(v.clone());
        }
        if let Some(v) = self.output(key) {
            return Ok(v.to_owned());
        }
        match self.stack_name() {
            Some(stack) => bail!(
                "stack {stack} in {} has no {key} output: redeploy the stack, or pass {flag}",
                self.outputs_file
            ),
            None => bail!(
                "no {} here (written by `cdk deploy --outputs-file cdk-outputs.json`): \
                 pass --outputs <file>, or {flag}",
                self.outputs_file
            ),
        }
    }

    pub fn event_bus(&self) -> anyhow::Result<String> {
        self.required(&self.args.event_bus, "EventBusName", "--event-bus <name>")
    }

    /// The bus's ARN, when the outputs have it for the bus in use.
    pub fn event_bus_arn(&self) -> Option<String> {
        if self.args.event_bus.is_some() {
            return None;
        }
        self.output("EventBusArn").map(str::to_owned)
    }

    pub fn state_machine_arn(&self) -> anyhow::Result<String> {
        self.required(
            &self.args.state_machine_arn,
            "StateMachineArn",
            "--state-machine-arn <arn>",
        )
    }

    pub fn log_group(&self) -> anyhow::Result<String> {
        self.required(
            &self.args.log_group,
            "EventsLogGroupName",
            "--log-group <name>",
        )
    }

    pub fn archive_arn(&self) -> anyhow::Result<String> {
        self.required(&self.args.archive_arn, "ArchiveArn", "--archive-arn <arn>")
    }

    /// A rule's ARN from the outputs' `<Rule>RuleArn` keys: by the routing table's name
    /// (`catch-all-log`), its PascalCase (`CatchAllLog`) or the key itself.
    pub fn rule_arn(&self, name: &str) -> Option<String> {
        if name.starts_with("arn:") {
            return Some(name.to_owned());
        }
        let key = if name.ends_with("RuleArn") {
            name.to_owned()
        } else {
            format!("{}RuleArn", pascal(name))
        };
        self.output(&key).map(str::to_owned)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(outputs: &Path) -> AwsArgs {
        AwsArgs {
            aws: true,
            outputs: outputs.to_owned(),
            stack: None,
            event_bus: None,
            state_machine_arn: None,
            log_group: None,
            archive_arn: None,
            profile: None,
            region: None,
        }
    }

    #[test]
    fn pascal_matches_the_cdk_app() {
        assert_eq!(pascal("catch-all-log"), "CatchAllLog");
        assert_eq!(pascal("saga-bridge"), "SagaBridge");
        assert_eq!(pascal("hotel"), "Hotel");
    }

    #[test]
    fn reads_the_first_stack_and_lets_flags_win() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("cdk-outputs.json");
        std::fs::write(
            &file,
            r#"{"TripSaga": {"EventBusName": "trip-saga", "CatchAllLogRuleArn": "arn:aws:events:r:1:rule/x"},
                "Other": {"EventBusName": "other"}}"#,
        )
        .unwrap();
        let mut a = args(&file);
        let d = Deployed::load(&a).unwrap();
        assert_eq!(d.stack_name(), Some("TripSaga"));
        assert_eq!(d.event_bus().unwrap(), "trip-saga");
        assert_eq!(
            d.rule_arn("catch-all-log").as_deref(),
            Some("arn:aws:events:r:1:rule/x")
        );
        assert_eq!(
            d.rule_arn("CatchAllLogRuleArn").as_deref(),
            Some("arn:aws:events:r:1:rule/x")
        );
        assert_eq!(d.rule_arn("hotel-commands"), None);
        let err = d.state_machine_arn().unwrap_err().to_string();
        assert!(err.contains("StateMachineArn") && err.contains("--state-machine-arn"));

        a.stack = Some("Other".into());
        assert_eq!(Deployed::load(&a).unwrap().event_bus().unwrap(), "other");
        a.event_bus = Some("mine".into());
        assert_eq!(Deployed::load(&a).unwrap().event_bus().unwrap(), "mine");
        a.stack = Some("Nope".into());
        assert!(Deployed::load(&a).is_err());
    }

    #[test]
    fn a_missing_file_asks_for_it_or_the_flag() {
        let dir = tempfile::tempdir().unwrap();
        let d = Deployed::load(&args(&dir.path().join("none.json"))).unwrap();
        let err = d.log_group().unwrap_err().to_string();
        assert!(
            err.contains("--outputs") && err.contains("--log-group"),
            "{err}"
        );
    }
}
