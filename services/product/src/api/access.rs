//! Who may call what, and what they see: the platform's caller checks ([`Access`]: signed in, admin, internal
//! caller), and what the product service decides from the caller, how much of the catalog ([`Reader`]) and of
//! a stock record ([`StockView`]) they read.

use connectrpc::RequestContext;
use ec_platform::{
    access::Access,
    identity::{Caller, Refusal},
};

use crate::domain::Reader;

/// The product service's caller checks: [`Access`] and the low-stock threshold.
#[derive(Clone, Debug)]
pub struct ProductAccess {
    access: Access,
    /// See [`StockView::Public`].
    low_stock: i64,
}

/// How much of a stock record a caller reads; either way its level says "low" at or below `low_stock`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StockView {
    /// Admins and the platform's own services: everything.
    Full { low_stock: i64 },
    /// Everyone else: the level, and how many are left when it is low (see the `Inventory` message).
    Public { low_stock: i64 },
}

impl ProductAccess {
    /// Checks callers with `access`; stock at or below `low_stock` available units reads as low.
    pub fn new(access: Access, low_stock: i64) -> Self {
        Self { access, low_stock }
    }

    /// The signed-in caller, who must be an admin.
    pub fn admin(&self, ctx: &RequestContext) -> Result<Caller, Refusal> {
        self.access.admin(ctx)
    }

    /// For the internal (reservation) RPCs: the scope the caller's idempotency keys live in, the account the
    /// calling service acts for, or `internal` for the service itself; a call without the platform's internal
    /// secret is refused.
    pub fn internal_scope(&self, ctx: &RequestContext) -> Result<String, Refusal> {
        self.access.internal(ctx)?;
        Ok(match self.access.caller(ctx)? {
            Some(caller) => caller.user_id.to_string(),
            None => "internal".to_owned(),
        })
    }

    /// What the caller may read of the catalog: admins everything, everyone else the public catalog.
    pub fn reader(&self, ctx: &RequestContext) -> Result<Reader, Refusal> {
        match self.access.caller(ctx)? {
            Some(caller) if caller.is_admin() => Ok(Reader::Admin),
            _ => Ok(Reader::Public),
        }
    }

    /// How much of the stock records the caller reads: admins and the platform's own services the full record.
    pub fn stock_view(&self, ctx: &RequestContext) -> Result<StockView, Refusal> {
        if self.access.calling_service(ctx).is_some() {
            return Ok(self.full_stock());
        }
        Ok(match self.access.caller(ctx)? {
            Some(caller) if caller.is_admin() => self.full_stock(),
            _ => StockView::Public { low_stock: self.low_stock },
        })
    }

    /// The full stock record, for admins' own RPCs.
    pub fn full_stock(&self) -> StockView {
        StockView::Full { low_stock: self.low_stock }
    }
}
