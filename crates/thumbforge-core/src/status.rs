//! Status rules, in one place.
//!
//! A thumbnail moves `processing → succeeded | failed | canceled` and never
//! back. A generation's status is derived from its thumbnails: processing
//! while any thumbnail is processing; otherwise all succeeded → succeeded,
//! some succeeded → partial, none succeeded and some canceled → canceled,
//! all failed → failed. Storage writes these with conditional
//! updates that name the expected current state, because a job may run twice.

/// The stored form of a status or an end reason: snake_case text, read
/// and written through `Display`/`FromStr`. With the `sea-orm` feature the
/// enums are column types of their own, so no caller compares text.
macro_rules! stored_as_text {
    ($(#[$meta:meta])* pub enum $name:ident { $($(#[$vmeta:meta])* $variant:ident,)+ }) => {
        $(#[$meta])*
        #[derive(
            Debug, Clone, Copy, PartialEq, Eq, Hash,
            strum::EnumString, strum::Display, strum::IntoStaticStr, strum::EnumIter,
            serde::Serialize, serde::Deserialize,
        )]
        #[strum(serialize_all = "snake_case")]
        #[serde(rename_all = "snake_case")]
        #[cfg_attr(feature = "sea-orm", derive(sea_orm::DeriveValueType))]
        #[cfg_attr(feature = "sea-orm", sea_orm(value_type = "String"))]
        pub enum $name { $($(#[$vmeta])* $variant,)+ }

        impl $name {
            pub fn as_str(self) -> &'static str {
                self.into()
            }
        }
    };
}

stored_as_text! {
    pub enum ThumbnailStatus {
        Processing,
        Succeeded,
        Failed,
        /// The client canceled its generation before this thumbnail finished.
        Canceled,
    }
}

impl ThumbnailStatus {
    pub fn is_terminal(self) -> bool {
        self != ThumbnailStatus::Processing
    }

    /// The only legal moves. Terminal states are final.
    pub fn can_become(self, next: ThumbnailStatus) -> bool {
        self == ThumbnailStatus::Processing && next.is_terminal()
    }
}

stored_as_text! {
    pub enum GenerationStatus {
        Processing,
        Succeeded,
        Failed,
        Partial,
        /// Canceled by the client with nothing succeeded.
        Canceled,
    }
}

impl GenerationStatus {
    pub const TERMINAL: [GenerationStatus; 4] = [
        GenerationStatus::Succeeded,
        GenerationStatus::Failed,
        GenerationStatus::Partial,
        GenerationStatus::Canceled,
    ];

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

stored_as_text! {
    /// Why a thumbnail ended without an image, stored beside its message:
    /// surfaces that report a cause (Flokan's `timed_out`) read this, never
    /// the message, which is prose for people and may be reworded.
    pub enum EndReason {
        /// The model failed, refused the request, or did not answer in time.
        ModelError,
        /// The model's safety filter refused the prompt or the image.
        Safety,
        /// A reference (URL or asset) could not be used.
        Reference,
        /// The model or the organisation's key is not usable on this server.
        Unavailable,
        /// The job kept failing on infrastructure until its attempts ran out.
        AttemptsExhausted,
        /// The generation's deadline passed before the thumbnail was made.
        TimedOut,
        /// The client canceled the generation.
        Canceled,
        /// An operator discarded it.
        Discarded,
    }
}

/// A thumbnail's end without an image: the typed reason and the message a
/// client may read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub reason: EndReason,
    pub message: String,
}

impl Failure {
    pub fn new(reason: EndReason, message: impl Into<String>) -> Failure {
        Failure {
            reason,
            message: message.into(),
        }
    }
}

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
        assert_eq!(super::EndReason::TimedOut.as_str(), "timed_out");
        assert_eq!(
            "attempts_exhausted".parse(),
            Ok(super::EndReason::AttemptsExhausted)
        );
    }
}
