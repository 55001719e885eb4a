//! Accounts: registration, email confirmation, password resets and changes. The service decides;
//! a password change also re-wraps the copy's key so the new password opens it offline.

use carebill_api::types::*;

use super::Engine;
use crate::error::{ClientError, ClientResult};
use crate::keys;

impl Engine {
    pub async fn register(&self, req: CreateAccountRequest) -> ClientResult<AccountCreated> {
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
        self.0.api.resend_verification(email).await
    }

    pub async fn request_password_reset(&self, email: &str) -> ClientResult<()> {
        self.0.api.request_password_reset(email).await
    }

    pub async fn confirm_password_reset(&self, email: &str, code: &str, new_password: &str) -> ClientResult<()> {
        let req = PasswordResetConfirmRequest {
            email: email.into(),
            code: code.into(),
            new_password: new_password.into(),
        };
        self.0.api.confirm_password_reset(&req).await
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
