//! `trip watch --aws`: the catch-all log group (every `trip.*` event as its EventBridge
//! envelope), through FilterLogEvents, printed like the local watch.

use std::collections::HashMap;
use std::time::Duration;

use anyhow::{Context, bail};
use trip_events::EventEnvelope;
use trip_local::LoggedEvent;

use super::{Aws, sdk_error};
use crate::commands::watch::WatchArgs;
use crate::timeline::Timeline;
use crate::{Ctx, exit};

/// Reads a log group from a start time on, each log event once.
pub struct LogTail {
    group: String,
    /// The next FilterLogEvents starts here (ms): the newest timestamp seen, inclusive,
    /// since later events may still arrive with that same millisecond.
    from_ms: i64,
    filter_pattern: Option<String>,
    /// Event ids already returned whose timestamp is >= `from_ms` (older ones cannot recur).
    seen: HashMap<String, i64>,
}

impl LogTail {
    pub fn new(group: String, since_ms: i64, trip: Option<&str>) -> LogTail {
        LogTail {
            group,
            from_ms: since_ms,
            // CloudWatch's JSON filter: the server sends only this trip's events.
            filter_pattern: trip
                .map(|t| format!("{{ $.detail.tripId = \"{}\" }}", t.replace('"', ""))),
            seen: HashMap::new(),
        }
    }

    /// New log events (timestamp, envelope), oldest first. Messages that are not envelopes
    /// are skipped.
    pub async fn poll(&mut self, aws: &Aws) -> anyhow::Result<Vec<(i64, EventEnvelope)>> {
        let mut fresh = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let page = aws
                .logs
                .filter_log_events()
                .log_group_name(&self.group)
                .start_time(self.from_ms)
                .set_filter_pattern(self.filter_pattern.clone())
                .set_next_token(token.take())
                .send()
                .await
                .map_err(sdk_error)
                .with_context(|| format!("FilterLogEvents {}", self.group))?;
            for e in page.events() {
                let ts = e.timestamp().unwrap_or(self.from_ms);
                let id = e
                    .event_id()
                    .map(str::to_owned)
                    .unwrap_or_else(|| format!("{ts}/{}", e.message().unwrap_or_default()));
                if self.seen.insert(id, ts).is_some() {
                    continue;
                }
                if let Some(env) = e
                    .message()
                    .and_then(|m| serde_json::from_str::<EventEnvelope>(m).ok())
                {
                    fresh.push((ts, env));
                }
            }
            match page.next_token() {
                Some(t) if !t.is_empty() => token = Some(t.to_owned()),
                _ => break,
            }
        }
        fresh.sort_by_key(|(ts, _)| *ts);
        if let Some(newest) = self.seen.values().max().copied() {
            self.from_ms = self.from_ms.max(newest);
        }
        let from = self.from_ms;
        self.seen.retain(|_, ts| *ts >= from);
        Ok(fresh)
    }
}

/// `--since`: `30s`, `10m`, `2h`, `1d`, or an RFC 3339 time; returns epoch ms.
pub fn since_ms(since: &str, now_ms: i64) -> anyhow::Result<i64> {
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(since) {
        return Ok(t.timestamp_millis());
    }
    let (n, unit) = since.split_at(
        since
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(since.len()),
    );
    let n: i64 = n
        .parse()
        .with_context(|| format!("--since {since:?}: give 30s, 10m, 2h, 1d or an RFC 3339 time"))?;
    let ms = match unit {
        "s" => 1_000,
        "m" | "" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        _ => bail!("--since {since:?}: the unit is one of s, m, h, d"),
    };
    Ok(now_ms - n * ms)
}

fn logged(seq: i64, ts: i64, envelope: EventEnvelope) -> LoggedEvent {
    LoggedEvent {
        seq,
        envelope: envelope.into(),
        put_at: ts,
        delivered_at: None,
        rules: Vec::new(),
    }
}

pub async fn watch(ctx: &Ctx, aws: &Aws, args: WatchArgs) -> anyhow::Result<u8> {
    let out = ctx.out;
    let group = aws.deployed.log_group()?;
    let now = chrono::Utc::now().timestamp_millis();
    let mut tail = LogTail::new(
        group.clone(),
        since_ms(&args.since, now)?,
        args.trip.as_deref(),
    );
    let mut timeline = Timeline::default();
    let mut seq = 0;
    let mut events = Vec::new();
    for (ts, env) in tail.poll(aws).await? {
        // The server filters by trip; this also holds where the filter is not understood.
        if args
            .trip
            .as_deref()
            .is_some_and(|t| env.trip_id() != Some(t))
        {
            continue;
        }
        seq += 1;
        events.push(logged(seq, ts, env));
    }
    if out.json {
        for e in &events {
            println!("{}", serde_json::to_string(&e.envelope)?);
        }
    } else if args.follow {
        for e in &events {
            println!("{}", timeline.line_with_time(&out, e));
        }
    } else {
        print!("{}", timeline.grouped(&out, &events));
        if events.is_empty() {
            println!("no events in {group} since {}", args.since);
        }
    }
    if !args.follow {
        return Ok(exit::OK);
    }
    // CloudWatch Logs takes seconds to make an event searchable: poll every 2 s.
    let tick = Duration::from_secs(2);
    let mut idle = Duration::ZERO;
    loop {
        tokio::time::sleep(tick).await;
        let fresh = tail.poll(aws).await?;
        let mut any = false;
        for (ts, env) in fresh {
            if args
                .trip
                .as_deref()
                .is_some_and(|t| env.trip_id() != Some(t))
            {
                continue;
            }
            any = true;
            seq += 1;
            let e = logged(seq, ts, env);
            if out.json {
                println!("{}", serde_json::to_string(&e.envelope)?);
            } else {
                println!("{}", timeline.line_with_time(&out, &e));
            }
        }
        if any {
            idle = Duration::ZERO;
        } else {
            idle += tick;
            if args.idle_exit > 0 && idle >= Duration::from_secs(args.idle_exit) {
                return Ok(exit::OK);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn since_takes_durations_and_times() {
        let now = 10_000_000_000;
        assert_eq!(since_ms("10m", now).unwrap(), now - 600_000);
        assert_eq!(since_ms("2h", now).unwrap(), now - 7_200_000);
        assert_eq!(since_ms("30s", now).unwrap(), now - 30_000);
        assert_eq!(
            since_ms("2031-06-09T00:00:00Z", now).unwrap(),
            1_938_729_600_000
        );
        assert!(since_ms("soon", now).is_err());
        assert!(since_ms("3w", now).is_err());
    }
}
