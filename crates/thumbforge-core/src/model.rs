//! Public model names and the catalogue that maps each to what serves it
//! (provider routes, or a self-hosted backend), its credit cost and its plan
//! restriction. The built-in table is the default; operators add or replace
//! entries in configuration, so a name is known only through a
//! [`Catalogue`]. Whether this server can run a model (a provider key
//! configured) is a runtime question answered by the providers crate.

use std::{
    collections::HashSet,
    fmt,
    str::FromStr,
    sync::{Mutex, OnceLock},
};

use crate::plan::Plan;

/// A public model name, as the catalogue knows it. Cheap to copy: the name
/// is interned (built-in names are constants, configured ones are interned
/// once when the catalogue is built, never from a request).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ModelId(&'static str);

impl ModelId {
    /// The built-in offline model. Always available.
    pub const LOCAL: ModelId = ModelId("local");
    /// FatThumb's `gemini-3-pro` (Google Gemini image model).
    pub const GEMINI_3_PRO: ModelId = ModelId("gemini-3-pro");
    /// FatThumb's `gpt-image-2` (OpenAI Images). Paid plans only.
    pub const GPT_IMAGE_2: ModelId = ModelId("gpt-image-2");
    /// Flokan's `pro`.
    pub const PRO: ModelId = ModelId("pro");
    /// Flokan's `standard`.
    pub const STANDARD: ModelId = ModelId("standard");
    /// Flokan's `creative`.
    pub const CREATIVE: ModelId = ModelId("creative");
    /// A scripted model for tests and drills: fails or sleeps on request.
    /// Only servers started with `models.enable_test_model` accept it.
    pub const TEST: ModelId = ModelId("test");

    pub fn as_str(self) -> &'static str {
        self.0
    }
}

impl fmt::Display for ModelId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

/// A name that lives as long as the process, stored once however many
/// catalogues name it (tests build many).
fn intern(name: &str) -> &'static str {
    static NAMES: OnceLock<Mutex<HashSet<&'static str>>> = OnceLock::new();
    let mut names = NAMES
        .get_or_init(Mutex::default)
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    if let Some(&known) = names.get(name) {
        return known;
    }
    let leaked: &'static str = Box::leak(name.to_owned().into_boxed_str());
    names.insert(leaked);
    leaked
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
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CatalogEntry {
    /// Upstream routes, in the order the platform tries them (the first
    /// with a server key configured serves platform requests). Empty for
    /// the built-in models and for a model on a self-hosted backend.
    pub routes: Vec<Route>,
    /// The operator's self-hosted backend that serves it (`[backends.NAME]`).
    pub backend: Option<&'static str>,
    /// Credits per thumbnail on the platform's keys (BYOK costs 0).
    pub credits: u32,
    /// The lowest plan that may use it.
    pub min_plan: Plan,
}

impl CatalogEntry {
    /// The provider model that serves this model on `provider`, if any.
    pub fn route_on(&self, provider: ProviderKind) -> Option<Route> {
        self.routes.iter().copied().find(|r| r.provider == provider)
    }

    /// Whether `plan` may use this model.
    pub fn allowed_on(&self, plan: Plan) -> bool {
        plan >= self.min_plan
    }
}

use ProviderKind::{Fal, Google, Kie, OpenAi};

