//! The operator's catalogue and backends from configuration: entries added
//! to (or replacing) the built-in models, and the self-hosted adapters
//! their `backend:NAME` routes reach. Checked once at start-up.

use std::{collections::BTreeMap, sync::Arc};

use serde_json::Value;
use thumbforge_config::{BackendSettings, ModelSettings};
use thumbforge_core::{Catalogue, Plan, ProviderKind, cpu::CpuSlots};

use crate::{ComfyUi, HttpPolicy, ImageModel, OpenAiCompatible, SdApi};

/// The built-in catalogue with the operator's entries.
pub(crate) fn build(
    models: &ModelSettings,
    backends: &BTreeMap<String, BackendSettings>,
) -> Result<Catalogue, String> {
    let mut catalogue = Catalogue::built_in();
    for (name, entry) in &models.catalogue {
        let at = format!("models.catalogue.{name}");
        let plan: Plan = entry
            .plan
            .parse()
            .map_err(|e: String| format!("{at}.plan: {e}"))?;
        let mut routes = Vec::new();
        let mut backend = None;
        for route in &entry.routes {
            let Some((kind, target)) = route.split_once(':').filter(|(_, t)| !t.is_empty()) else {
                return Err(format!(
                    "{at}.routes: `{route}` is not PROVIDER:MODEL or backend:NAME"
                ));
            };
            if kind == "backend" {
                if !backends.contains_key(target) {
                    return Err(format!("{at}.routes: there is no [backends.{target}]"));
                }
                if entry.routes.len() > 1 {
                    return Err(format!(
                        "{at}.routes: a backend route must be the model's only route"
                    ));
                }
                backend = Some(target);
            } else {
                let provider: ProviderKind = kind.parse().map_err(|()| {
                    format!("{at}.routes: `{kind}` is not openai, google, fal, kie or backend")
                })?;
                routes.push((provider, target));
            }
        }
        catalogue
            .insert(name, &routes, backend, entry.credits, plan)
            .map_err(|e| format!("{at}: {e}"))?;
    }
    if catalogue.get(&models.default).is_none() {
        return Err(format!(
            "models.default: `{}` is not in the catalogue",
            models.default
        ));
    }
    Ok(catalogue)
}

/// The adapter for one configured backend.
pub(crate) fn backend(
    name: &str,
    settings: &BackendSettings,
    policy: &HttpPolicy,
    cpu: &CpuSlots,
) -> Result<Arc<dyn ImageModel>, String> {
    let at = |e: String| format!("backends.{name}: {e}");
    Ok(match settings {
        BackendSettings::Comfyui(comfy) => {
            let mut comfy = comfy.clone();
            if let Some(path) = &comfy.workflow_file {
                let text = std::fs::read_to_string(path)
                    .map_err(|e| at(format!("reading {}: {e}", path.display())))?;
                comfy.workflow = Value::String(text);
            }
            Arc::new(ComfyUi::new(&comfy, policy.clone(), cpu.clone()).map_err(at)?)
        }
        BackendSettings::Sdapi(sd) => {
            Arc::new(SdApi::new(sd, policy.clone(), cpu.clone()).map_err(at)?)
        }
        BackendSettings::OpenaiCompatible(endpoint) => {
            Arc::new(OpenAiCompatible::new(endpoint, policy.clone(), cpu.clone()).map_err(at)?)
        }
    })
}

#[cfg(test)]
mod tests {
    use thumbforge_config::{CatalogueEntrySettings, Settings};
    use thumbforge_core::ModelId;

    use super::*;

    fn models(entries: &[(&str, &[&str], &str)]) -> ModelSettings {
        let mut models = Settings::defaults_in(std::path::Path::new("/x")).models;
        for &(name, routes, plan) in entries {
            models.catalogue.insert(
                name.to_owned(),
                CatalogueEntrySettings {
                    routes: routes.iter().map(|r| (*r).to_owned()).collect(),
                    credits: 4,
                    plan: plan.to_owned(),
                },
            );
        }
        models
    }

    fn backends() -> BTreeMap<String, BackendSettings> {
        let comfy: BackendSettings = serde_json::from_value(serde_json::json!({
            "kind": "comfyui", "base_url": "http://gpu:8188", "workflow": {}
        }))
        .expect("settings");
        BTreeMap::from([("gpu-box".to_owned(), comfy)])
    }

    #[test]
    fn entries_add_models_and_replace_built_in_ones() {
        let catalogue = build(
            &models(&[
                ("my-sdxl", &["backend:gpu-box"], "pro"),
                (
                    "standard",
                    &["fal:fal-ai/fast-sdxl", "openai:gpt-image-1-mini"],
                    "free",
                ),
            ]),
            &backends(),
        )
        .expect("valid");
        let (_, mine) = catalogue.get("my-sdxl").expect("added");
        assert_eq!(
            (mine.backend, mine.credits, mine.min_plan),
            (Some("gpu-box"), 4, Plan::Pro)
        );
        let standard = catalogue.entry(ModelId::STANDARD).expect("kept");
        assert_eq!(standard.routes[0].model, "fal-ai/fast-sdxl");
        assert_eq!(standard.routes.len(), 2);
    }

    #[test]
    fn a_bad_entry_is_a_start_up_error_that_names_it() {
        for (entries, expected) in [
            (
                vec![("x", &["backend:nowhere"][..], "free")],
                "there is no [backends.nowhere]",
            ),
            (
                vec![("x", &["azure:dalle"][..], "free")],
                "`azure` is not openai",
            ),
            (vec![("x", &["fal"][..], "free")], "is not PROVIDER:MODEL"),
            (
                vec![("x", &["fal:m"][..], "gold")],
                "models.catalogue.x.plan",
            ),
            (
                vec![("x", &["backend:gpu-box", "fal:m"][..], "free")],
                "must be the model's only route",
            ),
            (vec![("local", &["fal:m"][..], "free")], "built in"),
            (
                vec![("x", &[][..], "free")],
                "needs either provider routes or one backend",
            ),
        ] {
            let err = build(&models(&entries), &backends()).expect_err("refused");
            assert!(err.contains(expected), "{err}");
        }
        let mut unknown_default = models(&[]);
        unknown_default.default = "my-sdxl".to_owned();
        let err = build(&unknown_default, &backends()).expect_err("refused");
        assert!(err.contains("models.default"), "{err}");
    }
}
