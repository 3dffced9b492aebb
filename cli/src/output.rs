//! Terminal output: colour only on a terminal and never with NO_COLOR, JSON for scripts.

use std::io::IsTerminal;

use owo_colors::{OwoColorize, Style};

#[derive(Debug, Clone, Copy)]
pub struct Output {
    pub color: bool,
    pub json: bool,
}

impl Output {
    pub fn new(no_color: bool, json: bool) -> Self {
        // https://no-color.org: any non-empty NO_COLOR disables colour.
        let env_off = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        Output {
            color: !no_color && !env_off && !json && std::io::stdout().is_terminal(),
            json,
        }
    }

    pub fn paint(&self, text: &str, style: Style) -> String {
        if self.color {
            text.style(style).to_string()
        } else {
            text.to_owned()
        }
    }

    pub fn bold(&self, text: &str) -> String {
        self.paint(text, Style::new().bold())
    }

    pub fn dim(&self, text: &str) -> String {
        self.paint(text, Style::new().dimmed())
    }

    pub fn good(&self, text: &str) -> String {
        self.paint(text, Style::new().green().bold())
    }

    pub fn bad(&self, text: &str) -> String {
        self.paint(text, Style::new().red().bold())
    }

    pub fn warn(&self, text: &str) -> String {
        self.paint(text, Style::new().yellow())
    }

    /// A stable colour per trip, so interleaved trips are told apart.
    pub fn trip(&self, trip_id: &str) -> String {
        let palette = [
            Style::new().cyan(),
            Style::new().magenta(),
            Style::new().blue(),
            Style::new().bright_cyan(),
            Style::new().bright_magenta(),
            Style::new().bright_blue(),
        ];
        let trip_id = printable(trip_id);
        let h = trip_id
            .bytes()
            .fold(0usize, |h, b| h.wrapping_mul(31).wrapping_add(b.into()));
        self.paint(&trip_id, palette[h % palette.len()])
    }

    /// Colour for a detail-type: green for good news, red for failures, yellow for undoing.
    pub fn detail_type(&self, dt: &str) -> String {
        let style = if dt.ends_with("Failed") || dt.ends_with("Rejected") {
            Style::new().red()
        } else if dt.contains("Cancel") {
            Style::new().yellow()
        } else if dt.ends_with("Booked") {
            Style::new().green()
        } else {
            Style::new()
        };
        self.paint(dt, style)
    }

    pub fn print_json(&self, value: &serde_json::Value) {
        println!(
            "{}",
            serde_json::to_string_pretty(value).unwrap_or_else(|_| value.to_string())
        );
    }
}

/// `text` with control characters (ESC, CR, BEL, ...) escaped, so an id or a field that
/// arrived in an event never reaches the terminal raw (an ANSI sequence could rewrite it).
pub fn printable(text: &str) -> std::borrow::Cow<'_, str> {
    if text.chars().any(char::is_control) {
        text.chars()
            .flat_map(|c| {
                if c.is_control() {
                    c.escape_default().collect::<Vec<_>>()
                } else {
                    vec![c]
                }
            })
            .collect::<String>()
            .into()
    } else {
        text.into()
    }
}

/// An error and its causes on one line, each cause once: many errors already end with their
/// source's text (an OS error would otherwise be printed twice).
pub fn error_text(e: &anyhow::Error) -> String {
    let mut text = String::new();
    for cause in e.chain() {
        let c = cause.to_string();
        if text.contains(&c) {
            continue;
        }
        if !text.is_empty() {
            text.push_str(": ");
        }
        text.push_str(&c);
    }
    text
}

#[cfg(test)]
mod tests {
    use super::printable;

    #[test]
    fn control_characters_are_escaped_and_the_rest_is_kept() {
        assert_eq!(printable("trip-ä-1"), "trip-ä-1");
        assert_eq!(printable("a\u{1b}[2Jb\r\n"), "a\\u{1b}[2Jb\\r\\n");
    }
}
