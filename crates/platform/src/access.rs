//! Who may call a service's RPC: the one check every service handler starts with.
//!
//! [`Access`] reads the caller from the metadata the BFF (or another platform service) sends, through the
//! [`IdentityVerifier`], and refuses the call with a [`Refusal`] before its request is looked at, so a caller
//! who may not make a call learns nothing from it. [`crate::error::ServiceError`] maps each refusal to its
//! Connect code in one place.

use connectrpc::RequestContext;

use crate::identity::{Caller, Contact, IdentityVerifier, Refusal};

/// The caller checks of a service's handlers.
#[derive(Clone, Debug)]
pub struct Access {
    identity: IdentityVerifier,
}

impl Access {
    pub fn new(identity: IdentityVerifier) -> Self {
        Self { identity }
    }

    /// The caller, or `None` for an anonymous call; forged or malformed identity metadata is refused.
    pub fn caller(&self, ctx: &RequestContext) -> Result<Option<Caller>, Refusal> {
        Ok(self.identity.caller(ctx.headers())?)
    }

    /// The signed-in caller; an anonymous call is refused.
    pub fn signed_in(&self, ctx: &RequestContext) -> Result<Caller, Refusal> {
        self.identity.signed_in(ctx.headers())
    }

    /// How the caller's access token names them, as the BFF passed it on; empty when it did not.
    pub fn contact(&self, ctx: &RequestContext) -> Contact {
        self.identity.contact(ctx.headers())
    }

    /// The signed-in caller, who must be an admin.
    pub fn admin(&self, ctx: &RequestContext) -> Result<Caller, Refusal> {
        self.identity.admin(ctx.headers())
    }

    /// For an internal RPC, which only the platform's own parts may call: a call without the internal secret
    /// is refused. Whom the calling part acts for, if anyone, is [`caller`](Self::caller)'s to read.
    pub fn internal(&self, ctx: &RequestContext) -> Result<(), Refusal> {
        if self.identity.is_internal(ctx.headers()) { Ok(()) } else { Err(Refusal::NotInternal) }
    }

    /// The platform service making this call on its own behalf, if the call says so with the internal secret.
    pub fn calling_service<'a>(&self, ctx: &'a RequestContext) -> Option<&'a str> {
        self.identity.calling_service(ctx.headers())
    }
}
