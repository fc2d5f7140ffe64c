//! The order service's errors: the answers every service shares ([`ServiceError`]: bad input, a missing or
//! taken thing, a state that does not allow the call, a refused caller, an unreachable product service or
//! payment provider, a failed database) and the order service's own ([`OrderError`]), each mapped to its
//! Connect code in one place.

use connectrpc::ConnectError;
use ec_platform::error::{OwnError, ServiceError};

/// Everything that can go wrong in the order service.
pub type Error = ServiceError<OrderError>;

/// What only the order service answers.
#[derive(Debug, thiserror::Error)]
pub enum OrderError {
    /// The order is still being placed and the call's time ran out waiting for it (or its key was let go
    /// just as it was used); retrying with the same idempotency key answers with the order.
    #[error("{0}")]
    StillRunning(&'static str),
}

impl From<OrderError> for Error {
    fn from(err: OrderError) -> Self {
        Self::Own(err)
    }
}

impl OwnError for OrderError {
    fn into_connect(self) -> ConnectError {
        match self {
            OrderError::StillRunning(message) => ConnectError::deadline_exceeded(message),
        }
    }
}

#[cfg(test)]
mod tests {
    use connectrpc::ErrorCode;
    use ec_platform::identity::Refusal;

    use super::*;

    #[test]
    fn a_checkout_still_running_is_deadline_exceeded_and_says_to_call_again() {
        let err = ConnectError::from(Error::from(OrderError::StillRunning("call again with the same key")));
        assert_eq!(err.code, ErrorCode::DeadlineExceeded);
        assert_eq!(err.message.as_deref(), Some("call again with the same key"));
    }

    #[test]
    fn a_caller_who_is_not_signed_in_is_told_to_sign_in() {
        let err = ConnectError::from(Error::from(Refusal::Unauthenticated));
        assert_eq!((err.code, err.message.as_deref()), (ErrorCode::Unauthenticated, Some("sign in to do this")));
    }
}
