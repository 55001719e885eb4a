//! A desktop notification service on the test's D-Bus session (the Desktop Notifications
//! Specification's `org.freedesktop.Notifications`), which records what the app asks it to show.
//! It stands where GNOME Shell or another desktop's service would; the app talks to it through its
//! real notification plugin. It owns the name until dropped.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use zbus::zvariant::OwnedValue;

/// A notification as the app asked for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shown {
    pub app_name: String,
    pub summary: String,
    pub body: String,
}

#[derive(Clone, Default)]
struct Service {
    shown: Arc<Mutex<Vec<Shown>>>,
}

#[zbus::interface(name = "org.freedesktop.Notifications")]
impl Service {
    fn get_capabilities(&self) -> Vec<String> {
        vec!["body".into(), "actions".into()]
    }

    #[allow(clippy::too_many_arguments)]
    fn notify(
        &self,
        app_name: String,
        _replaces_id: u32,
        _app_icon: String,
        summary: String,
        body: String,
        _actions: Vec<String>,
        _hints: HashMap<String, OwnedValue>,
        _expire_timeout: i32,
    ) -> u32 {
        let mut shown = self.shown.lock().unwrap_or_else(PoisonError::into_inner);
        shown.push(Shown {
            app_name,
            summary,
            body,
        });
        shown.len() as u32
    }

    fn close_notification(&self, _id: u32) {}

    fn get_server_information(&self) -> (String, String, String, String) {
        ("carebill-e2e".into(), "Carebill".into(), "1.0".into(), "1.2".into())
    }
}

/// The running service.
pub struct NotificationService {
    _connection: zbus::Connection,
    service: Service,
}

impl NotificationService {
    /// Starts the service on the session bus of `DBUS_SESSION_BUS_ADDRESS`.
    pub async fn start() -> NotificationService {
        let service = Service::default();
        let connection = zbus::connection::Builder::session()
            .and_then(|b| b.name("org.freedesktop.Notifications"))
            .and_then(|b| b.serve_at("/org/freedesktop/Notifications", service.clone()))
            .expect("the notification service is set up")
            .build()
            .await
            .expect("the notification service owns its name on the session bus");
        NotificationService {
            _connection: connection,
            service,
        }
    }

    /// What the app asked to show so far.
    pub fn shown(&self) -> Vec<Shown> {
        self.service
            .shown
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}
