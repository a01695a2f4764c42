//! Public model names and the catalogue that maps each to the provider
//! models that can serve it, its credit cost and its plan restriction. A
//! name that parses is one the service knows; whether this server can run
//! it (a provider key configured) is a runtime question answered by the
//! providers crate.

use std::{fmt, str::FromStr};

use crate::plan::Plan;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ModelId {
    /// The built-in offline renderer. Always available.
    Local,
    /// FatThumb's `gemini-3-pro` (Google Gemini image model).
    Gemini3Pro,
    /// FatThumb's `gpt-image-2` (OpenAI Images). Paid plans only.
    GptImage2,
    /// Flokan's `pro`.
    Pro,
    /// Flokan's `standard`.
    Standard,
    /// Flokan's `creative`.
    Creative,
    /// A scripted model for tests and drills: fails or sleeps on request.
    /// Only servers started with `models.enable_test_model` accept it.
    Test,
}

/// An upstream image API. `as_str` is also the value of Flokan's
/// `provider` field that selects the org's own key for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ProviderKind {
    OpenAi,
    Google,
    Fal,
    Kie,
}

impl ProviderKind {
    pub const ALL: [ProviderKind; 4] = [
        ProviderKind::OpenAi,
        ProviderKind::Google,
        ProviderKind::Fal,
        ProviderKind::Kie,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ProviderKind::OpenAi => "openai",
            ProviderKind::Google => "google",
            ProviderKind::Fal => "fal",
            ProviderKind::Kie => "kie",
        }
    }
}

impl FromStr for ProviderKind {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        ProviderKind::ALL
            .into_iter()
            .find(|p| p.as_str() == s)
            .ok_or(())
    }
}

impl fmt::Display for ProviderKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One way to serve a public model: a provider and its model name there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Route {
    pub provider: ProviderKind,
    pub model: &'static str,
}

const fn route(provider: ProviderKind, model: &'static str) -> Route {
    Route { provider, model }
}

/// What the catalogue says of one public model.
#[derive(Debug, Clone, Copy)]
pub struct CatalogEntry {
    /// Upstream routes, in the order the platform tries them (the first
    /// with a server key configured serves platform requests). Empty for
    /// the built-in models.
    pub routes: &'static [Route],
    /// Credits per thumbnail on the platform's keys (BYOK costs 0).
    pub credits: u32,
    /// The lowest plan that may use it.
    pub min_plan: Plan,
}

use ProviderKind::{Fal, Google, Kie, OpenAi};

const GEMINI_ROUTES: &[Route] = &[
    route(Google, "gemini-3-pro-image-preview"),
    route(Fal, "fal-ai/nano-banana-pro"),
    route(Kie, "nano-banana-pro"),
];
const GPT_ROUTES: &[Route] = &[route(OpenAi, "gpt-image-2")];
const STANDARD_ROUTES: &[Route] = &[
    route(Fal, "fal-ai/nano-banana"),
    route(Google, "gemini-2.5-flash-image"),
    route(Kie, "google/nano-banana"),
];
const CREATIVE_ROUTES: &[Route] = &[
    route(OpenAi, "gpt-image-2"),
    route(Kie, "gpt-image-2-text-to-image"),
];

impl ModelId {
    pub const ALL: [ModelId; 7] = [
        ModelId::Local,
        ModelId::Gemini3Pro,
        ModelId::GptImage2,
        ModelId::Pro,
        ModelId::Standard,
        ModelId::Creative,
        ModelId::Test,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ModelId::Local => "local",
            ModelId::Gemini3Pro => "gemini-3-pro",
            ModelId::GptImage2 => "gpt-image-2",
            ModelId::Pro => "pro",
            ModelId::Standard => "standard",
            ModelId::Creative => "creative",
            ModelId::Test => "test",
        }
    }

    /// The catalogue entry: routes, credits per thumbnail, plan.
    pub fn catalog(self) -> CatalogEntry {
        let (routes, credits, min_plan): (&'static [Route], u32, Plan) = match self {
            ModelId::Local | ModelId::Test => (&[], 1, Plan::Free),
            ModelId::Gemini3Pro => (GEMINI_ROUTES, 6, Plan::Free),
            ModelId::GptImage2 => (GPT_ROUTES, 8, Plan::Pro),
            ModelId::Pro => (GEMINI_ROUTES, 6, Plan::Free),
            ModelId::Standard => (STANDARD_ROUTES, 3, Plan::Free),
            ModelId::Creative => (CREATIVE_ROUTES, 8, Plan::Free),
        };
        CatalogEntry {
            routes,
            credits,
            min_plan,
        }
    }

    /// The provider model that serves this model on `provider`, if any.
    pub fn route_on(self, provider: ProviderKind) -> Option<Route> {
        self.catalog()
            .routes
            .iter()
            .copied()
            .find(|r| r.provider == provider)
    }

    /// Whether `plan` may use this model.
    pub fn allowed_on(self, plan: Plan) -> bool {
        plan >= self.catalog().min_plan
    }
}

impl FromStr for ModelId {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        ModelId::ALL.into_iter().find(|m| m.as_str() == s).ok_or(())
    }
}

impl fmt::Display for ModelId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Flokan's `provider` field: whose key pays for the call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ProviderChoice {
    /// The server's keys; costs credits.
    #[default]
    Platform,
    /// The org's own key for this provider; costs nothing.
    Byok(ProviderKind),
}

impl ProviderChoice {
    /// What `provider_used` records: `system` or the provider's name.
    pub fn used_label(self) -> &'static str {
        match self {
            ProviderChoice::Platform => "system",
            ProviderChoice::Byok(p) => p.as_str(),
        }
    }

    /// The stored form (`platform` or the provider's name).
    pub fn as_str(self) -> &'static str {
        match self {
            ProviderChoice::Platform => "platform",
            ProviderChoice::Byok(p) => p.as_str(),
        }
    }
}

impl FromStr for ProviderChoice {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        match s {
            "platform" | "system" => Ok(ProviderChoice::Platform),
            other => other.parse().map(ProviderChoice::Byok),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catalogue_routes_public_names() {
        assert_eq!(
            ModelId::Gemini3Pro.catalog().routes[0].model,
            "gemini-3-pro-image-preview"
        );
        assert_eq!(
            ModelId::GptImage2
                .route_on(ProviderKind::OpenAi)
                .map(|r| r.model),
            Some("gpt-image-2")
        );
        assert!(ModelId::GptImage2.route_on(ProviderKind::Google).is_none());
        assert!(!ModelId::GptImage2.allowed_on(Plan::Free));
        assert!(ModelId::GptImage2.allowed_on(Plan::Pro));
        assert!(ModelId::GptImage2.allowed_on(Plan::Unlimited));
        assert_eq!("unlimited".parse(), Ok(Plan::Unlimited));
        assert!(!Plan::Unlimited.watermarks());
        assert!(ModelId::Pro.allowed_on(Plan::Free));
        for name in ["pro", "standard", "creative", "gemini-3-pro", "gpt-image-2"] {
            let model: ModelId = name.parse().expect("known");
            assert!(!model.catalog().routes.is_empty(), "{name} has routes");
            assert!(model.catalog().credits > 0);
        }
    }

    #[test]
    fn provider_choice_parses_flokan_values() {
        assert_eq!("platform".parse(), Ok(ProviderChoice::Platform));
        assert_eq!(
            "google".parse(),
            Ok(ProviderChoice::Byok(ProviderKind::Google))
        );
        assert_eq!("azure".parse::<ProviderChoice>(), Err(()));
        assert_eq!(ProviderChoice::Platform.used_label(), "system");
    }
}
