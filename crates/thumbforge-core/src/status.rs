//! Status rules, in one place.
//!
//! A thumbnail moves `processing → succeeded | failed | canceled` and never
//! back. A generation's status is derived from its thumbnails: processing
//! while any thumbnail is processing; otherwise all succeeded → succeeded,
//! some succeeded → partial, none succeeded and some canceled → canceled,
//! all failed → failed. Storage writes these with conditional
//! updates that name the expected current state, because a job may run twice.

use std::{fmt, str::FromStr};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ThumbnailStatus {
    Processing,
    Succeeded,
    Failed,
    /// The client canceled its generation before this thumbnail finished.
    Canceled,
}

impl ThumbnailStatus {
    pub const fn as_str(self) -> &'static str {
        match self {
            ThumbnailStatus::Processing => "processing",
            ThumbnailStatus::Succeeded => "succeeded",
            ThumbnailStatus::Failed => "failed",
            ThumbnailStatus::Canceled => "canceled",
        }
    }

    pub fn is_terminal(self) -> bool {
        self != ThumbnailStatus::Processing
    }

    /// The only legal moves. Terminal states are final.
    pub fn can_become(self, next: ThumbnailStatus) -> bool {
        self == ThumbnailStatus::Processing && next.is_terminal()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum GenerationStatus {
    Processing,
    Succeeded,
    Failed,
    Partial,
    /// Canceled by the client with nothing succeeded.
    Canceled,
}

impl GenerationStatus {
    pub const TERMINAL: [GenerationStatus; 4] = [
        GenerationStatus::Succeeded,
        GenerationStatus::Failed,
        GenerationStatus::Partial,
        GenerationStatus::Canceled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            GenerationStatus::Processing => "processing",
            GenerationStatus::Succeeded => "succeeded",
            GenerationStatus::Failed => "failed",
            GenerationStatus::Partial => "partial",
            GenerationStatus::Canceled => "canceled",
        }
    }

    pub fn is_terminal(self) -> bool {
        self != GenerationStatus::Processing
    }

    /// Derives a generation's status from its thumbnails' statuses.
    pub fn derive(thumbnails: impl IntoIterator<Item = ThumbnailStatus>) -> GenerationStatus {
        let (mut any, mut ok, mut failed, mut canceled) = (false, false, false, false);
        for status in thumbnails {
            any = true;
            match status {
                ThumbnailStatus::Processing => return GenerationStatus::Processing,
                ThumbnailStatus::Succeeded => ok = true,
                ThumbnailStatus::Failed => failed = true,
                ThumbnailStatus::Canceled => canceled = true,
            }
        }
        match (any, ok, failed || canceled, canceled) {
            (false, ..) => GenerationStatus::Processing,
            (true, true, false, _) => GenerationStatus::Succeeded,
            (true, true, true, _) => GenerationStatus::Partial,
            (true, false, _, true) => GenerationStatus::Canceled,
            (true, false, _, false) => GenerationStatus::Failed,
        }
    }
}

macro_rules! status_str {
    ($t:ty, $($v:ident),+) => {
        impl FromStr for $t {
            type Err = String;
            fn from_str(s: &str) -> Result<Self, String> {
                $(if s == <$t>::$v.as_str() { return Ok(<$t>::$v); })+
                Err(format!("unknown status `{s}`"))
            }
        }
        impl fmt::Display for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}
status_str!(ThumbnailStatus, Processing, Succeeded, Failed, Canceled);
status_str!(
    GenerationStatus,
    Processing,
    Succeeded,
    Failed,
    Partial,
    Canceled
);

#[cfg(test)]
mod tests {
    use super::{GenerationStatus as G, ThumbnailStatus as T};

    #[test]
    fn derivation_follows_the_rules() {
        assert_eq!(G::derive([T::Succeeded, T::Succeeded]), G::Succeeded);
        assert_eq!(G::derive([T::Failed, T::Failed]), G::Failed);
        assert_eq!(G::derive([T::Succeeded, T::Failed]), G::Partial);
        assert_eq!(G::derive([T::Succeeded, T::Processing]), G::Processing);
        assert_eq!(
            G::derive([T::Failed, T::Processing, T::Succeeded]),
            G::Processing
        );
        assert_eq!(G::derive([]), G::Processing);
        assert_eq!(G::derive([T::Canceled, T::Canceled]), G::Canceled);
        assert_eq!(G::derive([T::Failed, T::Canceled]), G::Canceled);
        assert_eq!(G::derive([T::Succeeded, T::Canceled]), G::Partial);
        assert_eq!(G::derive([T::Canceled, T::Processing]), G::Processing);
    }

    #[test]
    fn terminal_states_are_final() {
        assert!(T::Processing.can_become(T::Succeeded));
        assert!(T::Processing.can_become(T::Failed));
        assert!(!T::Succeeded.can_become(T::Failed));
        assert!(!T::Failed.can_become(T::Succeeded));
        assert!(!T::Processing.can_become(T::Processing));
    }

    #[test]
    fn statuses_round_trip_as_text() {
        for s in ["processing", "succeeded", "failed", "partial"] {
            assert_eq!(s.parse::<G>().map(|g| g.as_str()), Ok(s));
        }
        assert!("done".parse::<T>().is_err());
    }
}