const GEMINI_ROUTES: &[Route] = &[
    route(Google, "gemini-3-pro-image-preview"),
    route(Fal, "fal-ai/nano-banana-pro"),
    route(Kie, "nano-banana-pro"),
];
const GPT_ROUTES: &[Route] = &[route(OpenAi, "gpt-image-2")];
// Flokan lets each tier run on each of its four providers: the tier's own
// model where the provider has it, else that provider's model of the same
// standing (docs/decisions.md, "Each Flokan tier runs on every provider").
const PRO_ROUTES: &[Route] = &[
    route(Google, "gemini-3-pro-image-preview"),
    route(Fal, "fal-ai/nano-banana-pro"),
    route(Kie, "nano-banana-pro"),
    route(OpenAi, "gpt-image-2"),
];
const STANDARD_ROUTES: &[Route] = &[
    route(Fal, "fal-ai/nano-banana"),
    route(Google, "gemini-2.5-flash-image"),
    route(Kie, "google/nano-banana"),
    route(OpenAi, "gpt-image-1-mini"),
];
const CREATIVE_ROUTES: &[Route] = &[
    route(OpenAi, "gpt-image-2"),
    route(Kie, "gpt-image-2-text-to-image"),
    route(Google, "gemini-3-pro-image-preview"),
    route(Fal, "fal-ai/flux-pro/v1.1-ultra"),
];

/// The highest price per thumbnail a catalogue entry may set: four of them
/// stay far inside the `i32` a generation's credits are stored in.
pub const MAX_CREDITS: u32 = 100_000;

/// The public models a server knows: the built-in table, with the
/// operator's entries added or replacing built-in ones.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Catalogue {
    entries: Vec<(ModelId, CatalogEntry)>,
}

impl Default for Catalogue {
    fn default() -> Catalogue {
        Catalogue::built_in()
    }
}

impl Catalogue {
    /// The models every server has.
    pub fn built_in() -> Catalogue {
        let entry = |routes: &[Route], credits, min_plan| CatalogEntry {
            routes: routes.to_vec(),
            backend: None,
            credits,
            min_plan,
        };
        Catalogue {
            entries: vec![
                (ModelId::LOCAL, entry(&[], 1, Plan::Free)),
                (ModelId::GEMINI_3_PRO, entry(GEMINI_ROUTES, 6, Plan::Free)),
                (ModelId::GPT_IMAGE_2, entry(GPT_ROUTES, 8, Plan::Pro)),
                (ModelId::PRO, entry(PRO_ROUTES, 6, Plan::Free)),
                (ModelId::STANDARD, entry(STANDARD_ROUTES, 3, Plan::Free)),
                (ModelId::CREATIVE, entry(CREATIVE_ROUTES, 8, Plan::Free)),
                (ModelId::TEST, entry(&[], 1, Plan::Free)),
            ],
        }
    }

    /// Adds a model, or replaces the one of that name: served by `routes`
    /// (provider and its model name, in the order tried) or by a
    /// self-hosted `backend`. The built-in `local` and `test` models cannot
    /// be replaced.
    pub fn insert(
        &mut self,
        name: &str,
        routes: &[(ProviderKind, &str)],
        backend: Option<&str>,
        credits: u32,
        min_plan: Plan,
    ) -> Result<ModelId, String> {
        if name == ModelId::LOCAL.as_str() || name == ModelId::TEST.as_str() {
            return Err(format!("model `{name}` is built in and cannot be replaced"));
        }
        if !valid_name(name) {
            return Err(format!(
                "model name `{name}` must be 1-64 of a-z, 0-9, `.`, `_` and `-`"
            ));
        }
        if credits > MAX_CREDITS {
            return Err(format!(
                "model `{name}` costs {credits} credits a thumbnail; at most {MAX_CREDITS}"
            ));
        }
        if routes.is_empty() == backend.is_none() {
            return Err(format!(
                "model `{name}` needs either provider routes or one backend"
            ));
        }
        let entry = CatalogEntry {
            routes: routes
                .iter()
                .map(|&(provider, model)| Route {
                    provider,
                    model: intern(model),
                })
                .collect(),
            backend: backend.map(intern),
            credits,
            min_plan,
        };
        let id = ModelId(intern(name));
        match self.entries.iter_mut().find(|(m, _)| *m == id) {
            Some((_, known)) => *known = entry,
            None => self.entries.push((id, entry)),
        }
        Ok(id)
    }

