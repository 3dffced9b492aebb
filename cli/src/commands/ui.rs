//! `trip ui`: the local web console (the server lives in the `trip-ui` crate).

use anyhow::bail;
use clap::Args;

use crate::{Ctx, exit};

#[derive(Args)]
pub struct UiArgs {
    /// The port to listen on, on 127.0.0.1 (default: any free port).
    #[arg(long, default_value_t = 0)]
    pub port: u16,
    /// Open the console in the default browser.
    #[arg(long)]
    pub open: bool,
}

pub fn ui(ctx: &Ctx, args: UiArgs) -> anyhow::Result<u8> {
    let Some(store) = &ctx.store else {
        bail!("trip ui reads a store file; --memory has none");
    };
    let running = trip_ui::start(trip_ui::Options {
        store: store.clone(),
        port: args.port,
    })?;
    let url = running.url_with_token();
    if ctx.out.json {
        // One line: the command keeps running, so a script reads the address line by line.
        let started = serde_json::json!({
            "url": running.url(),
            "urlWithToken": url,
            "token": running.token(),
            "store": store.display().to_string(),
        });
        println!("{started}");
    } else {
        println!("trip ui · store {} · read-only", store.display());
        println!("  {url}");
        println!(
            "the token in that address allows the console's actions (redrive); Ctrl-C to stop"
        );
    }
    if args.open {
        let opener = if cfg!(target_os = "macos") {
            "open"
        } else {
            "xdg-open"
        };
        // A console without a browser to open is still a console: say so and serve.
        if let Err(e) = std::process::Command::new(opener).arg(&url).spawn() {
            eprintln!("cannot run {opener} to open the console ({e}); open the address above");
        }
    }
    running.wait();
    Ok(exit::OK)
}
