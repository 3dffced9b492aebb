//! The page's files, compiled into the binary: the console loads nothing from anywhere else
//! (its Content-Security-Policy allows only its own origin).

const FILES: &[(&str, &str, &str)] = &[
    (
        "index.html",
        include_str!("../assets/index.html"),
        "text/html; charset=utf-8",
    ),
    (
        "app.js",
        include_str!("../assets/app.js"),
        "text/javascript; charset=utf-8",
    ),
    (
        "app.css",
        include_str!("../assets/app.css"),
        "text/css; charset=utf-8",
    ),
    (
        "favicon.svg",
        include_str!("../assets/favicon.svg"),
        "image/svg+xml",
    ),
];

/// An embedded file's text and content type.
pub fn get(name: &str) -> Option<(&'static str, &'static str)> {
    FILES
        .iter()
        .find(|(n, _, _)| *n == name)
        .map(|(_, body, ct)| (*body, *ct))
}
