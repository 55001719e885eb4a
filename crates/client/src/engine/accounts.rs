//! Accounts: registration, email confirmation, password resets and changes. The service decides;
//! a password change also re-wraps the copy's key so the new password opens it offline.

use carebill_api::types::*;

use std::sync::PoisonError;

use super::Engine;
use crate::cache;
use crate::error::{ClientError, ClientResult};
use crate::keys;

/// Where the copy keeps the member's notification preferences.
pub(super) const NOTIFICATIONS_META: &str = "notifications";

impl Engine {
    /// Registers; the account's mail is in the device's language unless the request names one.
    pub async fn register(&self, mut req: CreateAccountRequest) -> ClientResult<AccountCreated> {
        req.locale.get_or_insert(self.language());
        self.0.api.create_account(&req).await
    }

    pub async fn verify_email(&self, email: &str, code: &str) -> ClientResult<()> {
        self.0
            .api
            .verify_email(&VerifyEmailRequest {
                email: email.into(),
                code: code.into(),
            })
            .await
    }

    pub async fn resend_verification(&self, email: &str) -> ClientResult<()> {
        self.0.api.resend_verification(email, self.language()).await
    }

    pub async fn request_password_reset(&self, email: &str) -> ClientResult<()> {
        self.0.api.request_password_reset(email, self.language()).await
    }

    pub async fn confirm_password_reset(&self, email: &str, code: &str, new_password: &str) -> ClientResult<()> {
        let req = PasswordResetConfirmRequest {
            email: email.into(),
            code: code.into(),
            new_password: new_password.into(),
        };
        self.0.api.confirm_password_reset(&req).await
    }

    /// The language the member reads the app in on this device.
    pub fn language(&self) -> Locale {
        *self.0.language.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The UI's language changed (or was decided at start): mail asked for before sign-in and a
    /// kiosk's printed receipt follow it. The account's own language is `set_account_language`.
    pub fn set_language(&self, locale: Locale) {
        *self.0.language.lock().unwrap_or_else(PoisonError::into_inner) = locale;
    }

    /// The language of the signed-in member's mail from now on (and of the app on devices with
    /// no choice of their own). The copy on this device keeps the member as the service answers.
    pub async fn set_account_language(&self, locale: Locale) -> ClientResult<Member> {
        let s = self.acting_session().await?;
        let member = self.0.api.set_locale(locale).await?;
        let m = serde_json::to_string(&member)?;
        s.cache.run(move |c| cache::set_meta(c, "member", &m)).await?;
        self.update_session_member(&member).await;
        Ok(member)
    }

    /// The member's notification preferences: from the service, kept in the encrypted copy so
    /// they read offline (and desktop notices, decided on this device, follow them there).
    pub async fn notification_preferences(&self) -> ClientResult<NotificationPreferences> {
        let s = self.session().await?;
        if !s.offline {
            match self.0.api.notification_preferences().await {
                Ok(p) => {
                    let json = serde_json::to_string(&p)?;
                    s.cache
                        .run(move |c| cache::set_meta(c, NOTIFICATIONS_META, &json))
                        .await?;
                    return Ok(p);
                }
                Err(e) if e.0.kind != crate::error::ErrorKind::Offline => return Err(e),
                Err(_) => {}
            }
        }
        let kept = s.cache.run(|c| cache::meta(c, NOTIFICATIONS_META)).await?;
        match kept {
            Some(json) => Ok(serde_json::from_str(&json)?),
            None => Err(ClientError::of(crate::error::ClientCode::Offline)),
        }
    }

    /// Saves every switch at once (online only); the copy keeps what the service saved.
    pub async fn set_notification_preferences(
        &self,
        p: NotificationPreferences,
    ) -> ClientResult<NotificationPreferences> {
        let s = self.acting_session().await?;
        let saved = self.0.api.set_notification_preferences(&p).await?;
        let json = serde_json::to_string(&saved)?;
        s.cache
            .run(move |c| cache::set_meta(c, NOTIFICATIONS_META, &json))
            .await?;
        Ok(saved)
    }

    pub async fn change_password(&self, current: &str, new: &str) -> ClientResult<()> {
        let s = self.acting_session().await?;
        self.0
            .api
            .change_password(&ChangePasswordRequest {
                current_password: current.into(),
                new_password: new.into(),
            })
            .await?;
        if let Some(dir) = &s.dir {
            let key = keys::open_with_password(dir, current).map_err(ClientError::internal)?;
            keys::rewrap(dir, &key, new, self.keyring(), &[]).map_err(ClientError::internal)?;
        }
        Ok(())
    }
}
