//! Plans decide what an organisation's images look like: the free plan's are
//! watermarked and its clean images are never reachable.

use std::{fmt, str::FromStr};

/// Ordered: a plan may use what every lower plan may.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Plan {
    Free,
    Pro,
    /// Everything pro may, with no limits by default: for the owner of a
    /// server (the embedded `dev` organisation).
    Unlimited,
}

impl Plan {
    pub fn as_str(self) -> &'static str {
        match self {
            Plan::Free => "free",
            Plan::Pro => "pro",
            Plan::Unlimited => "unlimited",
        }
    }

    pub fn watermarks(self) -> bool {
        self == Plan::Free
    }
}

impl FromStr for Plan {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "free" => Ok(Plan::Free),
            "pro" => Ok(Plan::Pro),
            "unlimited" => Ok(Plan::Unlimited),
            other => Err(format!(
                "unknown plan `{other}` (expected free, pro or unlimited)"
            )),
        }
    }
}

impl fmt::Display for Plan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