    /// The model of this name.
    pub fn get(&self, name: &str) -> Option<(ModelId, &CatalogEntry)> {
        self.entries
            .iter()
            .find(|(m, _)| m.as_str() == name)
            .map(|(m, e)| (*m, e))
    }

    /// This model's entry.
    pub fn entry(&self, model: ModelId) -> Option<&CatalogEntry> {
        self.entries
            .iter()
            .find(|(m, _)| *m == model)
            .map(|(_, e)| e)
    }

    /// Every model, built-in ones first.
    pub fn iter(&self) -> impl Iterator<Item = (ModelId, &CatalogEntry)> {
        self.entries.iter().map(|(m, e)| (*m, e))
    }
}

/// What a model's name may hold: what a request may send and a URL or a
/// log line shows as it is.
pub fn valid_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b))
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
        let catalogue = Catalogue::built_in();
        let entry = |m| catalogue.entry(m).expect("built in");
        assert_eq!(
            entry(ModelId::GEMINI_3_PRO).routes[0].model,
            "gemini-3-pro-image-preview"
        );
        assert_eq!(
            entry(ModelId::GPT_IMAGE_2)
                .route_on(ProviderKind::OpenAi)
                .map(|r| r.model),
            Some("gpt-image-2")
        );
        assert!(
            entry(ModelId::GPT_IMAGE_2)
                .route_on(ProviderKind::Google)
                .is_none()
        );
        assert!(!entry(ModelId::GPT_IMAGE_2).allowed_on(Plan::Free));
        assert!(entry(ModelId::GPT_IMAGE_2).allowed_on(Plan::Pro));
        assert!(entry(ModelId::GPT_IMAGE_2).allowed_on(Plan::Unlimited));
        assert_eq!("unlimited".parse(), Ok(Plan::Unlimited));
        assert!(!Plan::Unlimited.watermarks());
        assert!(entry(ModelId::PRO).allowed_on(Plan::Free));
        for name in ["pro", "standard", "creative", "gemini-3-pro", "gpt-image-2"] {
            let (_, e) = catalogue.get(name).expect("known");
            assert!(!e.routes.is_empty(), "{name} has routes");
            assert!(e.credits > 0);
        }
        // Flokan's tiers run on each of the providers its docs name.
        for tier in [ModelId::PRO, ModelId::STANDARD, ModelId::CREATIVE] {
            for provider in ProviderKind::ALL {
                assert!(
                    entry(tier).route_on(provider).is_some(),
                    "{tier} on {provider}"
                );
            }
        }
    }

    #[test]
    fn operators_add_and_replace_models_but_not_the_built_in_ones() {
        let mut catalogue = Catalogue::built_in();
        let id = catalogue
            .insert("my-sdxl", &[], Some("gpu-box"), 2, Plan::Free)
            .expect("added");
        assert_eq!(id.as_str(), "my-sdxl");
        let (_, entry) = catalogue.get("my-sdxl").expect("known");
        assert_eq!((entry.credits, entry.backend), (2, Some("gpu-box")));
        catalogue
            .insert(
                "pro",
                &[(ProviderKind::Fal, "fal-ai/other")],
                None,
                9,
                Plan::Pro,
            )
            .expect("replaced");
        let pro = catalogue.entry(ModelId::PRO).expect("pro");
        assert_eq!((pro.credits, pro.routes[0].model), (9, "fal-ai/other"));
        assert!(
            catalogue
                .insert("local", &[], Some("x"), 1, Plan::Free)
                .is_err()
        );
        assert!(
            catalogue
                .insert("My SDXL", &[], Some("x"), 1, Plan::Free)
                .is_err()
        );
        assert!(
            catalogue
                .insert("nothing", &[], None, 1, Plan::Free)
                .is_err()
        );
        assert!(
            catalogue
                .insert("dear", &[], Some("x"), MAX_CREDITS + 1, Plan::Free)
                .is_err()
        );
        assert!(Catalogue::built_in().get("my-sdxl").is_none());
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
