//! Ctrl-C during `trip book` or `trip resume`: the run stops after the step in progress (its
//! commit is already handed to the store), and the command says what is in flight and that
//! `trip resume` finishes it, instead of dying mid-sentence. A second Ctrl-C ends the process
//! at once (the default action, restored by the first).

use std::sync::atomic::{AtomicBool, Ordering};

static REQUESTED: AtomicBool = AtomicBool::new(false);

#[cfg(unix)]
extern "C" fn on_sigint(_: libc::c_int) {
    // Only async-signal-safe work here: a store to an atomic, and resetting the disposition.
    REQUESTED.store(true, Ordering::SeqCst);
    // SAFETY: signal() is async-signal-safe; SIG_DFL makes the next Ctrl-C end the process.
    unsafe {
        libc::signal(libc::SIGINT, libc::SIG_DFL);
    }
}

/// Installs the handler, for the verbs that run sagas (the others keep Ctrl-C's default).
pub fn install() {
    #[cfg(unix)]
    // SAFETY: the handler only touches an atomic and calls signal(), both async-signal-safe.
    unsafe {
        libc::signal(
            libc::SIGINT,
            on_sigint as extern "C" fn(libc::c_int) as libc::sighandler_t,
        );
    }
}

/// Whether Ctrl-C was pressed.
pub fn requested() -> bool {
    REQUESTED.load(Ordering::SeqCst)
}
