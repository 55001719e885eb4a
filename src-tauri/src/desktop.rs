//! What the app asks of a Linux desktop over the D-Bus session bus, on libdbus (the `dbus` crate,
//! which the keyring and the windowing toolkit already link), so the binary carries one D-Bus
//! stack: one running Carebill per user session, and notices on the screen.
//!
//! (Windows and macOS keep Tauri's single-instance and notification plugins.)

use std::sync::mpsc;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::Duration;

use dbus::arg::{PropMap, Variant};
use dbus::blocking::Connection;
use dbus::blocking::stdintf::org_freedesktop_dbus::RequestNameReply;
use dbus::channel::{MatchingReceiver, Sender};
use dbus::message::MatchRule;

const INSTANCE_PATH: &str = "/org/carebill/Instance";
const INSTANCE_INTERFACE: &str = "org.carebill.Instance";
/// The app as the notification service names it, its icon, and its desktop entry (the packages
/// install `Carebill.desktop` and the `carebill` icon).
const APP_NAME: &str = "Carebill";
const ICON: &str = "carebill";
const DESKTOP_ENTRY: &str = "Carebill";
/// How long a call waits for its answer (a second start for the running app, or a notice).
const ASK_TIMEOUT: Duration = Duration::from_secs(5);

/// What the claim on the app's bus name found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Instance {
    /// This process owns the name: it is the app, and a later start will ask it to show itself.
    First,
    /// Another process owns it and was asked to show its window (`answered`: it said so).
    Second { answered: bool },
    /// No session bus (or it refused the name): the app runs without knowing of others.
    Alone,
}

type Show = Box<dyn Fn() + Send + Sync>;

/// One Carebill per user session: the first process owns `name` on the session bus and serves
/// `Show` on [`INSTANCE_PATH`]; a later start calls it and exits. The claim runs on a thread of its
/// own, begun when the process starts, so the bus round trips overlap the windowing toolkit's
/// start; [`SingleInstance::wait`] takes its answer before the window is built.
pub struct SingleInstance {
    answer: mpsc::Receiver<Instance>,
    show: Arc<OnceLock<Show>>,
}

impl SingleInstance {
    /// Begins the claim on the well-known bus `name` (for the app, its identifier plus
    /// `.Instance`).
    pub fn claim(name: String) -> SingleInstance {
        let (tell, answer) = mpsc::channel();
        let show: Arc<OnceLock<Show>> = Arc::default();
        let serve = show.clone();
        let spawned = std::thread::Builder::new()
            .name("single-instance".into())
            .spawn(move || claim_and_serve(&name, &tell, serve));
        if spawned.is_err() {
            tracing::warn!("single-instance: no thread for the bus; starting without it");
        }
        SingleInstance { answer, show }
    }

    /// The claim's answer. For the first instance, `show` is what a later start's call does (it
    /// runs on the bus thread).
    pub fn wait(self, show: impl Fn() + Send + Sync + 'static) -> Instance {
        let _ = self.show.set(Box::new(show));
        self.answer.recv().unwrap_or(Instance::Alone)
    }
}

fn claim_and_serve(name: &str, tell: &mpsc::Sender<Instance>, show: Arc<OnceLock<Show>>) {
    let Ok(connection) = Connection::new_session() else {
        tracing::info!("single-instance: no D-Bus session bus; starting without it");
        let _ = tell.send(Instance::Alone);
        return;
    };
    // Queueing is off: a second start learns at once that the name is taken.
    match connection.request_name(name, false, false, true) {
        Ok(RequestNameReply::PrimaryOwner | RequestNameReply::AlreadyOwner) => {}
        Ok(RequestNameReply::Exists | RequestNameReply::InQueue) => {
            let asked: Result<(), dbus::Error> =
                connection
                    .with_proxy(name, INSTANCE_PATH, ASK_TIMEOUT)
                    .method_call(INSTANCE_INTERFACE, "Show", ());
            let _ = tell.send(Instance::Second {
                answered: asked.is_ok(),
            });
            return;
        }
        Err(e) => {
            tracing::info!(error = %e, "single-instance: the session bus refused the name; starting without it");
            let _ = tell.send(Instance::Alone);
            return;
        }
    }
    let rule = MatchRule::new_method_call()
        .with_path(INSTANCE_PATH)
        .with_interface(INSTANCE_INTERFACE)
        .with_member("Show");
    connection.start_receive(
        rule,
        Box::new(move |call, bus| {
            if let Some(show) = show.get() {
                show();
            }
            let _ = bus.send(call.method_return());
            true
        }),
    );
    let _ = tell.send(Instance::First);
    // Serves until the process ends (the name goes with the connection).
    while connection.process(Duration::from_secs(3600)).is_ok() {}
}

/// Notices on the screen through the desktop's notification service
/// (`org.freedesktop.Notifications`), on one connection the app keeps: some desktops (GNOME)
/// take a notice away when the connection that sent it closes.
#[derive(Default)]
pub struct ScreenNotices {
    connection: Mutex<Option<Connection>>,
}

impl ScreenNotices {
    /// Shows one notice.
    pub fn show(&self, title: &str, body: &str) -> Result<(), dbus::Error> {
        let mut kept = self.connection.lock().unwrap_or_else(PoisonError::into_inner);
        if kept.is_none() {
            *kept = Some(Connection::new_session()?);
        }
        let Some(connection) = kept.as_ref() else {
            return Err(dbus::Error::new_failed("no session bus"));
        };
        let mut hints = PropMap::new();
        hints.insert("desktop-entry".into(), Variant(Box::new(DESKTOP_ENTRY.to_string())));
        let shown: Result<(u32,), dbus::Error> = connection
            .with_proxy(
                "org.freedesktop.Notifications",
                "/org/freedesktop/Notifications",
                ASK_TIMEOUT,
            )
            .method_call(
                "org.freedesktop.Notifications",
                "Notify",
                (APP_NAME, 0u32, ICON, title, body, Vec::<String>::new(), hints, -1i32),
            );
        if shown.is_err() {
            // A new connection next time (the bus may have gone and come back).
            *kept = None;
        }
        shown.map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    /// Runs on the test's D-Bus session (`cargo xtask test` provides one).
    #[test]
    fn a_second_start_asks_the_first_to_show_itself_and_is_told_so() {
        let name = format!("org.carebill.test.p{}.Instance", std::process::id());
        let shown = Arc::new(AtomicUsize::new(0));
        let counted = shown.clone();
        let first = SingleInstance::claim(name.clone()).wait(move || {
            counted.fetch_add(1, Ordering::SeqCst);
        });
        assert_eq!(
            first,
            Instance::First,
            "the first claim owns the name (is a session bus running?)"
        );
        let second = SingleInstance::claim(name.clone()).wait(|| panic!("the second start serves nothing"));
        assert_eq!(second, Instance::Second { answered: true });
        assert_eq!(
            shown.load(Ordering::SeqCst),
            1,
            "the first was asked to show itself once"
        );
        // The answer comes after the first has shown itself.
        let third = SingleInstance::claim(name).wait(|| {});
        assert_eq!(third, Instance::Second { answered: true });
        assert_eq!(shown.load(Ordering::SeqCst), 2);
    }
}
